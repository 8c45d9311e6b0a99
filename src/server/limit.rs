//! Rate limits for the login endpoints: a token bucket per key ("ip:…", "email:…"), kept in
//! memory. Magic links are also capped per member in the database, which every replica shares.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `burst` attempts at once, refilled at one per `every`.
#[derive(Debug)]
pub struct Limiter {
    burst: f64,
    every: Duration,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Past this many keys, full buckets are dropped: they hold nothing a fresh one would not.
const PRUNE_AT: usize = 10_000;

impl Limiter {
    pub fn new(burst: u32, every: Duration) -> Limiter {
        Limiter {
            burst: f64::from(burst),
            every,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt for `key`; `Err(seconds)` says how long until the next is allowed.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut buckets = match self.buckets.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() > PRUNE_AT {
            let (burst, every) = (self.burst, self.every);
            buckets.retain(|_, b| refill(*b, now, burst, every).tokens < burst);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        *bucket = refill(*bucket, now, self.burst, self.every);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err((missing * self.every.as_secs_f64()).ceil().max(1.0) as u64)
        }
    }
}

fn refill(bucket: Bucket, now: Instant, burst: f64, every: Duration) -> Bucket {
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    let gained = elapsed / every.as_secs_f64().max(f64::EPSILON);
    Bucket {
        tokens: (bucket.tokens + gained).min(burst),
        at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_until_refilled() {
        let limiter = Limiter::new(3, Duration::from_secs(10));
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("ip:1", start).is_ok());
        }
        assert_eq!(limiter.check("ip:1", start), Err(10));
        assert!(limiter.check("ip:2", start).is_ok(), "keys are separate");
        assert!(
            limiter
                .check("ip:1", start + Duration::from_secs(10))
                .is_ok()
        );
    }
}
