//! From a row to a member: the history of events that leads to where the row says the member
//! stands (DESIGN §5), and the checks that the history really ends there now.

use jiff::Timestamp;

use super::rows::{Former, Row};
use crate::config::SiteConfig;
use crate::entitle::{Basis, EventRecord, EventType, Grant, RightView, Status, Timeline};

/// One event of an imported history. Events placed at the import instant (a cancellation
/// made now, say) differ from one run to the next only in `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Planned {
    pub(super) record: EventRecord,
    pub(super) at_now: bool,
}

/// The history that leads to where the row says the member stands.
pub(super) fn events(
    row: &Row,
    now: Timestamp,
    config: &SiteConfig,
) -> Result<Vec<Planned>, String> {
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
pub(super) fn check_now(
    row: &Row,
    planned: &[Planned],
    now: Timestamp,
    config: &SiteConfig,
) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{DAY, now, row, site};
    use super::*;

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
}
