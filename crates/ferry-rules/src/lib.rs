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
    Alert, AlertState, EvalOptions, GroupState, MemoryStorage, RuleState, RuleStorage, eval_group, restore_for_state,
};
pub use file::{Group, Rule, RuleFile, RuleFileError, RuleKind, load_rule_file, parse_rule_file};
pub use unittest::{RuleSource, TestReport, run_test_file};
