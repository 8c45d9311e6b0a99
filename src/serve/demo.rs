//! Demo members for `gatehouse serve`: one per level, one per bundle, one overdue, one
//! pending-cancel and one mid-drip, each back-dated so that the site shows what they would
//! see. Authors log in as them with one click (`/_gatehouse/login`), from links printed at
//! start-up that hold a key made for this run only.

use jiff::{SignedDuration, Timestamp};

use crate::config::{DAY, Grant, SiteConfig};
use crate::entitle::{Basis, EventRecord, EventType};
use crate::gate::Rule;
use crate::store::{NewMember, Store};

pub const DEMO_DOMAIN: &str = "demo.test";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoMember {
    pub email: String,
    /// What the member shows, e.g. "Gold since 22 days: every lesson open".
    pub what: String,
}

/// One planned member: their email, description and history.
struct Plan {
    local: String,
    what: String,
    events: Vec<Step>,
}

/// One event of a demo history, in seconds before (and `until` after) the start of `serve`.
#[derive(Clone)]
struct Step {
    kind: EventType,
    grant: Grant,
    ago: i64,
    until: Option<i64>,
    basis: Option<Basis>,
}

fn step(kind: EventType, grant: &Grant, ago: i64) -> Step {
    Step {
        kind,
        grant: grant.clone(),
        ago,
        until: None,
        basis: None,
    }
}

/// Adds the demo members to an empty development database.
pub async fn seed(
    store: &Store,
    config: &SiteConfig,
    rules: &[Rule],
    now: Timestamp,
) -> anyhow::Result<Vec<DemoMember>> {
    let mut members = Vec::new();
    for plan in plans(config, rules) {
        let email = format!("{}@{DEMO_DOMAIN}", plan.local);
        let mut events = Vec::new();
        for step in plan.events {
            let at = now - SignedDuration::from_secs(step.ago);
            let until = step
                .until
                .map(|ahead| now + SignedDuration::from_secs(ahead));
            let grant = Some(step.grant);
            events.push(EventRecord::new(
                step.kind, grant, at, until, step.basis, config,
            )?);
        }
        let new = NewMember {
            email: email.clone(),
            password_hash: None,
            events,
            source: "demo".to_owned(),
            announce: false,
        };
        store.create_member(&new, now).await?;
        members.push(DemoMember {
            email,
            what: plan.what,
        });
    }
    Ok(members)
}

fn plans(config: &SiteConfig, rules: &[Rule]) -> Vec<Plan> {
    let mut plans = Vec::new();
    let lowest = config.levels.first();
    let top = config.levels.last();
    for level in &config.levels {
        let ago = settled(
            rules,
            config,
            &Grant::Level(level.id.clone()),
            level.expires_after,
        );
        plans.push(Plan {
            local: level.id.clone(),
            what: format!("{} for {}", level.name, days(ago)),
            events: vec![step(
                EventType::LevelSet,
                &Grant::Level(level.id.clone()),
                ago,
            )],
        });
    }
    for bundle in &config.bundles {
        let grant = Grant::Bundle(bundle.id.clone());
        let ago = settled(rules, config, &grant, bundle.expires_after);
        let mut events = Vec::new();
        if let Some(lowest) = lowest {
            events.push(step(
                EventType::LevelSet,
                &Grant::Level(lowest.id.clone()),
                ago,
            ));
        }
        events.push(step(EventType::BundleAdd, &grant, ago));
        plans.push(Plan {
            local: bundle.id.clone(),
            what: format!("{} for {}", bundle.name, days(ago)),
            events,
        });
    }
    let Some(top) = top else {
        return plans;
    };
    let grant = Grant::Level(top.id.clone());
    let ago = settled(rules, config, &grant, top.expires_after);
    // Overdue and pending-cancel only mean something for a subscription.
    let subscribed = Step {
        basis: Some(Basis::Recurring),
        ..step(EventType::LevelSet, &grant, ago)
    };
    plans.push(Plan {
        local: "overdue".to_owned(),
        what: format!("{}, last payment failed 2 days ago", top.name),
        events: vec![
            subscribed.clone(),
            step(EventType::Overdue, &grant, 2 * DAY as i64),
        ],
    });
    plans.push(Plan {
        local: "pending-cancel".to_owned(),
        what: format!("{}, cancelled yesterday, open for 14 more days", top.name),
        events: vec![
            subscribed,
            Step {
                until: Some(14 * DAY as i64),
                ..step(EventType::Cancel, &grant, DAY as i64)
            },
        ],
    });
    let mid = mid_drip(rules, config, top.rank);
    plans.push(Plan {
        local: "mid-drip".to_owned(),
        what: format!("{} for {}: some lessons still to open", top.name, days(mid)),
        events: vec![step(EventType::LevelSet, &grant, mid)],
    });
    plans
}

/// Seconds ago that a holder of `grant` started, so that every drip it opens has opened,
/// yet an expiring level or bundle has not run out.
fn settled(rules: &[Rule], config: &SiteConfig, grant: &Grant, expires: Option<u64>) -> i64 {
    let longest = rules
        .iter()
        .filter(|rule| opens(rule, config, grant))
        .map(Rule::drip_seconds)
        .max()
        .unwrap_or(0);
    let mut ago = longest + DAY;
    if let Some(expires) = expires {
        ago = ago.min(expires.saturating_sub(DAY)).max(expires / 2);
    }
    ago as i64
}

/// Halfway between the first two drip delays the top level meets (or half the only one):
/// some drip lessons open, others still waiting.
fn mid_drip(rules: &[Rule], config: &SiteConfig, rank: i64) -> i64 {
    let mut drips: Vec<u64> = rules
        .iter()
        .filter(|rule| {
            rule.level()
                .and_then(|id| config.level(id))
                .is_some_and(|level| level.rank <= rank)
        })
        .map(Rule::drip_seconds)
        .filter(|&d| d > 0)
        .collect();
    drips.sort_unstable();
    drips.dedup();
    match drips.as_slice() {
        [] => 0,
        [only] => (only / 2) as i64,
        [first, second, ..] => ((first + second) / 2) as i64,
    }
}

fn opens(rule: &Rule, config: &SiteConfig, grant: &Grant) -> bool {
    match grant {
        Grant::Level(id) => match (rule.level().and_then(|l| config.level(l)), config.level(id)) {
            (Some(needed), Some(held)) => held.rank >= needed.rank,
            _ => false,
        },
        Grant::Bundle(id) => rule.bundles().iter().any(|b| b == id),
    }
}

fn days(seconds: i64) -> String {
    match seconds / DAY as i64 {
        0 => "less than a day".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SiteConfig {
        crate::config::parse(
            std::path::Path::new("."),
            "title = \"t\"\nbase_url = \"http://x\"\n\
             [[levels]]\nid = \"free\"\nrank = 0\n\
             [[levels]]\nid = \"gold\"\nrank = 10\n\
             [[bundles]]\nid = \"b\"\nexpires_after = \"30d\"\n",
        )
        .expect("the test config is valid")
    }

    fn rule(text: &str) -> Rule {
        Rule::parse(text).expect("the test rule is valid")
    }

    #[test]
    fn every_level_bundle_and_state_gets_a_member() {
        let config = config();
        let rules = [rule("level=gold;bundles=-;drip=604800")];
        let names: Vec<String> = plans(&config, &rules)
            .into_iter()
            .map(|p| p.local)
            .collect();
        assert_eq!(
            names,
            ["free", "gold", "b", "overdue", "pending-cancel", "mid-drip"]
        );
    }

    #[test]
    fn holders_start_after_the_longest_drip_but_before_expiry() {
        let config = config();
        let rules = [
            rule("level=gold;bundles=-;drip=604800"),
            rule("level=-;bundles=b;drip=5184000"),
        ];
        let gold = settled(&rules, &config, &Grant::Level("gold".into()), None);
        assert_eq!(gold, (7 * DAY + DAY) as i64);
        // The bundle's 60-day drip cannot open before its 30-day expiry: it stays inside it.
        let bundle = settled(&rules, &config, &Grant::Bundle("b".into()), Some(30 * DAY));
        assert_eq!(bundle, (29 * DAY) as i64);
    }

    #[test]
    fn mid_drip_sits_between_the_first_two_drips() {
        let config = config();
        let rules = [
            rule("level=gold;bundles=-;drip=604800"),
            rule("level=gold;bundles=-;drip=1209600"),
            rule("level=gold;bundles=-;drip=1814400"),
        ];
        let mid = mid_drip(&rules, &config, 10);
        assert!(mid > 7 * DAY as i64 && mid < 14 * DAY as i64, "{mid}");
    }
}
