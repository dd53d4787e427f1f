//! The workflow language: GitHub Actions YAML read with positions, checked, and turned into a
//! [`model::Workflow`] together with every [`Diagnostic`] found in one pass.
//!
//! Nothing here does IO: callers pass file contents in, and whatever needs the outside world
//! while an expression is evaluated (`hashFiles`) goes through [`expr::Context`].
//!
//! - [`parse_workflow`] and [`parse_action`] never fail: they return the best model they could
//!   build and every [`Diagnostic`], sorted by position.
//! - [`model`] is what the engine consumes; every user-written string is a [`model::Text`] with
//!   the [`Span`] of its YAML scalar.
//! - [`filter`] decides whether a workflow's `on:` accepts an event (branch, tag and path
//!   filters).
//!
//! ```
//! use ferry_workflow::{Dialect, parse_workflow};
//!
//! let src = "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    stepz: []\n";
//! let (workflow, diagnostics) = parse_workflow(src, Dialect::for_path(".github/workflows/ci.yml"));
//! assert!(workflow.is_some());
//! let found: Vec<String> =
//!     diagnostics.iter().map(|d| format!("{} {}: {}", d.span.start, d.code, d.message)).collect();
//! assert_eq!(found, ["5:5 unknown-key: unknown key `stepz` in job `build`"]);
//! ```

mod check;
pub mod diagnostic;
pub mod expr;
pub mod filter;
pub mod model;
mod parse;
pub mod schedule;
pub mod span;
pub mod suggest;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use model::{Action, Workflow};
pub use parse::{Dialect, parse_action, parse_workflow};
pub use span::{Pos, Span};
