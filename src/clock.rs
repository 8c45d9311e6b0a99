//! The time the edge's background work goes by: the system clock, which a test may move ahead so
//! that a scheduled transition (a pending cancel ending, an expiry) comes when the test says,
//! not a few seconds after the test began and a loaded machine may or may not have caught up.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::{SignedDuration, Timestamp};

/// The system clock, plus however far a test moved it ahead (never back).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    ahead_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        let real = Timestamp::now();
        let ahead = SignedDuration::from_secs(self.ahead_seconds.load(Ordering::Relaxed));
        real.checked_add(ahead).unwrap_or(real)
    }

    /// Moves the clock ahead by `by` (whole seconds); every clone of it moves together.
    pub fn advance(&self, by: SignedDuration) {
        let by = by.as_secs().max(0);
        // Saturating: a clock moved absurdly far stays there rather than wrapping back.
        let _ = self
            .ahead_seconds
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |ahead| {
                Some(ahead.saturating_add(by))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_moved_ahead_stays_ahead_of_the_system_clock() {
        let clock = Clock::default();
        let shared = clock.clone();
        shared.advance(SignedDuration::from_hours(2));
        let gap = clock.now().duration_since(Timestamp::now());
        assert!(gap >= SignedDuration::from_secs(7199), "{gap:?}");
        clock.advance(SignedDuration::from_secs(-100));
        assert!(clock.now().duration_since(Timestamp::now()) >= SignedDuration::from_secs(7199));
    }
}
