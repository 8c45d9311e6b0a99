//! Rows against the database: which members are new, which this file already imported and
//! still match, and which would change a history that is append-only.

use std::collections::HashMap;

use jiff::Timestamp;

use super::history::{Planned, check_now, events};
use super::rows::{LineError, Row};
use crate::config::SiteConfig;
use crate::entitle::EventRecord;
use crate::store::{NewMember, StoredEvent};

/// The `source` of every imported event; a re-run recognises its own members by it.
const SOURCE: &str = "import";

/// The outcome of checking every row against the database.
#[derive(Debug, Default)]
pub(super) struct Plan {
    pub(super) new: Vec<NewMember>,
    pub(super) unchanged: usize,
    pub(super) errors: Vec<LineError>,
}

/// Decides each row: a new member, one this file already imported, or an error. `existing`
/// holds the history of each row's email that already is a member.
pub(super) fn plan(
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{DAY, now, row, site};
    use super::*;

    fn days(n: i64) -> Timestamp {
        Timestamp::from_second(now().as_second() + n * DAY).unwrap()
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
