//! `[[notify]]`: push-notification endpoints. Each gets a signed JSON POST for every member
//! event it subscribes to (all of them by default).

use super::raw::RawNotify;
use super::validate::Checker;
use crate::suggest;

/// The member events gatehouse announces.
pub const NOTICE_KINDS: &[&str] = &[
    "member.joined",
    "member.level_changed",
    "member.bundle_added",
    "member.bundle_cancelled",
    "member.status_changed",
    "member.expired",
];

/// The environment variable holding an endpoint's signing secret unless `secret_env` says.
pub const DEFAULT_SECRET_ENV: &str = "GATEHOUSE_NOTIFY_SECRET";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyEndpoint {
    pub url: String,
    /// The event kinds sent; empty means every kind.
    pub events: Vec<String>,
    /// The environment variable that holds the signing secret (never the secret itself:
    /// site.toml is committed).
    pub secret_env: String,
}

impl NotifyEndpoint {
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }
}

pub(super) fn check_endpoint(check: &mut Checker<'_>, raw: &RawNotify) -> Option<NotifyEndpoint> {
    let url = raw.url.get_ref().trim().to_owned();
    let mut ok = true;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        check.at(
            &raw.url,
            format!("[[notify]] url `{url}` must be an absolute http(s) URL"),
        );
        ok = false;
    }
    let mut events = Vec::new();
    if let Some(list) = &raw.events {
        for kind in list.get_ref() {
            let name = if kind.starts_with("member.") {
                kind.clone()
            } else {
                format!("member.{kind}")
            };
            if NOTICE_KINDS.contains(&name.as_str()) {
                events.push(name);
            } else {
                check.at(
                    list,
                    format!(
                        "[[notify]] unknown event `{kind}`{} (known: {})",
                        suggest::hint(&name, NOTICE_KINDS.iter().copied()),
                        NOTICE_KINDS.join(", ")
                    ),
                );
                ok = false;
            }
        }
    }
    let secret_env = match &raw.secret_env {
        Some(name) => {
            let name = name.get_ref();
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                check.at(
                    raw.secret_env.as_ref()?,
                    // Not quoted: a secret pasted here must not reach a log or a terminal.
                    "[[notify]] secret_env must name an environment variable (A-Z, 0-9, _) that holds the secret, not hold the secret itself",
                );
                ok = false;
            }
            name.clone()
        }
        None => DEFAULT_SECRET_ENV.to_owned(),
    };
    ok.then_some(NotifyEndpoint {
        url,
        events,
        secret_env,
    })
}
