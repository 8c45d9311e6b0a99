//! `entitle::decide` checked against a brute-force reference model written from
//! docs/entitlement.md alone.
//!
//! The model counts time in whole hours ("ticks", the unit of `expires_after`) and walks every
//! tick from 0 to `now`: at each tick it first applies the scheduled transitions due at that
//! tick, then that tick's events in stored order. After every single step it asks, for each
//! right of the rule, "does the member hold a qualifying right right now?" and keeps the tick
//! where the current yes-run began. Deciding at `now` is then a direct reading of the doc.
//!
//! Readings chosen where the doc leaves room (see the notes on [`Model::tick`]):
//! - a scheduled transition due at instant T happens before the events stored at T, so an event
//!   at T sees the right already cancelled or expired;
//! - when a pending cancel's `until` and the expiry fall on the same instant, the cancel wins
//!   (the doc lists it first); the right is then no longer held, so it does not expire;
//! - a stretch is broken by a break of zero length too (cancel and rejoin at the same second),
//!   as DESIGN §5 says "cancel and rejoin" restarts it;
//! - the level right's status reasons (drip, overdue, cancelled, expired, keep-unlocked) apply
//!   only while the member's level ranks ≥ L; otherwise the right gives `level`;
//! - "before" and "under" a revocation are read step by step, not tick by tick: a cancel at the
//!   same instant as a revocation but after a grant that cleared it is not under it.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use gatehouse::config::{Cancellation, SiteConfig, parse};
use gatehouse::entitle::{Basis, Decision, Event, EventKind, Grant, Reason, Revocation, decide};
use gatehouse::gate::Rule;
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::select;

/// One tick of the model: an hour, the smallest unit `expires_after` can be written in.
const U: i64 = 3_600;

const HEAD: &str = "title = \"T\"\nbase_url = \"https://example.com\"\n";

const LEVELS_AND_BUNDLES_0: &str = r#"
[[levels]]
id = "free"
rank = 0

[[levels]]
id = "silver"
rank = 10

[[levels]]
id = "gold"
rank = 20
expires_after = "6h"
on_expire = "silver"

[[bundles]]
id = "a"

[[bundles]]
id = "b"
expires_after = "8h"

[[products]]
id = "silver-monthly"
grants = "level:silver"
billing = "subscription"
interval = "1 month"

[[products]]
id = "gold-once"
grants = "level:gold"
billing = "single"

[[products]]
id = "a-plan"
grants = "bundle:a"
billing = "payment-plan"
payments = 3
interval = "1 month"
"#;

const LEVELS_AND_BUNDLES_1: &str = r#"
[membership]
cancellation = "keep-unlocked"

[[levels]]
id = "free"
rank = 0

[[levels]]
id = "silver"
rank = 10

[[levels]]
id = "gold"
rank = 20
expires_after = "5h"

[[bundles]]
id = "a"
expires_after = "4h"

[[bundles]]
id = "b"

[[products]]
id = "silver-once"
grants = "level:silver"
billing = "single"

[[products]]
id = "a-once"
grants = "bundle:a"
billing = "single"

[[products]]
id = "b-monthly"
grants = "bundle:b"
billing = "subscription"
interval = "1 month"
"#;

const LEVELS_AND_BUNDLES_2: &str = r#"
[membership]
cancellation = "keep-unlocked"

[[levels]]
id = "free"
rank = 0

[[levels]]
id = "silver"
rank = 10
expires_after = "9h"

[[levels]]
id = "gold"
rank = 20
expires_after = "4h"
on_expire = "silver"

[[bundles]]
id = "a"
expires_after = "3h"

[[bundles]]
id = "b"

[[products]]
id = "gold-once"
grants = "level:gold"
billing = "single"

[[products]]
id = "b-once"
grants = "bundle:b"
billing = "single"

[[products]]
id = "b-plan"
grants = "bundle:b"
billing = "payment-plan"
payments = 2
interval = "1 week"
"#;

/// 0: gold expires into silver; 1: gold expires for good, keep-unlocked; 2: gold expires into
/// silver, which expires too, keep-unlocked.
static CONFIGS: LazyLock<Vec<SiteConfig>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("themes/default/templates")).unwrap();
    [
        LEVELS_AND_BUNDLES_0,
        LEVELS_AND_BUNDLES_1,
        LEVELS_AND_BUNDLES_2,
    ]
    .iter()
    .map(|rest| parse(dir.path(), &format!("{HEAD}{rest}")).unwrap())
    .collect()
});

// ---------------------------------------------------------------------------------------------
// The reference model.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Active,
    Pending(i64),
    Overdue,
    Cancelled,
    Expired,
}

impl St {
    fn holds(self) -> bool {
        matches!(self, St::Active | St::Pending(_) | St::Overdue)
    }
}

/// One right the member has (had): the level slot or one bundle.
#[derive(Debug, Clone)]
struct Held {
    id: String,
    st: St,
    /// Since when `st` holds (the C of keep-unlocked).
    since: i64,
    recurring: bool,
    granted: i64,
    /// The revocation lying over `st`, if any.
    revoked: Option<Revocation>,
}

impl Held {
    fn new(id: &str, recurring: bool, t: i64) -> Held {
        Held {
            id: id.to_owned(),
            st: St::Active,
            since: t,
            recurring,
            granted: t,
            revoked: None,
        }
    }

    fn set(&mut self, st: St, t: i64) {
        self.st = st;
        self.since = t;
    }
}

/// A right of the rule: a level of rank ≥ n, or one bundle.
#[derive(Debug, Clone)]
enum Want {
    Rank(i64),
    Bundle(String),
}

/// The current qualifying run of one right, and the last run that ended.
#[derive(Debug, Clone, Default)]
struct Run {
    start: Option<i64>,
    ended: Option<(i64, i64)>,
    /// Every run that ended because the right was cancelled: (start, cancel) in ticks, and
    /// the step of the cancel.
    cancelled: Vec<(i64, i64, u64)>,
    /// The last step at which a revocation of a qualifying right was seen in force, while it
    /// still is (no restore has lifted it yet).
    revocation: Option<u64>,
    /// The last step covered by a revocation that ended without a restore: every cancel up to
    /// it is taken back.
    voided: Option<u64>,
}

struct Model<'a> {
    config: &'a SiteConfig,
    level: Option<Held>,
    bundles: BTreeMap<String, Held>,
    wants: Vec<(Want, Run)>,
    /// Every step (scheduled transition or event) observed so far.
    step: u64,
}

fn rank(config: &SiteConfig, id: &str) -> i64 {
    config.level(id).unwrap().rank
}

fn ticks(seconds: u64) -> i64 {
    let seconds = i64::try_from(seconds).unwrap();
    assert_eq!(seconds % U, 0, "durations are whole hours");
    seconds / U
}

impl Model<'_> {
    /// The slot an event names: `None` is the member's level; a level they do not hold is nothing.
    fn target(&mut self, grant: &Option<Grant>) -> Option<&mut Held> {
        match grant {
            None => self.level.as_mut(),
            Some(Grant::Level(id)) => self.level.as_mut().filter(|h| &h.id == id),
            Some(Grant::Bundle(id)) => self.bundles.get_mut(id),
        }
    }

    /// `expire` / `expires_after` on the level (`bundle` = None) or a bundle, if still held.
    fn expire(&mut self, bundle: Option<&str>, t: i64) {
        let config = self.config;
        let held = match bundle {
            None => self.level.as_mut(),
            Some(id) => self.bundles.get_mut(id),
        };
        let Some(held) = held else { return };
        if !held.st.holds() {
            return;
        }
        let on_expire = match bundle {
            None => config.level(&held.id).unwrap().on_expire.clone(),
            Some(_) => None,
        };
        match on_expire {
            Some(next) => *held = Held::new(&next, false, t),
            None => held.set(St::Expired, t),
        }
    }

    fn expires_after(&self, bundle: Option<&str>, id: &str) -> Option<i64> {
        let seconds = match bundle {
            None => self.config.level(id).unwrap().expires_after,
            Some(_) => self.config.bundle(id).unwrap().expires_after,
        };
        seconds.map(ticks)
    }

    /// The scheduled transitions of one slot due at tick `t`: pending-cancel first, then expiry.
    fn scheduled(&mut self, bundle: Option<&str>, t: i64) {
        let held = match bundle {
            None => self.level.as_mut(),
            Some(id) => self.bundles.get_mut(id),
        };
        let Some(held) = held else { return };
        if held.st == St::Pending(t) {
            held.set(St::Cancelled, t);
        }
        let (id, st, granted) = (held.id.clone(), held.st, held.granted);
        if st.holds() && self.expires_after(bundle, &id).map(|d| granted + d) == Some(t) {
            self.expire(bundle, t);
        }
    }

    fn apply(&mut self, kind: &EventKind, t: i64) {
        match kind {
            EventKind::Grant {
                grant: Grant::Level(id),
                basis,
            } => self.level = Some(Held::new(id, *basis == Basis::Recurring, t)),
            EventKind::Grant {
                grant: Grant::Bundle(id),
                basis,
            } => {
                if self.level.is_none() {
                    let lowest = self.config.levels.iter().min_by_key(|l| l.rank).unwrap();
                    self.level = Some(Held::new(&lowest.id, false, t));
                }
                let held = Held::new(id, *basis == Basis::Recurring, t);
                self.bundles.insert(id.clone(), held);
            }
            EventKind::Cancel { grant, until } => {
                let Some(held) = self.target(grant) else {
                    return;
                };
                let until = until.map(|u| u.as_second() / U);
                match held.st {
                    St::Cancelled | St::Expired => {}
                    St::Overdue => held.set(St::Cancelled, t),
                    St::Active | St::Pending(_) => match until {
                        Some(u) if u > t && held.recurring => held.set(St::Pending(u), t),
                        _ => held.set(St::Cancelled, t),
                    },
                }
            }
            EventKind::Overdue { grant } => {
                if let Some(held) = self.target(grant)
                    && matches!(held.st, St::Active | St::Pending(_))
                {
                    held.set(St::Overdue, t);
                }
            }
            EventKind::Recovered { grant } => {
                if let Some(held) = self.target(grant)
                    && held.st == St::Overdue
                {
                    held.set(St::Active, t);
                }
            }
            EventKind::Expire { grant } => {
                let bundle = match grant {
                    Some(Grant::Bundle(id)) => Some(id.as_str()),
                    _ => None,
                };
                if self.target(grant).is_some() {
                    self.expire(bundle, t);
                }
            }
            EventKind::PaidInFull { grant } => {
                if let Some(held) = self.target(grant) {
                    held.recurring = false;
                    if matches!(held.st, St::Pending(_)) {
                        held.set(St::Active, t);
                    }
                }
            }
            EventKind::Revoke { grant, reason } => {
                if let Some(held) = self.target(grant) {
                    let final_ = *reason != Revocation::Disputed;
                    if final_ && held.st.holds() {
                        held.set(St::Cancelled, t);
                    }
                    let refunded = held.revoked.is_some_and(|r| r != Revocation::Disputed);
                    if final_ || !refunded {
                        held.revoked = Some(*reason);
                    }
                }
            }
            EventKind::Restore { grant } => {
                let lifted = self.target(grant).is_some_and(|held| {
                    let disputed = held.revoked == Some(Revocation::Disputed);
                    if disputed {
                        held.revoked = None;
                    }
                    disputed
                });
                if lifted {
                    // The revocation takes nothing back any more.
                    let on_level = !matches!(grant, Some(Grant::Bundle(_)));
                    for (want, run) in &mut self.wants {
                        let ours = match (want, grant) {
                            (Want::Rank(_), _) => on_level,
                            (Want::Bundle(id), Some(Grant::Bundle(named))) => id == named,
                            (Want::Bundle(_), _) => false,
                        };
                        if ours {
                            run.revocation = None;
                        }
                    }
                }
            }
        }
    }

    fn qualifies(&self, want: &Want) -> bool {
        match want {
            Want::Rank(need) => self
                .level
                .as_ref()
                .is_some_and(|h| h.st.holds() && rank(self.config, &h.id) >= *need),
            Want::Bundle(id) => self.bundles.get(id).is_some_and(|h| h.st.holds()),
        }
    }

    /// Whether the right a want names, of a qualifying rank, lies under a revocation.
    fn is_revoked(&self, want: &Want) -> bool {
        match want {
            Want::Rank(need) => self
                .level
                .as_ref()
                .is_some_and(|h| h.revoked.is_some() && rank(self.config, &h.id) >= *need),
            Want::Bundle(id) => self.bundles.get(id).is_some_and(|h| h.revoked.is_some()),
        }
    }

    /// Whether the right a want names is held, of a qualifying rank, and cancelled.
    fn is_cancelled(&self, want: &Want) -> bool {
        match want {
            Want::Rank(need) => self
                .level
                .as_ref()
                .is_some_and(|h| h.st == St::Cancelled && rank(self.config, &h.id) >= *need),
            Want::Bundle(id) => self.bundles.get(id).is_some_and(|h| h.st == St::Cancelled),
        }
    }

    /// After every step, even one that leaves things as they were: extend or break each run.
    fn observe(&mut self, t: i64) {
        self.step += 1;
        let step = self.step;
        for i in 0..self.wants.len() {
            let yes = self.qualifies(&self.wants[i].0);
            let by_cancel = self.is_cancelled(&self.wants[i].0);
            let revoked = self.is_revoked(&self.wants[i].0);
            let run = &mut self.wants[i].1;
            match (yes, run.start) {
                (true, None) => run.start = Some(t),
                (false, Some(start)) => {
                    run.ended = Some((start, t));
                    if by_cancel {
                        run.cancelled.push((start, t, step));
                    }
                    run.start = None;
                }
                _ => {}
            }
            if revoked {
                run.revocation = Some(step);
            } else if let Some(last) = run.revocation.take() {
                // Gone without a restore (a new grant, a level change): it stays taken back.
                run.voided = run.voided.max(Some(last));
            }
        }
    }

    /// Everything that happens at tick `t`: first what was scheduled for `t` (in any slot; the
    /// slots do not affect each other), then the events stored at `t`, in stored order.
    fn tick(&mut self, history: &[Event], t: i64) {
        self.scheduled(None, t);
        self.observe(t);
        let ids: Vec<String> = self.bundles.keys().cloned().collect();
        for id in ids {
            self.scheduled(Some(&id), t);
            self.observe(t);
        }
        for event in history.iter().filter(|e| e.at.as_second() == t * U) {
            self.apply(&event.kind, t);
            self.observe(t);
        }
    }

    /// One right's verdict at `now`: `Ok` opens the gate, `Err` is its locked reason.
    fn verdict(&self, want: &Want, run: &Run, drip: i64, now: i64) -> Result<(), Reason> {
        // keep-unlocked: what had dripped by any cancel stays open for good, rejoin or not,
        // unless a revocation not lifted came at or after the cancel.
        let keep = self.config.cancellation == Cancellation::KeepUnlocked;
        let void = run.voided.max(run.revocation);
        let kept = |&(s, c, step): &(i64, i64, u64)| {
            s * U + drip <= c * U && void.is_none_or(|v| step > v)
        };
        if keep && run.cancelled.iter().any(kept) {
            return Ok(());
        }
        let (held, missing) = match want {
            Want::Rank(need) => (
                self.level
                    .as_ref()
                    .filter(|h| rank(self.config, &h.id) >= *need),
                Reason::Level,
            ),
            Want::Bundle(id) => (self.bundles.get(id), Reason::Bundle),
        };
        let Some(held) = held else {
            return Err(missing);
        };
        if held.revoked.is_some() {
            return Err(Reason::Cancelled);
        }
        match held.st {
            St::Active | St::Pending(_) => {
                let unlocks_at = run.start.unwrap() * U + drip;
                if now >= unlocks_at {
                    Ok(())
                } else {
                    Err(Reason::Drip {
                        unlocks_at: Timestamp::from_second(unlocks_at).unwrap(),
                    })
                }
            }
            St::Overdue => Err(Reason::Overdue),
            St::Cancelled => Err(Reason::Cancelled),
            St::Expired => Err(Reason::Expired),
        }
    }
}

/// The closest reason first: drip (earliest first), overdue, cancelled, expired, level, bundle.
fn closeness(reason: &Reason) -> (u8, i64) {
    match reason {
        Reason::Drip { unlocks_at } => (0, unlocks_at.as_second()),
        Reason::Overdue => (1, 0),
        Reason::Cancelled => (2, 0),
        Reason::Expired => (3, 0),
        Reason::Level => (4, 0),
        Reason::Bundle => (5, 0),
        Reason::Login => (6, 0),
    }
}

/// The model's decision; `now` is in seconds, everything else in the history on whole ticks.
fn model_decide(history: &[Event], rule: &Rule, now: Timestamp, config: &SiteConfig) -> Decision {
    let mut wants = Vec::new();
    if let Some(level) = rule.level() {
        wants.push((Want::Rank(rank(config, level)), Run::default()));
    }
    for bundle in rule.bundles() {
        wants.push((Want::Bundle(bundle.clone()), Run::default()));
    }
    let mut model = Model {
        config,
        level: None,
        bundles: BTreeMap::new(),
        wants,
        step: 0,
    };
    let now = now.as_second();
    for t in 0..=now.div_euclid(U) {
        model.tick(history, t);
    }
    let drip = i64::try_from(rule.drip_seconds()).unwrap();
    let mut reasons = Vec::new();
    for (want, run) in &model.wants {
        match model.verdict(want, run, drip, now) {
            Ok(()) => return Decision::Open,
            Err(reason) => reasons.push(reason),
        }
    }
    Decision::Locked(reasons.into_iter().min_by_key(closeness).unwrap())
}

// ---------------------------------------------------------------------------------------------
// Generation.

const LEVELS: [&str; 3] = ["free", "silver", "gold"];

fn h(hours: i64) -> Timestamp {
    Timestamp::from_second(hours * U).unwrap()
}

/// Every level and bundle, or (in a focused history) only silver, gold and bundle a, so that
/// events meet the rights they name more often.
fn grants(focused: bool) -> Vec<Grant> {
    if focused {
        vec![level("silver"), level("gold"), bundle("a")]
    } else {
        let levels = ["free", "silver", "gold"].map(level);
        levels.into_iter().chain(["a", "b"].map(bundle)).collect()
    }
}

/// `None` (the member's level) often, and every level and bundle, held or not.
fn any_target(grants: Vec<Grant>) -> impl Strategy<Value = Option<Grant>> {
    prop_oneof![2 => Just(None), 3 => select(grants).prop_map(Some)]
}

/// `None` stands for the basis site.toml implies, as a grant without a product gets.
fn any_basis() -> impl Strategy<Value = Option<Basis>> {
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(Basis::Free)),
        1 => Just(Some(Basis::Complimentary)),
        1 => Just(Some(Basis::Single)),
        3 => Just(Some(Basis::Recurring)),
    ]
}

#[derive(Debug, Clone)]
enum Spec {
    Grant(Grant, Option<Basis>),
    /// The `until` is given in hours after the cancel itself.
    Cancel(Option<Grant>, Option<i64>),
    Overdue(Option<Grant>),
    Recovered(Option<Grant>),
    Expire(Option<Grant>),
    PaidInFull(Option<Grant>),
    Revoke(Option<Grant>, Revocation),
    Restore(Option<Grant>),
}

fn any_spec(grants: Vec<Grant>) -> impl Strategy<Value = Spec> {
    let target = || any_target(grants.clone());
    prop_oneof![
        6 => (select(grants.clone()), any_basis()).prop_map(|(g, b)| Spec::Grant(g, b)),
        4 => (target(), proptest::option::weighted(0.7, -2..10i64))
            .prop_map(|(g, u)| Spec::Cancel(g, u)),
        2 => target().prop_map(Spec::Overdue),
        1 => target().prop_map(Spec::Recovered),
        1 => target().prop_map(Spec::Expire),
        2 => target().prop_map(Spec::PaidInFull),
        2 => (target(), select(Revocation::ALL.to_vec()))
            .prop_map(|(g, r)| Spec::Revoke(g, r)),
        2 => target().prop_map(Spec::Restore),
    ]
}

/// 0 to 12 events at hours 0 to 12, so that many share an instant.
fn any_history() -> impl Strategy<Value = Vec<(i64, Spec)>> {
    any::<bool>().prop_flat_map(|focused| {
        proptest::collection::vec((0..13i64, any_spec(grants(focused))), 0..=12)
    })
}

fn build_event(config: &SiteConfig, at: i64, spec: Spec) -> Event {
    let kind = match spec {
        Spec::Grant(grant, basis) => {
            let basis = basis.unwrap_or_else(|| Basis::implied(config, &grant));
            EventKind::Grant { grant, basis }
        }
        Spec::Cancel(grant, until) => EventKind::Cancel {
            grant,
            until: until.map(|offset| h(at + offset)),
        },
        Spec::Overdue(grant) => EventKind::Overdue { grant },
        Spec::Recovered(grant) => EventKind::Recovered { grant },
        Spec::Expire(grant) => EventKind::Expire { grant },
        Spec::PaidInFull(grant) => EventKind::PaidInFull { grant },
        Spec::Revoke(grant, reason) => EventKind::Revoke { grant, reason },
        Spec::Restore(grant) => EventKind::Restore { grant },
    };
    Event::new(h(at), kind)
}

/// A rule: any level or none, any of a, b and c (c exists nowhere), at least one right, and a
/// drip of whole hours, sometimes a second off.
fn any_rule() -> impl Strategy<Value = Rule> {
    (
        proptest::option::weighted(0.75, 0..3usize),
        (any::<bool>(), any::<bool>(), proptest::bool::weighted(0.15)),
        0..6u64,
        prop_oneof![4 => Just(0i64), 1 => Just(-1i64), 1 => Just(1i64)],
    )
        .prop_map(|(level, picks, hours, jitter)| {
            let (a, b, c) = picks;
            let mut bundles: Vec<&str> = ["a", "b", "c"]
                .into_iter()
                .zip([a, b, c])
                .filter_map(|(b, pick)| pick.then_some(b))
                .collect();
            if level.is_none() && bundles.is_empty() {
                bundles.push("a");
            }
            let drip = (i64::try_from(hours).unwrap() * U + jitter).max(0);
            Rule::new(
                level.map(|i| LEVELS[i]),
                &bundles,
                u64::try_from(drip).unwrap(),
            )
            .unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn decide_agrees_with_the_brute_force_model(
        which in 0..3usize,
        specs in any_history(),
        rule in any_rule(),
        now_hours in 0..22i64,
        now_jitter in prop_oneof![6 => Just(0i64), 1 => Just(-1i64), 1 => Just(1i64)],
    ) {
        let config = &CONFIGS[which];
        let history: Vec<Event> = specs
            .into_iter()
            .map(|(at, spec)| build_event(config, at, spec))
            .collect();
        let now = Timestamp::from_second(now_hours * U + now_jitter).unwrap();
        let expected = model_decide(&history, &rule, now, config);
        let got = decide(&history, &rule, now, config);
        prop_assert_eq!(
            got,
            expected,
            "config {}, rule {}, now {}, history {:#?}",
            which,
            rule.text(),
            now,
            history
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The doc's trickiest points, by hand. Times are in hours.

fn grant(at: i64, grant: Grant, basis: Basis) -> Event {
    Event::new(h(at), EventKind::Grant { grant, basis })
}

fn level(id: &str) -> Grant {
    Grant::Level(id.to_owned())
}

fn bundle(id: &str) -> Grant {
    Grant::Bundle(id.to_owned())
}

fn cancel(at: i64, until: Option<i64>) -> Event {
    Event::new(
        h(at),
        EventKind::Cancel {
            grant: None,
            until: until.map(h),
        },
    )
}

fn rule(level: &str, drip_hours: u64) -> Rule {
    Rule::new(Some(level), &[] as &[&str], drip_hours * 3_600).unwrap()
}

fn both(history: &[Event], rule: &Rule, now: i64, config: &SiteConfig) -> Decision {
    let got = decide(history, rule, h(now), config);
    assert_eq!(got, model_decide(history, rule, h(now), config), "model");
    got
}

fn drip_until(hours: i64) -> Decision {
    Decision::Locked(Reason::Drip {
        unlocks_at: h(hours),
    })
}

#[test]
fn a_level_change_within_qualifying_ranks_keeps_the_stretch() {
    let config = &CONFIGS[0];
    let history = [
        grant(0, level("silver"), Basis::Recurring),
        grant(3, level("gold"), Basis::Single),
        grant(5, level("silver"), Basis::Recurring),
    ];
    assert_eq!(
        both(&history, &rule("silver", 7), 7, config),
        Decision::Open
    );
    // The gold stretch began at 3 and ended at 5 with the move down.
    assert_eq!(both(&history, &rule("gold", 1), 4, config), Decision::Open);
    assert_eq!(
        both(&history, &rule("gold", 1), 6, config),
        Decision::Locked(Reason::Level)
    );
    // A move below the rule's rank breaks the stretch; the move back up starts a new one.
    let history = [
        grant(0, level("silver"), Basis::Recurring),
        grant(2, level("free"), Basis::Free),
        grant(3, level("gold"), Basis::Single),
    ];
    assert_eq!(both(&history, &rule("silver", 2), 4, config), drip_until(5));
}

#[test]
fn overdue_locks_at_once_and_pauses_without_restarting() {
    let config = &CONFIGS[0];
    let history = [
        grant(0, level("silver"), Basis::Recurring),
        Event::new(h(3), EventKind::Overdue { grant: None }),
        Event::new(h(5), EventKind::Recovered { grant: None }),
    ];
    assert_eq!(
        both(&history, &rule("silver", 0), 2, config),
        Decision::Open
    );
    assert_eq!(
        both(&history, &rule("silver", 0), 3, config),
        Decision::Locked(Reason::Overdue)
    );
    assert_eq!(
        both(&history, &rule("silver", 6), 6, config),
        Decision::Open
    );
}

#[test]
fn cancel_and_rejoin_restarts_the_stretch_even_within_one_second() {
    let config = &CONFIGS[0];
    let later = [
        grant(0, level("silver"), Basis::Recurring),
        cancel(3, None),
        grant(4, level("silver"), Basis::Recurring),
    ];
    assert_eq!(both(&later, &rule("silver", 5), 6, config), drip_until(9));
    let same_second = [
        grant(0, level("silver"), Basis::Recurring),
        cancel(3, None),
        grant(3, level("silver"), Basis::Recurring),
    ];
    assert_eq!(
        both(&same_second, &rule("silver", 5), 6, config),
        drip_until(8)
    );
    // A renewal of a held level is no rejoin.
    let renewal = [
        grant(0, level("silver"), Basis::Recurring),
        grant(3, level("silver"), Basis::Recurring),
    ];
    assert_eq!(
        both(&renewal, &rule("silver", 5), 6, config),
        Decision::Open
    );
}

#[test]
fn keep_unlocked_keeps_what_had_dripped_by_the_cancel() {
    let history = [
        grant(0, level("silver"), Basis::Single),
        grant(1, bundle("b"), Basis::Free),
        cancel(10, None),
    ];
    let keep = &CONFIGS[1];
    assert_eq!(
        both(&history, &rule("silver", 10), 20, keep),
        Decision::Open
    );
    assert_eq!(
        both(&history, &rule("silver", 11), 20, keep),
        Decision::Locked(Reason::Cancelled)
    );
    assert_eq!(
        both(&history, &rule("free", 11), 20, keep),
        Decision::Locked(Reason::Cancelled)
    );
    let standard = &CONFIGS[0];
    assert_eq!(
        both(&history, &rule("silver", 0), 20, standard),
        Decision::Locked(Reason::Cancelled)
    );
    // Only a cancel keeps; an expiry does not.
    let expired = [grant(0, level("gold"), Basis::Single)];
    assert_eq!(
        both(&expired, &rule("gold", 0), 9, keep),
        Decision::Locked(Reason::Expired)
    );
}

fn revoke(at: i64, reason: Revocation) -> Event {
    Event::new(
        h(at),
        EventKind::Revoke {
            grant: None,
            reason,
        },
    )
}

fn restore(at: i64) -> Event {
    Event::new(h(at), EventKind::Restore { grant: None })
}

#[test]
fn a_revocation_takes_back_what_keep_unlocked_kept_until_a_restore_lifts_it() {
    let keep = &CONFIGS[1];
    let cancelled = [grant(0, level("silver"), Basis::Single), cancel(10, None)];
    for reason in Revocation::ALL {
        let mut history = cancelled.to_vec();
        history.push(revoke(12, reason));
        assert_eq!(
            both(&history, &rule("silver", 10), 11, keep),
            Decision::Open,
            "{reason:?}: not yet"
        );
        assert_eq!(
            both(&history, &rule("silver", 10), 20, keep),
            Decision::Locked(Reason::Cancelled),
            "{reason:?}"
        );
        history.push(restore(14));
        let restored = both(&history, &rule("silver", 10), 20, keep);
        let expected = match reason {
            Revocation::Disputed => Decision::Open,
            Revocation::Refunded | Revocation::DisputeLost => Decision::Locked(Reason::Cancelled),
        };
        assert_eq!(restored, expected, "{reason:?} then restore");
        // A rejoin after it starts afresh: nothing from before the revocation comes back.
        history.push(grant(16, level("silver"), Basis::Single));
        let rejoined = both(&history, &rule("silver", 10), 20, keep);
        let expected = match reason {
            Revocation::Disputed => Decision::Open,
            Revocation::Refunded | Revocation::DisputeLost => drip_until(26),
        };
        assert_eq!(rejoined, expected, "{reason:?}, restore, rejoin");
    }
}

#[test]
fn on_expire_is_a_level_change_not_an_end() {
    let history = [grant(0, level("gold"), Basis::Single)];
    let into_silver = &CONFIGS[0];
    // gold expires at 6 into silver: the silver stretch goes on from 0.
    assert_eq!(
        both(&history, &rule("silver", 8), 8, into_silver),
        Decision::Open
    );
    assert_eq!(
        both(&history, &rule("gold", 0), 5, into_silver),
        Decision::Open
    );
    assert_eq!(
        both(&history, &rule("gold", 0), 6, into_silver),
        Decision::Locked(Reason::Level)
    );
    // Without on_expire gold is expired at 5, for every level it ranked for.
    let for_good = &CONFIGS[1];
    assert_eq!(
        both(&history, &rule("silver", 0), 5, for_good),
        Decision::Locked(Reason::Expired)
    );
    assert_eq!(
        both(&history, &rule("silver", 0), 4, for_good),
        Decision::Open
    );
    // The `expire` event does the same, at once.
    let early = [
        grant(0, level("gold"), Basis::Single),
        Event::new(h(2), EventKind::Expire { grant: None }),
    ];
    assert_eq!(
        both(&early, &rule("silver", 3), 3, into_silver),
        Decision::Open
    );
    // A renewal restarts the expiry clock.
    let renewed = [
        grant(0, level("gold"), Basis::Single),
        grant(4, level("gold"), Basis::Single),
    ];
    assert_eq!(
        both(&renewed, &rule("gold", 0), 9, into_silver),
        Decision::Open
    );
}

#[test]
fn pending_cancel_opens_until_its_date_and_only_for_recurring_rights() {
    let config = &CONFIGS[0];
    let recurring = [
        grant(0, level("silver"), Basis::Recurring),
        cancel(2, Some(5)),
    ];
    assert_eq!(
        both(&recurring, &rule("silver", 0), 4, config),
        Decision::Open
    );
    assert_eq!(
        both(&recurring, &rule("silver", 0), 5, config),
        Decision::Locked(Reason::Cancelled)
    );
    let complimentary = [
        grant(0, level("silver"), Basis::Complimentary),
        cancel(2, Some(5)),
    ];
    assert_eq!(
        both(&complimentary, &rule("silver", 0), 2, config),
        Decision::Locked(Reason::Cancelled)
    );
    // Paid in full lifts a pending cancel.
    let paid = [
        grant(0, bundle("a"), Basis::Recurring),
        Event::new(
            h(1),
            EventKind::Cancel {
                grant: Some(bundle("a")),
                until: Some(h(5)),
            },
        ),
        Event::new(
            h(2),
            EventKind::PaidInFull {
                grant: Some(bundle("a")),
            },
        ),
    ];
    let a = Rule::new(None, &["a"], 0).unwrap();
    assert_eq!(both(&paid, &a, 9, config), Decision::Open);
}

#[test]
fn a_cancel_leaves_a_cancelled_or_expired_right_alone() {
    let config = &CONFIGS[1];
    let history = [
        grant(0, bundle("b"), Basis::Recurring),
        Event::new(
            h(2),
            EventKind::Cancel {
                grant: Some(bundle("b")),
                until: None,
            },
        ),
        Event::new(
            h(3),
            EventKind::Cancel {
                grant: Some(bundle("b")),
                until: Some(h(10)),
            },
        ),
    ];
    let b = Rule::new(None, &["b"], 0).unwrap();
    // Still cancelled since 2 (keep-unlocked: the stretch [0, 2] had dripped by then).
    assert_eq!(both(&history, &b, 4, config), Decision::Open);
    let b_drip = Rule::new(None, &["b"], 3 * 3_600).unwrap();
    assert_eq!(
        both(&history, &b_drip, 4, config),
        Decision::Locked(Reason::Cancelled)
    );
    let expired = [grant(0, level("gold"), Basis::Single), cancel(6, Some(9))];
    assert_eq!(
        both(&expired, &rule("gold", 0), 7, config),
        Decision::Locked(Reason::Expired)
    );
}

#[test]
fn the_closest_right_gives_the_reason() {
    let config = &CONFIGS[0];
    let history = [
        grant(0, level("silver"), Basis::Recurring),
        grant(0, bundle("a"), Basis::Recurring),
        Event::new(
            h(1),
            EventKind::Overdue {
                grant: Some(bundle("a")),
            },
        ),
    ];
    let gold_or_a = Rule::new(Some("gold"), &["a"], 0).unwrap();
    assert_eq!(
        both(&history, &gold_or_a, 2, config),
        Decision::Locked(Reason::Overdue)
    );
    let gold_or_c = Rule::new(Some("gold"), &["c"], 0).unwrap();
    assert_eq!(
        both(&history, &gold_or_c, 2, config),
        Decision::Locked(Reason::Level)
    );
    let c = Rule::new(None, &["c"], 0).unwrap();
    assert_eq!(
        both(&history, &c, 2, config),
        Decision::Locked(Reason::Bundle)
    );
    assert_eq!(
        both(&[], &rule("free", 0), 2, config),
        Decision::Locked(Reason::Level)
    );
}

#[test]
fn the_basis_of_a_grant_without_a_product_is_implied_by_site_toml() {
    let cases = [
        (0, level("free"), Basis::Free),
        (0, level("silver"), Basis::Recurring),
        (0, level("gold"), Basis::Single),
        (0, bundle("a"), Basis::Recurring),
        (0, bundle("b"), Basis::Free),
        (1, level("silver"), Basis::Single),
        (1, level("gold"), Basis::Free),
        (1, bundle("a"), Basis::Single),
        (1, bundle("b"), Basis::Recurring),
        (2, level("gold"), Basis::Single),
        (2, bundle("b"), Basis::Recurring),
    ];
    for (which, grant, basis) in cases {
        assert_eq!(
            Basis::implied(&CONFIGS[which], &grant),
            basis,
            "{which} {grant:?}"
        );
    }
}
