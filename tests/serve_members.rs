//! End to end: the real `gatehouse serve` on its own copy of the demo site (DESIGN §8), its
//! members: the one-click demo logins it prints, a dev database reset at every start, and
//! "view as" previews, which serve honours and the production edge ignores.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::serve::{EdgeProcess, Serve, rule_of, served_dir, start_demo};
use common::serve_http::{client, get, keys, login_as, outcome};
use common::{Site, gatehouse_ok, manifest};
use gatehouse::gate::Rule;
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

const DAY: u64 = 86_400;

async fn view_as(browser: &reqwest::Client, serve: &Serve, view: &str) -> (StatusCode, String) {
    let response = browser
        .post(serve.at("/_gatehouse/view-as"))
        .json(&json!({ "as": view }))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

// ---------------------------------------------------------------------------------------------
// 2. and 3. Demo members and the dev database
// ---------------------------------------------------------------------------------------------

/// What a demo member's keys must say for `rule`, or `None` where this test does not judge.
fn expected(member: &str, rule: &Rule) -> Option<&'static str> {
    let gold = rule.level() == Some("gold");
    let holds_bundle = rule.bundles().iter().any(|b| b == member);
    match member {
        _ if holds_bundle => Some("open"),
        "gold" | "pending-cancel" if rule.level().is_some() => Some("open"),
        "free" if gold => Some("level"),
        "overdue" if gold => Some("overdue"),
        "mid-drip" if gold && rule.drip_seconds() <= 7 * DAY => Some("open"),
        "mid-drip" if gold => Some("drip"),
        "silver" if rule.level() == Some("silver") => Some("open"),
        "silver" if gold => Some("level"),
        _ => None,
    }
}

#[tokio::test]
async fn every_demo_member_is_listed_and_logs_in_with_one_click() {
    let (site, serve) = start_demo();
    let config = gatehouse::config::load(site.root()).unwrap();
    let members = serve.demo_members();
    let printed: Vec<&str> = members.iter().map(|m| m.email.as_str()).collect();
    let wanted: BTreeSet<String> = config
        .levels
        .iter()
        .map(|l| l.id.as_str())
        .chain(config.bundles.iter().map(|b| b.id.as_str()))
        .chain(["overdue", "pending-cancel", "mid-drip"])
        .map(|id| format!("{id}@demo.test"))
        .collect();
    assert_eq!(
        printed.len(),
        wanted.len(),
        "one line pair each: {printed:?}"
    );
    assert_eq!(
        printed
            .iter()
            .map(|e| e.to_string())
            .collect::<BTreeSet<_>>(),
        wanted
    );

    let mut rules: Vec<String> = manifest(&served_dir(site.root()))
        .pages
        .into_iter()
        .map(|p| p.rule)
        .collect();
    rules.sort();
    rules.dedup();
    let rule_texts: Vec<&str> = rules.iter().map(String::as_str).collect();
    let keys_url = serve.at("/_gate/keys");
    let now = Timestamp::now();
    for member in &members {
        let name = member.email.split('@').next().unwrap();
        assert!(
            !member.what.is_empty(),
            "{} has no description",
            member.email
        );
        assert!(
            member.link.starts_with(&serve.at("/_gatehouse/login?")),
            "{}",
            member.link
        );
        let browser = client();
        let login = browser.get(&member.link).send().await.unwrap();
        assert!(
            login.status().is_redirection(),
            "{}: {}",
            name,
            login.status()
        );
        assert_eq!(login.headers()["location"], "/account/", "{name}");
        let cookies: Vec<&str> = login
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(
            cookies.iter().any(|c| c.starts_with("gh_session=")),
            "{name}: no session cookie in {cookies:?}"
        );

        let answer = keys(&browser, &keys_url, &rule_texts).await;
        let mut judged = 0;
        for text in &rules {
            let rule = Rule::parse(text).unwrap();
            let Some(want) = expected(name, &rule) else {
                continue;
            };
            judged += 1;
            assert_eq!(outcome(&answer, text), want, "{name} and {text}: {answer}");
            if want == "drip" {
                let gate = rule.gate_id().as_str().to_owned();
                let at: Timestamp = answer["locked"][&gate]["unlocks_at"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: a drip lock without unlocks_at: {answer}"))
                    .parse()
                    .unwrap();
                let drip = SignedDuration::from_secs(rule.drip_seconds() as i64);
                assert!(
                    at > now && at <= now + drip,
                    "{name}, {text}: unlocks at {at}"
                );
            }
        }
        assert!(judged > 0, "no rule says anything about {name}");
    }
    // The mid-drip member is between the 7- and 14-day lessons (the table above relies on it).
    let mid = members.iter().find(|m| m.email.starts_with("mid-drip@"));
    let answer = keys(
        &login_as(&mid.unwrap().link).await,
        &keys_url,
        &[
            &rule_of(site.root(), "/course/value-metric/"),
            &rule_of(site.root(), "/course/tiers-and-anchors/"),
        ],
    )
    .await;
    let open_count = answer["keys"].as_object().unwrap().len();
    assert_eq!(
        open_count, 1,
        "the 7-day lesson open, the 14-day one not: {answer}"
    );
}

#[tokio::test]
async fn a_login_link_with_a_wrong_key_is_refused_without_a_session() {
    let (site, serve) = start_demo();
    let gold = serve
        .demo_members()
        .into_iter()
        .find(|m| m.email == "gold@demo.test");
    let link = gold.unwrap().link;
    let (prefix, _key) = link.split_once("&key=").unwrap();
    let forged = format!("{prefix}&key={}", "0".repeat(32));
    let browser = client();
    let answer = browser.get(&forged).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(answer.headers().get("set-cookie").is_none());

    let rule = rule_of(site.root(), "/course/");
    let answer = keys(&browser, &serve.at("/_gate/keys"), &[&rule]).await;
    assert_eq!(outcome(&answer, &rule), "login", "{answer}");
}

#[tokio::test]
async fn the_dev_database_is_reset_at_every_start() {
    let site = Site::demo();
    let db = format!(
        "sqlite://{}",
        site.path(".gatehouse/dev/members.db").display()
    );
    let members = |args: &[&str]| {
        let mut all = vec!["members", "--db", &db];
        all.extend_from_slice(args);
        gatehouse_ok(site.root(), &all)
    };

    let first = Serve::start(site.root());
    let old_link = first.demo_members()[0].link.clone();
    let old_url = first.url.clone();
    members(&["add", "x@y.z", "--level", "free"]);
    assert!(members(&["list"]).contains("x@y.z"));
    drop(first);

    let second = Serve::start(site.root());
    let listed = members(&["list"]);
    assert!(
        !listed.contains("x@y.z"),
        "the added member survived a restart:\n{listed}"
    );
    for member in second.demo_members() {
        assert!(
            listed.contains(&member.email),
            "{} is missing:\n{listed}",
            member.email
        );
    }
    // Neither the old run's member nor its login links work in the new one.
    let link = &second.demo_members()[0].link;
    let (_, key) = link.split_once("&key=").unwrap();
    let x = second.at(&format!("/_gatehouse/login?as=x%40y.z&key={key}"));
    let answer = client().get(&x).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let stale = old_link.replacen(&old_url, &second.url, 1);
    let answer = client().get(&stale).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{stale}");
}

// ---------------------------------------------------------------------------------------------
// 7. View as
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn view_as_previews_a_level_or_bundle_on_a_given_day_or_a_visitor() {
    let (site, serve) = start_demo();
    let browser = client();
    let drip14 = rule_of(site.root(), "/course/tiers-and-anchors/");
    assert_eq!(Rule::parse(&drip14).unwrap().drip_seconds(), 14 * DAY);
    let interviews = rule_of(site.root(), "/pricing-course/price-interviews/");
    assert_eq!(Rule::parse(&interviews).unwrap().drip_seconds(), DAY);
    let keys_url = serve.at("/_gate/keys");

    for (view, rule, want) in [
        ("level:gold@0", &drip14, "drip"),
        ("level:gold@20", &drip14, "open"),
        ("bundle:pricing-course@0", &interviews, "drip"),
        ("bundle:pricing-course@1", &interviews, "open"),
        ("visitor", &drip14, "login"),
    ] {
        let (status, body) = view_as(&browser, &serve, view).await;
        assert!(status.is_success(), "{view}: {status} {body}");
        let answer = keys(&browser, &keys_url, &[rule]).await;
        assert_eq!(outcome(&answer, rule), want, "viewing as {view}: {answer}");
    }
    let options = get(&browser, &serve, "/_gatehouse/options").await.body;
    let options: Value = serde_json::from_str(&options).unwrap();
    assert_eq!(options["view_as"], "visitor");
    // An empty value ends the preview: back to the browser's own (here: no) session.
    let (status, _) = view_as(&browser, &serve, "level:gold@20").await;
    assert!(status.is_success());
    let (status, body) = view_as(&browser, &serve, "").await;
    assert!(status.is_success(), "{body}");
    let options = get(&browser, &serve, "/_gatehouse/options").await.body;
    assert_eq!(
        serde_json::from_str::<Value>(&options).unwrap()["view_as"],
        Value::Null
    );
    let answer = keys(&browser, &keys_url, &[&drip14]).await;
    assert_eq!(outcome(&answer, &drip14), "login", "{answer}");

    for bad in ["level:nope@1", "level:gold@-3"] {
        let (status, body) = view_as(&browser, &serve, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        let error: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{bad}: the 400 is not JSON ({e}): {body}"));
        assert_eq!(error["error"], "bad_view_as", "{bad}: {body}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn view_as_applies_to_members_blocks_too() {
    let (site, serve) = start_demo();
    let browser = client();
    // The demo's public post holds a Silver block (DESIGN §3), sealed as `<path>#1`.
    let block = rule_of(site.root(), "/blog/good-better-best/#1");
    assert_eq!(Rule::parse(&block).unwrap().level(), Some("silver"));
    let keys_url = serve.at("/_gate/keys");
    for (view, want) in [
        ("visitor", "login"),
        ("level:free@0", "level"),
        ("level:silver@0", "open"),
        ("level:gold@0", "open"),
    ] {
        let (status, body) = view_as(&browser, &serve, view).await;
        assert!(status.is_success(), "{view}: {status} {body}");
        let answer = keys(&browser, &keys_url, &[&block]).await;
        assert_eq!(
            outcome(&answer, &block),
            want,
            "viewing as {view}: {answer}"
        );
    }
}

#[tokio::test]
async fn the_production_edge_ignores_the_view_as_cookie() {
    let (site, serve) = start_demo();
    let drip14 = rule_of(site.root(), "/course/tiers-and-anchors/");
    let course = rule_of(site.root(), "/course/");
    let cookie = "gh_view_as=level:gold@99";
    let ask = |url: String| {
        let rules = [drip14.clone(), course.clone()];
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .header("cookie", cookie)
                .json(&json!({ "rules": rules }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };

    // The same cookie opens both in serve, so the edge is given a preview it would understand.
    let answer = ask(serve.at("/_gate/keys")).await;
    for rule in [&drip14, &course] {
        assert_eq!(outcome(&answer, rule), "open", "serve: {answer}");
    }
    let edge = EdgeProcess::start(site.root());
    let answer = ask(format!("{}/keys", edge.api)).await;
    for rule in [&drip14, &course] {
        assert_eq!(
            outcome(&answer, rule),
            "login",
            "edge honoured gh_view_as: {answer}"
        );
    }
}
