//! Continuous delivery as pure logic: the `.ferry/deploy.yml` language and, built on it, what
//! the server and the agent decide about a deployment. Nothing here does IO; time comes in as
//! milliseconds since the epoch (`now: i64`).
//!
//! - [`compile`] reads and checks a `deploy.yml` like `ferry_workflow::parse_workflow` reads a
//!   workflow: it never fails, and returns the [`DeploySpec`] it could build with every
//!   [`Diagnostic`] (file:line:col, a stable code, a help).
//! - [`spec`] is the checked model with its defaults, and the conversions to the agent
//!   protocol's `Unit` and `DeploymentOrder`.
//! - [`rollout`] is the machine that carries out one deployment (recreate, rolling,
//!   blue-green, canary; health, start timeouts and [`analysis`] deciding a rollback): the
//!   agent steps a [`Rollout`] with what it observes and applies the [`Plan`] it returns.
//! - [`queries`] judges `analysis.queries` (PromQL with success and failure conditions) from
//!   the results the server measures; their verdict reaches the rollout in its observation.
//! - [`slo`] compiles a service's `slos:` into the PromQL of their error ratios, the rule
//!   groups that record them and alert on fast and slow burns, and the error budget left.
//! - [`plan()`] lists, like `terraform plan`, what converging desired units would change.
//!
//! ```
//! let src = "environments:\n  staging: { auto-deploy: true }\nservices:\n  web:\n    run: python3 server.py\n    deploy:\n      staging: { port: 8001, strategy: rollin }\n";
//! let (spec, diagnostics) = ferry_deploy::compile(src);
//! assert!(spec.is_some());
//! let found: Vec<String> =
//!     diagnostics.iter().map(|d| format!("{} {}: {}", d.span.start, d.code, d.message)).collect();
//! assert_eq!(found, ["7:40 unknown-strategy: unknown strategy `rollin` in the deploy of `web` to `staging`"]);
//! ```

pub mod analysis;
mod check;
pub mod duration;
mod parse;
pub mod plan;
pub mod queries;
pub mod rollout;
pub mod slo;
pub mod spec;

pub use ferry_workflow::{Diagnostic, Severity, Span};
pub use parse::{InvalidDeployFile, compile, compile_valid};
pub use plan::{Change, ChangeAction, plan};
pub use rollout::{Observation, ObservedReplica, Plan, ReleaseCount, ReleaseWeight, Rollout};
pub use slo::{Sli, Slo};
pub use spec::{DeploySpec, Environment, ErrorBudgetPolicy, ReleaseRule, Service, ServiceDeploy};
