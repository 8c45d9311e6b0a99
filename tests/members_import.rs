//! `gatehouse members import`: the real binary on a copy of the demo site, with a SQLite file
//! of its own.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};

use common::Site;
use gatehouse::config::SiteConfig;
use gatehouse::entitle::{EventRecord, EventType, Grant};
use gatehouse::store::{NewMember, Store, StoreError};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

fn gatehouse(site: &Site, args: &[&str]) -> Output {
    let db = format!("sqlite://{}", site.path("m.db").display());
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--root")
        .arg(site.root())
        .arg("members")
        .args(args)
        .arg("--db")
        .arg(db)
        .current_dir(site.root())
        .env_remove("GATEHOUSE_DB")
        .env_remove("GATEHOUSE_SECRET")
        .output()
        .unwrap()
}

/// Runs a command that must succeed; its stdout.
fn ok(site: &Site, args: &[&str]) -> String {
    let output = gatehouse(site, args);
    let (stdout, stderr) = common::text(&output);
    assert!(
        output.status.success(),
        "members {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// Runs a command that must fail; its stderr.
fn fails(site: &Site, args: &[&str]) -> String {
    let output = gatehouse(site, args);
    let (stdout, stderr) = common::text(&output);
    assert!(
        !output.status.success(),
        "members {args:?} should fail:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.is_empty(),
        "a failure prints nothing on stdout: {stdout}"
    );
    stderr
}

fn show(site: &Site, email: &str) -> Value {
    serde_json::from_str(&ok(site, &["show", email, "--json"])).unwrap()
}

fn emails(site: &Site) -> Vec<String> {
    let list: Value = serde_json::from_str(&ok(site, &["list", "--json"])).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap().to_owned())
        .collect()
}

fn bundle<'a>(member: &'a Value, id: &str) -> &'a Value {
    member["standing"]["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .unwrap_or_else(|| panic!("bundle {id} in {member:#}"))
}

/// The date `days` days ago, as `YYYY-MM-DD`: the demo site's silver and launch-workshop run
/// out after a year and 120 days, so those members must have joined lately.
fn days_ago(days: i64) -> String {
    let at = Timestamp::now() - SignedDuration::from_hours(24 * days);
    at.to_zoned(jiff::tz::TimeZone::UTC).date().to_string()
}

/// Seven members, one for each status and then some: a header, quoted fields, both bundle
/// separators, with and without `expires`.
fn good_file() -> String {
    let recent = days_ago(30);
    let ended = days_ago(10);
    format!(
        "Email,Level,Since,Bundles,Status,Expires\n\
         ann@example.com,gold,2024-01-15,pricing-course,active,\n\
         \" Bob@Example.COM \",gold,{recent},\"pricing-course; launch-workshop\",pending-cancel,2099-01-01\n\
         cat@example.com,gold,2024-03-01,,overdue\n\
         dan@example.com,silver,{recent},,cancelled,\n\
         eve@example.com,gold,2024-03-01,pricing-course,expired,2025-06-01\n\
         fay@example.com,free,2024-03-01,pricing-course,complimentary,\n\
         gus@example.com,silver,{recent},pricing-course|launch-workshop,active,{ended}\n"
    )
}

#[test]
fn a_good_file_imports_every_member_as_they_stand() {
    let site = Site::demo();
    site.write("members.csv", &good_file());
    let out = ok(&site, &["import", "members.csv"]);
    assert_eq!(out, "imported 7 members, 0 unchanged\n");

    let ann = show(&site, "ann@example.com");
    assert_eq!(
        ann["since"], "2024-01-15T00:00:00Z",
        "since back-dates the history"
    );
    assert_eq!(ann["standing"]["level"]["id"], "gold");
    assert_eq!(ann["standing"]["level"]["status"], "active");
    assert_eq!(bundle(&ann, "pricing-course")["status"], "active");
    for event in ann["history"].as_array().unwrap() {
        assert_eq!(event["source"], "import");
    }

    let bob = show(&site, "bob@example.com");
    let level = &bob["standing"]["level"];
    assert_eq!(level["status"], "pending-cancel");
    assert_eq!(level["until"], "2099-01-01T00:00:00Z");
    assert_eq!(level["basis"], "recurring");
    for id in ["pricing-course", "launch-workshop"] {
        assert_eq!(bundle(&bob, id)["status"], "pending-cancel", "{id}");
        assert_eq!(bundle(&bob, id)["until"], "2099-01-01T00:00:00Z", "{id}");
    }

    let cat = show(&site, "cat@example.com");
    assert_eq!(cat["standing"]["level"]["status"], "overdue");

    let dan = show(&site, "dan@example.com");
    assert_eq!(dan["standing"]["level"]["id"], "silver");
    assert_eq!(dan["standing"]["level"]["status"], "cancelled");

    let eve = show(&site, "eve@example.com");
    assert_eq!(eve["standing"]["level"]["status"], "expired");
    assert_eq!(bundle(&eve, "pricing-course")["status"], "expired");
    assert_eq!(
        eve["history"][2]["at"], "2025-06-01T00:00:00Z",
        "ended at `expires`"
    );

    let fay = show(&site, "fay@example.com");
    assert_eq!(fay["standing"]["level"]["id"], "free");
    assert_eq!(fay["standing"]["level"]["basis"], "complimentary");
    assert_eq!(bundle(&fay, "pricing-course")["basis"], "complimentary");

    // Silver ran out at `expires`, ten days ago, and on_expire put Gus on free.
    let gus = show(&site, "gus@example.com");
    assert_eq!(gus["standing"]["level"]["id"], "free");
    assert_eq!(gus["standing"]["level"]["status"], "active");
    assert_eq!(bundle(&gus, "launch-workshop")["status"], "expired");
}

#[test]
fn running_the_same_file_again_changes_nothing() {
    let site = Site::demo();
    // One file for every import below: dates made again after midnight would differ.
    let good = good_file();
    site.write("members.csv", &good);
    ok(&site, &["import", "members.csv"]);
    let before: Vec<Value> = ["bob@example.com", "cat@example.com"]
        .iter()
        .map(|email| show(&site, email)["history"].clone())
        .collect();

    let out = ok(&site, &["import", "members.csv"]);
    assert_eq!(out, "imported 0 members, 7 unchanged\n");
    let out = ok(&site, &["import", "members.csv", "--dry-run"]);
    assert_eq!(out, "would import 0 members, 7 unchanged\n");
    let after: Vec<Value> = ["bob@example.com", "cat@example.com"]
        .iter()
        .map(|email| show(&site, email)["history"].clone())
        .collect();
    assert_eq!(before, after);

    // A later change to a member is their life since the import, not a reason to refuse.
    ok(
        &site,
        &["grant", "ann@example.com", "--bundle", "launch-workshop"],
    );
    site.write(
        "more.csv",
        &format!("{good}hal@example.com,free,2024-01-01,,active\n"),
    );
    assert_eq!(
        ok(&site, &["import", "more.csv"]),
        "imported 1 member, 7 unchanged\n"
    );
}

#[test]
fn a_file_with_bad_lines_reports_each_one_and_imports_nothing() {
    let site = Site::demo();
    site.write(
        "bad.csv",
        "email,level,since,bundles,status,expires\n\
         ann@example.com,gold,2024-01-15,,active\n\
         bob@example,gld,2024-01-15,pricing-corse,active\n\
         cat@example.com,gold,2024-02-30,,active\n\
         dan@example.com,gold,2099-01-01,,active\n\
         eve@example.com,gold,2024-01-15,,actve\n\
         fay@example.com,gold,2024-01-15,,pending-cancel\n\
         gus@example.com,gold,2024-01-15\n\
         hal@example.com,silver,2020-01-01,,active\n",
    );
    let stderr = fails(&site, &["import", "bad.csv"]);
    for expected in [
        "bad.csv:3: `bob@example` is not an email address",
        "bad.csv:3: unknown level `gld` (did you mean `gold`?)",
        "bad.csv:3: unknown bundle `pricing-corse` (did you mean `pricing-course`?)",
        "bad.csv:4: `since`: `2024-02-30` is not a date or time",
        "bad.csv:5: `since` (2099-01-01T00:00:00Z) is in the future",
        "bad.csv:6: unknown status `actve` (did you mean `active`?); the statuses are: active, \
         pending-cancel, overdue, cancelled, expired, complimentary",
        "bad.csv:7: pending-cancel needs the date access ends in the `expires` column",
        "bad.csv:8: expected 5 or 6 columns",
        "bad.csv:9: after import the level `silver` would be replaced by `level:free` now",
        "error: 9 errors in bad.csv; no member was imported: fix the lines above and run again",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("bad.csv:2:"), "line 2 is good:\n{stderr}");
    assert!(
        emails(&site).is_empty(),
        "not even the good line is imported"
    );
}

#[test]
fn a_dry_run_changes_nothing() {
    let site = Site::demo();
    site.write("members.csv", &good_file());
    let out = ok(&site, &["import", "members.csv", "--dry-run"]);
    assert_eq!(out, "would import 7 members, 0 unchanged\n");
    assert!(emails(&site).is_empty());
    assert_eq!(
        ok(&site, &["import", "members.csv"]),
        "imported 7 members, 0 unchanged\n"
    );
}

#[test]
fn the_same_email_twice_names_both_lines() {
    let site = Site::demo();
    site.write(
        "twice.csv",
        "ann@example.com,gold,2024-01-15,,active\n\
         bob@example.com,gold,2024-01-15,,active\n\
         ANN@example.com,free,2024-01-15,,active\n",
    );
    let stderr = fails(&site, &["import", "twice.csv"]);
    assert!(
        stderr.contains("twice.csv:3: ann@example.com is also on line 1"),
        "{stderr}"
    );
    assert!(emails(&site).is_empty());
}

#[test]
fn a_member_added_otherwise_makes_the_file_fail() {
    let site = Site::demo();
    ok(&site, &["add", "ann@example.com", "--level", "gold"]);
    site.write(
        "members.csv",
        "bob@example.com,gold,2024-01-15,,active\n\
         ann@example.com,gold,2024-01-15,,active\n",
    );
    let stderr = fails(&site, &["import", "members.csv"]);
    assert!(
        stderr.contains(
            "members.csv:2: ann@example.com is already a member (added by `cli`); import would \
             change their history: remove the line, or use `gatehouse members grant`"
        ),
        "{stderr}"
    );
    assert_eq!(emails(&site), ["ann@example.com"]);
    assert_eq!(
        show(&site, "ann@example.com")["history"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_missing_file_is_named() {
    let site = Site::demo();
    let stderr = fails(&site, &["import", "nowhere.csv"]);
    assert!(
        stderr.starts_with("error: could not read nowhere.csv: "),
        "{stderr}"
    );
}

#[test]
fn import_is_listed_in_members_help() {
    let site = Site::demo();
    let out = ok(&site, &["import", "--help"]);
    assert!(
        out.contains("email,level,since,bundles,status[,expires]"),
        "{out}"
    );
    assert!(out.contains("--dry-run"), "{out}");
}

/// The store's half: a member who cannot be stored undoes the whole import.
#[tokio::test]
async fn an_import_that_fails_part_way_stores_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("members.db").display());
    let store = Store::open(&url).await.unwrap();
    let config: SiteConfig =
        gatehouse::config::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
    let now = Timestamp::from_second(1_790_000_000).unwrap();
    let member = |email: &str| NewMember {
        email: email.to_owned(),
        password_hash: None,
        events: vec![
            EventRecord::new(
                EventType::LevelSet,
                Some(Grant::Level("gold".to_owned())),
                now,
                None,
                None,
                &config,
            )
            .unwrap(),
        ],
        source: "import".to_owned(),
        announce: false,
    };
    store
        .create_member(&member("bob@example.com"), now)
        .await
        .unwrap();

    let mut written = 0;
    let result = store
        .import_members(
            &[member("ann@example.com"), member("bob@example.com")],
            now,
            |done| written = done,
        )
        .await;
    assert!(matches!(result, Err(StoreError::MemberExists(e)) if e == "bob@example.com"));
    assert_eq!(written, 1, "ann was written inside the transaction");
    assert!(
        store
            .member_by_email("ann@example.com")
            .await
            .unwrap()
            .is_none()
    );

    let imported = store
        .import_members(&[member("ann@example.com")], now, |_| {})
        .await
        .unwrap();
    assert_eq!(imported, 1);
    assert_eq!(store.members().await.unwrap().len(), 2);
    store.close().await;
}
