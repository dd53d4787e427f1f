//! Where each server setting comes from.

use super::*;

fn args(data_dir: Option<&str>, listen: Option<&str>, database: Option<&str>) -> ServerArgs {
    ServerArgs {
        config: None,
        data_dir: data_dir.map(PathBuf::from),
        listen: listen.map(|addr| addr.parse().expect("an address")),
        database: database.map(str::to_owned),
        runner_slots: None,
        runner_pass_env: Vec::new(),
        actions_url: None,
        poll_interval: None,
        public_url: None,
        alertmanager_config: None,
        artifact_retention_days: None,
        no_agent: true,
    }
}

#[test]
fn defaults_apply_when_neither_flags_nor_file_say() {
    let config = server_config(args(None, None, None), ServerSection::default());
    assert_eq!(config, ServerConfig::new(PathBuf::from("./ferry-data")));
}

#[test]
fn flags_win_over_the_file_and_the_file_over_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ferry.toml");
    std::fs::write(
        &path,
        "[server]\ndata_dir = \"state\"\nlisten = \"0.0.0.0:9000\"\ndatabase = \"postgres://db/ferry\"\n",
    )
    .expect("write");
    let file = read_config(&path).expect("a valid file").server;
    assert_eq!(file.data_dir, Some(dir.path().join("state")), "relative to the file");
    let config = server_config(args(None, Some("127.0.0.1:0"), None), file);
    assert_eq!(config.data_dir, dir.path().join("state"));
    assert_eq!(config.listen.to_string(), "127.0.0.1:0");
    assert_eq!(config.database.as_deref(), Some("postgres://db/ferry"));
}

#[test]
fn unknown_keys_in_the_file_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ferry.toml");
    std::fs::write(&path, "[server]\nlisten_on = \"0.0.0.0:9000\"\n").expect("write");
    let error = format!("{:#}", read_config(&path).expect_err("an unknown key"));
    assert!(error.contains("listen_on"), "{error}");
}

#[test]
fn the_poll_interval_flag_is_in_seconds_and_zero_turns_polling_off() {
    let mut flags = args(None, None, None);
    flags.poll_interval = Some(0);
    assert_eq!(server_config(flags, ServerSection::default()).poll_interval, std::time::Duration::ZERO);
    let mut flags = args(None, None, None);
    flags.poll_interval = Some(5);
    assert_eq!(server_config(flags, ServerSection::default()).poll_interval, std::time::Duration::from_secs(5));
}

#[test]
fn artifacts_are_kept_ninety_days_unless_the_flag_says_otherwise() {
    let day = std::time::Duration::from_secs(24 * 60 * 60);
    assert_eq!(server_config(args(None, None, None), ServerSection::default()).artifact_retention, day * 90);
    let mut flags = args(None, None, None);
    flags.artifact_retention_days = Some(7);
    assert_eq!(server_config(flags, ServerSection::default()).artifact_retention, day * 7);
}

#[test]
fn the_embedded_runners_actions_source_comes_from_the_flag_then_the_file_then_github() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ferry.toml");
    std::fs::write(&path, "[server]\nactions_url = \"file:///srv/actions\"\n").expect("write");
    let file = read_config(&path).expect("a valid file").server;
    let mut flags = args(None, None, None);
    assert_eq!(actions_url(&flags, &ServerSection::default()), "https://github.com");
    assert_eq!(actions_url(&flags, &file), "file:///srv/actions");
    flags.actions_url = Some("https://git.example.com".to_owned());
    assert_eq!(actions_url(&flags, &file), "https://git.example.com");
}

#[test]
fn scrape_jobs_come_from_the_metrics_table_with_their_defaults() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ferry.toml");
    std::fs::write(
        &path,
        "[metrics]\nscrape_interval = \"30s\"\n\n[[metrics.scrape]]\njob = \"node\"\ntargets = [\"127.0.0.1:9100\"]\n\
         timeout = \"5s\"\nlabels = { team = \"infra\" }\n",
    )
    .expect("write");
    let scrape = read_config(&path).expect("a valid file").metrics.scrape_config().expect("valid jobs");
    assert_eq!(scrape.interval, std::time::Duration::from_secs(30));
    assert_eq!(scrape.timeout, std::time::Duration::from_secs(10), "the default");
    assert!(scrape.scrape_self);
    let job = &scrape.jobs[0];
    assert_eq!((job.job.as_str(), job.scheme.as_str(), job.path.as_str()), ("node", "http", "/metrics"));
    assert_eq!((job.interval, job.timeout), (None, Some(std::time::Duration::from_secs(5))));
    assert_eq!(job.labels.get("team").map(String::as_str), Some("infra"));

    std::fs::write(&path, "[metrics]\nscrape_interval = \"soon\"\n").expect("write");
    let error = format!("{:#}", read_config(&path).expect_err("a bad duration"));
    assert!(error.contains("`soon` is not a duration"), "{error}");
    std::fs::write(&path, "[[metrics.scrape]]\njob = \"x\"\ntargets = [\"http://a:1/metrics\"]\n").expect("write");
    let error =
        format!("{:#}", read_config(&path).expect("parses").metrics.scrape_config().expect_err("a URL as target"));
    assert!(error.contains("targets must be `host:port` entries"), "{error}");
}

#[test]
fn remote_write_and_the_query_backend_come_from_the_metrics_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ferry.toml");
    std::fs::write(
        &path,
        "[metrics]\nquery_backend = \"http://127.0.0.1:9090\"\n\n[metrics.remote_write]\n\
         url = \"http://127.0.0.1:9090/api/v1/write\"\nbasic_auth = { username = \"ferry\", password = \"pw\" }\n",
    )
    .expect("write");
    let metrics = read_config(&path).expect("a valid file").metrics.scrape_config().expect("valid");
    assert_eq!(metrics.query_backend.as_deref(), Some("http://127.0.0.1:9090"));
    let remote = metrics.remote_write.expect("remote write");
    assert_eq!(remote.url, "http://127.0.0.1:9090/api/v1/write");
    assert_eq!(remote.queue, ferry_server::DEFAULT_REMOTE_WRITE_QUEUE);
    assert_eq!(remote.auth, Some(ferry_server::RemoteAuth::Basic { username: "ferry".into(), password: "pw".into() }));
    assert!(!format!("{remote:?}").contains("pw"), "credentials stay out of logs");

    for (text, expected) in [
        ("[metrics.remote_write]\nurl = \"prometheus:9090\"\n", "is not an http:// or https:// URL"),
        (
            "[metrics.remote_write]\nurl = \"http://p:9090/api/v1/write\"\nbearer_token = \"t\"\n\
             basic_auth = { username = \"u\", password = \"p\" }\n",
            "both bearer_token and basic_auth",
        ),
        ("[metrics]\nquery_backend = \"localhost:9090\"\n", "[metrics] query_backend"),
    ] {
        std::fs::write(&path, text).expect("write");
        let error = format!("{:#}", read_config(&path).expect("parses").metrics.scrape_config().expect_err(text));
        assert!(error.contains(expected), "{error}");
    }
}
