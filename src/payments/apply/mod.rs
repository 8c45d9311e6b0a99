//! Applying one verified Stripe event to the member database (DESIGN §5 via §2's products).
//! Each handler reads the event's object, updates what gatehouse knows of the subscription,
//! customer or purchase, and appends to the member's history only the steps between what was
//! written before and what is true now. Everything happens inside one [`Ledger`] transaction.

mod dispute;
mod project;
mod purchase;
mod state;
mod subscription;

pub use state::subscription_state;

use jiff::Timestamp;
use serde_json::Value;

use super::object::{StripeEvent, id_of, metadata_product, session_prices, subscription_prices};
use super::outcome::{duplicate, failed};
use super::projection::{Step, SubState};
use crate::config::{Billing, Grant, Product, SiteConfig};
use crate::entitle::{Basis, EventRecord, EventType, Revocation};
use crate::store::{Ledger, StoreError, SubscriptionRow};

/// Applies `event`; the text says what it did, for the operator.
pub async fn apply(
    ledger: &mut Ledger,
    config: &SiteConfig,
    event: &StripeEvent,
    now: Timestamp,
) -> Result<String, StoreError> {
    let mut run = Run {
        ledger,
        config,
        event,
        now,
        // Stripe's clock may run a little ahead of ours; history never holds the future.
        at: Timestamp::from_second(event.created)
            .unwrap_or(now)
            .min(now),
    };
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            run.checkout().await
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => run.subscription_changed().await,
        "invoice.paid" | "invoice.payment_succeeded" => run.invoice_paid().await,
        "invoice.payment_failed" => run.invoice_failed().await,
        "charge.refunded" => run.refunded().await,
        // Every dispute event carries the dispute with its status: created, updated, closed,
        // funds withdrawn or reinstated are read alike, by that status (payments::dispute).
        kind if kind.starts_with("charge.dispute.") => run.dispute().await,
        "customer.created" | "customer.updated" => run.customer().await,
        "invoice_payment.paid" => run.invoice_payment().await,
        other => Ok(format!("stored; gatehouse does not act on `{other}`")),
    }
}

/// What paid for a right: one subscription, or one single purchase (by payment intent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payer<'a> {
    Subscription(&'a str),
    Purchase(&'a str),
}

struct Run<'a> {
    ledger: &'a mut Ledger,
    config: &'a SiteConfig,
    event: &'a StripeEvent,
    now: Timestamp,
    at: Timestamp,
}

impl Run<'_> {
    fn object(&self) -> &Value {
        &self.event.object
    }

    fn session_product(&self, session: &Value) -> Option<&Product> {
        let config = self.config;
        session_prices(session)
            .into_iter()
            .find_map(|price| config.product_by_price(price))
            .or_else(|| {
                id_of(session, "payment_link").and_then(|l| config.product_by_payment_link(l))
            })
            .or_else(|| metadata_product(session).and_then(|id| config.product(id)))
    }

    fn subscription_product(&self, sub: &Value) -> Option<&Product> {
        let config = self.config;
        subscription_prices(sub)
            .into_iter()
            .find_map(|price| config.product_by_price(price))
            .or_else(|| metadata_product(sub).and_then(|id| config.product(id)))
    }
}
pub(super) fn new_subscription(id: &str, state: SubState, created: i64) -> SubscriptionRow {
    let mut sub = SubscriptionRow {
        id: id.to_owned(),
        customer: None,
        product: None,
        member_id: None,
        email: None,
        state: String::new(),
        until: None,
        paid_in_full: false,
        last_event_created: created,
        projected: String::new(),
    };
    set_state(&mut sub, state);
    sub
}

pub(super) fn set_state(sub: &mut SubscriptionRow, state: SubState) {
    if sub.paid_in_full && state != SubState::PaidInFull {
        // A completed plan stays completed, whatever its subscription does next.
        sub.state = SubState::PaidInFull.to_text();
        sub.until = None;
        return;
    }
    sub.state = state.to_text();
    sub.until = match state {
        SubState::PendingCancel(until) => Some(until),
        _ => None,
    };
}

pub(super) fn superseded(sub: &SubscriptionRow) -> String {
    format!(
        "superseded: a newer event about subscription {} (created {}) was applied already",
        sub.id, sub.last_event_created
    )
}

pub(super) fn grant_text(grant: &Grant) -> String {
    crate::entitle::grant_text(grant)
}

pub(super) fn step_name(step: Step) -> &'static str {
    match step {
        Step::Grant => "granted",
        Step::CancelUntil(_) => "pending cancel",
        Step::Cancel => "cancelled",
        Step::Overdue => "overdue",
        Step::Recovered => "recovered",
        Step::PaidInFull => "paid in full",
        Step::Revoke(Revocation::Refunded) => "revoked (refunded)",
        Step::Revoke(Revocation::Disputed) => "revoked (disputed)",
        Step::Revoke(Revocation::DisputeLost) => "revoked (dispute lost)",
        Step::Restore => "restored",
    }
}

pub(super) fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
