//! Appends synthetic samples to a store and prints `acked N` after each acknowledged batch:
//! the child the crash test kills with SIGKILL, and the ingestion benchmark
//! (`ferry-tsdb-writer DIR SERIES BATCHES [BLOCK_SPAN_MS]`; the rate goes to stderr).

use ferry_promql::Labels;
use ferry_tsdb::{Options, Tsdb};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(Ok(n_series)), Some(Ok(n_batches))) =
        (args.first(), args.get(1).map(|a| a.parse::<usize>()), args.get(2).map(|a| a.parse::<i64>()))
    else {
        eprintln!("usage: ferry-tsdb-writer DIR SERIES BATCHES [BLOCK_SPAN_MS]");
        return ExitCode::from(2);
    };
    let mut options = Options::default();
    if let Some(Ok(span)) = args.get(3).map(|a| a.parse::<i64>()) {
        options.block_span_ms = span;
    }
    let db = match Tsdb::open(std::path::Path::new(dir), options) {
        Ok(db) => db,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let labels: Vec<Labels> = (0..n_series)
        .map(|idx| Labels::new([("__name__", "writer_total".to_owned()), ("series", idx.to_string())]))
        .collect();
    let started = Instant::now();
    let mut stdout = std::io::stdout().lock();
    for batch in 0..n_batches {
        let samples: Vec<(Labels, i64, f64)> =
            labels.iter().map(|l| (l.clone(), batch * 15_000, batch as f64)).collect();
        if let Err(error) = db.append(&samples) {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
        if writeln!(stdout, "acked {batch}").and_then(|()| stdout.flush()).is_err() {
            return ExitCode::FAILURE;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let n_samples = n_series as f64 * n_batches as f64;
    eprintln!("{n_samples} samples in {seconds:.3} s: {:.0} samples/s", n_samples / seconds);
    ExitCode::SUCCESS
}
