//! `ferry server`: sets up logging, starts `ferry_server` and stops it on Ctrl-C or SIGTERM.

use std::process::ExitCode;

use anyhow::Context;
use ferry_server::ServerConfig;

use crate::cli::ServerArgs;

pub fn main(args: ServerArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_writer(std::io::stderr).init();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async {
        let config = ServerConfig { data_dir: args.data_dir, listen: args.listen, database: args.database };
        let server = ferry_server::bind(&config).await.context("starting the server")?;
        if let Some(path) = server.admin_token_file() {
            println!("ferry: wrote the first admin token to {}", path.display());
        }
        println!("ferry server listening on http://{}", server.local_addr());
        server.run(shutdown_signal()).await.context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Completes on Ctrl-C or SIGTERM (what service managers send); if a handler cannot be
/// installed, only the other one stops the server.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        res = tokio::signal::ctrl_c() => {
            if res.is_err() {
                std::future::pending::<()>().await;
            }
        }
        () = terminate => {}
    }
}
