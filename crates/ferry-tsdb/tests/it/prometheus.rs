//! The differential suite: the same OpenMetrics data imported into Prometheus (`promtool tsdb
//! create-blocks-from openmetrics`) and into our store (`import_openmetrics`), then a table of
//! instant and range queries through both; every answer must match (floats to 1e-9 relative).
//! Prometheus runs from Debian's package on a free loopback port with a temporary directory.

use ferry_promql::{QueryOptions, instant_query, range_query};
use ferry_tsdb::{Options, Tsdb, import_openmetrics};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The first sample's time, seconds (a whole minute).
const BASE: i64 = 1_700_000_100;
/// Samples per series, 15 s apart: one hour.
const N_SAMPLES: i64 = 241;

/// Queries both answer, instant and range.
const QUERIES: &[&str] = &[
    "up",
    "up{instance=\"c\"}",
    "http_requests_total",
    "http_requests_total{code=\"500\",method=~\"g.*\"}",
    "http_requests_total{code!=\"500\",instance!~\"a|b\"}",
    "http_requests_total offset 5m",
    "http_requests_total @ 1700000900",
    "rate(http_requests_total[5m])",
    "rate(http_requests_total[1m] offset 2m)",
    "irate(http_requests_total[5m])",
    "increase(http_requests_total[10m])",
    "delta(node_temperature_celsius[10m])",
    "idelta(node_temperature_celsius[5m])",
    "deriv(node_temperature_celsius[10m])",
    "predict_linear(node_temperature_celsius[10m], 600)",
    "resets(http_requests_total[1h])",
    "changes(node_temperature_celsius[5m])",
    "avg_over_time(node_temperature_celsius[10m])",
    "min_over_time(node_temperature_celsius[10m])",
    "max_over_time(node_temperature_celsius[10m])",
    "sum_over_time(node_temperature_celsius[10m])",
    "count_over_time(up[10m])",
    "stddev_over_time(node_temperature_celsius[10m])",
    "stdvar_over_time(node_temperature_celsius[10m])",
    "last_over_time(node_temperature_celsius[10m])",
    "present_over_time(up[10m])",
    "quantile_over_time(0.9, node_temperature_celsius[10m])",
    "absent(nonexistent{job=\"x\"})",
    "absent(up)",
    "absent_over_time(up{instance=\"c\"}[5m])",
    "sum(rate(http_requests_total[5m]))",
    "sum by (instance) (rate(http_requests_total[5m]))",
    "sum without (method, code) (http_requests_total)",
    "avg by (code) (http_requests_total)",
    "count(http_requests_total)",
    "min(node_temperature_celsius)",
    "max by (job) (http_requests_total)",
    "group by (instance) (http_requests_total)",
    "stddev by (method) (http_requests_total)",
    "stdvar(node_temperature_celsius)",
    "topk(3, http_requests_total)",
    "bottomk(2, node_temperature_celsius)",
    "quantile(0.5, node_temperature_celsius)",
    "count_values(\"value\", up)",
    "sum by (instance) (rate(http_requests_total{code=\"500\"}[5m])) / sum by (instance) (rate(http_requests_total[5m]))",
    "http_requests_total / on (instance, method) group_left sum by (instance, method) (http_requests_total)",
    "http_requests_total * on (instance) group_left (version) build_info",
    "build_info * on (instance) group_right (version) http_requests_total",
    "http_requests_total - ignoring (code) group_left http_requests_total{code=\"200\"}",
    "node_temperature_celsius > 45",
    "node_temperature_celsius > bool 45",
    "45 < node_temperature_celsius",
    "up == 1",
    "http_requests_total and on (instance) up",
    "http_requests_total unless on (instance) up",
    "up or node_temperature_celsius",
    "node_temperature_celsius != on (instance) group_left build_info",
    "histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m]))",
    "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])",
    "label_replace(up, \"host\", \"$1-x\", \"instance\", \"(.*)\")",
    "label_replace(up, \"instance\", \"\", \"instance\", \"a\")",
    "label_join(up, \"both\", \",\", \"job\", \"instance\")",
    "abs(delta(node_temperature_celsius[5m]))",
    "ceil(node_temperature_celsius)",
    "floor(node_temperature_celsius)",
    "round(node_temperature_celsius, 0.5)",
    "sqrt(node_temperature_celsius)",
    "exp(node_temperature_celsius / 100)",
    "ln(node_temperature_celsius)",
    "log2(node_temperature_celsius)",
    "log10(node_temperature_celsius)",
    "sgn(delta(node_temperature_celsius[5m]))",
    "clamp(node_temperature_celsius, 42, 48)",
    "clamp_min(node_temperature_celsius, 45)",
    "clamp_max(node_temperature_celsius, 45)",
    "deg(node_temperature_celsius)",
    "sin(node_temperature_celsius)",
    "timestamp(up)",
    "timestamp(-up)",
    "time()",
    "scalar(sum(up))",
    "vector(1)",
    "hour()",
    "minute(timestamp(up))",
    "day_of_week()",
    "day_of_month()",
    "day_of_year()",
    "days_in_month()",
    "month()",
    "year()",
    "max_over_time(rate(http_requests_total[5m])[30m:1m])",
    "avg_over_time(node_temperature_celsius[10m:])",
    "rate(http_requests_total[5m:30s])",
    "min_over_time(sum(node_temperature_celsius)[15m:2m] offset 1m)",
    "sort_desc(sum by (instance) (http_requests_total))",
    "-node_temperature_celsius",
    "2 ^ 3 + 1 * 4 % 3",
    "1 > bool 2",
    "http_requests_total % 7",
    "sum(up) > bool 2",
    "count by (job) (up)",
    "http_requests_total @ start()",
    "rate(http_requests_total[5m] @ end())",
];

/// Queries spelled differently: ours (as current Prometheus and promql-parser name them) and
/// Prometheus 2.42's.
const RENAMED: &[(&str, &str)] = &[(
    "double_exponential_smoothing(node_temperature_celsius[10m], 0.5, 0.3)",
    "holt_winters(node_temperature_celsius[10m], 0.5, 0.3)",
)];

/// Where Ferry answers differently on purpose (docs/monitoring.md lists them): each must still
/// differ, so that this table and the page stay true.
const DIFFERENCES: &[&str] = &[
    // Prometheus 2.42 keeps the metric name after `atan2`; Ferry drops it, as for every other
    // arithmetic operator.
    "node_temperature_celsius atan2 10",
];

/// Queries only an instant query takes (range vectors, strings).
const INSTANT_ONLY: &[&str] =
    &["http_requests_total{instance=\"a\",method=\"get\"}[1m]", "\"text\"", "up[2m] offset 10m"];

/// Queries both refuse; the error type must match.
const ERRORS: &[&str] = &[
    "sum(",
    "http_requests_total + ignoring (code) http_requests_total",
    "http_requests_total * on (instance) build_info",
    "rate(up)",
    "label_replace(up, \"1bad\", \"x\", \"instance\", \".*\")",
];

/// The OpenMetrics text both stores import.
fn openmetrics() -> String {
    let mut text = String::new();
    let instances = ["a", "b", "c"];
    for (i_idx, instance) in instances.iter().enumerate() {
        for method in ["get", "post"] {
            for code in ["200", "500"] {
                let mut value = 0.0;
                for k in 0..N_SAMPLES {
                    let increment = ((k * 7 + i_idx as i64 * 3 + method.len() as i64) % 5) as f64
                        + if code == "500" { 0.0 } else { 3.0 };
                    value += increment;
                    // Instance c restarts half way: its counters reset.
                    if *instance == "c" && k == 120 {
                        value = increment;
                    }
                    let _ = writeln!(
                        text,
                        "http_requests_total{{job=\"api\",instance=\"{instance}\",method=\"{method}\",code=\"{code}\"}} {value} {}",
                        BASE + k * 15
                    );
                }
            }
        }
    }
    for (i_idx, instance) in instances.iter().enumerate() {
        for k in 0..N_SAMPLES {
            let value = (40.0 + 10.0 * (k as f64 / 10.0 + i_idx as f64).sin()) * 1000.0;
            let _ = writeln!(
                text,
                "node_temperature_celsius{{instance=\"{instance}\"}} {} {}",
                value.round() / 1000.0,
                BASE + k * 15
            );
        }
    }
    let bounds = ["0.1", "0.5", "1", "+Inf"];
    for (i_idx, instance) in instances.iter().enumerate() {
        let mut counts = [0.0; 4];
        let mut sum = 0.0;
        let mut series: Vec<Vec<String>> = vec![Vec::new(); 6];
        for k in 0..N_SAMPLES {
            let fast = ((k + i_idx as i64) % 4 + 1) as f64;
            let adds = [fast, fast + 2.0, fast + 3.0, fast + 4.0 + (k % 3) as f64];
            for (count, add) in counts.iter_mut().zip(adds) {
                *count += add;
            }
            sum += 0.3 * adds[3];
            let ts = BASE + k * 15;
            for (b_idx, le) in bounds.iter().enumerate() {
                series[b_idx].push(format!(
                    "http_request_duration_seconds_bucket{{instance=\"{instance}\",le=\"{le}\"}} {} {ts}",
                    counts[b_idx]
                ));
            }
            series[4].push(format!("http_request_duration_seconds_sum{{instance=\"{instance}\"}} {sum} {ts}"));
            series[5]
                .push(format!("http_request_duration_seconds_count{{instance=\"{instance}\"}} {} {ts}", counts[3]));
        }
        for lines in series {
            for line in lines {
                let _ = writeln!(text, "{line}");
            }
        }
    }
    for instance in instances {
        for k in 0..N_SAMPLES {
            // Instance c is away for 20 minutes: longer than the lookback.
            if instance == "c" && (100..180).contains(&k) {
                continue;
            }
            let _ = writeln!(text, "up{{job=\"api\",instance=\"{instance}\"}} 1 {}", BASE + k * 15);
        }
        for k in 0..N_SAMPLES {
            let _ = writeln!(
                text,
                "build_info{{instance=\"{instance}\",version=\"1.{}\"}} 1 {}",
                instance.len(),
                BASE + k * 15
            );
        }
    }
    text.push_str("# EOF\n");
    text
}

/// Prometheus from Debian's package, stopped when dropped.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(dir: &Path, openmetrics_file: &Path) -> Prometheus {
    let data = dir.join("prometheus-data");
    let status = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(openmetrics_file)
        .arg(&data)
        .stdout(Stdio::null())
        .status()
        .expect("promtool from Debian's prometheus package (scripts/test installs it)");
    assert!(status.success(), "promtool refused the OpenMetrics file");
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").expect("write the config");
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=3650d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let prometheus = Prometheus { child, port };
    for _ in 0..600 {
        if http_get(port, "/-/ready").is_some_and(|(status, _)| status == 200) {
            return prometheus;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    panic!("prometheus did not become ready on port {port}:\n{log}");
}

/// A GET over HTTP/1.0: `(status, body)`, `None` when nothing listens.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A result in a comparable form: its type and, per series (labels as JSON), its points.
type Normalised = (String, BTreeMap<String, Vec<(f64, f64)>>);

/// The result of a response, or its `errorType`.
fn normalise(body: &Json) -> Result<Normalised, String> {
    if body["status"] != "success" {
        return Err(body["errorType"].as_str().unwrap_or("?").to_owned());
    }
    let data = &body["data"];
    let result_type = data["resultType"].as_str().unwrap_or("").to_owned();
    let point = |p: &Json| -> (f64, f64) {
        let v = match p[1].as_str().unwrap_or("") {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        };
        (p[0].as_f64().unwrap_or(f64::NAN), v)
    };
    let mut series = BTreeMap::new();
    match result_type.as_str() {
        "scalar" | "string" => {
            let result = &data["result"];
            let value = match result[1].as_str() {
                Some(s) if result_type == "string" => {
                    series.insert(s.to_owned(), vec![(result[0].as_f64().unwrap_or(0.0), 0.0)]);
                    return Ok((result_type, series));
                }
                _ => point(result),
            };
            series.insert(String::new(), vec![value]);
        }
        _ => {
            for item in data["result"].as_array().into_iter().flatten() {
                let key = item["metric"].to_string();
                let points = match item.get("values") {
                    Some(values) => values.as_array().into_iter().flatten().map(point).collect(),
                    None => vec![point(&item["value"])],
                };
                series.insert(key, points);
            }
        }
    }
    Ok((result_type, series))
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-3)
}

fn same(ours: &Json, theirs: &Json) -> Result<(), String> {
    let (ours, theirs) = (normalise(ours), normalise(theirs));
    match (&ours, &theirs) {
        (Ok((our_type, our_series)), Ok((their_type, their_series))) => {
            if our_type != their_type {
                return Err(format!("result type {our_type} vs Prometheus' {their_type}"));
            }
            if our_series.keys().ne(their_series.keys()) {
                return Err(format!(
                    "series {:?}\n  vs Prometheus' {:?}",
                    our_series.keys().collect::<Vec<_>>(),
                    their_series.keys().collect::<Vec<_>>()
                ));
            }
            for (key, our_points) in our_series {
                let their_points = &their_series[key];
                let equal = our_points.len() == their_points.len()
                    && our_points.iter().zip(their_points).all(|(a, b)| a.0 == b.0 && close(a.1, b.1));
                if !equal {
                    return Err(format!("{key}: {our_points:?}\n  vs Prometheus' {their_points:?}"));
                }
            }
            Ok(())
        }
        (Err(our_error), Err(their_error)) if our_error == their_error => Ok(()),
        _ => Err(format!("{ours:?}\n  vs Prometheus' {theirs:?}")),
    }
}

#[test]
fn promql_answers_match_prometheus() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = openmetrics();
    let file = dir.path().join("data.om.txt");
    std::fs::write(&file, &text).expect("write the OpenMetrics file");
    let prometheus = start_prometheus(dir.path(), &file);
    let db = Tsdb::open(&dir.path().join("ours"), Options::default()).expect("open our store");
    let report = import_openmetrics(&db, &text).expect("import");
    assert_eq!(report.out_of_order + report.duplicates, 0);
    let options = QueryOptions::default();
    let at = (BASE + 1807) * 1000;
    let (start, end) = ((BASE + 600) * 1000, (BASE + 3000) * 1000);
    let mut mismatches = Vec::new();
    let mut check = |label: String, ours: Json, path: String| {
        let (_, body) = http_get(prometheus.port, &path).expect("prometheus answers");
        let theirs: Json = serde_json::from_str(&body).expect("prometheus answers JSON");
        if let Err(difference) = same(&ours, &theirs) {
            mismatches.push(format!("{label}: {difference}"));
        }
    };
    let to_json = |res: Result<ferry_promql::QueryValue, ferry_promql::QueryError>| match res {
        Ok(value) => value.to_json(),
        Err(error) => error.to_json(),
    };
    let pairs: Vec<(&str, &str)> =
        QUERIES.iter().chain(ERRORS).map(|q| (*q, *q)).chain(RENAMED.iter().copied()).collect();
    let instant_path = |query: &str| format!("/api/v1/query?query={}&time={}", encode(query), at / 1000);
    for (ours, theirs) in pairs.iter().copied().chain(INSTANT_ONLY.iter().map(|q| (*q, *q))) {
        let value = to_json(instant_query(&db, ours, at, &options));
        check(format!("instant {ours}"), value, instant_path(theirs));
    }
    for (ours, theirs) in pairs.iter().copied() {
        for step in [60, 37] {
            let value = to_json(range_query(&db, ours, start, end, step * 1000, &options));
            let path = format!(
                "/api/v1/query_range?query={}&start={}&end={}&step={step}",
                encode(theirs),
                start / 1000,
                end / 1000
            );
            check(format!("range (step {step}s) {ours}"), value, path);
        }
    }
    let n_answers = pairs.len() * 3 + INSTANT_ONLY.len();
    assert!(mismatches.is_empty(), "{} of {n_answers} answers differ:\n{}", mismatches.len(), mismatches.join("\n"));
    for query in DIFFERENCES {
        let (_, body) = http_get(prometheus.port, &instant_path(query)).expect("prometheus answers");
        let theirs: Json = serde_json::from_str(&body).expect("prometheus answers JSON");
        let ours = to_json(instant_query(&db, query, at, &options));
        assert!(same(&ours, &theirs).is_err(), "{query} is listed as a difference but both answer the same");
    }
}
