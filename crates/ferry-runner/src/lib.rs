//! Runs steps as real processes on this host, the way GitHub's runner does.
//!
//! The pure parts ([`shell`], [`commands`], [`env_file`], [`mask`]) say what GitHub's runner
//! would do with a step's shell, its output lines and the files it writes; the IO parts
//! ([`process`], [`workspace`]) start processes and prepare checkouts.
//!
//! A `run:` step, put together from these parts:
//!
//! 1. [`shell::parse_shell`] on the step's `shell:` (or `defaults.run.shell`), then
//!    [`shell::Shell::with_fallbacks`] with [`process::on_path`] over the step's `PATH`.
//! 2. Write [`shell::Shell::script_contents`] to a file named with [`shell::Shell::extension`],
//!    and create empty `$GITHUB_OUTPUT`, `$GITHUB_ENV`, `$GITHUB_STATE`, `$GITHUB_PATH` files.
//! 3. [`process::run_process`] with [`shell::Shell::command`] for that file. In `on_line`, give
//!    the raw line to [`commands::Commands::process`] first (so `::add-mask::` takes effect
//!    before anything is shown), then show [`mask::Masker::mask`] of what is to be printed.
//! 4. Read the files back with [`env_file::parse_env_file`] and [`env_file::parse_path_file`];
//!    an error there fails the step, as it does on GitHub.
//!
//! What a step may reach of the host (its environment, and for the server's embedded runner
//! its files) is [`isolation`]'s to say.
//!
//! `uses:` actions from their repositories come from an [`actions::ActionsSource`], which
//! keeps one verified checkout per commit.
//!
//! [`agent`] is `ferry runner`: it claims jobs from a Ferry server and runs each through
//! [`job::run_job`], reporting back over `ferry-client`.

pub mod actions;
pub mod agent;
pub mod commands;
pub mod docker;
pub mod env_file;
pub mod events;
pub mod isolation;
pub mod job;
pub mod mask;
pub mod process;
pub mod shell;
pub mod workspace;
