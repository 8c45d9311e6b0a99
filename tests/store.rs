//! The member store, one suite run against both databases: SQLite (a temp file) and a real
//! PostgreSQL server (a fresh database per test).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::servers::postgres_database;
use gatehouse::config::SiteConfig;
use gatehouse::entitle::{Basis, EventRecord, EventType, Grant};
use gatehouse::store::{Delivery, NewMember, NewNotice, Store, StoreError};
use jiff::Timestamp;

/// Runs one async test body against SQLite and against PostgreSQL.
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("members.db").display());
                super::$name(&url).await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(url) = super::postgres_database().await else { return };
                super::$name(&url).await;
            }
        }
    )*};
}

on_both_databases!(
    migrations_run_once_and_reopening_changes_nothing,
    a_member_and_their_history_round_trip,
    a_duplicate_member_is_refused_and_nothing_is_written,
    a_magic_link_works_once_and_never_after_it_expires,
    a_magic_link_raced_by_many_requests_is_used_exactly_once,
    sessions_live_until_they_expire_or_are_deleted,
    addresses_are_counted_once_per_member_per_day,
    expired_sessions_and_links_are_purged,
    a_database_from_a_newer_gatehouse_is_refused,
    a_session_reads_its_member_history_in_one_query,
    deliveries_leave_in_order_per_target_and_member,
    an_upgrade_keeps_pending_deliveries_and_queues_them,
    a_lapsed_claim_records_nothing,
    notices_behind_a_retrying_head_come_due_with_it,
);

fn config() -> SiteConfig {
    gatehouse::config::load(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + seconds).unwrap()
}

fn member(email: &str, events: Vec<EventRecord>) -> NewMember {
    NewMember {
        email: email.to_owned(),
        password_hash: None,
        events,
        source: "test".to_owned(),
        announce: true,
    }
}

fn level_set(level: &str, t: i64) -> EventRecord {
    let grant = Grant::Level(level.to_owned());
    EventRecord::new(
        EventType::LevelSet,
        Some(grant),
        at(t),
        None,
        None,
        &config(),
    )
    .unwrap()
}

async fn migrations_run_once_and_reopening_changes_nothing(url: &str) {
    let store = Store::open(url).await.unwrap();
    store
        .create_member(&member("a@example.com", vec![level_set("gold", 0)]), at(0))
        .await
        .unwrap();
    store.close().await;
    let again = Store::open(url).await.unwrap();
    assert_eq!(again.members().await.unwrap().len(), 1);
    again.ping().await.unwrap();
}

async fn a_member_and_their_history_round_trip(url: &str) {
    let store = Store::open(url).await.unwrap();
    let config = config();
    let created = store
        .create_member(
            &member("b@example.com", vec![level_set("silver", 0)]),
            at(5),
        )
        .await
        .unwrap();
    let records = [
        EventRecord::new(
            EventType::BundleAdd,
            Some(Grant::Bundle("pricing-course".into())),
            at(10),
            None,
            Some(Basis::Complimentary),
            &config,
        )
        .unwrap(),
        EventRecord::new(EventType::Cancel, None, at(20), Some(at(90)), None, &config).unwrap(),
        EventRecord::new(EventType::Overdue, None, at(15), None, None, &config).unwrap(),
    ];
    for record in &records {
        store
            .append_event(created.id, record, "admin", at(30))
            .await
            .unwrap();
    }
    let history = store.history(created.id).await.unwrap();
    let kinds: Vec<EventType> = history.iter().map(|e| e.record.kind).collect();
    assert_eq!(
        kinds,
        [
            EventType::LevelSet,
            EventType::BundleAdd,
            EventType::Cancel,
            EventType::Overdue
        ],
        "history keeps the order it was recorded in"
    );
    assert_eq!(history[1].record, records[0]);
    assert_eq!(history[2].record, records[1]);
    assert_eq!(history[2].source, "admin");
    assert_eq!(
        history[0].record.basis,
        Some(Basis::Single),
        "silver is sold once"
    );
    let found = store
        .member_by_email("b@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, created);
    assert_eq!(store.member_by_id(created.id).await.unwrap(), Some(created));
    assert_eq!(
        store.member_by_email("nobody@example.com").await.unwrap(),
        None
    );
}

async fn a_duplicate_member_is_refused_and_nothing_is_written(url: &str) {
    let store = Store::open(url).await.unwrap();
    let first = store
        .create_member(&member("c@example.com", vec![level_set("gold", 0)]), at(0))
        .await
        .unwrap();
    let error = store
        .create_member(
            &member(
                "c@example.com",
                vec![level_set("free", 1), level_set("silver", 2)],
            ),
            at(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::MemberExists(ref e) if e == "c@example.com"));
    assert_eq!(store.members().await.unwrap().len(), 1);
    assert_eq!(store.history(first.id).await.unwrap().len(), 1);
}

async fn a_magic_link_works_once_and_never_after_it_expires(url: &str) {
    let store = Store::open(url).await.unwrap();
    let m = store
        .create_member(&member("d@example.com", vec![]), at(0))
        .await
        .unwrap();
    store
        .create_login_link("live", m.id, "/course/", at(0), at(900))
        .await
        .unwrap();
    store
        .create_login_link("old", m.id, "/", at(0), at(900))
        .await
        .unwrap();
    assert!(store.login_link_is_valid("live", at(1)).await.unwrap());
    assert_eq!(
        store.consume_login_link("live", at(1)).await.unwrap(),
        Some((m.id, "/course/".to_owned()))
    );
    assert_eq!(store.consume_login_link("live", at(2)).await.unwrap(), None);
    assert!(!store.login_link_is_valid("live", at(2)).await.unwrap());
    assert_eq!(
        store.consume_login_link("old", at(900)).await.unwrap(),
        None,
        "expired at 900"
    );
    assert_eq!(
        store.consume_login_link("never-made", at(1)).await.unwrap(),
        None
    );
    assert_eq!(store.login_links_since(m.id, at(0)).await.unwrap(), 2);
    assert_eq!(store.login_links_since(m.id, at(1)).await.unwrap(), 0);
}

async fn a_magic_link_raced_by_many_requests_is_used_exactly_once(url: &str) {
    let store = Store::open(url).await.unwrap();
    let m = store
        .create_member(&member("e@example.com", vec![]), at(0))
        .await
        .unwrap();
    store
        .create_login_link("raced", m.id, "/", at(0), at(900))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.consume_login_link("raced", at(1)).await.unwrap() })
        })
        .collect();
    let mut used = 0;
    for task in tasks {
        used += usize::from(task.await.unwrap().is_some());
    }
    assert_eq!(used, 1);
}

async fn sessions_live_until_they_expire_or_are_deleted(url: &str) {
    let store = Store::open(url).await.unwrap();
    let m = store
        .create_member(&member("f@example.com", vec![]), at(0))
        .await
        .unwrap();
    store
        .create_session("s1", m.id, at(0), at(100))
        .await
        .unwrap();
    store
        .create_session("s2", m.id, at(0), at(100))
        .await
        .unwrap();
    assert_eq!(
        store.session_member("s1", at(99)).await.unwrap(),
        Some(m.id)
    );
    assert_eq!(store.session_member("s1", at(100)).await.unwrap(), None);
    store.delete_session("s2").await.unwrap();
    assert_eq!(store.session_member("s2", at(1)).await.unwrap(), None);
    assert_eq!(store.session_member("s1", at(1)).await.unwrap(), Some(m.id));
}

async fn addresses_are_counted_once_per_member_per_day(url: &str) {
    let store = Store::open(url).await.unwrap();
    let m = store
        .create_member(&member("g@example.com", vec![]), at(0))
        .await
        .unwrap();
    for hash in ["aa", "aa", "bb"] {
        store.record_address(m.id, 100, hash).await.unwrap();
    }
    store.record_address(m.id, 101, "aa").await.unwrap();
    assert_eq!(
        store.addresses_per_day(m.id, 30).await.unwrap(),
        vec![(101, 1), (100, 2)]
    );
}

async fn expired_sessions_and_links_are_purged(url: &str) {
    let store = Store::open(url).await.unwrap();
    let m = store
        .create_member(&member("h@example.com", vec![]), at(0))
        .await
        .unwrap();
    store
        .create_session("gone", m.id, at(0), at(10))
        .await
        .unwrap();
    store
        .create_session("kept", m.id, at(0), at(1_000_000))
        .await
        .unwrap();
    store
        .create_login_link("gone-link", m.id, "/", at(0), at(10))
        .await
        .unwrap();
    let purged = store.purge_expired(at(200_000)).await.unwrap();
    assert_eq!(purged, 2);
    assert_eq!(
        store.session_member("kept", at(200_000)).await.unwrap(),
        Some(m.id)
    );
}

async fn a_database_from_a_newer_gatehouse_is_refused(url: &str) {
    let store = Store::open(url).await.unwrap();
    store
        .create_member(&member("i@example.com", vec![]), at(0))
        .await
        .unwrap();
    store.close().await;
    {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
        sqlx::query("INSERT INTO gatehouse_migrations (version, applied_at) VALUES (999, 0)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let error = Store::open(url).await.unwrap_err();
    assert!(
        error.to_string().contains("newer than this gatehouse"),
        "{error}"
    );
}

async fn a_session_reads_its_member_history_in_one_query(url: &str) {
    let store = Store::open(url).await.unwrap();
    let with = store
        .create_member(
            &member(
                "j@example.com",
                vec![level_set("gold", 0), level_set("silver", 3)],
            ),
            at(0),
        )
        .await
        .unwrap();
    let without = store
        .create_member(&member("k@example.com", vec![]), at(0))
        .await
        .unwrap();
    store
        .create_session("sj", with.id, at(0), at(100))
        .await
        .unwrap();
    store
        .create_session("sk", without.id, at(0), at(100))
        .await
        .unwrap();
    let (id, history) = store.session_history("sj", at(1)).await.unwrap().unwrap();
    assert_eq!(id, with.id);
    assert_eq!(history, store.history(with.id).await.unwrap());
    assert_eq!(history.len(), 2);
    assert_eq!(
        store.session_history("sk", at(1)).await.unwrap(),
        Some((without.id, vec![]))
    );
    assert_eq!(store.session_history("sj", at(100)).await.unwrap(), None);
    assert_eq!(store.session_history("nope", at(1)).await.unwrap(), None);
}

fn notice(kind: &str, targets: &[&str]) -> NewNotice {
    NewNotice {
        kind: kind.to_owned(),
        body: "{}".to_owned(),
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
    }
}

/// A new member, with `notices` written for them at `at(10)`, as a check of their standing
/// would write them.
async fn member_with_notices(
    store: &Store,
    email: &str,
    notices: &[NewNotice],
) -> gatehouse::store::Member {
    let created = store
        .create_member(&member(email, vec![]), at(0))
        .await
        .unwrap();
    let version = store
        .member_state(created.id)
        .await
        .unwrap()
        .unwrap()
        .version;
    assert!(
        store
            .record_standing(created.id, version, "{}", 0, notices, at(10))
            .await
            .unwrap()
    );
    created
}

/// (target, member, kind) of each delivery, to compare without ids.
fn queues(deliveries: &[Delivery]) -> Vec<(String, i64, String)> {
    let mut found: Vec<_> = deliveries
        .iter()
        .map(|d| (d.target.clone(), d.member_id, d.kind.clone()))
        .collect();
    found.sort();
    found
}

async fn deliveries_leave_in_order_per_target_and_member(url: &str) {
    let store = Store::open(url).await.unwrap();
    let both = ["https://a.test/hook", "https://b.test/hook"];
    let ann_notices = [
        notice("member.expired", &both),
        notice("member.level_changed", &both),
    ];
    let ann = member_with_notices(&store, "q1@example.com", &ann_notices).await;
    let bo_notices = [notice("member.joined", &["https://a.test/hook"])];
    let bo = member_with_notices(&store, "q2@example.com", &bo_notices).await;
    let a = "https://a.test/hook".to_owned();
    let b = "https://b.test/hook".to_owned();
    let expired = "member.expired".to_owned();

    // Only each queue's head is handed out: Ann's level change waits behind her expiry.
    let heads = store.due_deliveries(at(10), 100).await.unwrap();
    assert_eq!(
        queues(&heads),
        [
            (a.clone(), ann.id, expired.clone()),
            (a.clone(), bo.id, "member.joined".to_owned()),
            (b.clone(), ann.id, expired.clone()),
        ]
    );
    let ann_at_a = heads
        .iter()
        .find(|d| d.target == a && d.member_id == ann.id)
        .unwrap()
        .clone();

    // A replica working from a list read at another moment cannot take the second notice
    // while the first is pending: the claim itself checks the queue. (Ann's deliveries were
    // written in order: expiry to a, to b, then the level change to a.)
    let behind = Delivery {
        id: ann_at_a.id + 2,
        kind: "member.level_changed".to_owned(),
        ..ann_at_a.clone()
    };
    assert_eq!(store.claim_delivery(&behind, at(70)).await.unwrap(), None);

    // The head fails and waits for its retry: it holds back its own queue and nothing else.
    let claim = store
        .claim_delivery(&ann_at_a, at(70))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .delivery_failed(&claim, "503", Some(at(100)), at(11))
            .await
            .unwrap()
    );
    let heads = store.due_deliveries(at(50), 100).await.unwrap();
    assert_eq!(
        queues(&heads),
        [
            (a.clone(), bo.id, "member.joined".to_owned()),
            (b.clone(), ann.id, expired.clone()),
        ]
    );
    assert_eq!(head_of(&store, &a, ann.id, at(50)).await, None);

    // Once it is due and delivered, the next notice of its queue is the head.
    let retried = head_of(&store, &a, ann.id, at(100)).await.unwrap();
    assert_eq!(retried.id, ann_at_a.id);
    let claim = store
        .claim_delivery(&retried, at(160))
        .await
        .unwrap()
        .unwrap();
    assert!(store.delivered(&claim, at(101)).await.unwrap());
    let next = head_of(&store, &a, ann.id, at(101)).await.unwrap();
    assert_eq!(next.kind, "member.level_changed");
    assert_eq!(next.id, behind.id);
    assert!(
        store
            .claim_delivery(&next, at(161))
            .await
            .unwrap()
            .is_some()
    );

    // An abandoned head lets the queue go on too.
    let ann_at_b = heads.iter().find(|d| d.target == b).unwrap().clone();
    let claim = store
        .claim_delivery(&ann_at_b, at(70))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .delivery_failed(&claim, "410", None, at(12))
            .await
            .unwrap()
    );
    let next = head_of(&store, &b, ann.id, at(12)).await.unwrap();
    assert_eq!(next.kind, "member.level_changed");
}

/// An attempt that outlived its lease (a stalled replica) records nothing once another attempt
/// took the delivery over: a late failure cannot bring back a notice already given up.
async fn a_lapsed_claim_records_nothing(url: &str) {
    let store = Store::open(url).await.unwrap();
    let notices = [
        notice("member.joined", &["https://a.test/hook"]),
        notice("member.level_changed", &["https://a.test/hook"]),
    ];
    let cy = member_with_notices(&store, "q3@example.com", &notices).await;
    let hook = "https://a.test/hook";
    let head = store.due_deliveries(at(10), 100).await.unwrap().remove(0);
    let stalled = store.claim_delivery(&head, at(70)).await.unwrap().unwrap();
    // The lease lapses; another replica takes the head over, fails for the last time and
    // gives it up, and the next notice becomes the head.
    let again = head_of(&store, hook, cy.id, at(70)).await.unwrap();
    assert_eq!(again.id, head.id);
    let taken = store
        .claim_delivery(&again, at(130))
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .delivery_failed(&taken, "410", None, at(71))
            .await
            .unwrap()
    );
    let next = head_of(&store, hook, cy.id, at(71)).await.unwrap();
    assert_eq!(next.kind, "member.level_changed");
    // The stalled attempt ends now: neither outcome is written.
    assert!(
        !store
            .delivery_failed(&stalled, "503", Some(at(200)), at(72))
            .await
            .unwrap()
    );
    assert!(!store.delivered(&stalled, at(72)).await.unwrap());
    let next = head_of(&store, hook, cy.id, at(72)).await.unwrap();
    assert_eq!(
        next.kind, "member.level_changed",
        "the given-up head stays given up"
    );
    assert_eq!(store.delivery_counts().await.unwrap().abandoned, 1);
}

/// While a head waits for its retry, the notices behind it are not due either, so a long
/// backlog behind an endpoint that is down is not scanned every round; they come due with it.
async fn notices_behind_a_retrying_head_come_due_with_it(url: &str) {
    let store = Store::open(url).await.unwrap();
    let notices: Vec<NewNotice> = (0..5)
        .map(|_| notice("member.level_changed", &["https://a.test/hook"]))
        .collect();
    let di = member_with_notices(&store, "q4@example.com", &notices).await;
    let hook = "https://a.test/hook";
    let head = store.due_deliveries(at(10), 100).await.unwrap().remove(0);
    let claim = store.claim_delivery(&head, at(70)).await.unwrap().unwrap();
    assert!(
        store
            .delivery_failed(&claim, "503", Some(at(500)), at(11))
            .await
            .unwrap()
    );
    assert!(store.due_deliveries(at(499), 100).await.unwrap().is_empty());
    assert_eq!(
        pending_rows_due(url, at(499)).await,
        0,
        "the four behind the head wait with it"
    );
    assert_eq!(head_of(&store, hook, di.id, at(499)).await, None);
    let heads = store.due_deliveries(at(500), 100).await.unwrap();
    assert_eq!(heads.iter().map(|d| d.id).collect::<Vec<_>>(), [head.id]);
    let claim = store
        .claim_delivery(&heads[0], at(560))
        .await
        .unwrap()
        .unwrap();
    assert!(store.delivered(&claim, at(501)).await.unwrap());
    let mut sent = 1;
    while let Some(next) = head_of(&store, hook, di.id, at(501)).await {
        let claim = store.claim_delivery(&next, at(561)).await.unwrap().unwrap();
        assert!(store.delivered(&claim, at(501)).await.unwrap());
        sent += 1;
    }
    assert_eq!(sent, 5);
    assert_eq!(store.delivery_counts().await.unwrap().pending, 0);
}

/// A database written by the release before delivery queues (schema version 2), with a notice
/// still to deliver: opening it migrates, and the delivery is kept and queued under its member.
async fn an_upgrade_keeps_pending_deliveries_and_queues_them(url: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let backend = if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/store/migrations")
        .join(backend);
    let create = if backend == "sqlite" {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    let mut conn = sqlx::AnyConnection::connect(&create).await.unwrap();
    for (version, file) in [(1, "0001_members.sql"), (2, "0002_payments.sql")] {
        let sql = std::fs::read_to_string(migrations.join(file)).unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
        if version == 1 {
            sqlx::raw_sql(
                "CREATE TABLE gatehouse_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .execute(&mut conn)
            .await
            .unwrap();
        }
        sqlx::query("INSERT INTO gatehouse_migrations (version, applied_at) VALUES ($1, 0)")
            .bind(version)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::raw_sql(
        "INSERT INTO members (email, created_at) VALUES ('old1@example.com', 0), ('old2@example.com', 0);\
         INSERT INTO notices (member_id, kind, body, created_at) VALUES \
             (2, 'member.joined', '{}', 0), (2, 'member.level_changed', '{}', 0);\
         INSERT INTO deliveries (notice_id, target, next_attempt) VALUES \
             (1, 'https://a.test/hook', 0), (2, 'https://a.test/hook', 0);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();

    let store = Store::open(url).await.unwrap();
    let heads = store.due_deliveries(at(0), 100).await.unwrap();
    assert_eq!(
        queues(&heads),
        [(
            "https://a.test/hook".to_owned(),
            2,
            "member.joined".to_owned()
        )]
    );
    let head = heads[0].clone();
    let claim = store.claim_delivery(&head, at(60)).await.unwrap().unwrap();
    assert!(store.delivered(&claim, at(1)).await.unwrap());
    let next = head_of(&store, "https://a.test/hook", 2, at(1))
        .await
        .unwrap();
    assert_eq!(next.kind, "member.level_changed");

    // A replica of the old release, still running, writes a delivery without its member:
    // the workers give it one, and it queues behind that member's pending notice.
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO notices (member_id, kind, body, created_at) VALUES (2, 'member.expired', '{}', 0);\
             INSERT INTO deliveries (notice_id, target, next_attempt) VALUES (3, 'https://a.test/hook', 0);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    assert_eq!(store.queue_unqueued().await.unwrap(), 1);
    assert_eq!(store.queue_unqueued().await.unwrap(), 0);
    let heads = store.due_deliveries(at(1), 100).await.unwrap();
    assert_eq!(
        queues(&heads),
        [(
            "https://a.test/hook".to_owned(),
            2,
            "member.level_changed".to_owned()
        )],
        "the late one waits behind the pending one"
    );
}

/// Pending deliveries whose `next_attempt` has come by `now`, heads or not, read with SQL.
async fn pending_rows_due(url: &str, now: Timestamp) -> i64 {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM deliveries \
         WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt <= $1",
    )
    .bind(now.as_second())
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let count: i64 = row.try_get("n").unwrap();
    conn.close().await.unwrap();
    count
}

/// The head of one queue, if it is due at `now`.
async fn head_of(store: &Store, target: &str, member_id: i64, now: Timestamp) -> Option<Delivery> {
    store
        .due_deliveries(now, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.target == target && d.member_id == member_id)
}
