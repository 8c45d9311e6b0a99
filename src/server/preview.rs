//! "View as" for authors (`gatehouse serve` only; `gatehouse edge` never reads the cookie):
//! `/keys` answers as if the reader held a level or bundle since `day` days ago, or as a
//! visitor, so drip schedules can be checked without waiting or making members.

use axum::http::HeaderMap;
use jiff::Timestamp;

use crate::config::{DAY, SiteConfig};
use crate::entitle::{Basis, Event, EventKind, Grant, Timeline, grant_text, parse_grant};

pub const VIEW_AS_COOKIE: &str = "gh_view_as";

/// The furthest day of membership a preview goes to (ten years).
pub const MAX_DAY: u32 = 3650;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewAs {
    /// Nobody logged in.
    Visitor,
    /// Holds `grant` since the start of day `day` of membership (day 0: joined just now).
    Holder { grant: Grant, day: u32 },
}

impl ViewAs {
    /// `visitor`, or `level:gold@14` / `bundle:pricing-course@3`, checked against site.toml.
    pub fn parse(text: &str, config: &SiteConfig) -> Result<ViewAs, String> {
        if text == "visitor" {
            return Ok(ViewAs::Visitor);
        }
        let (grant, day) = text.split_once('@').unwrap_or((text, "0"));
        let day: u32 = day
            .parse()
            .ok()
            .filter(|d| *d <= MAX_DAY)
            .ok_or_else(|| format!("day `{day}` must be a whole number from 0 to {MAX_DAY}"))?;
        let grant = parse_grant(grant, config).map_err(|error| error.to_string())?;
        Ok(ViewAs::Holder { grant, day })
    }

    pub fn text(&self) -> String {
        match self {
            ViewAs::Visitor => "visitor".to_owned(),
            ViewAs::Holder { grant, day } => format!("{}@{day}", grant_text(grant)),
        }
    }

    /// The preview the request's cookie asks for; a stale or broken cookie is ignored.
    pub fn from_headers(headers: &HeaderMap, config: &SiteConfig) -> Option<ViewAs> {
        let value = super::session::cookie_value(headers, VIEW_AS_COOKIE)?;
        ViewAs::parse(&value, config).ok()
    }

    /// The entitlement of the previewed reader at `now`; `None` for a visitor.
    pub fn timeline(&self, now: Timestamp, config: &SiteConfig) -> Option<Timeline> {
        let ViewAs::Holder { grant, day } = self else {
            return None;
        };
        let since = now
            .checked_sub(jiff::SignedDuration::from_secs(
                (u64::from(*day) * DAY) as i64,
            ))
            .unwrap_or(Timestamp::MIN);
        let event = Event {
            at: since,
            kind: EventKind::Grant {
                grant: grant.clone(),
                basis: Basis::Complimentary,
            },
        };
        Some(Timeline::replay(&[event], now, config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SiteConfig {
        crate::config::parse(
            std::path::Path::new("."),
            "title = \"t\"\nbase_url = \"http://x\"\n[[levels]]\nid = \"gold\"\nrank = 1\n[[bundles]]\nid = \"b\"\n",
        )
        .expect("the test config is valid")
    }

    #[test]
    fn previews_parse_and_print_back() {
        let config = config();
        for text in ["visitor", "level:gold@14", "bundle:b@0"] {
            assert_eq!(
                ViewAs::parse(text, &config).map(|v| v.text()),
                Ok(text.to_owned())
            );
        }
        assert_eq!(
            ViewAs::parse("level:gold", &config).map(|v| v.text()),
            Ok("level:gold@0".to_owned())
        );
    }

    #[test]
    fn unknown_ids_and_bad_days_are_refused() {
        let config = config();
        assert!(ViewAs::parse("level:platinum@1", &config).is_err());
        assert!(ViewAs::parse("bundle:nope@1", &config).is_err());
        assert!(ViewAs::parse("level:gold@-1", &config).is_err());
        assert!(ViewAs::parse("level:gold@99999", &config).is_err());
        assert!(ViewAs::parse("gold", &config).is_err());
    }
}
