//! A writer killed with SIGKILL while it appends loses no sample it acknowledged.

use ferry_promql::{MatchOp, Matcher, Storage};
use ferry_tsdb::{Options, Tsdb};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn sigkill_loses_no_acknowledged_sample() {
    let dir = tempfile::tempdir().expect("temp dir");
    let n_series = 50;
    // Blocks every 30 batches, so the kill can land while a block is written too.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry-tsdb-writer"))
        .args([dir.path().to_str().expect("utf-8 temp path"), &n_series.to_string(), "1000000", "300000"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: Option<i64> = None;
    for line in lines.by_ref() {
        let line = line.expect("read the writer's output");
        acked = line.strip_prefix("acked ").and_then(|n| n.parse().ok());
        if acked >= Some(200) {
            break;
        }
    }
    child.kill().expect("SIGKILL the writer");
    // Acknowledgements written before the kill count too.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(batch) = line.strip_prefix("acked ").and_then(|n| n.parse().ok()) {
            acked = Some(batch);
        }
    }
    child.wait().expect("reap the writer");
    let acked = acked.expect("the writer acknowledged batches");
    let db = Tsdb::open(dir.path(), Options { block_span_ms: 300_000, ..Options::default() })
        .expect("reopen after the kill");
    let series = db.select(&[Matcher::new(MatchOp::Equal, "__name__", "writer_total")], 0, i64::MAX).expect("select");
    assert_eq!(series.len(), n_series);
    for series in series {
        let n_present = series.samples.iter().take_while(|(t, v)| *t == (*v as i64) * 15_000).count() as i64;
        assert!(
            n_present > acked,
            "{} has {n_present} samples in order, {} were acknowledged",
            series.labels,
            acked + 1
        );
    }
}
