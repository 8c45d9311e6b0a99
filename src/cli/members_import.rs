//! `gatehouse members import FILE.csv`: members brought over from another membership system.
//!
//! Each line becomes the history that leads to where the member stands (DESIGN §5): their
//! grants back-dated to `since`, then whatever ended or paused them. Every line is checked
//! before anything is written, and the members are stored in one transaction, remembered as
//! they stand rather than announced as new joiners. Re-running a file skips the members it
//! already imported.

use std::collections::HashMap;
use std::fmt::Display;
use std::path::PathBuf;

use anyhow::{Context, bail};
use jiff::Timestamp;

use crate::config::SiteConfig;
use crate::entitle::{Basis, EventRecord, EventType, Grant, RightView, Status, Timeline};
use crate::store::{NewMember, Store, StoredEvent};

/// The `source` of every imported event; a re-run recognises its own members by it.
const SOURCE: &str = "import";

/// The columns, in this order; `expires` may be left out.
const COLUMNS: [&str; 6] = ["email", "level", "since", "bundles", "status", "expires"];
const COLUMNS_TEXT: &str = "email,level,since,bundles,status[,expires]";

/// Below this many members the write is too quick for a progress bar to help.
const PROGRESS_FROM: usize = 500;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The CSV file, one member a line: `email,level,since,bundles,status[,expires]`, with or
    /// without a header line. `status` is one of active, pending-cancel, overdue, cancelled,
    /// expired, complimentary; see docs/edge.md, "Importing members".
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Check every line and say what would be imported, without changing the database.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn import(store: &Store, config: &SiteConfig, args: &ImportArgs) -> anyhow::Result<()> {
    let file = args.file.display().to_string();
    let bytes = std::fs::read(&args.file).with_context(|| format!("could not read {file}"))?;
    let now = now();
    let (rows, mut errors) = parse_rows(&bytes, now, config);
    if rows.is_empty() && errors.is_empty() {
        bail!("{file} holds no members: write one a line, as {COLUMNS_TEXT}");
    }
    let existing = existing_histories(store, &rows).await?;
    let plan = plan(&rows, &existing, now, config);
    errors.extend(plan.errors);
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        for error in &errors {
            eprintln!("{file}:{}: {}", error.line, error.message);
        }
        let count = plural(errors.len(), "error");
        bail!("{count} in {file}; no member was imported: fix the lines above and run again");
    }

    let members = plural(plan.new.len(), "member");
    if args.dry_run {
        println!("would import {members}, {} unchanged", plan.unchanged);
        return Ok(());
    }
    let bar = progress_bar(plan.new.len());
    let written = store
        .import_members(&plan.new, now, |done| bar.set_position(done as u64))
        .await;
    bar.finish_and_clear();
    written.with_context(|| format!("no member was imported from {file}"))?;
    println!("imported {members}, {} unchanged", plan.unchanged);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading the file
// ---------------------------------------------------------------------------------------------

/// What the other system says of a member: one line of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    /// The physical line the row starts on, from 1.
    line: u64,
    email: String,
    level: String,
    since: Timestamp,
    bundles: Vec<String>,
    status: Former,
    expires: Option<Timestamp>,
}

/// The member's status in the system they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Former {
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
    fn name(self) -> &'static str {
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
struct LineError {
    line: u64,
    message: String,
}

/// Every row of the file that reads well, and every problem of those that do not. A first
/// line whose first field is `email` is a header.
fn parse_rows(bytes: &[u8], now: Timestamp, config: &SiteConfig) -> (Vec<Row>, Vec<LineError>) {
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

// ---------------------------------------------------------------------------------------------
// From a row to a member
// ---------------------------------------------------------------------------------------------

/// One event of an imported history. Events placed at the import instant (a cancellation
/// made now, say) differ from one run to the next only in `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Planned {
    record: EventRecord,
    at_now: bool,
}

/// The history that leads to where the row says the member stands.
fn events(row: &Row, now: Timestamp, config: &SiteConfig) -> Result<Vec<Planned>, String> {
    let rights: Vec<Grant> = std::iter::once(Grant::Level(row.level.clone()))
        .chain(row.bundles.iter().cloned().map(Grant::Bundle))
        .collect();
    let mut planned = Vec::new();
    // `at: None` places the event at the import instant.
    let mut push = |kind: EventType, grant: &Grant, at: Option<Timestamp>, until, basis| {
        let record = EventRecord::new(
            kind,
            Some(grant.clone()),
            at.unwrap_or(now),
            until,
            basis,
            config,
        )
        .map_err(|e| format!("cannot record `{kind}`: {e}"))?;
        planned.push(Planned {
            record,
            at_now: at.is_none(),
        });
        Ok::<(), String>(())
    };

    // Pending cancel only holds for recurring access (DESIGN §5), so those grants say so.
    let basis = (row.status == Former::PendingCancel).then_some(Basis::Recurring);
    for grant in &rights {
        let kind = match (row.status, grant) {
            (Former::Complimentary, _) => EventType::Complimentary,
            (_, Grant::Level(_)) => EventType::LevelSet,
            (_, Grant::Bundle(_)) => EventType::BundleAdd,
        };
        push(kind, grant, Some(row.since), None, basis)?;
    }
    for grant in &rights {
        let cancel = match grant {
            Grant::Level(_) => EventType::Cancel,
            Grant::Bundle(_) => EventType::BundleCancel,
        };
        match row.status {
            Former::Active | Former::Complimentary => {}
            Former::Overdue => push(EventType::Overdue, grant, None, None, None)?,
            Former::PendingCancel => push(cancel, grant, None, row.expires, None)?,
            Former::Cancelled => push(cancel, grant, row.expires, None, None)?,
            Former::Expired => push(EventType::Expire, grant, row.expires, None, None)?,
        }
    }
    // The date access ends, for access that has not ended yet: an `expire` waits for it
    // (events after now are ignored until their time comes).
    if let (Former::Active | Former::Complimentary | Former::Overdue, Some(expires)) =
        (row.status, row.expires)
    {
        for grant in &rights {
            push(EventType::Expire, grant, Some(expires), None, None)?;
        }
    }
    Ok(planned)
}

/// What only holds at the moment of the import, so a re-run does not ask it again of members
/// already imported: `expires` against now, and the member's standing after replaying the
/// planned history against the row's status.
fn check_now(row: &Row, planned: &[Planned], now: Timestamp, config: &SiteConfig) -> Vec<String> {
    let mut problems = Vec::new();
    let status = row.status.name();
    match (row.status, row.expires) {
        (Former::PendingCancel, None) => problems
            .push("pending-cancel needs the date access ends in the `expires` column".to_owned()),
        (Former::PendingCancel, Some(expires)) if expires <= now => problems.push(format!(
            "pending-cancel needs the date access ends in the `expires` column, in the \
             future: {expires} has passed, so the member is `cancelled`"
        )),
        (Former::Cancelled | Former::Expired, Some(expires)) if expires > now => {
            let instead = if row.status == Former::Cancelled {
                "pending-cancel"
            } else {
                "active"
            };
            problems.push(format!(
                "`{status}` with `expires` in the future ({expires}): access has not ended \
                 yet; write `{instead}` to end it then"
            ));
        }
        (Former::Overdue, Some(expires)) if expires <= now => problems.push(format!(
            "`overdue` with `expires` in the past ({expires}): access has ended; write `expired`"
        )),
        _ => {}
    }
    if problems.is_empty() {
        problems.extend(check_outcome(row, planned, now, config));
    }
    problems
}

/// Replays the planned history to now: a level or bundle that `expires_after` in site.toml
/// ended before now would not stand as the row says, and the import would say so too late.
fn check_outcome(
    row: &Row,
    planned: &[Planned],
    now: Timestamp,
    config: &SiteConfig,
) -> Vec<String> {
    let history: Vec<_> = planned.iter().filter_map(|p| p.record.to_event()).collect();
    let standing = Timeline::replay(&history, now, config).standing(config);
    let ended = row.expires.is_some_and(|e| e <= now);
    let expected = match row.status {
        Former::Active | Former::Complimentary if ended => "expired",
        Former::Complimentary => "active",
        other => other.name(),
    };
    // Access that has ended may have ended either way (a cancelled bundle that had already
    // run out is expired): nothing opens for the member in both.
    let ends = matches!(expected, "cancelled" | "expired");
    let fits = |status: Status| {
        if ends {
            !status.holds()
        } else {
            status.name() == expected
        }
    };
    let mut problems = Vec::new();
    let level = Grant::Level(row.level.clone());
    let on_expire = config.level(&row.level).and_then(|l| l.on_expire.clone());
    let level_ok = match &standing.level {
        Some(view) if view.grant == level => fits(view.status),
        // `on_expire` moved the member to another level: the level they had has ended.
        Some(view) => ends && on_expire.map(Grant::Level) == Some(view.grant.clone()),
        None => false,
    };
    if !level_ok {
        let expires_after = config.level(&row.level).and_then(|l| l.expires_after);
        problems.push(mismatch(
            row,
            &level,
            standing.level.as_ref(),
            expected,
            expires_after,
        ));
    }
    for id in &row.bundles {
        let bundle = Grant::Bundle(id.clone());
        let view = standing.bundles.iter().find(|v| v.grant == bundle);
        if view.is_none_or(|v| !fits(v.status)) {
            let expires_after = config.bundle(id).and_then(|b| b.expires_after);
            problems.push(mismatch(row, &bundle, view, expected, expires_after));
        }
    }
    problems
}

fn mismatch(
    row: &Row,
    right: &Grant,
    view: Option<&RightView>,
    expected: &str,
    expires_after: Option<u64>,
) -> String {
    let (kind, id) = match right {
        Grant::Level(id) => ("level", id),
        Grant::Bundle(id) => ("bundle", id),
    };
    let actual = match view {
        Some(view) if &view.grant == right => format!("`{}`", view.status.name()),
        Some(view) => format!("replaced by `{}`", crate::entitle::grant_text(&view.grant)),
        None => "not held".to_owned(),
    };
    let mut message = format!(
        "after import the {kind} `{id}` would be {actual} now, not `{expected}` as the line says"
    );
    if let Some(secs) = expires_after {
        let days = if secs % 86_400 == 0 {
            format!("{} days", secs / 86_400)
        } else {
            format!("{secs} seconds")
        };
        message.push_str(&format!(
            ": site.toml ends `{id}` {days} after it is granted, and `since` ({}) is when it \
             was granted; give the date of the member's last renewal as `since`",
            row.since
        ));
    }
    message
}

/// The outcome of checking every row against the database.
#[derive(Debug, Default)]
struct Plan {
    new: Vec<NewMember>,
    unchanged: usize,
    errors: Vec<LineError>,
}

/// Decides each row: a new member, one this file already imported, or an error. `existing`
/// holds the history of each row's email that already is a member.
fn plan(
    rows: &[Row],
    existing: &HashMap<String, Vec<StoredEvent>>,
    now: Timestamp,
    config: &SiteConfig,
) -> Plan {
    let mut plan = Plan::default();
    for row in rows {
        let fail = |message: String| LineError {
            line: row.line,
            message,
        };
        let planned = match events(row, now, config) {
            Ok(planned) => planned,
            Err(message) => {
                plan.errors.push(fail(message));
                continue;
            }
        };
        if let Some(history) = existing.get(&row.email) {
            match compare(row, &planned, history) {
                Ok(()) => plan.unchanged += 1,
                Err(message) => plan.errors.push(fail(message)),
            }
            continue;
        }
        let problems = check_now(row, &planned, now, config);
        if !problems.is_empty() {
            plan.errors.extend(problems.into_iter().map(fail));
            continue;
        }
        plan.new.push(NewMember {
            email: row.email.clone(),
            password_hash: None,
            events: planned.into_iter().map(|p| p.record).collect(),
            source: SOURCE.to_owned(),
            announce: false,
        });
    }
    plan
}

/// A member who is already in the database is unchanged when their imported events are the
/// ones this row gives (events since, from payments or the CLI, are their later life).
/// Anything else would rewrite a history that is append-only.
fn compare(row: &Row, planned: &[Planned], history: &[StoredEvent]) -> Result<(), String> {
    let imported: Vec<&EventRecord> = history
        .iter()
        .filter(|e| e.source == SOURCE)
        .map(|e| &e.record)
        .collect();
    let advice = "remove the line, or use `gatehouse members grant`";
    if imported.is_empty() {
        let by = history
            .first()
            .map(|e| format!(" (added by `{}`)", e.source))
            .unwrap_or_default();
        return Err(format!(
            "{} is already a member{by}; import would change their history: {advice}",
            row.email
        ));
    }
    let same = imported.len() == planned.len()
        && planned.iter().zip(&imported).all(|(p, stored)| {
            p.record.kind == stored.kind
                && p.record.access == stored.access
                && p.record.basis == stored.basis
                && p.record.until == stored.until
                && (p.at_now || p.record.at == stored.at)
        });
    if same {
        Ok(())
    } else {
        Err(format!(
            "{} was imported before with a different history; import would change it: {advice}",
            row.email
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The database and the terminal
// ---------------------------------------------------------------------------------------------

/// The history of every row's email that already is a member.
async fn existing_histories(
    store: &Store,
    rows: &[Row],
) -> anyhow::Result<HashMap<String, Vec<StoredEvent>>> {
    let members = store
        .members()
        .await
        .context("could not list the members")?;
    let emails: HashMap<&str, i64> = members.iter().map(|m| (m.email.as_str(), m.id)).collect();
    let mut histories = HashMap::new();
    for row in rows {
        if let Some(&id) = emails.get(row.email.as_str()) {
            let history = store
                .history(id)
                .await
                .with_context(|| format!("could not read the history of {}", row.email))?;
            histories.insert(row.email.clone(), history);
        }
    }
    Ok(histories)
}

/// Whole seconds, as the store keeps them, so what is compared matches what is stored.
fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now())
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

fn progress_bar(length: usize) -> indicatif::ProgressBar {
    if length < PROGRESS_FROM || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(length as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} importing {bar:30} {pos}/{len} members")
            .expect("the progress template is valid"),
    );
    bar
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const SITE: &str = r#"
title = "Test"
base_url = "https://example.com"

[[levels]]
id = "free"
rank = 0
[[levels]]
id = "gold"
rank = 20
[[levels]]
id = "annual"
rank = 10
expires_after = "30d"
on_expire = "free"

[[bundles]]
id = "course"
[[bundles]]
id = "workshop"

[[products]]
id = "gold-monthly"
grants = "level:gold"
billing = "subscription"
interval = "1 month"
"#;

    const DAY: i64 = 86_400;

    fn site() -> SiteConfig {
        crate::config::parse(Path::new(env!("CARGO_MANIFEST_DIR")), SITE)
            .expect("the test site is valid")
    }

    /// 2026-10-01, the import instant of every test.
    fn now() -> Timestamp {
        Timestamp::from_second(1_790_812_800).unwrap()
    }

    fn days(n: i64) -> Timestamp {
        Timestamp::from_second(now().as_second() + n * DAY).unwrap()
    }

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

    fn row(text: &str) -> Row {
        let (rows, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        rows.into_iter().next().unwrap()
    }

    /// `kind access at until` of each planned event, `at` as days from now or `now`.
    fn shown(planned: &[Planned]) -> Vec<String> {
        planned
            .iter()
            .map(|p| {
                let r = &p.record;
                let at = if p.at_now {
                    "now".to_owned()
                } else {
                    ((r.at.as_second() - now().as_second()) / DAY).to_string()
                };
                let until = r.until.map_or(String::new(), |u| {
                    format!(" until {}", (u.as_second() - now().as_second()) / DAY)
                });
                let access = r.access.as_ref().map(crate::entitle::grant_text);
                format!("{} {} {at}{until}", r.kind, access.unwrap_or_default())
            })
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

    #[test]
    fn each_status_becomes_the_history_that_leads_to_it() {
        let cases: &[(&str, &[&str])] = &[
            (
                "active,",
                &["level_set level:gold -10", "bundle_add bundle:course -10"],
            ),
            (
                "active,2026-10-21",
                &[
                    "level_set level:gold -10",
                    "bundle_add bundle:course -10",
                    "expire level:gold 20",
                    "expire bundle:course 20",
                ],
            ),
            (
                "pending-cancel,2026-10-21",
                &[
                    "level_set level:gold -10",
                    "bundle_add bundle:course -10",
                    "cancel level:gold now until 20",
                    "bundle_cancel bundle:course now until 20",
                ],
            ),
            (
                "overdue,",
                &[
                    "level_set level:gold -10",
                    "bundle_add bundle:course -10",
                    "overdue level:gold now",
                    "overdue bundle:course now",
                ],
            ),
            (
                "cancelled,2026-09-26",
                &[
                    "level_set level:gold -10",
                    "bundle_add bundle:course -10",
                    "cancel level:gold -5",
                    "bundle_cancel bundle:course -5",
                ],
            ),
            (
                "cancelled,",
                &[
                    "level_set level:gold -10",
                    "bundle_add bundle:course -10",
                    "cancel level:gold now",
                    "bundle_cancel bundle:course now",
                ],
            ),
            (
                "expired,",
                &[
                    "level_set level:gold -10",
                    "bundle_add bundle:course -10",
                    "expire level:gold now",
                    "expire bundle:course now",
                ],
            ),
            (
                "complimentary,",
                &[
                    "complimentary level:gold -10",
                    "complimentary bundle:course -10",
                ],
            ),
        ];
        let config = site();
        for (tail, want) in cases {
            let row = row(&format!("ann@example.com,gold,2026-09-21,course,{tail}"));
            let planned = events(&row, now(), &config).unwrap();
            assert_eq!(shown(&planned), *want, "{tail}");
            let problems = check_now(&row, &planned, now(), &config);
            assert!(problems.is_empty(), "{tail}: {problems:?}");
        }
    }

    #[test]
    fn pending_cancel_grants_are_recurring_so_the_cancel_waits() {
        let config = site();
        let row = row("ann@example.com,free,2026-09-21,workshop,pending-cancel,2026-10-21");
        let planned = events(&row, now(), &config).unwrap();
        assert!(
            planned[..2]
                .iter()
                .all(|p| p.record.basis == Some(Basis::Recurring))
        );
        let history: Vec<_> = planned.iter().filter_map(|p| p.record.to_event()).collect();
        let standing = Timeline::replay(&history, now(), &config).standing(&config);
        assert_eq!(standing.level.unwrap().status.name(), "pending-cancel");
        assert_eq!(standing.bundles[0].status.name(), "pending-cancel");
    }

    #[test]
    fn expires_must_fit_the_status() {
        let config = site();
        let cases: &[(&str, &str)] = &[
            (
                "pending-cancel,",
                "pending-cancel needs the date access ends in the `expires` column",
            ),
            (
                "pending-cancel,2026-09-30",
                "pending-cancel needs the date access ends in the `expires` column, in the future",
            ),
            (
                "cancelled,2026-10-30",
                "`cancelled` with `expires` in the future",
            ),
            (
                "expired,2026-10-30",
                "`expired` with `expires` in the future",
            ),
            ("overdue,2026-09-30", "`overdue` with `expires` in the past"),
        ];
        for (tail, want) in cases {
            let row = row(&format!("ann@example.com,gold,2026-09-21,,{tail}"));
            let planned = events(&row, now(), &config).unwrap();
            let problems = check_now(&row, &planned, now(), &config);
            assert_eq!(problems.len(), 1, "{tail}: {problems:?}");
            assert!(problems[0].starts_with(want), "{tail}: {problems:?}");
        }
        // Access that ended in the past is simply expired as of then.
        let row = row("ann@example.com,gold,2026-09-21,,active,2026-09-30");
        let planned = events(&row, now(), &config).unwrap();
        assert!(check_now(&row, &planned, now(), &config).is_empty());
    }

    #[test]
    fn a_level_that_expires_after_since_cannot_be_imported_as_active() {
        let config = site();
        let old = row("ann@example.com,annual,2026-01-01,,active");
        let problems = check_now(&old, &events(&old, now(), &config).unwrap(), now(), &config);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "after import the level `annual` would be replaced by `level:free` now, not \
                 `active` as the line says: site.toml ends `annual` 30 days after it is granted"
            ),
            "{problems:?}"
        );
        // Once ended, it does not matter how: on_expire moved the member on.
        let gone = row("ann@example.com,annual,2026-01-01,,cancelled");
        let planned = events(&gone, now(), &config).unwrap();
        assert!(check_now(&gone, &planned, now(), &config).is_empty());
    }

    fn stored(planned: &[Planned], source: &str, shift: i64) -> Vec<StoredEvent> {
        planned
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut record = p.record.clone();
                if p.at_now {
                    record.at = Timestamp::from_second(record.at.as_second() + shift).unwrap();
                }
                StoredEvent {
                    id: i as i64,
                    record,
                    source: source.to_owned(),
                    recorded_at: now(),
                }
            })
            .collect()
    }

    #[test]
    fn a_member_this_file_imported_is_unchanged_and_others_are_refused() {
        let config = site();
        let row = row("ann@example.com,gold,2026-09-21,course,overdue");
        let planned = events(&row, now(), &config).unwrap();
        let later = days(3);
        let rerun = events(&row, later, &config).unwrap();

        // Imported three days ago: the events placed at that import's instant still match.
        let mut history = stored(&planned, SOURCE, 0);
        let existing = HashMap::from([(row.email.clone(), history.clone())]);
        let result = plan(std::slice::from_ref(&row), &existing, later, &config);
        assert_eq!((result.new.len(), result.unchanged), (0, 1));
        assert!(result.errors.is_empty());
        assert!(compare(&row, &rerun, &history).is_ok());

        // What happened to the member since is their later life, not a change.
        history.extend(stored(&planned[..1], "cli", 0));
        assert!(compare(&row, &rerun, &history).is_ok());

        let different = self::row("ann@example.com,gold,2026-09-21,,overdue");
        let message = compare(
            &different,
            &events(&different, later, &config).unwrap(),
            &history,
        )
        .unwrap_err();
        assert!(
            message.starts_with("ann@example.com was imported before with a different history"),
            "{message}"
        );

        let by_hand = stored(&planned[..1], "cli", 0);
        let message = compare(&row, &rerun, &by_hand).unwrap_err();
        assert_eq!(
            message,
            "ann@example.com is already a member (added by `cli`); import would change their \
             history: remove the line, or use `gatehouse members grant`"
        );
    }

    #[test]
    fn new_members_are_remembered_not_announced() {
        let config = site();
        let row = row("ann@example.com,gold,2026-09-21,,active");
        let result = plan(&[row], &HashMap::new(), now(), &config);
        assert_eq!(result.new.len(), 1);
        assert_eq!(result.new[0].source, "import");
        assert!(!result.new[0].announce);
    }
}
