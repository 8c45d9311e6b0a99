//! Applying one verified Stripe event to the member database (DESIGN §5 via §2's products).
//! Each handler reads the event's object, updates what gatehouse knows of the subscription,
//! customer or purchase, and appends to the member's history only the steps between what was
//! written before and what is true now. Everything happens inside one [`Ledger`] transaction.

use jiff::Timestamp;
use serde_json::Value;

use super::object::{
    StripeEvent, id_of, invoice_prices, invoice_subscription, metadata_product, period_end,
    session_email, session_prices, subscription_prices, text,
};
use super::projection::{Step, SubState, steps};
use crate::config::{Billing, Grant, Product, SiteConfig};
use crate::entitle::{Basis, EventRecord, EventType};
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

    async fn checkout(&mut self) -> Result<String, StoreError> {
        let session = self.object().clone();
        if text(&session, "payment_status") == Some("unpaid") {
            return Ok("waiting: the payment is not complete yet".into());
        }
        let Some(email) = session_email(&session) else {
            return Ok("no buyer email on the session (customer_details.email, customer_email, client_reference_id)".into());
        };
        let Ok(email) = crate::email::normalize_email(email) else {
            // Not quoted: outcomes go to the log, and an address is personal data.
            return Ok("the buyer email on the session is not an address".into());
        };
        let customer = id_of(&session, "customer").map(str::to_owned);
        if text(&session, "mode") == Some("subscription") {
            let Some(sub_id) = id_of(&session, "subscription") else {
                return Ok("a subscription session without a subscription".into());
            };
            let mut sub = match self.ledger.subscription(sub_id).await? {
                Some(sub) => sub,
                // The session may arrive before the subscription's own events: a completed
                // Checkout means it is paid for (or trialing) now.
                None => new_subscription(sub_id, SubState::Active, self.event.created),
            };
            sub.email = Some(email);
            if sub.customer.is_none() {
                sub.customer = customer;
            }
            if sub.product.is_none() {
                sub.product = self.session_product(&session).map(|p| p.id.clone());
            }
            let note = self.project(&mut sub).await?;
            self.ledger.save_subscription(&sub).await?;
            let mut notes = vec![note];
            if let (Some(member), Some(customer)) = (sub.member_id, sub.customer.clone()) {
                notes.extend(self.adopt(&customer, member).await?);
            }
            return Ok(notes.join("; "));
        }
        // Only a purchase of this site's product makes a member: an account may sell more.
        let Some(product) = self.session_product(&session).cloned() else {
            return Ok("no product: the session has no line item price, payment_link or metadata.gatehouse_product that site.toml maps".into());
        };
        let member = self.ledger.member_for_email(&email, self.now).await?;
        let mut notes = Vec::new();
        if let Some(customer) = &customer {
            self.ledger.link_customer(customer, member).await?;
            notes.extend(self.adopt(customer, member).await?);
        }
        let payment = id_of(&session, "payment_intent")
            .or_else(|| text(&session, "id"))
            .unwrap_or_default()
            .to_owned();
        let amount = session["amount_total"].as_i64().unwrap_or(0);
        if !self
            .ledger
            .record_purchase(&payment, member, &product.id, amount)
            .await?
        {
            return Ok(format!("purchase of {} already recorded", product.id));
        }
        self.write(member, Step::Grant, &product, self.at).await?;
        self.written_for_right(member, &product, SubState::Active, None)
            .await?;
        notes.push(format!(
            "granted {} ({})",
            grant_text(&product.grants),
            product.id
        ));
        Ok(notes.join("; "))
    }

    async fn subscription_changed(&mut self) -> Result<String, StoreError> {
        let object = self.object().clone();
        let Some(id) = text(&object, "id") else {
            return Ok("a subscription without an id".into());
        };
        let mut sub = self
            .ledger
            .subscription(id)
            .await?
            .unwrap_or_else(|| new_subscription(id, SubState::None, 0));
        // An older event must not undo a newer one's state, but what it says about who
        // bought what is still news (a Checkout arriving first knows no price).
        let older = self.event.created < sub.last_event_created;
        if sub.customer.is_none() || !older {
            sub.customer = id_of(&object, "customer")
                .map(str::to_owned)
                .or(sub.customer);
        }
        let mapped = self.subscription_product(&object).map(|p| p.id.clone());
        let learned = sub.product.is_none() && mapped.is_some();
        let mut notes = Vec::new();
        let mut all: Vec<&str> = subscription_prices(&object)
            .into_iter()
            .filter_map(|price| self.config.product_by_price(price))
            .map(|p| p.id.as_str())
            .collect();
        all.dedup();
        if all.len() > 1 {
            // One subscription pays for one product (DESIGN §2): say so rather than guess.
            notes.push(format!(
                "its items map to {}: only the first is granted; sell each in its own subscription",
                all.join(", ")
            ));
        }
        if learned {
            sub.product = mapped;
        } else if !older && mapped.is_some() && mapped != sub.product {
            // The member switched plans inside this subscription (the Customer Portal).
            notes.push(self.switch_product(&mut sub, mapped).await?);
        }
        if older && !learned {
            return Ok(superseded(&sub));
        }
        let state = if older {
            SubState::from_text(&sub.state)
        } else {
            sub.last_event_created = self.event.created;
            let plan = sub
                .product
                .as_deref()
                .and_then(|id| self.config.product(id))
                .is_some_and(|p| matches!(p.billing, Billing::PaymentPlan { .. }));
            let state = subscription_state(&object, &self.event.kind, plan);
            set_state(&mut sub, state);
            state
        };
        self.find_member(&mut sub, None).await?;
        notes.push(self.project(&mut sub).await?);
        self.ledger.save_subscription(&sub).await?;
        let prefix = if older {
            "older event: product learned; "
        } else {
            ""
        };
        Ok(format!(
            "{prefix}subscription {id} is {}; {}",
            state.name(),
            notes.join("; ")
        ))
    }

    /// A subscription now paying for another product: the old right ends (a level is simply
    /// replaced by the new one), and the new one is granted by the projection that follows.
    async fn switch_product(
        &mut self,
        sub: &mut SubscriptionRow,
        product: Option<String>,
    ) -> Result<String, StoreError> {
        let old = sub
            .product
            .as_deref()
            .and_then(|id| self.config.product(id))
            .cloned();
        let new = product
            .as_deref()
            .and_then(|id| self.config.product(id))
            .cloned();
        sub.product = product;
        let (Some(old), Some(new), Some(member)) = (old, new, sub.member_id) else {
            return Ok("product changed".into());
        };
        let written = SubState::from_text(&sub.projected);
        sub.projected = SubState::None.to_text();
        let replaced = matches!(
            (&old.grants, &new.grants),
            (Grant::Level(_), Grant::Level(_))
        );
        if old.grants != new.grants
            && !replaced
            && written.pays()
            && !self
                .still_paid_elsewhere(member, Payer::Subscription(&sub.id), &old)
                .await?
        {
            self.write(member, Step::Cancel, &old, self.at).await?;
        }
        Ok(format!("switched from {} to {}", old.id, new.id))
    }

    async fn invoice_paid(&mut self) -> Result<String, StoreError> {
        let invoice = self.object().clone();
        let Some(sub_id) = invoice_subscription(&invoice) else {
            return Ok("not a subscription invoice: nothing to do".into());
        };
        let mut sub = self
            .ledger
            .subscription(sub_id)
            .await?
            .unwrap_or_else(|| new_subscription(sub_id, SubState::None, 0));
        if sub.customer.is_none() {
            sub.customer = id_of(&invoice, "customer").map(str::to_owned);
        }
        if sub.product.is_none() {
            sub.product = invoice_prices(&invoice)
                .into_iter()
                .find_map(|price| self.config.product_by_price(price))
                .map(|p| p.id.clone());
        }
        let paid = self
            .ledger
            .record_invoice(
                text(&invoice, "id").unwrap_or_default(),
                sub_id,
                invoice["amount_paid"].as_i64().unwrap_or(0),
                id_of(&invoice, "payment_intent"),
                id_of(&invoice, "charge"),
            )
            .await?;
        let current = SubState::from_text(&sub.state);
        // A payment collected is news even out of order; the state it implies is not.
        if self.event.created >= sub.last_event_created {
            sub.last_event_created = self.event.created;
            if matches!(current, SubState::None | SubState::Overdue) {
                set_state(&mut sub, SubState::Active);
            }
        }
        let payments = sub
            .product
            .as_deref()
            .and_then(|id| self.config.product(id))
            .and_then(|p| match p.billing {
                Billing::PaymentPlan { payments, .. } => Some(i64::from(payments)),
                _ => None,
            });
        let mut note = format!("invoice paid ({paid} payment{})", plural(paid));
        if let Some(needed) = payments {
            note = format!("payment {paid} of {needed}");
            if paid >= needed && !sub.paid_in_full {
                sub.paid_in_full = true;
                set_state(&mut sub, SubState::PaidInFull);
            }
        }
        self.find_member(&mut sub, text(&invoice, "customer_email"))
            .await?;
        let projected = self.project(&mut sub).await?;
        self.ledger.save_subscription(&sub).await?;
        Ok(format!("{note}; {projected}"))
    }

    async fn invoice_failed(&mut self) -> Result<String, StoreError> {
        let invoice = self.object().clone();
        let Some(sub_id) = invoice_subscription(&invoice) else {
            return Ok("not a subscription invoice: nothing to do".into());
        };
        let mut sub = self
            .ledger
            .subscription(sub_id)
            .await?
            .unwrap_or_else(|| new_subscription(sub_id, SubState::None, 0));
        if self.event.created < sub.last_event_created {
            return Ok(superseded(&sub));
        }
        sub.last_event_created = self.event.created;
        if sub.customer.is_none() {
            sub.customer = id_of(&invoice, "customer").map(str::to_owned);
        }
        if sub.product.is_none() {
            sub.product = invoice_prices(&invoice)
                .into_iter()
                .find_map(|price| self.config.product_by_price(price))
                .map(|p| p.id.clone());
        }
        let current = SubState::from_text(&sub.state);
        if matches!(
            current,
            SubState::None | SubState::Active | SubState::PendingCancel(_)
        ) {
            set_state(&mut sub, SubState::Overdue);
        }
        self.find_member(&mut sub, text(&invoice, "customer_email"))
            .await?;
        let note = self.project(&mut sub).await?;
        self.ledger.save_subscription(&sub).await?;
        Ok(format!("payment failed; {note}"))
    }

    /// `invoice_payment.paid` (basil): which payment intent paid which invoice, so that a
    /// refund of it finds the subscription.
    async fn invoice_payment(&mut self) -> Result<String, StoreError> {
        let object = self.object().clone();
        let invoice = id_of(&object, "invoice");
        let intent = id_of(&object["payment"], "payment_intent");
        match (invoice, intent) {
            (Some(invoice), Some(intent)) => {
                self.ledger.link_invoice_payment(intent, invoice).await?;
                Ok("payment of an invoice recorded".into())
            }
            _ => Ok("an invoice payment without an invoice or payment intent".into()),
        }
    }

    async fn refunded(&mut self) -> Result<String, StoreError> {
        let charge = self.object().clone();
        let amount = charge["amount"].as_i64().unwrap_or(0);
        let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
        let full = charge["refunded"].as_bool() == Some(true) || (amount > 0 && refunded >= amount);
        let intent = id_of(&charge, "payment_intent");
        if let Some(intent) = intent
            && let Some((member, product_id)) = self.ledger.purchase(intent).await?
        {
            self.ledger.record_refund(intent, refunded).await?;
            if !full {
                return Ok(format!(
                    "partial refund of {product_id} recorded; access unchanged"
                ));
            }
            let Some(product) = self.config.product(&product_id).cloned() else {
                return Ok(format!(
                    "refund of {product_id}, which site.toml no longer has"
                ));
            };
            if self
                .still_paid_elsewhere(member, Payer::Purchase(intent), &product)
                .await?
            {
                return Ok(format!(
                    "full refund of {product_id}; {} stays, another payment still pays for it",
                    grant_text(&product.grants)
                ));
            }
            self.write(member, Step::Cancel, &product, self.at).await?;
            self.written_for_right(member, &product, SubState::Cancelled, None)
                .await?;
            return Ok(format!(
                "full refund: {} revoked",
                grant_text(&product.grants)
            ));
        }
        let found = self
            .ledger
            .invoice_subscription(id_of(&charge, "invoice"), intent, text(&charge, "id"))
            .await?;
        let Some((sub_id, invoice)) = found else {
            return Ok("refund of a payment gatehouse did not record: nothing to revoke".into());
        };
        if !full {
            return Ok(format!(
                "partial refund on subscription {sub_id} recorded; access unchanged"
            ));
        }
        self.ledger.invoice_refunded(&invoice).await?;
        let Some(mut sub) = self.ledger.subscription(&sub_id).await? else {
            return Ok(format!("refund on unknown subscription {sub_id}"));
        };
        sub.last_event_created = sub.last_event_created.max(self.event.created);
        sub.paid_in_full = false;
        set_state(&mut sub, SubState::Cancelled);
        if SubState::from_text(&sub.projected) == SubState::PaidInFull {
            // The plan's completion was paid by this money: without it, access ends.
            sub.projected = SubState::Active.to_text();
        }
        let note = self.project(&mut sub).await?;
        self.ledger.save_subscription(&sub).await?;
        Ok(format!("full refund on subscription {sub_id}: {note}"))
    }

    /// A customer with an email that is already a member's: remember who they are.
    async fn customer(&mut self) -> Result<String, StoreError> {
        let object = self.object().clone();
        let (Some(id), Some(email)) = (text(&object, "id"), text(&object, "email")) else {
            return Ok("a customer without an email".into());
        };
        let Ok(email) = crate::email::normalize_email(email) else {
            return Ok("a customer whose email is not an address".into());
        };
        match self.ledger.member_by_email(&email).await? {
            Some(member) => {
                self.ledger.link_customer(id, member.id).await?;
                Ok(self.adopt(id, member.id).await?.join("; "))
            }
            None => Ok("a customer who is not a member (yet)".into()),
        }
    }

    /// Catches up the customer's subscriptions that waited for their member.
    async fn adopt(&mut self, customer: &str, member: i64) -> Result<Vec<String>, StoreError> {
        let mut notes = Vec::new();
        for mut sub in self.ledger.unlinked_subscriptions(customer).await? {
            sub.member_id = Some(member);
            notes.push(self.project(&mut sub).await?);
            self.ledger.save_subscription(&sub).await?;
        }
        Ok(notes)
    }

    /// Finds the member of a subscription by its customer; else keeps an email the object
    /// gives, for when the subscription maps to a product.
    async fn find_member(
        &mut self,
        sub: &mut SubscriptionRow,
        email: Option<&str>,
    ) -> Result<(), StoreError> {
        if sub.member_id.is_some() {
            return Ok(());
        }
        if let Some(customer) = sub.customer.clone()
            && let Some(member) = self.ledger.customer_member(&customer).await?
        {
            sub.member_id = Some(member);
            return Ok(());
        }
        if let Some(email) = email.and_then(|e| crate::email::normalize_email(e).ok()) {
            sub.email = Some(email);
        }
        Ok(())
    }

    /// Writes into the member's history the steps from what was written to the state now.
    async fn project(&mut self, sub: &mut SubscriptionRow) -> Result<String, StoreError> {
        let Some(product) = sub
            .product
            .as_deref()
            .and_then(|id| self.config.product(id))
            .cloned()
        else {
            return Ok(format!(
                "no product for subscription {}: map its price with stripe_price in site.toml",
                sub.id
            ));
        };
        if sub.member_id.is_none()
            && let Some(email) = sub.email.clone()
        {
            // The subscription sells this site's product: now its buyer becomes a member.
            let member = self.ledger.member_for_email(&email, self.now).await?;
            if let Some(customer) = sub.customer.clone() {
                self.ledger.link_customer(&customer, member).await?;
            }
            sub.member_id = Some(member);
        }
        let Some(member) = sub.member_id else {
            return Ok("waiting for the buyer's email (checkout.session.completed)".into());
        };
        let written = SubState::from_text(&sub.projected);
        let target = SubState::from_text(&sub.state);
        let (planned, next) = steps(written, target);
        let takes_away = planned
            .iter()
            .any(|step| matches!(step, Step::Cancel | Step::CancelUntil(_) | Step::Overdue));
        if takes_away
            && self
                .still_paid_elsewhere(member, Payer::Subscription(&sub.id), &product)
                .await?
        {
            // Another payment pays for the same right (a switch from monthly to yearly, or a
            // lifetime purchase beside a subscription): this one ending takes nothing away,
            // and the history still reads as before.
            return Ok(format!(
                "{} stays: another payment still pays for it",
                grant_text(&product.grants)
            ));
        }
        // Never before what this subscription already wrote: a payment reported late (older
        // than the newest event applied) must land after the cancel it answers, not before.
        let newest = Timestamp::from_second(sub.last_event_created).unwrap_or(self.at);
        let at = self.at.max(newest);
        for step in &planned {
            self.write(member, *step, &product, at).await?;
        }
        sub.projected = next.to_text();
        if planned.is_empty() {
            return Ok(format!("{} unchanged", grant_text(&product.grants)));
        }
        self.written_for_right(member, &product, next, Some(&sub.id))
            .await?;
        let names: Vec<&str> = planned.iter().map(|s| step_name(*s)).collect();
        Ok(format!(
            "{}: {}",
            grant_text(&product.grants),
            names.join(", ")
        ))
    }

    /// Appends one step, never dated before the member's newest event nor after now: an
    /// event applied late must not slip in before a cancel written since, which the replay
    /// (by time) would then let win.
    async fn write(
        &mut self,
        member: i64,
        step: Step,
        product: &Product,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let newest = self.ledger.newest_event_at(member, self.now).await?;
        let at = newest.map_or(at, |newest| at.max(newest)).min(self.now);
        let record = self.record(step, product, at)?;
        self.ledger.append(member, &record, self.now).await
    }

    /// The member's history for a right was just changed through one payer: every other
    /// subscription paying for the same right now starts from what is written.
    async fn written_for_right(
        &mut self,
        member: i64,
        product: &Product,
        written: SubState,
        except: Option<&str>,
    ) -> Result<(), StoreError> {
        let config = self.config;
        for mut other in self.ledger.member_subscriptions(member).await? {
            let same_right = other
                .product
                .as_deref()
                .and_then(|id| config.product(id))
                .is_some_and(|p| p.grants == product.grants);
            if same_right && Some(other.id.as_str()) != except && !other.paid_in_full {
                other.projected = written.to_text();
                self.ledger.save_subscription(&other).await?;
            }
        }
        Ok(())
    }

    /// Whether a payment other than `payer` still pays for `product`'s right: another
    /// subscription in good standing with Stripe, or a single purchase not refunded in full.
    async fn still_paid_elsewhere(
        &mut self,
        member: i64,
        payer: Payer<'_>,
        product: &Product,
    ) -> Result<bool, StoreError> {
        let config = self.config;
        let same_right = |id: Option<&str>| {
            id.and_then(|id| config.product(id))
                .is_some_and(|p| p.grants == product.grants)
        };
        let subscriptions = self.ledger.member_subscriptions(member).await?;
        let by_subscription = subscriptions.iter().any(|other| {
            payer != Payer::Subscription(&other.id)
                && SubState::from_text(&other.state).pays()
                && same_right(other.product.as_deref())
        });
        let purchases = self.ledger.member_purchases(member).await?;
        let by_purchase = purchases.iter().any(|(intent, id, amount, refunded)| {
            payer != Payer::Purchase(intent)
                && (refunded < amount || *amount == 0)
                && same_right(Some(id))
        });
        Ok(by_subscription || by_purchase)
    }

    fn record(
        &self,
        step: Step,
        product: &Product,
        at: Timestamp,
    ) -> Result<EventRecord, StoreError> {
        let grant = product.grants.clone();
        let is_level = matches!(grant, Grant::Level(_));
        let (kind, until, basis) = match step {
            Step::Grant if is_level => {
                (EventType::LevelSet, None, Some(Basis::of_product(product)))
            }
            Step::Grant => (EventType::BundleAdd, None, Some(Basis::of_product(product))),
            Step::CancelUntil(until) if is_level => (EventType::Cancel, Some(until), None),
            Step::CancelUntil(until) => (EventType::BundleCancel, Some(until), None),
            Step::Cancel if is_level => (EventType::Cancel, None, None),
            Step::Cancel => (EventType::BundleCancel, None, None),
            Step::Overdue => (EventType::Overdue, None, None),
            Step::Recovered => (EventType::Recovered, None, None),
            Step::PaidInFull => (EventType::PaidInFull, None, None),
        };
        EventRecord::new(kind, Some(grant), at, until, basis, self.config)
            .map_err(|e| StoreError::Invalid(e.to_string()))
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

/// A subscription's state from its object (DESIGN §5 via the table): `active` and
/// `trialing` give access; `cancel_at_period_end` or `cancel_at` make it pending-cancel until
/// then; `past_due`, `unpaid` and `paused` are overdue; `canceled` (or a deletion) cancels.
/// A payment plan's `cancel_at` is how Stripe ends the plan after its last payment, so only
/// `cancel_at_period_end` (the member cancelling) counts there.
pub fn subscription_state(sub: &Value, kind: &str, plan: bool) -> SubState {
    let status = text(sub, "status").unwrap_or_default();
    if kind == "customer.subscription.deleted"
        || matches!(status, "canceled" | "incomplete_expired")
    {
        return SubState::Cancelled;
    }
    match status {
        "active" | "trialing" => {
            let at_period_end = sub["cancel_at_period_end"].as_bool() == Some(true);
            let cancel_at = sub["cancel_at"].as_i64();
            let until = if at_period_end {
                cancel_at.or_else(|| period_end(sub))
            } else if plan {
                None
            } else {
                cancel_at
            };
            match until.and_then(|secs| Timestamp::from_second(secs).ok()) {
                Some(until) => SubState::PendingCancel(until),
                None => SubState::Active,
            }
        }
        "past_due" | "unpaid" | "paused" => SubState::Overdue,
        _ => SubState::None,
    }
}

fn new_subscription(id: &str, state: SubState, created: i64) -> SubscriptionRow {
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

fn set_state(sub: &mut SubscriptionRow, state: SubState) {
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

fn superseded(sub: &SubscriptionRow) -> String {
    format!(
        "superseded: a newer event about subscription {} (created {}) was applied already",
        sub.id, sub.last_event_created
    )
}

fn grant_text(grant: &Grant) -> String {
    crate::entitle::grant_text(grant)
}

fn step_name(step: Step) -> &'static str {
    match step {
        Step::Grant => "granted",
        Step::CancelUntil(_) => "pending cancel",
        Step::Cancel => "cancelled",
        Step::Overdue => "overdue",
        Step::Recovered => "recovered",
        Step::PaidInFull => "paid in full",
    }
}

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const UPDATED: &str = "customer.subscription.updated";

    #[test]
    fn active_and_trialing_give_access() {
        for status in ["active", "trialing"] {
            let sub = json!({"status": status, "cancel_at_period_end": false, "cancel_at": null});
            assert_eq!(subscription_state(&sub, UPDATED, false), SubState::Active);
        }
    }

    #[test]
    fn cancel_at_period_end_is_pending_until_the_period_ends_in_either_shape() {
        let old = json!({"status": "active", "cancel_at_period_end": true, "current_period_end": 1_800_000_000});
        let basil = json!({"status": "active", "cancel_at_period_end": true,
            "items": {"data": [{"current_period_end": 1_800_000_000}]}});
        let until = Timestamp::from_second(1_800_000_000).ok();
        for sub in [old, basil] {
            assert_eq!(
                Some(subscription_state(&sub, UPDATED, false)),
                until.map(SubState::PendingCancel)
            );
        }
    }

    #[test]
    fn cancel_at_is_pending_cancel_except_on_payment_plans() {
        let sub =
            json!({"status": "active", "cancel_at_period_end": false, "cancel_at": 1_800_000_000});
        assert!(matches!(
            subscription_state(&sub, UPDATED, false),
            SubState::PendingCancel(_)
        ));
        assert_eq!(subscription_state(&sub, UPDATED, true), SubState::Active);
    }

    #[test]
    fn unpaid_statuses_are_overdue_and_canceled_is_cancelled() {
        for status in ["past_due", "unpaid", "paused"] {
            assert_eq!(
                subscription_state(&json!({ "status": status }), UPDATED, false),
                SubState::Overdue
            );
        }
        assert_eq!(
            subscription_state(&json!({"status": "canceled"}), UPDATED, false),
            SubState::Cancelled
        );
        assert_eq!(
            subscription_state(
                &json!({"status": "active"}),
                "customer.subscription.deleted",
                false
            ),
            SubState::Cancelled
        );
        assert_eq!(
            subscription_state(&json!({"status": "incomplete"}), UPDATED, false),
            SubState::None
        );
    }
}
