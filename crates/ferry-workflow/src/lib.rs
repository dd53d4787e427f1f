//! The workflow language: GitHub Actions YAML read with positions, checked, and turned into a
//! [`model::Workflow`] together with every [`Diagnostic`] found in one pass.
//!
//! Nothing here does IO: callers pass file contents in, and whatever needs the outside world
//! while an expression is evaluated (`hashFiles`) goes through [`expr::Context`].

mod check;
pub mod diagnostic;
pub mod expr;
pub mod filter;
pub mod model;
mod parse;
pub mod span;
mod suggest;
mod yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use model::{Action, Workflow};
pub use parse::{Dialect, parse_action, parse_workflow};
pub use span::{Pos, Span};
