//! ferry-runner's integration tests: real processes and real git repositories.

mod agent;
mod process;
mod step;
mod workspace;
