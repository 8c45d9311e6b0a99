//! Optional member passwords, hashed with argon2id (PHC strings, salt included).
//!
//! Each hash or check needs 19 MiB of working memory. It is taken from a small pool and given
//! back, never freed: allocated and freed per check on many blocking threads, glibc's malloc
//! kept it (scripts/soak saw an edge grow past 3 GiB under password logins).

use std::sync::{Mutex, OnceLock};

use argon2::password_hash::phc::{Output, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_LEN} characters")]
    TooShort,
    #[error("a password may have at most {MAX_LEN} characters")]
    TooLong,
    #[error("the password could not be hashed")]
    Hash,
}

pub const MIN_LEN: usize = 8;
/// Long inputs make argon2 no slower, but there is no reason to accept megabytes.
pub const MAX_LEN: usize = 1024;

/// Working memories kept for reuse; more than this many at once are allocated and freed.
const POOLED: usize = 4;

/// Runs `work` with an argon2 working memory of `blocks` blocks, from the pool.
fn with_memory<T>(blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    static POOL: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
    let taken = {
        let mut pool = match POOL.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        pool.iter()
            .position(|memory| memory.len() == blocks)
            .map(|at| pool.swap_remove(at))
    };
    let mut memory = taken.unwrap_or_else(|| vec![Block::default(); blocks]);
    let answer = work(&mut memory);
    let mut pool = match POOL.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if pool.len() < POOLED {
        pool.push(memory);
    }
    answer
}

/// Hashes a new password with argon2id, the default parameters and a random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
        .map_err(|_| PasswordError::Hash)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_memory(params.block_count(), |memory| {
        argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
    })
    .map_err(|_| PasswordError::Hash)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|_| PasswordError::Hash)?,
        salt: Some(Salt::new(&salt).map_err(|_| PasswordError::Hash)?),
        hash: Some(Output::new(&out).map_err(|_| PasswordError::Hash)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    if password.len() > MAX_LEN {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let hashed = with_memory(params.block_count(), |memory| {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory)
    });
    // Same length by construction; compared without an early exit.
    hashed.is_ok()
        && out.len() == expected.len()
        && out
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Spends the time of one verification, so that an unknown email and a wrong password take
/// equally long to refuse.
pub fn verify_against_nothing(password: &str) {
    let _ = verify(password, dummy());
}

/// The hash unknown emails are checked against, made once.
fn dummy() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("a password nobody has").unwrap_or_default())
}

/// Makes the dummy hash ahead of the first login, so that the first unknown email is not
/// slower than a wrong password.
pub fn warm() {
    let _ = dummy();
}

/// How many verifications run at once: half the cores (at least one), so that a flood of
/// password attempts leaves the other half to every other request.
pub fn concurrent_verifications() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Verifications that may wait for a turn per one running; past that, an attempt is refused
/// at once rather than queued behind a flood.
const WAITING_PER_RUNNING: usize = 16;

/// Caps the password verifications running at once, and the attempts waiting for a turn.
///
/// A turn is held by the verification itself, on its blocking thread: a client that hangs up
/// while its check runs does not free the turn early, and one that hangs up while waiting gives
/// its place in the queue back.
#[derive(Debug)]
pub struct Gate {
    running: std::sync::Arc<tokio::sync::Semaphore>,
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    max_waiting: usize,
    /// The most verifications ever seen running at once, for `/metrics`.
    pub peak: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    limit: usize,
}

/// Why an attempt did not get a turn.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// A place in the queue, given back however the wait ends.
struct Waiting(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Gate {
    pub fn new(limit: usize) -> Gate {
        Gate {
            running: std::sync::Arc::new(tokio::sync::Semaphore::new(limit)),
            waiting: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            max_waiting: limit * WAITING_PER_RUNNING,
            peak: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            limit,
        }
    }

    /// Runs `work` on a blocking thread once a turn is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, Full> {
        use std::sync::atomic::Ordering;
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Full);
        }
        let place = Waiting(self.waiting.clone());
        let permit = self.running.clone().acquire_owned().await;
        drop(place);
        let Ok(permit) = permit else {
            return Err(Full);
        };
        let running = self.limit - self.running.available_permits();
        self.peak.fetch_max(running, Ordering::SeqCst);
        let task = tokio::task::spawn_blocking(move || {
            let answer = work();
            drop(permit);
            answer
        });
        Ok(task.await.ok())
    }

    /// How many verifications may run at once.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many attempts wait for a turn now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let stored = hash("correct horse").expect("hashable");
        assert!(stored.starts_with("$argon2id$"));
        assert!(!stored.contains("correct horse"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horsf", &stored));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[tokio::test]
    async fn the_gate_runs_at_most_its_limit_and_refuses_past_its_queue() {
        let gate = std::sync::Arc::new(Gate::new(1));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = std::sync::Arc::new(std::sync::Mutex::new(wait));
        let mut tasks = Vec::new();
        for _ in 0..(1 + WAITING_PER_RUNNING) {
            let gate = gate.clone();
            let wait = wait.clone();
            tasks.push(tokio::spawn(async move {
                gate.run(move || {
                    let _ = wait.lock().unwrap().recv();
                })
                .await
            }));
        }
        // One runs and sixteen wait; the next is refused at once.
        while gate.waiting.load(std::sync::atomic::Ordering::SeqCst) < WAITING_PER_RUNNING
            || gate.peak.load(std::sync::atomic::Ordering::SeqCst) < 1
        {
            tokio::task::yield_now().await;
        }
        assert_eq!(gate.run(|| ()).await, Err(Full));
        for _ in 0..(1 + WAITING_PER_RUNNING) {
            release.send(()).unwrap();
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), Ok(Some(())));
        }
        assert_eq!(gate.peak.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn attempts_that_hang_up_give_their_place_and_turn_back_only_when_done() {
        let gate = std::sync::Arc::new(Gate::new(1));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        // One check runs (blocked) and its client hangs up: the turn stays taken.
        let running = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.run(move || {
                    let _ = wait.recv();
                })
                .await
            })
        };
        while gate.peak.load(std::sync::atomic::Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }
        running.abort();
        // Sixteen wait and hang up: each gives its place back.
        let mut waiting = Vec::new();
        for _ in 0..WAITING_PER_RUNNING {
            let gate = gate.clone();
            waiting.push(tokio::spawn(async move { gate.run(|| ()).await }));
        }
        while gate.waiting() < WAITING_PER_RUNNING {
            tokio::task::yield_now().await;
        }
        for task in &waiting {
            task.abort();
        }
        for task in waiting {
            let _ = task.await;
        }
        assert_eq!(gate.waiting(), 0, "no place leaked");
        assert_eq!(gate.running.available_permits(), 0, "the check still runs");
        release.send(()).unwrap();
        assert_eq!(
            gate.run(|| 7).await,
            Ok(Some(7)),
            "the turn came back when it ended"
        );
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_still_verify() {
        use argon2::password_hash::PasswordHasher;
        let stored = Argon2::default()
            .hash_password(b"correct horse")
            .unwrap()
            .to_string();
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horsf", &stored));
        // And ours verify with the crate's own checker.
        use argon2::password_hash::PasswordVerifier;
        let ours = hash("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
    }
}
