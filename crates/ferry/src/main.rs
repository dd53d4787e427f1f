//! The `ferry` binary: parses arguments, sets up output, and wires the crates together.
//! Each subcommand lives in its own module; nothing here holds logic of its own.

mod cli;
mod lint;
mod render;
mod run;
mod server;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let res = match cli.command {
        cli::Command::Run(args) => run::main(*args),
        cli::Command::Lint(args) => lint::main(args),
        cli::Command::Server(args) => server::main(args),
    };
    match res {
        Ok(code) => code,
        Err(error) => {
            render::error(&error);
            ExitCode::from(2)
        }
    }
}
