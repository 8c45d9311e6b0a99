//! One named test per rule of DESIGN §5 (see docs/entitlement.md). Times are whole days from
//! an arbitrary origin, so each test reads as a calendar.

use std::path::Path;

use jiff::Timestamp;

use super::*;
use crate::config::{self, SiteConfig};

const DAY: i64 = 86_400;

const SITE: &str = r#"
title = "Test"
base_url = "https://example.com"

[[levels]]
id = "free"
rank = 0
[[levels]]
id = "silver"
rank = 10
[[levels]]
id = "gold"
rank = 20
[[levels]]
id = "annual"
rank = 15
expires_after = "30d"
on_expire = "free"
[[levels]]
id = "pass"
rank = 5
expires_after = "30d"

[[bundles]]
id = "course"
[[bundles]]
id = "workshop"
expires_after = "60d"

[[products]]
id = "gold-monthly"
grants = "level:gold"
billing = "subscription"
interval = "1 month"
[[products]]
id = "silver-once"
grants = "level:silver"
billing = "single"
"#;

fn site() -> SiteConfig {
    config::parse(Path::new(env!("CARGO_MANIFEST_DIR")), SITE).expect("the test site is valid")
}

fn keep_unlocked_site() -> SiteConfig {
    let text = format!("{SITE}\n[membership]\ncancellation = \"keep-unlocked\"\n");
    config::parse(Path::new(env!("CARGO_MANIFEST_DIR")), &text).expect("the test site is valid")
}

fn day(n: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + n * DAY).expect("in range")
}

fn rule(text: &str) -> Rule {
    Rule::parse(text).expect("a canonical rule")
}

fn level(id: &str) -> Grant {
    Grant::Level(id.to_owned())
}

fn bundle(id: &str) -> Grant {
    Grant::Bundle(id.to_owned())
}

fn grant(d: i64, grant: Grant, basis: Basis) -> Event {
    Event::new(day(d), EventKind::Grant { grant, basis })
}

fn cancel(d: i64, grant: Option<Grant>, until: Option<i64>) -> Event {
    let until = until.map(day);
    Event::new(day(d), EventKind::Cancel { grant, until })
}

fn at(d: i64, kind: EventKind) -> Event {
    Event::new(day(d), kind)
}

fn decide_on(history: &[Event], text: &str, now: i64, config: &SiteConfig) -> Decision {
    decide(history, &rule(text), day(now), config)
}

fn check(history: &[Event], text: &str, now: i64) -> Decision {
    decide_on(history, text, now, &site())
}

fn drip(days: i64) -> Decision {
    Decision::Locked(Reason::Drip {
        unlocks_at: day(days),
    })
}

const GOLD: &str = "level=gold;bundles=-;drip=0";
const SILVER: &str = "level=silver;bundles=-;drip=0";
const SILVER_DRIP_10: &str = "level=silver;bundles=-;drip=864000";
const COURSE: &str = "level=-;bundles=course;drip=0";

#[test]
fn a_higher_rank_opens_every_lower_tier() {
    let history = [grant(0, level("gold"), Basis::Recurring)];
    assert_eq!(check(&history, SILVER, 1), Decision::Open);
    assert_eq!(check(&history, GOLD, 1), Decision::Open);
}

#[test]
fn a_lower_rank_is_locked_for_reason_level() {
    let history = [grant(0, level("silver"), Basis::Single)];
    assert_eq!(check(&history, GOLD, 1), Decision::Locked(Reason::Level));
}

#[test]
fn a_rule_opens_for_its_level_or_any_of_its_bundles() {
    let text = "level=gold;bundles=course,workshop;drip=0";
    let by_bundle = [grant(0, bundle("workshop"), Basis::Single)];
    assert_eq!(check(&by_bundle, text, 1), Decision::Open);
    let by_level = [grant(0, level("gold"), Basis::Recurring)];
    assert_eq!(check(&by_level, text, 1), Decision::Open);
    let neither = [grant(0, level("silver"), Basis::Single)];
    assert_eq!(check(&neither, text, 1), Decision::Locked(Reason::Level));
}

#[test]
fn a_rule_of_bundles_only_is_locked_for_reason_bundle() {
    let history = [grant(0, level("gold"), Basis::Recurring)];
    assert_eq!(check(&history, COURSE, 1), Decision::Locked(Reason::Bundle));
}

#[test]
fn drip_opens_at_the_exact_second() {
    let history = [grant(0, level("silver"), Basis::Single)];
    let rule = rule(SILVER_DRIP_10);
    let config = site();
    let just_before = Timestamp::from_second(day(10).as_second() - 1).expect("in range");
    assert_eq!(decide(&history, &rule, just_before, &config), drip(10));
    assert_eq!(decide(&history, &rule, day(10), &config), Decision::Open);
}

#[test]
fn a_level_change_within_qualifying_ranks_keeps_the_stretch() {
    let history = [
        grant(0, level("silver"), Basis::Single),
        grant(4, level("gold"), Basis::Recurring),
        grant(6, level("silver"), Basis::Single),
    ];
    assert_eq!(check(&history, SILVER_DRIP_10, 10), Decision::Open);
}

#[test]
fn a_move_below_the_required_rank_restarts_the_stretch() {
    let history = [
        grant(0, level("silver"), Basis::Single),
        grant(4, level("free"), Basis::Free),
        grant(6, level("gold"), Basis::Recurring),
    ];
    assert_eq!(check(&history, SILVER_DRIP_10, 10), drip(16));
}

#[test]
fn overdue_pauses_access_without_restarting_the_stretch() {
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        at(3, EventKind::Overdue { grant: None }),
        at(5, EventKind::Recovered { grant: None }),
    ];
    assert_eq!(
        check(&history, SILVER_DRIP_10, 4),
        Decision::Locked(Reason::Overdue)
    );
    assert_eq!(check(&history, SILVER_DRIP_10, 9), drip(10));
    assert_eq!(check(&history, SILVER_DRIP_10, 10), Decision::Open);
}

#[test]
fn overdue_revokes_access_at_once() {
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        at(20, EventKind::Overdue { grant: None }),
    ];
    assert_eq!(check(&history, GOLD, 19), Decision::Open);
    assert_eq!(check(&history, GOLD, 20), Decision::Locked(Reason::Overdue));
}

#[test]
fn cancel_then_rejoin_restarts_the_stretch() {
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        cancel(8, None, None),
        grant(9, level("gold"), Basis::Recurring),
    ];
    assert_eq!(
        check(&history, SILVER_DRIP_10, 8),
        Decision::Locked(Reason::Cancelled)
    );
    assert_eq!(check(&history, SILVER_DRIP_10, 12), drip(19));
}

#[test]
fn pending_cancel_keeps_access_until_its_date() {
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        cancel(5, None, Some(30)),
    ];
    assert_eq!(check(&history, GOLD, 29), Decision::Open);
    assert_eq!(
        check(&history, GOLD, 30),
        Decision::Locked(Reason::Cancelled)
    );
}

#[test]
fn cancellation_is_immediate_for_free_complimentary_and_single_payment_access() {
    for basis in [Basis::Free, Basis::Complimentary, Basis::Single] {
        let history = [grant(0, level("gold"), basis), cancel(5, None, Some(30))];
        assert_eq!(
            check(&history, GOLD, 5),
            Decision::Locked(Reason::Cancelled),
            "{basis:?} access must cancel at once"
        );
    }
}

#[test]
fn complimentary_access_opens_like_paid_access() {
    let history = [at(
        0,
        EventKind::Grant {
            grant: bundle("course"),
            basis: Basis::Complimentary,
        },
    )];
    assert_eq!(check(&history, COURSE, 0), Decision::Open);
}

#[test]
fn expires_after_ends_access_with_reason_expired() {
    let history = [grant(0, level("pass"), Basis::Single)];
    let rule = "level=pass;bundles=-;drip=0";
    assert_eq!(check(&history, rule, 29), Decision::Open);
    assert_eq!(check(&history, rule, 30), Decision::Locked(Reason::Expired));
}

#[test]
fn on_expire_moves_the_member_to_another_level() {
    let history = [grant(0, level("annual"), Basis::Single)];
    let annual = "level=annual;bundles=-;drip=0";
    let free = "level=free;bundles=-;drip=0";
    assert_eq!(check(&history, annual, 30), Decision::Locked(Reason::Level));
    assert_eq!(check(&history, free, 30), Decision::Open);
    let standing = Timeline::replay(&history, day(30), &site()).standing(&site());
    let level = standing.level.expect("the member has a level");
    assert_eq!(
        (level.grant, level.status),
        (Grant::Level("free".into()), Status::Active)
    );
}

#[test]
fn renewing_an_expiring_right_restarts_its_clock() {
    let history = [
        grant(0, bundle("workshop"), Basis::Single),
        grant(50, bundle("workshop"), Basis::Single),
    ];
    let rule = "level=-;bundles=workshop;drip=0";
    assert_eq!(check(&history, rule, 100), Decision::Open);
    assert_eq!(
        check(&history, rule, 110),
        Decision::Locked(Reason::Expired)
    );
}

#[test]
fn an_expire_event_applies_on_expire_too() {
    let history = [
        grant(0, level("annual"), Basis::Single),
        at(3, EventKind::Expire { grant: None }),
    ];
    let standing = Timeline::replay(&history, day(4), &site()).standing(&site());
    assert_eq!(
        standing.level.map(|l| l.grant),
        Some(Grant::Level("free".into()))
    );
}

#[test]
fn keep_unlocked_keeps_what_had_dripped_before_the_cancel() {
    let config = keep_unlocked_site();
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        cancel(12, None, None),
    ];
    let dripped = "level=silver;bundles=-;drip=864000";
    let later = "level=silver;bundles=-;drip=1728000";
    assert_eq!(decide_on(&history, dripped, 40, &config), Decision::Open);
    assert_eq!(
        decide_on(&history, later, 40, &config),
        Decision::Locked(Reason::Cancelled)
    );
    // The standard mode closes both.
    assert_eq!(
        check(&history, dripped, 40),
        Decision::Locked(Reason::Cancelled)
    );
}

#[test]
fn keep_unlocked_does_not_keep_expired_or_overdue_access() {
    let config = keep_unlocked_site();
    let expired = [grant(0, level("pass"), Basis::Single)];
    assert_eq!(
        decide_on(&expired, "level=pass;bundles=-;drip=0", 31, &config),
        Decision::Locked(Reason::Expired)
    );
    let overdue = [
        grant(0, level("gold"), Basis::Recurring),
        at(12, EventKind::Overdue { grant: None }),
    ];
    assert_eq!(
        decide_on(&overdue, GOLD, 13, &config),
        Decision::Locked(Reason::Overdue)
    );
}

#[test]
fn a_bundle_without_a_level_puts_the_member_on_the_free_level() {
    let history = [grant(2, bundle("course"), Basis::Single)];
    let standing = Timeline::replay(&history, day(3), &site()).standing(&site());
    let level = standing.level.expect("the member was given the free level");
    assert_eq!(level.grant, Grant::Level("free".into()));
    assert_eq!(level.since, day(2));
    assert_eq!(
        check(&history, "level=free;bundles=-;drip=0", 3),
        Decision::Open
    );
}

#[test]
fn a_paid_in_full_payment_plan_is_no_longer_pending_cancel() {
    let history = [
        grant(0, bundle("course"), Basis::Recurring),
        cancel(10, Some(bundle("course")), Some(20)),
        at(
            15,
            EventKind::PaidInFull {
                grant: Some(bundle("course")),
            },
        ),
    ];
    assert_eq!(check(&history, COURSE, 25), Decision::Open);
}

#[test]
fn the_reason_speaks_of_the_closest_right() {
    // Gold is overdue; the course was never bought: overdue is closer than bundle.
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        at(5, EventKind::Overdue { grant: None }),
    ];
    let text = "level=gold;bundles=course;drip=0";
    assert_eq!(check(&history, text, 6), Decision::Locked(Reason::Overdue));
    // A dripping bundle is closer than a cancelled level.
    let history = [
        grant(0, level("gold"), Basis::Free),
        grant(1, bundle("course"), Basis::Single),
        cancel(2, None, None),
    ];
    let text = "level=gold;bundles=course;drip=864000";
    assert_eq!(check(&history, text, 3), drip(11));
}

#[test]
fn events_that_name_a_right_the_member_does_not_hold_change_nothing() {
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        cancel(1, Some(level("silver")), None),
        at(
            1,
            EventKind::Overdue {
                grant: Some(bundle("course")),
            },
        ),
    ];
    assert_eq!(check(&history, GOLD, 2), Decision::Open);
}

#[test]
fn events_after_now_are_not_applied() {
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        cancel(10, None, None),
    ];
    assert_eq!(check(&history, GOLD, 9), Decision::Open);
}

#[test]
fn implied_basis_follows_the_products_that_sell_a_right() {
    let config = site();
    assert_eq!(Basis::implied(&config, &level("gold")), Basis::Recurring);
    assert_eq!(Basis::implied(&config, &level("silver")), Basis::Single);
    assert_eq!(Basis::implied(&config, &bundle("course")), Basis::Free);
}

#[test]
fn keep_unlocked_content_stays_open_after_a_rejoin() {
    let config = keep_unlocked_site();
    let history = [
        grant(0, level("silver"), Basis::Single),
        cancel(12, None, None),
        grant(20, level("silver"), Basis::Single),
    ];
    // Rejoining restarts the drip for what had not opened, but must not take back what had.
    assert_eq!(
        decide_on(&history, SILVER_DRIP_10, 21, &config),
        Decision::Open
    );
    assert_eq!(
        decide_on(&history, "level=silver;bundles=-;drip=1728000", 21, &config),
        drip(40)
    );
}

fn revoke(d: i64, grant: Option<Grant>, reason: Revocation) -> Event {
    at(d, EventKind::Revoke { grant, reason })
}

fn restore(d: i64, grant: Option<Grant>) -> Event {
    at(d, EventKind::Restore { grant })
}

#[test]
fn a_full_refund_under_keep_unlocked_closes_what_had_dripped() {
    let config = keep_unlocked_site();
    // Cancelled first, refunded after (Stripe's usual order when a seller refunds and ends a
    // subscription), and refunded without any cancel: neither keeps anything open.
    let cancelled_then_refunded = [
        grant(0, level("gold"), Basis::Recurring),
        cancel(12, None, None),
        revoke(13, None, Revocation::Refunded),
    ];
    let refunded = [
        grant(0, level("gold"), Basis::Recurring),
        revoke(12, None, Revocation::Refunded),
    ];
    for history in [&cancelled_then_refunded[..], &refunded[..]] {
        assert_eq!(
            decide_on(history, SILVER_DRIP_10, 40, &config),
            Decision::Locked(Reason::Cancelled),
            "{history:?}"
        );
        assert_eq!(
            decide_on(history, GOLD, 40, &config),
            Decision::Locked(Reason::Cancelled)
        );
    }
    // Between the cancel and the refund, the cancel kept what had dripped.
    assert_eq!(
        decide_on(&cancelled_then_refunded, SILVER_DRIP_10, 12, &config),
        Decision::Open
    );
}

#[test]
fn a_refund_ends_pending_cancel_and_overdue_access_at_once() {
    for before in [
        cancel(5, None, Some(30)),
        at(5, EventKind::Overdue { grant: None }),
    ] {
        let history = [
            grant(0, level("gold"), Basis::Recurring),
            before,
            revoke(6, None, Revocation::Refunded),
            at(7, EventKind::Recovered { grant: None }),
        ];
        assert_eq!(
            check(&history, GOLD, 8),
            Decision::Locked(Reason::Cancelled)
        );
    }
}

#[test]
fn a_dispute_revokes_and_a_won_dispute_restores() {
    let config = keep_unlocked_site();
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        revoke(5, None, Revocation::Disputed),
        restore(8, None),
    ];
    assert_eq!(
        decide_on(&history, GOLD, 5, &config),
        Decision::Locked(Reason::Cancelled)
    );
    // As it was: the stretch from day 0 goes on, so a 10-day drip opens on day 10, not 18.
    assert_eq!(decide_on(&history, GOLD, 8, &config), Decision::Open);
    assert_eq!(decide_on(&history, SILVER_DRIP_10, 9, &config), drip(10));
    assert_eq!(
        decide_on(&history, SILVER_DRIP_10, 10, &config),
        Decision::Open
    );
}

#[test]
fn a_won_dispute_gives_back_what_a_cancel_kept_and_what_happened_meanwhile_stands() {
    let config = keep_unlocked_site();
    // Disputed on day 13; the subscription is cancelled on day 14 while disputed; won day 20.
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        revoke(13, None, Revocation::Disputed),
        cancel(14, None, None),
        restore(20, None),
    ];
    assert_eq!(
        decide_on(&history, SILVER_DRIP_10, 16, &config),
        Decision::Locked(Reason::Cancelled)
    );
    // The cancel on day 14 stands, and keep-unlocked keeps what had dripped by then.
    assert_eq!(
        decide_on(&history, SILVER_DRIP_10, 21, &config),
        Decision::Open
    );
    assert_eq!(
        decide_on(&history, "level=silver;bundles=-;drip=1296000", 21, &config),
        Decision::Locked(Reason::Cancelled)
    );
    let standing = Timeline::replay(&history, day(21), &config).standing(&config);
    assert_eq!(standing.level.map(|l| l.status), Some(Status::Cancelled));
}

#[test]
fn a_lost_dispute_keeps_it_closed() {
    let config = keep_unlocked_site();
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        cancel(12, None, None),
        revoke(13, None, Revocation::Disputed),
        revoke(20, None, Revocation::DisputeLost),
        // A late `restore` (a won dispute about another payment) lifts nothing lost.
        restore(21, None),
    ];
    for now in [14, 20, 40] {
        assert_eq!(
            decide_on(&history, SILVER_DRIP_10, now, &config),
            Decision::Locked(Reason::Cancelled),
            "day {now}"
        );
    }
    let standing = Timeline::replay(&history, day(40), &config).standing(&config);
    assert_eq!(
        standing.level.map(|l| l.status),
        Some(Status::Revoked(Revocation::DisputeLost))
    );
}

#[test]
fn a_dispute_opened_after_a_refund_does_not_make_it_restorable() {
    let config = keep_unlocked_site();
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        cancel(12, None, None),
        revoke(13, None, Revocation::Refunded),
        revoke(14, None, Revocation::Disputed),
        restore(15, None),
    ];
    assert_eq!(
        decide_on(&history, SILVER_DRIP_10, 16, &config),
        Decision::Locked(Reason::Cancelled)
    );
}

#[test]
fn a_revoked_right_shows_as_revoked_with_its_reason() {
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        grant(1, bundle("course"), Basis::Single),
        revoke(3, Some(bundle("course")), Revocation::Disputed),
        revoke(4, None, Revocation::Refunded),
    ];
    let standing = Timeline::replay(&history, day(5), &site()).standing(&site());
    let level = standing.level.expect("a level");
    assert_eq!(level.status, Status::Revoked(Revocation::Refunded));
    assert_eq!((level.status.name(), level.since), ("revoked", day(4)));
    assert_eq!(
        standing.bundles[0].status,
        Status::Revoked(Revocation::Disputed)
    );
    assert!(!level.status.holds() && !level.status.opens());
}

#[test]
fn a_rejoin_after_a_refund_starts_afresh_and_keeps_nothing_from_before() {
    let config = keep_unlocked_site();
    let history = [
        grant(0, level("silver"), Basis::Single),
        cancel(12, None, None),
        revoke(13, None, Revocation::Refunded),
        grant(20, level("silver"), Basis::Single),
    ];
    assert_eq!(decide_on(&history, SILVER_DRIP_10, 21, &config), drip(30));
    assert_eq!(decide_on(&history, SILVER, 21, &config), Decision::Open);
    // A cancel after the rejoin keeps what dripped since, as any cancel does.
    let mut cancelled_again = history.to_vec();
    cancelled_again.push(cancel(31, None, None));
    assert_eq!(
        decide_on(&cancelled_again, SILVER_DRIP_10, 40, &config),
        Decision::Open
    );
}

#[test]
fn a_revocation_of_a_level_below_the_rule_takes_back_nothing_the_rule_kept() {
    let config = keep_unlocked_site();
    // Gold ran 12 days and was cancelled; later silver was bought and refunded. The refund
    // was of silver: what gold's cancel kept of a gold-only page stays.
    let history = [
        grant(0, level("gold"), Basis::Recurring),
        cancel(12, None, None),
        grant(20, level("silver"), Basis::Single),
        revoke(21, None, Revocation::Refunded),
    ];
    let gold_drip_10 = "level=gold;bundles=-;drip=864000";
    assert_eq!(
        decide_on(&history, gold_drip_10, 30, &config),
        Decision::Open
    );
    assert_eq!(
        decide_on(&history, SILVER_DRIP_10, 30, &config),
        Decision::Locked(Reason::Cancelled)
    );
}

#[test]
fn revocations_round_trip_through_their_stored_form() {
    let config = site();
    for reason in Revocation::ALL {
        assert_eq!(Revocation::from_name(reason.name()), Ok(reason));
        let record = EventRecord::revoke(Some(bundle("course")), reason, day(1));
        assert_eq!(
            record.to_event(),
            Some(revoke(1, Some(bundle("course")), reason))
        );
    }
    assert_eq!(
        EventRecord::new(EventType::Revoke, None, day(1), None, None, &config),
        Err(RecordError::NeedsReason)
    );
    let restore_record =
        EventRecord::new(EventType::Restore, None, day(2), None, None, &config).expect("valid");
    assert_eq!(restore_record.to_event(), Some(restore(2, None)));
    assert_eq!(
        "restore".parse::<EventType>(),
        Ok(EventType::Restore),
        "the admin API takes it"
    );
}
