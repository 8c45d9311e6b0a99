//! The product rules of DESIGN §2: each product grants exactly one level or bundle, and its
//! billing must fit what it sells.

use super::duration::{DAY, parse_interval};
use super::price::{Currency, Price, parse_price};
use super::raw::{self, OneOrMany, RawProduct};
use super::validate::Checker;
use super::{Billing, Bundle, Grant, Level, Product};
use crate::suggest;

/// A payment plan's access must outlive its last payment by this much (DESIGN §2), so a late
/// final payment never locks out a member who is about to complete the plan.
const PLAN_GRACE: u64 = 8 * DAY;

fn check_grant(
    check: &mut Checker<'_>,
    product: &RawProduct,
    levels: &[Level],
    bundles: &[Bundle],
) -> Option<(Grant, Option<u64>)> {
    let id = product.id.get_ref();
    let text = match product.grants.get_ref() {
        OneOrMany::One(text) if text.trim().is_empty() => {
            check.at(
                &product.grants,
                format!(
                    "product `{id}` grants nothing: set grants = \"level:<id>\" or \"bundle:<id>\""
                ),
            );
            return None;
        }
        OneOrMany::One(text) if text.contains(',') => {
            check.at(&product.grants, format!("product `{id}` grants two things: a product grants exactly one level or bundle; make one product per grant"));
            return None;
        }
        OneOrMany::One(text) => text,
        OneOrMany::Many(list) if list.len() == 1 => &list[0],
        OneOrMany::Many(list) => {
            let what = if list.is_empty() {
                "nothing"
            } else {
                "several things"
            };
            check.at(&product.grants, format!("product `{id}` grants {what}: a product grants exactly one level or bundle, e.g. grants = \"level:gold\""));
            return None;
        }
    };
    let found = match text.trim().split_once(':') {
        Some(("level", level)) => levels
            .iter()
            .find(|l| l.id == level)
            .map(|l| (Grant::Level(l.id.clone()), l.expires_after))
            .ok_or_else(|| {
                format!(
                    "product `{id}` grants unknown level `{level}`{}",
                    suggest::hint(level, levels.iter().map(|l| l.id.as_str()))
                )
            }),
        Some(("bundle", bundle)) => bundles
            .iter()
            .find(|b| b.id == bundle)
            .map(|b| (Grant::Bundle(b.id.clone()), b.expires_after))
            .ok_or_else(|| {
                format!(
                    "product `{id}` grants unknown bundle `{bundle}`{}",
                    suggest::hint(bundle, bundles.iter().map(|b| b.id.as_str()))
                )
            }),
        _ => Err(format!(
            "product `{id}`: grants `{text}` must be `level:<id>` or `bundle:<id>`"
        )),
    };
    found
        .map_err(|message| check.at(&product.grants, message))
        .ok()
}

pub(super) fn check_product(
    check: &mut Checker<'_>,
    product: &RawProduct,
    levels: &[Level],
    bundles: &[Bundle],
) -> Option<Product> {
    let id = product.id.get_ref();
    let granted = check_grant(check, product, levels, bundles);
    let kind = *product.billing.get_ref();
    let trial = check.duration(&product.trial, "trial");
    let interval = product.interval.as_ref().and_then(|interval| {
        parse_interval(interval.get_ref())
            .map_err(|message| check.at(interval, message))
            .ok()
    });
    if kind == raw::Billing::Single {
        if let Some(trial) = &product.trial {
            check.at(trial, format!("product `{id}`: a single payment cannot have a trial; remove `trial` or bill as a subscription"));
        }
        if let Some(interval) = &product.interval {
            check.at(
                interval,
                format!("product `{id}`: a single payment has no interval; remove `interval`"),
            );
        }
    } else if product.interval.is_none() {
        check.at(
            &product.billing,
            format!(
                "product `{id}`: a {} needs `interval`, e.g. interval = \"1 month\"",
                billing_name(kind)
            ),
        );
    }
    if kind != raw::Billing::PaymentPlan
        && let Some(payments) = &product.payments
    {
        check.at(
            payments,
            format!("product `{id}`: `payments` applies only to billing = \"payment-plan\""),
        );
    }
    let billing = match kind {
        raw::Billing::Single => Billing::Single,
        raw::Billing::Subscription => {
            if let Some((grant, Some(_))) = &granted {
                check.at(&product.billing, format!(
                    "product `{id}` sells {} by plain subscription, but it expires (expires_after): \
                     a paying subscriber would lose access; remove expires_after or sell it as a payment plan or single payment",
                    grant_text(grant)
                ));
            }
            Billing::Subscription {
                interval: interval?,
                trial,
            }
        }
        raw::Billing::PaymentPlan => {
            let Some(payments) = &product.payments else {
                check.at(&product.billing, format!("product `{id}`: a payment plan needs `payments`, the number of payments (2 or more)"));
                return None;
            };
            let count = *payments.get_ref();
            if count < 2 {
                check.at(payments, format!("product `{id}`: a payment plan needs at least 2 payments; use billing = \"single\" for one"));
            }
            let interval = interval?;
            if let Some((grant, Some(expires))) = &granted {
                // Saturating: thousands of payments a thousand years apart overflow seconds,
                // and such a plan is simply longer than any `expires_after`.
                let last_due = trial.unwrap_or(0).saturating_add(
                    u64::from(count.saturating_sub(1)).saturating_mul(interval.max_seconds()),
                );
                let needed = last_due.saturating_add(PLAN_GRACE);
                if *expires < needed {
                    check.at(&product.billing, format!(
                        "product `{id}`: {} expires {} after purchase, but the last of {count} payments \
                         may fall due {} after purchase; access must last at least 8 days beyond it \
                         (expires_after ≥ {}d)",
                        grant_text(grant),
                        days(*expires),
                        days(last_due),
                        needed.div_ceil(DAY)
                    ));
                }
            }
            Billing::PaymentPlan {
                payments: count,
                interval,
                trial,
            }
        }
    };
    let price = check_price(check, product);
    let (grants, _) = granted?;
    Some(Product {
        id: id.clone(),
        name: product.name.clone().unwrap_or_else(|| id.clone()),
        grants,
        billing,
        stripe_price: product.stripe_price.as_ref().map(|s| s.get_ref().clone()),
        stripe_payment_link: product
            .stripe_payment_link
            .as_ref()
            .map(|s| s.get_ref().clone()),
        url: product.url.clone(),
        price,
    })
}

/// `price` and `currency` go together: a price means nothing without its currency.
fn check_price(check: &mut Checker<'_>, product: &RawProduct) -> Option<Price> {
    let id = product.id.get_ref();
    let currency = product.currency.as_ref().and_then(|currency| {
        Currency::parse(currency.get_ref())
            .map_err(|message| check.at(currency, format!("product `{id}`: {message}")))
            .ok()
    });
    match (&product.price, &product.currency) {
        (None, None) => None,
        (None, Some(currency)) => {
            check.at(
                currency,
                format!("product `{id}`: `currency` without `price`; add e.g. price = \"19.00\""),
            );
            None
        }
        (Some(price), None) => {
            check.at(
                price,
                format!(
                    "product `{id}`: a price needs its currency, e.g. currency = \"USD\" (an ISO 4217 code)"
                ),
            );
            None
        }
        (Some(price), Some(_)) => {
            let currency = currency?;
            parse_price(price.get_ref(), currency)
                .map_err(|message| check.at(price, format!("product `{id}`: {message}")))
                .ok()
                .map(|minor| Price { minor, currency })
        }
    }
}

fn billing_name(kind: raw::Billing) -> &'static str {
    match kind {
        raw::Billing::Single => "single payment",
        raw::Billing::Subscription => "subscription",
        raw::Billing::PaymentPlan => "payment plan",
    }
}

fn grant_text(grant: &Grant) -> String {
    match grant {
        Grant::Level(id) => format!("level `{id}`"),
        Grant::Bundle(id) => format!("bundle `{id}`"),
    }
}

fn days(seconds: u64) -> String {
    if seconds.is_multiple_of(DAY) {
        format!("{}d", seconds / DAY)
    } else {
        format!("{:.1}d", seconds as f64 / DAY as f64)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    const SITE: &str = "title = \"T\"\nbase_url = \"https://example.com\"\n\
                        [[levels]]\nid = \"gold\"\nrank = 10\n\
                        [[products]]\nid = \"gold-monthly\"\ngrants = \"level:gold\"\n\
                        billing = \"subscription\"\ninterval = \"1 month\"\n";

    fn refused(extra: &str) -> String {
        crate::config::parse(Path::new("."), &format!("{SITE}{extra}"))
            .expect_err("the price is refused")
            .to_string()
    }

    #[test]
    fn a_price_is_read_in_minor_units_with_its_currency() {
        let config = crate::config::parse(
            Path::new("."),
            &format!("{SITE}price = \"19.90\"\ncurrency = \"eur\"\n"),
        )
        .expect("a good price");
        let price = config.products[0].price.expect("priced");
        assert_eq!((price.minor, price.currency.code()), (1990, "EUR"));
    }

    #[test]
    fn a_bad_price_is_refused_naming_its_line() {
        // SITE has 10 lines: `price` is on line 11.
        for (extra, says) in [
            ("price = 19.99\ncurrency = \"USD\"\n", "float"),
            ("price = 19\ncurrency = \"USD\"\n", "units or cents"),
            ("price = \"-19\"\ncurrency = \"USD\"\n", "is not an amount"),
            (
                "price = \"19.999\"\ncurrency = \"USD\"\n",
                "at most 2 decimals",
            ),
            (
                "price = \"nineteen\"\ncurrency = \"USD\"\n",
                "is not an amount",
            ),
            ("price = \"19.00\"\n", "needs its currency"),
        ] {
            let problems = refused(extra);
            assert!(problems.contains("site.toml:11"), "{extra}: {problems}");
            assert!(problems.contains(says), "{extra}: {problems}");
            assert!(problems.contains("gold-monthly"), "{extra}: {problems}");
        }
        let problems = refused("currency = \"USD\"\n");
        assert!(
            problems.contains("site.toml:11") && problems.contains("without `price`"),
            "{problems}"
        );
        let problems = refused("price = \"19.00\"\ncurrency = \"UDS\"\n");
        assert!(
            problems.contains("site.toml:12") && problems.contains("`USD`"),
            "{problems}"
        );
    }

    #[test]
    fn a_payment_plan_too_long_to_count_in_seconds_is_refused_not_an_overflow() {
        let text = "title = \"T\"\nbase_url = \"https://example.com\"\n\
                    [[levels]]\nid = \"free\"\nrank = 0\n\
                    [[bundles]]\nid = \"b\"\nexpires_after = \"1w\"\n\
                    [[products]]\nid = \"plan\"\ngrants = \"bundle:b\"\nbilling = \"payment-plan\"\n\
                    payments = 4294967295\ninterval = \"4294967295 years\"\n";
        let problems = crate::config::parse(Path::new("."), text)
            .expect_err("the plan outlasts the bundle")
            .to_string();
        assert!(problems.contains("access must last"), "{problems}");
    }
}
