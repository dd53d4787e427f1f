//! Time as an argument: the [`Clock`] a host reads the time from. Logic never reads a clock
//! itself; the binary passes the system's, tests pass one they move (`ferry_testkit::FakeClock`),
//! so a test waits for nothing and states the time it means.

use std::fmt::Debug;

/// Where the time comes from.
pub trait Clock: Debug + Send + Sync {
    /// Milliseconds since the Unix epoch, the unit the store keeps times in.
    fn now_ms(&self) -> i64;

    /// The current minute since the Unix epoch (what `on.schedule` crons are matched against).
    fn now_minute(&self) -> i64 {
        self.now_ms().div_euclid(60_000)
    }
}
