//! End-to-end tests of the `ferry` binary: real workflows in temporary git repositories, run
//! by the real binary, checked through its exit code, output and `--report` JSON.

mod actions;
mod activity_types;
mod agent;
mod agent_images;
mod alerting;
mod canary;
mod containers;
mod corpus;
mod crash;
mod delivery;
mod dora;
mod github_context;
mod harness;
mod isolation;
mod lint;
mod lint_deploy;
mod metrics;
mod releases;
mod reusable;
mod run;
mod run_control;
mod runner;
mod runners;
mod runs;
mod runtime;
mod server;
mod slo;
mod up;
mod workspaces;
