//! The agent against the real server, started in this process on a loopback port: it
//! registers (with the admin token, the way `ferry agent` does), says hello, polls its desired
//! state and reports, and the server lists it as seen with the host it gave; a release made
//! by hand is auto-deployed to staging by the agent (files fetched by digest, replicas up,
//! the proxy serving) and the server records the deployment as succeeded.

use std::time::{Duration, Instant};

use ferry_agent::agent::{AgentOptions, run_agent};
use ferry_agent::dir::AgentDir;
use ferry_client::Client;
use ferry_proto::agent::{AgentHello, AgentRegistration};
use ferry_proto::deployments::DeploymentState;

use crate::harness::{Delivery, SERVER_PY, free_port, get};
use ferry_server::ServerConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_registers_says_hello_polls_and_reports_to_the_real_server() {
    let temp = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("parse"),
        poll_interval: Duration::ZERO,
        ..ServerConfig::new(temp.path().join("data"))
    };
    let server = ferry_server::bind(&config).await.expect("an answer");
    let url = format!("http://{}", server.local_addr());
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = server_stopped.await;
    }));
    let admin_token = std::fs::read_to_string(temp.path().join("data/admin.token")).expect("read_to_string");
    let admin = Client::new(&url, admin_token.trim()).expect("new");

    let registration = AgentRegistration { name: "edge-1".into(), labels: vec!["eu".into()] };
    let registered = admin.register_agent(&registration).await.expect("an answer");
    assert!(registered.token.starts_with("ferrya_"), "{}", registered.token);

    let options = AgentOptions {
        dir: AgentDir::open(&temp.path().join("agent")).expect("open"),
        token: registered.token.clone(),
        client: Some(Client::new(&url, &registered.token).expect("new")),
        hello: AgentHello {
            labels: Some(vec!["eu".into(), "web".into()]),
            hostname: "edge-host".into(),
            version: "0.1.0".into(),
            docker: false,
        },
        metrics_listen: None,
        bind: None,
    };
    let (stop_agent, agent_stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(run_agent(options, async {
        let _ = agent_stopped.await;
    }));

    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let agents = admin.list_agents().await.expect("an answer");
        let edge = agents.into_iter().find(|agent| agent.name == "edge-1").expect("find");
        if edge.last_seen_at.is_some() && edge.hostname.is_some() {
            break edge;
        }
        assert!(Instant::now() < deadline, "the server never saw the agent: {edge:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(seen.hostname.as_deref(), Some("edge-host"));
    assert_eq!(seen.labels, ["eu", "web"], "the hello's labels replace the registered ones");

    stop_agent.send(()).expect("send");
    agent.await.expect("the agent task ends").expect("the agent stops cleanly");
    let _ = stop_server.send(());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_made_by_hand_is_deployed_to_staging_by_the_agent_and_recorded_as_succeeded() {
    let port = free_port();
    let deploy = format!(
        "environments:\n  staging: {{ auto-deploy: true, verify: 1s }}\nservices:\n  web:\n    run: exec python3 server.py\n    \
         env: {{ GREETING: hi }}\n    health: {{ http: /healthz, interval: 100ms, healthy-after: 1 }}\n    \
         deploy:\n      staging: {{ port: {port}, strategy: rolling }}\n"
    );
    let delivery = Delivery::start(&deploy, "local", SERVER_PY).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        if let Some((200, body)) = get(port, "/").await {
            break body;
        }
        assert!(Instant::now() < deadline, "staging never served through the agent's proxy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(body.starts_with("release None says hi from "), "{body}");
    let deployment = loop {
        let listed =
            delivery.admin.list_deployments("web", Some("web"), Some("staging")).await.expect("list_deployments");
        if let Some(deployment) = listed.into_iter().find(|deployment| deployment.outcome.is_over()) {
            break deployment;
        }
        assert!(Instant::now() < deadline, "the server never recorded the deployment's outcome");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(deployment.outcome, DeploymentState::Succeeded, "{deployment:?}");
    assert_eq!(deployment.release, Some(1));
    assert!(delivery.temp.path().join("agent/releases/web/web/1/server.py").is_file());
    delivery.stop().await;
}
