//! The differential suite: test files written for it, run through Debian's `promtool test
//! rules` (Prometheus 2.42) and through `ferry-rules`; exit status, standard output and
//! standard error must be the same, byte for byte.

use crate::run_file;
use std::path::Path;
use std::process::Command;

const FIXTURES: &[&str] = &["pass.yml", "fail.yml", "evalerr.yml", "unknown.yml", "noname.yml"];

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/promtool"))
}

#[test]
fn ferry_reports_what_promtool_reports() {
    let mut differences = Vec::new();
    for name in FIXTURES {
        let output =
            Command::new("promtool").args(["test", "rules", name]).current_dir(fixtures()).output().unwrap_or_else(
                |error| panic!("running promtool (Debian's `prometheus` package, scripts/test installs it): {error}"),
            );
        let promtool = (
            output.status.code() == Some(0),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        );
        let report = run_file(&fixtures().join(name), name);
        let ferry = (report.passed, report.stdout, report.stderr);
        if promtool != ferry {
            differences.push(format!("{name}:\n promtool: {promtool:#?}\n ferry:    {ferry:#?}"));
        }
    }
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

#[test]
fn the_fixtures_cover_a_pass_and_each_kind_of_failure() {
    let verdicts: Vec<(&str, bool)> =
        FIXTURES.iter().map(|name| (*name, run_file(&fixtures().join(name), name).passed)).collect();
    assert_eq!(
        verdicts,
        [
            ("pass.yml", true),
            ("fail.yml", false),
            ("evalerr.yml", false),
            ("unknown.yml", false),
            ("noname.yml", false)
        ]
    );
}
