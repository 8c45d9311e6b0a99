//! Key rotation (DESIGN §7 `keys rotate`, §6 `/keys` epochs): `gatehouse keys rotate` raises
//! `[keys] epoch` in site.toml and records when, keeping the file as written; the edge then hands
//! out the new epoch's keys, and the previous epoch's only within the grace window, so pages
//! still cached at a CDN keep opening during the switch and no longer after it.

#![allow(clippy::unwrap_used)]

mod common;

use common::edge::TestEdge;
use common::{Site, gatehouse_ok};
use gatehouse::gate::{MasterSecret, Rule, derive_key, open};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

const GOLD: &str = "level=gold;bundles=-;drip=0";
const PASSWORD: &str = "correct horse battery";

fn rotate(site: &Site, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["--root", site.root().to_str().unwrap(), "keys", "rotate"];
    args.extend_from_slice(extra);
    std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(&args)
        .output()
        .unwrap()
}

#[test]
fn rotate_raises_the_epoch_keeps_the_file_and_refuses_a_second_rotation_in_the_window() {
    let site = Site::demo();
    let before = std::fs::read_to_string(site.path("site.toml")).unwrap();
    let output = rotate(&site, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("from 1 to 2"), "{stdout}");
    assert!(stdout.contains("restart the edge"), "{stdout}");
    assert!(
        stdout.contains("gatehouse build && gatehouse deploy"),
        "{stdout}"
    );
    let after = std::fs::read_to_string(site.path("site.toml")).unwrap();
    // Only the [keys] lines changed: every comment and setting is where it was.
    let removed: Vec<&str> = before
        .lines()
        .filter(|l| !after.lines().any(|a| a == *l))
        .collect();
    let added: Vec<&str> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .collect();
    assert_eq!(removed, ["epoch = 1"]);
    assert_eq!(added.len(), 2, "{added:?}");
    assert_eq!(added[0], "epoch = 2");
    assert!(added[1].starts_with("rotated_at = \"20"), "{added:?}");
    let config = gatehouse::config::load(site.root()).unwrap();
    assert_eq!(config.epoch, 2);
    assert!(config.rotated_at.is_some());
    gatehouse_ok(site.root(), &["check"]);

    let again = rotate(&site, &[]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("grace window"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        gatehouse::config::load(site.root()).unwrap().epoch,
        2,
        "nothing written"
    );
    let forced = rotate(&site, &["--force"]);
    assert!(forced.status.success());
    assert_eq!(gatehouse::config::load(site.root()).unwrap().epoch, 3);
}

#[test]
fn a_rotated_build_seals_with_the_new_epoch_and_new_keys() {
    let site = Site::demo();
    site.build().unwrap();
    let old = common::manifest(&site.out());
    let page = old.pages.iter().find(|p| p.rule == GOLD).unwrap();
    let old_envelope = std::fs::read(site.out().join(page.src.trim_start_matches('/'))).unwrap();
    assert!(rotate(&site, &[]).status.success());
    site.build().unwrap();
    let new = common::manifest(&site.out());
    let page2 = new.pages.iter().find(|p| p.path == page.path).unwrap();
    assert_ne!(page.src, page2.src, "a new envelope");
    let envelope = std::fs::read(site.out().join(page2.src.trim_start_matches('/'))).unwrap();
    let secret = MasterSecret::from_base64url(common::SECRET_B64).unwrap();
    let rule = Rule::parse(GOLD).unwrap();
    let gate = rule.gate_id();
    assert!(open(&derive_key(&secret, 2, &rule), &gate, &page.path, &envelope).is_ok());
    assert!(open(&derive_key(&secret, 1, &rule), &gate, &page.path, &envelope).is_err());
    assert!(
        open(
            &derive_key(&secret, 1, &rule),
            &gate,
            &page.path,
            &old_envelope
        )
        .is_ok()
    );
}

/// The demo site after a rotation to epoch 2 at `rotated_at`, with `grace`.
async fn edge_rotated(rotated_ago: SignedDuration, grace: &str) -> (TestEdge, String) {
    let site = Site::demo();
    let at = Timestamp::now().checked_sub(rotated_ago).unwrap();
    let at = Timestamp::from_second(at.as_second()).unwrap();
    site.edit(
        "site.toml",
        "epoch = 1",
        &format!("epoch = 2\nrotated_at = \"{at}\"\ngrace = \"{grace}\""),
    );
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let edge = TestEdge::start(site, &url).await;
    edge.add_member(
        "gil@example.com",
        "gold",
        "2026-01-01T00:00:00Z",
        Some(PASSWORD),
    )
    .await;
    let cookie = edge.login("gil@example.com", PASSWORD).await;
    (edge, cookie)
}

async fn keys_at(edge: &TestEdge, cookie: &str, epoch: Option<u32>) -> Value {
    let mut body = serde_json::json!({ "rules": [GOLD] });
    if let Some(epoch) = epoch {
        body["epoch"] = epoch.into();
    }
    edge.post("/keys", &body, Some(cookie)).await.json()
}

fn key(epoch: u32) -> String {
    let secret = MasterSecret::from_base64url(common::SECRET_B64).unwrap();
    derive_key(&secret, epoch, &Rule::parse(GOLD).unwrap()).to_base64url()
}

fn gate() -> String {
    Rule::parse(GOLD).unwrap().gate_id().as_str().to_owned()
}

#[tokio::test]
async fn within_the_grace_window_the_previous_epoch_is_served_to_pages_that_ask_for_it() {
    let (edge, cookie) = edge_rotated(SignedDuration::from_hours(1), "24h").await;
    let old = keys_at(&edge, &cookie, Some(1)).await;
    assert_eq!(old["epoch"], 1);
    assert_eq!(old["keys"][gate()], key(1).as_str());
    let new = keys_at(&edge, &cookie, Some(2)).await;
    assert_eq!(new["epoch"], 2);
    assert_eq!(new["keys"][gate()], key(2).as_str());
    let unspecified = keys_at(&edge, &cookie, None).await;
    assert_eq!(unspecified["epoch"], 2, "without an epoch, the current one");
    // Two epochs back is never served.
    let ancient = keys_at(&edge, &cookie, Some(0)).await;
    assert_eq!(ancient["epoch"], 2);
}

#[tokio::test]
async fn after_the_grace_window_only_the_current_epoch_is_served() {
    let (edge, cookie) = edge_rotated(SignedDuration::from_hours(25), "24h").await;
    let answer = keys_at(&edge, &cookie, Some(1)).await;
    assert_eq!(
        answer["epoch"], 2,
        "the page sees the epoch differ and says reload"
    );
    assert_eq!(answer["keys"][gate()], key(2).as_str());
    assert!(!answer.to_string().contains(&key(1)));
    // A shorter grace closes sooner.
    let (edge, cookie) = edge_rotated(SignedDuration::from_mins(90), "1h").await;
    assert_eq!(keys_at(&edge, &cookie, Some(1)).await["epoch"], 2);
}

#[test]
fn bad_rotation_settings_are_reported_with_their_line() {
    let site = Site::demo();
    site.edit(
        "site.toml",
        "epoch = 1",
        "epoch = 2\nrotated_at = \"yesterday\"\ngrace = \"a day\"",
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--root", site.root().to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("[keys] rotated_at"), "{stderr}");
    assert!(stderr.contains("[keys] grace"), "{stderr}");
    assert!(stderr.contains("site.toml:"), "{stderr}");
}
