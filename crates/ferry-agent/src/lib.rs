//! `ferry agent`: runs the services of the environments the server places on this host.
//!
//! The agent only dials the server (`agent.rs`): it long-polls its desired state, reports what
//! runs every second (and at once on a change), ships its replicas' output (masked) and
//! fetches release files by digest (`releases.rs`). It keeps the last desired state and its
//! own runtime state in its directory (`dir.rs`, secrets sealed by `seal.rs`), so it serves
//! at once on start, before it reaches the server, and goes on serving while the server is
//! away.
//!
//! The supervisor (`supervisor.rs` + `supervisor/`) keeps, per unit (a service in an
//! environment), the replicas the desired state asks for: processes in their own process
//! groups with `$PORT`, health-checked (`health.rs`), restarted with backoff, replaced when
//! they drift, stopped with SIGTERM then SIGKILL. Replicas write their output to files in the
//! agent's directory and run in their own process groups, so they outlive the agent: a
//! restarted agent adopts the replicas whose pid is alive and whose port answers, and
//! restarts the others.
//!
//! Replicas of services with `metrics:` and the agent's own metrics (its proxies' counts) are
//! scraped and pushed to the server by remote write (`scrape.rs`).
//!
//! Services with `image:` run their replicas as Docker containers instead (`containers.rs`),
//! with the same `$PORT`, health checks, proxy and rollouts; they outlive the agent too, and
//! a restarted agent adopts them by their labels.

pub mod agent;
pub mod containers;
pub mod dir;
mod error;
pub mod health;
pub mod logs;
pub mod releases;
pub mod scrape;
pub mod seal;
pub mod supervisor;

pub use error::AgentError;

/// Milliseconds since the Unix epoch: the agent's clock for what it reports and keeps.
#[must_use]
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}
