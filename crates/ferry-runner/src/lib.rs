//! Runs steps as real processes on this host, the way GitHub's runner does.
//!
//! The pure parts ([`shell`], [`commands`], [`env_file`], [`mask`]) say what GitHub's runner
//! would do with a step's shell, its output lines and the files it writes; the IO parts
//! ([`process`], [`workspace`]) start processes and prepare checkouts.

pub mod commands;
pub mod env_file;
pub mod mask;
pub mod process;
pub mod shell;
pub mod workspace;
