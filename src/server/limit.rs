//! Rate limits for the login endpoints: a token bucket per key ("ip:…", "pair:…"), kept in
//! memory in bounded space. Magic links are also capped per member in the database, which
//! every replica shares.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `burst` attempts at once, refilled at one per `every`, for at most `capacity` keys.
///
/// The keys live in two generations: when the current one holds half the capacity it becomes
/// the previous one, and the previous one is dropped. A check costs one or two map lookups
/// whatever the number of keys, and a flood of new keys (100k addresses) cannot grow memory
/// past the capacity. A key forgotten this way starts again with a full bucket, which only
/// matters for a key unused while `capacity / 2` others were made.
#[derive(Debug)]
pub struct Limiter {
    burst: f64,
    every: Duration,
    capacity: usize,
    state: Mutex<Generations>,
}

#[derive(Debug, Default)]
struct Generations {
    current: HashMap<String, Bucket>,
    previous: HashMap<String, Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    pub fn new(burst: u32, every: Duration, capacity: usize) -> Limiter {
        Limiter {
            burst: f64::from(burst),
            every,
            capacity: capacity.max(2),
            state: Mutex::new(Generations::default()),
        }
    }

    /// Takes one attempt for `key`; `Err(seconds)` says how long until the next is allowed.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), u64> {
        let mut state = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let found = match state.current.get(key) {
            Some(bucket) => Some(*bucket),
            None => state.previous.remove(key),
        };
        let mut bucket = refill(
            found.unwrap_or(Bucket {
                tokens: self.burst,
                at: now,
            }),
            now,
            self.burst,
            self.every,
        );
        let answer = if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err((missing * self.every.as_secs_f64()).ceil().max(1.0) as u64)
        };
        state.current.insert(key.to_owned(), bucket);
        if state.current.len() >= self.capacity / 2 {
            state.previous = std::mem::take(&mut state.current);
        }
        answer
    }

    /// How many keys are remembered now (at most the capacity).
    pub fn len(&self) -> usize {
        let state = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        state.current.len() + state.previous.len()
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

/// The address a limit counts against: IPv4 as it is, IPv6 by its /64. One IPv6 subscriber
/// usually holds a whole /64 and can pick a new address in it for every request.
pub fn address_bucket(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(segments))
            }
        },
    }
}

/// The network an address belongs to for coarser limits: IPv4 by /24, IPv6 by /48 (what one
/// holder is commonly given, and what a free tunnel broker hands out).
pub fn network_of(address: IpAddr) -> IpAddr {
    match address_bucket(address) {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[3..].fill(0);
            IpAddr::V6(Ipv6Addr::from(segments))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_until_refilled() {
        let limiter = Limiter::new(3, Duration::from_secs(10), 100);
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

    #[test]
    fn a_flood_of_new_keys_stays_within_the_capacity() {
        let limiter = Limiter::new(3, Duration::from_secs(10), 1_000);
        let start = Instant::now();
        for n in 0..100_000 {
            assert!(limiter.check(&format!("ip:{n}"), start).is_ok());
            assert!(limiter.len() <= 1_000);
        }
    }

    #[test]
    fn a_key_in_use_survives_a_generation_change() {
        let limiter = Limiter::new(2, Duration::from_secs(3600), 10);
        let start = Instant::now();
        limiter.check("victim", start).unwrap();
        limiter.check("victim", start).unwrap();
        // Four new keys fill the current generation and push "victim" into the previous one.
        for n in 0..4 {
            limiter.check(&format!("k{n}"), start).unwrap();
        }
        assert!(
            limiter.check("victim", start).is_err(),
            "its empty bucket was kept"
        );
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_bucket(a), address_bucket(b));
        assert_ne!(address_bucket(a), address_bucket(other));
        let far: IpAddr = "2001:db8:1:ffff::1".parse().unwrap();
        assert_eq!(network_of(a), network_of(far), "one /48");
        assert_eq!(
            network_of("192.0.2.7".parse().unwrap()),
            "192.0.2.0".parse::<IpAddr>().unwrap()
        );
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            address_bucket(mapped),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}
