//! `[admin]`: who may use the operator console at `<edge_url>/admin/`, how long an operator's
//! session lasts, and when a member's addresses per day look like a shared account.

use toml::Spanned;

use super::raw::RawAdmin;
use super::validate::Checker;

/// An operator's session lasts this long unless site.toml says otherwise: a working day, far
/// shorter than a member's 30 days, since an operator's cookie changes members.
pub const DEFAULT_SESSION_HOURS: i64 = 8;
/// A member seen from more distinct addresses than this in one day is flagged.
pub const DEFAULT_SHARING_THRESHOLD: i64 = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Normalised (lowercase) operator emails; empty: the console is off.
    pub emails: Vec<String>,
    pub session_hours: i64,
    pub sharing_threshold: i64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            emails: Vec::new(),
            session_hours: DEFAULT_SESSION_HOURS,
            sharing_threshold: DEFAULT_SHARING_THRESHOLD,
        }
    }
}

impl AdminConfig {
    /// Whether `email` (already normalised) is an operator's.
    pub fn is_operator(&self, email: &str) -> bool {
        self.emails.iter().any(|known| known == email)
    }
}

pub(super) fn check_admin(check: &mut Checker<'_>, raw: Option<&RawAdmin>) -> AdminConfig {
    let Some(raw) = raw else {
        return AdminConfig::default();
    };
    let mut emails = Vec::new();
    for email in raw.emails.iter().flat_map(|list| list.get_ref()) {
        match crate::email::normalize_email(email.get_ref()) {
            Ok(normal) if emails.contains(&normal) => check.at(
                email,
                format!("[admin] emails lists {normal} twice; remove one"),
            ),
            Ok(normal) => emails.push(normal),
            Err(error) => check.at(email, format!("[admin] emails: {error}")),
        }
    }
    let session_hours = bounded(check, raw.session_hours.as_ref(), "session_hours", 1..=168)
        .unwrap_or(DEFAULT_SESSION_HOURS);
    let sharing_threshold = bounded(
        check,
        raw.sharing_threshold.as_ref(),
        "sharing_threshold",
        1..=1000,
    )
    .unwrap_or(DEFAULT_SHARING_THRESHOLD);
    AdminConfig {
        emails,
        session_hours,
        sharing_threshold,
    }
}

fn bounded(
    check: &mut Checker<'_>,
    value: Option<&Spanned<i64>>,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Option<i64> {
    let value = value?;
    if range.contains(value.get_ref()) {
        Some(*value.get_ref())
    } else {
        check.at(
            value,
            format!(
                "[admin] {name} = {} is out of range: use a whole number from {} to {}",
                value.get_ref(),
                range.start(),
                range.end()
            ),
        );
        None
    }
}
