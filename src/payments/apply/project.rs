//! From what a subscription or purchase says to the member's history: the steps between
//! what was written and what is true now, written so that a late event never undoes a newer one.

use jiff::Timestamp;

use super::super::projection::{Step, SubState, steps};
use super::*;

impl Run<'_> {
    /// Writes into the member's history the steps from what was written to the state now.
    pub(super) async fn project(
        &mut self,
        sub: &mut SubscriptionRow,
    ) -> Result<String, StoreError> {
        let Some(product) = sub
            .product
            .as_deref()
            .and_then(|id| self.config.product(id))
            .cloned()
        else {
            return Ok(failed(format_args!(
                "no product for subscription {}: map its price with stripe_price in site.toml",
                sub.id
            )));
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
    pub(super) async fn write(
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
    pub(super) async fn written_for_right(
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
    /// subscription in good standing with Stripe, or a single purchase not refunded in full
    /// and not lost to a dispute. A dispute still open does not stop a purchase paying: it
    /// may yet be won, and the dispute's own events take the right back meanwhile.
    pub(super) async fn still_paid_elsewhere(
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
        let lost = self.ledger.lost_purchases(member).await?;
        let by_purchase = purchases.iter().any(|(intent, id, amount, refunded)| {
            payer != Payer::Purchase(intent)
                && (refunded < amount || *amount == 0)
                && !lost.contains(intent)
                && same_right(Some(id))
        });
        Ok(by_subscription || by_purchase)
    }

    /// Whether a subscription of the member for `product`'s right is overdue with Stripe.
    pub(super) async fn overdue_elsewhere(
        &mut self,
        member: i64,
        product: &Product,
    ) -> Result<bool, StoreError> {
        let config = self.config;
        let subscriptions = self.ledger.member_subscriptions(member).await?;
        Ok(subscriptions.iter().any(|sub| {
            SubState::from_text(&sub.state) == SubState::Overdue
                && sub
                    .product
                    .as_deref()
                    .and_then(|id| config.product(id))
                    .is_some_and(|p| p.grants == product.grants)
        }))
    }

    pub(super) fn record(
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
            Step::Revoke(reason) => return Ok(EventRecord::revoke(Some(grant), reason, at)),
            Step::Restore => (EventType::Restore, None, None),
        };
        EventRecord::new(kind, Some(grant), at, until, basis, self.config)
            .map_err(|e| StoreError::Invalid(e.to_string()))
    }
}
