//! The Prometheus HTTP API under `/prometheus` (as Grafana Mimir mounts it), so Grafana can use
//! `http://ferry:8080/prometheus` as a Prometheus data source: `query`, `query_range`,
//! `series`, `labels`, `label/{name}/values`, with Prometheus' parameters, JSON and error
//! shapes, answered by `ferry-promql` over the store in `<data_dir>/metrics` (`ferry-tsdb`),
//! opened at the first call. `POST /api/v1/metrics/import` backfills OpenMetrics text into it.
//! With `[metrics] query_backend` the query routes are answered by that Prometheus-compatible
//! API instead ([`QueryBackend`]).
//!
//! Parameters come from the query string or, for `POST`, a form body, as Prometheus takes
//! them; times are seconds since the epoch (decimals allowed) or RFC 3339 is refused with a
//! message; a step is seconds or a duration like `30s`.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_promql::{Labels, Matcher, QueryError, QueryOptions, RangeSeries};
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

/// Stores samples (synced to the store's log before it returns) and queues them for
/// `[metrics.remote_write]` when the server forwards: the one way samples enter the store,
/// but for a backfill (`import`), which is not forwarded.
pub(crate) async fn append(state: &AppState, samples: Vec<(Labels, i64, f64)>) -> Result<AppendReport, QueryError> {
    let db = store(state).await?;
    let forwarder = state.forwarder.clone();
    tokio::task::spawn_blocking(move || {
        let report = db.append(&samples).map_err(|error| QueryError::Internal(error.to_string()))?;
        if let Some(forwarder) = forwarder {
            forwarder.offer(&samples);
        }
        Ok(report)
    })
    .await
    .map_err(|error| QueryError::Internal(format!("storing the samples stopped: {error}")))?
}

/// `[metrics] query_backend`: a Prometheus-compatible API (Prometheus, Mimir's
/// `/prometheus`, VictoriaMetrics) that answers the query routes instead of the store, so
/// Grafana pointed at Ferry sees what the backend holds (everything Ferry forwarded, and
/// more).
pub(crate) struct QueryBackend {
    /// Without a trailing `/`; the calls' paths (`/api/v1/query`) are added to it.
    url: String,
    http: crate::outbound::Outbound,
}

/// How long a query may take on the backend.
const BACKEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl QueryBackend {
    pub(crate) fn new(url: &str) -> QueryBackend {
        QueryBackend {
            url: url.trim_end_matches('/').to_owned(),
            http: crate::outbound::client(std::time::Duration::from_secs(10)),
        }
    }

    /// The call `path` (`/api/v1/query`) with `params`, answered by the backend: its status,
    /// `Content-Type` and body as they come; 503 in Prometheus' error shape when it does not
    /// answer.
    async fn answer(&self, path: &str, params: &Params) -> Response {
        match self.call(path, params).await {
            Ok((status, content_type, body)) => {
                let mut response = (status, body).into_response();
                if let Some(content_type) = content_type {
                    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
                }
                response
            }
            Err(BackendError::Unavailable(reason) | BackendError::Refused { error: reason, .. }) => {
                let body = json!({"status": "error", "errorType": "unavailable", "error": reason});
                (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
            }
        }
    }

    /// A range query for the metrics explorer: the matrix.
    ///
    /// # Errors
    /// [`BackendError`]: the backend did not answer, refused the query, or answered something
    /// else than a matrix.
    pub(crate) async fn range_query(
        &self,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<RangeSeries>, BackendError> {
        let seconds = |ms: i64| format!("{}", ms as f64 / 1000.0);
        let params = Params(vec![
            ("query".to_owned(), query.to_owned()),
            ("start".to_owned(), seconds(start)),
            ("end".to_owned(), seconds(end)),
            ("step".to_owned(), seconds(step)),
        ]);
        let (_, _, body) = self.call("/api/v1/query_range", &params).await?;
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|error| BackendError::Unavailable(format!("the backend's answer is not JSON: {error}")))?;
        if answer["status"] != "success" {
            return Err(BackendError::Refused {
                error_type: answer["errorType"].as_str().unwrap_or("error").to_owned(),
                error: answer["error"].as_str().unwrap_or_default().to_owned(),
            });
        }
        let not_matrix = || BackendError::Unavailable("the backend answered a range query without a matrix".to_owned());
        let result = answer["data"]["result"].as_array().ok_or_else(not_matrix)?;
        result
            .iter()
            .map(|series| {
                let metric = series["metric"].as_object().ok_or_else(not_matrix)?;
                let labels = Labels::new(
                    metric.iter().map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned())),
                );
                let points = series["values"]
                    .as_array()
                    .ok_or_else(not_matrix)?
                    .iter()
                    .filter_map(|point| {
                        let t = point[0].as_f64()?;
                        let value = point[1].as_str()?.parse::<f64>().ok()?;
                        Some(((t * 1000.0).round() as i64, value))
                    })
                    .collect();
                Ok(RangeSeries { labels, points })
            })
            .collect()
    }

    /// Sends the call to the backend: its answer's status, `Content-Type` and body.
    ///
    /// # Errors
    /// [`BackendError::Unavailable`] when it did not answer.
    async fn call(
        &self,
        path: &str,
        params: &Params,
    ) -> Result<(StatusCode, Option<HeaderValue>, Bytes), BackendError> {
        let form = params.encode();
        let url = format!("{}{path}", self.url);
        let unavailable = |reason: String| BackendError::Unavailable(format!("the query backend {url}: {reason}"));
        // Label values are GET only in Prometheus' API; the rest take a form, which keeps
        // long queries out of the URL.
        let request = if path.ends_with("/values") {
            let separator = if form.is_empty() { "" } else { "?" };
            axum::http::Request::get(format!("{url}{separator}{form}")).body(http_body_util::Full::new(Bytes::new()))
        } else {
            axum::http::Request::post(&url)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(http_body_util::Full::new(Bytes::from(form)))
        };
        let request = request.map_err(|error| unavailable(format!("the URL cannot be used: {error}")))?;
        let exchange = async {
            let response =
                self.http.request(request).await.map_err(|error| unavailable(crate::outbound::chain(&error)))?;
            let status = response.status();
            let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .map_err(|error| unavailable(format!("reading the answer: {error}")))?
                .to_bytes();
            Ok((status, content_type, body))
        };
        tokio::time::timeout(BACKEND_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(unavailable(format!("no answer within {BACKEND_TIMEOUT:?}"))))
    }
}

/// Why the query backend gave no answer to use.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackendError {
    /// It did not answer, or not in Prometheus' shape.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// It refused the query, as Prometheus says (`bad_data`, `execution`, …).
    #[error("{error_type}: {error}")]
    Refused { error_type: String, error: String },
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

    /// The parameters as a query string or form body.
    fn encode(&self) -> String {
        const COMPONENT: &percent_encoding::AsciiSet =
            &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
        let encode = |text: &str| percent_encoding::utf8_percent_encode(text, COMPONENT).to_string();
        self.0.iter().map(|(name, value)| format!("{}={}", encode(name), encode(value))).collect::<Vec<_>>().join("&")
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
        (status = 503, description = "`errorType` `unavailable`: the query backend (`[metrics] query_backend`) did not answer", content_type = "application/json", body = Object),
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
    if let Some(backend) = &state.query_backend {
        return backend.answer("/api/v1/query", &params).await;
    }
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
        (status = 503, description = "`errorType` `unavailable`: the query backend (`[metrics] query_backend`) did not answer", content_type = "application/json", body = Object),
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
    if let Some(backend) = &state.query_backend {
        return backend.answer("/api/v1/query_range", &params).await;
    }
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
        (status = 503, description = "`errorType` `unavailable`: the query backend (`[metrics] query_backend`) did not answer", content_type = "application/json", body = Object),
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
    if let Some(backend) = &state.query_backend {
        return backend.answer("/api/v1/series", &params).await;
    }
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
        (status = 503, description = "`errorType` `unavailable`: the query backend (`[metrics] query_backend`) did not answer", content_type = "application/json", body = Object),
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
    if let Some(backend) = &state.query_backend {
        return backend.answer("/api/v1/labels", &params).await;
    }
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
        (status = 503, description = "`errorType` `unavailable`: the query backend (`[metrics] query_backend`) did not answer", content_type = "application/json", body = Object),
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
    if let Some(backend) = &state.query_backend {
        let path = format!(
            "/api/v1/label/{}/values",
            percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC)
        );
        return backend.answer(&path, &params).await;
    }
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
            (status = 503, description = "`errorType` `unavailable`: the query backend (`[metrics] query_backend`) did not answer", content_type = "application/json", body = Object),
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
            (status = 503, description = "`errorType` `unavailable`: the query backend (`[metrics] query_backend`) did not answer", content_type = "application/json", body = Object),
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
            (status = 503, description = "`errorType` `unavailable`: the query backend (`[metrics] query_backend`) did not answer", content_type = "application/json", body = Object),
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
