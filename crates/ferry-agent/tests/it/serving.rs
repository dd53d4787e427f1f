//! The whole agent in this process, without a server: it serves the desired state its
//! directory holds, seals the secrets there, and refuses a second agent on the directory.

use std::time::{Duration, Instant};

use ferry_agent::AgentError;
use ferry_agent::agent::{AgentOptions, run_agent};
use ferry_agent::dir::AgentDir;
use ferry_proto::agent::AgentHello;

use crate::harness::*;

fn options(dir: &std::path::Path, metrics: Option<std::net::SocketAddr>) -> AgentOptions {
    AgentOptions {
        dir: AgentDir::open(dir).expect("open"),
        token: "ferrya_test_token".into(),
        client: None,
        hello: AgentHello { labels: None, hostname: "test".into(), version: "0".into(), docker: false },
        metrics_listen: metrics,
        bind: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_serves_its_kept_desired_state_seals_its_secrets_and_is_alone_on_its_directory() {
    let temp = tempfile::tempdir().expect("tempdir");
    let _reaper = Reaper(temp.path().to_owned());
    let port = free_port();
    let state = desired(5, vec![unit(port, 1, Some(release(temp.path(), 1, SERVE)))]);
    std::fs::write(temp.path().join("desired.json"), serde_json::to_vec(&state).expect("to_vec")).expect("write");
    let metrics = free_port();
    let metrics_addr = std::net::SocketAddr::from(([127, 0, 0, 1], metrics));

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(run_agent(options(temp.path(), Some(metrics_addr)), async {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, body)) = get(port, "/").await {
            assert!(body.starts_with("release 1 says hello"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "the agent did not serve its kept desired state within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let kept = std::fs::read_to_string(temp.path().join("desired.json")).expect("read_to_string");
    assert!(!kept.contains(SECRET), "the secret is sealed on disk: {kept}");
    assert!(kept.contains("sealed1:"), "{kept}");

    let (status, text) = get(metrics, "/metrics").await.expect("an answer");
    assert_eq!(status, 200);
    assert!(text.contains("ferry_proxy_requests_total{"), "{text}");
    assert!(text.contains("service=\"web\""), "{text}");

    let second = AgentDir::open(temp.path()).expect_err("it fails");
    assert!(matches!(second, AgentError::Locked { .. }), "{second}");

    stop.send(()).expect("send");
    agent.await.expect("the agent task ends").expect("the agent stops cleanly");
    // Stopping the agent leaves its replica serving, with its state kept for the next one.
    let (status, _) = get(port, "/").await.map_or((0, String::new()), |answer| answer);
    assert_eq!(status, 0, "the proxy went with the agent");
    let kept: ferry_agent::dir::RuntimeState =
        serde_json::from_slice(&std::fs::read(temp.path().join("state.json")).expect("read")).expect("from_slice");
    let replica = &kept.replicas[0];
    let (status, body) = get(replica.port, "/").await.expect("an answer");
    assert_eq!((status, body.starts_with("release 1")), (200, true));

    // The next agent adopts it: same pid, and the proxy is back.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(run_agent(options(temp.path(), None), async {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, body)) = get(port, "/").await {
            assert!(body.ends_with(&format!("from {}\n", replica.pid)), "the adopted replica answers: {body}");
            break;
        }
        assert!(Instant::now() < deadline, "the restarted agent did not serve within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(()).expect("send");
    agent.await.expect("the agent task ends").expect("the agent stops cleanly");
}
