//! PromQL without IO: a query is parsed by the maintained `promql-parser` crate and evaluated
//! here, step by step as Prometheus' engine does, over any [`Storage`] that can select series
//! by matchers over a time range (`ferry-tsdb`'s store, or a vector in tests).
//!
//! - [`instant_query`] and [`range_query`] give a [`QueryValue`]; [`QueryValue::to_json`] and
//!   [`QueryError::to_json`] give the HTTP API's bodies as Prometheus writes them.
//! - [`exposition`] parses the Prometheus text format and OpenMetrics (scrapes, backfills).
//!
//! Times are milliseconds since the epoch, passed in; nothing here reads a clock.

mod eval;
pub mod exposition;
mod labels;
pub mod remote_write;
pub mod scrape;
mod storage;
mod value;

pub use eval::{QueryOptions, instant_query, range_query};
pub use labels::Labels;
pub use promql_parser::label::{MatchOp, Matcher};
pub use storage::{STALE_NAN_BITS, Series, Storage, StorageError, is_stale_nan, stale_nan};
pub use value::{InstantSample, QueryError, QueryValue, RangeSeries, format_value};

/// Checks that `text` is a PromQL expression, as a rule file's `expr` must be.
///
/// # Errors
/// [`QueryError::BadData`] with the parser's message.
pub fn parse_expr(text: &str) -> Result<(), QueryError> {
    promql_parser::parser::parse(text).map(|_| ()).map_err(QueryError::BadData)
}

/// Parses matchers as the `match[]` parameter of the series API takes them (`up{job="a"}`).
///
/// # Errors
/// The parser's message when the text is not a vector selector.
pub fn parse_selector(text: &str) -> Result<Vec<Matcher>, QueryError> {
    match promql_parser::parser::parse(text) {
        Ok(promql_parser::parser::Expr::VectorSelector(selector)) => Ok(eval::selector_matchers(&selector)),
        Ok(_) => Err(QueryError::BadData(format!("{text:?} is not a series selector, like up{{job=\"api\"}}"))),
        Err(message) => Err(QueryError::BadData(message)),
    }
}
