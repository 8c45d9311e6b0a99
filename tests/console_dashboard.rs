//! The dashboard's numbers, against the real edge and database: a history seeded through the
//! admin API (members joining, cancelling, going overdue and recovering across several weeks,
//! back-dated) and through signed Stripe events (monthly, yearly, payment-plan and euro
//! subscribers, a single purchase), the projection filled by the members' checks, then every
//! number on the page compared with a COUNT this test runs itself in SQL, and MRR and ARR with
//! amounts worked out by hand. SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)]

mod common;

use axum::http::StatusCode;
use common::Site;
use common::console::{self, OPERATOR, log_in};
use common::edge::TestEdge;
use common::servers::postgres_database;
use common::stripe::{Checkout, Invoice, SECRET, Shape, Subscription, apply, now, stripe_id};
use gatehouse::clock::Clock;
use gatehouse::server::Hidden;
use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::{Connection, Row};

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;
/// Monday 5 Jan 1970, 00:00 UTC: weeks start on Mondays.
const MONDAY: i64 = 345_600;

const GOLD_MONTHLY: &str = "price_demo_gold_monthly";
const GOLD_YEARLY: &str = "price_demo_gold_yearly";
const PLAN: &str = "price_demo_launch_workshop";
const GOLD_EURO: &str = "price_gold_monthly_eur";
/// Gold, monthly, in euros: MRR is shown per currency.
const EURO_PRODUCT: &str = r#"
[[products]]
id = "gold-monthly-eur"
name = "Gold, monthly (EUR)"
grants = "level:gold"
billing = "subscription"
interval = "1 month"
stripe_price = "price_gold_monthly_eur"
price = "17.00"
currency = "EUR"
"#;

fn ts(seconds: i64) -> String {
    Timestamp::from_second(seconds).unwrap().to_string()
}

/// The start of the week `weeks_ago` weeks before this one.
fn week_start(now: i64, weeks_ago: i64) -> i64 {
    let this = (now - MONDAY).div_euclid(WEEK);
    MONDAY + (this - weeks_ago) * WEEK
}

async fn start(url: Option<String>) -> (TestEdge, String) {
    let site: Site = console::site();
    let text = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write("site.toml", &format!("{text}{EURO_PRODUCT}"));
    let url =
        url.unwrap_or_else(|| format!("sqlite://{}", site.path(".gatehouse/members.db").display()));
    let edge = TestEdge::start_with(site, &url, |o| {
        o.stripe_secrets = Hidden(vec![SECRET.into()]);
    })
    .await;
    (edge, url)
}

async fn event(edge: &TestEdge, email: &str, event: Value) {
    edge.event(email, event).await;
}

/// Members with a back-dated history: `w(k, d)` is `d` days into the week `k` weeks ago.
async fn seed_history(edge: &TestEdge, now: i64) {
    let w = |weeks_ago: i64, days: i64| ts(week_start(now, weeks_ago) + days * DAY + 3600);
    let join = async |email: &str, level: &str, weeks_ago: i64| {
        edge.add_member(email, level, &w(weeks_ago, 2), None).await;
    };
    // Three join three weeks ago and stay.
    for email in ["a1@example.com", "a2@example.com", "a3@example.com"] {
        join(email, "gold", 3).await;
    }
    // Joins five weeks ago, cancels that week.
    join("b@example.com", "gold", 5).await;
    event(
        edge,
        "b@example.com",
        json!({ "type": "cancel", "at": w(5, 4) }),
    )
    .await;
    // An old member (before the 12 weeks) goes overdue four weeks ago, recovers two weeks ago.
    join("c@example.com", "gold", 14).await;
    event(
        edge,
        "c@example.com",
        json!({ "type": "overdue", "at": w(4, 1) }),
    )
    .await;
    event(
        edge,
        "c@example.com",
        json!({ "type": "recovered", "at": w(2, 3) }),
    )
    .await;
    // Cancels at a date six weeks ago; access ends three weeks ago, the week it counts in.
    join("d@example.com", "gold", 8).await;
    event(
        edge,
        "d@example.com",
        json!({ "type": "cancel", "at": w(6, 1), "until": w(3, 1) }),
    )
    .await;
    // A bundle bought nine weeks ago and cancelled last week.
    join("e@example.com", "silver", 10).await;
    event(
        edge,
        "e@example.com",
        json!({ "type": "bundle_add", "access": "bundle:pricing-course", "at": w(9, 0) }),
    )
    .await;
    event(
        edge,
        "e@example.com",
        json!({ "type": "bundle_cancel", "access": "bundle:pricing-course", "at": w(1, 1) }),
    )
    .await;
    // Goes overdue last week and stays so: lost within the 30 days.
    join("f@example.com", "gold", 9).await;
    event(
        edge,
        "f@example.com",
        json!({ "type": "overdue", "at": w(1, 4) }),
    )
    .await;
    // Cancelled seven weeks ago: lost, but before the 30 days.
    join("g@example.com", "gold", 11).await;
    event(
        edge,
        "g@example.com",
        json!({ "type": "cancel", "at": w(7, 0) }),
    )
    .await;
    // Cancels last week at a date still to come: pending-cancel, no cancel counted yet.
    join("h@example.com", "gold", 6).await;
    event(
        edge,
        "h@example.com",
        json!({ "type": "cancel", "at": w(1, 2), "until": ts(now + 10 * DAY) }),
    )
    .await;
    // Joined twelve weeks ago: one week before the charts begin.
    join("i@example.com", "free", 12).await;
    join("j@example.com", "free", 11).await;
}

/// Subscribers through Stripe: (email, price) → the subscription.
async fn subscribe(edge: &TestEdge, email: &str, price: &str) -> Subscription {
    let customer = stripe_id("cus");
    let sub = Subscription::new(&customer, price);
    let t = now() - 300;
    apply(edge, &sub.created_event(Shape::Basil, t)).await;
    let outcome = apply(
        edge,
        &Checkout::subscription(email, &customer, &sub.id).completed(Shape::Basil, t + 1),
    )
    .await;
    assert!(outcome.contains("granted"), "{outcome}");
    sub
}

/// The payers, and by hand what they bring in a month.
async fn seed_payers(edge: &TestEdge) {
    // USD: four gold monthly at 19.00 (one of them cancelling at the period's end, still
    // paying), two gold yearly at 190.00, one payment plan at 120.00 a month being paid.
    for email in ["m1@example.com", "m2@example.com", "m3@example.com"] {
        subscribe(edge, email, GOLD_MONTHLY).await;
    }
    let leaving = subscribe(edge, "m4@example.com", GOLD_MONTHLY).await;
    let update = leaving
        .with(|s| s.cancel_at_period_end = true)
        .updated_event(
            Shape::Basil,
            now() - 200,
            json!({ "cancel_at_period_end": false }),
        );
    assert!(apply(edge, &update).await.contains("pending cancel"));
    for email in ["y1@example.com", "y2@example.com"] {
        subscribe(edge, email, GOLD_YEARLY).await;
    }
    let paying = subscribe(edge, "p1@example.com", PLAN).await;
    let first = Invoice::paid(&paying, "p1@example.com", 12_000);
    assert!(
        apply(edge, &first.paid_event(Shape::Basil, now() - 100))
            .await
            .contains("payment 1 of 3")
    );
    // Not counted: a plan paid in full, a member gone overdue, a member whose access an
    // operator cancelled while Stripe still bills, a single purchase.
    let paid = subscribe(edge, "p2@example.com", PLAN).await;
    for n in 1..=3 {
        let invoice = Invoice::paid(&paid, "p2@example.com", 12_000);
        let outcome = apply(edge, &invoice.paid_event(Shape::Basil, now() - 100 + n)).await;
        assert!(outcome.contains(&format!("payment {n} of 3")), "{outcome}");
    }
    let late = subscribe(edge, "m5@example.com", GOLD_MONTHLY).await;
    let failed = Invoice::failed(&late, "m5@example.com", 1_900);
    assert!(
        apply(edge, &failed.failed_event(Shape::Basil, now() - 50))
            .await
            .contains("overdue")
    );
    subscribe(edge, "m6@example.com", GOLD_MONTHLY).await;
    edge.event("m6@example.com", json!({ "type": "cancel" }))
        .await;
    let course = Checkout::payment("s1@example.com", &stripe_id("cus")).with(|s| {
        s.metadata = json!({ "gatehouse_product": "pricing-course" });
    });
    apply(edge, &course.completed(Shape::Basil, now() - 40)).await;
    // EUR: one gold monthly at 17.00.
    subscribe(edge, "e1@example.com", GOLD_EURO).await;
}

/// The text of the element marked `data-stat="key"`.
fn stat(page: &str, key: &str) -> String {
    let marker = format!("data-stat=\"{key}\">");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} on the dashboard"))
        + marker.len();
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

fn number(page: &str, key: &str) -> i64 {
    stat(page, key).parse().unwrap()
}

/// A chart's bars: (week's first day, value), oldest first.
fn bars(page: &str, chart: &str) -> Vec<(String, i64)> {
    let start = page.find(&format!("data-chart=\"{chart}\"")).unwrap();
    let end = start + page[start..].find("</figure>").unwrap();
    page[start..end]
        .match_indices("<g data-week=\"")
        .map(|(at, marker)| {
            let rest = &page[start + at + marker.len()..];
            let week = rest[..10].to_owned();
            let value = rest.split("data-value=\"").nth(1).unwrap();
            (week, value[..value.find('"').unwrap()].parse().unwrap())
        })
        .collect()
}

fn day_of(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

async fn count(conn: &mut sqlx::AnyConnection, sql: &str, binds: &[i64]) -> i64 {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
    for bind in binds {
        query = query.bind(*bind);
    }
    query.fetch_one(conn).await.unwrap().get::<i64, _>("n")
}

/// Whether a member holds access now, as the test says it: any right active or pending-cancel.
const HOLDS: &str = "(m.member_id IN (SELECT member_id FROM member_state WHERE level_status IN ('active', 'pending-cancel')) \
                     OR m.member_id IN (SELECT member_id FROM member_bundles WHERE status IN ('active', 'pending-cancel')))";

async fn the_dashboard_counts_what_sql_counts(url: Option<String>) {
    let (edge, url) = start(url).await;
    let now = now();
    seed_history(&edge, now).await;
    seed_payers(&edge).await;
    // The projection is written by each member's check, as the edge's workers do.
    gatehouse::notify::check_due(&edge.store, &edge.state.config, &Clock::default(), false)
        .await
        .unwrap();

    let cookie = log_in(&edge, OPERATOR).await;
    let answer = edge.get("/admin/", Some(&cookie)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let page = answer.body;
    let shown_at = Timestamp::now().as_second();
    // The test's counts below are taken at `shown_at`: nothing in the history falls between.

    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();

    // MRR and ARR, by hand: USD 4 × 19.00 + 2 × 190.00 / 12 + 120.00 = 227.666…
    assert_eq!(stat(&page, "mrr-USD"), "227.67");
    assert_eq!(stat(&page, "arr-USD"), "2,732.00");
    assert_eq!(number(&page, "mrr-subscriptions-USD"), 7);
    assert_eq!(stat(&page, "mrr-EUR"), "17.00");
    assert_eq!(stat(&page, "arr-EUR"), "204.00");
    assert_eq!(number(&page, "mrr-subscriptions-EUR"), 1);
    assert!(!page.contains("data-stat=\"unpriced\""));

    // Members per level and bundle, and with each status.
    let members = count(&mut conn, "SELECT COUNT(*) AS n FROM members", &[]).await;
    assert_eq!(number(&page, "members"), members);
    assert_eq!(members, 12 + 12, "every seeded member");
    let holding = count(
        &mut conn,
        &format!("SELECT COUNT(*) AS n FROM member_state m WHERE {HOLDS}"),
        &[],
    )
    .await;
    assert_eq!(number(&page, "holding"), holding);
    for level in ["free", "silver", "gold"] {
        for status in [
            "active",
            "pending-cancel",
            "overdue",
            "cancelled",
            "expired",
            "revoked",
        ] {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM member_state WHERE level = '{level}' AND level_status = '{status}'"
            );
            let want = count(&mut conn, &sql, &[]).await;
            assert_eq!(
                number(&page, &format!("level-{level}-{status}")),
                want,
                "{level} {status}"
            );
        }
        let sql = format!(
            "SELECT COUNT(*) AS n FROM member_state WHERE level = '{level}' AND level_status IN ('active', 'pending-cancel')"
        );
        assert_eq!(
            number(&page, &format!("level-{level}")),
            count(&mut conn, &sql, &[]).await
        );
    }
    for bundle in ["pricing-course", "launch-workshop"] {
        for status in ["active", "cancelled"] {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM member_bundles WHERE bundle = '{bundle}' AND status = '{status}'"
            );
            let want = count(&mut conn, &sql, &[]).await;
            assert_eq!(
                number(&page, &format!("bundle-{bundle}-{status}")),
                want,
                "{bundle} {status}"
            );
        }
    }
    // By hand: both plan buyers hold the workshop (one paid in full); the course is held by
    // its buyer, and e@ cancelled theirs.
    assert_eq!(number(&page, "bundle-launch-workshop"), 2);
    assert_eq!(number(&page, "bundle-pricing-course"), 1);
    assert_eq!(number(&page, "bundle-pricing-course-cancelled"), 1);
    // m4 and h@ are cancelling at a date.
    assert_eq!(number(&page, "level-gold-pending-cancel"), 2);

    // The weekly charts: 12 weeks, this one last.
    for (chart, sql) in [
        (
            "joins",
            "SELECT COUNT(*) AS n FROM (SELECT member_id, MIN(at) AS first_at FROM events GROUP BY member_id) f \
             WHERE f.first_at >= $1 AND f.first_at < $2 AND f.first_at <= $3",
        ),
        (
            "cancels",
            "SELECT COUNT(DISTINCT member_id) AS n FROM events WHERE kind IN ('cancel', 'bundle_cancel') \
             AND COALESCE(until, at) >= $1 AND COALESCE(until, at) < $2 AND COALESCE(until, at) <= $3",
        ),
        (
            "overdue",
            "SELECT COUNT(DISTINCT member_id) AS n FROM events WHERE kind = 'overdue' \
             AND at >= $1 AND at < $2 AND at <= $3",
        ),
        (
            "recoveries",
            "SELECT COUNT(DISTINCT member_id) AS n FROM events WHERE kind = 'recovered' \
             AND at >= $1 AND at < $2 AND at <= $3",
        ),
    ] {
        let shown = bars(&page, chart);
        assert_eq!(shown.len(), 12, "{chart}");
        for (i, (week, value)) in shown.iter().enumerate() {
            let start = week_start(shown_at, 11 - i as i64);
            assert_eq!(week, &day_of(start), "{chart} bar {i}");
            let want = count(&mut conn, sql, &[start, start + WEEK, shown_at]).await;
            assert_eq!(*value, want, "{chart}, week of {week}");
        }
    }
    // By hand, in the weeks the history was written for.
    let value = |chart: &str, weeks_ago: usize| bars(&page, chart)[11 - weeks_ago].1;
    assert_eq!(value("joins", 3), 3);
    assert_eq!(value("joins", 11), 2, "g@ and j@");
    assert_eq!(value("cancels", 5), 1, "b@");
    assert_eq!(value("cancels", 3), 1, "d@, whose cancel took effect then");
    assert_eq!(value("cancels", 6), 0, "d@ asked then; nothing ended");
    assert_eq!(value("cancels", 1), 1, "e@'s bundle");
    assert_eq!(value("overdue", 4), 1);
    assert_eq!(value("overdue", 1), 1);
    assert_eq!(value("recoveries", 2), 1);
    assert!(page.contains("<title id=\"chart-joins-title\">Joins per week</title>"));

    // Churn over 30 days.
    let since = shown_at - 30 * DAY;
    let lost = count(
        &mut conn,
        &format!(
            "SELECT COUNT(*) AS n FROM member_state m WHERE NOT {HOLDS} AND m.member_id IN \
             (SELECT member_id FROM events WHERE kind IN ('cancel', 'bundle_cancel', 'overdue', 'expire', 'revoke') \
              AND COALESCE(until, at) > $1 AND COALESCE(until, at) <= $2)"
        ),
        &[since, shown_at],
    )
    .await;
    let kept = count(
        &mut conn,
        &format!(
            "SELECT COUNT(*) AS n FROM member_state m WHERE {HOLDS} AND m.member_id IN \
             (SELECT member_id FROM events GROUP BY member_id HAVING MIN(at) <= $1)"
        ),
        &[since],
    )
    .await;
    assert_eq!(number(&page, "churn-lost"), lost);
    assert_eq!(number(&page, "churn-held"), kept + lost);
    // By hand: d@ (pending cancel ended three weeks ago), f@ (overdue last week), m5 (overdue)
    // and m6 (cancelled by an operator) lost all access; b@ and g@ lost it before the 30 days.
    assert_eq!(lost, 4);
    let rate = (lost * 2000 + kept + lost) / (2 * (kept + lost));
    assert_eq!(
        stat(&page, "churn"),
        format!("{}.{}%", rate / 10, rate % 10)
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn the_dashboard_counts_what_sql_counts_on_sqlite() {
    the_dashboard_counts_what_sql_counts(None).await;
}

#[tokio::test]
async fn the_dashboard_counts_what_sql_counts_on_postgres() {
    let Some(url) = postgres_database().await else {
        return;
    };
    the_dashboard_counts_what_sql_counts(Some(url)).await;
}

/// The dashboard is the console's home: an operator's page, nobody else's.
#[tokio::test]
async fn the_dashboard_is_for_operators_only() {
    let (edge, _) = start(None).await;
    edge.add_member(
        "member@example.com",
        "gold",
        &ts(now() - DAY),
        Some("correct horse"),
    )
    .await;
    let member = edge.login("member@example.com", "correct horse").await;
    let page = edge.get("/admin/", Some(&member)).await;
    assert_eq!(page.status, StatusCode::OK, "the login form");
    assert!(!page.body.contains("data-stat"), "{}", page.body);
    let page = edge.get("/admin/", None).await;
    assert!(!page.body.contains("data-stat"), "{}", page.body);
    let cookie = log_in(&edge, OPERATOR).await;
    let page = edge.get("/admin/", Some(&cookie)).await;
    assert!(page.body.contains("data-stat=\"holding\""), "{}", page.body);
    // No subscription of a priced product yet.
    assert!(
        page.body.contains("data-stat=\"mrr-none\""),
        "{}",
        page.body
    );
}

/// The figures are reused for a few seconds, but a change made through the edge drops them.
#[tokio::test]
async fn a_change_through_the_edge_refreshes_the_reused_figures() {
    let (edge, _) = start(None).await;
    let cookie = log_in(&edge, OPERATOR).await;
    let clock = Clock::default();
    let recheck = || gatehouse::notify::check_due(&edge.store, &edge.state.config, &clock, false);
    edge.add_member("first@example.com", "gold", &ts(now() - DAY), None)
        .await;
    recheck().await.unwrap();
    let before = edge.get("/admin/", Some(&cookie)).await.body;
    assert_eq!(stat(&before, "members"), "1");
    edge.add_member("second@example.com", "gold", &ts(now() - DAY), None)
        .await;
    recheck().await.unwrap();
    let after = edge.get("/admin/", Some(&cookie)).await.body;
    assert_eq!(
        stat(&after, "members"),
        "2",
        "the new member counts at once"
    );
}
