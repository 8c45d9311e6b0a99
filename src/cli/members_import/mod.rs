//! `gatehouse members import FILE.csv`: members brought over from another membership system.
//!
//! Each line becomes the history that leads to where the member stands (DESIGN §5): their
//! grants back-dated to `since`, then whatever ended or paused them. Every line is checked
//! before anything is written, and the members are stored in one transaction, remembered as
//! they stand rather than announced as new joiners. Re-running a file skips the members it
//! already imported.
//!
//! This file is the command: read the file, report every problem, write. Its parts, in the
//! order it uses them: `rows` reads the file's lines, `history` turns a row into the events
//! that lead to where the member stands, and `plan` sets the rows against the members already
//! in the database.

mod history;
mod plan;
mod rows;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use jiff::Timestamp;

use self::plan::plan;
use self::rows::{COLUMNS_TEXT, Row, parse_rows};
use crate::config::SiteConfig;
use crate::store::{Store, StoredEvent};

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

/// What `import` finds in `bytes` against an empty database, without one: how many members it
/// would import, and every problem by line. Public only for tests/fuzz.rs.
#[doc(hidden)]
pub fn check_without_store(
    bytes: &[u8],
    now: Timestamp,
    config: &SiteConfig,
) -> (usize, Vec<(u64, String)>) {
    let (rows, mut errors) = parse_rows(bytes, now, config);
    let plan = plan(&rows, &HashMap::new(), now, config);
    errors.extend(plan.errors);
    let errors = errors.into_iter().map(|e| (e.line, e.message)).collect();
    (plan.new.len(), errors)
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

/// What the tests of every part share: a small site, the import instant, and a row read from
/// one line.
#[cfg(test)]
mod fixtures {
    use std::path::Path;

    use jiff::Timestamp;

    use super::rows::{Row, parse_rows};
    use crate::config::SiteConfig;

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

    pub(super) const DAY: i64 = 86_400;

    pub(super) fn site() -> SiteConfig {
        crate::config::parse(Path::new(env!("CARGO_MANIFEST_DIR")), SITE)
            .expect("the test site is valid")
    }

    /// 2026-10-01, the import instant of every test.
    pub(super) fn now() -> Timestamp {
        Timestamp::from_second(1_790_812_800).unwrap()
    }

    pub(super) fn row(text: &str) -> Row {
        let (rows, errors) = parse_rows(text.as_bytes(), now(), &site());
        assert!(errors.is_empty(), "{errors:?}");
        rows.into_iter().next().unwrap()
    }
}
