//! Disputes (`charge.dispute.*`): a disputed payment takes back what it paid for until the
//! dispute is decided (see `payments::dispute` for how Stripe's statuses read). Events about
//! one dispute arrive in any order and twice: a decided dispute is never reopened by an
//! older word, and only the step between what was written and what is true now is written.

use super::super::dispute::{DisputeState, DisputeWritten, dispute_step};
use super::super::object::{id_of, text};
use super::super::projection::Step;
use super::*;
use crate::store::DisputeRow;

impl Run<'_> {
    pub(super) async fn dispute(&mut self) -> Result<String, StoreError> {
        let object = self.object().clone();
        let Some(id) = text(&object, "id") else {
            return Ok(failed("a dispute without an id"));
        };
        let status = text(&object, "status").unwrap_or_default();
        let target = DisputeState::of(status);
        let mut dispute = match self.ledger.dispute(id).await? {
            Some(dispute) => dispute,
            None => match self.disputed_payment(id, &object).await? {
                Some(dispute) => dispute,
                None => {
                    return Ok(
                        "dispute on a payment gatehouse did not record: nothing to revoke".into(),
                    );
                }
            },
        };
        let decided = DisputeState::of(&dispute.status).decided();
        if self.event.created < dispute.last_event_created || (decided && !target.decided()) {
            return Ok(format!(
                "superseded: dispute {id} is {} already",
                dispute.status
            ));
        }
        dispute.status = status.to_owned();
        dispute.last_event_created = self.event.created;
        let note = self.project_dispute(&mut dispute, target, &object).await?;
        self.ledger.save_dispute(&dispute).await?;
        Ok(format!("dispute {id} is {status}; {note}"))
    }

    /// The payment a new dispute is about, and what it paid for; `None` when gatehouse never
    /// recorded it (a payment for something else the account sells).
    async fn disputed_payment(
        &mut self,
        id: &str,
        object: &Value,
    ) -> Result<Option<DisputeRow>, StoreError> {
        let intent = id_of(object, "payment_intent");
        let mut dispute = DisputeRow {
            id: id.to_owned(),
            member_id: 0,
            product: String::new(),
            payment_intent: None,
            subscription: None,
            status: String::new(),
            last_event_created: 0,
            projected: DisputeWritten::Nothing.to_text().to_owned(),
        };
        if let Some(intent) = intent
            && let Some((member, product)) = self.ledger.purchase(intent).await?
        {
            dispute.member_id = member;
            dispute.product = product;
            dispute.payment_intent = Some(intent.to_owned());
            return Ok(Some(dispute));
        }
        let found = self
            .ledger
            .invoice_subscription(None, intent, id_of(object, "charge"))
            .await?;
        let Some((sub_id, _)) = found else {
            return Ok(None);
        };
        let Some(sub) = self.ledger.subscription(&sub_id).await? else {
            return Ok(None);
        };
        let (Some(member), Some(product)) = (sub.member_id, sub.product) else {
            return Ok(None);
        };
        dispute.member_id = member;
        dispute.product = product;
        dispute.subscription = Some(sub_id);
        Ok(Some(dispute))
    }

    async fn project_dispute(
        &mut self,
        dispute: &mut DisputeRow,
        target: DisputeState,
        object: &Value,
    ) -> Result<String, StoreError> {
        let Some(product) = self.config.product(&dispute.product).cloned() else {
            return Ok(format!(
                "it paid for {}, which site.toml no longer has",
                dispute.product
            ));
        };
        let written = DisputeWritten::from_text(&dispute.projected);
        let (step, next) = dispute_step(written, target);
        let Some(step) = step else {
            return Ok(format!("{} unchanged", grant_text(&product.grants)));
        };
        if target == DisputeState::Lost
            && let Some(sub_id) = dispute.subscription.clone()
        {
            // A lost dispute on a subscription's payment is its refund: the subscription
            // stops paying for the right, and the invoice stops counting towards a plan.
            let found = self
                .ledger
                .invoice_subscription(
                    None,
                    id_of(object, "payment_intent"),
                    id_of(object, "charge"),
                )
                .await?;
            if let Some((_, invoice)) = found {
                self.ledger.invoice_refunded(&invoice).await?;
            }
            if let Some(mut sub) = self.ledger.subscription(&sub_id).await? {
                let note = self.take_back(&mut sub, Revocation::DisputeLost).await?;
                self.ledger.save_subscription(&sub).await?;
                dispute.projected = next.to_text().to_owned();
                return Ok(note);
            }
        }
        let payer = match (&dispute.payment_intent, &dispute.subscription) {
            (Some(intent), _) => Payer::Purchase(intent),
            (None, Some(sub)) => Payer::Subscription(sub),
            (None, None) => return Ok("a dispute about no payment".into()),
        };
        if matches!(step, Step::Revoke(_))
            && self
                .still_paid_elsewhere(dispute.member_id, payer, &product)
                .await?
        {
            // Another payment pays for the right: nothing is taken, and nothing written, so a
            // later word about this dispute looks again. A loss is remembered all the same:
            // the lost payment no longer pays for anything.
            if next == DisputeWritten::Lost {
                dispute.projected = next.to_text().to_owned();
            }
            return Ok(format!(
                "{} stays: another payment still pays for it",
                grant_text(&product.grants)
            ));
        }
        self.write(dispute.member_id, step, &product, self.at)
            .await?;
        dispute.projected = next.to_text().to_owned();
        Ok(format!(
            "{}: {}",
            grant_text(&product.grants),
            step_name(step)
        ))
    }
}
