//! The operator console's member list: members filtered by email prefix, level, bundle,
//! status, joined and last-seen ranges, sorted and paged by keyset (never OFFSET), and counted
//! per status. It reads the projection `member_state` holds (level, status, joined, last seen)
//! and `member_bundles`, written with each member's standing (`notices::record_standing`), so
//! no history is replayed here.

mod sql;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError};

/// Which members the list shows. Every field is a filter when set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeopleFilter {
    /// The start of the email, lowercase.
    pub email_prefix: Option<String>,
    pub level: Option<String>,
    pub bundle: Option<String>,
    /// A right's status name (`active`, `pending-cancel`…): the bundle's when `bundle` is set,
    /// else the level's.
    pub status: Option<String>,
    /// `[from, until)` in Unix seconds.
    pub joined_from: Option<i64>,
    pub joined_until: Option<i64>,
    /// `[from, until)` in Unix seconds; a member never seen matches no set bound.
    pub seen_from: Option<i64>,
    pub seen_until: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeopleSort {
    Email,
    Joined,
    LastSeen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeopleOrder {
    pub sort: PeopleSort,
    pub descending: bool,
}

/// Where a page is: the first, the one just after a member (in the list's order), or the one
/// just before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAt {
    First,
    After(i64),
    Before(i64),
}

/// One member as the list shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRow {
    pub id: i64,
    pub email: String,
    pub level: Option<String>,
    pub level_status: Option<String>,
    /// (bundle, status), by bundle.
    pub bundles: Vec<(String, String)>,
    pub joined_at: Option<i64>,
    /// The start of the last day they used a session; `None`: never.
    pub last_seen: Option<i64>,
}

/// How many members match the filters: per status (under every filter but the status; `None`
/// for members without a level), and in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeopleCounts {
    pub by_status: Vec<(Option<String>, i64)>,
    pub matching: i64,
}

/// A page of the list, and whether there are members before and after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeoplePage {
    pub rows: Vec<PersonRow>,
    pub more_before: bool,
    pub more_after: bool,
}

/// Up to this many matches, a page is read by finding them all and sorting them (one read of
/// a covering index, whatever the filters); past it, along the sort order, where a page's
/// worth of matches comes within about 50 × members / matches rows.
const FEW: i64 = 2000;

/// A cursor: the sort keys of the row a page continues from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    email: String,
    joined_at: i64,
    last_seen: i64,
    id: i64,
}

/// Where reading starts (see the `sql` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Ordered,
    Emails,
    States,
    Bundle,
}

/// Above every email: the upper end of "no email filter" (U+10FFFF leads no real address).
const NO_EMAIL_ABOVE: &str = "\u{10FFFF}";

impl Store {
    /// How many members match `filter`, per status and in all.
    pub async fn people_counts(&self, filter: &PeopleFilter) -> Result<PeopleCounts, StoreError> {
        let ranges = [
            filter.joined_from,
            filter.joined_until,
            filter.seen_from,
            filter.seen_until,
        ];
        let statement = if filter.email_prefix.is_some() {
            sql::COUNT_FROM_EMAILS
        } else if filter.bundle.is_some() {
            sql::COUNT_FROM_BUNDLE
        } else if ranges.iter().any(Option::is_some) {
            sql::COUNT_FROM_STATES
        } else if filter.level.is_some() {
            sql::COUNT_LEVEL
        } else {
            sql::COUNT_ALL
        };
        let rows = bind(
            sqlx::query(statement),
            filter,
            None,
            PeopleSort::Email,
            false,
            0,
        )
        .fetch_all(&self.pool)
        .await?;
        let mut by_status = rows
            .iter()
            .map(|row| Ok((row.try_get("status")?, row.try_get("n")?)))
            .collect::<Result<Vec<(Option<String>, i64)>, sqlx::Error>>()?;
        by_status.sort();
        let matching = by_status
            .iter()
            .filter(|(status, _)| filter.status.is_none() || *status == filter.status)
            .map(|(_, n)| n)
            .sum();
        Ok(PeopleCounts {
            by_status,
            matching,
        })
    }

    /// A page of up to `size` members matching `filter`. `matching` is how many match (from
    /// `people_counts`): it picks how the page is read, never what it holds.
    pub async fn people_page(
        &self,
        filter: &PeopleFilter,
        order: PeopleOrder,
        at: PageAt,
        matching: i64,
        size: i64,
    ) -> Result<PeoplePage, StoreError> {
        let (from, backwards) = match at {
            PageAt::First => (None, false),
            PageAt::After(id) => (self.people_cursor(id).await?, false),
            PageAt::Before(id) => (self.people_cursor(id).await?, true),
        };
        // An unknown member to page from: the first page.
        let backwards = backwards && from.is_some();
        let mut rows = self
            .people_rows(filter, order, from.as_ref(), backwards, matching, size + 1)
            .await?;
        let more = rows.len() as i64 > size;
        rows.truncate(size as usize);
        if backwards {
            rows.reverse();
        }
        Ok(PeoplePage {
            rows,
            more_before: if backwards { more } else { from.is_some() },
            more_after: if backwards { true } else { more },
        })
    }

    /// The `size` members after `row` (from the start when `None`), for reading the whole list
    /// a batch at a time (the CSV export). Paged by the rows' own keys, so a member whose keys
    /// change meanwhile is not read twice over.
    pub async fn people_after(
        &self,
        filter: &PeopleFilter,
        order: PeopleOrder,
        row: Option<&PersonRow>,
        matching: i64,
        size: i64,
    ) -> Result<Vec<PersonRow>, StoreError> {
        let from = row.map(|row| Cursor {
            email: row.email.clone(),
            joined_at: row.joined_at.unwrap_or(0),
            last_seen: row.last_seen.unwrap_or(0),
            id: row.id,
        });
        self.people_rows(filter, order, from.as_ref(), false, matching, size)
            .await
    }

    async fn people_cursor(&self, id: i64) -> Result<Option<Cursor>, StoreError> {
        let row = sqlx::query(sql::CURSOR)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(Cursor {
                email: row.try_get("email")?,
                joined_at: row.try_get("joined_at")?,
                last_seen: row.try_get("last_seen")?,
                id,
            })
        })
        .transpose()
        .map_err(|e: sqlx::Error| StoreError::from(e))
    }

    async fn people_rows(
        &self,
        filter: &PeopleFilter,
        order: PeopleOrder,
        from: Option<&Cursor>,
        backwards: bool,
        matching: i64,
        limit: i64,
    ) -> Result<Vec<PersonRow>, StoreError> {
        // Many matches: along the sort's index (for email, the one that serves the prefix
        // too). Few: found through the narrowest filter, then sorted.
        let start = if matching > FEW {
            Start::Ordered
        } else if filter.email_prefix.is_some() {
            Start::Emails
        } else if filter.bundle.is_some() {
            Start::Bundle
        } else {
            Start::States
        };
        let descending = order.descending != backwards;
        let statement = statement(order.sort, start, descending);
        let rows = bind(
            sqlx::query(statement),
            filter,
            from,
            order.sort,
            descending,
            limit,
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(person_of)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}

fn statement(sort: PeopleSort, start: Start, descending: bool) -> &'static str {
    let by_key = |table: &[[&'static str; 2]; 4]| {
        let at = match start {
            Start::Ordered => 0,
            Start::Emails => 1,
            Start::States => 2,
            Start::Bundle => 3,
        };
        table[at][usize::from(descending)]
    };
    let dir = usize::from(descending);
    match sort {
        // Along the email index whenever reading starts there or matches are many.
        PeopleSort::Email => match start {
            Start::Ordered | Start::Emails => sql::BY_EMAIL[dir],
            Start::States => sql::BY_EMAIL_FROM_STATES[dir],
            Start::Bundle => sql::BY_EMAIL_FROM_BUNDLE[dir],
        },
        PeopleSort::Joined => by_key(&sql::BY_JOINED),
        PeopleSort::LastSeen => by_key(&sql::BY_LAST_SEEN),
    }
}

/// Binds the thirteen parameters every list statement takes (see the `sql` module).
fn bind<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    filter: &PeopleFilter,
    from: Option<&Cursor>,
    sort: PeopleSort,
    descending: bool,
    limit: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let (mut email_from, mut email_until) = match &filter.email_prefix {
        Some(prefix) => (
            prefix.clone(),
            prefix_end(prefix).unwrap_or_else(|| NO_EMAIL_ABOVE.to_owned()),
        ),
        None => (String::new(), NO_EMAIL_ABOVE.to_owned()),
    };
    // Never seen is stored as NULL, read as 0: a last-seen bound leaves such members out.
    let seen_from = match (filter.seen_from, filter.seen_until) {
        (Some(from), _) => from.max(1),
        (None, Some(_)) => 1,
        (None, None) => i64::MIN,
    };
    let mut joined = (
        filter.joined_from.unwrap_or(i64::MIN),
        filter.joined_until.unwrap_or(i64::MAX),
    );
    let mut seen = (seen_from, filter.seen_until.unwrap_or(i64::MAX));
    let (cursor_email, cursor_key, cursor_id) = match from {
        Some(cursor) => {
            // The cursor narrows the sort key's own range too: an index seeks on one bound
            // at each end, which must then be the nearer one, not the filter's (or no
            // filter's) beyond it with every row between read and dropped.
            let key = match sort {
                PeopleSort::Email => {
                    if descending {
                        email_until = email_until.min(cursor.email.clone());
                    } else {
                        email_from = email_from.max(cursor.email.clone());
                    }
                    cursor.joined_at
                }
                PeopleSort::Joined => narrow(&mut joined, cursor.joined_at, descending),
                PeopleSort::LastSeen => narrow(&mut seen, cursor.last_seen, descending),
            };
            (cursor.email.clone(), key, cursor.id)
        }
        // The first page starts before everything ascending, after everything descending.
        None if descending => (NO_EMAIL_ABOVE.to_owned(), i64::MAX, i64::MAX),
        None => (String::new(), i64::MIN, i64::MIN),
    };
    query
        .bind(filter.level.clone())
        .bind(filter.status.clone())
        .bind(filter.bundle.clone())
        .bind(joined.0)
        .bind(joined.1)
        .bind(seen.0)
        .bind(seen.1)
        .bind(email_from)
        .bind(email_until)
        .bind(cursor_email)
        .bind(cursor_key)
        .bind(cursor_id)
        .bind(limit)
}

/// `[from, until)` narrowed to the rows at or after `key` (before it, and its ties, when
/// descending); returns `key`.
fn narrow(range: &mut (i64, i64), key: i64, descending: bool) -> i64 {
    if descending {
        range.1 = range.1.min(key.saturating_add(1));
    } else {
        range.0 = range.0.max(key);
    }
    key
}

/// The least string above every string that starts with `prefix` (byte order, which is code
/// point order in UTF-8): its last character one up. `None` when there is none.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(next) = char::from_u32(next) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

fn person_of(row: &AnyRow) -> Result<PersonRow, sqlx::Error> {
    let bundles: Option<String> = row.try_get("bundles")?;
    Ok(PersonRow {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        level: row.try_get("level")?,
        level_status: row.try_get("level_status")?,
        bundles: bundles.as_deref().map(parse_bundles).unwrap_or_default(),
        joined_at: row.try_get("joined_at")?,
        last_seen: row.try_get("last_seen")?,
    })
}

/// `<length>:<bundle><status>` entries, spaces between (see `sql::with_bundles`), sorted.
fn parse_bundles(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((length, after)) = rest.split_once(':') {
        let Ok(length) = length.parse::<usize>() else {
            break;
        };
        let cut = after
            .char_indices()
            .nth(length)
            .map_or(after.len(), |(at, _)| at);
        let (bundle, after) = after.split_at(cut);
        let (status, tail) = after.split_once(' ').unwrap_or((after, ""));
        out.push((bundle.to_owned(), status.to_owned()));
        rest = tail;
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_where_its_last_character_goes_one_up() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a@").as_deref(), Some("aA"));
        assert_eq!(prefix_end("z\u{D7FF}").as_deref(), Some("z\u{E000}"));
        assert_eq!(prefix_end("b\u{10FFFF}").as_deref(), Some("c"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn bundles_are_read_back_whatever_their_ids_hold() {
        assert_eq!(
            parse_bundles("6:courseactive 9:a b:c 1x2pending-cancel"),
            [
                ("a b:c 1x2".to_owned(), "pending-cancel".to_owned()),
                ("course".to_owned(), "active".to_owned()),
            ]
        );
        assert_eq!(
            parse_bundles("3:éàüexpired"),
            [("éàü".to_owned(), "expired".to_owned())]
        );
        assert!(parse_bundles("").is_empty());
    }
}
