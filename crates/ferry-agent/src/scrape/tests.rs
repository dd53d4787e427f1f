//! Which replicas are scraped, with which labels, and how the push queue keeps its bound.

use ferry_proto::agent::{ReplicaStatus, UnitStatus};

use super::*;

fn key(project: &str) -> UnitKey {
    UnitKey { project: project.into(), service: "web".into(), environment: "staging".into() }
}

fn spec() -> MetricsSpec {
    MetricsSpec { path: "/metrics".into(), interval_ms: 1_000, timeout_ms: 500 }
}

fn replica(id: &str, port: u16, state: ReplicaState) -> ReplicaStatus {
    ReplicaStatus { id: id.into(), release: 7, state, port, pid: None, restarts: 0, message: None }
}

#[test]
fn replicas_of_units_with_metrics_are_scraped_unless_starting_or_draining() {
    let statuses = vec![
        UnitStatus {
            key: key("shop"),
            release: Some(7),
            replicas: vec![
                replica("a", 9001, ReplicaState::Healthy),
                replica("b", 9002, ReplicaState::Starting),
                replica("c", 9003, ReplicaState::Unhealthy),
                replica("d", 9004, ReplicaState::Draining),
                replica("e", 9005, ReplicaState::Exited),
            ],
            traffic: Vec::new(),
            deployment: None,
        },
        UnitStatus {
            key: key("blog"),
            release: Some(1),
            replicas: vec![replica("z", 9100, ReplicaState::Healthy)],
            traffic: Vec::new(),
            deployment: None,
        },
    ];
    let specs = BTreeMap::from([(key("shop"), spec())]);
    let scraped: Vec<(String, u16)> =
        targets(&specs, &statuses).into_iter().map(|target| (target.replica, target.port)).collect();
    assert_eq!(scraped, [("a".to_owned(), 9001), ("c".to_owned(), 9003), ("e".to_owned(), 9005)]);
    let target = &targets(&specs, &statuses)[0];
    assert_eq!(
        target.labels("edge-1").to_string(),
        "{environment=\"staging\", instance=\"edge-1:9001\", job=\"web\", project=\"shop\", release=\"7\", service=\"web\"}"
    );
}

#[test]
fn the_outbox_counts_what_it_queued_and_dropped_on_the_agents_metrics() {
    let outbox = Outbox::default();
    outbox.put((0..MAX_QUEUED + 5).map(|n| (Labels::new([("__name__", format!("s{n}"))]), 0, 1.0)).collect());
    let text = outbox.render();
    assert!(text.contains("ferry_agent_metrics_dropped_samples_total 5\n"), "{text}");
    assert!(text.contains(&format!("ferry_agent_metrics_queued_samples {MAX_QUEUED}\n")), "{text}");
    ferry_promql::exposition::parse(&text, Format::Text).expect("the agent's metrics parse");
}
