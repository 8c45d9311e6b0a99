//! site.toml as written: serde structs that reject unknown keys and keep spans for messages.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub title: String,
    pub base_url: Spanned<String>,
    #[serde(default = "default_theme")]
    pub theme: Spanned<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_language")]
    pub language: String,
    #[serde(default = "default_edge_url")]
    pub edge_url: Spanned<String>,
    #[serde(default)]
    pub keys: RawKeys,
    #[serde(default)]
    pub membership: RawMembership,
    #[serde(default)]
    pub markdown: RawMarkdown,
    #[serde(default)]
    pub levels: Vec<RawLevel>,
    #[serde(default)]
    pub bundles: Vec<RawBundle>,
    #[serde(default)]
    pub products: Vec<RawProduct>,
    #[serde(default)]
    pub notify: Vec<RawNotify>,
    pub deploy: Option<RawDeploy>,
    /// `[admin]`: the operator console (checked in `config::admin`).
    pub admin: Option<RawAdmin>,
    /// `[taxonomies]`: which taxonomies pages may use (checked in `config::taxonomies`).
    #[serde(default)]
    pub taxonomies: Option<Spanned<RawTaxonomies>>,
    #[serde(default)]
    pub extra: toml::Table,
}

/// `[taxonomies]`: tags, categories, series… each with its own list pages and feeds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTaxonomies {
    pub names: Option<Spanned<Vec<Spanned<String>>>>,
    pub paginate_by: Option<Spanned<i64>>,
    pub feeds: Option<bool>,
}

/// `[admin]`: operators' emails, their session length, the address-sharing threshold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub emails: Option<Spanned<Vec<Spanned<String>>>>,
    pub session_hours: Option<Spanned<i64>>,
    pub sharing_threshold: Option<Spanned<i64>>,
}

/// `[deploy]`: where `gatehouse deploy` publishes the built site.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeploy {
    pub target: Spanned<String>,
    pub endpoint: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub path_style: Option<bool>,
    pub after: Option<Spanned<String>>,
    pub max_deletes: Option<Spanned<i64>>,
    pub concurrency: Option<Spanned<i64>>,
    pub keep_envelopes: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: Vec<RawHeaderRule>,
}

/// `[[deploy.headers]]`: headers for the files whose path matches a glob.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderRule {
    pub path: Spanned<String>,
    pub cache_control: Option<Spanned<String>>,
    pub content_type: Option<Spanned<String>>,
}

/// A push-notification endpoint: member events are POSTed to `url`, signed with the secret in
/// the environment variable `secret_env`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub url: Spanned<String>,
    #[serde(default)]
    pub events: Option<Spanned<Vec<String>>>,
    pub secret_env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    #[serde(default = "default_epoch")]
    pub epoch: Spanned<u32>,
    /// When `epoch` was last raised (`gatehouse keys rotate` writes it).
    pub rotated_at: Option<Spanned<String>>,
    /// How long after `rotated_at` the previous epoch's keys are still handed out.
    pub grace: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMembership {
    #[serde(default)]
    pub cancellation: Cancellation,
    /// Offer a password field beside the magic link in the theme's login form.
    #[serde(default)]
    pub password_login: bool,
    /// Where an overdue member updates their card (e.g. a billing portal link).
    pub billing_url: Option<String>,
}

/// What a cancelled member keeps (DESIGN §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cancellation {
    #[default]
    Standard,
    KeepUnlocked,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMarkdown {
    #[serde(default = "yes")]
    pub highlight_code: bool,
    #[serde(default = "default_highlight_theme")]
    pub highlight_theme: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLevel {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub rank: Spanned<i64>,
    pub expires_after: Option<Spanned<String>>,
    pub on_expire: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBundle {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub expires_after: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProduct {
    pub id: Spanned<String>,
    pub name: Option<String>,
    pub grants: Spanned<OneOrMany>,
    pub billing: Spanned<Billing>,
    pub payments: Option<Spanned<u32>>,
    pub interval: Option<Spanned<String>>,
    pub trial: Option<Spanned<String>>,
    pub stripe_price: Option<Spanned<String>>,
    pub stripe_payment_link: Option<Spanned<String>>,
    pub url: Option<String>,
    /// A decimal string such as `"19.00"`; any other TOML value is read so that the check can
    /// say how to write it (config::price).
    pub price: Option<Spanned<toml::Value>>,
    pub currency: Option<Spanned<String>>,
}

/// `grants` is one `kind:id`; a list is accepted only to say clearly that it must hold one.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Billing {
    Single,
    Subscription,
    PaymentPlan,
}

impl Default for RawKeys {
    fn default() -> Self {
        RawKeys {
            epoch: default_epoch(),
            rotated_at: None,
            grace: None,
        }
    }
}

impl Default for RawMarkdown {
    fn default() -> Self {
        RawMarkdown {
            highlight_code: true,
            highlight_theme: default_highlight_theme(),
        }
    }
}

fn default_theme() -> Spanned<String> {
    Spanned::new(0..0, "default".to_owned())
}

fn default_language() -> String {
    "en".to_owned()
}

fn default_edge_url() -> Spanned<String> {
    Spanned::new(0..0, "/_gate".to_owned())
}

fn default_epoch() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

fn default_highlight_theme() -> Spanned<String> {
    Spanned::new(0..0, "github-light".to_owned())
}

fn yes() -> bool {
    true
}
