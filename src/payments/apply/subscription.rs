//! Subscriptions and their invoices: state changes, plan switches, payments and failures.

use serde_json::Value;

use super::super::object::{
    id_of, invoice_prices, invoice_subscription, subscription_prices, text,
};
use super::super::projection::{Step, SubState};
use super::*;

impl Run<'_> {
    pub(super) async fn subscription_changed(&mut self) -> Result<String, StoreError> {
        let object = self.object().clone();
        let Some(id) = text(&object, "id") else {
            return Ok(failed("a subscription without an id"));
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
    pub(super) async fn switch_product(
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

    /// The subscription an invoice belongs to, with what the invoice says of its customer
    /// and product; `None` for an invoice outside any subscription.
    async fn invoice_subscription_row(
        &mut self,
        invoice: &Value,
    ) -> Result<Option<SubscriptionRow>, StoreError> {
        let Some(sub_id) = invoice_subscription(invoice) else {
            return Ok(None);
        };
        let mut sub = self
            .ledger
            .subscription(sub_id)
            .await?
            .unwrap_or_else(|| new_subscription(sub_id, SubState::None, 0));
        if sub.customer.is_none() {
            sub.customer = id_of(invoice, "customer").map(str::to_owned);
        }
        if sub.product.is_none() {
            sub.product = invoice_prices(invoice)
                .into_iter()
                .find_map(|price| self.config.product_by_price(price))
                .map(|p| p.id.clone());
        }
        Ok(Some(sub))
    }

    pub(super) async fn invoice_paid(&mut self) -> Result<String, StoreError> {
        let invoice = self.object().clone();
        let Some(mut sub) = self.invoice_subscription_row(&invoice).await? else {
            return Ok("not a subscription invoice: nothing to do".into());
        };
        let sub_id = sub.id.clone();
        let sub_id = sub_id.as_str();
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

    pub(super) async fn invoice_failed(&mut self) -> Result<String, StoreError> {
        let invoice = self.object().clone();
        let Some(mut sub) = self.invoice_subscription_row(&invoice).await? else {
            return Ok("not a subscription invoice: nothing to do".into());
        };
        if self.event.created < sub.last_event_created {
            return Ok(superseded(&sub));
        }
        sub.last_event_created = self.event.created;
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
}
