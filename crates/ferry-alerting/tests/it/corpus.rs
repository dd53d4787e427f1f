//! Every Alertmanager configuration of the corpus is read without an error (unsupported
//! integrations and settings are warnings), and the webhook body we send has every field of
//! the corpus' version-4 bodies. Tests under `corpus::` run in their own step
//! (`scripts/corpus`), where the corpus is.

use std::path::{Path, PathBuf};

/// `$FERRY_CORPUS`, or `shared/corpus` beside the workspace.
fn corpus_dir() -> PathBuf {
    let dir = match std::env::var_os("FERRY_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    };
    assert!(
        dir.join("alertmanager/config").is_dir(),
        "the corpus is missing: looked for {}/alertmanager/config (set FERRY_CORPUS to the corpus folder)",
        dir.display()
    );
    dir.join("alertmanager")
}

fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == extension))
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_config_is_read() {
    let files = files(&corpus_dir().join("config"), "yml");
    assert!(files.len() >= 5, "expected the 5 corpus configurations, found {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let src = std::fs::read_to_string(file).expect("corpus files are UTF-8");
        if let Err(invalid) = ferry_alerting::compile_valid(&src) {
            failures.push(format!("{}: {invalid}", file.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} configurations have errors:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn unsupported_integrations_are_reported_where_they_are_written() {
    let src = std::fs::read_to_string(corpus_dir().join("config/prometheus__alertmanager__doc__examples__simple.yml"))
        .expect("the documented example");
    let (_, warnings) = ferry_alerting::compile_valid(&src).expect("no errors");
    let pagerduty: Vec<String> = warnings
        .iter()
        .filter(|warning| warning.code == "unsupported-integration")
        .map(|warning| format!("{}", warning.span.start))
        .collect();
    assert_eq!(pagerduty.len(), 3, "{warnings:?}");
}

#[test]
fn our_webhook_body_has_every_field_of_the_corpus_version_4_bodies() {
    let (config, _) = ferry_alerting::compile_valid(
        "route: { receiver: r }\nreceivers: [{ name: r, webhook_configs: [{ url: 'http://127.0.0.1:1/' }] }]\n",
    )
    .expect("a config");
    let mut dispatcher = ferry_alerting::Dispatcher::new(config);
    let labels = [("alertname".to_owned(), "x".to_owned())].into_iter().collect();
    let alert = ferry_alerting::Alert {
        labels,
        annotations: Default::default(),
        starts_at: Some(0),
        ends_at: None,
        generator_url: String::new(),
    };
    // Received 100 s after it started, past the 30 s group_wait: its group flushes at once.
    dispatcher.receive(vec![alert], 100_000);
    let notification = dispatcher.flush_due(100_000).pop().expect("an old alert flushes at once");
    let ours = ferry_alerting::notify::webhook_body(&notification, 0, "http://ferry");
    let mut checked = 0;
    for file in files(&corpus_dir().join("webhook"), "json") {
        let text = std::fs::read_to_string(&file).expect("UTF-8");
        let theirs: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        if theirs["version"] != "4" {
            continue;
        }
        checked += 1;
        for key in theirs.as_object().expect("an object").keys() {
            assert!(ours.get(key).is_some(), "{}: our body lacks `{key}`", file.display());
        }
        for key in theirs["alerts"][0].as_object().expect("an alert").keys() {
            assert!(ours["alerts"][0].get(key).is_some(), "{}: our alerts lack `{key}`", file.display());
        }
    }
    assert!(checked >= 1, "no version-4 body in the corpus");
}
