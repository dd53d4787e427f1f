//! What the agent scrapes reaches the real server: a service with `metrics:` deployed by the
//! agent is scraped on its replicas, and `GET /prometheus/api/v1/query` on the server answers
//! its series with the labels of what Ferry deployed; a replica whose metrics fail gives `up`
//! 0 and its series end with stale markers; the agent's own proxy counts arrive too; and an
//! agent cannot write the series of a project it runs nothing of.

use std::time::{Duration, Instant};

use ferry_promql::Labels;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::harness::{Delivery, free_port, get};

/// A service that serves `/` and, unless a file `broken` is in its folder, `/metrics` with
/// one counter (500 once it is there).
const METRICS_PY: &str = r##"
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200
        if self.path == "/metrics":
            if os.path.exists("broken"):
                code, body = 500, b"broken\n"
            else:
                body = b"# TYPE shop_orders_total counter\nshop_orders_total{kind=\"book\"} 42\n"
        else:
            body = b"hello\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, format, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"##;

/// `GET path` on the server with `token`: the JSON answer.
async fn get_json(url: &str, token: &str, path: &str) -> Value {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("the server answers");
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|error| panic!("GET {path}: {error}: {answer}"))
}

/// The instant vector `query` gives now, each series' labels as `name=value` pairs with its
/// value.
async fn query(url: &str, token: &str, query: &str) -> Vec<(Vec<String>, String)> {
    let encoded: String = query.bytes().map(|byte| format!("%{byte:02X}")).collect();
    let answer = get_json(url, token, &format!("/prometheus/api/v1/query?query={encoded}")).await;
    let Some(result) = answer["data"]["result"].as_array() else { panic!("{query}: {answer}") };
    result
        .iter()
        .map(|series| {
            let labels = series["metric"]
                .as_object()
                .map(|labels| {
                    labels
                        .iter()
                        .map(|(name, value)| format!("{name}={}", value.as_str().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            (labels, series["value"][1].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// Waits up to a minute for `query` to answer what `done` accepts; returns it.
async fn wait_for(
    url: &str,
    token: &str,
    text: &str,
    done: impl Fn(&[(Vec<String>, String)]) -> bool,
) -> Vec<(Vec<String>, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = query(url, token, text).await;
        if done(&answer) {
            return answer;
        }
        if Instant::now() >= deadline {
            let stored = Box::pin(query(url, token, "{__name__=~\"ferry_agent.*|up\"}")).await;
            panic!("{text} never gave what was expected; last: {answer:?}; stored: {stored:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_metrics_are_scraped_by_the_agent_and_queried_on_the_server() {
    let port = free_port();
    let deploy = format!(
        "environments:\n  staging: {{ auto-deploy: true, verify: 1s, hosts: [edge-1] }}\nservices:\n  web:\n    run: exec python3 server.py\n    \
         health: {{ tcp: true, interval: 100ms }}\n    metrics: {{ path: /metrics, interval: 1s }}\n    \
         deploy:\n      staging: {{ port: {port} }}\n"
    );
    let delivery = Delivery::start(&deploy, "edge-1", METRICS_PY).await;
    let (url, admin_token) = (delivery.url.as_str(), delivery.admin_token.as_str());

    let deadline = Instant::now() + Duration::from_secs(60);
    while get(port, "/").await.is_none_or(|(status, _)| status != 200) {
        let desired = delivery.agent_client.desired_state(0, 0).await;
        assert!(Instant::now() < deadline, "the proxy never served the replica: {desired:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The replica's series, with the labels of what Ferry deployed.
    let orders = wait_for(url, admin_token, "shop_orders_total", |answer| !answer.is_empty()).await;
    let (labels, value) = &orders[0];
    assert!(
        labels
            .iter()
            .any(|label| label.strip_prefix("instance=edge-1:").is_some_and(|port| port.parse::<u16>().is_ok())),
        "instance is the agent's name and the replica's port: {labels:?}"
    );
    assert_eq!(
        labels.iter().filter(|label| !label.starts_with("instance=")).cloned().collect::<Vec<_>>(),
        [
            "__name__=shop_orders_total",
            "environment=staging",
            "job=web",
            "kind=book",
            "project=web",
            "release=1",
            "service=web",
        ],
    );
    assert_eq!(value, "42");
    let up = query(url, admin_token, "up{job=\"web\"}").await;
    assert_eq!(up.iter().map(|(_, value)| value.as_str()).collect::<Vec<_>>(), ["1"], "{up:?}");

    // The agent's own metrics come too: its proxy's counts for the request it served.
    let proxied = wait_for(url, admin_token, "ferry_proxy_requests_total{code_class=\"2xx\"}", |answer| {
        answer.iter().any(|(_, value)| value != "0")
    })
    .await;
    assert!(
        proxied[0].0.iter().any(|label| label == "job=ferry-agent") && proxied[0].0.contains(&"instance=edge-1".into()),
        "{proxied:?}"
    );

    // The replica's metrics fail: `up` goes to 0 and its series end at once (a stale marker),
    // not five minutes later.
    std::fs::write(delivery.temp.path().join("agent/releases/web/web/1/broken"), "").expect("write");
    wait_for(url, admin_token, "up{job=\"web\"}", |answer| answer.iter().any(|(_, value)| value == "0")).await;
    assert_eq!(query(url, admin_token, "shop_orders_total").await, Vec::new(), "stale at once");

    // An agent writes only the series of the projects it runs.
    let series = |project: &str, value: f64| {
        let labels = Labels::new([("__name__", "pushed_by_agent".to_owned()), ("project", project.to_owned())]);
        (labels, ferry_agent::now_ms(), value)
    };
    let body = ferry_promql::remote_write::encode(&[series("web", 1.0), series("bank", 2.0)]);
    delivery.agent_client.agent_metrics(body).await.expect("the server takes the body");
    let pushed = query(url, admin_token, "pushed_by_agent").await;
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert!(pushed[0].0.contains(&"project=web".to_owned()), "{pushed:?}");

    delivery.stop().await;
}
