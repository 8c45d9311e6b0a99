//! End to end: the real `gatehouse serve` on its own copy of the demo site (DESIGN §8), site.toml
//! edits: everything is rebuilt and serve's edge API takes the new config, also when the build
//! was broken at the time of the edit.

#![allow(clippy::unwrap_used)]

mod common;

use common::serve::{rule_of, start_demo};
use common::serve_events::{DevEvent, Events};
use common::serve_http::{client, get, keys, login_as, outcome};
use reqwest::StatusCode;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// 8. site.toml
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_site_toml_edit_reloads_everything_and_the_edge_takes_the_new_config() {
    const PLATINUM: &str = "level=platinum;bundles=-;drip=0";
    let (site, serve) = start_demo();
    let browser = client();
    let keys_url = serve.at("/_gate/keys");
    let before = browser
        .post(&keys_url)
        .json(&json!({ "rules": [PLATINUM] }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        before.status(),
        StatusCode::BAD_REQUEST,
        "platinum is not a level yet"
    );

    // A member logged in before the edit stays logged in after it.
    let gold = serve
        .demo_members()
        .into_iter()
        .find(|m| m.email == "gold@demo.test");
    let member = login_as(&gold.unwrap().link).await;
    let course = rule_of(site.root(), "/course/");

    let mut events = Events::connect(&serve).await;
    let toml = std::fs::read_to_string(site.path("site.toml")).unwrap();
    assert!(toml.contains("name = \"Gold\"\n"));
    let toml = toml
        .replacen("name = \"Gold\"\n", "name = \"Gold Renamed\"\n", 1)
        .replacen(
            "[[bundles]]",
            "[[levels]]\nid = \"platinum\"\nname = \"Platinum\"\nrank = 30\n\n[[bundles]]",
            1,
        );
    site.write("site.toml", &toml);

    let event = events.next(&serve, "a site.toml edit").await;
    assert_eq!(event, DevEvent::Reload { paths: Vec::new() });
    let options: Value =
        serde_json::from_str(&get(&browser, &serve, "/_gatehouse/options").await.body).unwrap();
    let levels = options["levels"].as_array().unwrap();
    assert!(
        levels.contains(&json!({ "id": "gold", "name": "Gold Renamed" })),
        "{options}"
    );
    assert!(
        levels.contains(&json!({ "id": "platinum", "name": "Platinum" })),
        "{options}"
    );
    let answer = keys(&browser, &keys_url, &[PLATINUM]).await;
    assert_eq!(outcome(&answer, PLATINUM), "login", "{answer}");
    let answer = keys(&member, &keys_url, &[&course]).await;
    assert_eq!(
        outcome(&answer, &course),
        "open",
        "the session was lost: {answer}"
    );
    // Pages were rebuilt with the new name too.
    let page = get(&browser, &serve, "/course/value-metric/").await.body;
    assert!(page.contains("Gold Renamed"), "{page}");
}

/// The edge must take a site.toml edit even when the rebuild that first succeeds after it was
/// set off by another file: here the build was already broken when site.toml changed.
#[tokio::test]
async fn a_site_toml_edit_made_while_the_build_is_broken_reaches_the_edge_after_the_fix() {
    const PLATINUM: &str = "level=platinum;bundles=-;drip=0";
    const FILE: &str = "content/about.md";
    let (site, serve) = start_demo();
    let browser = client();
    let mut events = Events::connect(&serve).await;
    let original = std::fs::read_to_string(site.path(FILE)).unwrap();
    site.edit(
        FILE,
        "title: About Acme Academy",
        "title: [About Acme Academy",
    );
    let event = events.next(&serve, "breaking the front matter").await;
    assert!(matches!(event, DevEvent::Error { .. }), "{event:?}");

    site.edit(
        "site.toml",
        "[[bundles]]",
        "[[levels]]\nid = \"platinum\"\nname = \"Platinum\"\nrank = 30\n\n[[bundles]]",
    );
    let event = events.next(&serve, "a site.toml edit while broken").await;
    assert!(matches!(event, DevEvent::Error { .. }), "{event:?}");

    site.write(FILE, &original);
    let event = events.next(&serve, "fixing the front matter").await;
    assert_eq!(event, DevEvent::Reload { paths: Vec::new() });
    let page = get(&browser, &serve, "/_gatehouse/options").await.body;
    assert!(
        page.contains("platinum"),
        "BUG: the site was rebuilt with the new site.toml, but serve's edge API still has the \
         old config (no `platinum` level) because the successful rebuild was set off by \
         {FILE}, not site.toml: {page}"
    );
    let answer = keys(&browser, &serve.at("/_gate/keys"), &[PLATINUM]).await;
    assert_eq!(outcome(&answer, PLATINUM), "login", "{answer}");
}
