//! A stand-alone proxy for benchmarks and trying things by hand, without the agent:
//! `cargo run --release -p ferry-proxy --example proxy -- LISTEN BACKEND...` listens on
//! `LISTEN` (`127.0.0.1:8080`) and shares the traffic among the `BACKEND` addresses (all of
//! release 1) until Ctrl-C, then prints the counts. One thread, as `ferry agent` runs its
//! proxies by default; `FERRY_PROXY_THREADS=N` for N worker threads.

use std::net::SocketAddr;
use std::process::ExitCode;

use ferry_proxy::{Backend, Proxy, Routes};

/// An argument that is not a socket address.
struct BadAddress {
    text: String,
    error: std::net::AddrParseError,
}

impl std::fmt::Display for BadAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not an address such as 127.0.0.1:8080: {}", self.text, self.error)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((listen, backends)) = args.split_first() else {
        eprintln!("usage: proxy LISTEN BACKEND... (addresses such as 127.0.0.1:8080)");
        return ExitCode::from(2);
    };
    let parse = |text: &String| text.parse::<SocketAddr>().map_err(|error| BadAddress { text: text.clone(), error });
    let addrs: Result<(SocketAddr, Vec<SocketAddr>), BadAddress> =
        parse(listen).and_then(|listen| Ok((listen, backends.iter().map(parse).collect::<Result<_, _>>()?)));
    let (listen, backends) = match addrs {
        Ok(addrs) if !addrs.1.is_empty() => addrs,
        Ok(_) => {
            eprintln!("proxy: name at least one backend address after the listen address");
            return ExitCode::from(2);
        }
        Err(error) => {
            eprintln!("proxy: {error}");
            return ExitCode::from(2);
        }
    };
    // As `ferry agent` runs it: one thread by default (its `--threads`), N worker threads with
    // FERRY_PROXY_THREADS=N.
    let threads: usize =
        std::env::var("FERRY_PROXY_THREADS").ok().and_then(|threads| threads.parse().ok()).unwrap_or(1);
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("proxy: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let proxy = match Proxy::bind(listen).await {
            Ok(proxy) => proxy,
            Err(error) => {
                eprintln!("proxy: cannot listen on {listen}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let backends = backends
            .into_iter()
            .enumerate()
            .map(|(backend_idx, addr)| Backend { id: format!("backend-{backend_idx}"), release: 1, addr })
            .collect();
        proxy.set_routes(Routes { backends, weights: Vec::new() });
        eprintln!("proxy: listening on {}", proxy.local_addr());
        if let Err(error) = tokio::signal::ctrl_c().await {
            eprintln!("proxy: cannot wait for Ctrl-C: {error}");
        }
        for release in proxy.traffic() {
            eprintln!("proxy: release {}: {} requests, {} errors", release.release, release.requests, release.errors);
        }
        proxy.shutdown().await;
        ExitCode::SUCCESS
    })
}
