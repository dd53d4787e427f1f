//! The Prometheus text of the proxies' counts.

use ferry_proto::agent::UnitKey;
use ferry_proxy::render_metrics;

use crate::support::{TestBackend, get, http1_client, proxy_to};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_counts_per_release_and_class_and_a_latency_histogram() {
    let old = TestBackend::start("old", 6).await;
    let new = TestBackend::start("new", 7).await;
    let proxy = proxy_to(&[&old, &new], &[(6, 50), (7, 50)]).await;
    let client = http1_client();
    for path in ["/", "/", "/status/500", "/status/404"] {
        get(&client, &proxy, path).await;
    }
    let empty = proxy_to(&[], &[]).await;
    get(&client, &empty, "/").await;

    let web = UnitKey { project: "shop".into(), service: "web".into(), environment: "production".into() };
    let odd = UnitKey { project: "a\"b".into(), service: "c\\d".into(), environment: "e\nf".into() };
    let text = render_metrics(&[(&web, &proxy), (&odd, &empty)]);

    let unit = r#"project="shop",service="web",environment="production""#;
    for line in [
        format!(r#"ferry_proxy_requests_total{{{unit},release="6",code_class="2xx"}} 1"#),
        format!(r#"ferry_proxy_requests_total{{{unit},release="6",code_class="5xx"}} 1"#),
        format!(r#"ferry_proxy_requests_total{{{unit},release="7",code_class="2xx"}} 1"#),
        format!(r#"ferry_proxy_requests_total{{{unit},release="7",code_class="4xx"}} 1"#),
        format!(r#"ferry_proxy_request_duration_seconds_bucket{{{unit},release="6",le="+Inf"}} 2"#),
        format!(r#"ferry_proxy_request_duration_seconds_count{{{unit},release="7"}} 2"#),
        format!(r#"ferry_proxy_unrouted_requests_total{{{unit}}} 0"#),
        r#"ferry_proxy_unrouted_requests_total{project="a\"b",service="c\\d",environment="e\nf"} 1"#.to_owned(),
        "# TYPE ferry_proxy_request_duration_seconds histogram".to_owned(),
    ] {
        assert!(text.lines().any(|got| got == line), "no line {line} in\n{text}");
    }
    let bounds: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(r#"release="6",le=""#))
        .filter_map(|line| line.split("le=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(
        bounds,
        [
            "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
            "30", "60", "+Inf"
        ]
    );
}
