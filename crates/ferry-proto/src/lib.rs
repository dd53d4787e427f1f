//! The JSON bodies of Ferry's HTTP API and of the runner protocol. The server answers with
//! these, `ferry-client` reads them, and the runner speaks the protocol with them, so the
//! three cannot drift apart. Times are milliseconds since the Unix epoch; conclusions are
//! GitHub's words (`success`, `failure`, `cancelled`, `skipped`, `neutral`).

pub mod access;
pub mod agent;
pub mod alerts;
pub mod artifacts;
pub mod deployments;
pub mod dora;
pub mod log_stream;
pub mod metrics;
pub mod names;
pub mod releases;
pub mod runner;
pub mod runs;
pub mod runtime;
pub mod slos;

pub use ferry_model::{Conclusion, Status};
