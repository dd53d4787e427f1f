//! Incidents as alerts open them, on every backend: an alert's episode opens an incident,
//! moves its end, joins or reopens; the incident resolves at its alerts' last end; acks and
//! hand resolutions keep the first; actions wait for their owner's notification.

use ferry_store::{ActionKind, NewIncident, NewIncidentAlert, NewProject, Store, UnitRef};
use ferry_testkit::TestDb;

const MIN: i64 = 60_000;
const T0: i64 = 1_800_000_000_000;

fn alert(fingerprint: &str, starts_at: i64, ends_at: i64) -> NewIncidentAlert<'_> {
    NewIncidentAlert { fingerprint, starts_at, ends_at, labels: r#"{"alertname":"Errors"}"#, summary: "errors" }
}

pub(crate) async fn incidents_from_alerts(store: Store, _db: &TestDb) {
    let project = store
        .projects()
        .create(&NewProject { name: "shop", repo: "/srv/shop.git", branch: "main", webhook_secret: "s" }, 1)
        .await
        .expect("project");
    let unit = UnitRef { project_id: project.id, service: "web", environment: "production" };
    let incidents = store.incidents();
    assert_eq!(incidents.open_of_unit(unit).await.expect("open"), None);
    assert_eq!(incidents.update_alert("aa", T0, T0 + 3 * MIN).await.expect("update"), None, "no incident holds it");

    let new = NewIncident {
        unit,
        title: "Errors: errors",
        started_at: T0,
        resolved_at: None,
        caused_by_deployment: None,
        caused_by_commit: None,
        opened_by: ferry_store::ALERT_ACTOR,
    };
    let opened = incidents.open_with_alert(&new, Some("oncall"), &alert("aa", T0, T0 + 3 * MIN)).await.expect("open");
    assert_eq!(
        (opened.owner.as_deref(), opened.resolves_with_alerts, opened.resolved_at),
        (Some("oncall"), true, None)
    );
    assert_eq!(incidents.open_of_unit(unit).await.expect("open").map(|i| i.id), Some(opened.id));
    // The same episode sent again (a later evaluation, a restart) only moves its end.
    assert_eq!(incidents.update_alert("aa", T0, T0 + 4 * MIN).await.expect("update"), Some(opened.id));
    // A second alert joins.
    incidents.join(opened.id, &alert("bb", T0 + MIN, T0 + 5 * MIN), None, T0 + MIN).await.expect("join");
    assert!(incidents.resolve_ended(T0 + 4 * MIN).await.expect("sweep").is_empty(), "bb still fires");
    assert_eq!(incidents.resolve_ended(T0 + 5 * MIN).await.expect("sweep"), vec![opened.id]);
    let resolved = store.dora().incident(opened.id).await.expect("incident");
    assert_eq!((resolved.resolved_at, resolved.resolved_by), (Some(T0 + 5 * MIN), None), "at the last end");
    assert!(incidents.resolve_ended(T0 + 9 * MIN).await.expect("sweep").is_empty(), "once");
    // A new episode of `aa`, after the first ended, is none of this incident's.
    assert_eq!(incidents.update_alert("aa", T0 + 10 * MIN, T0 + 13 * MIN).await.expect("update"), None);

    // Joining a resolved incident reopens it; it then resolves with its alerts again.
    let reopened = incidents.join(opened.id, &alert("aa", T0 + 10 * MIN, T0 + 13 * MIN), None, T0 + 10 * MIN).await;
    assert_eq!(reopened.expect("join").resolved_at, None);
    let acked = incidents.ack(opened.id, "alice", T0 + 11 * MIN).await.expect("ack");
    assert_eq!((acked.acked_at, acked.acked_by.as_deref()), (Some(T0 + 11 * MIN), Some("alice")));
    let again = incidents.ack(opened.id, "bob", T0 + 12 * MIN).await.expect("ack again");
    assert_eq!(again.acked_by.as_deref(), Some("alice"), "the first ack stays");
    let by_hand = incidents.resolve(opened.id, "bob", T0 + 12 * MIN).await.expect("resolve");
    assert_eq!((by_hand.resolved_at, by_hand.resolved_by.as_deref()), (Some(T0 + 12 * MIN), Some("bob")));
    assert!(incidents.resolve_ended(T0 + 20 * MIN).await.expect("sweep").is_empty(), "resolved by hand already");
    assert!(matches!(incidents.ack(4242, "alice", T0).await, Err(ferry_store::StoreError::NotFound { .. })));

    let kinds: Vec<(ActionKind, String)> =
        incidents.actions(opened.id).await.expect("actions").into_iter().map(|a| (a.kind, a.actor)).collect();
    let expected = [
        (ActionKind::Opened, "alert"),
        (ActionKind::Resolved, "alert"),
        (ActionKind::Reopened, "alert"),
        (ActionKind::Acked, "alice"),
        (ActionKind::Resolved, "bob"),
    ];
    assert_eq!(kinds, expected.map(|(kind, actor)| (kind, actor.to_owned())));
    let alerts = incidents.alerts(opened.id).await.expect("alerts");
    let episodes: Vec<(&str, i64, i64)> =
        alerts.iter().map(|a| (a.fingerprint.as_str(), a.starts_at, a.ends_at)).collect();
    assert_eq!(
        episodes,
        [("aa", T0, T0 + 4 * MIN), ("bb", T0 + MIN, T0 + 5 * MIN), ("aa", T0 + 10 * MIN, T0 + 13 * MIN)]
    );

    // Every action waits for the owner until it is marked told; without an owner none waits.
    let unsent = incidents.unnotified(100).await.expect("unnotified");
    assert_eq!(unsent.len(), 5);
    incidents.notified(unsent[0].id, T0).await.expect("notified");
    assert_eq!(incidents.unnotified(100).await.expect("unnotified").len(), 4);
    let ownerless = incidents
        .open_with_alert(
            &NewIncident { started_at: T0 + 30 * MIN, ..new },
            None,
            &alert("cc", T0 + 30 * MIN, T0 + 33 * MIN),
        )
        .await
        .expect("open");
    assert_eq!(incidents.unnotified(100).await.expect("unnotified").len(), 4);
    let open_only: Vec<i64> = incidents.list(project.id, true, 10).await.expect("list").iter().map(|i| i.id).collect();
    assert_eq!(open_only, vec![ownerless.id]);
    assert_eq!(incidents.list(project.id, false, 10).await.expect("list").len(), 2);
}
