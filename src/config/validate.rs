//! The checks of DESIGN §2, turning [`RawConfig`] into [`SiteConfig`] or a list of diagnostics.

use std::collections::HashMap;
use std::path::Path;

use toml::Spanned;

use super::duration::parse_duration;
use super::raw::{self, RawConfig, RawLevel};
use super::{Bundle, CONFIG_FILE, Level, MarkdownConfig, Product, SiteConfig};
use super::{admin, deploy, notify, products, taxonomies};
use crate::diagnostic::{Diagnostic, Diagnostics, line_of};
use crate::gate::Rule;
use crate::suggest;

pub(super) struct Checker<'a> {
    pub(super) text: &'a str,
    pub(super) problems: Vec<Diagnostic>,
}

impl Checker<'_> {
    pub(super) fn at<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        let span = spanned.span();
        let line = (span.end > 0).then(|| line_of(self.text, span.start));
        self.problems
            .push(Diagnostic::new(CONFIG_FILE, line, message.into()));
    }

    pub(super) fn duration(&mut self, value: &Option<Spanned<String>>, what: &str) -> Option<u64> {
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

    let rotated_at = raw.keys.rotated_at.as_ref().and_then(|text| {
        crate::instant::parse_instant(text.get_ref())
            .map_err(|e| check.at(text, format!("[keys] rotated_at: {e}")))
            .ok()
    });
    let grace = check
        .duration(&raw.keys.grace, "[keys] grace")
        .unwrap_or(super::DEFAULT_GRACE);
    if *raw.keys.epoch.get_ref() == 0 {
        check.at(&raw.keys.epoch, "[keys] epoch starts at 1");
    }
    let levels = check_levels(&mut check, &raw.levels);
    let bundles = check_bundles(&mut check, &raw.bundles);
    let products: Vec<Product> = raw
        .products
        .iter()
        .filter_map(|product| products::check_product(&mut check, product, &levels, &bundles))
        .collect();
    check_unique(
        &mut check,
        raw.products.iter().map(|product| &product.id),
        "product",
    );
    // One Stripe price or Payment Link must name one product, or a payment could grant either.
    check_no_repeats(
        &mut check,
        raw.products.iter().filter_map(|p| p.stripe_price.as_ref()),
        "stripe_price",
    );
    check_no_repeats(
        &mut check,
        raw.products
            .iter()
            .filter_map(|p| p.stripe_payment_link.as_ref()),
        "stripe_payment_link",
    );
    let notify = raw
        .notify
        .iter()
        .filter_map(|endpoint| notify::check_endpoint(&mut check, endpoint))
        .collect();
    let deploy = raw
        .deploy
        .as_ref()
        .and_then(|settings| deploy::check_deploy(&mut check, root, settings));
    let taxonomies = taxonomies::check_taxonomies(&mut check, raw.taxonomies.as_ref());
    let admin = admin::check_admin(&mut check, raw.admin.as_ref());

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
        rotated_at,
        grace,
        cancellation: raw.membership.cancellation,
        password_login: raw.membership.password_login,
        billing_url: raw.membership.billing_url.clone().unwrap_or_default(),
        markdown: MarkdownConfig {
            highlight_code: raw.markdown.highlight_code,
            highlight_theme_line: {
                let span = raw.markdown.highlight_theme.span();
                (span.end > 0).then(|| line_of(text, span.start))
            },
            highlight_theme: raw.markdown.highlight_theme.into_inner(),
        },
        levels,
        bundles,
        products,
        notify,
        deploy,
        taxonomies,
        admin,
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
    ids: impl Iterator<Item = &'a Spanned<String>> + Clone,
    kind: &str,
) {
    for id in ids.clone() {
        check.id(id, kind);
    }
    check_no_repeats(check, ids, kind);
}

fn check_no_repeats<'a>(
    check: &mut Checker<'_>,
    ids: impl Iterator<Item = &'a Spanned<String>>,
    kind: &str,
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in ids {
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
