//! Incidents from alerts (issue 17). Every alert alert routing takes in (from the rules
//! evaluator and from `POST /alertmanager/api/v2/alerts`) passes through [`observe`]: one of
//! `severity="page"` whose labels name a unit (`project` — implied for a project's
//! `.ferry/alerts/` rules —, `service`, `environment`, default `production`) opens an incident
//! of that unit, attributed to the deployment whose rollout window holds the alert's start
//! (`ferry_dora::attributed_deployment`), or joins the unit's open incident, or the incident
//! of that same deployment (a rollback opens one; a resolved one is reopened). An episode of
//! an alert an incident holds already only moves its end, so a restarted server that sends
//! the same alert again opens nothing new.
//!
//! An incident an alert opened resolves by itself once all its alerts have (at the last
//! end), which [`spawn`]'s loop checks every second; people ack and resolve through the API.
//! Each action (opened, acked, resolved, reopened) is kept with whether the incident's owner
//! (deploy.yml's `services.<name>.owner`, a receiver of the Alertmanager configuration) was
//! told; the loop tells it with an alert `FerryIncident` and records the delivery, so a crash
//! before that sends it again rather than never.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use ferry_alerting::alert::{StoredAlert, fingerprint_hex};
use ferry_alerting::dispatch::NotifiedAlert;
use ferry_proto::dora::{IncidentDetail, TimelineEntry, TimelineKind};
use ferry_store::{
    ALERT_ACTOR, ActionKind, Incident, IncidentAction, NewIncident, NewIncidentAlert, Project, StoreError, UnitRef,
};
use tracing::{debug, info, warn};

use crate::AppState;
use crate::alerting::NotifyError;
use crate::dora::{PRODUCTION, incident_view};

/// The severity that opens incidents.
const PAGE: &str = "page";
/// How long before an incident started its timeline shows the unit's deployments.
const TIMELINE_BEFORE_MS: i64 = 3_600_000;
/// How long a failed notification of an owner waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Alerts are taken one at a time: "find the unit's open incident, else open one" must not
/// interleave, or one unit could get two open incidents.
static OBSERVING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The unit a paging alert names.
struct PagedUnit<'a> {
    project: &'a str,
    service: &'a str,
    environment: &'a str,
}

/// The unit of an alert of page severity, if its labels (or `implied`, the project of the
/// rule file) name one.
fn paged_unit<'a>(alert: &'a StoredAlert, implied: Option<&'a str>) -> Option<PagedUnit<'a>> {
    if alert.labels.get("severity").map(String::as_str) != Some(PAGE) {
        return None;
    }
    Some(PagedUnit {
        project: alert.labels.get("project").map(String::as_str).or(implied)?,
        service: alert.labels.get("service")?,
        environment: alert.labels.get("environment").map_or(PRODUCTION, String::as_str),
    })
}

/// Takes the alerts alert routing just received (each with the project its rule file
/// implies): opens, joins or extends incidents, then resolves those whose alerts all ended.
/// Failures are logged: routing the alerts must not fail because of incidents.
pub(crate) async fn observe(state: &AppState, alerts: Vec<(Option<String>, StoredAlert)>) {
    let _one_at_a_time = OBSERVING.lock().await;
    let now = state.pipeline.clock.now_ms();
    for (implied, alert) in &alerts {
        let Some(unit) = paged_unit(alert, implied.as_deref()) else { continue };
        if let Err(error) = observe_one(state, &unit, alert, now).await {
            warn!(
                project = unit.project,
                service = unit.service,
                %error,
                "an incident for the alert of {} in {} could not be recorded: {error}",
                unit.service,
                unit.environment
            );
        }
    }
    resolve_ended(state, now).await;
}

async fn observe_one(state: &AppState, paged: &PagedUnit<'_>, alert: &StoredAlert, now: i64) -> Result<(), StoreError> {
    let incidents = state.store.incidents();
    let fingerprint = fingerprint_hex(alert.fingerprint());
    if incidents.update_alert(&fingerprint, alert.starts_at, alert.ends_at).await?.is_some() {
        return Ok(());
    }
    if alert.resolved_at(now) {
        // A resolved alert no incident holds: nothing to open.
        return Ok(());
    }
    let Some(project) = state.store.projects().by_name(paged.project).await? else {
        debug!(project = paged.project, "a paging alert names project {}, which does not exist", paged.project);
        return Ok(());
    };
    let unit = UnitRef { project_id: project.id, service: paged.service, environment: paged.environment };
    let labels = serde_json::to_string(&alert.labels).unwrap_or_default();
    let summary = alert.annotations.get("summary").cloned().unwrap_or_default();
    let new_alert = NewIncidentAlert {
        fingerprint: &fingerprint,
        starts_at: alert.starts_at,
        ends_at: alert.ends_at,
        labels: &labels,
        summary: &summary,
    };
    let owner = owner_of(state, &project, paged.service).await;
    if let Some(open) = incidents.open_of_unit(unit).await? {
        incidents.join(open.id, &new_alert, owner.as_deref(), now).await?;
        info!(incident.id = open.id, "alert {fingerprint} joined incident {} of {}", open.id, paged.service);
        return Ok(());
    }
    let deployments =
        state.store.deployments().list(project.id, Some(paged.service), Some(paged.environment), 100).await?;
    let rollouts: Vec<ferry_dora::Rollout> = deployments
        .iter()
        .map(|deployment| ferry_dora::Rollout {
            id: deployment.id,
            started_at: deployment.started_at,
            finished_at: deployment.finished_at,
        })
        .collect();
    let attributed = ferry_dora::attributed_deployment(&rollouts, alert.starts_at);
    if let Some(deployment_id) = attributed
        && let Some(incident) = incidents.of_deployment(deployment_id).await?
    {
        incidents.join(incident.id, &new_alert, owner.as_deref(), now).await?;
        info!(
            incident.id = incident.id,
            deployment.id = deployment_id,
            "alert {fingerprint} joined incident {} of deployment {deployment_id}",
            incident.id
        );
        return Ok(());
    }
    let alertname = alert.labels.get("alertname").map_or("an alert", String::as_str);
    let title = if summary.is_empty() {
        format!("{alertname} is firing for {} in {}", paged.service, paged.environment)
    } else {
        format!("{alertname}: {summary}")
    };
    let incident = incidents
        .open_with_alert(
            &NewIncident {
                unit,
                title: &title,
                started_at: alert.starts_at,
                resolved_at: None,
                caused_by_deployment: attributed,
                caused_by_commit: None,
                opened_by: ALERT_ACTOR,
            },
            owner.as_deref(),
            &new_alert,
        )
        .await?;
    info!(
        incident.id = incident.id,
        deployment.id = ?attributed,
        "alert {fingerprint} opened incident {} of {} in {}: {title}",
        incident.id,
        paged.service,
        paged.environment
    );
    Ok(())
}

/// The receiver told of the service's incidents: `owner:` of the service in the deploy.yml
/// of its newest release.
async fn owner_of(state: &AppState, project: &Project, service: &str) -> Option<String> {
    let release = state.store.releases().latest(project.id, service).await.ok()??;
    let (spec, _) = ferry_deploy::compile(&release.deploy_spec);
    spec?.services.into_iter().find(|spec| spec.name == service)?.owner
}

async fn resolve_ended(state: &AppState, now: i64) {
    match state.store.incidents().resolve_ended(now).await {
        Ok(resolved) => {
            for id in resolved {
                info!(incident.id = id, "incident {id} resolved: all its alerts have");
            }
        }
        Err(error) => warn!(%error, "resolving incidents whose alerts ended failed: {error}"),
    }
}

/// Resolves incidents whose alerts ended (an alert posted without `endsAt` ends by itself)
/// and tells owners of what was done, every second until the server shuts down.
pub(crate) fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut shutting_down = state.pipeline.shutting_down.subscribe();
        let mut retry_at: HashMap<i64, Instant> = HashMap::new();
        loop {
            {
                let _one_at_a_time = OBSERVING.lock().await;
                resolve_ended(&state, state.pipeline.clock.now_ms()).await;
            }
            notify_owners(&state, &mut retry_at).await;
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutting_down.wait_for(|stopping| *stopping) => break,
            }
        }
    });
}

/// Tells owners of the actions they were not told of yet, oldest first.
async fn notify_owners(state: &AppState, retry_at: &mut HashMap<i64, Instant>) {
    let actions = match state.store.incidents().unnotified(100).await {
        Ok(actions) => actions,
        Err(error) => {
            warn!(%error, "reading the incidents' notifications failed: {error}");
            return;
        }
    };
    for action in actions {
        if retry_at.get(&action.id).is_some_and(|at| Instant::now() < *at) {
            continue;
        }
        let told = notify_owner(state, &action).await;
        let delivered = match told {
            Ok(()) => true,
            Err(NotifyOwnerError::Notify(NotifyError::NoReceiver(receiver))) => {
                warn!(
                    incident.id = action.incident_id,
                    "incident {}'s owner `{receiver}` is no receiver of the Alertmanager configuration; nothing is sent",
                    action.incident_id
                );
                true
            }
            Err(error) => {
                warn!(incident.id = action.incident_id, %error, "telling incident {}'s owner failed, retrying: {error}", action.incident_id);
                retry_at.insert(action.id, Instant::now() + RETRY_AFTER);
                false
            }
        };
        if delivered {
            retry_at.remove(&action.id);
            if let Err(error) = state.store.incidents().notified(action.id, state.pipeline.clock.now_ms()).await {
                warn!(%error, "recording a notification of incident {} failed: {error}", action.incident_id);
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum NotifyOwnerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
}

async fn notify_owner(state: &AppState, action: &IncidentAction) -> Result<(), NotifyOwnerError> {
    let incident = state.store.dora().incident(action.incident_id).await?;
    let Some(owner) = &incident.owner else { return Ok(()) };
    let project = state.store.projects().get(incident.project_id).await?;
    let alert = incident_alert(&project.name, &incident, action, &state.pipeline.server_url);
    state.alertmanager.notify_receiver(owner, alert).await?;
    info!(incident.id = incident.id, receiver = %owner, "told {owner} that incident {} was {}", incident.id, action.kind.as_str());
    Ok(())
}

/// The alert `FerryIncident` an owner is sent: firing while the incident is open (opened,
/// acked, reopened), resolved with it; what was done in its annotations.
fn incident_alert(project: &str, incident: &Incident, action: &IncidentAction, server_url: &str) -> NotifiedAlert {
    let labels: BTreeMap<String, String> = [
        ("alertname", "FerryIncident".to_owned()),
        ("project", project.to_owned()),
        ("service", incident.service.clone()),
        ("environment", incident.environment.clone()),
        ("incident", incident.id.to_string()),
        ("severity", PAGE.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let mut annotations = BTreeMap::from([
        ("summary".to_owned(), incident.title.clone()),
        ("action".to_owned(), action.kind.as_str().to_owned()),
        ("actor".to_owned(), action.actor.clone()),
        ("url".to_owned(), format!("{server_url}/ui/incidents/{}", incident.id)),
    ]);
    if let Some(deployment) = incident.caused_by_deployment {
        annotations.insert("deployment".to_owned(), deployment.to_string());
    }
    let resolved = action.kind == ActionKind::Resolved;
    NotifiedAlert {
        fingerprint: ferry_alerting::fingerprint(&labels),
        labels,
        annotations,
        starts_at: incident.started_at,
        ends_at: if resolved { incident.resolved_at.or(Some(action.at)) } else { None },
        generator_url: format!("{server_url}/ui/incidents/{}", incident.id),
    }
}

/// Incident `incident` with its timeline (`GET /api/v1/incidents/{id}`, the incident page):
/// its alerts firing and resolved (by `now`), the unit's deployments from an hour before it
/// started until it resolved, and what was done to it.
///
/// # Errors
/// When the store fails.
pub(crate) async fn detail(state: &AppState, incident: Incident, now: i64) -> Result<IncidentDetail, StoreError> {
    let project = state.store.projects().get(incident.project_id).await?;
    let incidents = state.store.incidents();
    let mut timeline = Vec::new();
    let entry = |at: i64, kind: TimelineKind, text: String| TimelineEntry {
        at,
        kind,
        text,
        actor: None,
        deployment: None,
        outcome: None,
        labels: None,
        summary: None,
    };
    for alert in incidents.alerts(incident.id).await? {
        let labels: BTreeMap<String, String> = serde_json::from_str(&alert.labels).unwrap_or_default();
        let name = labels.get("alertname").cloned().unwrap_or_else(|| alert.fingerprint.clone());
        let text = if alert.summary.is_empty() {
            format!("{name} firing")
        } else {
            format!("{name} firing: {}", alert.summary)
        };
        timeline.push(TimelineEntry {
            labels: Some(labels.clone()),
            summary: Some(alert.summary.clone()),
            ..entry(alert.starts_at, TimelineKind::AlertFiring, text)
        });
        if alert.ends_at <= now {
            timeline.push(TimelineEntry {
                labels: Some(labels),
                ..entry(alert.ends_at, TimelineKind::AlertResolved, format!("{name} resolved"))
            });
        }
    }
    // Saturating: a start far in the past (any i64 the API took) must not overflow.
    let from = incident.started_at.saturating_sub(TIMELINE_BEFORE_MS);
    let until = incident.resolved_at.unwrap_or(now);
    let in_range = |at: i64| from <= at && at <= until;
    let deployments = state
        .store
        .deployments()
        .list(incident.project_id, Some(&incident.service), Some(&incident.environment), 200)
        .await?;
    for deployment in &deployments {
        let what = match deployment.release {
            Some(release) => format!("deployment #{} of release {release}", deployment.id),
            None => format!("deployment #{}", deployment.id),
        };
        if let Some(started_at) = deployment.started_at.filter(|&at| in_range(at)) {
            timeline.push(TimelineEntry {
                deployment: Some(deployment.id),
                ..entry(
                    started_at,
                    TimelineKind::DeploymentStarted,
                    format!("{what} started ({})", deployment.strategy),
                )
            });
        }
        if let Some(finished_at) = deployment.finished_at.filter(|&at| in_range(at)) {
            let outcome = deployment.status.as_str();
            let reason = deployment.reason.as_deref().map(|reason| format!(": {reason}")).unwrap_or_default();
            timeline.push(TimelineEntry {
                deployment: Some(deployment.id),
                outcome: Some(outcome.to_owned()),
                ..entry(
                    finished_at,
                    TimelineKind::DeploymentFinished,
                    format!("{what} {}{reason}", outcome.replace('_', " ")),
                )
            });
        }
    }
    let actions = incidents.actions(incident.id).await?;
    if !actions.iter().any(|action| action.kind == ActionKind::Opened) {
        timeline.push(TimelineEntry {
            actor: Some(incident.opened_by.clone()),
            ..entry(incident.started_at, TimelineKind::Opened, format!("opened by {}", incident.opened_by))
        });
    }
    if let Some(resolved_at) = incident.resolved_at
        && !actions.iter().any(|action| action.kind == ActionKind::Resolved)
    {
        let by = incident.resolved_by.clone().unwrap_or_else(|| incident.opened_by.clone());
        timeline.push(TimelineEntry {
            actor: Some(by.clone()),
            ..entry(resolved_at, TimelineKind::Resolved, format!("resolved by {by}"))
        });
    }
    for action in actions {
        let (kind, verb) = match action.kind {
            ActionKind::Opened => (TimelineKind::Opened, "opened"),
            ActionKind::Acked => (TimelineKind::Acked, "acknowledged"),
            ActionKind::Resolved => (TimelineKind::Resolved, "resolved"),
            ActionKind::Reopened => (TimelineKind::Reopened, "reopened"),
        };
        let text = if action.actor == ALERT_ACTOR {
            match action.kind {
                ActionKind::Resolved => "resolved: all its alerts resolved".to_owned(),
                _ => format!("{verb} by an alert"),
            }
        } else {
            format!("{verb} by {}", action.actor)
        };
        timeline.push(TimelineEntry { actor: Some(action.actor), ..entry(action.at, kind, text) });
    }
    // Time order; at one instant, deployments before alerts before actions.
    timeline.sort_by_key(|entry| {
        let rank = match entry.kind {
            TimelineKind::DeploymentStarted | TimelineKind::DeploymentFinished => 0,
            TimelineKind::AlertFiring | TimelineKind::AlertResolved => 1,
            _ => 2,
        };
        (entry.at, rank)
    });
    Ok(IncidentDetail { incident: incident_view(&project.name, incident), timeline })
}
