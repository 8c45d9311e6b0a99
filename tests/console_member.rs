//! One member's page in the operator console (issue 17): rights in words, the timeline with
//! sources, the sharing signal, each action and its effect on the member's real `/keys`, the
//! audit log, and "view the site as this member". Members, strangers and forms without the
//! session's CSRF token change nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Method;
use common::console::{self, OPERATOR, csrf, form, log_in, post_form};
use common::edge::{Answer, TestEdge};
use gatehouse::gate::{MasterSecret, Rule, derive_key};
use jiff::Timestamp;
use serde_json::{Value, json};

const COURSE: &str = "level=-;bundles=pricing-course;drip=0";
const GOLD: &str = "level=gold;bundles=-;drip=0";
const PASSWORD: &str = "correct horse battery";
const ANN: &str = "ann@example.com";
const BEN: &str = "ben@example.com";

fn gate(rule: &str) -> String {
    Rule::parse(rule).unwrap().gate_id().as_str().to_owned()
}

fn course_key() -> String {
    let secret = MasterSecret::from_base64url(common::SECRET_B64).unwrap();
    derive_key(&secret, 1, &Rule::parse(COURSE).unwrap()).to_base64url()
}

/// "12 Jan 2027", as the console writes dates.
fn words_date(at: Timestamp) -> String {
    at.strftime("%-d %b %Y").to_string()
}

fn days_from_now(days: i64) -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second() + days * 86_400).unwrap()
}

/// An operator logged in at the console, with the session's CSRF token.
struct Operator<'a> {
    edge: &'a TestEdge,
    cookie: String,
    csrf: String,
}

impl<'a> Operator<'a> {
    async fn log_in(edge: &'a TestEdge) -> Operator<'a> {
        let cookie = log_in(edge, OPERATOR).await;
        let home = edge.get("/admin/", Some(&cookie)).await;
        Operator {
            edge,
            csrf: csrf(&home.body),
            cookie,
        }
    }

    async fn page(&self, id: i64) -> Answer {
        self.edge
            .get(&format!("/admin/people/{id}"), Some(&self.cookie))
            .await
    }

    /// Posts an action's form with the CSRF token.
    async fn act(&self, id: i64, action: &str, pairs: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(pairs);
        post_form(
            self.edge,
            &format!("/admin/people/{id}/{action}"),
            &form(&all),
            Some(&self.cookie),
        )
        .await
    }

    /// Posts an action that must succeed: a 303 back to the member's page.
    async fn done(&self, id: i64, action: &str, pairs: &[(&str, &str)]) -> Answer {
        let answer = self.act(id, action, pairs).await;
        assert_eq!(answer.status, 303, "{action}: {}", answer.body);
        let location = answer.header("location").unwrap();
        assert!(
            location.starts_with(&format!("/_gate/admin/people/{id}?done=")),
            "{location}"
        );
        answer
    }
}

async fn member_id(edge: &TestEdge, email: &str) -> i64 {
    edge.store.member_by_email(email).await.unwrap().unwrap().id
}

/// The member as the admin API shows them (standing and history).
async fn shown(edge: &TestEdge, email: &str) -> Value {
    edge.admin_get(&format!("/admin/members/{email}"))
        .await
        .json()
}

fn right<'v>(member: &'v Value, id: &str) -> &'v Value {
    let standing = &member["standing"];
    if standing["level"]["id"] == id {
        return &standing["level"];
    }
    standing["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .unwrap_or_else(|| panic!("no right {id} in {standing}"))
}

/// The page's text with tags dropped and whitespace folded, to find sentences across tags.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The main flow: an operator grants a bundle on the member's page, and the member's very
/// next `/keys` opens that bundle's gate; the timeline and the audit log name the operator.
async fn a_granted_bundle_opens_at_once(edge: &TestEdge) {
    edge.add_member(ANN, "free", "2026-01-01T00:00:00Z", Some(PASSWORD))
        .await;
    let member = edge.login(ANN, PASSWORD).await;
    let before = edge.keys(&[COURSE], Some(&member)).await.json();
    assert_eq!(
        before["locked"][gate(COURSE)]["reason"],
        "bundle",
        "{before}"
    );

    let operator = Operator::log_in(edge).await;
    let id = member_id(edge, ANN).await;
    let page = operator.page(id).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(ANN));
    let granted = operator
        .done(id, "bundle", &[("bundle", "pricing-course")])
        .await;

    let after = edge.keys(&[COURSE], Some(&member)).await.json();
    assert_eq!(after["keys"][gate(COURSE)], course_key(), "{after}");

    let back = granted.header("location").unwrap();
    let page = edge
        .get(back.strip_prefix("/_gate").unwrap(), Some(&operator.cookie))
        .await;
    let words = text(&page.body);
    assert!(
        words.contains("Bundle granted."),
        "the flash says what happened"
    );
    assert!(
        words.contains("Bundle added: Pricing Course"),
        "the timeline shows the event: {words}"
    );
    assert!(
        words.contains(&format!("by admin:{OPERATOR}")),
        "with the operator as its source: {words}"
    );
    let history = shown(edge, ANN).await["history"].clone();
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["type"], "bundle_add");
    assert_eq!(last["source"], format!("admin:{OPERATOR}"));

    let audit = edge.get("/admin/audit", Some(&operator.cookie)).await;
    let rows = text(&audit.body);
    assert!(
        rows.contains(&format!("{OPERATOR} bundle_add {ANN}")),
        "the audit log names the operator, the action and the member: {rows}"
    );
    assert!(
        page.body.contains("bundle:pricing-course"),
        "the member's page lists the audit entry with what changed"
    );
}

#[tokio::test]
async fn a_bundle_granted_on_the_page_opens_the_members_gate_at_once() {
    let edge = console::sqlite_edge().await;
    a_granted_bundle_opens_at_once(&edge).await;
}

#[tokio::test]
async fn a_bundle_granted_on_the_page_opens_the_members_gate_at_once_on_postgres() {
    let Some(url) = common::servers::postgres_database().await else {
        return;
    };
    let edge = TestEdge::start(console::site(), &url).await;
    a_granted_bundle_opens_at_once(&edge).await;
}

#[tokio::test]
async fn each_action_has_its_effect_and_rights_read_in_words() {
    let edge = console::sqlite_edge().await;
    edge.add_member(ANN, "gold", "2026-01-01T00:00:00Z", Some(PASSWORD))
        .await;
    let operator = Operator::log_in(&edge).await;
    let id = member_id(&edge, ANN).await;
    let today = words_date(Timestamp::now());

    // Cancel at a date: gold is sold by subscription, so it stays open until then.
    let until = days_from_now(40);
    let until_text = until.strftime("%Y-%m-%d").to_string();
    operator
        .done(
            id,
            "cancel",
            &[("access", "level:gold"), ("until", &until_text)],
        )
        .await;
    let gold = right(&shown(&edge, ANN).await, "gold").clone();
    assert_eq!(gold["status"], "pending-cancel", "{gold}");
    let page = text(&operator.page(id).await.body);
    let midnight = jiff::civil::Date::strptime("%Y-%m-%d", &until_text)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    assert!(
        page.contains(&format!(
            "Gold — pending cancel until {}",
            words_date(midnight)
        )),
        "{page}"
    );

    // Overdue, then recovered.
    edge.event(ANN, json!({ "type": "overdue" })).await;
    let page = text(&operator.page(id).await.body);
    assert!(
        page.contains(&format!(
            "Gold — overdue since {today}: access paused until payment recovers"
        )),
        "{page}"
    );
    operator
        .done(id, "recovered", &[("access", "level:gold")])
        .await;
    assert_eq!(right(&shown(&edge, ANN).await, "gold")["status"], "active");

    // Set the level: silver is a one-year pass, so the page says when it expires.
    operator.done(id, "level", &[("level", "silver")]).await;
    let silver = right(&shown(&edge, ANN).await, "silver").clone();
    assert_eq!(silver["status"], "active");
    let expires: Timestamp = silver["expires_at"].as_str().unwrap().parse().unwrap();
    let page = text(&operator.page(id).await.body);
    assert!(
        page.contains(&format!(
            "Silver — active since {today}. Expires {}",
            words_date(expires)
        )),
        "{page}"
    );

    // Grant a bundle, then cancel it: a single purchase cancels at once.
    operator
        .done(id, "bundle", &[("bundle", "pricing-course")])
        .await;
    operator
        .done(id, "cancel", &[("access", "bundle:pricing-course")])
        .await;
    let course = right(&shown(&edge, ANN).await, "pricing-course").clone();
    assert_eq!(course["status"], "cancelled", "{course}");
    assert!(
        text(&operator.page(id).await.body)
            .contains(&format!("Pricing Course — cancelled on {today}"))
    );

    // Complimentary access.
    operator
        .done(id, "complimentary", &[("access", "bundle:launch-workshop")])
        .await;
    let workshop = right(&shown(&edge, ANN).await, "launch-workshop").clone();
    assert_eq!(
        (&workshop["status"], &workshop["basis"]),
        (&json!("active"), &json!("complimentary"))
    );
    let page = text(&operator.page(id).await.body);
    assert!(
        page.contains(&format!(
            "Launch Workshop — complimentary, active since {today}"
        )),
        "{page}"
    );

    // Every one of these is in the member's history as the operator's, and in the audit log.
    let history = shown(&edge, ANN).await["history"].clone();
    let by_operator: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == format!("admin:{OPERATOR}"))
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        by_operator,
        [
            "cancel",
            "recovered",
            "level_set",
            "bundle_add",
            "bundle_cancel",
            "complimentary"
        ]
    );
    let audit = edge.store.audit_entries(None, None, 100).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .filter(|e| e.member_id == Some(id))
        .map(|e| e.action.as_str())
        .rev()
        .collect();
    assert_eq!(
        actions,
        [
            "cancel",
            "recovered",
            "level_set",
            "bundle_add",
            "bundle_cancel",
            "complimentary"
        ]
    );
    assert!(audit.iter().all(|e| e.operator == OPERATOR));
    let first = audit.iter().rfind(|e| e.member_id == Some(id)).unwrap();
    let cancel: Value = serde_json::from_str(&first.detail).unwrap();
    assert_eq!(cancel["before"]["status"], "active", "{cancel}");
    assert_eq!(cancel["after"]["status"], "pending-cancel", "{cancel}");
}

#[tokio::test]
async fn log_out_everywhere_ends_the_members_sessions_and_a_login_link_is_mailed() {
    let edge = console::sqlite_edge().await;
    edge.add_member(ANN, "gold", "2026-01-01T00:00:00Z", Some(PASSWORD))
        .await;
    let phone = edge.login(ANN, PASSWORD).await;
    let laptop = edge.login(ANN, PASSWORD).await;
    assert_eq!(edge.get("/me", Some(&phone)).await.status, 200);
    let operator = Operator::log_in(&edge).await;
    let id = member_id(&edge, ANN).await;
    let mails_before = edge.outbox().len();

    operator.done(id, "logout", &[]).await;
    for cookie in [&phone, &laptop] {
        assert_eq!(edge.get("/me", Some(cookie)).await.status, 401);
        let keys = edge.keys(&[GOLD], Some(cookie)).await.json();
        assert_eq!(keys["locked"][gate(GOLD)]["reason"], "login", "{keys}");
    }

    operator.done(id, "login-link", &[]).await;
    let mails = edge.wait_for_outbox(mails_before + 1).await;
    let mail = mails.last().unwrap();
    assert!(mail.contains(&format!("To: {ANN}")), "{mail}");
    // The link is the members' own: it logs the member in.
    let token = common::edge::token_from_mail(mail);
    let used = post_form(&edge, "/auth", &format!("token={token}"), None).await;
    assert_eq!(used.status, 303, "{}", used.body);
    let session = used.session_cookie().unwrap();
    assert_eq!(edge.get("/me", Some(&session)).await.json()["email"], ANN);

    let actions: Vec<String> = edge
        .store
        .audit_entries(None, None, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.member_id == Some(id))
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["login_link", "logout_everywhere"]);
}

#[tokio::test]
async fn bad_actions_are_refused_with_a_reason_and_change_nothing() {
    let edge = console::sqlite_edge().await;
    edge.add_member(ANN, "gold", "2026-01-01T00:00:00Z", None)
        .await;
    edge.event(
        ANN,
        json!({ "type": "bundle_add", "access": "bundle:pricing-course" }),
    )
    .await;
    let operator = Operator::log_in(&edge).await;
    let id = member_id(&edge, ANN).await;
    let history_before = shown(&edge, ANN).await["history"].clone();
    let yesterday = days_from_now(-1).strftime("%Y-%m-%d").to_string();
    let later = days_from_now(20).strftime("%Y-%m-%d").to_string();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case; 7] = [
        ("level", vec![("level", "platinum")], "unknown access"),
        (
            "bundle",
            vec![("bundle", "no-such-course")],
            "unknown access",
        ),
        (
            "cancel",
            vec![("access", "level:gold"), ("until", "next tuesday")],
            "is not a date or time",
        ),
        (
            "cancel",
            vec![("access", "level:gold"), ("until", &yesterday)],
            "the date to cancel at has passed",
        ),
        (
            // A single purchase ends at once: the admin API's own reason.
            "cancel",
            vec![("access", "bundle:pricing-course"), ("until", &later)],
            "so a cancel ends it at once",
        ),
        (
            "recovered",
            vec![("access", "level:gold")],
            "Gold is not overdue",
        ),
        (
            "cancel",
            vec![("access", "bundle:launch-workshop")],
            "does not hold Launch Workshop",
        ),
    ];
    for (action, pairs, reason) in cases {
        let answer = operator.act(id, action, &pairs).await;
        assert_eq!(answer.status, 400, "{action} {pairs:?}: {}", answer.body);
        assert!(
            text(&answer.body).contains(reason),
            "{action} {pairs:?} says why ({reason}): {}",
            text(&answer.body)
        );
        assert!(answer.body.contains(ANN), "the member's page again");
    }
    assert_eq!(shown(&edge, ANN).await["history"], history_before);
    let audited = edge.store.audit_entries(None, None, 100).await.unwrap();
    assert!(
        audited.iter().all(|e| e.member_id != Some(id)),
        "{audited:?}"
    );
}

#[tokio::test]
async fn days_above_the_sharing_threshold_are_flagged() {
    let edge = console::sqlite_edge().await;
    edge.add_member(ANN, "gold", "2026-01-01T00:00:00Z", None)
        .await;
    edge.add_member(BEN, "gold", "2026-01-01T00:00:00Z", None)
        .await;
    let (ann, ben) = (member_id(&edge, ANN).await, member_id(&edge, BEN).await);
    let today = Timestamp::now().as_second().div_euclid(86_400);
    let threshold = edge.state.config.admin.sharing_threshold;
    // Ann: one address more than the threshold today; Ben: exactly the threshold.
    for n in 0..=threshold {
        edge.store
            .record_address(ann, today, &format!("ann-{n}"))
            .await
            .unwrap();
    }
    for n in 0..threshold {
        edge.store
            .record_address(ben, today - 1, &format!("ben-{n}"))
            .await
            .unwrap();
    }
    // Older than 30 days: not shown.
    for n in 0..=threshold {
        edge.store
            .record_address(ben, today - 45, &format!("old-{n}"))
            .await
            .unwrap();
    }
    let operator = Operator::log_in(&edge).await;
    let ann_page = text(&operator.page(ann).await.body);
    let ben_page = text(&operator.page(ben).await.body);
    let today_words = words_date(Timestamp::from_second(today * 86_400).unwrap());
    assert!(
        ann_page.contains(&format!(
            "{today_words}: {} — possible shared account",
            threshold + 1
        )),
        "{ann_page}"
    );
    assert!(ann_page.contains("Possible shared account"));
    assert!(ben_page.contains(&format!(": {threshold}")), "{ben_page}");
    assert!(
        !ben_page.to_lowercase().contains("possible shared account"),
        "{ben_page}"
    );
}

/// `[__Secure-]gh_preview=<token>` from an answer's Set-Cookie.
fn preview_cookie(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(|pair| pair.trim().to_owned())
        .find(|pair| {
            pair.split_once('=')
                .is_some_and(|(name, value)| name.ends_with("gh_preview") && !value.is_empty())
        })
}

/// A request from a real client address, so `note_address` has one to note.
async fn get_from(edge: &TestEdge, path: &str, cookie: Option<&str>) -> Answer {
    let mut request = TestEdge::request(Method::GET, path, cookie)
        .body(Body::empty())
        .unwrap();
    let peer: SocketAddr = "203.0.113.9:4000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    edge.send(request).await
}

#[tokio::test]
async fn a_preview_answers_keys_and_me_as_the_member_until_it_ends() {
    let edge = console::sqlite_edge().await;
    edge.add_member(ANN, "gold", "2026-01-01T00:00:00Z", Some(PASSWORD))
        .await;
    edge.event(
        ANN,
        json!({ "type": "bundle_add", "access": "bundle:pricing-course" }),
    )
    .await;
    edge.add_member(BEN, "free", "2026-01-01T00:00:00Z", Some(PASSWORD))
        .await;
    let ann_session = edge.login(ANN, PASSWORD).await;
    let ben_session = edge.login(BEN, PASSWORD).await;
    let operator = Operator::log_in(&edge).await;
    let id = member_id(&edge, ANN).await;

    let started = operator.done(id, "preview", &[]).await;
    let set = started
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.contains("gh_preview="))
        .unwrap();
    assert!(set.starts_with("__Secure-gh_preview="), "{set}");
    for part in [
        "Path=/_gate;",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=1800",
        "Secure",
    ] {
        assert!(set.contains(part), "{part} in {set}");
    }
    let preview = preview_cookie(&started).unwrap();
    let page = edge
        .get(
            &format!("/admin/people/{id}?done=preview"),
            Some(&format!("{}; {preview}", operator.cookie)),
        )
        .await;
    assert!(
        page.body
            .contains("href=\"https://academy.example.com\" target=\"_blank\" rel=\"noopener\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("End preview"));

    // /keys answers exactly as Ann's own session, even beside Ben's session.
    let rules = [COURSE, GOLD, "level=gold;bundles=-;drip=604800"];
    let own = edge.keys(&rules, Some(&ann_session)).await.json();
    assert!(own["keys"][gate(COURSE)].is_string(), "{own}");
    let previewed = edge.keys(&rules, Some(&preview)).await.json();
    assert_eq!(previewed, own);
    let beside_ben = edge
        .keys(&rules, Some(&format!("{ben_session}; {preview}")))
        .await
        .json();
    assert_eq!(beside_ben, own);
    let ben_own = edge.keys(&rules, Some(&ben_session)).await.json();
    assert_ne!(ben_own, own, "the comparison can tell members apart");

    // /me answers as Ann, marked, and notes no address for her.
    let me = get_from(&edge, "/me", Some(&preview)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let me = me.json();
    assert_eq!((&me["email"], &me["preview"]), (&json!(ANN), &json!(true)));
    let today = Timestamp::now().as_second().div_euclid(86_400);
    assert!(
        edge.store
            .addresses_per_day_since(id, today - 1)
            .await
            .unwrap()
            .is_empty()
    );
    get_from(&edge, "/me", Some(&ann_session)).await;
    assert_eq!(
        edge.store
            .addresses_per_day_since(id, today - 1)
            .await
            .unwrap()
            .len(),
        1,
        "Ann's own /me notes her address: the check above can fail"
    );
    assert!(get_from(&edge, "/me", Some(&ann_session)).await.json()["preview"].is_null());

    // A preview cookie is no member session: it logs no one out.
    let out = post_form(&edge, "/logout/everywhere", "", Some(&preview)).await;
    assert_eq!(out.status, 401, "{}", out.body);
    assert_eq!(edge.keys(&rules, Some(&ann_session)).await.json(), own);

    // Ended: the browser's own session answers again (or none).
    let end = post_form(
        &edge,
        &format!("/admin/people/{id}/preview/end"),
        &form(&[("csrf", &operator.csrf)]),
        Some(&format!("{}; {preview}", operator.cookie)),
    )
    .await;
    assert_eq!(end.status, 303, "{}", end.body);
    let cleared = end.header("set-cookie").unwrap();
    assert!(cleared.starts_with("__Secure-gh_preview=;") && cleared.contains("Max-Age=0"));
    let visitor = edge.keys(&rules, Some(&preview)).await.json();
    assert_eq!(visitor["locked"][gate(COURSE)]["reason"], "login");
    let ben_again = edge
        .keys(&rules, Some(&format!("{ben_session}; {preview}")))
        .await
        .json();
    assert_eq!(ben_again, ben_own);
    assert_eq!(edge.get("/me", Some(&preview)).await.status, 401);

    let actions: Vec<String> = edge
        .store
        .audit_entries(None, None, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.member_id == Some(id))
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["preview_end", "preview_start"]);
}

#[tokio::test]
async fn an_expired_preview_or_one_of_an_operator_no_longer_listed_counts_for_nothing() {
    let edge = console::sqlite_edge().await;
    edge.add_member(ANN, "gold", "2026-01-01T00:00:00Z", None)
        .await;
    let operator = Operator::log_in(&edge).await;
    let id = member_id(&edge, ANN).await;
    let preview = preview_cookie(&operator.done(id, "preview", &[]).await).unwrap();
    let open = edge.keys(&[GOLD], Some(&preview)).await.json();
    assert!(open["keys"][gate(GOLD)].is_string(), "{open}");

    // Another edge on the same database, whose site.toml no longer lists this operator.
    let site = common::Site::demo();
    site.edit(
        "site.toml",
        "emails = [\"owner@example.com\"]",
        "emails = [\"helper@example.com\"]",
    );
    let url = format!(
        "sqlite://{}",
        edge.site.path(".gatehouse/members.db").display()
    );
    let unlisted = TestEdge::start(site, &url).await;
    let answer = unlisted.keys(&[GOLD], Some(&preview)).await.json();
    assert_eq!(answer["locked"][gate(GOLD)]["reason"], "login", "{answer}");

    // Past its 30 minutes (moved back in the database: tests do not wait).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE preview_sessions SET expires_at = $1")
        .bind(Timestamp::now().as_second() - 1)
        .execute(&pool)
        .await
        .unwrap();
    let expired = edge.keys(&[GOLD], Some(&preview)).await.json();
    assert_eq!(
        expired["locked"][gate(GOLD)]["reason"],
        "login",
        "{expired}"
    );
    assert_eq!(edge.get("/me", Some(&preview)).await.status, 401);
}

#[tokio::test]
async fn a_members_session_or_none_gets_no_member_page_and_no_action() {
    let edge = console::sqlite_edge().await;
    edge.add_member(OPERATOR, "gold", "2026-01-01T00:00:00Z", Some(PASSWORD))
        .await;
    edge.add_member(ANN, "free", "2026-01-01T00:00:00Z", None)
        .await;
    let id = member_id(&edge, ANN).await;
    // The operator's own member session (same email) is still not a console session.
    let member = edge.login(OPERATOR, PASSWORD).await;
    for cookie in [Some(member.as_str()), None] {
        let page = edge.get(&format!("/admin/people/{id}"), cookie).await;
        assert_eq!(page.status, 303, "to the login form");
        assert!(!page.body.contains(ANN));
        for action in ["bundle", "preview", "logout", "login-link"] {
            let answer = post_form(
                &edge,
                &format!("/admin/people/{id}/{action}"),
                &form(&[("csrf", "x"), ("bundle", "pricing-course")]),
                cookie,
            )
            .await;
            assert_eq!(answer.status, 401, "{action}");
            assert!(preview_cookie(&answer).is_none());
        }
    }
    assert_eq!(
        shown(&edge, ANN).await["history"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn an_action_without_the_csrf_token_is_refused_and_changes_nothing() {
    let edge = console::sqlite_edge().await;
    edge.add_member(ANN, "free", "2026-01-01T00:00:00Z", Some(PASSWORD))
        .await;
    let session = edge.login(ANN, PASSWORD).await;
    let operator = Operator::log_in(&edge).await;
    let id = member_id(&edge, ANN).await;
    let path = format!("/admin/people/{id}/bundle");
    let missing = post_form(
        &edge,
        &path,
        "bundle=pricing-course",
        Some(&operator.cookie),
    )
    .await;
    assert_eq!(missing.status, 400);
    let wrong = post_form(
        &edge,
        &path,
        "csrf=0000&bundle=pricing-course",
        Some(&operator.cookie),
    )
    .await;
    assert_eq!(wrong.status, 403);
    let logout = post_form(
        &edge,
        &format!("/admin/people/{id}/logout"),
        "csrf=0000",
        Some(&operator.cookie),
    )
    .await;
    assert_eq!(logout.status, 403);
    assert_eq!(
        shown(&edge, ANN).await["history"].as_array().unwrap().len(),
        1
    );
    assert_eq!(edge.get("/me", Some(&session)).await.status, 200);
    let audited = edge.store.audit_entries(None, None, 100).await.unwrap();
    assert!(audited.iter().all(|e| e.member_id != Some(id)));
}

#[tokio::test]
async fn an_unknown_member_is_a_404_page() {
    let edge = console::sqlite_edge().await;
    let operator = Operator::log_in(&edge).await;
    for id in ["99999", "not-a-number"] {
        let page = edge
            .get(&format!("/admin/people/{id}"), Some(&operator.cookie))
            .await;
        assert_eq!(page.status, 404, "{id}");
        assert!(page.body.contains("no member with id"), "{}", page.body);
        assert!(
            page.header("content-type")
                .unwrap()
                .starts_with("text/html"),
            "a page, not JSON"
        );
    }
    let action = operator
        .act(99999, "bundle", &[("bundle", "pricing-course")])
        .await;
    assert_eq!(action.status, 404);
}
