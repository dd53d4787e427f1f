//! `ferry slo` against a real server: a project whose deploy.yml declares an SLO, the last
//! hour of the proxy's counters imported with `ferry metrics import` (10 % of the requests
//! failing against a 99 % objective), the budget as JSON and as a table.

use serde_json::Value;

use crate::harness::Repo;
use crate::runner::{client_command, output_within, start_server, text};

const DEPLOY: &str = "\
environments: { production: { error-budget: hold } }
services:
  web:
    run: ./web
    deploy: { production: { port: 18104 } }
    slos:
      - { name: availability, objective: 99, window: 1h, sli: proxy-availability }
";

#[test]
fn ferry_slo_shows_a_spent_budget() {
    let scratch = tempfile::Builder::new().prefix("ferry-slo-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[(".ferry/deploy.yml", DEPLOY)]);
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| output_within(client_command(&url, &admin, args));
    let added = ferry(&["project", "add", "shop", "--repo", &repo.path().display().to_string()]);
    assert!(added.status.success(), "{}", text(&added));

    // The hour up to now: 90 good and 10 failed requests a minute.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let labels = r#"project="shop",service="web",environment="production",release="1""#;
    let mut history = String::from("# TYPE ferry_proxy_requests counter\n");
    for minute in 0..=60 {
        let at = now - (60 - minute) * 60;
        history.push_str(&format!("ferry_proxy_requests_total{{{labels},code_class=\"2xx\"}} {} {at}\n", 90 * minute));
        history.push_str(&format!("ferry_proxy_requests_total{{{labels},code_class=\"5xx\"}} {} {at}\n", 10 * minute));
    }
    history.push_str("# EOF\n");
    let file = scratch.path().join("proxy.om");
    std::fs::write(&file, &history).expect("write");
    let imported = ferry(&["metrics", "import", file.to_str().expect("UTF-8")]);
    assert!(imported.status.success(), "{}\n--- server\n{}", text(&imported), server.stderr());

    // 10 % errors against a budget of 1 %: 1 − 10 = −9 of the budget left, burnt 10× faster
    // than the window allows.
    let out = ferry(&["slo", "shop", "--env", "production", "--json"]);
    let slos: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    let slo = &slos[0];
    assert_eq!((slo["slo"].as_str(), slo["status"].as_str()), (Some("availability"), Some("exhausted")), "{slos:#}");
    let near = |value: &Value, expected: f64| value.as_f64().is_some_and(|value| (value - expected).abs() < 1e-6);
    assert!(near(&slo["error_ratio"], 0.1) && near(&slo["budget_remaining"], -9.0), "{slos:#}");
    assert!(near(&slo["burn_rate_1h"], 10.0), "{slos:#}");

    let table = ferry(&["slo", "shop"]);
    assert!(table.status.success(), "{}", text(&table));
    let shown = String::from_utf8_lossy(&table.stdout).into_owned();
    let row =
        shown.lines().find(|line| line.starts_with("web production availability")).unwrap_or_else(|| panic!("{shown}"));
    for word in ["99 %", "1h", "-900.00 %", "10.00 %", "10.0x", "exhausted"] {
        assert!(row.contains(word), "{word} in {row}");
    }
    let none = ferry(&["slo", "shop", "--service", "api", "--json"]);
    assert_eq!(String::from_utf8_lossy(&none.stdout).trim(), "[]", "{}", text(&none));
}
