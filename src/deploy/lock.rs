//! One deploy at a time per target. Two deploys planning from the same manifest would each
//! write their own idea of what the target holds, leaving files no manifest knows of, or
//! deleting what the other just published. A deploy that changes anything first takes a lease
//! (`.gatehouse-deploy.lock`), renews it while it works and removes it when done.
//!
//! Object stores have no locks, so the lease is taken by writing it, waiting a moment, and
//! reading it back: of two deploys starting together, the one whose write landed last wins
//! and the other sees it and stops. A lease not renewed for [`LEASE`] seconds (its deploy was
//! killed on another machine) is free; one held by a process that is gone from this machine
//! is free at once.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::DeployError;
use super::headers::Headers;
use super::target::Target;

pub const LOCK_KEY: &str = ".gatehouse-deploy.lock";
/// How long a lease holds without renewal.
pub const LEASE: i64 = 90;
/// How often a running deploy renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);
/// How long to wait between writing the lease and reading it back.
const SETTLE: Duration = Duration::from_millis(300);

/// What the lease holds, in plain JSON: who holds it and until when. It sits in the served
/// prefix, so it names no file of the site (DESIGN §4 leak rule); its fields are all there is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// Unix seconds.
    pub started: i64,
    pub expires: i64,
}

/// A lease this deploy holds.
pub struct Lock {
    holder: Holder,
}

impl Holder {
    fn describe(&self) -> String {
        format!(
            "{} (process {}) since {}",
            self.host,
            self.pid,
            instant(self.started)
        )
    }

    /// Whether this lease still keeps others out at `now`: it has not lapsed, and its process
    /// is not known to be gone.
    fn holds(&self, now: i64) -> bool {
        let gone = self.host == host_name() && !process_alive(self.pid);
        self.expires > now && !gone
    }
}

fn instant(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds).map_or_else(|_| seconds.to_string(), |t| t.to_string())
}

fn headers() -> Headers {
    Headers {
        content_type: "application/json".to_owned(),
        cache_control: "no-store".to_owned(),
    }
}

async fn read_holder<T: Target>(target: &T) -> Result<Option<Holder>, DeployError> {
    Ok(target
        .get(LOCK_KEY)
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

async fn write_holder<T: Target>(target: &T, holder: &Holder) -> Result<(), DeployError> {
    let bytes = serde_json::to_vec(holder).expect("strings and numbers always serialize");
    target
        .put(LOCK_KEY, bytes, None, &headers())
        .await
        .map_err(DeployError::from)
}

/// Takes the target's lease, or says who holds it.
pub async fn acquire<T: Target>(target: &T, name: &str) -> Result<Lock, DeployError> {
    let now = jiff::Timestamp::now().as_second();
    if let Some(other) = read_holder(target).await?
        && other.holds(now)
    {
        return Err(locked(name, &other));
    }
    let holder = Holder {
        id: random_id(),
        host: host_name(),
        pid: std::process::id(),
        started: now,
        expires: now + LEASE,
    };
    write_holder(target, &holder).await?;
    tokio::time::sleep(SETTLE).await;
    match read_holder(target).await? {
        Some(found) if found.id == holder.id => Ok(Lock { holder }),
        Some(other) => Err(locked(name, &other)),
        None => Err(DeployError::Locked(format!(
            "the deploy lock of {name} vanished as it was taken: is another deploy running? Run again"
        ))),
    }
}

fn locked(name: &str, other: &Holder) -> DeployError {
    DeployError::Locked(format!(
        "another deploy is writing to {name}: {}. Wait for it to finish; if it was killed, its \
         lock lapses at {} (a deploy killed on this machine frees it at once)",
        other.describe(),
        instant(other.expires)
    ))
}

impl Lock {
    /// Extends the lease; a deploy calls this every [`RENEW_EVERY`] while it works.
    pub async fn renew<T: Target>(&mut self, target: &T) -> Result<(), DeployError> {
        self.holder.expires = jiff::Timestamp::now().as_second() + LEASE;
        write_holder(target, &self.holder).await
    }

    /// Gives the lease up, if it is still this deploy's.
    pub async fn release<T: Target>(self, target: &T) -> Result<(), DeployError> {
        if read_holder(target)
            .await?
            .is_some_and(|h| h.id == self.holder.id)
        {
            target.delete(LOCK_KEY).await?;
        }
        Ok(())
    }
}

/// Renews `lock` every [`RENEW_EVERY`] until dropped; run it beside the deploy's work.
pub async fn keep_renewed<T: Target>(lock: &mut Lock, target: &T) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        if let Err(error) = lock.renew(target).await {
            eprintln!("warning: could not renew the deploy lock: {error}");
        }
    }
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // SystemRandom fails only without an OS entropy source; a fixed id then still locks,
    // it just cannot tell two such machines apart.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    crate::gate::to_hex(&bytes)
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "this machine".to_owned())
}

/// Whether process `pid` runs on this machine. Without /proc it cannot tell, and says yes:
/// the lease then lapses by time alone.
fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(host: String, pid: u32, expires: i64) -> Holder {
        Holder {
            id: "x".into(),
            host,
            pid,
            started: 0,
            expires,
        }
    }

    #[test]
    fn a_lease_holds_until_it_lapses_or_its_process_is_gone() {
        let me = std::process::id();
        assert!(holder(host_name(), me, 100).holds(99));
        assert!(!holder(host_name(), me, 100).holds(100), "lapsed");
        assert!(holder("elsewhere".into(), me, 100).holds(50));
        if std::path::Path::new("/proc").is_dir() {
            assert!(
                !holder(host_name(), u32::MAX - 1, 100).holds(50),
                "its process is gone from this machine"
            );
        }
    }
}
