//! The store through its public API: appends, queries through PromQL, blocks, retention,
//! reopening, a writer killed with SIGKILL, and PromQL answers compared with a real Prometheus
//! (Debian's `prometheus` package) on the same imported data.

mod crash;
mod prometheus;
mod store;
