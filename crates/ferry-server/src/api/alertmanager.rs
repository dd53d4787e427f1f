//! Alertmanager's API v2 under `/alertmanager` (so Prometheus' `alertmanagers:` and amtool
//! point at `http://ferry:8080/alertmanager`): alerts in (admins; a Prometheus sends with an
//! admin token) and listed (viewers), silences listed (viewers), made and expired
//! (developers). Bodies are `ferry_proto::alerts`, Alertmanager's shapes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use ferry_alerting::alert::{fingerprint_hex, parse_rfc3339, rfc3339};
use ferry_alerting::matcher::{MatchType, Matcher};
use ferry_alerting::silence::SilenceError;
use ferry_alerting::{Alert, Silence};
use ferry_proto::alerts::{
    AlertStatus, GettableAlert, GettableSilence, PostableAlert, PostableSilence, ReceiverName, SilenceCreated,
    SilenceMatcher, SilenceStatus,
};

use crate::AppState;
use crate::alerting::SilenceOutcome;
use crate::api::{ApiError, Body, ErrorBody, Path};
use crate::auth::Caller;

/// The most alerts one post may carry.
const MAX_ALERTS: usize = 10_000;

fn time(what: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => parse_rfc3339(text).map_err(|error| ApiError::bad_request(format!("`{what}`: {error}"))),
    }
}

fn label_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `POST /alertmanager/api/v2/alerts`: a JSON list of alerts.
#[utoipa::path(
    post,
    path = "/alertmanager/api/v2/alerts",
    operation_id = "post_alerts",
    tag = "alerts",
    request_body = [PostableAlert],
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Taken in: routed, grouped and kept"),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowAdmin,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn post_alerts(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let is_json = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(|value| {
        value.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("application/json")
    });
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON: send it with `Content-Type: application/json`",
        ));
    }
    let posted: Vec<PostableAlert> = serde_json::from_slice(&body)
        .map_err(|error| ApiError::bad_request(format!("the body is not a JSON list of alerts: {error}")))?;
    if posted.len() > MAX_ALERTS {
        return Err(ApiError::bad_request(format!("at most {MAX_ALERTS} alerts in one post")));
    }
    let mut alerts = Vec::with_capacity(posted.len());
    for (idx, alert) in posted.into_iter().enumerate() {
        if alert.labels.is_empty() {
            return Err(ApiError::bad_request(format!("alert {idx}: at least one label pair is required")));
        }
        if let Some(name) = alert.labels.keys().find(|name| !label_name_ok(name)) {
            return Err(ApiError::bad_request(format!("alert {idx}: `{name}` is not a valid label name")));
        }
        let starts_at = time("startsAt", alert.starts_at.as_deref())?;
        let ends_at = time("endsAt", alert.ends_at.as_deref())?;
        if let (Some(start), Some(end)) = (starts_at, ends_at)
            && end < start
        {
            return Err(ApiError::bad_request(format!("alert {idx}: start time must be before end time")));
        }
        alerts.push(Alert {
            labels: alert.labels,
            annotations: alert.annotations,
            starts_at,
            ends_at,
            generator_url: alert.generator_url,
        });
    }
    let stored = state.alertmanager.push(alerts).await?;
    crate::incidents::observe(&state, stored.into_iter().map(|alert| (None, alert)).collect()).await;
    Ok(StatusCode::OK)
}

/// `GET /alertmanager/api/v2/alerts`: every alert the server holds, with its state.
#[utoipa::path(
    get,
    path = "/alertmanager/api/v2/alerts",
    operation_id = "list_alerts",
    tag = "alerts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every alert, firing and recently resolved, by fingerprint", body = [GettableAlert]),
        crate::api::Refusals,
    ),
)]
pub(crate) async fn list_alerts(State(state): State<AppState>) -> Json<Vec<GettableAlert>> {
    let (alerts, _) = state.alertmanager.alerts().await;
    Json(
        alerts
            .into_iter()
            .map(|status| GettableAlert {
                fingerprint: fingerprint_hex(status.fingerprint),
                starts_at: rfc3339(Some(status.alert.starts_at)),
                ends_at: rfc3339(Some(status.alert.ends_at)),
                updated_at: rfc3339(Some(status.alert.updated_at)),
                generator_url: status.alert.generator_url,
                labels: status.alert.labels,
                annotations: status.alert.annotations,
                receivers: status.receivers.into_iter().map(|name| ReceiverName { name }).collect(),
                status: AlertStatus {
                    state: status.state.to_owned(),
                    silenced_by: status.silenced_by,
                    inhibited_by: status.inhibited_by.into_iter().map(fingerprint_hex).collect(),
                    muted_by: Vec::new(),
                },
            })
            .collect(),
    )
}

fn silence_view(silence: Silence, now: i64) -> GettableSilence {
    GettableSilence {
        status: SilenceStatus { state: silence.state(now).as_str().to_owned() },
        updated_at: rfc3339(Some(silence.updated_at)),
        matchers: silence
            .matchers
            .iter()
            .map(|matcher| SilenceMatcher {
                name: matcher.name.clone(),
                value: matcher.value.clone(),
                is_regex: matcher.kind.is_regex(),
                is_equal: matcher.kind.is_equal(),
            })
            .collect(),
        starts_at: rfc3339(Some(silence.starts_at)),
        ends_at: rfc3339(Some(silence.ends_at)),
        created_by: silence.created_by,
        comment: silence.comment,
        id: silence.id,
    }
}

/// `GET /alertmanager/api/v2/silences`.
#[utoipa::path(
    get,
    path = "/alertmanager/api/v2/silences",
    operation_id = "list_silences",
    tag = "alerts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every silence, pending, active and recently expired", body = [GettableSilence]),
        crate::api::Refusals,
    ),
)]
pub(crate) async fn list_silences(State(state): State<AppState>) -> Json<Vec<GettableSilence>> {
    let (silences, now) = state.alertmanager.silences().await;
    Json(silences.into_iter().map(|silence| silence_view(silence, now)).collect())
}

/// `GET /alertmanager/api/v2/silence/{silenceID}`.
#[utoipa::path(
    get,
    path = "/alertmanager/api/v2/silence/{silenceID}",
    operation_id = "get_silence",
    tag = "alerts",
    params(("silenceID" = String, Path, description = "The silence's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The silence", body = GettableSilence),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such silence", body = ErrorBody),
    ),
)]
pub(crate) async fn get_silence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<GettableSilence>, ApiError> {
    match state.alertmanager.silence(&id).await {
        (Some(silence), now) => Ok(Json(silence_view(silence, now))),
        (None, _) => Err(ApiError::not_found("silence", id)),
    }
}

fn refusal(outcome: SilenceOutcome) -> ApiError {
    match outcome {
        SilenceOutcome::Refused(error @ SilenceError::NotFound(_)) => {
            ApiError::new(StatusCode::NOT_FOUND, error.to_string())
        }
        SilenceOutcome::Refused(error) => ApiError::bad_request(error.to_string()),
        SilenceOutcome::Store(error) => error.into(),
    }
}

/// A random id in the shape of a UUID (version 4), as Alertmanager's silence ids are.
fn new_silence_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "no randomness for a silence id"))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    Ok(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// `POST /alertmanager/api/v2/silences`: makes a silence, or replaces the one `id` names.
#[utoipa::path(
    post,
    path = "/alertmanager/api/v2/silences",
    operation_id = "create_silence",
    tag = "alerts",
    request_body = PostableSilence,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Made (or replaced)", body = SilenceCreated),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No silence with the `id` given", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn create_silence(
    Caller(token): Caller,
    State(state): State<AppState>,
    Body(request): Body<PostableSilence>,
) -> Result<Json<SilenceCreated>, ApiError> {
    let mut matchers = Vec::with_capacity(request.matchers.len());
    for matcher in &request.matchers {
        let kind = match (matcher.is_regex, matcher.is_equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (true, false) => MatchType::NotRegexp,
        };
        matchers.push(
            Matcher::new(&matcher.name, kind, &matcher.value)
                .map_err(|error| ApiError::bad_request(error.to_string()))?,
        );
    }
    let starts_at =
        time("startsAt", Some(&request.starts_at))?.ok_or_else(|| ApiError::bad_request("`startsAt` is required"))?;
    let ends_at =
        time("endsAt", Some(&request.ends_at))?.ok_or_else(|| ApiError::bad_request("`endsAt` is required"))?;
    let id = match request.id.filter(|id| !id.is_empty()) {
        Some(id) => {
            if state.alertmanager.silence(&id).await.0.is_none() {
                return Err(ApiError::not_found("silence", id));
            }
            id
        }
        None => new_silence_id()?,
    };
    let created_by = if request.created_by.is_empty() { token.name.clone() } else { request.created_by };
    let silence = Silence { id, matchers, starts_at, ends_at, updated_at: 0, created_by, comment: request.comment };
    let silence = state.alertmanager.add_silence(silence).await.map_err(refusal)?;
    Ok(Json(SilenceCreated { silence_id: silence.id }))
}

/// `DELETE /alertmanager/api/v2/silence/{silenceID}`: expires it now.
#[utoipa::path(
    delete,
    path = "/alertmanager/api/v2/silence/{silenceID}",
    operation_id = "expire_silence",
    tag = "alerts",
    params(("silenceID" = String, Path, description = "The silence's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Expired"),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such silence", body = ErrorBody),
    ),
)]
pub(crate) async fn expire_silence(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.alertmanager.expire_silence(&id).await.map_err(refusal)?;
    Ok(StatusCode::OK)
}
