//! The `ferry` binary: parses arguments, sets up output, and wires the crates together.
//! Each subcommand lives in its own module; nothing here holds logic of its own.

mod agent;
mod cli;
mod client;
mod lint;
mod logging;
mod render;
mod rules;
mod run;
mod runner;
mod server;
mod up;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let res = match cli.command {
        cli::Command::Run(args) => run::main(*args),
        cli::Command::Lint(args) => lint::main(args),
        cli::Command::Server(args) => server::main(args),
        cli::Command::Up(args) => up::main(args),
        cli::Command::Runner(mut args) => match args.command.take() {
            Some(cli::RunnerCommand::Revoke(revoke)) => client::revoke_runner(revoke),
            None => runner::main(args),
        },
        cli::Command::Runners(args) => client::runners(args),
        cli::Command::Agent(args) => agent::main(args),
        cli::Command::Project(args) => client::project(args.command),
        cli::Command::Secret(args) => client::secret(args.command),
        cli::Command::Var(args) => client::var(args.command),
        cli::Command::Release(args) => client::release(args.command),
        cli::Command::Releases(args) => client::releases(args),
        cli::Command::Trigger(args) => client::trigger(args),
        cli::Command::Logs(args) => client::logs(args),
        cli::Command::Runs(args) => client::runs(args),
        cli::Command::Cancel(args) => client::cancel(args),
        cli::Command::Rerun(args) => client::rerun(args),
        cli::Command::Approve(args) => client::approve(args),
        cli::Command::Deploy(args) => client::deploy(args),
        cli::Command::Deployments(args) => client::deployments(args),
        cli::Command::Deployment(args) => client::deployment(args),
        cli::Command::Rollback(args) => client::rollback(args),
        cli::Command::Status(args) => client::status(args),
        cli::Command::Plan(args) => client::plan(args),
        cli::Command::Dora(args) => client::dora(args),
        cli::Command::Slo(args) => client::slo(args),
        cli::Command::Incident(args) => client::incident(args),
        cli::Command::Incidents(args) => client::incidents(args),
        cli::Command::Metrics(args) => client::metrics(args),
        cli::Command::Rules(args) => rules::main(args),
        cli::Command::Alerts(args) => client::alerts(args),
        cli::Command::Silence(args) => client::silence(args),
    };
    match res {
        Ok(code) => code,
        Err(error) => {
            render::error(&error);
            ExitCode::from(2)
        }
    }
}
