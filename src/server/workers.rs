//! The edge's background work, in one loop: apply Stripe events that were stored but not yet
//! applied, check members whose standing may have changed (new events, or a pending cancel or
//! expiry coming due) and announce the changes, and deliver those announcements (signed push
//! notifications and welcome emails) with exponential backoff. Everything it works from is in
//! the database, so a restart resumes where a crash stopped.

use std::time::Duration;

use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::AppState;
use super::metrics::Metrics;
use super::push::PushClient;
use super::routes::welcome_link;
use crate::clock::Clock;
use crate::notify::{self, WELCOME_TARGET, welcome::WelcomeFacts};
use crate::payments::{self, signature};
use crate::store::Delivery;

/// How often the loop runs when nothing wakes it, the backoff's bounds, how long an attempt
/// may take, and the clock it all goes by.
#[derive(Debug, Clone)]
pub struct WorkerTimes {
    pub tick: Duration,
    /// The first retry waits this long; each next one twice as long.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// A notice not delivered within this long is given up.
    pub give_up_after: Duration,
    /// An attempt (taking the delivery, sending, recording) that runs this long fails. It
    /// must end well within `LEASE`, so that no other replica takes the delivery over while
    /// this one may still reach the receiver: the rest covers the clocks of replicas that
    /// differ by a few seconds.
    pub attempt_timeout: Duration,
    pub clock: Clock,
}

impl Default for WorkerTimes {
    fn default() -> WorkerTimes {
        WorkerTimes {
            tick: Duration::from_secs(1),
            first_retry: Duration::from_secs(2),
            max_retry: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
            attempt_timeout: Duration::from_secs(45),
            clock: Clock::default(),
        }
    }
}

/// Queues worked at once; one slow endpoint must not hold up the others.
const PARALLEL: usize = 8;
/// A delivery taken by one replica is left alone by the others for this long: longer than an
/// attempt can take, so it is never sent twice at once, and short enough that one taken by a
/// replica that then died is soon tried again.
const LEASE: SignedDuration = SignedDuration::from_secs(60);
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
const MAIL_TIMEOUT: Duration = Duration::from_secs(40);
/// What an attempt that ran out of time records.
pub const TOO_LONG: &str = "the attempt took too long";
/// A welcome email's login link works for a day, not 15 minutes: it may be read later.
pub const WELCOME_LINK_HOURS: i64 = 24;

/// Runs the workers on the current runtime until the process ends.
pub fn spawn_workers(state: AppState, times: WorkerTimes) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_workers(state, times))
}

pub async fn run_workers(state: AppState, times: WorkerTimes) {
    let client = PushClient::new(PUSH_TIMEOUT);
    loop {
        match round(&state, &client, &times).await {
            // A queue whose head just went out may have its next notice waiting: go again at
            // once rather than a tick later.
            Ok(Progress::Delivered) => continue,
            Ok(Progress::Idle) => {}
            Err(error) => {
                tracing::warn!(error = %error.kind(), "background work failed; retrying");
            }
        }
        tokio::select! {
            () = state.wake.notified() => {},
            () = tokio::time::sleep(times.tick) => {},
        }
    }
}

/// Whether a round delivered anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Delivered,
    Idle,
}

async fn round(
    state: &AppState,
    client: &PushClient,
    times: &WorkerTimes,
) -> Result<Progress, crate::store::StoreError> {
    let now = times.clock.now();
    // Each part runs even when another fails: a stuck event must not stop notifications.
    match payments::apply_pending(&state.store, &state.config, now).await {
        Ok(changed) => {
            for member in &changed {
                state.sessions.forget_member(*member);
            }
        }
        Err(error) => {
            tracing::warn!(error = %error.kind(), "could not apply stored Stripe events");
        }
    }
    let welcome = state.options.welcome.is_some();
    if let Err(error) = notify::check_due(&state.store, &state.config, &times.clock, welcome).await
    {
        tracing::warn!(error = %error.kind(), "could not check members for changes");
    }
    // Deliveries written without their member (by a replica of an older release still
    // running) join their queues here.
    if let Err(error) = state.store.queue_unqueued().await {
        tracing::warn!(error = %error.kind(), "could not queue deliveries");
    }
    // The head of each queue (one queue per target and member), so a member's notices reach
    // an endpoint in the order they were written; different queues go out in parallel. One
    // notice per queue per round: a member with a long backlog does not hold up the round,
    // nor the checks that write other members' notices.
    let heads = state.store.due_deliveries(times.clock.now(), 100).await?;
    let delivered = std::sync::atomic::AtomicBool::new(false);
    futures_util::stream::iter(heads)
        .for_each_concurrent(PARALLEL, |head| {
            let delivered = &delivered;
            async move {
                match attempt(state, client, head, times).await {
                    Ok(Attempt::Delivered) => {
                        delivered.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(Attempt::Failed | Attempt::NotOurs) => {}
                    Err(error) => {
                        tracing::warn!(error = %error.kind(), "could not record a delivery attempt");
                    }
                }
            }
        })
        .await;
    Ok(if delivered.into_inner() {
        Progress::Delivered
    } else {
        Progress::Idle
    })
}

/// How one attempt at a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Delivered,
    /// Failed: retried later, or given up.
    Failed,
    /// Another replica has it, it is no longer its queue's head, or its lease lapsed.
    NotOurs,
}

async fn attempt(
    state: &AppState,
    client: &PushClient,
    delivery: Delivery,
    times: &WorkerTimes,
) -> Result<Attempt, crate::store::StoreError> {
    // The attempt's deadline is set before the lease is read from the clock: however long
    // taking the delivery waits for the database, the attempt ends `LEASE - attempt_timeout`
    // before the lease does.
    let deadline = tokio::time::Instant::now() + times.attempt_timeout;
    let now = times.clock.now();
    let lease = now.checked_add(LEASE).unwrap_or(now);
    let Some(claim) = state.store.claim_delivery(&delivery, lease).await? else {
        return Ok(Attempt::NotOurs);
    };
    let sending = async {
        if delivery.target == WELCOME_TARGET {
            send_welcome(state, &delivery).await
        } else {
            push(state, client, &delivery).await
        }
    };
    let result = tokio::time::timeout_at(deadline, sending)
        .await
        .unwrap_or_else(|_| Err(TOO_LONG.to_owned()));
    let now = times.clock.now();
    let target = shown_target(&delivery.target);
    match result {
        // Counted once recorded, so the counters never run ahead of the database.
        Ok(()) => {
            if !state.store.delivered(&claim, now).await? {
                tracing::warn!(%target, kind = %delivery.kind, "delivered after its lease lapsed; another attempt took it over");
                return Ok(Attempt::NotOurs);
            }
            Metrics::add(&state.metrics.notices_delivered, 1);
            Ok(Attempt::Delivered)
        }
        Err(error) => {
            let retry_at = next_attempt(&delivery, now, times);
            // The target is named by its origin only (a URL's path or query may hold a token),
            // and a mail error is not quoted (it may hold the address).
            let shown = if delivery.target == WELCOME_TARGET {
                "the mail could not be sent"
            } else {
                error.as_str()
            };
            if !state
                .store
                .delivery_failed(&claim, &error, retry_at, now)
                .await?
            {
                tracing::warn!(%target, kind = %delivery.kind, error = %shown, "failed after its lease lapsed; another attempt took it over");
                return Ok(Attempt::NotOurs);
            }
            match retry_at {
                Some(at) => {
                    tracing::info!(%target, kind = %delivery.kind, error = %shown, retry_at = %at, "delivery failed; will retry")
                }
                None => {
                    tracing::error!(%target, kind = %delivery.kind, error = %shown, "delivery failed for too long; given up")
                }
            }
            Metrics::add(&state.metrics.notice_failures, 1);
            Ok(Attempt::Failed)
        }
    }
}

/// A delivery target as logs show it: `welcome email`, or an endpoint's origin.
pub fn shown_target(target: &str) -> String {
    if target == WELCOME_TARGET {
        "welcome email".to_owned()
    } else {
        super::origin_of(target).unwrap_or_else(|| "an endpoint".to_owned())
    }
}

/// When to try again after `attempts + 1` failures: doubling from `first_retry`, capped at
/// `max_retry`; `None` once the notice is older than `give_up_after`.
pub fn next_attempt(delivery: &Delivery, now: Timestamp, times: &WorkerTimes) -> Option<Timestamp> {
    let age = now.duration_since(delivery.created_at);
    if age >= SignedDuration::try_from(times.give_up_after).unwrap_or(SignedDuration::MAX) {
        return None;
    }
    let exponent = u32::try_from(delivery.attempts.clamp(0, 30)).unwrap_or(30);
    let wait = times
        .first_retry
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(times.max_retry);
    now.checked_add(SignedDuration::try_from(wait).unwrap_or(SignedDuration::MAX))
        .ok()
}

/// The JSON a push endpoint receives.
pub fn push_body(delivery: &Delivery) -> String {
    let stored: Value = serde_json::from_str(&delivery.body).unwrap_or(Value::Null);
    json!({
        "id": format!("ntc_{}", delivery.notice_id),
        "type": delivery.kind,
        "created": delivery.created_at.to_string(),
        "member": stored["member"],
        "data": stored["data"],
    })
    .to_string()
}

async fn push(state: &AppState, client: &PushClient, delivery: &Delivery) -> Result<(), String> {
    let Some(endpoint) = state
        .config
        .notify
        .iter()
        .find(|e| e.url == delivery.target)
    else {
        return Err("this endpoint is no longer in site.toml".to_owned());
    };
    let Some(secret) = state.options.notify_secrets.0.get(&endpoint.secret_env) else {
        return Err(format!("{} is not set", endpoint.secret_env));
    };
    let body = push_body(delivery);
    let header = signature::sign(secret, Timestamp::now().as_second(), body.as_bytes());
    let headers = [
        ("gatehouse-signature", header),
        ("gatehouse-event", delivery.kind.clone()),
        ("gatehouse-delivery", delivery.id.to_string()),
    ];
    let status = client.post(&endpoint.url, &headers, body).await?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the endpoint answered {status}"))
    }
}

async fn send_welcome(state: &AppState, delivery: &Delivery) -> Result<(), String> {
    let Some(welcome) = &state.options.welcome else {
        return Ok(());
    };
    let member = state
        .store
        .member_by_id(delivery.member_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the member no longer exists")?;
    let stored: Value = serde_json::from_str(&delivery.body).unwrap_or(Value::Null);
    let level = stored["member"]["level"]["id"]
        .as_str()
        .map(|id| state.config.level_name(id));
    let bundles: Vec<&str> = stored["member"]["bundles"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|b| b["id"].as_str())
                .map(|id| state.config.bundle_name(id))
                .collect()
        })
        .unwrap_or_default();
    let link = welcome_link(state, member.id, WELCOME_LINK_HOURS)
        .await
        .map_err(|e| e.to_string())?;
    let (subject, text) = welcome
        .render(
            &state.config,
            &WelcomeFacts {
                email: &member.email,
                level,
                bundles,
                login_url: &link,
                link_hours: WELCOME_LINK_HOURS,
            },
        )
        .map_err(|e| e.to_string())?;
    let mail = crate::mail::Mail {
        to: member.email.clone(),
        subject,
        text,
    };
    match tokio::time::timeout(
        MAIL_TIMEOUT,
        state.mailer.send(&state.options.mail_from, &mail),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            Metrics::add(&state.metrics.mail_failures, 1);
            Err(error.to_string())
        }
        Err(_) => {
            Metrics::add(&state.metrics.mail_failures, 1);
            Err("the mail server did not answer in time".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: i64, created_at: Timestamp) -> Delivery {
        Delivery {
            id: 1,
            target: "https://example.com/hook".into(),
            attempts,
            next_attempt: 0,
            notice_id: 7,
            member_id: 1,
            kind: "member.joined".into(),
            body: r#"{"member":{"email":"a@example.com"},"data":{}}"#.into(),
            created_at,
        }
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap_then_give_up() {
        let now = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let times = WorkerTimes::default();
        let wait = |attempts| {
            next_attempt(&delivery(attempts, now), now, &times)
                .map(|t| t.duration_since(now).as_secs())
        };
        assert_eq!(wait(0), Some(2));
        assert_eq!(wait(1), Some(4));
        assert_eq!(wait(5), Some(64));
        assert_eq!(wait(20), Some(3600));
        let old = now
            .checked_sub(SignedDuration::from_hours(73))
            .unwrap_or(now);
        assert_eq!(next_attempt(&delivery(3, old), now, &times), None);
    }

    #[test]
    fn logs_name_a_push_target_by_its_origin_only() {
        assert_eq!(
            shown_target("https://hooks.example.com/in/s3cr3t-token?key=abc"),
            "https://hooks.example.com"
        );
        assert_eq!(shown_target(WELCOME_TARGET), "welcome email");
    }

    #[test]
    fn the_push_body_carries_id_type_member_and_data() {
        let now = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let body: Value = serde_json::from_str(&push_body(&delivery(0, now))).unwrap_or_default();
        assert_eq!(body["id"], "ntc_7");
        assert_eq!(body["type"], "member.joined");
        assert_eq!(body["member"]["email"], "a@example.com");
        assert_eq!(body["created"], "2027-01-15T08:00:00Z");
    }
}
