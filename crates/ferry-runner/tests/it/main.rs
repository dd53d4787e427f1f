//! ferry-runner's integration tests: real processes, real git repositories and, for the agent,
//! the real server.

mod agent;
mod process;
mod step;
mod workspace;
