//! The Prometheus HTTP API under `/prometheus` (as Grafana Mimir mounts it), so Grafana can use
//! `http://ferry:8080/prometheus` as a Prometheus data source: `query`, `query_range`,
//! `series`, `labels`, `label/{name}/values`, with Prometheus' parameters, JSON and error
//! shapes, answered by `ferry-promql` over the store in `<data_dir>/metrics` (`ferry-tsdb`),
//! opened at the first call. `POST /api/v1/metrics/import` backfills OpenMetrics text into it.
//!
//! Parameters come from the query string or, for `POST`, a form body, as Prometheus takes
//! them; times are seconds since the epoch (decimals allowed) or RFC 3339 is refused with a
//! message; a step is seconds or a duration like `30s`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_promql::{Matcher, QueryError, QueryOptions};
use ferry_proto::metrics::ImportReport;
use ferry_tsdb::{AppendReport, Options, Tsdb};
use serde_json::{Value, json};

use crate::api::ErrorBody;
use crate::{AppState, now_ms};

/// The store, opened once by the first call that needs it.
pub(crate) type MetricsStore = Arc<tokio::sync::OnceCell<Arc<Tsdb>>>;

pub(crate) async fn store(state: &AppState) -> Result<Arc<Tsdb>, QueryError> {
    let dir = state.data_dir.join("metrics");
    state
        .metrics
        .get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || Tsdb::open(&dir, Options::default()))
                .await
                .map_err(|error| QueryError::Internal(format!("opening the metrics store: {error}")))?
                .map(Arc::new)
                .map_err(|error| QueryError::Internal(format!("opening the metrics store: {error}")))
        })
        .await
        .cloned()
}

/// An answer in Prometheus' shape: `{"status":"success","data":…}` or its error.
fn answer(result: Result<Value, QueryError>) -> Response {
    match result {
        Ok(data) => Json(json!({"status": "success", "data": data})).into_response(),
        Err(error) => {
            let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, Json(error.to_json())).into_response()
        }
    }
}

/// The parameters of a call, from its query string and, for a form `POST`, its body.
struct Params(Vec<(String, String)>);

impl Params {
    fn read(query: Option<String>, method: &Method, headers: &HeaderMap, body: &Bytes) -> Params {
        let mut pairs = decode_form(query.as_deref().unwrap_or(""));
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
        if method == Method::POST && is_form {
            pairs.extend(decode_form(&String::from_utf8_lossy(body)));
        }
        Params(pairs)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn time(&self, name: &str, default: i64) -> Result<i64, QueryError> {
        self.get(name).map_or(Ok(default), |text| parse_time(name, text))
    }
}

fn decode_form(text: &str) -> Vec<(String, String)> {
    let decode =
        |part: &str| percent_encoding::percent_decode_str(&part.replace('+', " ")).decode_utf8_lossy().into_owned();
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// The farthest a time or a duration may be from 0, in seconds (about 317,000 years): the
/// evaluator adds and subtracts lookbacks, ranges and offsets in milliseconds, which must not
/// overflow.
const MAX_SECONDS: f64 = 1e13;

/// Seconds since the epoch (with decimals) to milliseconds.
fn parse_time(name: &str, text: &str) -> Result<i64, QueryError> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds.abs() <= MAX_SECONDS => Ok((seconds * 1000.0).round() as i64),
        _ => Err(QueryError::BadData(format!(
            "invalid parameter \"{name}\": cannot parse {text:?} to a valid timestamp; Ferry takes seconds since the epoch, like 1700000000.5"
        ))),
    }
}

/// A step or duration: seconds (`15`, `0.5`) or Prometheus' units (`1m30s`, largest first).
fn parse_duration(name: &str, text: &str) -> Result<i64, QueryError> {
    let bad = || {
        QueryError::BadData(format!(
            "invalid parameter \"{name}\": cannot parse {text:?} to a valid duration; use seconds or a duration like 30s or 1m"
        ))
    };
    if let Ok(seconds) = text.parse::<f64>() {
        return if seconds.is_finite() && seconds.abs() <= MAX_SECONDS {
            Ok((seconds * 1000.0).round() as i64)
        } else {
            Err(bad())
        };
    }
    match ferry_model::duration::parse_prometheus_duration(text) {
        Ok(ms) if ms as f64 <= MAX_SECONDS * 1000.0 => Ok(ms as i64),
        _ => Err(bad()),
    }
}

fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, QueryError> {
    params.get(name).ok_or_else(|| QueryError::BadData(format!("invalid parameter \"{name}\": it is required")))
}

/// Runs blocking work on the store off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, QueryError> + Send + 'static,
) -> Result<T, QueryError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| QueryError::Internal(format!("the query stopped: {error}")))?
}

/// `GET|POST /prometheus/api/v1/query`: an instant query.
#[utoipa::path(
    get,
    path = "/prometheus/api/v1/query",
    operation_id = "prometheus_query",
    tag = "metrics",
    security(("bearer" = [])),
    params(
        ("query" = String, Query, description = "A PromQL expression"),
        ("time" = Option<f64>, Query, description = "Seconds since the epoch; now by default"),
    ),
    responses(
        (status = 200, description = "Prometheus' `{\"status\":\"success\",\"data\":{\"resultType\",\"result\"}}`", content_type = "application/json", body = Object),
        (status = 400, description = "`errorType` `bad_data`: the query or a parameter is wrong", content_type = "application/json", body = Object),
        (status = 422, description = "`errorType` `execution`: the query cannot be evaluated on this data", content_type = "application/json", body = Object),
        crate::api::Refusals,
        (status = 403, description = "The token is scoped to projects; metrics need a token for all projects", body = ErrorBody),
    ),
)]
pub(crate) async fn query(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let params = Params::read(raw, &method, &headers, &body);
    answer(
        async {
            let text = required(&params, "query")?.to_owned();
            let t = params.time("time", now_ms())?;
            let db = store(&state).await?;
            let value =
                blocking(move || ferry_promql::instant_query(db.as_ref(), &text, t, &QueryOptions::default())).await?;
            Ok(value.data_json())
        }
        .await,
    )
}

/// `GET|POST /prometheus/api/v1/query_range`: a range query.
#[utoipa::path(
    get,
    path = "/prometheus/api/v1/query_range",
    operation_id = "prometheus_query_range",
    tag = "metrics",
    security(("bearer" = [])),
    params(
        ("query" = String, Query, description = "A PromQL expression of type scalar or instant vector"),
        ("start" = f64, Query, description = "Seconds since the epoch"),
        ("end" = f64, Query, description = "Seconds since the epoch"),
        ("step" = String, Query, description = "Seconds or a duration (`30s`); at most 11,000 points"),
    ),
    responses(
        (status = 200, description = "A matrix in Prometheus' shape", content_type = "application/json", body = Object),
        (status = 400, description = "`errorType` `bad_data`", content_type = "application/json", body = Object),
        (status = 422, description = "`errorType` `execution`", content_type = "application/json", body = Object),
        crate::api::Refusals,
        (status = 403, description = "The token is scoped to projects; metrics need a token for all projects", body = ErrorBody),
    ),
)]
pub(crate) async fn query_range(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let params = Params::read(raw, &method, &headers, &body);
    answer(
        async {
            let text = required(&params, "query")?.to_owned();
            let start = parse_time("start", required(&params, "start")?)?;
            let end = parse_time("end", required(&params, "end")?)?;
            let step = parse_duration("step", required(&params, "step")?)?;
            let db = store(&state).await?;
            let value = blocking(move || {
                ferry_promql::range_query(db.as_ref(), &text, start, end, step, &QueryOptions::default())
            })
            .await?;
            Ok(value.data_json())
        }
        .await,
    )
}

/// The series `match[]` selects in `[start, end]` (all of them without `match[]` when
/// `optional`), as label sets.
async fn matching_series(
    state: &AppState,
    params: &Params,
    optional: bool,
) -> Result<Vec<ferry_promql::Labels>, QueryError> {
    let selectors: Vec<Vec<Matcher>> =
        params.all("match[]").map(ferry_promql::parse_selector).collect::<Result<_, _>>()?;
    if selectors.is_empty() && !optional {
        return Err(QueryError::BadData("no match[] parameter provided".into()));
    }
    let start = params.time("start", i64::MIN / 2)?;
    let end = params.time("end", i64::MAX / 2)?;
    let db = store(state).await?;
    blocking(move || {
        let selectors = if selectors.is_empty() { vec![Vec::new()] } else { selectors };
        let mut found = BTreeSet::new();
        for matchers in selectors {
            let series = db.series(&matchers, start, end).map_err(|error| QueryError::Internal(error.to_string()))?;
            found.extend(series);
        }
        Ok(found.into_iter().collect())
    })
    .await
}

/// `GET|POST /prometheus/api/v1/series`: the series that match.
#[utoipa::path(
    get,
    path = "/prometheus/api/v1/series",
    operation_id = "prometheus_series",
    tag = "metrics",
    security(("bearer" = [])),
    params(
        ("match[]" = Vec<String>, Query, description = "Series selectors; at least one"),
        ("start" = Option<f64>, Query, description = "Seconds since the epoch"),
        ("end" = Option<f64>, Query, description = "Seconds since the epoch"),
    ),
    responses(
        (status = 200, description = "Label sets, in Prometheus' shape", content_type = "application/json", body = Object),
        (status = 400, description = "`errorType` `bad_data`", content_type = "application/json", body = Object),
        crate::api::Refusals,
        (status = 403, description = "The token is scoped to projects; metrics need a token for all projects", body = ErrorBody),
    ),
)]
pub(crate) async fn series(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let params = Params::read(raw, &method, &headers, &body);
    answer(
        async {
            let series = matching_series(&state, &params, false).await?;
            Ok(Value::Array(
                series
                    .iter()
                    .map(|labels| {
                        Value::Object(labels.iter().map(|(n, v)| (n.to_owned(), Value::String(v.to_owned()))).collect())
                    })
                    .collect(),
            ))
        }
        .await,
    )
}

/// `GET /prometheus/api/v1/labels`: label names.
#[utoipa::path(
    get,
    path = "/prometheus/api/v1/labels",
    operation_id = "prometheus_labels",
    tag = "metrics",
    security(("bearer" = [])),
    params(
        ("match[]" = Option<Vec<String>>, Query, description = "Series selectors; all series by default"),
        ("start" = Option<f64>, Query, description = "Seconds since the epoch"),
        ("end" = Option<f64>, Query, description = "Seconds since the epoch"),
    ),
    responses(
        (status = 200, description = "Label names, sorted", content_type = "application/json", body = Object),
        (status = 400, description = "`errorType` `bad_data`", content_type = "application/json", body = Object),
        crate::api::Refusals,
        (status = 403, description = "The token is scoped to projects; metrics need a token for all projects", body = ErrorBody),
    ),
)]
pub(crate) async fn labels(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let params = Params::read(raw, &method, &headers, &body);
    answer(
        async {
            let series = matching_series(&state, &params, true).await?;
            let names: BTreeSet<&str> = series.iter().flat_map(|labels| labels.iter().map(|(n, _)| n)).collect();
            Ok(json!(names))
        }
        .await,
    )
}

/// `GET /prometheus/api/v1/label/{name}/values`: the values of one label.
#[utoipa::path(
    get,
    path = "/prometheus/api/v1/label/{name}/values",
    operation_id = "prometheus_label_values",
    tag = "metrics",
    security(("bearer" = [])),
    params(
        ("name" = String, Path, description = "A label name (`__name__` for metric names)"),
        ("match[]" = Option<Vec<String>>, Query, description = "Series selectors; all series by default"),
        ("start" = Option<f64>, Query, description = "Seconds since the epoch"),
        ("end" = Option<f64>, Query, description = "Seconds since the epoch"),
    ),
    responses(
        (status = 200, description = "The label's values, sorted", content_type = "application/json", body = Object),
        (status = 400, description = "`errorType` `bad_data`", content_type = "application/json", body = Object),
        crate::api::Refusals,
        (status = 403, description = "The token is scoped to projects; metrics need a token for all projects", body = ErrorBody),
    ),
)]
pub(crate) async fn label_values(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let params = Params::read(raw, &method, &headers, &body);
    answer(
        async {
            let series = matching_series(&state, &params, true).await?;
            let values: BTreeSet<&str> = series.iter().filter_map(|labels| labels.get(&name)).collect();
            Ok(json!(values))
        }
        .await,
    )
}

/// The largest backfill taken in one call: the text is parsed whole in memory.
pub(crate) const MAX_IMPORT: usize = 256 * 1024 * 1024;

/// `POST /api/v1/metrics/import`: backfills OpenMetrics text (what `ferry metrics import`
/// sends), every sample with a timestamp, as `promtool tsdb create-blocks-from openmetrics`
/// takes it.
#[utoipa::path(
    post,
    path = "/api/v1/metrics/import",
    operation_id = "import_metrics",
    tag = "metrics",
    security(("bearer" = [])),
    request_body(content = String, content_type = "application/openmetrics-text", description = "OpenMetrics text ending with `# EOF`"),
    responses(
        (status = 200, description = "What was stored: `appended`, `out_of_order` and `duplicates` (not stored)", content_type = "application/json", body = Object),
        (status = 400, description = "The text is not OpenMetrics or a sample has no timestamp; the message names the line", body = ErrorBody),
        (status = 413, description = "The body is over 256 MiB: split the file"),
        crate::api::Refusals,
        crate::api::BelowAdmin,
    ),
)]
pub(crate) async fn import(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<ImportReport>, crate::api::ApiError> {
    use crate::api::ApiError;
    let text = String::from_utf8(body.to_vec()).map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))?;
    let db =
        store(&state).await.map_err(|error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()))?;
    let report: AppendReport = tokio::task::spawn_blocking(move || ferry_tsdb::import_openmetrics(&db, &text))
        .await
        .map_err(|error| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the import stopped: {error}")))?
        .map_err(|error| match error {
            ferry_tsdb::TsdbError::Invalid(message) => ApiError::bad_request(message),
            other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        })?;
    Ok(Json(ImportReport {
        appended: report.appended,
        out_of_order: report.out_of_order,
        duplicates: report.duplicates,
    }))
}

/// The `POST` forms Grafana sends (a form body instead of a query string): the same handlers.
pub(crate) mod post {
    use super::{AppState, Bytes, HeaderMap, Method, RawQuery, Response, State};

    /// `POST /prometheus/api/v1/query`: [`super::query`] with a form body.
    #[utoipa::path(
        post,
        path = "/prometheus/api/v1/query",
        operation_id = "prometheus_query_post",
        tag = "metrics",
        security(("bearer" = [])),
        request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`query`, `time`, as the GET form's parameters"),
        responses(
            (status = 200, description = "As the GET form", content_type = "application/json", body = Object),
            (status = 400, description = "`errorType` `bad_data`", content_type = "application/json", body = Object),
            (status = 422, description = "`errorType` `execution`", content_type = "application/json", body = Object),
            crate::api::Refusals,
            (status = 403, description = "The token is scoped to projects; metrics need a token for all projects", body = crate::api::ErrorBody),
        ),
    )]
    pub(crate) async fn query(
        state: State<AppState>,
        method: Method,
        headers: HeaderMap,
        raw: RawQuery,
        body: Bytes,
    ) -> Response {
        super::query(state, method, headers, raw, body).await
    }

    /// `POST /prometheus/api/v1/query_range`: [`super::query_range`] with a form body.
    #[utoipa::path(
        post,
        path = "/prometheus/api/v1/query_range",
        operation_id = "prometheus_query_range_post",
        tag = "metrics",
        security(("bearer" = [])),
        request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`query`, `start`, `end`, `step`, as the GET form's parameters"),
        responses(
            (status = 200, description = "As the GET form", content_type = "application/json", body = Object),
            (status = 400, description = "`errorType` `bad_data`", content_type = "application/json", body = Object),
            (status = 422, description = "`errorType` `execution`", content_type = "application/json", body = Object),
            crate::api::Refusals,
            (status = 403, description = "The token is scoped to projects; metrics need a token for all projects", body = crate::api::ErrorBody),
        ),
    )]
    pub(crate) async fn query_range(
        state: State<AppState>,
        method: Method,
        headers: HeaderMap,
        raw: RawQuery,
        body: Bytes,
    ) -> Response {
        super::query_range(state, method, headers, raw, body).await
    }

    /// `POST /prometheus/api/v1/series`: [`super::series`] with a form body.
    #[utoipa::path(
        post,
        path = "/prometheus/api/v1/series",
        operation_id = "prometheus_series_post",
        tag = "metrics",
        security(("bearer" = [])),
        request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`match[]`, `start`, `end`, as the GET form's parameters"),
        responses(
            (status = 200, description = "As the GET form", content_type = "application/json", body = Object),
            (status = 400, description = "`errorType` `bad_data`", content_type = "application/json", body = Object),
            crate::api::Refusals,
            (status = 403, description = "The token is scoped to projects; metrics need a token for all projects", body = crate::api::ErrorBody),
        ),
    )]
    pub(crate) async fn series(
        state: State<AppState>,
        method: Method,
        headers: HeaderMap,
        raw: RawQuery,
        body: Bytes,
    ) -> Response {
        super::series(state, method, headers, raw, body).await
    }
}
