//! Deployments on a real server state (SQLite in a temporary directory), with the agent's
//! side played by calling what its protocol routes call: gates, approvals, queueing, the
//! newest waiting winning, outcomes, promotion through `after:`, rollbacks, a restart.

use std::collections::BTreeMap;

use ferry_proto::agent::{
    AgentReport, DeploymentOutcome, DeploymentProgress, DeploymentStep, HealthSpec, Probe, ProcessSpec, ReleaseSpec,
    StrategySpec, Unit, UnitKey, UnitStatus,
};
use ferry_store::{DeploymentStatus, NewProject, Project};

use super::gates::EnvironmentRules;
use super::target::{Resolved, Target};
use super::{Trigger, apply_report, approve, desired_state, rollback_release, submit, view};
use crate::{AppState, ServerConfig};

/// A server's state on its own data directory (kept while the test runs).
async fn state_in(dir: &std::path::Path) -> AppState {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("an address"),
        poll_interval: std::time::Duration::ZERO,
        ..ServerConfig::new(dir.join("data"))
    };
    crate::bind(&config).await.expect("the server binds").state
}

async fn setup() -> (tempfile::TempDir, AppState, Project) {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = state_in(dir.path()).await;
    crate::api::agents::register_local(&state, "local", None).await.expect("the local agent");
    let new = NewProject { name: "shop", repo: "/srv/shop.git", branch: "main", webhook_secret: "s" };
    let project = state.store.projects().create(&new, 1).await.expect("a project");
    (dir, state, project)
}

fn resolved(environment: &str, release: i64, rules: EnvironmentRules, promotes_to: &[&str]) -> Resolved {
    let release_spec = ReleaseSpec {
        number: release,
        files: Vec::new(),
        process: ProcessSpec::Run { command: "python3 server.py".into() },
        env: BTreeMap::new(),
        secret_keys: Vec::new(),
    };
    let unit = Unit {
        key: UnitKey { project: "shop".into(), service: "web".into(), environment: environment.into() },
        port: 8001,
        bind: "127.0.0.1".into(),
        replicas: 2,
        health: HealthSpec {
            probe: Probe::Http { path: "/healthz".into() },
            interval_ms: 1000,
            timeout_ms: 2000,
            healthy_after: 2,
            unhealthy_after: 3,
            start_timeout_ms: 60_000,
        },
        drain_timeout_ms: 5000,
        response_timeout_ms: 60_000,
        trusted_proxies: Vec::new(),
        tls: Vec::new(),
        stop_grace_ms: 5000,
        release: Some(release_spec),
        deployment: None,
        metrics: None,
    };
    Resolved {
        service: "web".into(),
        environment: environment.into(),
        release,
        commit_sha: format!("abc1234{release}"),
        run_id: None,
        author: "alice".into(),
        branch: Some("main".into()),
        commits: vec![format!("abc1234 release {release}")],
        target: Target {
            unit,
            strategy: StrategySpec::Rolling { max_surge: 1, max_unavailable: 0 },
            analysis: None,
            verify_ms: 0,
            rules,
            promotes_to: promotes_to.iter().map(|name| (*name).to_owned()).collect(),
            slos: Vec::new(),
        },
    }
}

fn by(name: &str) -> Trigger {
    Trigger { by: name.into(), rollback_of: None, is_rollback: false }
}

/// The local agent reports that deployment `id` of `environment` ended with `outcome`.
async fn report_outcome(state: &AppState, id: i64, environment: &str, outcome: DeploymentOutcome, reason: &str) {
    let agent = state.store.agents().by_name("local").await.expect("agents").expect("local");
    let report = AgentReport {
        generation: agent.generation,
        units: vec![UnitStatus {
            key: UnitKey { project: "shop".into(), service: "web".into(), environment: environment.into() },
            release: None,
            replicas: Vec::new(),
            traffic: Vec::new(),
            deployment: Some(DeploymentProgress {
                id,
                steps: vec![DeploymentStep { name: "start 1 replica".into(), at: 5 }],
                outcome: Some(outcome),
                reason: Some(reason.into()),
                analysis: None,
            }),
        }],
        events: Vec::new(),
    };
    apply_report(state, &agent, &report).await.expect("the report is applied");
}

async fn status_of(state: &AppState, id: i64) -> (DeploymentStatus, Option<String>) {
    let deployment = state.store.deployments().get(id).await.expect("the deployment");
    (deployment.status, deployment.reason)
}

#[tokio::test]
async fn a_deployment_starts_on_its_agent_and_its_outcome_is_recorded() {
    let (_dir, state, project) = setup().await;
    let deployment = submit(&state, &project, &resolved("staging", 1, EnvironmentRules::default(), &[]), &by("ada"))
        .await
        .expect("submitted");
    assert_eq!(deployment.status, DeploymentStatus::InProgress);
    let agent = state.store.agents().by_name("local").await.expect("agents").expect("local");
    let desired = desired_state(&state, &agent).await.expect("desired");
    assert_eq!(desired.generation, 1);
    let unit = &desired.units[0];
    assert_eq!((unit.release.as_ref(), unit.deployment.as_ref().map(|order| order.release.number)), (None, Some(1)));

    report_outcome(&state, deployment.id, "staging", DeploymentOutcome::Succeeded, "2 replicas healthy").await;
    assert_eq!(
        status_of(&state, deployment.id).await,
        (DeploymentStatus::Succeeded, Some("2 replicas healthy".into()))
    );
    let agent = state.store.agents().get(agent.id).await.expect("agent");
    let desired = desired_state(&state, &agent).await.expect("desired");
    assert_eq!(desired.generation, 2, "clearing the order is a change");
    let unit = &desired.units[0];
    assert_eq!((unit.release.as_ref().map(|release| release.number), unit.deployment.as_ref()), (Some(1), None));
    let shown =
        view(&state, "shop", state.store.deployments().get(deployment.id).await.expect("get")).await.expect("view");
    assert_eq!(shown.steps.len(), 1);
    assert_eq!(shown.agent.as_deref(), Some("local"));
}

#[tokio::test]
async fn a_second_deployment_queues_and_the_newest_waiting_wins() {
    let (_dir, state, project) = setup().await;
    let rules = EnvironmentRules::default();
    let first = submit(&state, &project, &resolved("staging", 1, rules.clone(), &[]), &by("ada")).await.expect("1");
    let second = submit(&state, &project, &resolved("staging", 2, rules.clone(), &[]), &by("ada")).await.expect("2");
    let third = submit(&state, &project, &resolved("staging", 3, rules, &[]), &by("ada")).await.expect("3");
    assert_eq!(second.status, DeploymentStatus::Queued);
    let superseded = format!("superseded by deployment {} (the newest waiting wins)", third.id);
    assert_eq!(status_of(&state, second.id).await, (DeploymentStatus::Cancelled, Some(superseded)));
    assert_eq!(third.status, DeploymentStatus::Queued);
    report_outcome(&state, first.id, "staging", DeploymentOutcome::RolledBack, "health check failed").await;
    assert_eq!(status_of(&state, first.id).await.0, DeploymentStatus::RolledBack);
    assert_eq!(status_of(&state, third.id).await.0, DeploymentStatus::InProgress, "the queued one starts next");
}

#[tokio::test]
async fn approvals_hold_a_deployment_and_the_author_cannot_approve() {
    let (_dir, state, project) = setup().await;
    let rules = EnvironmentRules { approvals: 1, ..EnvironmentRules::default() };
    let deployment =
        submit(&state, &project, &resolved("production", 1, rules, &[]), &by("ada")).await.expect("submit");
    assert_eq!(deployment.status, DeploymentStatus::Waiting);
    assert!(deployment.reason.as_deref().is_some_and(|reason| reason.contains("1 more approval(s)")), "{deployment:?}");
    let refused = approve(&state, deployment.id, "alice", None).await.expect_err("the author may not approve");
    assert_eq!(refused.status(), axum::http::StatusCode::FORBIDDEN);
    let approved = approve(&state, deployment.id, "bob", Some("looks good")).await.expect("approved");
    assert_eq!(approved.status, DeploymentStatus::InProgress);
    let shown = view(&state, "shop", approved).await.expect("view");
    assert_eq!(shown.approvals[0].by, "bob");
    assert_eq!((shown.gates[0].passed, shown.gates[0].passed_by.clone()), (true, vec!["bob".to_owned()]));
    let again = approve(&state, deployment.id, "carol", None).await.expect_err("nothing waits any more");
    assert_eq!(again.status(), axum::http::StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_release_of_another_branch_is_refused_with_the_rule() {
    let (_dir, state, project) = setup().await;
    let rules = EnvironmentRules { branches: vec!["release".into()], ..EnvironmentRules::default() };
    let deployment =
        submit(&state, &project, &resolved("production", 4, rules, &[]), &by("ada")).await.expect("submit");
    assert_eq!(deployment.status, DeploymentStatus::Failed);
    assert_eq!(
        deployment.reason.as_deref(),
        Some("refused: production takes only commits of release (branches:), and release 4 was made from branch main")
    );
}

#[tokio::test]
async fn success_in_staging_lets_the_deployment_waiting_after_it_go() {
    let (_dir, state, project) = setup().await;
    let production = EnvironmentRules { after: vec!["staging".into()], ..EnvironmentRules::default() };
    let waiting =
        submit(&state, &project, &resolved("production", 1, production, &[]), &by("ada")).await.expect("prod");
    assert_eq!(waiting.status, DeploymentStatus::Waiting);
    let staging =
        submit(&state, &project, &resolved("staging", 1, EnvironmentRules::default(), &["production"]), &by("ada"))
            .await
            .expect("staging");
    report_outcome(&state, staging.id, "staging", DeploymentOutcome::Succeeded, "healthy").await;
    assert_eq!(status_of(&state, waiting.id).await.0, DeploymentStatus::InProgress);
}

#[tokio::test]
async fn a_rollback_goes_to_the_release_that_succeeded_before() {
    let (_dir, state, project) = setup().await;
    for release in [1, 2] {
        let deployment =
            submit(&state, &project, &resolved("staging", release, EnvironmentRules::default(), &[]), &by("ada"))
                .await
                .expect("submit");
        report_outcome(&state, deployment.id, "staging", DeploymentOutcome::Succeeded, "healthy").await;
    }
    let (release, rollback_of) = rollback_release(&state, &project, "web", "staging", None).await.expect("a target");
    assert_eq!(release, 1);
    let trigger = Trigger { by: "rollback by ada".into(), rollback_of, is_rollback: true };
    let rules = EnvironmentRules { approvals: 2, ..EnvironmentRules::default() };
    let rollback = submit(&state, &project, &resolved("staging", 1, rules, &[]), &trigger).await.expect("rollback");
    assert_eq!(rollback.status, DeploymentStatus::InProgress, "a release that served here skips the gates");
    assert!(rollback.is_rollback);
    let agent = state.store.agents().by_name("local").await.expect("agents").expect("local");
    let desired = desired_state(&state, &agent).await.expect("desired");
    let order = desired.units[0].deployment.as_ref().expect("an order");
    assert!(order.is_rollback);
    assert_eq!(desired.units[0].release.as_ref().map(|release| release.number), Some(2));
}

#[tokio::test]
async fn a_restarted_server_records_the_outcome_from_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = {
        let state = state_in(dir.path()).await;
        crate::api::agents::register_local(&state, "local", None).await.expect("the local agent");
        let new = NewProject { name: "shop", repo: "/srv/shop.git", branch: "main", webhook_secret: "s" };
        let project = state.store.projects().create(&new, 1).await.expect("a project");
        let deployment =
            submit(&state, &project, &resolved("staging", 1, EnvironmentRules::default(), &[]), &by("ada"))
                .await
                .expect("submit");
        state.store.close().await;
        deployment.id
    };
    let state = state_in(dir.path()).await;
    let shown = view(&state, "shop", state.store.deployments().get(id).await.expect("get")).await.expect("view");
    assert!(
        shown.reason.as_deref().is_some_and(|reason| reason.starts_with("waiting for agent local (never seen)")),
        "{shown:?}"
    );
    report_outcome(&state, id, "staging", DeploymentOutcome::Succeeded, "healthy").await;
    assert_eq!(status_of(&state, id).await.0, DeploymentStatus::Succeeded);
}
