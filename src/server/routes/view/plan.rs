//! A member's plan in words, for the account page (`GET /me`): which product pays for each
//! right and how it bills ("Gold, monthly subscription"), and the right's status with its date
//! ("Pending cancel: access until 12 Jan 2027"). Dates read as the console's do: UTC,
//! "12 Jan 2027". Only what gatehouse knows is said: the product comes from the member's
//! Stripe subscriptions and purchases, and an active subscription's next renewal, which Stripe
//! events carry but gatehouse does not keep, is not guessed.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

use crate::config::{Billing, Interval, IntervalUnit, Product, SiteConfig};
use crate::entitle::{Basis, Revocation, RightView, Standing, Status};
use crate::store::{BilledSubscription, MemberBilling};

/// Adds `words` and `product` to each right of `/me`'s `standing` (made by
/// [`super::standing`] from the same `standing`, so in the same order), and the site's
/// `billing_url` when it has one.
pub fn describe(
    body: &mut Value,
    standing: &Standing,
    billing: &MemberBilling,
    config: &SiteConfig,
) {
    if let Some(level) = &standing.level {
        add_words(&mut body["standing"]["level"], level, billing, config);
    }
    for (i, bundle) in standing.bundles.iter().enumerate() {
        add_words(&mut body["standing"]["bundles"][i], bundle, billing, config);
    }
    if !config.billing_url.is_empty() {
        body["billing_url"] = json!(config.billing_url);
    }
}

fn add_words(right: &mut Value, view: &RightView, billing: &MemberBilling, config: &SiteConfig) {
    if !right.is_object() {
        return;
    }
    let paid = paid_by(view, billing, config);
    let how = match paid {
        Some((product, sub)) => Some(product_billing(product, sub)),
        None => basis_billing(view, config),
    };
    let name = right["name"].as_str().unwrap_or_default().to_owned();
    right["words"] = json!({
        "plan": how.as_ref().map_or_else(|| name.clone(), |how| format!("{name}, {how}")),
        "billing": how,
        "status": status(view),
    });
    right["product"] = paid.map_or(Value::Null, |(product, _)| {
        json!({ "id": product.id, "name": product.name, "billing": billing_kind(product) })
    });
}

/// The product that pays for the right, with the subscription that bills it if any. A
/// complimentary or free right has none, whatever the member bought before.
fn paid_by<'a, 'b>(
    view: &RightView,
    billing: &'b MemberBilling,
    config: &'a SiteConfig,
) -> Option<(&'a Product, Option<&'b BilledSubscription>)> {
    let selling = |id: &str| config.product(id).filter(|p| p.grants == view.grant);
    let subscriptions = || {
        billing
            .subscriptions
            .iter()
            .filter_map(move |sub| selling(&sub.product).map(|p| (p, sub)))
    };
    match view.basis {
        Basis::Free | Basis::Complimentary => None,
        // The subscription still billing it, else the newest that did.
        Basis::Recurring => subscriptions()
            .find(|(_, sub)| !matches!(sub.state.as_str(), "" | "cancelled"))
            .or_else(|| subscriptions().next())
            .map(|(product, sub)| (product, Some(sub))),
        // A payment plan paid in full, else a single purchase (one not refunded first).
        Basis::Single => subscriptions()
            .find(|(_, sub)| sub.paid_in_full)
            .map(|(product, sub)| (product, Some(sub)))
            .or_else(|| {
                let bought = || {
                    billing
                        .purchases
                        .iter()
                        .filter_map(|bought| selling(&bought.product).map(|p| (p, bought)))
                };
                bought()
                    .find(|(_, bought)| !bought.refunded)
                    .or_else(|| bought().next())
                    .map(|(product, _)| (product, None))
            }),
    }
}

/// "monthly subscription", "payment plan, 2 of 3 paid", "one-time purchase".
fn product_billing(product: &Product, sub: Option<&BilledSubscription>) -> String {
    match product.billing {
        Billing::Single => "one-time purchase".to_owned(),
        Billing::Subscription { interval, .. } => subscription(interval),
        Billing::PaymentPlan { payments, .. } => match sub {
            Some(sub) if sub.paid_in_full => "payment plan, paid in full".to_owned(),
            Some(sub) => format!(
                "payment plan, {} of {payments} paid",
                sub.payments.clamp(0, i64::from(payments))
            ),
            None => format!("payment plan of {payments} payments"),
        },
    }
}

/// How a right without a known product is paid, from its basis alone: what its products'
/// billing has in common, never one of them named.
fn basis_billing(view: &RightView, config: &SiteConfig) -> Option<String> {
    match view.basis {
        Basis::Free => None,
        Basis::Complimentary => Some("complimentary".to_owned()),
        Basis::Single => Some("one-time purchase".to_owned()),
        Basis::Recurring => {
            let recurring = config
                .products
                .iter()
                .filter(|p| p.grants == view.grant && !matches!(p.billing, Billing::Single));
            let plans = recurring.clone().filter(|p| is_plan(p)).count();
            let all = recurring.count();
            Some(
                match (plans, all) {
                    (0, _) => "subscription",
                    (plans, all) if plans == all => "payment plan",
                    _ => "recurring payments",
                }
                .to_owned(),
            )
        }
    }
}

fn is_plan(product: &Product) -> bool {
    matches!(product.billing, Billing::PaymentPlan { .. })
}

fn billing_kind(product: &Product) -> &'static str {
    match product.billing {
        Billing::Single => "single",
        Billing::Subscription { .. } => "subscription",
        Billing::PaymentPlan { .. } => "payment-plan",
    }
}

/// "monthly subscription", "subscription every 3 months".
fn subscription(interval: Interval) -> String {
    let (every, unit) = match interval.unit {
        IntervalUnit::Day => ("daily", "day"),
        IntervalUnit::Week => ("weekly", "week"),
        IntervalUnit::Month => ("monthly", "month"),
        IntervalUnit::Year => ("yearly", "year"),
    };
    match interval.count {
        1 => format!("{every} subscription"),
        n => format!("subscription every {n} {unit}s"),
    }
}

/// "Active", "Active until 12 Jan 2027", "Pending cancel: access until 12 Jan 2027",
/// "Overdue since 3 Jan 2027", "Cancelled on …", "Expired on …", "Refunded on …".
fn status(view: &RightView) -> String {
    let since = day(view.since);
    match view.status {
        Status::Active => match view.expires_at {
            Some(at) => format!("Active until {}", day(at)),
            None => "Active".to_owned(),
        },
        Status::PendingCancel { until } => format!("Pending cancel: access until {}", day(until)),
        Status::Overdue => format!("Overdue since {since}"),
        Status::Cancelled => format!("Cancelled on {since}"),
        Status::Expired => format!("Expired on {since}"),
        Status::Revoked(Revocation::Refunded) => format!("Refunded on {since}"),
        Status::Revoked(Revocation::Disputed) => format!("Payment disputed since {since}"),
        Status::Revoked(Revocation::DisputeLost) => format!("Payment dispute lost on {since}"),
    }
}

/// "12 Jan 2027", in UTC as the console shows dates.
fn day(at: Timestamp) -> String {
    at.to_zoned(TimeZone::UTC).strftime("%-d %b %Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn days_read_as_the_console_writes_them() {
        assert_eq!(day(at("2027-01-12T23:59:59Z")), "12 Jan 2027");
        assert_eq!(day(at("2026-03-01T00:00:00Z")), "1 Mar 2026");
    }

    #[test]
    fn intervals_read_as_words() {
        let every = |count, unit| subscription(Interval { count, unit });
        assert_eq!(every(1, IntervalUnit::Month), "monthly subscription");
        assert_eq!(every(1, IntervalUnit::Year), "yearly subscription");
        assert_eq!(every(3, IntervalUnit::Month), "subscription every 3 months");
        assert_eq!(every(2, IntervalUnit::Week), "subscription every 2 weeks");
    }
}
