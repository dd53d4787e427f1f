//! The store through its public API: appends, queries through PromQL, blocks, retention,
//! reopening, and a writer killed with SIGKILL.

mod crash;
mod store;
