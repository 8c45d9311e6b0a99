//! A one-second cache of session → (member, history) for the keys endpoint. Reading SQLite
//! through sqlx costs a few thread hand-offs per query, which is most of a `/keys` request
//! (BENCHMARKS.md). Decisions are still made at `now` on every request; only the stored history
//! may be up to `TTL` old. Changes made through this server (admin events, logout) clear the
//! member's entries at once; changes made elsewhere (the `members` CLI, another replica) show
//! within `TTL`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::store::StoredEvent;

pub const TTL: Duration = Duration::from_secs(1);
/// Past this many sessions, stale entries are dropped before adding one.
const PRUNE_AT: usize = 50_000;

pub type History = Arc<Vec<StoredEvent>>;

#[derive(Debug, Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, (Instant, i64, History)>>,
    /// Moves on every forget: a history read before a logout is not put back after it.
    generation: std::sync::atomic::AtomicU64,
}

impl SessionCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (Instant, i64, History)>> {
        match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn get(&self, token_hash: &str, now: Instant) -> Option<(i64, History)> {
        let entries = self.lock();
        let (at, member, history) = entries.get(token_hash)?;
        (now.saturating_duration_since(*at) < TTL).then(|| (*member, history.clone()))
    }

    /// The generation to hand to `put` for a history about to be read.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Remembers a history read at `generation`, unless something was forgotten since.
    pub fn put(
        &self,
        token_hash: String,
        member: i64,
        history: History,
        now: Instant,
        generation: u64,
    ) {
        let mut entries = self.lock();
        if self.generation() != generation {
            return;
        }
        if entries.len() >= PRUNE_AT {
            entries.retain(|_, (at, _, _)| now.saturating_duration_since(*at) < TTL);
        }
        entries.insert(token_hash, (now, member, history));
    }

    pub fn forget_session(&self, token_hash: &str) {
        let mut entries = self.lock();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        entries.remove(token_hash);
    }

    pub fn forget_member(&self, member: i64) {
        let mut entries = self.lock();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        entries.retain(|_, (_, id, _)| *id != member);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let cache = SessionCache::default();
        let start = Instant::now();
        cache.put(
            "a".into(),
            1,
            Arc::new(Vec::new()),
            start,
            cache.generation(),
        );
        cache.put(
            "b".into(),
            2,
            Arc::new(Vec::new()),
            start,
            cache.generation(),
        );
        assert!(cache.get("a", start).is_some());
        assert!(cache.get("a", start + TTL).is_none(), "stale after the TTL");
        cache.forget_member(2);
        assert!(cache.get("b", start).is_none());
        cache.forget_session("a");
        assert!(cache.get("a", start).is_none());
    }

    #[test]
    fn a_history_read_before_a_logout_is_not_put_back_after_it() {
        let cache = SessionCache::default();
        let start = Instant::now();
        let read_at = cache.generation();
        cache.forget_member(1);
        cache.put("a".into(), 1, Arc::new(Vec::new()), start, read_at);
        assert!(cache.get("a", start).is_none());
    }
}
