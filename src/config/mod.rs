//! site.toml (DESIGN §2) → a validated [`SiteConfig`]. Raw serde structs are checked once here,
//! so every later stage works with ids that are known to exist.

mod admin;
mod deploy;
mod duration;
mod notify;
mod price;
mod products;
mod raw;
mod taxonomies;
mod validate;

use std::path::{Path, PathBuf};

pub use admin::AdminConfig;
pub use deploy::{
    DEFAULT_CONCURRENCY, DEFAULT_MAX_DELETES, DeployConfig, DeployTarget, HeaderRule,
};
pub use duration::{DAY, HOUR, Interval, IntervalUnit, WEEK, parse_duration, parse_interval};
pub use notify::{NOTICE_KINDS, NotifyEndpoint};
pub use price::{Currency, Price};
pub use raw::{Billing as BillingKind, Cancellation};
pub use taxonomies::{DEFAULT_TAXONOMY, TaxonomyConfig, title_of as taxonomy_title};

use crate::diagnostic::{Diagnostic, Diagnostics, line_of};
use crate::suggest;

pub const CONFIG_FILE: &str = "site.toml";

/// The default `[keys] grace`: a day covers CDN caches and a slow deploy.
pub const DEFAULT_GRACE: u64 = 24 * HOUR;

/// The site's configuration, validated.
#[derive(Debug, Clone)]
pub struct SiteConfig {
    pub root: PathBuf,
    pub title: String,
    /// Without a trailing slash.
    pub base_url: String,
    pub theme: String,
    pub description: String,
    pub language: String,
    pub edge_url: String,
    pub epoch: u32,
    /// When `epoch` was last raised; with `grace`, how long the previous epoch is still served.
    pub rotated_at: Option<jiff::Timestamp>,
    /// Seconds after a rotation during which keys of the previous epoch are still handed out,
    /// so pages cached at a CDN keep opening while the new build goes out.
    pub grace: u64,
    pub cancellation: Cancellation,
    pub password_login: bool,
    /// Empty when not set.
    pub billing_url: String,
    pub markdown: MarkdownConfig,
    /// Ordered by rank, lowest first.
    pub levels: Vec<Level>,
    pub bundles: Vec<Bundle>,
    pub products: Vec<Product>,
    /// Push-notification endpoints.
    pub notify: Vec<NotifyEndpoint>,
    /// Where `gatehouse deploy` publishes the site, when `[deploy]` is set.
    pub deploy: Option<DeployConfig>,
    /// `[taxonomies]`: `tags` alone unless site.toml says otherwise.
    pub taxonomies: TaxonomyConfig,
    /// `[admin]`: the operator console; no emails, no console.
    pub admin: AdminConfig,
    pub extra: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct MarkdownConfig {
    pub highlight_code: bool,
    pub highlight_theme: String,
    /// The site.toml line of `highlight_theme`, for the highlighter's error message.
    pub highlight_theme_line: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub id: String,
    pub name: String,
    pub rank: i64,
    pub expires_after: Option<u64>,
    pub on_expire: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub id: String,
    pub name: String,
    pub expires_after: Option<u64>,
}

/// One access right: what a product grants and what a rule asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Level(String),
    Bundle(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Billing {
    Single,
    Subscription {
        interval: Interval,
        trial: Option<u64>,
    },
    PaymentPlan {
        payments: u32,
        interval: Interval,
        trial: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub grants: Grant,
    pub billing: Billing,
    pub stripe_price: Option<String>,
    pub stripe_payment_link: Option<String>,
    /// Where a visitor buys it: a checkout link or a pricing page; the locked slot links it.
    pub url: Option<String>,
    /// What one payment costs (for a payment plan, one instalment): the dashboard's MRR.
    pub price: Option<Price>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source} (run `gatehouse init DIR` to create a site)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl SiteConfig {
    pub fn level(&self, id: &str) -> Option<&Level> {
        self.levels.iter().find(|level| level.id == id)
    }

    pub fn bundle(&self, id: &str) -> Option<&Bundle> {
        self.bundles.iter().find(|bundle| bundle.id == id)
    }

    pub fn level_ids(&self) -> impl Iterator<Item = &str> + Clone {
        self.levels.iter().map(|level| level.id.as_str())
    }

    pub fn bundle_ids(&self) -> impl Iterator<Item = &str> + Clone {
        self.bundles.iter().map(|bundle| bundle.id.as_str())
    }

    /// The display name of a level id, or the id itself.
    pub fn level_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.level(id).map_or(id, |level| level.name.as_str())
    }

    pub fn bundle_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.bundle(id).map_or(id, |bundle| bundle.name.as_str())
    }

    /// The epochs whose keys the edge hands out at `now`: the current one, and the previous
    /// one within `grace` of the last rotation.
    pub fn epoch_served(&self, asked: Option<u32>, now: jiff::Timestamp) -> u32 {
        let previous_open = self.epoch > 1
            && self.rotated_at.is_some_and(|at| {
                now.as_second() < at.as_second().saturating_add(self.grace as i64)
            });
        match asked {
            // Checked: `asked` is the caller's, and may be u32::MAX.
            Some(epoch) if previous_open && epoch.checked_add(1) == Some(self.epoch) => epoch,
            _ => self.epoch,
        }
    }

    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|product| product.id == id)
    }

    /// The product a Stripe price id is mapped to.
    pub fn product_by_price(&self, price: &str) -> Option<&Product> {
        self.products
            .iter()
            .find(|product| product.stripe_price.as_deref() == Some(price))
    }

    /// The product a Stripe Payment Link is mapped to.
    pub fn product_by_payment_link(&self, link: &str) -> Option<&Product> {
        self.products
            .iter()
            .find(|product| product.stripe_payment_link.as_deref() == Some(link))
    }

    pub fn theme_dir(&self) -> PathBuf {
        self.root.join("themes").join(&self.theme)
    }
}

/// Reads and validates `<root>/site.toml`.
pub fn load(root: &Path) -> Result<SiteConfig, ConfigError> {
    let path = root.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    parse(root, &text).map_err(ConfigError::Invalid)
}

/// Parses and validates site.toml text; `root` locates the theme.
pub fn parse(root: &Path, text: &str) -> Result<SiteConfig, Diagnostics> {
    let raw: raw::RawConfig = toml::from_str(text).map_err(|error| {
        let line = error.span().map(|span| line_of(text, span.start));
        let message = suggest::improve_serde_message(error.message().trim());
        Diagnostics(vec![Diagnostic::new(CONFIG_FILE, line, message)])
    })?;
    validate::validate(root, text, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_asked_epoch_gets_the_current_one_not_an_overflow() {
        let text = "title = \"T\"\nbase_url = \"https://example.com\"\n\
                    [keys]\nepoch = 2\nrotated_at = \"2026-01-01T00:00:00Z\"\n\
                    [[levels]]\nid = \"free\"\nrank = 0\n";
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir_all(dir.path().join("themes/default/templates")).expect("created");
        let config = parse(dir.path(), text).expect("a valid site.toml");
        let within_grace = jiff::Timestamp::from_second(1_767_225_660).expect("a time");
        assert_eq!(config.epoch_served(Some(1), within_grace), 1);
        assert_eq!(config.epoch_served(Some(u32::MAX), within_grace), 2);
    }
}
