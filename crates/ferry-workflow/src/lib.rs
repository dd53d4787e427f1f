//! The workflow language: GitHub Actions YAML read with positions, checked, and turned into a
//! [`model::Workflow`] together with every [`Diagnostic`] found in one pass.
//!
//! Nothing here does IO: callers pass file contents in, and whatever needs the outside world
//! while an expression is evaluated (`hashFiles`) goes through [`expr::Context`].

pub mod diagnostic;
pub mod expr;
pub mod span;

pub use diagnostic::{Diagnostic, Severity};
pub use span::{Pos, Span};
