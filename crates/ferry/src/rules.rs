//! `ferry rules test` and `ferry rules check`: rule files and promtool's rule unit tests, read
//! from disk and handed to `ferry-rules`.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use ferry_rules::{RuleSource, parse_rule_file};
use serde_json::json;

use crate::cli::{RulesArgs, RulesCheckArgs, RulesCommand, RulesTestArgs};
use crate::render;

pub fn main(args: RulesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RulesCommand::Test(args) => test(&args),
        RulesCommand::Check(args) => check(&args),
    }
}

fn test(args: &RulesTestArgs) -> anyhow::Result<ExitCode> {
    let mut all_passed = true;
    let mut results = Vec::new();
    for file in &args.files {
        let name = file.display().to_string();
        let report = match std::fs::read_to_string(file) {
            Ok(src) => {
                let base = file.parent().unwrap_or(Path::new("")).to_path_buf();
                ferry_rules::run_test_file(&name, &src, &|pattern| rule_sources(&base, pattern))
            }
            Err(error) => ferry_rules::TestReport {
                stdout: format!("Unit Testing:  {name}\n\n"),
                stderr: format!("  FAILED:\nopen {name}: {error}\n"),
                passed: false,
                errors: vec![format!("open {name}: {error}")],
            },
        };
        all_passed &= report.passed;
        if args.json {
            results.push(json!({"file": name, "passed": report.passed, "errors": report.errors}));
        } else {
            // promtool writes its header and blank lines to stdout and the failures to stderr.
            let (header, rest) = report.stdout.split_once('\n').unwrap_or((&report.stdout, ""));
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{header}").context("writing to stdout")?;
            stdout.flush().context("writing to stdout")?;
            std::io::stderr().write_all(report.stderr.as_bytes()).context("writing to stderr")?;
            stdout.write_all(rest.as_bytes()).context("writing to stdout")?;
        }
    }
    if args.json {
        let out = json!({"passed": all_passed, "files": results});
        println!("{}", serde_json::to_string_pretty(&out).context("serializing the results")?);
    }
    Ok(if all_passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The rule files an entry of `rule_files` names: relative to the test file, globs expanded.
fn rule_sources(base: &Path, pattern: &str) -> Vec<RuleSource> {
    let full = if pattern.is_empty() || Path::new(pattern).is_absolute() { pattern.into() } else { base.join(pattern) };
    let full = full.display().to_string();
    let Ok(paths) = glob::glob(&full) else { return Vec::new() };
    paths
        .filter_map(Result::ok)
        .map(|path| RuleSource { path: path.display().to_string(), text: std::fs::read_to_string(&path) })
        .collect()
}

fn check(args: &RulesCheckArgs) -> anyhow::Result<ExitCode> {
    let mut n_errors = 0;
    let mut findings = Vec::new();
    let mut stdout = anstream::stdout();
    for file in &args.files {
        let src = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let path = file.display().to_string();
        let (rule_file, diagnostics) = parse_rule_file(&src);
        let n_rules: usize = rule_file.groups.iter().map(|group| group.rules.len()).sum();
        n_errors += diagnostics.iter().filter(|d| d.is_error()).count();
        if args.json {
            for diagnostic in &diagnostics {
                findings.push(json!({
                    "file": path,
                    "line": diagnostic.span.start.line,
                    "col": diagnostic.span.start.col,
                    "severity": diagnostic.severity,
                    "code": diagnostic.code,
                    "message": diagnostic.message,
                    "help": diagnostic.help,
                }));
            }
        } else {
            for diagnostic in &diagnostics {
                writeln!(stdout, "{}\n", render::diagnostic(&path, &src, diagnostic)).context("writing to stdout")?;
            }
            if diagnostics.is_empty() {
                writeln!(stdout, "{path}: {n_rules} rules in {} groups", rule_file.groups.len())
                    .context("writing to stdout")?;
            }
        }
    }
    if args.json {
        let out = json!({"files": args.files.len(), "errors": n_errors, "diagnostics": findings});
        println!("{}", serde_json::to_string_pretty(&out).context("serializing findings")?);
    } else {
        let (style, verdict) = if n_errors > 0 { (render::RED, "failed") } else { (render::GREEN, "ok") };
        writeln!(stdout, "{style}{verdict}{style:#}: {} files checked, {n_errors} errors", args.files.len())
            .context("writing to stdout")?;
    }
    Ok(if n_errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
