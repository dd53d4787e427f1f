//! ferry-agent's integration tests: real replicas (a small Python 3 HTTP service), a real
//! proxy on loopback, the agent's real directory; the supervisor driven tick by tick, or the
//! whole agent in this process.

mod harness;
mod metrics;
mod server;
mod serving;
mod supervising;
