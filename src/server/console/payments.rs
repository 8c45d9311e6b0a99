//! The payments page: the stored Stripe events, each with how it stands (applied, duplicate,
//! waiting, failed and why, in payments::outcome's words), and the outgoing notice deliveries
//! with their attempts and next try; "apply again" on a failed event and "retry now" on a
//! delivery not yet made, both audited. Newest first, each list paged by its own cursor.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ConsoleError, ConsoleForm, CsrfField, Operator, redirect, render};
use crate::config::SiteConfig;
use crate::notify::WELCOME_TARGET;
use crate::payments::{self, outcome};
use crate::server::AppState;
use crate::store::{DeliveryRow, EventFilter, StripeEventPage};

const PAGE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/payments", get(page))
        .route("/admin/payments/apply-again", post(apply_again))
        .route("/admin/payments/retry-now", post(retry_now))
}

#[derive(Debug, Default, Deserialize)]
pub struct PaymentsQuery {
    /// `failed`, `waiting`, or all events.
    show: Option<String>,
    /// The events cursor: the last shown event's `received_at` and id.
    before_at: Option<i64>,
    before_id: Option<String>,
    /// `undelivered`, or all deliveries.
    deliveries: Option<String>,
    /// The deliveries cursor: the last shown delivery's id.
    before_delivery: Option<i64>,
    /// The action just done, from a fixed list: its flash message.
    done: Option<String>,
}

/// One event as the page shows it.
#[derive(Debug, Serialize)]
struct EventView {
    id: String,
    kind: String,
    created: i64,
    received_at: i64,
    applied_at: Option<i64>,
    verdict: outcome::Verdict,
    reason: String,
}

/// One delivery as the page shows it: the target without anything secret in it.
#[derive(Debug, Serialize)]
struct DeliveryView {
    id: i64,
    kind: String,
    member_id: i64,
    target: String,
    attempts: i64,
    next_attempt: i64,
    delivered_at: Option<i64>,
    abandoned_at: Option<i64>,
    last_error: Option<String>,
    /// "delivered", "abandoned" or "pending".
    state: &'static str,
}

async fn page(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<PaymentsQuery>,
) -> Result<Response, ConsoleError> {
    let (filter, show) = match query.show.as_deref() {
        Some("failed") => (EventFilter::Failed, "failed"),
        Some("waiting") => (EventFilter::Waiting, "waiting"),
        _ => (EventFilter::All, "all"),
    };
    let before = query.before_at.zip(query.before_id.as_deref());
    let mut events = state
        .store
        .stripe_events_page(filter, before, PAGE + 1)
        .await?;
    let older_events = (events.len() as i64 > PAGE)
        .then(|| {
            events.truncate(PAGE as usize);
            events.last().map(|e| {
                format!(
                    "show={show}&before_at={}&before_id={}",
                    e.received_at,
                    encode(&e.id)
                )
            })
        })
        .flatten();
    let undelivered = query.deliveries.as_deref() == Some("undelivered");
    let mut deliveries = state
        .store
        .deliveries_page(undelivered, query.before_delivery, PAGE + 1)
        .await?;
    let older_deliveries = (deliveries.len() as i64 > PAGE)
        .then(|| {
            deliveries.truncate(PAGE as usize);
            deliveries.last().map(|d| {
                format!(
                    "deliveries={}&before_delivery={}",
                    if undelivered { "undelivered" } else { "all" },
                    d.id
                )
            })
        })
        .flatten();
    render(
        &state,
        Some(&operator),
        "admin/payments.html",
        &json!({
            "section": "payments",
            "flash": query.done.as_deref().and_then(done_message),
            "show": show,
            "events": events.into_iter().map(event_view).collect::<Vec<_>>(),
            "older_events": older_events,
            "undelivered": undelivered,
            "deliveries": deliveries
                .into_iter()
                .map(|delivery| delivery_view(delivery, &state.config))
                .collect::<Vec<_>>(),
            "older_deliveries": older_deliveries,
        }),
    )
}

/// What an operator reads after an action (`?done=`); unknown codes show nothing, so a link
/// cannot put words on the page.
fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "applied" => "The event was applied again; its new outcome is below.",
        "failed_again" => "The event was applied again and failed again; the reason is below.",
        "queued" => "The event is pending again; the edge's workers apply it shortly.",
        "not_failed" => "Nothing to do: that event has not failed (or was applied again already).",
        "retried" => "The delivery is due now; the edge's workers try it in a moment.",
        "not_pending" => {
            "Nothing to do: that delivery was made already, is being sent right now, is due within the minute, or does not exist."
        }
        _ => return None,
    })
}

fn event_view(event: StripeEventPage) -> EventView {
    let (verdict, reason) = outcome::verdict(event.applied_at.is_some(), event.outcome.as_deref());
    EventView {
        id: event.id,
        kind: event.kind,
        created: event.created,
        received_at: event.received_at,
        applied_at: event.applied_at,
        verdict,
        reason,
    }
}

fn delivery_view(delivery: DeliveryRow, config: &SiteConfig) -> DeliveryView {
    let state = if delivery.delivered_at.is_some() {
        "delivered"
    } else if delivery.abandoned_at.is_some() {
        "abandoned"
    } else {
        "pending"
    };
    let welcome = delivery.target == WELCOME_TARGET;
    let target = shown_target(&delivery.target, config);
    DeliveryView {
        id: delivery.id,
        kind: delivery.kind,
        member_id: delivery.member_id,
        target: target.clone(),
        attempts: delivery.attempts,
        next_attempt: delivery.next_attempt,
        delivered_at: delivery.delivered_at,
        abandoned_at: delivery.abandoned_at,
        // A mail error may quote the member's address; the workers' log does not show it either.
        last_error: delivery.last_error.map(|error| {
            if welcome {
                "the mail could not be sent (the cause is in the edge's log)".to_owned()
            } else {
                // An error may quote the URL it failed on, secret and all.
                error
                    .replace(&delivery.target, &target)
                    .chars()
                    .take(300)
                    .collect()
            }
        }),
        state,
    }
}

/// A delivery's target for the page: "welcome email", or the endpoint's origin and its place
/// in site.toml's `[[notify]]` list. Never its path, query or user part: webhook URLs carry
/// their secret there (Slack's and Discord's in the path), as the workers' log knows.
fn shown_target(target: &str, config: &SiteConfig) -> String {
    if target == WELCOME_TARGET {
        return "welcome email".to_owned();
    }
    let origin = crate::server::origin_of(target)
        .map(|origin| match origin.split_once("://") {
            Some((scheme, authority)) => {
                let host = authority
                    .rsplit_once('@')
                    .map_or(authority, |(_, host)| host);
                format!("{scheme}://{host}")
            }
            None => origin,
        })
        .unwrap_or_else(|| "an endpoint".to_owned());
    match config
        .notify
        .iter()
        .position(|endpoint| endpoint.url == target)
    {
        Some(index) => format!("{origin} (endpoint {} in site.toml)", index + 1),
        None => origin,
    }
}

/// A query-string value: ids are letters, digits and `_`, but a stored id came from outside.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Deserialize)]
pub struct EventForm {
    csrf: String,
    id: String,
}

impl CsrfField for EventForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Debug, Deserialize)]
pub struct DeliveryForm {
    csrf: String,
    id: i64,
}

impl CsrfField for DeliveryForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn back(state: &AppState, done: &str) -> Response {
    redirect(&format!("{}/admin/payments?done={done}", state.base_path()))
}

/// "Apply again": a failed event is made pending again and applied at once, with the site's
/// configuration as it is now (a price or product added since). Should applying fail for
/// a database error, the workers apply it later, as they do any stored event.
async fn apply_again(
    State(state): State<AppState>,
    ConsoleForm { operator, form }: ConsoleForm<EventForm>,
) -> Result<Response, ConsoleError> {
    let Some(before) = state.store.reset_failed_stripe_event(&form.id).await? else {
        return Ok(back(&state, "not_failed"));
    };
    let now = Timestamp::now();
    let applied = match payments::apply_stored(&state.store, &state.config, &form.id, now).await {
        Ok(applied) => applied,
        Err(error) => {
            tracing::error!(event = %form.id, error = %error.kind(), "an event applied again could not be applied yet; the workers retry it");
            state.wake.notify_one();
            None
        }
    };
    let members = applied.as_ref().map_or(&[][..], |a| a.members.as_slice());
    state.members_changed(members);
    let after = applied.as_ref().map(|a| a.outcome.as_str());
    // The audit entry names the member when the event changed exactly one, so it shows on
    // that member's page too.
    let member = match members {
        [one] => Some(*one),
        _ => None,
    };
    state
        .store
        .audit(
            &operator.email,
            "stripe_event_apply_again",
            member,
            &json!({ "event": form.id, "before": before, "after": after, "members": members }),
            now,
        )
        .await?;
    let done = match after {
        None => "queued",
        Some(text) if outcome::verdict(true, Some(text)).0 == outcome::Verdict::Failed => {
            "failed_again"
        }
        Some(_) => "applied",
    };
    Ok(back(&state, done))
}

/// "Retry now": a delivery not yet made is due at once, taken back from abandoned if it was.
async fn retry_now(
    State(state): State<AppState>,
    ConsoleForm { operator, form }: ConsoleForm<DeliveryForm>,
) -> Result<Response, ConsoleError> {
    let now = Timestamp::now();
    let Some(before) = state.store.retry_delivery_now(form.id, now).await? else {
        return Ok(back(&state, "not_pending"));
    };
    state
        .store
        .audit(
            &operator.email,
            "delivery_retry_now",
            Some(before.member_id),
            &json!({
                "delivery": before.id,
                "kind": before.kind,
                "target": shown_target(&before.target, &state.config),
                "attempts": before.attempts,
                "abandoned": before.abandoned_at.is_some(),
            }),
            now,
        )
        .await?;
    state.wake.notify_one();
    Ok(back(&state, "retried"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_shown_by_origin_and_place_never_by_path_query_or_password() {
        let config = crate::config::parse(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
            "title = \"T\"\nbase_url = \"https://example.com\"\n\n[[levels]]\nid = \"free\"\nrank = 0\n\n\
             [[notify]]\nurl = \"https://hooks.slack.com/services/T0/B0/s3cret\"\n",
        );
        let config = match config {
            Ok(config) => config,
            Err(problems) => panic!("{problems}"),
        };
        assert_eq!(
            shown_target("https://hooks.slack.com/services/T0/B0/s3cret", &config),
            "https://hooks.slack.com (endpoint 1 in site.toml)"
        );
        assert_eq!(
            shown_target(
                "https://user:pass@hooks.example.com/in?token=s3cret#x",
                &config
            ),
            "https://hooks.example.com"
        );
        assert_eq!(shown_target(WELCOME_TARGET, &config), "welcome email");
        assert_eq!(shown_target("nonsense?x=1", &config), "an endpoint");
    }

    #[test]
    fn only_known_actions_have_a_flash() {
        assert!(done_message("retried").is_some());
        assert_eq!(done_message("<b>hi</b>"), None);
    }

    #[test]
    fn cursor_ids_are_encoded() {
        assert_eq!(encode("evt_1Abc"), "evt_1Abc");
        assert_eq!(encode("a&b=c d"), "a%26b%3Dc%20d");
    }
}
