//! The checks of DESIGN §2, turning [`RawConfig`] into [`SiteConfig`] or a list of diagnostics.

use std::collections::HashMap;
use std::path::Path;

use toml::Spanned;

use super::duration::{DAY, parse_duration, parse_interval};
use super::raw::{self, OneOrMany, RawConfig, RawLevel, RawProduct};
use super::{Billing, Bundle, CONFIG_FILE, Grant, Level, MarkdownConfig, Product, SiteConfig};
use crate::diagnostic::{Diagnostic, Diagnostics, line_of};
use crate::gate::Rule;
use crate::suggest;

/// A payment plan's access must outlive its last payment by this much (DESIGN §2), so a late
/// final payment never locks out a member who is about to complete the plan.
const PLAN_GRACE: u64 = 8 * DAY;

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn at<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        let span = spanned.span();
        let line = (span.end > 0).then(|| line_of(self.text, span.start));
        self.problems
            .push(Diagnostic::new(CONFIG_FILE, line, message.into()));
    }

    fn duration(&mut self, value: &Option<Spanned<String>>, what: &str) -> Option<u64> {
        let value = value.as_ref()?;
        match parse_duration(value.get_ref()) {
            Ok(seconds) => Some(seconds),
            Err(message) => {
                self.at(value, format!("{what}: {message}"));
                None
            }
        }
    }

    fn id(&mut self, id: &Spanned<String>, kind: &str) {
        if Rule::new(Some(id.get_ref()), &[] as &[&str], 0).is_err() {
            self.at(
                id,
                format!(
                    "{kind} id `{}` may use only lowercase letters, digits, `-` and `_`",
                    id.get_ref()
                ),
            );
        }
    }
}

pub fn validate(root: &Path, text: &str, raw: RawConfig) -> Result<SiteConfig, Diagnostics> {
    let mut check = Checker {
        text,
        problems: Vec::new(),
    };

    let base_url = raw.base_url.get_ref().trim_end_matches('/').to_owned();
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        check.at(
            &raw.base_url,
            format!(
                "base_url `{}` must be an absolute http(s) URL, e.g. `https://example.com`",
                raw.base_url.get_ref()
            ),
        );
    }
    let edge_url = raw.edge_url.get_ref().trim_end_matches('/').to_owned();
    if !(edge_url.starts_with('/')
        || edge_url.starts_with("https://")
        || edge_url.starts_with("http://"))
    {
        check.at(
            &raw.edge_url,
            "edge_url must be a path such as `/_gate` or an absolute http(s) URL",
        );
    }
    let theme = raw.theme.get_ref().clone();
    let templates = root.join("themes").join(&theme).join("templates");
    if !templates.is_dir() {
        let known = list_themes(root);
        check.at(
            &raw.theme,
            format!(
                "theme `{theme}` not found: expected the folder themes/{theme}/templates/{}",
                suggest::hint(&theme, known.iter().map(String::as_str))
            ),
        );
    }

    let levels = check_levels(&mut check, &raw.levels);
    let bundles = check_bundles(&mut check, &raw.bundles);
    let products: Vec<Product> = raw
        .products
        .iter()
        .filter_map(|product| check_product(&mut check, product, &levels, &bundles))
        .collect();
    check_unique(
        &mut check,
        raw.products.iter().map(|product| &product.id),
        "product",
    );

    if !check.problems.is_empty() {
        return Err(Diagnostics(check.problems));
    }
    Ok(SiteConfig {
        root: root.to_path_buf(),
        title: raw.title,
        base_url,
        theme,
        description: raw.description,
        language: raw.language,
        edge_url,
        epoch: raw.keys.epoch.into_inner(),
        cancellation: raw.membership.cancellation,
        markdown: MarkdownConfig {
            highlight_code: raw.markdown.highlight_code,
            highlight_theme: raw.markdown.highlight_theme.into_inner(),
        },
        levels,
        bundles,
        products,
        extra: serde_json::to_value(&raw.extra).unwrap_or(serde_json::Value::Null),
    })
}

fn list_themes(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root.join("themes")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("templates").is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

fn check_unique<'a>(
    check: &mut Checker<'_>,
    ids: impl Iterator<Item = &'a Spanned<String>>,
    kind: &str,
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in ids {
        check.id(id, kind);
        let line = line_of(check.text, id.span().start);
        if let Some(first) = seen.insert(id.get_ref(), line) {
            check.at(
                id,
                format!(
                    "{kind} `{}` is defined twice (first on line {first})",
                    id.get_ref()
                ),
            );
        }
    }
}

fn check_levels(check: &mut Checker<'_>, raw: &[RawLevel]) -> Vec<Level> {
    if raw.is_empty() {
        check.problems.push(Diagnostic::new(
            CONFIG_FILE,
            None,
            "no [[levels]]: every member holds a level, so define at least one, \
             e.g. `[[levels]]` with `id = \"free\"` and `rank = 0`",
        ));
    }
    check_unique(check, raw.iter().map(|level| &level.id), "level");
    let mut ranks: HashMap<i64, &str> = HashMap::new();
    for level in raw {
        if let Some(other) = ranks.insert(*level.rank.get_ref(), level.id.get_ref()) {
            check.at(
                &level.rank,
                format!(
                    "levels `{other}` and `{}` share rank {}: ranks order the tiers, so each must differ",
                    level.id.get_ref(),
                    level.rank.get_ref()
                ),
            );
        }
    }
    let ids: Vec<&str> = raw
        .iter()
        .map(|level| level.id.get_ref().as_str())
        .collect();
    let mut levels: Vec<Level> = raw
        .iter()
        .map(|level| {
            if let Some(target) = &level.on_expire {
                if !ids.contains(&target.get_ref().as_str()) {
                    check.at(
                        target,
                        format!(
                            "on_expire names unknown level `{}`{}",
                            target.get_ref(),
                            suggest::hint(target.get_ref(), ids.iter().copied())
                        ),
                    );
                } else if target.get_ref() == level.id.get_ref() {
                    check.at(target, "on_expire cannot name the level itself");
                }
                if level.expires_after.is_none() {
                    check.at(
                        target,
                        "on_expire needs expires_after: the level never expires",
                    );
                }
            }
            Level {
                id: level.id.get_ref().clone(),
                name: level
                    .name
                    .clone()
                    .unwrap_or_else(|| level.id.get_ref().clone()),
                rank: *level.rank.get_ref(),
                expires_after: check.duration(&level.expires_after, "expires_after"),
                on_expire: level
                    .on_expire
                    .as_ref()
                    .map(|target| target.get_ref().clone()),
            }
        })
        .collect();
    levels.sort_by_key(|level| level.rank);
    levels
}

fn check_bundles(check: &mut Checker<'_>, raw: &[raw::RawBundle]) -> Vec<Bundle> {
    check_unique(check, raw.iter().map(|bundle| &bundle.id), "bundle");
    raw.iter()
        .map(|bundle| Bundle {
            id: bundle.id.get_ref().clone(),
            name: bundle
                .name
                .clone()
                .unwrap_or_else(|| bundle.id.get_ref().clone()),
            expires_after: check.duration(&bundle.expires_after, "expires_after"),
        })
        .collect()
}

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

fn check_product(
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
                let last_due = trial.unwrap_or(0)
                    + u64::from(count.saturating_sub(1)) * interval.max_seconds();
                let needed = last_due + PLAN_GRACE;
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
    let (grants, _) = granted?;
    Some(Product {
        id: id.clone(),
        name: product.name.clone().unwrap_or_else(|| id.clone()),
        grants,
        billing,
        stripe_price: product.stripe_price.clone(),
        stripe_payment_link: product.stripe_payment_link.clone(),
    })
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
