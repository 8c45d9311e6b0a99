//! End to end: the real `gatehouse edge` binary on a real socket, next to a built fixture site.
//! Members are made through the admin API with back-dated histories, log in, fetch keys, and
//! the keys open exactly the envelopes their entitlement allows. Also: replicas sharing
//! sessions through PostgreSQL, mail through a real SMTP server, and graceful shutdown.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::Site;
use common::edge::token_from_mail;
use common::edge_process::{ADMIN, Edge};
use common::servers::{SmtpSink, postgres_database};
use gatehouse::gate::{GateKey, Rule, open};
use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn days_ago(days: i64) -> String {
    Timestamp::from_second(Timestamp::now().as_second() - days * 86_400)
        .unwrap()
        .to_string()
}

async fn admin(edge: &Edge, path: &str, body: Value) -> Value {
    let answer = reqwest::Client::new()
        .post(edge.url(path))
        .bearer_auth(ADMIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::CREATED);
    answer.json().await.unwrap()
}

async fn login(edge: &Edge, client: &reqwest::Client, email: &str) {
    let answer = client
        .post(edge.url("/login/password"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

/// Asks for every rule of the built site and opens each envelope whose key came back:
/// path → plaintext, and the reasons for the rest.
async fn read_site(
    edge: &Edge,
    client: &reqwest::Client,
    out: &Path,
) -> (Vec<(String, String)>, Value) {
    let manifest = common::manifest(out);
    let mut rules: Vec<&str> = manifest.pages.iter().map(|p| p.rule.as_str()).collect();
    rules.sort();
    rules.dedup();
    let answer: Value = client
        .post(edge.url("/keys"))
        .json(&json!({ "rules": rules }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut opened = Vec::new();
    for page in &manifest.pages {
        let Some(key) = answer["keys"][&page.gate].as_str() else {
            continue;
        };
        let bytes: [u8; 32] = base64_decode(key).try_into().unwrap();
        let key = GateKey::from_bytes(bytes, answer["epoch"].as_u64().unwrap() as u32);
        let rule = Rule::parse(&page.rule).unwrap();
        let envelope = std::fs::read(out.join(page.src.trim_start_matches('/'))).unwrap();
        let plain = open(&key, &rule.gate_id(), &page.path, &envelope).unwrap();
        opened.push((page.path.clone(), String::from_utf8(plain).unwrap()));
    }
    (opened, answer["locked"].clone())
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

fn built_demo() -> Site {
    let site = Site::demo();
    site.build().unwrap();
    site
}

#[tokio::test]
async fn members_open_exactly_the_envelopes_their_entitlement_allows() {
    let site = built_demo();
    let db = format!("sqlite://{}", site.path(".gatehouse/e2e.db").display());
    let edge = Edge::start(site.root(), &db, &[]);
    let manifest = common::manifest(&site.out());
    let all_pages = manifest.pages.len();

    admin(&edge, "/admin/members", json!({ "email": "gold@example.com", "level": "gold", "since": days_ago(400), "password": PASSWORD })).await;
    admin(
        &edge,
        "/admin/members/gold@example.com/events",
        json!({ "type": "bundle_add", "access": "bundle:pricing-course", "at": days_ago(400) }),
    )
    .await;
    admin(
        &edge,
        "/admin/members/gold@example.com/events",
        json!({ "type": "bundle_add", "access": "bundle:launch-workshop", "at": days_ago(10) }),
    )
    .await;
    admin(
        &edge,
        "/admin/members",
        json!({ "email": "free@example.com", "level": "free", "password": PASSWORD }),
    )
    .await;

    let gold = client();
    login(&edge, &gold, "gold@example.com").await;
    let (opened, locked) = read_site(&edge, &gold, &site.out()).await;
    assert_eq!(opened.len(), all_pages, "locked for gold: {locked}");
    assert!(opened.iter().all(|(_, html)| !html.is_empty()));

    let free = client();
    login(&edge, &free, "free@example.com").await;
    let (opened, locked) = read_site(&edge, &free, &site.out()).await;
    let reasons: Vec<&str> = locked
        .as_object()
        .unwrap()
        .values()
        .map(|v| v["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().all(|r| ["level", "bundle"].contains(r)),
        "{reasons:?}"
    );
    // Pages open to the free level are the only ones a free member reads.
    for (path, _) in &opened {
        let page = manifest.pages.iter().find(|p| &p.path == path).unwrap();
        assert!(
            page.rule.starts_with("level=free;"),
            "{path} opened for a free member"
        );
    }

    let anonymous = client();
    let (opened, locked) = read_site(&edge, &anonymous, &site.out()).await;
    assert!(opened.is_empty());
    assert!(
        locked
            .as_object()
            .unwrap()
            .values()
            .all(|v| v["reason"] == "login")
    );
    assert!(edge.stop().success(), "SIGTERM ends the edge cleanly");
}

#[tokio::test]
async fn a_member_mid_drip_learns_when_the_next_lesson_opens() {
    let site = built_demo();
    let db = format!("sqlite://{}", site.path(".gatehouse/e2e.db").display());
    let edge = Edge::start(site.root(), &db, &[]);
    admin(&edge, "/admin/members", json!({ "email": "new@example.com", "level": "gold", "since": days_ago(1), "password": PASSWORD })).await;
    let member = client();
    login(&edge, &member, "new@example.com").await;
    let (_, locked) = read_site(&edge, &member, &site.out()).await;
    let drips: Vec<&Value> = locked
        .as_object()
        .unwrap()
        .values()
        .filter(|v| v["reason"] == "drip")
        .collect();
    assert!(!drips.is_empty(), "the demo course drips: {locked}");
    for drip in drips {
        let at: Timestamp = drip["unlocks_at"].as_str().unwrap().parse().unwrap();
        assert!(at > Timestamp::now());
    }
    let me: Value = member
        .get(edge.url("/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unlocks = me["unlocks"].as_array().unwrap();
    assert!(!unlocks.is_empty(), "/me lists upcoming unlocks: {me}");
    assert!(unlocks[0]["path"].as_str().unwrap().starts_with('/'));
}

#[tokio::test]
async fn a_magic_link_from_the_outbox_logs_a_member_in() {
    let site = built_demo();
    let db = format!("sqlite://{}", site.path(".gatehouse/e2e.db").display());
    let edge = Edge::start(site.root(), &db, &[]);
    admin(
        &edge,
        "/admin/members",
        json!({ "email": "link@example.com", "level": "gold" }),
    )
    .await;
    let browser = client();
    let sent = browser
        .post(edge.url("/login"))
        .json(&json!({ "email": "link@example.com", "next": "/course/" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let outbox = site.path(".gatehouse/outbox");
    let mail = wait_for_file(&outbox);
    let token = token_from_mail(&mail);
    let unfolded = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    assert!(unfolded.contains(&format!(
        "https://academy.example.com/_gate/auth?token={token}"
    )));
    let page = browser
        .get(edge.url(&format!("/auth?token={token}&next=/course/")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let used = browser
        .post(edge.url("/auth"))
        .form(&[("token", token.as_str()), ("next", "/course/")])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), StatusCode::SEE_OTHER);
    let me = browser.get(edge.url("/me")).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);

    // Even at debug level, the log holds no token, key, cookie, secret or password.
    admin(
        &edge,
        "/admin/members",
        json!({ "email": "pw@example.com", "level": "gold", "password": PASSWORD }),
    )
    .await;
    let other = client();
    login(&edge, &other, "pw@example.com").await;
    let keys: Value = browser
        .post(edge.url("/keys"))
        .json(&json!({ "rules": ["level=gold;bundles=-;drip=0"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let gold = Rule::parse("level=gold;bundles=-;drip=0")
        .unwrap()
        .gate_id();
    let key = keys["keys"][gold.as_str()].as_str().unwrap().to_owned();
    let log = edge.log.clone();
    assert!(edge.stop().success());
    let log = log.lock().unwrap().clone();
    assert!(log.contains("/keys"), "the log was captured: {log}");
    for secret in [
        token.as_str(),
        key.as_str(),
        PASSWORD,
        common::SECRET_B64,
        ADMIN,
    ] {
        assert!(!log.contains(secret), "the log holds a secret");
    }
}

fn wait_for_file(dir: &Path) -> String {
    for _ in 0..400 {
        if let Ok(entries) = std::fs::read_dir(dir) {
            let found: Vec<_> = entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect();
            if let Some(path) = found.first() {
                return std::fs::read_to_string(path).unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("no mail in {}", dir.display());
}

#[tokio::test]
async fn login_links_go_out_through_a_real_smtp_server() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let site = built_demo();
    let db = format!("sqlite://{}", site.path(".gatehouse/e2e.db").display());
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let edge = Edge::start(
        site.root(),
        &db,
        &[
            ("GATEHOUSE_SMTP_URL", &smtp),
            ("GATEHOUSE_MAIL_FROM", "Academy <login@academy.example.com>"),
        ],
    );
    admin(
        &edge,
        "/admin/members",
        json!({ "email": "smtp@example.com", "level": "gold" }),
    )
    .await;
    let sent = client()
        .post(edge.url("/login"))
        .json(&json!({ "email": "smtp@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    // The new member's welcome email and the login link both go through SMTP.
    let messages = sink.wait_for_messages(2, Duration::from_secs(60));
    let welcome = messages
        .iter()
        .find(|m| m.contains("Subject: Welcome to Acme Academy"))
        .unwrap_or_else(|| panic!("a welcome email: {messages:?}"));
    assert!(
        welcome.contains("X-Envelope-To: smtp@example.com"),
        "{welcome}"
    );
    let mail = messages
        .iter()
        .find(|m| m.contains("Subject: Your login link"))
        .unwrap_or_else(|| panic!("a login link email: {messages:?}"))
        .clone();
    assert!(mail.contains("X-Envelope-To: smtp@example.com"), "{mail}");
    assert!(
        mail.contains("From: Academy <login@academy.example.com>"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: Your login link for Acme Academy"),
        "{mail}"
    );
    assert_eq!(token_from_mail(&mail).len(), 43);
    assert!(
        !site.path(".gatehouse/outbox").exists(),
        "SMTP replaces the outbox"
    );
}

#[tokio::test]
async fn replicas_on_postgres_share_members_and_sessions() {
    let Some(db) = postgres_database().await else {
        return;
    };
    let site = built_demo();
    let first = Edge::start(site.root(), &db, &[]);
    let second = Edge::start(site.root(), &db, &[]);
    admin(&first, "/admin/members", json!({ "email": "pg@example.com", "level": "gold", "since": days_ago(400), "password": PASSWORD })).await;

    let answer = reqwest::Client::new()
        .post(first.url("/login/password"))
        .json(&json!({ "email": "pg@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let cookie = answer.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let keys: Value = reqwest::Client::new()
        .post(second.url("/keys"))
        .header("cookie", &cookie)
        .json(&json!({ "rules": ["level=gold;bundles=-;drip=0"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"].as_object().unwrap().len(), 1, "{keys}");

    let out = reqwest::Client::new()
        .post(second.url("/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let after = reqwest::Client::new()
        .get(first.url("/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::UNAUTHORIZED,
        "logout on one replica ends it on all"
    );

    assert!(first.stop().success());
    assert!(second.stop().success());
}
