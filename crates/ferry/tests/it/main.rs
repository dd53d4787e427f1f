//! End-to-end tests of the `ferry` binary: real workflows in temporary git repositories, run
//! by the real binary, checked through its exit code, output and `--report` JSON.

mod corpus;
mod crash;
mod harness;
mod isolation;
mod lint;
mod run;
mod run_control;
mod runner;
mod runs;
mod server;
