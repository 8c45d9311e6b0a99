//! A member's standing in the form it is remembered between checks, and the member events
//! (`member.joined`, `member.level_changed`, …) that lie between two of them.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::SiteConfig;
use crate::entitle::{RightView, Standing, Status};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Right>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub bundles: BTreeMap<String, Right>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Right {
    pub id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// One member event: its kind and what it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: &'static str,
    pub data: Value,
}

impl Right {
    fn of(view: &RightView) -> Right {
        let (crate::config::Grant::Level(id) | crate::config::Grant::Bundle(id)) = &view.grant;
        let until = match view.status {
            Status::PendingCancel { until } => Some(until.as_second()),
            _ => None,
        };
        Right {
            id: id.clone(),
            status: view.status.name().to_owned(),
            until,
            expires_at: view.expires_at.map(|t| t.as_second()),
        }
    }

    fn holds(&self) -> bool {
        matches!(
            self.status.as_str(),
            "active" | "pending-cancel" | "overdue"
        )
    }

    fn json(&self) -> Value {
        let mut value = json!({ "id": self.id, "status": self.status });
        if let Some(until) = self.until.and_then(|s| Timestamp::from_second(s).ok()) {
            value["until"] = json!(until.to_string());
        }
        if let Some(at) = self.expires_at.and_then(|s| Timestamp::from_second(s).ok()) {
            value["expires_at"] = json!(at.to_string());
        }
        value
    }
}

impl Snapshot {
    pub fn of(standing: &Standing) -> Snapshot {
        Snapshot {
            level: standing.level.as_ref().map(Right::of),
            bundles: standing
                .bundles
                .iter()
                .map(|view| {
                    let right = Right::of(view);
                    (right.id.clone(), right)
                })
                .collect(),
        }
    }

    /// Whether the member holds anything (a level or bundle not cancelled or expired).
    pub fn holds_any(&self) -> bool {
        self.level.as_ref().is_some_and(Right::holds) || self.bundles.values().any(Right::holds)
    }

    /// The member's rights as a notification shows them.
    pub fn json(&self) -> Value {
        json!({
            "level": self.level.as_ref().map(Right::json),
            "bundles": self.bundles.values().map(Right::json).collect::<Vec<_>>(),
        })
    }

    /// When a right changes by itself next (a pending cancel ends, or it expires).
    pub fn next_change(&self) -> Option<i64> {
        self.level
            .iter()
            .chain(self.bundles.values())
            .flat_map(|right| [right.until, right.expires_at])
            .flatten()
            .min()
    }
}

/// The member events from `before` to `after`, in the order they are best read.
pub fn changes(before: &Snapshot, after: &Snapshot, config: &SiteConfig, now: i64) -> Vec<Change> {
    let mut out = Vec::new();
    if !before.holds_any() && before.level.is_none() && before.bundles.is_empty() {
        if after.holds_any() {
            out.push(Change {
                kind: "member.joined",
                data: json!({}),
            });
        }
        return out;
    }
    match (&before.level, &after.level) {
        (Some(old), Some(new)) if old.id != new.id => {
            let downgraded = config
                .level(&old.id)
                .and_then(|l| l.on_expire.as_deref())
                .is_some_and(|to| to == new.id)
                && old.holds()
                && old.expires_at.is_some_and(|at| at <= now);
            if downgraded {
                out.push(expired(&format!("level:{}", old.id)));
            }
            out.push(Change {
                kind: "member.level_changed",
                data: json!({ "from": old.id, "to": new.id }),
            });
        }
        (Some(old), Some(new)) => out.extend(status_change(&format!("level:{}", new.id), old, new)),
        (None, Some(new)) => out.push(Change {
            kind: "member.level_changed",
            data: json!({ "from": null, "to": new.id }),
        }),
        _ => {}
    }
    for (id, new) in &after.bundles {
        let access = format!("bundle:{id}");
        match before.bundles.get(id) {
            // A right restored after a dispute (or bought again after a refund) changes status:
            // it is not a new bundle.
            Some(old) if old.holds() || !new.holds() || old.status == "revoked" => {
                if new.status == "cancelled" && old.status != "cancelled" {
                    out.push(Change {
                        kind: "member.bundle_cancelled",
                        data: json!({ "bundle": id }),
                    });
                } else {
                    out.extend(status_change(&access, old, new));
                }
            }
            _ if new.holds() => out.push(Change {
                kind: "member.bundle_added",
                data: json!({ "bundle": id }),
            }),
            _ => {}
        }
    }
    out
}

fn status_change(access: &str, old: &Right, new: &Right) -> Option<Change> {
    if old.status == new.status && old.until == new.until {
        return None;
    }
    if new.status == "expired" {
        return Some(expired(access));
    }
    let mut data = json!({ "access": access, "from": old.status, "to": new.status });
    if let Some(until) = new.until.and_then(|s| Timestamp::from_second(s).ok()) {
        data["until"] = json!(until.to_string());
    }
    Some(Change {
        kind: "member.status_changed",
        data,
    })
}

fn expired(access: &str) -> Change {
    Change {
        kind: "member.expired",
        data: json!({ "access": access }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SiteConfig {
        let text = r#"
title = "T"
base_url = "https://example.com"
[[levels]]
id = "free"
rank = 0
[[levels]]
id = "silver"
rank = 10
expires_after = "30d"
on_expire = "free"
[[levels]]
id = "gold"
rank = 20
[[bundles]]
id = "course"
"#;
        let root = std::env::temp_dir().join("gatehouse-snapshot-test");
        std::fs::create_dir_all(root.join("themes/default/templates")).ok();
        crate::config::parse(&root, text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn right(id: &str, status: &str) -> Right {
        Right {
            id: id.to_owned(),
            status: status.to_owned(),
            until: None,
            expires_at: None,
        }
    }

    fn kinds(changes: &[Change]) -> Vec<&str> {
        changes.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn a_first_right_is_a_join_and_nothing_else() {
        let after = Snapshot {
            level: Some(right("gold", "active")),
            ..Snapshot::default()
        };
        assert_eq!(
            kinds(&changes(&Snapshot::default(), &after, &config(), 100)),
            ["member.joined"]
        );
    }

    #[test]
    fn level_bundle_and_status_changes_are_named() {
        let config = config();
        let before = Snapshot {
            level: Some(right("free", "active")),
            ..Snapshot::default()
        };
        let mut after = before.clone();
        after.level = Some(right("gold", "active"));
        after
            .bundles
            .insert("course".into(), right("course", "active"));
        assert_eq!(
            kinds(&changes(&before, &after, &config, 100)),
            ["member.level_changed", "member.bundle_added"]
        );
        let mut overdue = after.clone();
        overdue.level = Some(right("gold", "overdue"));
        overdue
            .bundles
            .insert("course".into(), right("course", "cancelled"));
        let found = changes(&after, &overdue, &config, 100);
        assert_eq!(
            kinds(&found),
            ["member.status_changed", "member.bundle_cancelled"]
        );
        assert_eq!(found[0].data["to"], "overdue");
        let mut expired = overdue.clone();
        expired.level = Some(right("gold", "expired"));
        assert_eq!(
            kinds(&changes(&overdue, &expired, &config, 100)),
            ["member.expired"]
        );
    }

    #[test]
    fn an_on_expire_downgrade_is_an_expiry_then_a_level_change() {
        let config = config();
        let mut silver = right("silver", "active");
        silver.expires_at = Some(1);
        let before = Snapshot {
            level: Some(silver),
            ..Snapshot::default()
        };
        let after = Snapshot {
            level: Some(right("free", "active")),
            ..Snapshot::default()
        };
        assert_eq!(
            kinds(&changes(&before, &after, &config, 100)),
            ["member.expired", "member.level_changed"]
        );
    }

    #[test]
    fn a_revoked_and_restored_bundle_is_a_status_change_not_a_new_bundle() {
        let config = config();
        let mut before = Snapshot {
            level: Some(right("free", "active")),
            ..Snapshot::default()
        };
        before
            .bundles
            .insert("course".into(), right("course", "active"));
        let mut revoked = before.clone();
        revoked
            .bundles
            .insert("course".into(), right("course", "revoked"));
        for (from, to) in [(&before, &revoked), (&revoked, &before)] {
            let found = changes(from, to, &config, 100);
            assert_eq!(kinds(&found), ["member.status_changed"]);
            assert_eq!(
                found[0].data["from"],
                from.bundles["course"].status.as_str()
            );
            assert_eq!(found[0].data["to"], to.bundles["course"].status.as_str());
        }
    }

    #[test]
    fn the_same_standing_announces_nothing() {
        let before = Snapshot {
            level: Some(right("gold", "active")),
            ..Snapshot::default()
        };
        assert!(changes(&before, &before.clone(), &config(), 100).is_empty());
    }
}
