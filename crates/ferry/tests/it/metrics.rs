//! `ferry metrics import` against a real server: a backfill from an OpenMetrics file is
//! answered by PromQL at `/prometheus`, older samples are counted and not stored, and a bad
//! line is refused with its file and line before anything is sent. A real Prometheus sends
//! Ferry what it scrapes, receives what Ferry scrapes (`[metrics.remote_write]`), and answers
//! Ferry's query API (`query_backend`).

use serde_json::Value;

use crate::runner::{client_command, get_json, output_within, start_server, text};

#[test]
fn an_imported_file_is_queried_with_promql_and_a_bad_line_names_the_file() {
    let scratch = tempfile::Builder::new().prefix("ferry-metrics-it-").tempdir().expect("temp dir");
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| output_within(client_command(&url, &admin, args));

    let bad = scratch.path().join("bad.om");
    std::fs::write(
        &bad,
        "# TYPE requests counter\nrequests_total{code=\"200\"} 1 1700000000\nrequests_total{code= 2\n# EOF\n",
    )
    .expect("write");
    let refused = ferry(&["metrics", "import", bad.to_str().expect("UTF-8")]);
    assert!(!refused.status.success());
    assert!(text(&refused).contains(&format!("{}:3: ", bad.display())), "{}", text(&refused));

    // A counter over ten minutes: 0, 60, …, 600 requests, one sample a minute.
    let mut history = String::from("# TYPE requests counter\n");
    for minute in 0..=10 {
        history.push_str(&format!("requests_total{{code=\"200\"}} {} {}\n", minute * 60, 1_700_000_000 + minute * 60));
    }
    history.push_str("# EOF\n");
    let good = scratch.path().join("history.om");
    std::fs::write(&good, &history).expect("write");
    let imported = ferry(&["metrics", "import", good.to_str().expect("UTF-8"), "--json"]);
    assert!(imported.status.success(), "{}\n--- server\n{}", text(&imported), server.stderr());
    let report: Value = serde_json::from_slice(&imported.stdout).unwrap_or_else(|_| panic!("{}", text(&imported)));
    assert_eq!((report["appended"].as_u64(), report["out_of_order"].as_u64()), (Some(11), Some(0)), "{report:#}");

    // One request a second, by PromQL over the imported samples.
    let answer = get_json(&url, &admin, "/prometheus/api/v1/query?query=rate(requests_total%5B5m%5D)&time=1700000600");
    assert_eq!(answer["status"], "success", "{answer:#}");
    let value = answer["data"]["result"][0]["value"][1].as_str().unwrap_or_else(|| panic!("{answer:#}"));
    assert_eq!(value.parse::<f64>().expect("a number"), 1.0, "{answer:#}");

    // The same file again: the newest sample repeats the stored one, the others are older.
    let again = ferry(&["metrics", "import", good.to_str().expect("UTF-8")]);
    assert!(again.status.success(), "{}", text(&again));
    let said = text(&again);
    assert!(said.contains("stored 0 samples"), "{said}");
    assert!(said.contains("10 samples were older than their series' newest"), "{said}");
    assert!(said.contains("1 samples repeated a stored one"), "{said}");
}

/// Prometheus from Debian's package, stopped when dropped.
struct Prometheus(std::process::Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_real_prometheus_sends_what_it_scrapes_by_remote_write() {
    let scratch = tempfile::Builder::new().prefix("ferry-remote-write-it-").tempdir().expect("temp dir");
    let (server, url, admin) = start_server(scratch.path());
    let port = crate::harness::free_port();
    // Prometheus scrapes itself every half second and sends the samples to Ferry with the
    // admin token, as a user's `remote_write` block would.
    let _prometheus = start_prometheus(
        scratch.path(),
        port,
        &format!(
            "global:\n  scrape_interval: 500ms\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
             remote_write:\n  - url: {url}/prometheus/api/v1/write\n    authorization:\n      credentials: {admin}\n    queue_config:\n      batch_send_deadline: 500ms\n"
        ),
        &[],
    );
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let found = crate::runner::wait_for("Prometheus' `up` sample in Ferry", || {
        let answer =
            get_json(&url, &admin, &format!("/prometheus/api/v1/query?query=up%7Bjob%3D%22self%22%7D&time={}", now()));
        let result = answer["data"]["result"].as_array()?.first()?.clone();
        Some(result)
    });
    assert_eq!(found["metric"]["instance"], format!("127.0.0.1:{port}"), "{found:#}\n--- server\n{}", server.stderr());
    assert_eq!(found["value"][1], "1", "{found:#}");
    // Its own metrics came along: the build it runs, from the scrape, not from Ferry.
    let build = get_json(
        &url,
        &admin,
        &format!("/prometheus/api/v1/series?match%5B%5D=prometheus_build_info&start={}", now() - 600),
    );
    assert!(build["data"].as_array().is_some_and(|series| !series.is_empty()), "{build:#}");
}

/// Prometheus from Debian's package on `port`, with `config` (YAML) and `flags`, its data and
/// log in `dir`.
fn start_prometheus(dir: &std::path::Path, port: u16, config: &str, flags: &[&str]) -> Prometheus {
    let config_file = dir.join("prometheus.yml");
    std::fs::write(&config_file, config).expect("write the config");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
    Prometheus(
        std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("prometheus-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(flags)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus from Debian's prometheus package (scripts/test installs it)"),
    )
}

#[test]
fn what_ferry_scrapes_is_forwarded_to_a_real_prometheus_which_then_answers_ferrys_queries() {
    let scratch = tempfile::Builder::new().prefix("ferry-forward-it-").tempdir().expect("temp dir");
    let exporter = Exporter::start("# TYPE jobs_done counter\njobs_done_total{queue=\"mail\"} 42\n");
    let prometheus_port = crate::harness::free_port();
    let prometheus_url = format!("http://127.0.0.1:{prometheus_port}");
    // Prometheus takes remote write and scrapes only itself, as job `self`: a series Ferry
    // never stores, so finding it through Ferry shows who answered.
    let _prometheus = start_prometheus(
        scratch.path(),
        prometheus_port,
        &format!(
            "global:\n  scrape_interval: 500ms\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['127.0.0.1:{prometheus_port}']\n"
        ),
        &["--web.enable-remote-write-receiver"],
    );
    let config = scratch.path().join("ferry.toml");
    std::fs::write(
        &config,
        format!(
            "[metrics]\nscrape_interval = \"200ms\"\nquery_backend = \"{prometheus_url}\"\n\n\
             [metrics.remote_write]\nurl = \"{prometheus_url}/api/v1/write\"\nbearer_token = \"not-checked\"\n\n\
             [[metrics.scrape]]\njob = \"worker\"\ntargets = [\"127.0.0.1:{}\"]\n",
            exporter.port
        ),
    )
    .expect("write the config");
    let (server, url, admin) = crate::runner::start_server_with(scratch.path(), |command| {
        command.arg("--config").arg(&config);
    });
    // Prometheus refuses connections until it listens and answers 503 until its store is
    // ready: both are no result yet.
    let query = |base: &str, prefix: &str, promql: &str| -> Vec<Value> {
        if std::net::TcpStream::connect(base.trim_start_matches("http://")).is_err() {
            return Vec::new();
        }
        let encoded: String = promql.bytes().map(|b| format!("%{b:02X}")).collect();
        let (head, body) = get_text(base, &admin, &format!("{prefix}/api/v1/query?query={encoded}"));
        let answer: Value = if head.starts_with("HTTP/1.1 200") {
            serde_json::from_str(&body).unwrap_or_default()
        } else {
            Value::Null
        };
        answer["data"]["result"].as_array().cloned().unwrap_or_default()
    };
    // Prometheus received what Ferry scraped.
    let forwarded = crate::runner::wait_for("the exporter's sample in Prometheus", || {
        query(&prometheus_url, "", "jobs_done_total").into_iter().next()
    });
    assert_eq!(
        (forwarded["metric"]["job"].as_str(), forwarded["value"][1].as_str()),
        (Some("worker"), Some("42")),
        "{forwarded:#}\n--- server\n{}",
        server.stderr()
    );
    // Ferry's query API answers from Prometheus: its own series, which Ferry never scraped,
    // and what Ferry forwarded.
    let own = crate::runner::wait_for("Prometheus' own `up` through Ferry", || {
        query(&url, "/prometheus", "up{job=\"self\"}").into_iter().next()
    });
    assert_eq!(own["metric"]["instance"], format!("127.0.0.1:{prometheus_port}"), "{own:#}");
    assert_eq!(query(&url, "/prometheus", "jobs_done_total")[0]["value"][1], "42");
    let values = get_json(&url, &admin, "/prometheus/api/v1/label/job/values");
    assert!(values["data"].as_array().is_some_and(|jobs| jobs.contains(&Value::from("self"))), "{values:#}");
    // An error is Prometheus' own, passed on with its status.
    let (head, body) = get_text(&url, &admin, "/prometheus/api/v1/query?query=rate(");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let bad: Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!((bad["status"].as_str(), bad["errorType"].as_str()), (Some("error"), Some("bad_data")), "{bad:#}");
    // The server counts what it forwarded.
    crate::runner::wait_for("the forwarded count on /metrics", || {
        let (_, text) = get_text(&url, &admin, "/metrics");
        let count = text.lines().find_map(|line| line.strip_prefix("ferry_remote_write_samples_sent_total "))?;
        count.parse::<f64>().is_ok_and(|count| count > 0.0).then_some(())
    });
}

/// `GET path` with the token: the answer's head and body, whatever the status.
fn get_text(url: &str, token: &str, path: &str) -> (String, String) {
    use std::io::{Read as _, Write as _};
    let addr = url.strip_prefix("http://").expect("an http URL");
    let mut stream = std::net::TcpStream::connect(addr).expect("connecting");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: ferry\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
        .expect("sending");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reading");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    (head.to_owned(), body.to_owned())
}

/// A target that answers `body` to every request until dropped.
struct Exporter {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Exporter {
    fn start(body: &'static str) -> Exporter {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                let Ok(mut stream) = stream else { continue };
                let mut request = [0_u8; 4096];
                let _ = stream.read(&mut request);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Exporter { port, stop }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag and closes the listener.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[test]
fn the_server_scrapes_its_targets_and_itself_and_a_target_that_stops_answering_goes_down() {
    let scratch = tempfile::Builder::new().prefix("ferry-scrape-it-").tempdir().expect("temp dir");
    let exporter = Exporter::start("# TYPE jobs_done counter\njobs_done_total{queue=\"mail\"} 42\n");
    let config = scratch.path().join("ferry.toml");
    std::fs::write(
        &config,
        format!(
            "[metrics]\nscrape_interval = \"200ms\"\n\n[[metrics.scrape]]\njob = \"worker\"\ntargets = [\"127.0.0.1:{}\"]\nlabels = {{ team = \"mail\" }}\n",
            exporter.port
        ),
    )
    .expect("write the config");
    let (server, url, admin) = crate::runner::start_server_with(scratch.path(), |command| {
        command.arg("--config").arg(&config);
    });
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    let query = |promql: &str| -> Vec<Value> {
        let encoded: String = promql.bytes().map(|b| format!("%{b:02X}")).collect();
        let answer = get_json(&url, &admin, &format!("/prometheus/api/v1/query?query={encoded}&time={:.3}", now()));
        answer["data"]["result"].as_array().cloned().unwrap_or_default()
    };
    let instance = format!("127.0.0.1:{}", exporter.port);
    let scraped =
        crate::runner::wait_for("the exporter's sample in the store", || query("jobs_done_total").into_iter().next());
    assert_eq!(scraped["metric"]["job"], "worker", "{scraped:#}\n--- server\n{}", server.stderr());
    assert_eq!(
        (scraped["metric"]["instance"].as_str(), scraped["metric"]["team"].as_str()),
        (Some(instance.as_str()), Some("mail"))
    );
    assert_eq!(scraped["value"][1], "42");
    assert_eq!(query("up{job=\"worker\"}")[0]["value"][1], "1");
    // The server's own metrics, as job `ferry`.
    let own = crate::runner::wait_for("the server's own metrics", || {
        query("ferry_queue_depth{job=\"ferry\"}").into_iter().next()
    });
    assert!(own["metric"]["instance"].as_str().is_some_and(|i| url.ends_with(i)), "{own:#}");

    // The target stops answering: `up` goes to 0 and its series ends at once (a stale
    // marker), not after five minutes of lookback.
    drop(exporter);
    crate::runner::wait_for("`up` 0 for the stopped target", || {
        (query("up{job=\"worker\"}").first()?["value"][1] == "0").then_some(())
    });
    assert!(query("jobs_done_total").is_empty(), "the series is stale");
    // The targets API says so, as Prometheus' does.
    let targets = get_json(&url, &admin, "/prometheus/api/v1/targets");
    let active = targets["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
    let worker = active.iter().find(|t| t["labels"]["job"] == "worker").unwrap_or_else(|| panic!("{targets:#}"));
    assert_eq!(
        (worker["health"].as_str(), worker["scrapePool"].as_str()),
        (Some("down"), Some("worker")),
        "{worker:#}"
    );
    assert!(worker["lastError"].as_str().is_some_and(|e| !e.is_empty()), "{worker:#}");
    assert!(active.iter().any(|t| t["labels"]["job"] == "ferry" && t["health"] == "up"), "{targets:#}");
}
