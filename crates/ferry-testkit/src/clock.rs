//! [`FakeClock`]: a [`Clock`] a test sets and moves, so what depends on time (leases,
//! schedules, retention) is tested by moving the clock instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use ferry_model::Clock;

/// A clock that stands still until the test moves it; clones share the time.
#[derive(Debug, Clone)]
pub struct FakeClock {
    now_ms: Arc<AtomicI64>,
}

impl FakeClock {
    /// A clock showing `now_ms` (milliseconds since the Unix epoch).
    pub fn at(now_ms: i64) -> FakeClock {
        FakeClock { now_ms: Arc::new(AtomicI64::new(now_ms)) }
    }

    /// A clock showing the system's time now, which then stands still.
    pub fn at_system_time() -> FakeClock {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        FakeClock::at(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }

    /// Moves the clock on by `by`.
    pub fn advance(&self, by: Duration) {
        self.now_ms.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_time_and_it_moves_only_when_moved() {
        let clock = FakeClock::at(120_000);
        let seen_by_server = clock.clone();
        assert_eq!((seen_by_server.now_ms(), seen_by_server.now_minute()), (120_000, 2));
        clock.advance(Duration::from_secs(90));
        assert_eq!((seen_by_server.now_ms(), seen_by_server.now_minute()), (210_000, 3));
    }
}
