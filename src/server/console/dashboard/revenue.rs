//! Monthly recurring revenue from product prices: each paying subscription's price normalised
//! to one month, summed exactly per currency and rounded once, to the currency's minor unit,
//! when shown. ARR is twelve times the exact MRR.
//!
//! A month is a twelfth of a year: a yearly price counts 1/12 a month, a weekly one 52/12, a
//! daily one 365/12, and an interval of N units divides by N. A payment plan counts its
//! instalment per interval while it is being paid; a single payment counts nothing.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{Billing, Currency, IntervalUnit, Product};

/// An exact amount per month, in minor units: a fraction, since 190.00 a year is 15.8333… a
/// month and a sum of such must not gather rounding errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monthly {
    num: i128,
    den: i128,
}

impl Monthly {
    pub const ZERO: Monthly = Monthly { num: 0, den: 1 };

    fn new(num: i128, den: i128) -> Monthly {
        let divisor = gcd(num, den).max(1);
        Monthly {
            num: num / divisor,
            den: den / divisor,
        }
    }

    pub fn plus(self, other: Monthly) -> Monthly {
        Monthly::new(
            self.num * other.den + other.num * self.den,
            self.den * other.den,
        )
    }

    pub fn times(self, count: i128) -> Monthly {
        Monthly::new(self.num * count, self.den)
    }

    /// To whole minor units, half up (amounts are never negative).
    pub fn rounded(self) -> i128 {
        (2 * self.num + self.den) / (2 * self.den)
    }
}

fn gcd(a: i128, b: i128) -> i128 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// What one payment of `price` (minor units) on `billing` brings in per month.
pub fn monthly(price: u64, billing: &Billing) -> Monthly {
    let interval = match billing {
        Billing::Single => return Monthly::ZERO,
        Billing::Subscription { interval, .. } | Billing::PaymentPlan { interval, .. } => interval,
    };
    let price = i128::from(price);
    let count = i128::from(interval.count);
    match interval.unit {
        IntervalUnit::Day => Monthly::new(price * 365, 12 * count),
        IntervalUnit::Week => Monthly::new(price * 52, 12 * count),
        IntervalUnit::Month => Monthly::new(price, count),
        IntervalUnit::Year => Monthly::new(price, 12 * count),
    }
}

/// MRR and ARR in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revenue {
    pub currency: String,
    /// Minor units, rounded half up.
    pub mrr_minor: i128,
    pub arr_minor: i128,
    /// As the currency writes them: "1,234.56".
    pub mrr: String,
    pub arr: String,
    /// The paying subscriptions counted.
    pub subscriptions: i64,
}

/// What [`revenue`] found: one MRR per currency, and the paying subscriptions it could not
/// count because their product has no price.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RevenueReport {
    pub currencies: Vec<Revenue>,
    pub unpriced: i64,
}

/// MRR per currency of `paying`: (product id, paying subscriptions of it).
pub fn revenue<'a>(
    products: &[Product],
    paying: impl IntoIterator<Item = (&'a str, i64)>,
) -> RevenueReport {
    let mut sums: BTreeMap<Currency, (Monthly, i64)> = BTreeMap::new();
    let mut unpriced = 0;
    for (id, count) in paying {
        let Some(product) = products.iter().find(|p| p.id == id) else {
            // A product removed from site.toml: its price is unknown too.
            unpriced += count;
            continue;
        };
        let Some(price) = product.price else {
            unpriced += count;
            continue;
        };
        let sum = sums.entry(price.currency).or_insert((Monthly::ZERO, 0));
        sum.0 = sum
            .0
            .plus(monthly(price.minor, &product.billing).times(i128::from(count)));
        sum.1 += count;
    }
    let currencies = sums
        .into_iter()
        .map(|(currency, (mrr, subscriptions))| {
            let mrr_minor = mrr.rounded();
            let arr_minor = mrr.times(12).rounded();
            Revenue {
                currency: currency.code().to_owned(),
                mrr_minor,
                arr_minor,
                mrr: currency.format(mrr_minor.max(0).unsigned_abs()),
                arr: currency.format(arr_minor.max(0).unsigned_abs()),
                subscriptions,
            }
        })
        .collect();
    RevenueReport {
        currencies,
        unpriced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Grant, Interval, Price};

    fn every(count: u32, unit: IntervalUnit) -> Billing {
        Billing::Subscription {
            interval: Interval { count, unit },
            trial: None,
        }
    }

    fn product(id: &str, price: Option<(u64, &str)>, billing: Billing) -> Product {
        Product {
            id: id.to_owned(),
            name: id.to_owned(),
            grants: Grant::Level("gold".to_owned()),
            billing,
            stripe_price: None,
            stripe_payment_link: None,
            url: None,
            price: price.map(|(minor, code)| Price {
                minor,
                currency: Currency::parse(code).unwrap(),
            }),
        }
    }

    #[test]
    fn intervals_normalise_to_a_month() {
        let year = monthly(12_000, &every(1, IntervalUnit::Year));
        assert_eq!(year.rounded(), 1_000);
        assert_eq!(
            monthly(1_900, &every(1, IntervalUnit::Month)).rounded(),
            1_900
        );
        assert_eq!(
            monthly(3_000, &every(3, IntervalUnit::Month)).rounded(),
            1_000
        );
        // 52 weeks make a year: 12.00 a week is 52.00 a month.
        assert_eq!(
            monthly(1_200, &every(1, IntervalUnit::Week)).rounded(),
            5_200
        );
        assert_eq!(
            monthly(1_200, &every(2, IntervalUnit::Week)).rounded(),
            2_600
        );
        // 365 days: 1.20 a day is 36.50 a month.
        assert_eq!(monthly(120, &every(1, IntervalUnit::Day)).rounded(), 3_650);
        assert_eq!(monthly(99_900, &Billing::Single), Monthly::ZERO);
        let plan = Billing::PaymentPlan {
            payments: 3,
            interval: Interval {
                count: 1,
                unit: IntervalUnit::Month,
            },
            trial: None,
        };
        assert_eq!(monthly(12_000, &plan).rounded(), 12_000);
    }

    #[test]
    fn sums_are_exact_and_rounded_once_per_currency() {
        let products = [
            product(
                "monthly",
                Some((1_900, "USD")),
                every(1, IntervalUnit::Month),
            ),
            product(
                "yearly",
                Some((19_000, "USD")),
                every(1, IntervalUnit::Year),
            ),
            product("euro", Some((1_000, "eur")), every(1, IntervalUnit::Month)),
            product("free", None, every(1, IntervalUnit::Month)),
        ];
        let report = revenue(
            &products,
            [
                ("monthly", 3),
                ("yearly", 2),
                ("euro", 1),
                ("free", 4),
                ("gone", 1),
            ],
        );
        assert_eq!(report.unpriced, 5);
        let [eur, usd] = &report.currencies[..] else {
            panic!("two currencies: {report:?}")
        };
        assert_eq!((eur.currency.as_str(), eur.mrr_minor), ("EUR", 1_000));
        // 3 × 19.00 + 2 × 190.00 / 12 = 57.00 + 31.666… = 88.67 (31.67 rounded alone would
        // give the same here, but ARR shows the difference: 12 × 88.666… = 1,064.00).
        assert_eq!(usd.mrr_minor, 8_867);
        assert_eq!(usd.mrr, "88.67");
        assert_eq!(usd.arr_minor, 106_400);
        assert_eq!(usd.arr, "1,064.00");
        assert_eq!(usd.subscriptions, 5);
    }

    #[test]
    fn thirds_of_a_cent_add_up_before_rounding() {
        // Three yearly subscriptions at 1.00: each 0.0833… a month, together 0.25.
        let products = [product(
            "yearly",
            Some((100, "USD")),
            every(1, IntervalUnit::Year),
        )];
        let report = revenue(&products, [("yearly", 3)]);
        assert_eq!(report.currencies[0].mrr_minor, 25);
        assert_eq!(Monthly::new(1, 2).rounded(), 1);
        assert_eq!(Monthly::new(1, 3).rounded(), 0);
    }
}
