//! The DORA ledger and incidents on every backend: a window's slice of a unit's history
//! gives the keys worked out by hand over the whole history (see `docs/dora.md`).

use ferry_dora::{Outcome, Window};
use ferry_store::{
    BroughtCommit, DeploymentStatus, NewDeployment, NewIncident, NewLedgerDeployment, NewProject, Store, StoreError,
    UnitRef,
};
use ferry_testkit::TestDb;

const SEC: i64 = 1000;
const HOUR: i64 = 3600 * SEC;
const DAY: i64 = 24 * HOUR;
/// 2024-10-04T00:00:00Z in milliseconds.
const T0: i64 = 20_000 * DAY;

fn brought(commits: &[(&str, i64)]) -> Vec<BroughtCommit> {
    commits.iter().map(|&(sha, committed_at)| BroughtCommit { sha: sha.to_owned(), committed_at }).collect()
}

pub(crate) async fn ledger_and_incidents(store: Store, _db: &TestDb) {
    let project = store
        .projects()
        .create(&NewProject { name: "shop", repo: "/srv/shop.git", branch: "main", webhook_secret: "s" }, 1)
        .await
        .expect("project");
    let production = UnitRef { project_id: project.id, service: "web", environment: "production" };
    let staging = UnitRef { environment: "staging", ..production };
    let ferry_deployment = store
        .deployments()
        .create(
            &NewDeployment {
                project_id: project.id,
                service: "web",
                environment: "production",
                release: Some(2),
                strategy: "rolling",
                status: DeploymentStatus::Failed,
                reason: None,
                triggered_by: "alice",
                rollback_of: None,
                is_rollback: false,
                agent_id: None,
                hosts: &[],
                author: "bob",
                commits: "[]",
                gates: "[]",
                target: "{}",
                job_id: None,
                run_id: None,
                commit_sha: None,
                url: None,
            },
            T0 + 2 * DAY,
        )
        .await
        .expect("deployment");
    let ledger = |unit, deployment_id, source, sha, outcome, started_at, finished_at| NewLedgerDeployment {
        unit,
        deployment_id,
        source,
        commit_sha: sha,
        outcome,
        started_at,
        finished_at,
    };
    let record = |new: NewLedgerDeployment<'static>, commits: Vec<BroughtCommit>| {
        let store = store.clone();
        async move { store.dora().record_deployment(&new, &commits).await.expect("record") }
    };
    // Before the window: L0 brings a.
    let production_static = UnitRef { project_id: project.id, service: "web", environment: "production" };
    let staging_static = UnitRef { environment: "staging", ..production_static };
    record(
        ledger(production_static, None, "import", "s0", Outcome::Succeeded, None, T0 - DAY),
        brought(&[("a", T0 - 2 * DAY)]),
    )
    .await;
    // L1 (imported) brings a again and b; L2 (Ferry's) fails bringing c; L3 rolls back.
    let l1 = record(
        ledger(production_static, None, "import", "s1", Outcome::Succeeded, None, T0 + DAY),
        brought(&[("a", T0 - 2 * DAY), ("b", T0 + DAY - HOUR)]),
    )
    .await
    .expect("a new row");
    assert_eq!(store.dora().previous_commit(production, T0 + DAY).await.expect("previous").as_deref(), Some("s0"));
    let l2 = ledger(
        production_static,
        Some(ferry_deployment.id),
        "ferry",
        "s2",
        Outcome::Failed,
        Some(T0 + 2 * DAY - 600 * SEC),
        T0 + 2 * DAY,
    );
    assert!(record(l2, brought(&[("c", T0 + DAY)])).await.is_some());
    assert_eq!(record(l2, vec![]).await, None, "a Ferry deployment is recorded once");
    record(
        ledger(
            production_static,
            None,
            "ferry",
            "s1",
            Outcome::Succeeded,
            Some(T0 + 2 * DAY + HOUR - 600 * SEC),
            T0 + 2 * DAY + HOUR,
        ),
        vec![],
    )
    .await;
    // Another unit's success does not count here.
    record(ledger(staging_static, None, "api", "s9", Outcome::Succeeded, None, T0 + DAY), brought(&[("z", T0)])).await;
    assert_eq!(
        store.dora().units(project.id).await.expect("units"),
        [("web".to_owned(), "production".to_owned()), ("web".to_owned(), "staging".to_owned())]
    );
    // A second service, in another unit: the project's services, each once, in order.
    let api_static = UnitRef { service: "api", ..production_static };
    record(ledger(api_static, None, "api", "s8", Outcome::Succeeded, None, T0 - 10 * DAY), vec![]).await;
    assert_eq!(store.dora().services(project.id).await.expect("services"), ["api", "web"]);

    let new_incident = |title, started_at, caused_by_deployment, caused_by_commit| NewIncident {
        unit: production,
        title,
        started_at,
        resolved_at: None,
        caused_by_deployment,
        caused_by_commit,
        opened_by: "auto",
    };
    let auto = store
        .dora()
        .open_incident(&new_incident("deployment failed", T0 + 2 * DAY, Some(ferry_deployment.id), None))
        .await
        .expect("incident");
    assert_eq!(store.dora().resolve_auto_incidents(staging, T0 + 3 * DAY).await.expect("other unit"), 0);
    assert_eq!(store.dora().resolve_auto_incidents(production, T0 + 3 * DAY).await.expect("resolve"), 1);
    let by_commit = store
        .dora()
        .open_incident(&NewIncident {
            opened_by: "alice",
            ..new_incident("checkout broken", T0 + 5 * DAY, None, Some("b"))
        })
        .await
        .expect("incident");
    let resolved = store.dora().resolve_incident(by_commit.id, T0 + 5 * DAY + 1800 * SEC).await.expect("resolve");
    assert_eq!(resolved.resolved_at, Some(T0 + 5 * DAY + 1800 * SEC));
    let again = store.dora().resolve_incident(by_commit.id, T0 + 9 * DAY).await.expect("resolve again");
    assert_eq!(again.resolved_at, resolved.resolved_at, "a resolved incident keeps its time");
    assert!(matches!(store.dora().incident(9999).await, Err(StoreError::NotFound { .. })));
    let listed = store.dora().incidents(project.id, 10).await.expect("list");
    assert_eq!(listed.iter().map(|incident| incident.id).collect::<Vec<_>>(), [by_commit.id, auto.id]);
    assert_eq!(listed[1].resolved_at, Some(T0 + 3 * DAY));

    let slice = store.dora().history(production, T0, T0 + 30 * DAY).await.expect("history");
    assert_eq!(slice.ledger.len(), 3, "the window's rows");
    assert!(slice.ledger.contains_key(&l1));
    let report = ferry_dora::report(&slice.history, Window { from: T0 / SEC, to: (T0 + 30 * DAY) / SEC });
    // Successes in the window: L1, L3. Lead time: b only (a was first brought by L0): 1 h.
    assert_eq!(report.deployment_frequency.deployments, 2);
    assert_eq!((report.lead_time.commits, report.lead_time.median_seconds), (1, Some(3600)));
    // L1 (incident by commit b) and L2 (failed, and its incident) of 3.
    assert_eq!((report.change_failure_rate.failed, report.change_failure_rate.total), (2, 3));
    // L2: failed at +2d, L3 succeeded 1 h later; L1: incident +5d, resolved 30 min later.
    assert_eq!(report.recovery_time.failures, 2);
    assert_eq!(report.recovery_time.median_seconds, Some(1800));
    assert_eq!(report.recovery_time.p90_seconds, Some(3600));
    // L3 started while the auto incident was open.
    assert_eq!((report.rework_rate.rework, report.rework_rate.total), (1, 3));
}
