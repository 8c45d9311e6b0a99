//! The operator console's members list (issue 17): the member projection written with each
//! standing, filters, email-prefix search, keyset pages, counts and the CSV export, against a
//! seeded set whose every member's standing the test knows, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::console::{self, OPERATOR, log_in};
use common::edge::TestEdge;
use common::servers::postgres_database;
use gatehouse::clock::Clock;
use gatehouse::store::{PageAt, PeopleFilter, PeopleOrder, PeopleSort, PersonRow};
use jiff::Timestamp;
use serde_json::json;
use sqlx::{Connection, Row};

/// More than two pages of 50.
const MEMBERS: i64 = 130;
const DAY: i64 = 86_400;

/// One seeded member, as the test made them.
#[derive(Debug, Clone)]
struct Person {
    id: i64,
    email: String,
    level: &'static str,
    status: &'static str,
    bundles: Vec<(String, String)>,
    joined: i64,
    seen: Option<i64>,
}

/// A member's projection: level, level status, joined, last seen, and (bundle, status).
type Projected = (
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Vec<(String, String)>,
);

struct Seeded {
    edge: TestEdge,
    url: String,
    cookie: String,
    people: Vec<Person>,
    /// Today's day number (Unix seconds / 86 400).
    today: i64,
}

fn day_text(day: i64) -> String {
    Timestamp::from_second(day * DAY)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

/// Member `i`'s standing, by rules the test's assertions also read: names cycle (ann, bob, cat,
/// dan), levels cycle (free, silver, gold), statuses cycle by threes (active twice, cancelled,
/// pending-cancel, overdue, expired), joined days come in pairs, bundles and last-seen days
/// follow other cycles.
fn plan(i: i64, today: i64) -> (String, &'static str, &'static str, i64, Option<i64>) {
    let name = ["ann", "bob", "cat", "dan"][(i % 4) as usize];
    let status = [
        "active",
        "active",
        "cancelled",
        "pending-cancel",
        "overdue",
        "expired",
    ][((i / 3) % 6) as usize];
    // Silver runs out into free: an expired right is shown on gold.
    let level = if status == "expired" {
        "gold"
    } else {
        ["free", "silver", "gold"][(i % 3) as usize]
    };
    let joined = (today - 1 - i / 2) * DAY + 12 * 3600;
    let seen = (i % 3 == 0).then(|| (today - i % 10) * DAY);
    (
        format!("{name}{i:03}@example.com"),
        level,
        status,
        joined,
        seen,
    )
}

async fn seed(edge: TestEdge, url: String) -> Seeded {
    let today = Timestamp::now().as_second().div_euclid(DAY);
    let mut people = Vec::new();
    for i in 0..MEMBERS {
        let (email, level, status, joined, seen) = plan(i, today);
        let since = Timestamp::from_second(joined).unwrap().to_string();
        edge.add_member(&email, level, &since, None).await;
        let access = format!("level:{level}");
        if matches!(status, "pending-cancel" | "overdue") {
            edge.event(
                &email,
                json!({ "type": "level_set", "access": access, "basis": "recurring", "at": since }),
            )
            .await;
        }
        let until = Timestamp::from_second((today + 30) * DAY)
            .unwrap()
            .to_string();
        let event = match status {
            "cancelled" => Some(json!({ "type": "cancel", "access": access })),
            "pending-cancel" => Some(json!({ "type": "cancel", "access": access, "until": until })),
            "overdue" => Some(json!({ "type": "overdue", "access": access })),
            "expired" => Some(json!({ "type": "expire", "access": access })),
            _ => None,
        };
        if let Some(event) = event {
            edge.event(&email, event).await;
        }
        let mut bundles = Vec::new();
        if i % 7 == 0 || i % 7 == 3 {
            edge.event(
                &email,
                json!({ "type": "bundle_add", "access": "bundle:pricing-course" }),
            )
            .await;
            let status = if i % 7 == 3 {
                edge.event(
                    &email,
                    json!({ "type": "bundle_cancel", "access": "bundle:pricing-course" }),
                )
                .await;
                "cancelled"
            } else {
                "active"
            };
            bundles.push(("pricing-course".to_owned(), status.to_owned()));
        }
        if i % 5 == 0 {
            edge.event(
                &email,
                json!({ "type": "bundle_add", "access": "bundle:launch-workshop" }),
            )
            .await;
            bundles.push(("launch-workshop".to_owned(), "active".to_owned()));
        }
        bundles.sort();
        let id = edge
            .store
            .member_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .id;
        if let Some(seen) = seen {
            edge.store
                .record_address(id, seen / DAY, &format!("h{i}"))
                .await
                .unwrap();
        }
        people.push(Person {
            id,
            email,
            level,
            status,
            bundles,
            joined,
            seen,
        });
    }
    check_all(&edge).await;
    let cookie = log_in(&edge, OPERATOR).await;
    Seeded {
        edge,
        url,
        cookie,
        people,
        today,
    }
}

/// Checks every member that is due, as the edge's workers do.
async fn check_all(edge: &TestEdge) {
    gatehouse::notify::check_due(&edge.store, &edge.state.config, &Clock::default(), false)
        .await
        .unwrap();
}

async fn sqlite() -> (TestEdge, String) {
    let site = console::site();
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    (TestEdge::start(site, &url).await, url)
}

async fn postgres() -> Option<(TestEdge, String)> {
    let url = postgres_database().await?;
    Some((TestEdge::start(console::site(), &url).await, url))
}

async fn sql(url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    sqlx::AnyConnection::connect(url).await.unwrap()
}

/// (level, level_status, joined_at, last_seen) and bundles of every member, read by SQL.
async fn projection(url: &str) -> BTreeMap<i64, Projected> {
    let mut conn = sql(url).await;
    let mut out = BTreeMap::new();
    for row in
        sqlx::query("SELECT member_id, level, level_status, joined_at, last_seen FROM member_state")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    {
        out.insert(
            row.get::<i64, _>("member_id"),
            (
                row.get("level"),
                row.get("level_status"),
                row.get("joined_at"),
                row.get("last_seen"),
                Vec::new(),
            ),
        );
    }
    for row in sqlx::query("SELECT member_id, bundle, status FROM member_bundles ORDER BY bundle")
        .fetch_all(&mut conn)
        .await
        .unwrap()
    {
        let id: i64 = row.get("member_id");
        out.get_mut(&id)
            .unwrap()
            .4
            .push((row.get("bundle"), row.get("status")));
    }
    conn.close().await.unwrap();
    out
}

fn expected(person: &Person) -> Projected {
    (
        Some(person.level.to_owned()),
        Some(person.status.to_owned()),
        Some(person.joined),
        person.seen,
        person.bundles.clone(),
    )
}

fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The emails of a list page's rows, in order.
fn emails(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("/admin/people/") {
        rest = &rest[at + "/admin/people/".len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with("\">") {
            let text = &rest[digits + 2..];
            out.push(unescape(&text[..text.find("</a>").unwrap()]));
        }
    }
    out
}

/// The path (under /_gate) of a page's `rel` link, if it has one.
fn link(html: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let href = unescape(&html[start..start + html[start..].find('"').unwrap()]);
    Some(href.strip_prefix("/_gate").unwrap().to_owned())
}

impl Seeded {
    /// Every page of `/admin/people?<query>`, following its next links.
    async fn pages(&self, query: &str) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut path = Some(format!("/admin/people?{query}"));
        while let Some(at) = path {
            let page = self.edge.get(&at, Some(&self.cookie)).await;
            assert_eq!(page.status, 200, "{at}: {}", page.body);
            pages.push(emails(&page.body));
            path = link(&page.body, "next");
            assert!(pages.len() <= MEMBERS as usize, "the next links never end");
        }
        pages
    }

    async fn listed(&self, query: &str) -> BTreeSet<String> {
        let pages = self.pages(query).await;
        let all: Vec<String> = pages.concat();
        let set: BTreeSet<String> = all.iter().cloned().collect();
        assert_eq!(set.len(), all.len(), "{query}: a member is listed twice");
        set
    }

    fn matching(&self, keep: impl Fn(&Person) -> bool) -> BTreeSet<String> {
        self.people
            .iter()
            .filter(|p| keep(p))
            .map(|p| p.email.clone())
            .collect()
    }
}

// ---- the projection ----

async fn projection_follows_each_standing(edge: TestEdge, url: String) {
    let seeded = seed(edge, url).await;
    let found = projection(&seeded.url).await;
    assert_eq!(found.len(), seeded.people.len());
    for person in &seeded.people {
        assert_eq!(found[&person.id], expected(person), "{}", person.email);
    }
    // Events after the first check: a level set, a bundle granted, one cancelled, and a
    // cancel, an overdue, each shows at the member's next check.
    let edge = &seeded.edge;
    let [a, b, c] = [&seeded.people[0], &seeded.people[1], &seeded.people[6]];
    edge.event(
        &a.email,
        json!({ "type": "level_set", "access": "level:silver" }),
    )
    .await;
    edge.event(
        &a.email,
        json!({ "type": "bundle_cancel", "access": "bundle:pricing-course" }),
    )
    .await;
    edge.event(
        &b.email,
        json!({ "type": "bundle_add", "access": "bundle:pricing-course" }),
    )
    .await;
    edge.event(
        &b.email,
        json!({ "type": "cancel", "access": "level:silver" }),
    )
    .await;
    edge.event(
        &c.email,
        json!({ "type": "level_set", "access": "level:gold", "basis": "recurring" }),
    )
    .await;
    edge.event(
        &c.email,
        json!({ "type": "overdue", "access": "level:gold" }),
    )
    .await;
    // Seen again: an older day leaves the newer one, a newer day moves it on.
    let today = seeded.today;
    edge.store
        .record_address(a.id, today - 20, "old")
        .await
        .unwrap();
    edge.store
        .record_address(c.id, today + 1, "new")
        .await
        .unwrap();
    check_all(edge).await;
    let found = projection(&seeded.url).await;
    let bundles = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(b, s)| ((*b).to_owned(), (*s).to_owned()))
            .collect()
    };
    assert_eq!(
        found[&a.id],
        (
            Some("silver".into()),
            Some("active".into()),
            Some(a.joined),
            a.seen,
            bundles(&[
                ("launch-workshop", "active"),
                ("pricing-course", "cancelled")
            ])
        )
    );
    assert_eq!(
        found[&b.id],
        (
            Some("silver".into()),
            Some("cancelled".into()),
            Some(b.joined),
            None,
            bundles(&[("pricing-course", "active")])
        )
    );
    assert_eq!(
        found[&c.id],
        (
            Some("gold".into()),
            Some("overdue".into()),
            Some(c.joined),
            Some((today + 1) * DAY),
            bundles(&[])
        )
    );
}

#[tokio::test]
async fn the_projection_follows_each_members_standing_on_sqlite() {
    let (edge, url) = sqlite().await;
    projection_follows_each_standing(edge, url).await;
}

#[tokio::test]
async fn the_projection_follows_each_members_standing_on_postgres() {
    let Some((edge, url)) = postgres().await else {
        return;
    };
    projection_follows_each_standing(edge, url).await;
}

/// As migration 5 leaves a database: every member due, the columns empty.
async fn a_recheck_fills_the_columns_and_announces_nothing(edge: TestEdge, url: String) {
    let seeded = seed(edge, url).await;
    let before = projection(&seeded.url).await;
    let mut conn = sql(&seeded.url).await;
    let count = async |conn: &mut sqlx::AnyConnection, table: &str| -> i64 {
        let text = match table {
            "notices" => "SELECT COUNT(*) AS n FROM notices",
            _ => "SELECT COUNT(*) AS n FROM deliveries",
        };
        sqlx::query(text).fetch_one(conn).await.unwrap().get("n")
    };
    let notices = count(&mut conn, "notices").await;
    let deliveries = count(&mut conn, "deliveries").await;
    assert!(notices > 0, "the seeding announced its members");
    sqlx::query(
        "UPDATE member_state SET next_check = 0, level = NULL, level_status = NULL, joined_at = NULL",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("DELETE FROM member_bundles")
        .execute(&mut conn)
        .await
        .unwrap();
    check_all(&seeded.edge).await;
    assert_eq!(projection(&seeded.url).await, before);
    assert_eq!(
        count(&mut conn, "notices").await,
        notices,
        "nothing new announced"
    );
    assert_eq!(count(&mut conn, "deliveries").await, deliveries);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_recheck_after_the_migration_announces_nothing_on_sqlite() {
    let (edge, url) = sqlite().await;
    a_recheck_fills_the_columns_and_announces_nothing(edge, url).await;
}

#[tokio::test]
async fn a_recheck_after_the_migration_announces_nothing_on_postgres() {
    let Some((edge, url)) = postgres().await else {
        return;
    };
    a_recheck_fills_the_columns_and_announces_nothing(edge, url).await;
}

// ---- filters, search, pages, counts ----

async fn filters_return_exactly_the_matching_members(seeded: &Seeded) {
    let today = seeded.today;
    let has = |p: &Person, bundle: &str, status: Option<&str>| {
        p.bundles
            .iter()
            .any(|(b, s)| b == bundle && status.is_none_or(|status| s == status))
    };
    let joined_from = day_text(today - 1 - 10);
    let joined_to = day_text(today - 1 - 5);
    let seen_from = day_text(today - 5);
    let seen_to = day_text(today - 2);
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        ("".into(), seeded.matching(|_| true)),
        ("level=gold".into(), seeded.matching(|p| p.level == "gold")),
        (
            "status=overdue".into(),
            seeded.matching(|p| p.status == "overdue"),
        ),
        (
            "level=silver&status=pending-cancel".into(),
            seeded.matching(|p| p.level == "silver" && p.status == "pending-cancel"),
        ),
        (
            "bundle=pricing-course".into(),
            seeded.matching(|p| has(p, "pricing-course", None)),
        ),
        (
            // With a bundle, the status is the bundle's.
            "bundle=pricing-course&status=cancelled".into(),
            seeded.matching(|p| has(p, "pricing-course", Some("cancelled"))),
        ),
        (
            "bundle=launch-workshop&level=free&status=active".into(),
            seeded.matching(|p| has(p, "launch-workshop", Some("active")) && p.level == "free"),
        ),
        (
            format!("joined_from={joined_from}&joined_to={joined_to}"),
            seeded.matching(|p| (5..=10).contains(&(today - 1 - p.joined / DAY))),
        ),
        (
            format!("seen_from={seen_from}&seen_to={seen_to}"),
            seeded.matching(|p| p.seen.is_some_and(|s| (2..=5).contains(&(today - s / DAY)))),
        ),
        (
            format!("seen_to={seen_to}&level=free"),
            seeded.matching(|p| p.seen.is_some_and(|s| today - s / DAY >= 2) && p.level == "free"),
        ),
        (
            "q=ann00".into(),
            seeded.matching(|p| p.email.starts_with("ann00")),
        ),
        (
            "q=+BOB1+".into(),
            seeded.matching(|p| p.email.starts_with("bob1")),
        ),
        (
            "q=cat&status=active&sort=email".into(),
            seeded.matching(|p| p.email.starts_with("cat") && p.status == "active"),
        ),
        (
            "q=dan&bundle=pricing-course&status=active".into(),
            seeded.matching(|p| {
                p.email.starts_with("dan") && has(p, "pricing-course", Some("active"))
            }),
        ),
        ("q=zed".into(), BTreeSet::new()),
    ];
    for (query, want) in cases {
        assert!(
            !want.is_empty() || query == "q=zed",
            "{query}: a case with members"
        );
        assert_eq!(seeded.listed(&query).await, want, "{query}");
    }
    let none = seeded
        .edge
        .get("/admin/people?q=zed", Some(&seeded.cookie))
        .await;
    assert!(none.body.contains("No member matches"), "{}", none.body);
}

/// Every order, both ways, through every start the store may pick: the same members in the
/// same order, with no repeat and no gap.
async fn pages_cover_the_set_in_every_order(seeded: &Seeded) {
    let key = |p: &Person, sort: &str| match sort {
        "email" => (0, p.email.clone()),
        "joined" => (p.joined, String::new()),
        _ => (p.seen.unwrap_or(0), String::new()),
    };
    for sort in ["email", "joined", "seen"] {
        for dir in ["asc", "desc"] {
            let mut want: Vec<&Person> = seeded.people.iter().collect();
            want.sort_by_key(|p| (key(p, sort), p.id));
            if dir == "desc" {
                want.reverse();
            }
            let want: Vec<String> = want.iter().map(|p| p.email.clone()).collect();
            let query = format!("sort={sort}&dir={dir}");
            let pages = seeded.pages(&query).await;
            assert!(pages.len() >= 3, "{query}: {} pages", pages.len());
            assert!(pages[..pages.len() - 1].iter().all(|p| p.len() == 50));
            assert_eq!(pages.concat(), want, "{query}");
            // And back from the last page by the previous links.
            let mut back = Vec::new();
            let mut path = Some(format!("/admin/people?{query}"));
            let mut last = None;
            while let Some(at) = path {
                let page = seeded.edge.get(&at, Some(&seeded.cookie)).await;
                path = link(&page.body, "next");
                last = Some(page.body);
            }
            let mut path = link(last.as_ref().unwrap(), "prev");
            back.push(emails(last.as_ref().unwrap()));
            while let Some(at) = path {
                let page = seeded.edge.get(&at, Some(&seeded.cookie)).await;
                back.push(emails(&page.body));
                path = link(&page.body, "prev");
            }
            back.reverse();
            assert_eq!(back, pages, "{query}: back by the previous links");
            // Through the store, from every start (the count it is given picks it).
            let order = PeopleOrder {
                sort: match sort {
                    "email" => PeopleSort::Email,
                    "joined" => PeopleSort::Joined,
                    _ => PeopleSort::LastSeen,
                },
                descending: dir == "desc",
            };
            for filter in store_filters(seeded.today) {
                let want: Vec<String> = want
                    .iter()
                    .filter(|email| {
                        let person = seeded.people.iter().find(|p| &&p.email == email);
                        model_matches(person.unwrap(), &filter)
                    })
                    .cloned()
                    .collect();
                assert!(!want.is_empty(), "{filter:?}");
                for matching in [0, i64::MAX] {
                    let said = format!("{sort} {dir} {filter:?} matching {matching}");
                    store_pages_cover(seeded, &filter, order, matching, &want, &said).await;
                }
            }
        }
    }
}

/// Filters for reading through the store: none, a bundle, a prefix, ranges that the cursor
/// narrows further, a level and status.
fn store_filters(today: i64) -> Vec<PeopleFilter> {
    vec![
        PeopleFilter::default(),
        PeopleFilter {
            bundle: Some("pricing-course".into()),
            ..PeopleFilter::default()
        },
        PeopleFilter {
            email_prefix: Some("a".into()),
            ..PeopleFilter::default()
        },
        PeopleFilter {
            joined_from: Some((today - 40) * DAY),
            joined_until: Some((today - 10) * DAY),
            seen_until: Some((today - 1) * DAY),
            ..PeopleFilter::default()
        },
        PeopleFilter {
            level: Some("free".into()),
            status: Some("active".into()),
            seen_from: Some((today - 6) * DAY),
            ..PeopleFilter::default()
        },
    ]
}

/// Whether a member matches a filter, by the filters' meaning (not the SQL's).
fn model_matches(p: &Person, f: &PeopleFilter) -> bool {
    let bundle = f
        .bundle
        .as_ref()
        .map(|id| p.bundles.iter().find(|(b, _)| b == id));
    let status = match bundle {
        Some(Some((_, status))) => Some(status.as_str()),
        Some(None) => return false,
        None => Some(p.status),
    };
    let within = |at: i64, from: Option<i64>, until: Option<i64>| {
        from.is_none_or(|from| at >= from) && until.is_none_or(|until| at < until)
    };
    let seen = match (f.seen_from, f.seen_until, p.seen) {
        (None, None, _) => true,
        (_, _, None) => false,
        (from, until, Some(seen)) => within(seen, from, until),
    };
    f.email_prefix
        .as_ref()
        .is_none_or(|q| p.email.starts_with(q.as_str()))
        && f.level.as_ref().is_none_or(|l| l == p.level)
        && f.status.as_deref().is_none_or(|s| Some(s) == status)
        && within(p.joined, f.joined_from, f.joined_until)
        && seen
}

/// Reads a filter's members through the store three ways, all in `want`'s order: in batches of
/// 7 as the export does, in pages of 10 forwards by `After`, and back again by `Before`.
async fn store_pages_cover(
    seeded: &Seeded,
    filter: &PeopleFilter,
    order: PeopleOrder,
    matching: i64,
    want: &[String],
    said: &str,
) {
    let store = &seeded.edge.store;
    let mut read: Vec<PersonRow> = Vec::new();
    loop {
        let batch = store
            .people_after(filter, order, read.last(), matching, 7)
            .await
            .unwrap();
        let done = batch.len() < 7;
        read.extend(batch);
        if done {
            break;
        }
    }
    let emails = |rows: &[PersonRow]| rows.iter().map(|r| r.email.clone()).collect::<Vec<_>>();
    assert_eq!(emails(&read), want, "{said}: by batches");
    let mut pages = vec![
        store
            .people_page(filter, order, PageAt::First, matching, 10)
            .await
            .unwrap(),
    ];
    while pages.last().unwrap().more_after {
        let last = pages.last().unwrap().rows.last().unwrap().id;
        pages.push(
            store
                .people_page(filter, order, PageAt::After(last), matching, 10)
                .await
                .unwrap(),
        );
        assert!(pages.len() <= want.len(), "{said}: no end");
    }
    assert!(!pages[0].more_before, "{said}");
    let forwards: Vec<Vec<String>> = pages.iter().map(|p| emails(&p.rows)).collect();
    assert_eq!(forwards.concat(), want, "{said}: by pages");
    let mut backwards = vec![forwards.last().unwrap().clone()];
    let mut first = pages.last().unwrap().rows[0].id;
    loop {
        let page = store
            .people_page(filter, order, PageAt::Before(first), matching, 10)
            .await
            .unwrap();
        if page.rows.is_empty() {
            break;
        }
        assert!(page.more_after, "{said}");
        first = page.rows[0].id;
        backwards.push(emails(&page.rows));
        if !page.more_before {
            break;
        }
    }
    backwards.reverse();
    assert_eq!(backwards, forwards, "{said}: back by pages");
}

/// The counts at the top equal counts made here in SQL.
async fn counts_equal_a_sql_count(seeded: &Seeded) {
    let mut conn = sql(&seeded.url).await;
    let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM members")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n");
    let gold: Vec<(String, i64)> = sqlx::query(
        "SELECT level_status AS s, COUNT(*) AS n FROM member_state WHERE level = 'gold' GROUP BY level_status ORDER BY level_status",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|row| (row.get("s"), row.get("n")))
    .collect();
    let course: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM member_bundles b JOIN member_state s ON s.member_id = b.member_id \
         WHERE b.bundle = 'pricing-course' AND b.status = 'active' AND s.level = 'silver'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
    .get("n");
    conn.close().await.unwrap();
    assert_eq!(total, MEMBERS);
    let page = seeded.edge.get("/admin/people", Some(&seeded.cookie)).await;
    assert!(
        page.body.contains(&format!("{MEMBERS} members")),
        "{}",
        page.body
    );
    let page = seeded
        .edge
        .get("/admin/people?level=gold", Some(&seeded.cookie))
        .await;
    let sum: i64 = gold.iter().map(|(_, n)| n).sum();
    assert!(
        page.body.contains(&format!("{sum} members")),
        "{}",
        page.body
    );
    for (status, n) in &gold {
        assert!(
            page.body.contains(&format!("{status}: {n}</a>")),
            "{status}: {n}"
        );
    }
    let counts = seeded
        .edge
        .store
        .people_counts(&PeopleFilter {
            level: Some("gold".into()),
            status: Some("overdue".into()),
            ..PeopleFilter::default()
        })
        .await
        .unwrap();
    let by_status: Vec<(String, i64)> = counts
        .by_status
        .iter()
        .map(|(s, n)| (s.clone().unwrap(), *n))
        .collect();
    assert_eq!(by_status, gold);
    let overdue = gold.iter().find(|(s, _)| s == "overdue").unwrap().1;
    assert_eq!(counts.matching, overdue);
    let page = seeded
        .edge
        .get(
            "/admin/people?level=silver&bundle=pricing-course&status=active",
            Some(&seeded.cookie),
        )
        .await;
    assert!(
        page.body.contains(&format!("{course} member")),
        "{}",
        page.body
    );
}

async fn the_list(seeded: Seeded) {
    filters_return_exactly_the_matching_members(&seeded).await;
    pages_cover_the_set_in_every_order(&seeded).await;
    counts_equal_a_sql_count(&seeded).await;
}

#[tokio::test]
async fn filters_search_pages_and_counts_on_sqlite() {
    let (edge, url) = sqlite().await;
    the_list(seed(edge, url).await).await;
}

#[tokio::test]
async fn filters_search_pages_and_counts_on_postgres() {
    let Some((edge, url)) = postgres().await else {
        return;
    };
    the_list(seed(edge, url).await).await;
}

// ---- export, bad filters, refusals ----

#[tokio::test]
async fn the_csv_holds_exactly_the_filtered_set_and_is_audited() {
    let (edge, url) = sqlite().await;
    let seeded = seed(edge, url).await;
    let answer = seeded
        .edge
        .get(
            "/admin/people.csv?level=gold&status=active&sort=email",
            Some(&seeded.cookie),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer
            .header("content-type")
            .unwrap()
            .starts_with("text/csv")
    );
    let disposition = answer.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"members-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let mut lines = answer.body.lines();
    assert_eq!(
        lines.next(),
        Some("email,level,level_status,bundles,joined,last_seen")
    );
    let mut want: Vec<&Person> = seeded
        .people
        .iter()
        .filter(|p| p.level == "gold" && p.status == "active")
        .collect();
    want.sort_by(|a, b| a.email.cmp(&b.email));
    let want: Vec<String> = want
        .iter()
        .map(|p| {
            let bundles: Vec<String> = p.bundles.iter().map(|(b, s)| format!("{b}:{s}")).collect();
            format!(
                "{},gold,active,{},{},{}",
                p.email,
                bundles.join(" "),
                day_text(p.joined / DAY),
                p.seen.map(|s| day_text(s / DAY)).unwrap_or_default()
            )
        })
        .collect();
    assert!(want.len() > 5);
    assert_eq!(lines.map(str::to_owned).collect::<Vec<_>>(), want);
    let audit = seeded
        .edge
        .store
        .audit_entries(None, None, 10)
        .await
        .unwrap();
    let export = audit
        .iter()
        .find(|e| e.action == "export")
        .expect("an export entry");
    assert_eq!(export.operator, OPERATOR);
    let detail: serde_json::Value = serde_json::from_str(&export.detail).unwrap();
    assert_eq!(detail["filters"]["level"], "gold");
    assert_eq!(detail["filters"]["status"], "active");
    assert_eq!(detail["rows"], want.len());
    // The whole list, past one batch of the stream's reading? All 130, once each.
    let all = seeded
        .edge
        .get("/admin/people.csv", Some(&seeded.cookie))
        .await;
    let emails: BTreeSet<&str> = all
        .body
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(emails.len(), MEMBERS as usize);
    assert_eq!(all.body.lines().count(), MEMBERS as usize + 1);
}

#[tokio::test]
async fn a_bad_filter_gets_a_clear_message_not_a_failure() {
    let edge = console::sqlite_edge().await;
    let cookie = log_in(&edge, OPERATOR).await;
    for (query, says) in [
        (
            "level=platinum",
            "There is no level `platinum`: the levels are free, silver, gold.",
        ),
        ("bundle=nope", "There is no bundle `nope`"),
        ("status=gone", "There is no status `gone`"),
        (
            "joined_from=2027-13-01",
            "`2027-13-01` is not a joined date: write it as YYYY-MM-DD.",
        ),
        ("seen_to=yesterday", "`yesterday` is not a last seen date"),
        (
            "joined_from=2027-02-01&joined_to=2027-01-01",
            "ends before it starts",
        ),
        ("sort=password", "cannot be sorted by `password`"),
        ("after=1x", "This page link is damaged"),
        ("level=gold&level=free", "cannot be read"),
    ] {
        let page = edge
            .get(&format!("/admin/people?{query}"), Some(&cookie))
            .await;
        assert_eq!(page.status, 400, "{query}");
        assert!(
            unescape(&page.body).contains(says),
            "{query}: {}",
            page.body
        );
        assert!(
            page.body.contains("<form"),
            "{query}: the form is still there"
        );
        let csv = edge
            .get(&format!("/admin/people.csv?{query}"), Some(&cookie))
            .await;
        assert_eq!(csv.status, 400, "{query}");
        assert!(unescape(&csv.body).contains(says), "{query}: {}", csv.body);
    }
    let audit = edge.store.audit_entries(None, None, 50).await.unwrap();
    assert!(
        audit.iter().all(|e| e.action != "export"),
        "a refused export is not one"
    );
}

#[tokio::test]
async fn a_members_session_or_none_gets_no_list_and_no_csv() {
    let edge = console::sqlite_edge().await;
    edge.add_member(
        OPERATOR,
        "gold",
        "2026-01-01T00:00:00Z",
        Some("correct horse battery"),
    )
    .await;
    edge.add_member("ann@example.com", "gold", "2026-01-01T00:00:00Z", None)
        .await;
    check_all(&edge).await;
    let member = edge.login(OPERATOR, "correct horse battery").await;
    for cookie in [Some(member.as_str()), None] {
        for path in ["/admin/people", "/admin/people.csv", "/admin/people?q=ann"] {
            let answer = edge.get(path, cookie).await;
            assert_eq!(answer.status, 303, "{path} {cookie:?}");
            assert_eq!(answer.header("location").as_deref(), Some("/_gate/admin/"));
            assert!(!answer.body.contains("ann@example.com"));
        }
    }
    let audit = edge.store.audit_entries(None, None, 50).await.unwrap();
    assert!(audit.is_empty(), "{audit:?}");
    // The operator sees the list.
    let cookie = log_in(&edge, OPERATOR).await;
    let page = edge.get("/admin/people", Some(&cookie)).await;
    assert_eq!(emails(&page.body).len(), 2, "{}", page.body);
}
