//! The Stripe webhooks the soak sends: Checkout completions and subscription updates in Stripe's
//! 2025-03-31 ("basil") shape, each with a unique event id, signed as Stripe signs them
//! (`Stripe-Signature: t=…,v1=HMAC-SHA256("{t}.{body}")`, docs/payments.md).

use ring::hmac;
use serde_json::{Value, json};

/// The product a single purchase buys (`metadata.gatehouse_product`), and what it grants.
pub const COURSE_PRODUCT: &str = "pricing-course";
/// The subscription product, and its price as site.toml names it.
const GOLD_PRODUCT: &str = "gold-monthly";
const GOLD_PRICE: &str = "price_demo_gold_monthly";

/// What a delivery was about, so that the check afterwards knows what it must find.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A single purchase by a buyer who was no member before: afterwards they hold exactly one
    /// `bundle_add` from Stripe, whatever was redelivered.
    Purchase { email: String },
    /// A subscription event about a seeded member.
    Subscription,
}

/// One event as Stripe would post it, with what it is about.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub body: String,
    pub subject: Subject,
}

/// A single purchase of the pricing course by `email`, as `checkout.session.completed`.
pub fn purchase(tag: &str, email: &str, created: i64) -> Delivery {
    let session = json!({
        "id": format!("cs_soak_{tag}"),
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": 4900,
        "currency": "usd",
        "created": created,
        "customer": format!("cus_soak_{tag}"),
        "customer_details": { "email": email, "name": "Soak Buyer" },
        "customer_email": null,
        "client_reference_id": null,
        "payment_intent": format!("pi_soak_{tag}"),
        "payment_link": null,
        "subscription": null,
        "invoice": null,
        "metadata": { "gatehouse_product": COURSE_PRODUCT },
    });
    delivery(
        tag,
        "checkout.session.completed",
        created,
        session,
        Subject::Purchase {
            email: email.to_owned(),
        },
    )
}

/// A subscription bought by a member through Checkout, as `checkout.session.completed`.
pub fn subscription_checkout(tag: &str, sub: &str, email: &str, created: i64) -> Delivery {
    let session = json!({
        "id": format!("cs_soak_{tag}"),
        "object": "checkout.session",
        "mode": "subscription",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": 1900,
        "currency": "usd",
        "created": created,
        "customer": format!("cus_{sub}"),
        "customer_details": { "email": email, "name": "Soak Member" },
        "customer_email": null,
        "client_reference_id": null,
        "payment_intent": null,
        "payment_link": null,
        "subscription": sub,
        "invoice": format!("in_soak_{tag}"),
        "metadata": { "gatehouse_product": GOLD_PRODUCT },
    });
    delivery(
        tag,
        "checkout.session.completed",
        created,
        session,
        Subject::Subscription,
    )
}

/// `customer.subscription.updated`: active, and cancelling at the period's end or not.
pub fn subscription_updated(tag: &str, sub: &str, cancelling: bool, created: i64) -> Delivery {
    let start = created - 86_400;
    let end = start + 30 * 86_400;
    let object = json!({
        "id": sub,
        "object": "subscription",
        "status": "active",
        "customer": format!("cus_{sub}"),
        "cancel_at": if cancelling { json!(end) } else { Value::Null },
        "cancel_at_period_end": cancelling,
        "canceled_at": if cancelling { json!(created) } else { Value::Null },
        "ended_at": null,
        "created": start,
        "start_date": start,
        "trial_start": null,
        "trial_end": null,
        "metadata": {},
        "items": {
            "object": "list",
            "data": [{
                "id": format!("si_{sub}"),
                "object": "subscription_item",
                "current_period_start": start,
                "current_period_end": end,
                "price": { "id": GOLD_PRICE, "object": "price", "type": "recurring",
                           "unit_amount": 1900, "recurring": { "interval": "month" } },
                "quantity": 1,
                "subscription": sub,
            }],
            "has_more": false,
        },
    });
    let mut delivery = delivery(
        tag,
        "customer.subscription.updated",
        created,
        object,
        Subject::Subscription,
    );
    let previous = json!({ "cancel_at_period_end": !cancelling });
    let mut event: Value = serde_json::from_str(&delivery.body).expect("just written");
    event["data"]["previous_attributes"] = previous;
    delivery.body = event.to_string();
    delivery
}

fn delivery(tag: &str, kind: &str, created: i64, object: Value, subject: Subject) -> Delivery {
    let id = format!("evt_soak_{tag}");
    let body = json!({
        "id": id,
        "object": "event",
        "api_version": "2025-03-31.basil",
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
        "data": { "object": object },
    })
    .to_string();
    Delivery { id, body, subject }
}

/// The `Stripe-Signature` header for `body` signed with `secret` at `t`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut payload = format!("{t}.").into_bytes();
    payload.extend_from_slice(body.as_bytes());
    let tag = hmac::sign(&key, &payload);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}
