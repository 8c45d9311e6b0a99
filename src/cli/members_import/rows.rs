//! Reading the import file: each CSV record becomes a checked [`Row`], or every problem it has,
//! named by the physical line it starts on.

use std::collections::HashMap;
use std::fmt::Display;

use jiff::Timestamp;

use crate::config::SiteConfig;

/// The columns, in this order; `expires` may be left out.
const COLUMNS: [&str; 6] = ["email", "level", "since", "bundles", "status", "expires"];
pub(super) const COLUMNS_TEXT: &str = "email,level,since,bundles,status[,expires]";

/// What the other system says of a member: one line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Row {
    /// The physical line the row starts on, from 1.
    pub(super) line: u64,
    pub(super) email: String,
    pub(super) level: String,
    pub(super) since: Timestamp,
    pub(super) bundles: Vec<String>,
    pub(super) status: Former,
    pub(super) expires: Option<Timestamp>,
}

/// The member's status in the system they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Former {
    Active,
    PendingCancel,
    Overdue,
    Cancelled,
    Expired,
    Complimentary,
}

const STATUSES: [Former; 6] = [
    Former::Active,
    Former::PendingCancel,
    Former::Overdue,
    Former::Cancelled,
    Former::Expired,
    Former::Complimentary,
];

impl Former {
    pub(super) fn name(self) -> &'static str {
        match self {
            Former::Active => "active",
            Former::PendingCancel => "pending-cancel",
            Former::Overdue => "overdue",
            Former::Cancelled => "cancelled",
            Former::Expired => "expired",
            Former::Complimentary => "complimentary",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LineError {
    pub(super) line: u64,
    pub(super) message: String,
}

/// Every row of the file that reads well, and every problem of those that do not. A first
/// line whose first field is `email` is a header.
pub(super) fn parse_rows(
    bytes: &[u8],
    now: Timestamp,
    config: &SiteConfig,
) -> (Vec<Row>, Vec<LineError>) {
    // Spreadsheets often save UTF-8 with a byte-order mark, which would stick to `email`.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let bytes = unix_line_ends(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.as_slice());
    let mut rows: Vec<Row> = Vec::new();
    let mut errors = Vec::new();
    let mut lines_of: HashMap<String, u64> = HashMap::new();
    let mut record = csv::StringRecord::new();
    let mut first = true;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                let utf8 = matches!(error.kind(), csv::ErrorKind::Utf8 { .. });
                let message = if utf8 {
                    "the line is not UTF-8 text: save the file as UTF-8".to_owned()
                } else {
                    format!("could not read the file here: {error}")
                };
                errors.push(LineError { line, message });
                if utf8 {
                    continue;
                }
                break;
            }
        }
        let line = record.position().map_or(0, csv::Position::line);
        // A spreadsheet's blank rows come out as `,,,,`.
        if record.iter().all(str::is_empty) {
            continue;
        }
        let is_first = std::mem::take(&mut first);
        if is_first
            && record
                .get(0)
                .is_some_and(|f| f.eq_ignore_ascii_case("email"))
        {
            if let Err(message) = check_header(&record) {
                errors.push(LineError { line, message });
            }
            continue;
        }
        match parse_row(line, &record, now, config) {
            Ok(row) => match lines_of.get(&row.email) {
                Some(&earlier) => errors.push(LineError {
                    line,
                    message: format!(
                        "{} is also on line {earlier}: give each member one line",
                        row.email
                    ),
                }),
                None => {
                    lines_of.insert(row.email.clone(), line);
                    rows.push(row);
                }
            },
            Err(messages) => errors.extend(
                messages
                    .into_iter()
                    .map(|message| LineError { line, message }),
            ),
        }
    }
    (rows, errors)
}

/// The csv reader ends a record at the `\r` of a CRLF and starts the next at its `\n`, so with
/// Windows line ends every record would report the line before its own.
fn unix_line_ends(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for (i, &byte) in bytes.iter().enumerate() {
        if byte != b'\r' || bytes.get(i + 1) != Some(&b'\n') {
            out.push(byte);
        }
    }
    out
}

fn check_header(record: &csv::StringRecord) -> Result<(), String> {
    let named = record.len() >= 5
        && record.len() <= COLUMNS.len()
        && record
            .iter()
            .zip(COLUMNS)
            .all(|(field, column)| field.eq_ignore_ascii_case(column));
    if named {
        return Ok(());
    }
    let found: Vec<&str> = record.iter().collect();
    Err(format!(
        "the header names the columns `{}`; they must be {COLUMNS_TEXT}, in that order",
        found.join(",")
    ))
}

/// One line, or every problem it has.
fn parse_row(
    line: u64,
    record: &csv::StringRecord,
    now: Timestamp,
    config: &SiteConfig,
) -> Result<Row, Vec<String>> {
    if !(5..=COLUMNS.len()).contains(&record.len()) {
        return Err(vec![format!(
            "expected 5 or 6 columns ({COLUMNS_TEXT}), found {}",
            record.len()
        )]);
    }
    let field = |i: usize| record.get(i).unwrap_or_default();
    let mut problems = Vec::new();
    let email = noted(&mut problems, crate::email::normalize_email(field(0)));
    let level = noted(&mut problems, level_id(field(1), config));
    let since = noted(&mut problems, instant("since", field(2)));
    let bundles = noted(&mut problems, bundle_ids(field(3), config));
    let status = noted(&mut problems, status(field(4)));
    // `Some(None)`: no `expires`; `None`: one that does not read.
    let expires = match field(5) {
        "" => Some(None),
        text => noted(&mut problems, instant("expires", text)).map(Some),
    };
    if let Some(since) = since
        && since > now
    {
        problems.push(format!(
            "`since` ({since}) is in the future: members are imported as they stand now"
        ));
    }
    if let (Some(since), Some(Some(expires))) = (since, expires)
        && expires < since
    {
        problems.push(format!("`expires` ({expires}) is before `since` ({since})"));
    }
    match (email, level, since, bundles, status, expires) {
        (Some(email), Some(level), Some(since), Some(bundles), Some(status), Some(expires))
            if problems.is_empty() =>
        {
            Ok(Row {
                line,
                email,
                level,
                since,
                bundles,
                status,
                expires,
            })
        }
        _ => Err(problems),
    }
}

/// The value, or `None` with the error's message noted.
fn noted<T, E: Display>(problems: &mut Vec<String>, result: Result<T, E>) -> Option<T> {
    result.map_err(|e| problems.push(e.to_string())).ok()
}

fn level_id(text: &str, config: &SiteConfig) -> Result<String, String> {
    if text.is_empty() {
        let known: Vec<&str> = config.level_ids().collect();
        return Err(format!(
            "the level is empty: every member has one (known: {})",
            known.join(", ")
        ));
    }
    match config.level(text) {
        Some(level) => Ok(level.id.clone()),
        None => Err(format!(
            "unknown level `{text}`{}",
            crate::suggest::hint(text, config.level_ids())
        )),
    }
}

/// `a;b` or `a|b`; empty for none.
fn bundle_ids(text: &str, config: &SiteConfig) -> Result<Vec<String>, String> {
    let mut ids: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for id in text
        .split([';', '|'])
        .map(str::trim)
        .filter(|id| !id.is_empty())
    {
        if config.bundle(id).is_none() {
            problems.push(format!(
                "unknown bundle `{id}`{}",
                crate::suggest::hint(id, config.bundle_ids())
            ));
        } else if ids.iter().any(|known| known == id) {
            problems.push(format!("bundle `{id}` is listed twice"));
        } else {
            ids.push(id.to_owned());
        }
    }
    if problems.is_empty() {
        Ok(ids)
    } else {
        Err(problems.join("; "))
    }
}

fn status(text: &str) -> Result<Former, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(status) = STATUSES.into_iter().find(|s| s.name() == lower) {
        return Ok(status);
    }
    let names = STATUSES.map(Former::name);
    if text.is_empty() {
        return Err(format!("the status is empty (known: {})", names.join(", ")));
    }
    let guess = crate::suggest::closest(&lower, names)
        .map(|best| format!(" (did you mean `{best}`?)"))
        .unwrap_or_default();
    Err(format!(
        "unknown status `{text}`{guess}; the statuses are: {}",
        names.join(", ")
    ))
}

/// `2026-10-01` (midnight UTC) or an RFC 3339 time, in whole seconds as the store keeps them.
fn instant(column: &str, text: &str) -> Result<Timestamp, String> {
    if text.is_empty() {
        return Err(format!(
            "`{column}` is empty: write a date such as 2026-10-01"
        ));
    }
    crate::instant::parse_instant(text)
        .map_err(|e| e.to_string())
        .and_then(|at| Timestamp::from_second(at.as_second()).map_err(|e| e.to_string()))
        .map_err(|e| format!("`{column}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{now, row, site};
    use super::*;

    fn parse(text: &str) -> (Vec<Row>, Vec<LineError>) {
        parse_rows(text.as_bytes(), now(), &site())
    }

    fn errors(text: &str) -> Vec<(u64, String)> {
        parse(text)
            .1
            .into_iter()
            .map(|e| (e.line, e.message))
            .collect()
    }

    #[test]
    fn a_header_is_optional_and_quoted_fields_are_read() {
        let with_header = "\u{feff}EMAIL,Level,since,bundles,Status,expires\n\
                           \" Ann@Example.com \",gold,2026-01-15,\"course; workshop\",Active,\n";
        let (rows, errors) = parse(with_header);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            rows,
            [Row {
                line: 2,
                email: "ann@example.com".to_owned(),
                level: "gold".to_owned(),
                since: "2026-01-15T00:00:00Z".parse().unwrap(),
                bundles: vec!["course".to_owned(), "workshop".to_owned()],
                status: Former::Active,
                expires: None,
            }]
        );
        let without =
            row("ann@example.com,gold,2026-01-15T09:30:00.5+01:00,course|workshop,active");
        assert_eq!(without.line, 1);
        assert_eq!(without.since.to_string(), "2026-01-15T08:30:00Z");
        assert_eq!(without.bundles, ["course", "workshop"]);
    }

    #[test]
    fn line_numbers_are_physical_lines() {
        let text = "\n\
                    ann@example.com,gold,2026-01-15,,active\n\
                    ,,,,\n\
                    \"bob\n@example.com\",gold,2026-01-15,,active\n\
                    cat@example.com,gold,2026-01-15,,nope\n";
        let errors = errors(text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            errors[0].0, 4,
            "a record starts on the line of its first field"
        );
        assert!(errors[0].1.contains("it contains spaces"), "{errors:?}");
        assert_eq!(errors[1].0, 6);

        let windows = text.replace('\n', "\r\n");
        let lines: Vec<u64> = self::errors(&windows).iter().map(|e| e.0).collect();
        assert_eq!(lines, [4, 6], "CRLF line ends count the same");
        let invalid = b"ann@example.com,gold,2026-01-15,,active\r\nb\xffb@example.com,gold,2026-01-15,,active\r\n";
        let (rows, errors) = parse_rows(invalid, now(), &site());
        assert_eq!(rows.len(), 1);
        assert_eq!(
            errors,
            [LineError {
                line: 2,
                message: "the line is not UTF-8 text: save the file as UTF-8".to_owned()
            }]
        );
    }

    #[test]
    fn every_problem_of_every_line_is_reported() {
        let text = "ann@example,gld,2026-13-01,curse;course;course,actve\n\
                    bob@example.com,gold,2027-01-01,,active\n\
                    cat@example.com,gold\n\
                    dan@example.com,,2026-01-01,,,2025-01-01\n\
                    eve@example.com,gold,2026-01-01,,active,\n";
        let errors = errors(text);
        let expected: &[(u64, &str)] = &[
            (1, "`ann@example` is not an email address"),
            (1, "unknown level `gld` (did you mean `gold`?)"),
            (1, "`since`: `2026-13-01` is not a date or time"),
            (
                1,
                "unknown bundle `curse` (did you mean `course`?); bundle `course` is listed twice",
            ),
            (
                1,
                "unknown status `actve` (did you mean `active`?); the statuses are: active, pending-cancel, overdue, cancelled, expired, complimentary",
            ),
            (2, "`since` (2027-01-01T00:00:00Z) is in the future"),
            (
                3,
                "expected 5 or 6 columns (email,level,since,bundles,status[,expires]), found 2",
            ),
            (
                4,
                "the level is empty: every member has one (known: free, annual, gold)",
            ),
            (4, "the status is empty"),
            (
                4,
                "`expires` (2025-01-01T00:00:00Z) is before `since` (2026-01-01T00:00:00Z)",
            ),
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for ((line, message), (want_line, want)) in errors.iter().zip(expected) {
            assert_eq!(line, want_line, "{message}");
            assert!(
                message.starts_with(want),
                "{message:?} starts with {want:?}"
            );
        }
    }

    #[test]
    fn the_same_email_twice_names_both_lines() {
        let text = "ann@example.com,gold,2026-01-15,,active\n\
                    bob@example.com,gold,2026-01-15,,active\n\
                    ANN@example.com,free,2026-01-15,,active\n";
        assert_eq!(
            errors(text),
            [(
                3,
                "ann@example.com is also on line 1: give each member one line".to_owned()
            )]
        );
    }

    #[test]
    fn a_header_must_name_the_columns_in_order() {
        let errors = errors("email,status,level,since,bundles\n");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, 1);
        assert!(
            errors[0].1.contains("`email,status,level,since,bundles`"),
            "{errors:?}"
        );
    }
}
