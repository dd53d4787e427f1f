//! Alerting and recording rules on the server: the rule files the configuration names (read
//! at start; an error stops the start), each project's `.ferry/alerts/*.yml` on its
//! default branch and the rules compiled from the SLOs of its `.ferry/deploy.yml` there
//! (read again every minute; an error is logged and the file skipped), each
//! group evaluated on its interval by `ferry-rules` over the metrics store, recorded series
//! and `ALERTS`/`ALERTS_FOR_STATE` written back. Alert state survives a restart through
//! `ALERTS_FOR_STATE`, as in Prometheus: at a group's first evaluation, its alerts take the
//! time they became active from the store (`ferry_rules::eval_group`). `GET /prometheus/api/v1/rules` and `…/alerts`
//! answer in Prometheus' shapes. Firing and resolved alerts go to alert routing and then to
//! `crate::incidents`, with the project of their rule file.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use ferry_promql::{Labels, Matcher, Series, Storage, StorageError};
use ferry_rules::{AlertState, EvalOptions, Group, GroupState, RuleKind, RuleStorage};
use ferry_tsdb::Tsdb;
use serde_json::{Value, json};
use tracing::{debug, warn};

use crate::AppState;
use crate::pipeline::Mirror;

/// Where a project's rule files live in its repository.
pub(crate) const ALERTS_DIR: &str = ".ferry/alerts";
/// How often projects' rule files are read again, by the server's clock.
const RELOAD_MS: i64 = 60_000;

/// The groups the server evaluates and their state.
pub(crate) struct Rules {
    /// From the configuration: (file, group).
    configured: Vec<(String, Group)>,
    default_interval_ms: i64,
    groups: Mutex<Vec<Loaded>>,
}

struct Loaded {
    file: String,
    /// The project whose `.ferry/alerts/` holds the group: its alerts name that project
    /// unless they carry a `project` label (`crate::incidents`).
    project: Option<String>,
    group: Group,
    state: GroupState,
    next_ms: i64,
    /// Seconds the last evaluation took, the group's and each rule's.
    eval_seconds: f64,
    rule_seconds: Vec<f64>,
}

/// Why the configured rule files cannot be evaluated: every problem of every file, one a line.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct RuleFilesError(Vec<RuleFileProblem>);

/// What is wrong with one configured rule file.
#[derive(Debug, thiserror::Error)]
enum RuleFileProblem {
    #[error("reading {file}: {source}")]
    Read { file: String, source: std::io::Error },
    /// Its findings, each at file:line:col.
    #[error(transparent)]
    Invalid(#[from] ferry_rules::RuleFileError),
}

impl Rules {
    /// Reads the configured rule files.
    ///
    /// # Errors
    /// Every error of every file, at file:line:col.
    pub(crate) fn load(files: &[PathBuf], default_interval: std::time::Duration) -> Result<Rules, RuleFilesError> {
        let mut configured = Vec::new();
        let mut problems = Vec::new();
        for path in files {
            let name = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => match ferry_rules::load_rule_file(&name, &text) {
                    Ok(file) => configured.extend(file.groups.into_iter().map(|group| (name.clone(), group))),
                    Err(error) => problems.push(RuleFileProblem::Invalid(error)),
                },
                Err(source) => problems.push(RuleFileProblem::Read { file: name, source }),
            }
        }
        if !problems.is_empty() {
            return Err(RuleFilesError(problems));
        }
        let default_interval_ms = i64::try_from(default_interval.as_millis()).unwrap_or(60_000).max(1_000);
        let rules = Rules { configured, default_interval_ms, groups: Mutex::new(Vec::new()) };
        rules.replace(Vec::new());
        Ok(rules)
    }

    /// Sets the project groups (file, project, group), keeping the state of every group
    /// that stays (same file and name).
    fn replace(&self, project_groups: Vec<(String, String, Group)>) {
        let mut groups = self.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut old: Vec<Loaded> = std::mem::take(&mut *groups);
        let configured = self.configured.iter().cloned().map(|(file, group)| (file, None, group));
        let of_projects = project_groups.into_iter().map(|(file, project, group)| (file, Some(project), group));
        for (file, project, group) in configured.chain(of_projects) {
            let kept = old.iter().position(|l| l.file == file && l.group.name == group.name).map(|idx| old.remove(idx));
            let (state, next_ms, eval_seconds, rule_seconds) = match kept {
                Some(loaded) => (loaded.state, loaded.next_ms, loaded.eval_seconds, loaded.rule_seconds),
                None => (GroupState::default(), 0, 0.0, Vec::new()),
            };
            groups.push(Loaded { file, project, group, state, next_ms, eval_seconds, rule_seconds });
        }
    }
}

/// The store as rules read and write it; what recording rules write is forwarded too.
struct TsdbRules<'a>(&'a Tsdb, Option<&'a crate::forward::Forwarder>);

impl Storage for TsdbRules<'_> {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, StorageError> {
        self.0.select(matchers, mint, maxt)
    }
}

impl RuleStorage for TsdbRules<'_> {
    fn append(&self, samples: &[(Labels, i64, f64)]) -> Result<(), StorageError> {
        self.0.append(samples).map_err(|error| StorageError(error.to_string()))?;
        if let Some(forwarder) = self.1 {
            forwarder.offer(samples);
        }
        Ok(())
    }
}

/// Evaluates the groups that are due, once a second, until the server shuts down; reads the
/// projects' rule files every [`RELOAD_MS`].
pub(crate) fn spawn(state: AppState) {
    tokio::spawn(async move {
        let mut shutting_down = state.pipeline.shutting_down.subscribe();
        let mut last_reload: Option<i64> = None;
        loop {
            let now = state.pipeline.clock.now_ms();
            if last_reload.is_none_or(|at| now - at >= RELOAD_MS) {
                reload_projects(&state).await;
                last_reload = Some(now);
            }
            evaluate_due(&state, now).await;
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = shutting_down.wait_for(|stopping| *stopping) => break,
            }
        }
    });
}

/// Reads every project's `.ferry/alerts/*.yml` at the head of its default branch.
async fn reload_projects(state: &AppState) {
    let Ok(projects) = state.store.projects().list().await else { return };
    let mut groups = Vec::new();
    for project in projects {
        let mirror = match Mirror::for_project(state, &project).await {
            Ok(mirror) => mirror,
            Err(error) => {
                debug!(project = %project.name, %error, "no rules read for {}: {error}", project.name);
                continue;
            }
        };
        let Ok(head) = mirror.resolve(&format!("refs/heads/{}", project.branch)).await else { continue };
        let names = match mirror.list_dir(&head, ALERTS_DIR).await {
            Ok(names) => names,
            Err(error) => {
                warn!(project = %project.name, %error, "reading {ALERTS_DIR} of {}: {error}", project.name);
                continue;
            }
        };
        for name in names.iter().filter(|name| name.ends_with(".yml") || name.ends_with(".yaml")) {
            let path = format!("{ALERTS_DIR}/{name}");
            let file = format!("{}/{path}", project.name);
            match mirror.read_file(&head, &path).await {
                Ok(Some(text)) => match ferry_rules::load_rule_file(&file, &text) {
                    Ok(rule_file) => groups
                        .extend(rule_file.groups.into_iter().map(|group| (file.clone(), project.name.clone(), group))),
                    Err(error) => warn!(project = %project.name, %error, "skipping the rules of {file}: {error}"),
                },
                Ok(None) => {}
                Err(error) => warn!(project = %project.name, %error, "reading {file}: {error}"),
            }
        }
        groups.extend(slo_groups(&project.name, &mirror, &head).await);
    }
    state.rules.replace(groups);
}

/// The rule groups of the SLOs of a project's `.ferry/deploy.yml` at `head`
/// (`ferry_deploy::slo::rule_file`), named after the file, with the project (so their page
/// alerts open the project's incidents); none when it has no SLOs, or
/// errors (logged: `ferry lint` shows them).
async fn slo_groups(project: &str, mirror: &Mirror, head: &str) -> Vec<(String, String, Group)> {
    let file = format!("{project}/{}", crate::releases::DEPLOY_FILE);
    let text = match mirror.read_file(head, crate::releases::DEPLOY_FILE).await {
        Ok(Some(text)) => text,
        Ok(None) => return Vec::new(),
        Err(error) => {
            warn!(project, %error, "reading {file}: {error}");
            return Vec::new();
        }
    };
    let spec = match ferry_deploy::compile_valid(&text) {
        Ok(spec) => spec,
        Err(error) => {
            warn!(project, %error, "skipping the SLOs of {file}: {error}");
            return Vec::new();
        }
    };
    match ferry_rules::load_rule_file(&file, &ferry_deploy::slo::rule_file(project, &spec)) {
        Ok(rule_file) => rule_file.groups.into_iter().map(|group| (file.clone(), project.to_owned(), group)).collect(),
        Err(error) => {
            warn!(project, %error, "the rules compiled from the SLOs of {file} do not read: {error}");
            Vec::new()
        }
    }
}

/// Evaluates every group whose time has come at `now`.
async fn evaluate_due(state: &AppState, now: i64) {
    let tsdb = match crate::prometheus::store(state).await {
        Ok(tsdb) => tsdb,
        Err(error) => {
            warn!(%error, "rules cannot be evaluated: {error}");
            return;
        }
    };
    let rules = state.rules.clone();
    let forwarder = state.forwarder.clone();
    let res = tokio::task::spawn_blocking(move || {
        let mut groups = rules.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let options = EvalOptions::default();
        let mut to_route = Vec::new();
        for loaded in groups.iter_mut().filter(|loaded| loaded.next_ms <= now) {
            let storage = TsdbRules(&tsdb, forwarder.as_deref());
            let started = std::time::Instant::now();
            if let Err(error) = ferry_rules::eval_group(&loaded.group, &mut loaded.state, &storage, now, &options) {
                warn!(group = %loaded.group.name, %error, "evaluating group {}: {error}", loaded.group.name);
            }
            loaded.eval_seconds = started.elapsed().as_secs_f64();
            loaded.rule_seconds = vec![loaded.eval_seconds / loaded.group.rules.len().max(1) as f64; loaded.group.rules.len()];
            for (rule, rule_state) in loaded.group.rules.iter().zip(&loaded.state.rules) {
                if let Some(error) = &rule_state.last_error {
                    warn!(rule = %rule.name, %error, "rule {} of group {} failed: {error}", rule.name, loaded.group.name);
                }
            }
            let interval = loaded.group.interval_ms.unwrap_or(rules.default_interval_ms);
            loaded.next_ms = now + interval;
            let project = &loaded.project;
            to_route.extend(
                loaded
                    .state
                    .rules
                    .iter()
                    .flat_map(|rule| rule.active.values())
                    .filter_map(|alert| Some((project.clone(), routed(alert, now, interval)?))),
            );
        }
        to_route
    })
    .await;
    match res {
        Ok(alerts) if !alerts.is_empty() => {
            let (projects, alerts): (Vec<Option<String>>, Vec<ferry_alerting::Alert>) = alerts.into_iter().unzip();
            match state.alertmanager.push(alerts).await {
                Ok(stored) => crate::incidents::observe(state, projects.into_iter().zip(stored).collect()).await,
                Err(error) => warn!(%error, "routing the rules' alerts failed: {error}"),
            }
        }
        Ok(_) => {}
        Err(error) => warn!(%error, "evaluating rules failed: {error}"),
    }
}

/// What the rules send to alert routing after an evaluation, as Prometheus sends to its
/// Alertmanagers: every firing alert, ending three intervals (at least three minutes) from
/// now unless it is sent again, and an alert resolved in the last 15 minutes with its end.
fn routed(alert: &ferry_rules::Alert, now: i64, interval_ms: i64) -> Option<ferry_alerting::Alert> {
    let ends_at = match (alert.state, alert.resolved_at_ms) {
        (ferry_rules::AlertState::Firing, _) => now + 3 * interval_ms.max(60_000),
        (_, Some(resolved)) if now - resolved <= 15 * 60_000 => resolved,
        _ => return None,
    };
    Some(ferry_alerting::Alert {
        labels: alert.labels.iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect(),
        annotations: alert.annotations.iter().cloned().collect(),
        starts_at: Some(alert.fired_at_ms.unwrap_or(alert.active_at_ms)),
        ends_at: Some(ends_at),
        generator_url: String::new(),
    })
}

fn labels_json(labels: &Labels) -> Value {
    Value::Object(labels.iter().map(|(n, v)| (n.to_owned(), Value::String(v.to_owned()))).collect())
}

fn alert_json(alert: &ferry_rules::Alert) -> Value {
    let annotations: serde_json::Map<String, Value> =
        alert.annotations.iter().map(|(n, v)| (n.clone(), Value::String(v.clone()))).collect();
    let mut out = json!({
        "labels": labels_json(&alert.labels),
        "annotations": annotations,
        "state": alert.state.as_str(),
        "activeAt": ferry_rules::rfc3339(Some(alert.active_at_ms)),
        "value": ferry_rules::alert_value(alert.value),
    });
    if let Some(keep) = alert.keep_firing_since_ms {
        out["keepFiringSince"] = Value::String(ferry_rules::rfc3339(Some(keep)));
    }
    out
}

/// `GET /prometheus/api/v1/rules`: every group with its rules, their health and alerts;
/// `type=alert` or `type=record` keeps one kind.
#[utoipa::path(
    get,
    path = "/prometheus/api/v1/rules",
    operation_id = "prometheus_rules",
    tag = "metrics",
    security(("bearer" = [])),
    params(("type" = Option<String>, Query, description = "`alert` or `record`: only rules of that kind")),
    responses(
        (status = 200, description = "Prometheus' `{\"status\":\"success\",\"data\":{\"groups\":[…]}}`", content_type = "application/json", body = Object),
        (status = 400, description = "`errorType` `bad_data`: an unknown `type`", content_type = "application/json", body = Object),
        crate::api::Refusals,
    )
)]
pub(crate) async fn rules(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let kind = form_value(raw.as_deref(), "type");
    let keep = match kind.as_deref() {
        None | Some("") => None,
        Some("alert") => Some(RuleKind::Alerting),
        Some("record") => Some(RuleKind::Recording),
        Some(other) => {
            let error = ferry_promql::QueryError::BadData(format!("unsupported type {other:?}: use alert or record"));
            return (axum::http::StatusCode::BAD_REQUEST, Json(error.to_json())).into_response();
        }
    };
    let groups = state.rules.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let list: Vec<Value> = groups
        .iter()
        .map(|loaded| {
            let rules: Vec<Value> = loaded
                .group
                .rules
                .iter()
                .enumerate()
                .filter(|(_, rule)| keep.as_ref().is_none_or(|kind| *kind == rule.kind))
                .map(|(idx, rule)| {
                    let rule_state = loaded.state.rules.get(idx);
                    let labels = Labels::new(rule.labels.iter().map(|l| (l.name.as_str(), l.text.as_str())));
                    let health = match rule_state {
                        Some(s) if s.last_error.is_some() => "err",
                        Some(s) if s.last_evaluation_ms.is_some() => "ok",
                        _ => "unknown",
                    };
                    let mut out = json!({
                        "name": rule.name,
                        "query": rule.expr,
                        "labels": labels_json(&labels),
                        "health": health,
                        "evaluationTime": loaded.rule_seconds.get(idx).copied().unwrap_or(0.0),
                        "lastEvaluation": ferry_rules::rfc3339(rule_state.and_then(|s| s.last_evaluation_ms)),
                    });
                    if let Some(error) = rule_state.and_then(|s| s.last_error.as_ref()) {
                        out["lastError"] = Value::String(error.clone());
                    }
                    if rule.kind == RuleKind::Alerting {
                        let alerts: Vec<&ferry_rules::Alert> = rule_state
                            .map(|s| s.active.values().filter(|a| a.state != AlertState::Inactive).collect())
                            .unwrap_or_default();
                        let rule_alert_state = if alerts.iter().any(|a| a.state == AlertState::Firing) {
                            "firing"
                        } else if alerts.is_empty() {
                            "inactive"
                        } else {
                            "pending"
                        };
                        let annotations: serde_json::Map<String, Value> =
                            rule.annotations.iter().map(|a| (a.name.clone(), Value::String(a.text.clone()))).collect();
                        out["type"] = "alerting".into();
                        out["state"] = rule_alert_state.into();
                        out["duration"] = json!(rule.for_ms as f64 / 1000.0);
                        out["keepFiringFor"] = json!(rule.keep_firing_for_ms as f64 / 1000.0);
                        out["annotations"] = Value::Object(annotations);
                        out["alerts"] = Value::Array(alerts.into_iter().map(alert_json).collect());
                    } else {
                        out["type"] = "recording".into();
                    }
                    out
                })
                .collect();
            json!({
                "name": loaded.group.name,
                "file": loaded.file,
                "rules": rules,
                "interval": loaded.group.interval_ms.unwrap_or(state.rules.default_interval_ms) as f64 / 1000.0,
                "limit": loaded.group.limit,
                "evaluationTime": loaded.eval_seconds,
                "lastEvaluation": ferry_rules::rfc3339(loaded.state.last_evaluation_ms),
            })
        })
        .collect();
    Json(json!({"status": "success", "data": {"groups": list}})).into_response()
}

/// `GET /prometheus/api/v1/alerts`: every pending and firing alert.
#[utoipa::path(
    get,
    path = "/prometheus/api/v1/alerts",
    operation_id = "prometheus_alerts",
    tag = "metrics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus' `{\"status\":\"success\",\"data\":{\"alerts\":[…]}}`", content_type = "application/json", body = Object),
        crate::api::Refusals,
    )
)]
pub(crate) async fn alerts(State(state): State<AppState>) -> Response {
    let groups = state.rules.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let alerts: Vec<Value> = groups
        .iter()
        .flat_map(|loaded| loaded.state.rules.iter())
        .flat_map(|rule_state| rule_state.active.values())
        .filter(|alert| alert.state != AlertState::Inactive)
        .map(alert_json)
        .collect();
    Json(json!({"status": "success", "data": {"alerts": alerts}})).into_response()
}

/// The firing and pending alerts, for whoever routes them (`alertmgr`): labels, annotations,
/// state, since when.
pub(crate) fn active_alerts(rules: &Arc<Rules>) -> Vec<ferry_rules::Alert> {
    let groups = rules.groups.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    groups
        .iter()
        .flat_map(|loaded| loaded.state.rules.iter())
        .flat_map(|rule_state| rule_state.active.values())
        .filter(|alert| alert.state != AlertState::Inactive)
        .cloned()
        .collect()
}

fn form_value(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned())
    })
}
