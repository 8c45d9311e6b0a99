//! The member list's query string: read into a checked filter, order and page (a bad value is
//! a message for the page, never a failure), and written back into links that keep it.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::config::SiteConfig;
use crate::store::{PageAt, PeopleFilter, PeopleOrder, PeopleSort};

/// The statuses a right can have, in the order the list shows them.
pub const STATUSES: [&str; 6] = [
    "active",
    "pending-cancel",
    "overdue",
    "cancelled",
    "expired",
    "revoked",
];

/// The list's query string as sent: every value a string (an empty form field is no filter),
/// so that nothing is refused before it can be explained.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    pub q: Option<String>,
    pub level: Option<String>,
    pub bundle: Option<String>,
    pub status: Option<String>,
    pub joined_from: Option<String>,
    pub joined_to: Option<String>,
    pub seen_from: Option<String>,
    pub seen_to: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// What a query string asks for, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List {
    pub filter: PeopleFilter,
    pub order: PeopleOrder,
    pub at: PageAt,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ListQuery {
    /// The filter, order and page asked for; a message saying what to fix otherwise.
    pub fn read(&self, config: &SiteConfig) -> Result<List, String> {
        let level = match given(&self.level) {
            Some(id) if config.level(id).is_none() => {
                return Err(format!(
                    "There is no level `{id}`: the levels are {}.",
                    config.level_ids().collect::<Vec<_>>().join(", ")
                ));
            }
            other => other.map(str::to_owned),
        };
        let bundle = match given(&self.bundle) {
            Some(id) if !config.bundles.iter().any(|b| b.id == id) => {
                let known: Vec<_> = config.bundles.iter().map(|b| b.id.as_str()).collect();
                return Err(if known.is_empty() {
                    format!("There is no bundle `{id}`: this site has no bundles.")
                } else {
                    format!(
                        "There is no bundle `{id}`: the bundles are {}.",
                        known.join(", ")
                    )
                });
            }
            other => other.map(str::to_owned),
        };
        let status = match given(&self.status) {
            Some(name) if !STATUSES.contains(&name) => {
                return Err(format!(
                    "There is no status `{name}`: the statuses are {}.",
                    STATUSES.join(", ")
                ));
            }
            other => other.map(str::to_owned),
        };
        let (joined_from, joined_until) =
            range("joined", given(&self.joined_from), given(&self.joined_to))?;
        let (seen_from, seen_until) =
            range("last seen", given(&self.seen_from), given(&self.seen_to))?;
        let email_prefix = given(&self.q).map(str::to_lowercase);
        if email_prefix.as_ref().is_some_and(|q| q.len() > 254) {
            return Err("The email search is longer than any email.".to_owned());
        }
        let sort = match given(&self.sort) {
            None | Some("joined") => PeopleSort::Joined,
            Some("email") => PeopleSort::Email,
            Some("seen") => PeopleSort::LastSeen,
            Some(other) => {
                return Err(format!(
                    "The list cannot be sorted by `{other}`: sort by email, joined or seen."
                ));
            }
        };
        let descending = match given(&self.dir) {
            None => sort != PeopleSort::Email,
            Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(format!("`{other}` is no direction: asc or desc.")),
        };
        let at = match (given(&self.after), given(&self.before)) {
            (None, None) => PageAt::First,
            (Some(id), None) => PageAt::After(page_id(id)?),
            (None, Some(id)) => PageAt::Before(page_id(id)?),
            (Some(_), Some(_)) => return Err("A page link has both `after` and `before`.".into()),
        };
        Ok(List {
            filter: PeopleFilter {
                email_prefix,
                level,
                bundle,
                status,
                joined_from,
                joined_until,
                seen_from,
                seen_until,
            },
            order: PeopleOrder { sort, descending },
            at,
        })
    }

    /// The query string (`?…`) of this list with its filters and order, `set` changed (an
    /// empty value removes a key), and no page: for the links of pages, sorts and statuses.
    pub fn link(&self, set: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = [
            ("q", &self.q),
            ("level", &self.level),
            ("bundle", &self.bundle),
            ("status", &self.status),
            ("joined_from", &self.joined_from),
            ("joined_to", &self.joined_to),
            ("seen_from", &self.seen_from),
            ("seen_to", &self.seen_to),
            ("sort", &self.sort),
            ("dir", &self.dir),
        ]
        .into_iter()
        .filter_map(|(key, value)| given(value).map(|value| (key, value)))
        .collect();
        for (key, value) in set {
            pairs.retain(|(k, _)| k != key);
            if !value.is_empty() {
                pairs.push((key, value));
            }
        }
        let text: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("{key}={}", encode(value)))
            .collect();
        if text.is_empty() {
            String::new()
        } else {
            format!("?{}", text.join("&"))
        }
    }
}

fn page_id(text: &str) -> Result<i64, String> {
    text.parse()
        .map_err(|_| "This page link is damaged: start from the first page.".to_owned())
}

/// A `[from, to]` range of days as `[from, until)` in Unix seconds (UTC days).
fn range(
    what: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(Option<i64>, Option<i64>), String> {
    let from = from.map(|text| day(what, text)).transpose()?;
    let to = to.map(|text| day(what, text)).transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(format!(
            "The {what} range ends before it starts ({} is after {}).",
            from, to
        ));
    }
    let start = |date: Date| -> Result<i64, String> {
        date.to_zoned(TimeZone::UTC)
            .map(|at| at.timestamp().as_second())
            .map_err(|_| format!("The {what} date {date} is out of range."))
    };
    let until = to
        .map(|date| {
            date.tomorrow()
                .map_err(|_| format!("The {what} date {date} is out of range."))
                .and_then(start)
        })
        .transpose()?;
    Ok((from.map(start).transpose()?, until))
}

fn day(what: &str, text: &str) -> Result<Date, String> {
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    well_formed
        .then(|| text.parse::<Date>().ok())
        .flatten()
        .ok_or_else(|| format!("`{text}` is not a {what} date: write it as YYYY-MM-DD."))
}

/// Percent-encodes a query value: all but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SiteConfig {
        let text = "title = \"T\"\nbase_url = \"https://example.com\"\n\
                    [[levels]]\nid = \"free\"\nrank = 0\n[[levels]]\nid = \"gold\"\nrank = 10\n\
                    [[bundles]]\nid = \"course\"\n";
        let root = std::env::temp_dir().join("gatehouse-people-params-test");
        std::fs::create_dir_all(root.join("themes/default/templates")).ok();
        crate::config::parse(&root, text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn query(pairs: &[(&str, &str)]) -> ListQuery {
        let mut q = ListQuery::default();
        for (key, value) in pairs {
            let value = Some((*value).to_owned());
            match *key {
                "q" => q.q = value,
                "level" => q.level = value,
                "bundle" => q.bundle = value,
                "status" => q.status = value,
                "joined_from" => q.joined_from = value,
                "joined_to" => q.joined_to = value,
                "seen_from" => q.seen_from = value,
                "seen_to" => q.seen_to = value,
                "sort" => q.sort = value,
                "dir" => q.dir = value,
                "after" => q.after = value,
                _ => q.before = value,
            }
        }
        q
    }

    #[test]
    fn filters_are_read_and_dates_are_whole_utc_days() {
        let list = query(&[
            ("q", " Ann"),
            ("level", "gold"),
            ("bundle", "course"),
            ("status", "pending-cancel"),
            ("joined_from", "2027-01-01"),
            ("joined_to", "2027-01-31"),
            ("sort", "email"),
            ("after", "42"),
            ("seen_from", ""),
        ])
        .read(&config())
        .unwrap();
        assert_eq!(list.filter.email_prefix.as_deref(), Some("ann"));
        assert_eq!(list.filter.level.as_deref(), Some("gold"));
        assert_eq!(list.filter.status.as_deref(), Some("pending-cancel"));
        assert_eq!(list.filter.joined_from, Some(1_798_761_600));
        assert_eq!(list.filter.joined_until, Some(1_798_761_600 + 31 * 86_400));
        assert_eq!(list.filter.seen_from, None);
        assert_eq!(
            list.order,
            PeopleOrder {
                sort: PeopleSort::Email,
                descending: false
            }
        );
        assert_eq!(list.at, PageAt::After(42));
    }

    #[test]
    fn bad_values_say_what_to_fix() {
        let config = config();
        for (pairs, says) in [
            (
                vec![("level", "platinum")],
                "no level `platinum`: the levels are free, gold",
            ),
            (
                vec![("bundle", "x")],
                "no bundle `x`: the bundles are course",
            ),
            (vec![("status", "gone")], "no status `gone`"),
            (
                vec![("joined_from", "2027-13-01")],
                "`2027-13-01` is not a joined date",
            ),
            (
                vec![("seen_to", "1/2/2027")],
                "`1/2/2027` is not a last seen date",
            ),
            (
                vec![("joined_from", "2027-02-01"), ("joined_to", "2027-01-01")],
                "ends before it starts",
            ),
            (vec![("sort", "password")], "cannot be sorted by `password`"),
            (vec![("after", "x")], "damaged"),
        ] {
            let message = query(&pairs).read(&config).unwrap_err();
            assert!(message.contains(says), "{pairs:?}: {message}");
        }
    }

    #[test]
    fn links_keep_the_filters_and_encode_them() {
        let q = query(&[
            ("q", "a+b@x"),
            ("level", "gold"),
            ("after", "9"),
            ("dir", ""),
        ]);
        assert_eq!(q.link(&[]), "?q=a%2Bb%40x&level=gold");
        assert_eq!(
            q.link(&[("level", ""), ("before", "7")]),
            "?q=a%2Bb%40x&before=7"
        );
        assert_eq!(ListQuery::default().link(&[]), "");
    }
}
