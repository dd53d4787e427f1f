//! What a query returns, and its JSON as Prometheus' HTTP API writes it (`resultType` vector,
//! matrix, scalar or string; errors with `errorType`).

use crate::labels::Labels;
use serde_json::{Value as Json, json};

/// One sample of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantSample {
    pub labels: Labels,
    /// Milliseconds since the epoch: the evaluation time.
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector (matrix).
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    /// `(milliseconds, value)`, ascending.
    pub points: Vec<(i64, f64)>,
}

/// The result of a query.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryValue {
    Scalar {
        t: i64,
        v: f64,
    },
    String {
        t: i64,
        s: String,
    },
    Vector(Vec<InstantSample>),
    /// Series sorted by labels.
    Matrix(Vec<RangeSeries>),
}

/// Why a query failed, by the `errorType` Prometheus reports.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query text or a parameter is wrong (HTTP 400).
    #[error("{0}")]
    BadData(String),
    /// The query is valid but cannot be evaluated on this data (HTTP 422).
    #[error("{0}")]
    Execution(String),
    /// The store failed (HTTP 500).
    #[error("{0}")]
    Internal(String),
}

impl QueryError {
    /// Prometheus' `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) => "execution",
            QueryError::Internal(_) => "internal",
        }
    }

    /// The HTTP status Prometheus answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            QueryError::BadData(_) => 400,
            QueryError::Execution(_) => 422,
            QueryError::Internal(_) => 500,
        }
    }

    /// `{"status":"error","errorType":…,"error":…}`.
    pub fn to_json(&self) -> Json {
        json!({"status": "error", "errorType": self.error_type(), "error": self.to_string()})
    }
}

/// A value as Prometheus writes it: the shortest decimal that reads back the same, `NaN`,
/// `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

/// A timestamp as Prometheus writes it: seconds, with the milliseconds as decimals.
fn timestamp_json(t: i64) -> Json {
    // Milliseconds divided by 1000 read back to the same decimal text Prometheus writes.
    serde_json::Number::from_f64(t as f64 / 1000.0).map_or(Json::Null, Json::Number)
}

fn point_json(t: i64, v: f64) -> Json {
    json!([timestamp_json(t), format_value(v)])
}

fn labels_json(labels: &Labels) -> Json {
    Json::Object(labels.iter().map(|(n, v)| (n.to_owned(), Json::String(v.to_owned()))).collect())
}

impl QueryValue {
    /// Prometheus' `resultType`.
    pub fn result_type(&self) -> &'static str {
        match self {
            QueryValue::Scalar { .. } => "scalar",
            QueryValue::String { .. } => "string",
            QueryValue::Vector(_) => "vector",
            QueryValue::Matrix(_) => "matrix",
        }
    }

    /// The `data` object: `{"resultType":…,"result":…}`.
    pub fn data_json(&self) -> Json {
        let result = match self {
            QueryValue::Scalar { t, v } => point_json(*t, *v),
            QueryValue::String { t, s } => json!([timestamp_json(*t), s]),
            QueryValue::Vector(samples) => Json::Array(
                samples
                    .iter()
                    .map(|sample| json!({"metric": labels_json(&sample.labels), "value": point_json(sample.t, sample.v)}))
                    .collect(),
            ),
            QueryValue::Matrix(series) => Json::Array(
                series
                    .iter()
                    .map(|series| {
                        let values: Vec<Json> = series.points.iter().map(|(t, v)| point_json(*t, *v)).collect();
                        json!({"metric": labels_json(&series.labels), "values": values})
                    })
                    .collect(),
            ),
        };
        json!({"resultType": self.result_type(), "result": result})
    }

    /// The whole response body: `{"status":"success","data":{…}}`.
    pub fn to_json(&self) -> Json {
        json!({"status": "success", "data": self.data_json()})
    }
}
