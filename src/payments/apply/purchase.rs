//! Single purchases and the buyers behind them: Checkout Sessions, refunds, customers.
//!
//! A full refund is written as a `revoke`, not a cancel: under keep-unlocked a cancel keeps
//! open what had dripped, and a refund must not (issue 15). A partial refund changes nothing.

use super::super::object::{id_of, session_email, text};
use super::super::projection::{Step, SubState};
use super::*;

impl Run<'_> {
    pub(super) async fn checkout(&mut self) -> Result<String, StoreError> {
        let session = self.object().clone();
        if text(&session, "payment_status") == Some("unpaid") {
            return Ok("waiting: the payment is not complete yet".into());
        }
        let Some(email) = session_email(&session) else {
            return Ok(failed(
                "no buyer email on the session (customer_details.email, customer_email, client_reference_id)",
            ));
        };
        let Ok(email) = crate::email::normalize_email(email) else {
            // Not quoted: outcomes go to the log, and an address is personal data.
            return Ok(failed("the buyer email on the session is not an address"));
        };
        let customer = id_of(&session, "customer").map(str::to_owned);
        if text(&session, "mode") == Some("subscription") {
            let Some(sub_id) = id_of(&session, "subscription") else {
                return Ok(failed("a subscription session without a subscription"));
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
            return Ok(failed(
                "no product: the session has no line item price, payment_link or metadata.gatehouse_product that site.toml maps",
            ));
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
            return Ok(duplicate(format_args!(
                "purchase of {} already recorded",
                product.id
            )));
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

    pub(super) async fn refunded(&mut self) -> Result<String, StoreError> {
        let charge = self.object().clone();
        let amount = charge["amount"].as_i64().unwrap_or(0);
        let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
        let full = charge["refunded"].as_bool() == Some(true) || (amount > 0 && refunded >= amount);
        let intent = id_of(&charge, "payment_intent");
        if let Some(intent) = intent
            && let Some((member, product_id)) = self.ledger.purchase(intent).await?
        {
            let before = self
                .ledger
                .member_purchases(member)
                .await?
                .into_iter()
                .find(|(paid_by, ..)| paid_by == intent)
                .map_or(0, |(_, _, _, refunded)| refunded);
            self.ledger.record_refund(intent, refunded).await?;
            if !full {
                return Ok(format!(
                    "partial refund of {product_id} recorded; access unchanged"
                ));
            }
            if amount > 0 && before >= amount {
                // A second word of the same full refund (Stripe sends one event per refund,
                // and the last of several may arrive first): the first one revoked already.
                return Ok(duplicate(format_args!(
                    "full refund of {product_id} recorded already"
                )));
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
            // A subscription for the same right that is only behind on payment takes over:
            // the member is overdue (told to fix their card), not cancelled, and recovers.
            let (step, written, what) = if self.overdue_elsewhere(member, &product).await? {
                (Step::Overdue, SubState::Overdue, "overdue")
            } else {
                (
                    Step::Revoke(Revocation::Refunded),
                    SubState::Cancelled,
                    "revoked",
                )
            };
            self.write(member, step, &product, self.at).await?;
            self.written_for_right(member, &product, written, None)
                .await?;
            return Ok(format!(
                "full refund: {} {what}",
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
        if !self.ledger.invoice_refunded(&invoice).await? {
            return Ok(duplicate(format_args!(
                "full refund on subscription {sub_id} recorded already"
            )));
        }
        let Some(mut sub) = self.ledger.subscription(&sub_id).await? else {
            return Ok(format!("refund on unknown subscription {sub_id}"));
        };
        let note = self.take_back(&mut sub, Revocation::Refunded).await?;
        self.ledger.save_subscription(&sub).await?;
        Ok(format!("full refund on subscription {sub_id}: {note}"))
    }

    /// The money a subscription was paid went back (a full refund, a lost dispute): it is
    /// cancelled as far as gatehouse goes, and the right it paid for is revoked, whatever was
    /// written before. Also after a cancel: keep-unlocked honours a cancel, not a refund.
    pub(super) async fn take_back(
        &mut self,
        sub: &mut SubscriptionRow,
        reason: Revocation,
    ) -> Result<String, StoreError> {
        sub.last_event_created = sub.last_event_created.max(self.event.created);
        // A plan's completion paid by this money is undone with it.
        sub.paid_in_full = false;
        set_state(sub, SubState::Cancelled);
        let product = sub
            .product
            .as_deref()
            .and_then(|id| self.config.product(id))
            .cloned();
        let (Some(product), Some(member)) = (product, sub.member_id) else {
            return Ok("no member's access to take back".into());
        };
        if SubState::from_text(&sub.projected) == SubState::None {
            return Ok(format!("{} was never granted", grant_text(&product.grants)));
        }
        if self
            .still_paid_elsewhere(member, Payer::Subscription(&sub.id), &product)
            .await?
        {
            return Ok(format!(
                "{} stays: another payment still pays for it",
                grant_text(&product.grants)
            ));
        }
        let step = Step::Revoke(reason);
        self.write(member, step, &product, self.at).await?;
        sub.projected = SubState::Cancelled.to_text();
        self.written_for_right(member, &product, SubState::Cancelled, Some(&sub.id))
            .await?;
        Ok(format!(
            "{}: {}",
            grant_text(&product.grants),
            step_name(step)
        ))
    }

    /// A customer with an email that is already a member's: remember who they are.
    pub(super) async fn customer(&mut self) -> Result<String, StoreError> {
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
    pub(super) async fn adopt(
        &mut self,
        customer: &str,
        member: i64,
    ) -> Result<Vec<String>, StoreError> {
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
    pub(super) async fn find_member(
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

    /// `invoice_payment.paid` (basil): which payment intent paid which invoice, so that a
    /// refund of it finds the subscription.
    pub(super) async fn invoice_payment(&mut self) -> Result<String, StoreError> {
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
}
