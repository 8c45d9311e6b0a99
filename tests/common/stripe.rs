//! Stripe webhook events for tests, in Stripe's real JSON shapes: full event envelopes around
//! Checkout Sessions, Subscriptions, Invoices, Charges and Disputes, as the API version before
//! 2025 (`2024-06-20`) and the 2025-03-31 "basil" version send them. Basil moved a subscription's
//! `current_period_start`/`current_period_end` onto its items, and an invoice's `subscription`
//! under `parent.subscription_details` (its lines name their price under
//! `pricing.price_details` and their subscription under `parent.subscription_item_details`);
//! it also dropped `invoice.payment_intent`, `invoice.charge`, `invoice.paid` and
//! `charge.invoice`.
//!
//! Deliveries are signed like Stripe signs them (`Stripe-Signature: t=…,v1=…`) and posted raw to
//! `/_gate/webhooks/stripe` of a [`TestEdge`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use super::edge::{Answer, TestEdge};

/// The endpoint signing secret the tests configure (`EdgeOptions.stripe_secrets`).
pub const SECRET: &str = "whsec_gatehouseTestSecret0123456789abcdefGHIJ";

/// Which API version's shapes an event is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `2024-06-20`: periods on the subscription, `invoice.subscription`, `charge.invoice`.
    Old,
    /// `2025-03-31.basil`: periods on subscription items, `invoice.parent`, line `pricing`.
    Basil,
}

impl Shape {
    pub const ALL: [Shape; 2] = [Shape::Old, Shape::Basil];

    pub fn api_version(self) -> &'static str {
        match self {
            Shape::Old => "2024-06-20",
            Shape::Basil => "2025-03-31.basil",
        }
    }
}

/// Unix seconds now.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A fresh Stripe-style id: `prefix_` and 24 letters and digits, unique within the process.
pub fn stripe_id(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut state = nanos ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(std::process::id());
    let mut tail = String::from("1");
    // The counter keeps ids unique; the mixed bits only make them look like Stripe's.
    for i in 0..17 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let index = (state.wrapping_add(i) % ALPHABET.len() as u64) as usize;
        tail.push(char::from(ALPHABET[index]));
    }
    format!("{prefix}_{tail}{n:06}")
}

/// An event envelope around `object`, as Stripe posts it.
pub fn event(kind: &str, shape: Shape, created: i64, object: Value) -> Value {
    json!({
        "id": stripe_id("evt"),
        "object": "event",
        "api_version": shape.api_version(),
        "created": created,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": {
            "id": stripe_id("req"),
            "idempotency_key": format!("{}-{}", stripe_id("ik").to_lowercase(), created),
        },
        "type": kind,
    })
}

/// The same event with `data.previous_attributes` (what `*.updated` events carry).
pub fn with_previous(mut event: Value, previous: Value) -> Value {
    event["data"]["previous_attributes"] = previous;
    event
}

/// The event's id.
pub fn id(event: &Value) -> String {
    event["id"].as_str().expect("an event id").to_owned()
}

/// A one-off price object of the demo site (`stripe_price`), as a line item expands it.
fn one_time_price(price: &str, amount: i64) -> Value {
    json!({
        "id": price,
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "created": 1_700_000_000,
        "currency": "usd",
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": null,
        "product": product_of(price),
        "recurring": null,
        "tax_behavior": "unspecified",
        "tiers_mode": null,
        "transform_quantity": null,
        "type": "one_time",
        "unit_amount": amount,
        "unit_amount_decimal": amount.to_string(),
    })
}

fn recurring_price(price: &str, amount: i64, interval: &str) -> Value {
    json!({
        "id": price,
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "created": 1_700_000_000,
        "currency": "usd",
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": null,
        "product": product_of(price),
        "recurring": {
            "aggregate_usage": null,
            "interval": interval,
            "interval_count": 1,
            "meter": null,
            "trial_period_days": null,
            "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "tiers_mode": null,
        "transform_quantity": null,
        "type": "recurring",
        "unit_amount": amount,
        "unit_amount_decimal": amount.to_string(),
    })
}

/// The (legacy) plan object old subscriptions and invoice lines carry beside the price.
fn plan(price: &str, amount: i64, interval: &str) -> Value {
    json!({
        "id": price,
        "object": "plan",
        "active": true,
        "aggregate_usage": null,
        "amount": amount,
        "amount_decimal": amount.to_string(),
        "billing_scheme": "per_unit",
        "created": 1_700_000_000,
        "currency": "usd",
        "interval": interval,
        "interval_count": 1,
        "livemode": false,
        "metadata": {},
        "meter": null,
        "nickname": null,
        "product": product_of(price),
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": "licensed",
    })
}

/// A stable Stripe product id for a price id.
fn product_of(price: &str) -> String {
    format!("prod_{}", price.trim_start_matches("price_"))
}

/// Adds every field of `more` to the object `target` (big literals are built in parts: one
/// `json!` of a whole Stripe object would exceed the macro recursion limit).
fn extend(target: &mut Value, more: Value) {
    if let (Value::Object(target), Value::Object(more)) = (target, more) {
        target.extend(more);
    }
}

fn nullable(value: &Option<String>) -> Value {
    value
        .as_deref()
        .map_or(Value::Null, |v| Value::String(v.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Checkout Sessions
// ---------------------------------------------------------------------------------------------

/// A completed Checkout Session (`checkout.session`).
#[derive(Debug, Clone)]
pub struct Checkout {
    pub id: String,
    /// `subscription` or `payment`.
    pub mode: &'static str,
    /// `paid`, `unpaid` or `no_payment_required`.
    pub payment_status: &'static str,
    pub customer: Option<String>,
    /// `customer_details.email`.
    pub details_email: Option<String>,
    pub customer_email: Option<String>,
    pub client_reference_id: Option<String>,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
    pub payment_intent: Option<String>,
    pub payment_link: Option<String>,
    pub metadata: Value,
    /// Price ids; when any, `line_items` is present as if the session had been expanded.
    pub line_items: Vec<String>,
    pub amount_total: i64,
    pub currency: &'static str,
    pub created: i64,
}

impl Checkout {
    /// A subscription-mode session paid by `email` (found in `customer_details.email`).
    pub fn subscription(email: &str, customer: &str, subscription: &str) -> Checkout {
        Checkout {
            id: stripe_id("cs_test"),
            mode: "subscription",
            payment_status: "paid",
            customer: Some(customer.to_owned()),
            details_email: Some(email.to_owned()),
            customer_email: None,
            client_reference_id: None,
            subscription: Some(subscription.to_owned()),
            invoice: Some(stripe_id("in")),
            payment_intent: None,
            payment_link: None,
            metadata: json!({}),
            line_items: Vec::new(),
            amount_total: 1900,
            currency: "usd",
            created: now() - 60,
        }
    }

    /// A payment-mode session (a single purchase) paid by `email`, with a payment intent.
    pub fn payment(email: &str, customer: &str) -> Checkout {
        Checkout {
            id: stripe_id("cs_test"),
            mode: "payment",
            payment_status: "paid",
            customer: Some(customer.to_owned()),
            details_email: Some(email.to_owned()),
            customer_email: None,
            client_reference_id: None,
            subscription: None,
            invoice: None,
            payment_intent: Some(stripe_id("pi")),
            payment_link: None,
            metadata: json!({}),
            line_items: Vec::new(),
            amount_total: 4900,
            currency: "usd",
            created: now() - 60,
        }
    }

    /// A copy changed by `change`.
    pub fn with(&self, change: impl FnOnce(&mut Checkout)) -> Checkout {
        let mut copy = self.clone();
        change(&mut copy);
        copy
    }

    pub fn object(&self, shape: Shape) -> Value {
        let details = json!({
            "address": {
                "city": null,
                "country": "NL",
                "line1": null,
                "line2": null,
                "postal_code": null,
                "state": null,
            },
            "email": nullable(&self.details_email),
            "name": "Test Buyer",
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": [],
        });
        let mut session = json!({
            "id": self.id,
            "object": "checkout.session",
            "adaptive_pricing": null,
            "after_expiration": null,
            "allow_promotion_codes": null,
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "automatic_tax": { "enabled": false, "liability": null, "status": null },
            "billing_address_collection": null,
            "cancel_url": "https://academy.example.com/pricing/",
            "client_reference_id": nullable(&self.client_reference_id),
            "client_secret": null,
            "consent": null,
            "consent_collection": null,
            "created": self.created,
            "currency": self.currency,
            "currency_conversion": null,
            "custom_fields": [],
            "custom_text": {
                "after_submit": null,
                "shipping_address": null,
                "submit": null,
                "terms_of_service_acceptance": null,
            },
        });
        extend(
            &mut session,
            json!({
                "customer": nullable(&self.customer),
                "customer_creation": "always",
                "customer_details": details,
                "customer_email": nullable(&self.customer_email),
                "expires_at": self.created + 86_400,
                "invoice": nullable(&self.invoice),
                "invoice_creation": null,
                "livemode": false,
                "locale": null,
                "metadata": self.metadata,
                "mode": self.mode,
                "payment_intent": nullable(&self.payment_intent),
                "payment_link": nullable(&self.payment_link),
            }),
        );
        extend(
            &mut session,
            json!({
                "payment_method_collection": "always",
                "payment_method_configuration_details": null,
                "payment_method_options": { "card": { "request_three_d_secure": "automatic" } },
                "payment_method_types": ["card"],
                "payment_status": self.payment_status,
                "phone_number_collection": { "enabled": false },
                "recovered_from": null,
                "saved_payment_method_options": null,
                "setup_intent": null,
                "shipping_address_collection": null,
                "shipping_cost": null,
                "shipping_details": null,
                "shipping_options": [],
                "status": "complete",
                "submit_type": null,
                "subscription": nullable(&self.subscription),
                "success_url": "https://academy.example.com/welcome/",
                "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
                "ui_mode": "hosted",
                "url": null,
            }),
        );
        if shape == Shape::Basil {
            session["discounts"] = json!([]);
            session["permissions"] = Value::Null;
            session["presentment_details"] = Value::Null;
            session["collected_information"] = json!({ "shipping_details": null });
        }
        if !self.line_items.is_empty() {
            let data: Vec<Value> = self
                .line_items
                .iter()
                .map(|price| {
                    json!({
                        "id": stripe_id("li"),
                        "object": "item",
                        "amount_discount": 0,
                        "amount_subtotal": self.amount_total,
                        "amount_tax": 0,
                        "amount_total": self.amount_total,
                        "currency": self.currency,
                        "description": "Pricing Course",
                        "price": one_time_price(price, self.amount_total),
                        "quantity": 1,
                    })
                })
                .collect();
            session["line_items"] = json!({
                "object": "list",
                "data": data,
                "has_more": false,
                "url": format!("/v1/checkout/sessions/{}/line_items", self.id),
            });
        }
        session
    }

    /// `checkout.session.completed`.
    pub fn completed(&self, shape: Shape, created: i64) -> Value {
        event(
            "checkout.session.completed",
            shape,
            created,
            self.object(shape),
        )
    }

    /// `checkout.session.async_payment_succeeded`.
    pub fn async_succeeded(&self, shape: Shape, created: i64) -> Value {
        event(
            "checkout.session.async_payment_succeeded",
            shape,
            created,
            self.object(shape),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------------------------

/// A subscription with one item (`subscription`).
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub item_id: String,
    pub customer: String,
    pub price: String,
    pub amount: i64,
    pub interval: &'static str,
    /// `incomplete`, `trialing`, `active`, `past_due`, `unpaid`, `canceled`, …
    pub status: &'static str,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub created: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub trial_start: Option<i64>,
    pub trial_end: Option<i64>,
    pub metadata: Value,
    pub latest_invoice: Option<String>,
}

impl Subscription {
    /// An active monthly subscription to `price`, in a period that started a day ago.
    pub fn new(customer: &str, price: &str) -> Subscription {
        let start = now() - 86_400;
        Subscription {
            id: stripe_id("sub"),
            item_id: stripe_id("si"),
            customer: customer.to_owned(),
            price: price.to_owned(),
            amount: 1900,
            interval: "month",
            status: "active",
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            created: start,
            period_start: start,
            period_end: start + 30 * 86_400,
            trial_start: None,
            trial_end: None,
            metadata: json!({}),
            latest_invoice: Some(stripe_id("in")),
        }
    }

    /// A copy changed by `change`.
    pub fn with(&self, change: impl FnOnce(&mut Subscription)) -> Subscription {
        let mut copy = self.clone();
        change(&mut copy);
        copy
    }

    pub fn object(&self, shape: Shape) -> Value {
        let mut item = json!({
            "id": self.item_id,
            "object": "subscription_item",
            "billing_thresholds": null,
            "created": self.created,
            "discounts": [],
            "metadata": {},
            "plan": plan(&self.price, self.amount, self.interval),
            "price": recurring_price(&self.price, self.amount, self.interval),
            "quantity": 1,
            "subscription": self.id,
            "tax_rates": [],
        });
        if shape == Shape::Basil {
            item["current_period_start"] = json!(self.period_start);
            item["current_period_end"] = json!(self.period_end);
        }
        let cancellation_reason = self.canceled_at.map(|_| "cancellation_requested");
        let mut sub = json!({
            "id": self.id,
            "object": "subscription",
            "application": null,
            "application_fee_percent": null,
            "automatic_tax": { "disabled_reason": null, "enabled": false, "liability": null },
            "billing_cycle_anchor": self.created,
            "billing_cycle_anchor_config": null,
            "cancel_at": self.cancel_at,
            "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": self.canceled_at,
            "cancellation_details": {
                "comment": null,
                "feedback": null,
                "reason": cancellation_reason,
            },
            "collection_method": "charge_automatically",
            "created": self.created,
            "currency": "usd",
            "customer": self.customer,
            "days_until_due": null,
            "default_payment_method": stripe_id("pm"),
            "default_source": null,
            "default_tax_rates": [],
            "description": null,
            "discounts": [],
        });
        extend(
            &mut sub,
            json!({
                "ended_at": self.ended_at,
                "invoice_settings": { "account_tax_ids": null, "issuer": { "type": "self" } },
                "items": {
                    "object": "list",
                    "data": [item],
                    "has_more": false,
                    "total_count": 1,
                    "url": format!("/v1/subscription_items?subscription={}", self.id),
                },
                "latest_invoice": nullable(&self.latest_invoice),
                "livemode": false,
                "metadata": self.metadata,
                "next_pending_invoice_item_invoice": null,
                "on_behalf_of": null,
                "pause_collection": null,
                "payment_settings": {
                    "payment_method_options": null,
                    "payment_method_types": null,
                    "save_default_payment_method": "off",
                },
                "pending_invoice_item_interval": null,
                "pending_setup_intent": null,
                "pending_update": null,
                "schedule": null,
                "start_date": self.created,
                "status": self.status,
                "test_clock": null,
                "transfer_data": null,
                "trial_end": self.trial_end,
                "trial_settings": { "end_behavior": { "missing_payment_method": "create_invoice" } },
                "trial_start": self.trial_start,
            }),
        );
        match shape {
            Shape::Old => {
                sub["current_period_start"] = json!(self.period_start);
                sub["current_period_end"] = json!(self.period_end);
                sub["discount"] = Value::Null;
                sub["plan"] = plan(&self.price, self.amount, self.interval);
                sub["quantity"] = json!(1);
            }
            Shape::Basil => {
                sub["billing_mode"] = json!({ "type": "classic" });
            }
        }
        sub
    }

    /// `customer.subscription.created`.
    pub fn created_event(&self, shape: Shape, created: i64) -> Value {
        event(
            "customer.subscription.created",
            shape,
            created,
            self.object(shape),
        )
    }

    /// `customer.subscription.updated`, with `previous_attributes` as Stripe sends them.
    pub fn updated_event(&self, shape: Shape, created: i64, previous: Value) -> Value {
        with_previous(
            event(
                "customer.subscription.updated",
                shape,
                created,
                self.object(shape),
            ),
            previous,
        )
    }

    /// `customer.subscription.deleted`: the subscription as it ended (`canceled`).
    pub fn deleted_event(&self, shape: Shape, created: i64) -> Value {
        let ended = self.with(|s| {
            s.status = "canceled";
            s.canceled_at = Some(s.canceled_at.unwrap_or(created));
            s.ended_at = Some(created);
        });
        event(
            "customer.subscription.deleted",
            shape,
            created,
            ended.object(shape),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Invoices
// ---------------------------------------------------------------------------------------------

/// A subscription invoice (`invoice`) with one line.
#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: String,
    pub customer: String,
    pub customer_email: Option<String>,
    pub subscription: String,
    pub subscription_item: String,
    pub price: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    /// `paid` or `open`.
    pub status: &'static str,
    /// `subscription_create`, `subscription_cycle`, `subscription_update`, …
    pub billing_reason: &'static str,
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub created: i64,
    pub period_start: i64,
    pub period_end: i64,
}

impl Invoice {
    /// A paid invoice for the subscription's current period.
    pub fn paid(sub: &Subscription, email: &str, amount: i64) -> Invoice {
        Invoice {
            id: stripe_id("in"),
            customer: sub.customer.clone(),
            customer_email: Some(email.to_owned()),
            subscription: sub.id.clone(),
            subscription_item: sub.item_id.clone(),
            price: sub.price.clone(),
            amount_due: amount,
            amount_paid: amount,
            status: "paid",
            billing_reason: "subscription_cycle",
            payment_intent: Some(stripe_id("pi")),
            charge: Some(stripe_id("ch")),
            created: sub.period_start,
            period_start: sub.period_start,
            period_end: sub.period_end,
        }
    }

    /// An invoice whose payment failed: open, nothing paid.
    pub fn failed(sub: &Subscription, email: &str, amount: i64) -> Invoice {
        Invoice::paid(sub, email, amount).with(|i| {
            i.amount_paid = 0;
            i.status = "open";
            i.charge = Some(stripe_id("ch"));
        })
    }

    /// A copy changed by `change`.
    pub fn with(&self, change: impl FnOnce(&mut Invoice)) -> Invoice {
        let mut copy = self.clone();
        change(&mut copy);
        copy
    }

    pub fn object(&self, shape: Shape) -> Value {
        let paid = self.status == "paid";
        let mut line = json!({
            "id": stripe_id("il"),
            "object": "line_item",
            "amount": self.amount_due,
            "currency": "usd",
            "description": format!("1 × {} (at $ {}.00 / month)", self.price, self.amount_due / 100),
            "discount_amounts": [],
            "discountable": true,
            "discounts": [],
            "invoice": self.id,
            "livemode": false,
            "metadata": {},
            "period": { "end": self.period_end, "start": self.period_start },
            "quantity": 1,
            "tax_amounts": [],
        });
        let mut invoice = json!({
            "id": self.id,
            "object": "invoice",
            "account_country": "NL",
            "account_name": "Acme Academy",
            "amount_due": self.amount_due,
            "amount_paid": self.amount_paid,
            "amount_remaining": self.amount_due - self.amount_paid,
            "amount_shipping": 0,
            "attempt_count": 1,
            "attempted": true,
            "auto_advance": !paid,
            "billing_reason": self.billing_reason,
            "collection_method": "charge_automatically",
            "created": self.created,
            "currency": "usd",
            "customer": self.customer,
            "customer_email": nullable(&self.customer_email),
            "customer_name": "Test Buyer",
            "default_payment_method": null,
            "description": null,
            "discounts": [],
            "due_date": null,
            "ending_balance": 0,
        });
        extend(
            &mut invoice,
            json!({
                "hosted_invoice_url": format!("https://invoice.stripe.com/i/acct_test/{}", self.id),
                "invoice_pdf": format!("https://pay.stripe.com/invoice/acct_test/{}/pdf", self.id),
                "livemode": false,
                "metadata": {},
                "next_payment_attempt": if paid { Value::Null } else { json!(self.created + 3 * 86_400) },
                "number": format!("GH-{}", &self.id[self.id.len() - 4..]),
                "period_end": self.period_end,
                "period_start": self.period_start,
                "starting_balance": 0,
                "status": self.status,
                "status_transitions": {
                    "finalized_at": self.created,
                    "marked_uncollectible_at": null,
                    "paid_at": if paid { json!(self.created) } else { Value::Null },
                    "voided_at": null,
                },
                "subtotal": self.amount_due,
                "total": self.amount_due,
            }),
        );
        match shape {
            Shape::Old => {
                line["plan"] = plan(&self.price, self.amount_due, "month");
                line["price"] = recurring_price(&self.price, self.amount_due, "month");
                line["proration"] = json!(false);
                line["subscription"] = json!(self.subscription);
                line["subscription_item"] = json!(self.subscription_item);
                line["type"] = json!("subscription");
                invoice["charge"] = nullable(&self.charge);
                invoice["paid"] = json!(paid);
                invoice["paid_out_of_band"] = json!(false);
                invoice["payment_intent"] = nullable(&self.payment_intent);
                invoice["subscription"] = json!(self.subscription);
                invoice["subscription_details"] = json!({ "metadata": {} });
            }
            Shape::Basil => {
                line["parent"] = json!({
                    "type": "subscription_item_details",
                    "invoice_item_details": null,
                    "subscription_item_details": {
                        "invoice_item": null,
                        "proration": false,
                        "proration_details": { "credited_items": null },
                        "subscription": self.subscription,
                        "subscription_item": self.subscription_item,
                    },
                });
                line["pricing"] = json!({
                    "type": "price_details",
                    "price_details": {
                        "price": self.price,
                        "product": product_of(&self.price),
                    },
                    "unit_amount_decimal": self.amount_due.to_string(),
                });
                line["pretax_credit_amounts"] = json!([]);
                line["taxes"] = json!([]);
                invoice["parent"] = json!({
                    "type": "subscription_details",
                    "quote_details": null,
                    "subscription_details": {
                        "metadata": {},
                        "subscription": self.subscription,
                    },
                });
                invoice["amount_overpaid"] = json!(0);
                invoice["confirmation_secret"] = Value::Null;
                invoice["total_taxes"] = json!([]);
            }
        }
        invoice["lines"] = json!({
            "object": "list",
            "data": [line],
            "has_more": false,
            "total_count": 1,
            "url": format!("/v1/invoices/{}/lines", self.id),
        });
        invoice
    }

    /// `invoice.paid`.
    pub fn paid_event(&self, shape: Shape, created: i64) -> Value {
        event("invoice.paid", shape, created, self.object(shape))
    }

    /// `invoice.payment_succeeded` (sent beside `invoice.paid` for the same invoice).
    pub fn succeeded_event(&self, shape: Shape, created: i64) -> Value {
        event(
            "invoice.payment_succeeded",
            shape,
            created,
            self.object(shape),
        )
    }

    /// `invoice.payment_failed`.
    pub fn failed_event(&self, shape: Shape, created: i64) -> Value {
        event("invoice.payment_failed", shape, created, self.object(shape))
    }

    /// `invoice_payment.paid` (basil on): the `invoice_payment` saying the invoice's payment
    /// intent paid it. Basil invoices and charges no longer name each other; this links them.
    pub fn payment_paid_event(&self, created: i64) -> Value {
        let intent = self
            .payment_intent
            .clone()
            .expect("an invoice paid by a payment intent");
        let payment = json!({
            "id": stripe_id("inpay"),
            "object": "invoice_payment",
            "amount_paid": self.amount_paid,
            "amount_requested": self.amount_due,
            "created": created,
            "currency": "usd",
            "invoice": self.id,
            "is_default": true,
            "livemode": false,
            "payment": { "type": "payment_intent", "payment_intent": intent },
            "status": "paid",
            "status_transitions": { "canceled_at": null, "paid_at": created },
        });
        event("invoice_payment.paid", Shape::Basil, created, payment)
    }
}

// ---------------------------------------------------------------------------------------------
// Charges
// ---------------------------------------------------------------------------------------------

/// A card charge (`charge`).
#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub customer: Option<String>,
    pub amount: i64,
    pub amount_refunded: i64,
    pub payment_intent: Option<String>,
    /// Before basil only.
    pub invoice: Option<String>,
    pub created: i64,
}

impl Charge {
    /// The charge of a single purchase made through `session`.
    pub fn of_session(session: &Checkout) -> Charge {
        Charge {
            id: stripe_id("ch"),
            customer: session.customer.clone(),
            amount: session.amount_total,
            amount_refunded: 0,
            payment_intent: session.payment_intent.clone(),
            invoice: None,
            created: session.created,
        }
    }

    /// The charge that paid a subscription invoice (`charge.invoice` is sent before basil only).
    pub fn of_invoice(invoice: &Invoice) -> Charge {
        Charge {
            id: invoice.charge.clone().unwrap_or_else(|| stripe_id("ch")),
            customer: Some(invoice.customer.clone()),
            amount: invoice.amount_paid,
            amount_refunded: 0,
            payment_intent: invoice.payment_intent.clone(),
            invoice: Some(invoice.id.clone()),
            created: invoice.created,
        }
    }

    /// A copy changed by `change`.
    pub fn with(&self, change: impl FnOnce(&mut Charge)) -> Charge {
        let mut copy = self.clone();
        change(&mut copy);
        copy
    }

    pub fn object(&self, shape: Shape) -> Value {
        let refunded = self.amount_refunded >= self.amount;
        let mut charge = json!({
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount,
            "amount_refunded": self.amount_refunded,
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": stripe_id("txn"),
            "billing_details": {
                "address": { "city": null, "country": "NL", "line1": null, "line2": null,
                             "postal_code": null, "state": null },
                "email": null,
                "name": "Test Buyer",
                "phone": null,
            },
            "calculated_statement_descriptor": "ACME ACADEMY",
            "captured": true,
            "created": self.created,
            "currency": "usd",
            "customer": nullable(&self.customer),
            "description": null,
            "disputed": false,
            "failure_code": null,
            "failure_message": null,
        });
        extend(
            &mut charge,
            json!({
                "fraud_details": {},
                "livemode": false,
                "metadata": {},
                "on_behalf_of": null,
                "outcome": {
                    "network_status": "approved_by_network",
                    "reason": null,
                    "risk_level": "normal",
                    "seller_message": "Payment complete.",
                    "type": "authorized",
                },
                "paid": true,
                "payment_intent": nullable(&self.payment_intent),
                "payment_method": stripe_id("pm"),
                "payment_method_details": {
                    "card": { "brand": "visa", "country": "US", "exp_month": 12, "exp_year": 2034,
                              "funding": "credit", "last4": "4242", "network": "visa" },
                    "type": "card",
                },
                "receipt_email": null,
                "receipt_url": format!("https://pay.stripe.com/receipts/payment/{}", self.id),
                "refunded": refunded,
                "review": null,
                "shipping": null,
                "source_transfer": null,
                "statement_descriptor": null,
                "statement_descriptor_suffix": null,
                "status": "succeeded",
                "transfer_data": null,
                "transfer_group": null,
            }),
        );
        if shape == Shape::Old {
            charge["invoice"] = nullable(&self.invoice);
        }
        charge
    }

    /// `charge.refunded` after `amount_refunded` of the amount was refunded.
    pub fn refunded_event(&self, shape: Shape, created: i64) -> Value {
        event("charge.refunded", shape, created, self.object(shape))
    }
}

// ---------------------------------------------------------------------------------------------
// Disputes
// ---------------------------------------------------------------------------------------------

/// A dispute (chargeback) of a charge (`dispute`).
#[derive(Debug, Clone)]
pub struct Dispute {
    pub id: String,
    pub charge: String,
    pub payment_intent: Option<String>,
    pub amount: i64,
    /// `needs_response`, `under_review`, `won`, `lost`, `warning_needs_response`, …
    pub status: String,
    pub created: i64,
}

impl Dispute {
    /// A chargeback of `charge`, just opened (`needs_response`).
    pub fn of(charge: &Charge, created: i64) -> Dispute {
        Dispute {
            id: stripe_id("dp"),
            charge: charge.id.clone(),
            payment_intent: charge.payment_intent.clone(),
            amount: charge.amount,
            status: "needs_response".to_owned(),
            created,
        }
    }

    /// A copy changed by `change`.
    pub fn with(&self, change: impl FnOnce(&mut Dispute)) -> Dispute {
        let mut copy = self.clone();
        change(&mut copy);
        copy
    }

    pub fn object(&self, shape: Shape) -> Value {
        let closed = matches!(self.status.as_str(), "won" | "lost" | "warning_closed");
        let mut dispute = json!({
            "id": self.id,
            "object": "dispute",
            "amount": self.amount,
            "balance_transactions": [],
            "charge": self.charge,
            "created": self.created,
            "currency": "usd",
            "evidence": {
                "access_activity_log": null, "billing_address": null,
                "cancellation_policy": null, "customer_email_address": null,
                "customer_name": null, "product_description": null, "receipt": null,
                "refund_policy": null, "service_date": null, "uncategorized_text": null,
            },
            "evidence_details": {
                "due_by": self.created + 7 * 86_400,
                "has_evidence": closed,
                "past_due": false,
                "submission_count": i64::from(closed),
            },
            "is_charge_refundable": false,
            "livemode": false,
            "metadata": {},
            "payment_intent": nullable(&self.payment_intent),
            "payment_method_details": {
                "card": { "brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4" },
                "type": "card",
            },
            "reason": "fraudulent",
            "status": self.status,
        });
        if shape == Shape::Basil {
            dispute["enhanced_eligibility_types"] = json!([]);
        }
        dispute
    }

    /// `charge.dispute.created`.
    pub fn created_event(&self, shape: Shape, created: i64) -> Value {
        event("charge.dispute.created", shape, created, self.object(shape))
    }

    /// `charge.dispute.closed` with the dispute's `status` (`won`, `lost`, `warning_closed`).
    pub fn closed_event(&self, shape: Shape, created: i64) -> Value {
        event("charge.dispute.closed", shape, created, self.object(shape))
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

/// The body Stripe posts: the event as pretty-printed JSON.
pub fn body(event: &Value) -> String {
    serde_json::to_string_pretty(event).expect("an event serializes")
}

/// A `Stripe-Signature` header for `body` signed with `secret` at `t`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    gatehouse::payments::signature::sign(secret, t, body.as_bytes())
}

/// Posts `body` raw to `/webhooks/stripe`, with `stripe_signature` as the header if any.
pub async fn post(edge: &TestEdge, body: &str, stripe_signature: Option<&str>) -> Answer {
    let mut request = TestEdge::request(Method::POST, "/webhooks/stripe", None)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .header(
            header::USER_AGENT,
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        );
    if let Some(value) = stripe_signature {
        request = request.header("stripe-signature", value);
    }
    edge.send(
        request
            .body(Body::from(body.to_owned()))
            .expect("a request"),
    )
    .await
}

/// Delivers `event` signed with [`SECRET`] now, whatever the answer.
pub async fn deliver(edge: &TestEdge, event: &Value) -> Answer {
    let body = body(event);
    let header = signature(SECRET, now(), &body);
    post(edge, &body, Some(&header)).await
}

/// Delivers `event`; asserts a 200 receipt for it and returns the answer's JSON
/// (`received`, `id`, `duplicate`, `outcome`).
pub async fn deliver_ok(edge: &TestEdge, event: &Value) -> Value {
    let answer = deliver(edge, event).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "{} {}: {}",
        event["type"],
        event["id"],
        answer.body
    );
    let receipt = answer.json();
    assert_eq!(receipt["received"], true, "{receipt}");
    assert_eq!(receipt["id"], event["id"], "{receipt}");
    receipt
}

/// Delivers `event` for the first time: asserts it was not a duplicate, and returns the
/// outcome text.
pub async fn apply(edge: &TestEdge, event: &Value) -> String {
    let receipt = deliver_ok(edge, event).await;
    assert_eq!(receipt["duplicate"], false, "{receipt}");
    receipt["outcome"]
        .as_str()
        .unwrap_or_else(|| panic!("no outcome: {receipt}"))
        .to_owned()
}
