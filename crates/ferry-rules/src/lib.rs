//! Alerting and recording rules without IO, as Prometheus runs them.
//!
//! - [`file`]: the rule-file format (`groups:` of `record:`/`alert:` rules), every finding at
//!   a line and column.
//! - [`eval`]: a group evaluated at a time over a [`RuleStorage`] (`ferry-tsdb`, or
//!   [`MemoryStorage`]), the alert state kept in a [`GroupState`] the caller holds.
//! - [`template`]: the Go-template subset of labels and annotations (`{{ $labels.x }}`,
//!   `{{ $value | humanize }}`, …).
//! - [`unittest`]: promtool's rule unit tests, with promtool's report (`ferry rules test`).
//!
//! Times are milliseconds since the epoch, passed in; nothing here reads a clock.

pub mod duration;
pub mod eval;
pub mod file;
mod gofmt;
pub mod template;
pub mod unittest;

pub use eval::{
    Alert, AlertState, EvalOptions, GroupState, MemoryStorage, RuleError, RuleState, RuleStorage, eval_group,
};
pub use file::{Group, Rule, RuleFile, RuleFileError, RuleKind, load_rule_file, parse_rule_file};
pub use unittest::{RuleSource, TestReport, run_test_file};

/// A time as Prometheus' API writes it: RFC 3339 in UTC with the milliseconds there are
/// (`2024-01-01T00:00:00.5Z`); `0001-01-01T00:00:00Z` for no time.
pub fn rfc3339(ms: Option<i64>) -> String {
    let Some(time) = ms.and_then(chrono::DateTime::from_timestamp_millis) else {
        return "0001-01-01T00:00:00Z".to_owned();
    };
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A value as Prometheus' rules API writes an alert's: Go's `%e` shortest form (`1e+00`).
pub fn alert_value(v: f64) -> String {
    gofmt::float_upper_e(v).replace('E', "e")
}
