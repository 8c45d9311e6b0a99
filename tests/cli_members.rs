//! `gatehouse members …`: the real binary against a small site and a SQLite file of its own.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use argon2::password_hash::PasswordVerifier as _;
use serde_json::Value;

const SITE_TOML: &str = r#"
title = "Members test"
base_url = "https://members.example.com"
theme = "default"

[[levels]]
id = "free"
rank = 0

[[levels]]
id = "silver"
rank = 10

[[levels]]
id = "gold"
rank = 20

[[bundles]]
id = "pricing-course"

[[bundles]]
id = "workshop"

[[products]]
id = "gold-monthly"
grants = "level:gold"
billing = "subscription"
interval = "1 month"

[[products]]
id = "pricing-course-lifetime"
grants = "bundle:pricing-course"
billing = "single"
"#;

/// A site with levels free/silver/gold, bundles pricing-course (single payment) and workshop
/// (sold by nothing), gold sold by a subscription, and a member database in its temp folder.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("site.toml"), SITE_TOML).unwrap();
        common::copy_dir(
            &common::repo().join("themes/default"),
            &dir.path().join("themes/default"),
        );
        Site { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn db_path(&self) -> PathBuf {
        self.root().join("m.db")
    }

    fn db(&self) -> String {
        format!("sqlite://{}", self.db_path().display())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command
            .arg("--root")
            .arg(self.root())
            .arg("members")
            .args(args)
            .arg("--db")
            .arg(self.db())
            .current_dir(self.root())
            .env_remove("GATEHOUSE_DB")
            .env_remove("GATEHOUSE_SECRET");
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let (stdout, stderr) = common::text(&output);
        assert!(
            output.status.success(),
            "members {args:?} failed:\n{stdout}\n{stderr}"
        );
        stdout
    }

    /// Runs a command that must fail; its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
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

    fn show(&self, email: &str) -> Value {
        serde_json::from_str(&self.ok(&["show", email, "--json"])).unwrap()
    }

    /// The stored password hash, read through the library's own store.
    fn password_hash(&self, email: &str) -> Option<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let store = gatehouse::store::Store::open(&self.db()).await.unwrap();
            let member = store.member_by_email(email).await.unwrap().unwrap();
            store.close().await;
            member.password_hash
        })
    }

    /// Every byte of the database, its WAL and shared-memory files included.
    fn database_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.root()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with("m.db") {
                bytes.extend(std::fs::read(entry.path()).unwrap());
            }
        }
        assert!(!bytes.is_empty(), "the database exists");
        bytes
    }
}

fn history_types(member: &Value) -> Vec<String> {
    member["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
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

#[test]
fn add_then_show_gives_the_member_their_history_and_standing() {
    let site = Site::new();
    let out = site.ok(&[
        "add",
        "  Ann@Example.COM ",
        "--level",
        "gold",
        "--since",
        "2024-01-15",
        "--bundle",
        "pricing-course",
    ]);
    assert!(
        out.starts_with("Added ann@example.com: gold (active)"),
        "{out}"
    );
    assert!(out.contains("pricing-course (active)"), "{out}");

    let ann = site.show("ann@example.com");
    assert_eq!(ann["email"], "ann@example.com");
    assert_eq!(ann["since"], "2024-01-15T00:00:00Z");
    assert_eq!(ann["password"], false);
    let level = &ann["standing"]["level"];
    assert_eq!(level["id"], "gold");
    assert_eq!(level["status"], "active");
    assert_eq!(level["basis"], "recurring", "a subscription sells gold");
    assert_eq!(level["granted_at"], "2024-01-15T00:00:00Z");
    let course = bundle(&ann, "pricing-course");
    assert_eq!(course["status"], "active");
    assert_eq!(course["basis"], "single");
    assert_eq!(history_types(&ann), ["level_set", "bundle_add"]);
    for event in ann["history"].as_array().unwrap() {
        assert_eq!(event["at"], "2024-01-15T00:00:00Z", "--since back-dates");
        assert_eq!(event["source"], "cli");
    }
    assert_eq!(ann["history"][0]["access"], "level:gold");
    assert_eq!(ann["history"][1]["access"], "bundle:pricing-course");

    // The text form, looked up with the address written differently.
    let text = site.ok(&["show", "ANN@example.com"]);
    for part in [
        "ann@example.com",
        "member since  2024-01-15T00:00:00Z",
        "level:gold",
        "bundle:pricing-course",
        "recurring",
        "level_set",
        "bundle_add",
        "cli",
    ] {
        assert!(text.contains(part), "show prints {part:?}:\n{text}");
    }
}

#[test]
fn list_prints_a_table_and_json() {
    let site = Site::new();
    assert!(site.ok(&["list"]).contains("No members yet"));
    site.ok(&[
        "add",
        "ann@example.com",
        "--level",
        "gold",
        "--since",
        "2024-01-15",
    ]);
    site.ok(&[
        "add",
        "bob@example.com",
        "--level",
        "free",
        "--bundle",
        "workshop",
        "--bundle",
        "pricing-course",
        "--since",
        "2024-02-01T10:00:00Z",
    ]);

    let table = site.ok(&["list"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for column in ["EMAIL", "LEVEL", "STATUS", "BUNDLES", "SINCE"] {
        assert!(lines[0].contains(column), "{table}");
    }
    let ann: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        ann,
        ["ann@example.com", "gold", "active", "-", "2024-01-15"]
    );
    assert!(lines[2].starts_with("bob@example.com"), "{table}");
    assert!(
        lines[2].contains("pricing-course:active, workshop:active"),
        "{table}"
    );
    assert!(lines[2].contains("2024-02-01"), "{table}");

    // `--db` may also come before the subcommand.
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--root"])
        .arg(site.root())
        .args(["members", "--db", &site.db(), "list", "--json"])
        .env_remove("GATEHOUSE_DB")
        .output()
        .unwrap();
    assert!(output.status.success(), "{:?}", common::text(&output));
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["email"], "ann@example.com");
    assert_eq!(list[0]["level"]["id"], "gold");
    assert_eq!(list[0]["since"], "2024-01-15T00:00:00Z");
    assert_eq!(list[1]["level"]["id"], "free");
    assert_eq!(list[1]["bundles"].as_array().unwrap().len(), 2);
}

#[test]
fn grant_adds_bundles_and_changes_levels() {
    let site = Site::new();
    site.ok(&[
        "add",
        "ann@example.com",
        "--level",
        "free",
        "--since",
        "2025-01-01",
    ]);

    let out = site.ok(&["grant", "ann@example.com", "--bundle", "workshop"]);
    assert!(
        out.starts_with("Granted bundle workshop to ann@example.com"),
        "{out}"
    );
    assert!(out.contains("workshop (active)"), "{out}");
    let ann = site.show("ann@example.com");
    assert_eq!(bundle(&ann, "workshop")["status"], "active");
    assert_eq!(
        bundle(&ann, "workshop")["basis"],
        "free",
        "nothing sells it"
    );

    // Back-dated, but after the member joined: it is the level now.
    let out = site.ok(&[
        "grant",
        "ann@example.com",
        "--level",
        "gold",
        "--at",
        "2025-03-01",
    ]);
    assert!(out.contains("now gold (active)"), "{out}");
    // Back-dated before a later level change: the history decides, and the operator is told.
    let output = site.run(&[
        "grant",
        "ann@example.com",
        "--level",
        "silver",
        "--at",
        "2025-02-01",
    ]);
    let (out, err) = common::text(&output);
    assert!(output.status.success(), "{out}\n{err}");
    assert!(out.contains("now gold (active)"), "{out}");
    assert!(err.contains("later events"), "{err}");
    site.ok(&[
        "grant",
        "ann@example.com",
        "--bundle",
        "pricing-course",
        "--complimentary",
    ]);
    let ann = site.show("ann@example.com");
    assert_eq!(ann["standing"]["level"]["id"], "gold");
    assert_eq!(
        ann["standing"]["level"]["granted_at"],
        "2025-03-01T00:00:00Z"
    );
    assert_eq!(bundle(&ann, "pricing-course")["basis"], "complimentary");
    assert_eq!(
        history_types(&ann),
        [
            "level_set",
            "bundle_add",
            "level_set",
            "level_set",
            "complimentary"
        ]
    );

    let error = site.fails(&[
        "grant",
        "ann@example.com",
        "--level",
        "gold",
        "--bundle",
        "workshop",
    ]);
    assert!(error.contains("cannot be used with"), "{error}");
    let error = site.fails(&["grant", "ann@example.com"]);
    assert!(
        error.contains("--level") && error.contains("--bundle"),
        "{error}"
    );
}

#[test]
fn cancelling_recurring_gold_with_until_leaves_it_pending_cancel() {
    let site = Site::new();
    site.ok(&[
        "add",
        "ann@example.com",
        "--level",
        "gold",
        "--bundle",
        "pricing-course",
        "--since",
        "2024-01-15",
    ]);
    let out = site.ok(&["cancel", "ann@example.com", "--until", "2099-01-01"]);
    assert!(
        out.contains("now gold (pending-cancel until 2099-01-01T00:00:00Z)"),
        "{out}"
    );
    let ann = site.show("ann@example.com");
    let level = &ann["standing"]["level"];
    assert_eq!(level["status"], "pending-cancel");
    assert_eq!(level["until"], "2099-01-01T00:00:00Z");
    let cancel = &ann["history"][2];
    assert_eq!(cancel["type"], "cancel");
    assert_eq!(cancel["access"], "level:gold");
    assert_eq!(cancel["until"], "2099-01-01T00:00:00Z");
    let table = site.ok(&["list"]);
    assert!(
        table.contains("pending-cancel until 2099-01-01T00:00:00Z"),
        "{table}"
    );

    // A single-payment bundle has no paid-up period: it is cancelled at once, and the
    // operator is told why --until did nothing.
    let output = site.run(&[
        "cancel",
        "ann@example.com",
        "--bundle",
        "pricing-course",
        "--until",
        "2099-01-01",
    ]);
    let (out, err) = common::text(&output);
    assert!(output.status.success(), "{out}\n{err}");
    assert!(out.contains("pricing-course (cancelled)"), "{out}");
    assert!(err.contains("not recurring"), "{err}");
    assert_eq!(
        bundle(&site.show("ann@example.com"), "pricing-course")["status"],
        "cancelled"
    );

    // A cancel is a normal cancellation; --until must be after it.
    let error = site.fails(&[
        "cancel",
        "ann@example.com",
        "--until",
        "2026-01-01",
        "--at",
        "2026-02-01",
    ]);
    assert!(error.contains("not later than"), "{error}");
}

#[test]
fn revoke_ends_access_at_once() {
    let site = Site::new();
    site.ok(&[
        "add",
        "ann@example.com",
        "--level",
        "gold",
        "--bundle",
        "workshop",
    ]);
    site.ok(&["cancel", "ann@example.com", "--until", "2099-01-01"]);

    let out = site.ok(&["revoke", "ann@example.com", "--level", "gold"]);
    assert!(
        out.starts_with("Revoked level gold from ann@example.com: now gold (cancelled)"),
        "{out}"
    );
    let out = site.ok(&["revoke", "ann@example.com", "--bundle", "workshop"]);
    assert!(out.contains("workshop (cancelled)"), "{out}");

    let ann = site.show("ann@example.com");
    assert_eq!(ann["standing"]["level"]["status"], "cancelled");
    assert_eq!(bundle(&ann, "workshop")["status"], "cancelled");
    let history = ann["history"].as_array().unwrap();
    assert_eq!(history[3]["type"], "cancel");
    assert_eq!(history[3]["until"], Value::Null, "a revoke has no until");
    assert_eq!(history[4]["type"], "bundle_cancel");

    // Nothing to revoke: refused, and nothing is recorded.
    let error = site.fails(&["revoke", "ann@example.com", "--level", "gold"]);
    assert!(error.contains("already cancelled"), "{error}");
    let error = site.fails(&["revoke", "ann@example.com", "--level", "silver"]);
    assert!(error.contains("not on level silver"), "{error}");
    let error = site.fails(&["revoke", "ann@example.com", "--bundle", "pricing-course"]);
    assert!(
        error.contains("does not hold bundle pricing-course"),
        "{error}"
    );
    assert_eq!(
        site.show("ann@example.com")["history"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

#[test]
fn revoke_refunded_records_a_revocation_not_a_cancel() {
    let site = Site::new();
    site.ok(&[
        "add",
        "ann@example.com",
        "--level",
        "gold",
        "--bundle",
        "workshop",
    ]);
    let out = site.ok(&[
        "revoke",
        "ann@example.com",
        "--bundle",
        "workshop",
        "--refunded",
    ]);
    assert!(
        out.starts_with("Revoked bundle workshop from ann@example.com"),
        "{out}"
    );
    let ann = site.show("ann@example.com");
    let history = ann["history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["type"], "revoke", "{last}");
    assert_eq!(last["access"], "bundle:workshop");
    assert_eq!(bundle(&ann, "workshop")["status"], "revoked");
}

#[test]
fn unknown_level_or_bundle_names_the_known_ids_and_changes_nothing() {
    let site = Site::new();
    let error = site.fails(&["add", "ann@example.com", "--level", "platinum"]);
    assert!(error.contains("unknown level `platinum`"), "{error}");
    assert!(error.contains("free, silver, gold"), "{error}");
    let error = site.fails(&["show", "ann@example.com"]);
    assert!(
        error.contains("no member with email ann@example.com"),
        "{error}"
    );

    let error = site.fails(&[
        "add",
        "ann@example.com",
        "--level",
        "gold",
        "--bundle",
        "workshp",
    ]);
    assert!(error.contains("did you mean `workshop`?"), "{error}");
    assert!(error.contains("pricing-course, workshop"), "{error}");
    site.fails(&["show", "ann@example.com"]);

    site.ok(&["add", "ann@example.com", "--level", "silver"]);
    let error = site.fails(&["grant", "ann@example.com", "--level", "glod"]);
    assert!(error.contains("did you mean `gold`?"), "{error}");
    assert!(error.contains("free, silver, gold"), "{error}");
    let error = site.fails(&["cancel", "ann@example.com", "--bundle", "nope"]);
    assert!(error.contains("unknown bundle `nope`"), "{error}");
    let ann = site.show("ann@example.com");
    assert_eq!(history_types(&ann), ["level_set"]);
    assert_eq!(ann["standing"]["level"]["id"], "silver");
}

#[test]
fn a_member_is_added_once() {
    let site = Site::new();
    site.ok(&["add", "ann@example.com", "--level", "gold"]);
    let error = site.fails(&["add", "ANN@example.com", "--level", "free"]);
    assert!(
        error.contains("a member with email ann@example.com already exists"),
        "{error}"
    );
    let ann = site.show("ann@example.com");
    assert_eq!(history_types(&ann), ["level_set"]);
    assert_eq!(ann["standing"]["level"]["id"], "gold");
}

#[test]
fn bad_dates_and_addresses_are_refused_clearly() {
    let site = Site::new();
    let error = site.fails(&[
        "add",
        "ann@example.com",
        "--level",
        "gold",
        "--since",
        "2026-13-01",
    ]);
    assert!(error.contains("--since"), "{error}");
    assert!(error.contains("2026-13-01"), "{error}");
    assert!(
        error.contains("2026-10-01"),
        "the message shows the format: {error}"
    );
    site.fails(&["show", "ann@example.com"]);

    site.ok(&["add", "ann@example.com", "--level", "gold"]);
    let error = site.fails(&[
        "grant",
        "ann@example.com",
        "--bundle",
        "workshop",
        "--at",
        "yesterday",
    ]);
    assert!(
        error.contains("`yesterday` is not a date or time"),
        "{error}"
    );
    assert_eq!(history_types(&site.show("ann@example.com")), ["level_set"]);

    for bad in [
        "ann",
        "ann@example",
        "@example.com",
        "ann smith@example.com",
    ] {
        let error = site.fails(&["add", bad, "--level", "gold"]);
        assert!(error.contains("is not an email address"), "{bad}: {error}");
    }
    let error = site.fails(&["show", "nobody@example.com"]);
    assert!(
        error.contains("no member with email nobody@example.com (see gatehouse members list)"),
        "{error}"
    );
    let list: Value = serde_json::from_str(&site.ok(&["list", "--json"])).unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "only ann was added: {list:#}"
    );
}

#[test]
fn a_password_from_stdin_is_stored_only_as_an_argon2id_hash() {
    let site = Site::new();
    let password = "correct horse battery staple";
    let output = site.run_with_stdin(
        &[
            "add",
            "ann@example.com",
            "--level",
            "gold",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    );
    let (out, err) = common::text(&output);
    assert!(output.status.success(), "{out}\n{err}");
    assert!(out.contains("password set"), "{out}");
    assert!(!out.contains(password) && !err.contains(password));

    let shown = site.ok(&["show", "ann@example.com", "--json"]);
    assert!(!shown.contains(password), "{shown}");
    assert!(
        !shown.contains("$argon2"),
        "show does not print the hash either: {shown}"
    );
    let ann: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(ann["password"], true);

    let hash = site.password_hash("ann@example.com").unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let parsed = argon2::password_hash::phc::PasswordHash::new(&hash).unwrap();
    let argon2 = argon2::Argon2::default();
    assert!(argon2.verify_password(password.as_bytes(), &parsed).is_ok());
    assert!(argon2.verify_password(b"wrong password", &parsed).is_err());
    let bytes = site.database_bytes();
    assert!(
        !bytes
            .windows(password.len())
            .any(|w| w == password.as_bytes()),
        "the plain password is nowhere in the database files"
    );

    // A member without --password-stdin has no password; a too-short one is refused before
    // anything is stored.
    site.ok(&["add", "bob@example.com", "--level", "free"]);
    assert_eq!(site.password_hash("bob@example.com"), None);
    let output = site.run_with_stdin(
        &[
            "add",
            "cy@example.com",
            "--level",
            "free",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(!output.status.success());
    assert!(
        common::text(&output).1.contains("at least"),
        "{:?}",
        common::text(&output)
    );
    site.fails(&["show", "cy@example.com"]);
}

#[test]
fn every_subcommand_and_option_has_help() {
    let site = Site::new();
    let help = site.ok(&["--help"]);
    for command in ["add", "list", "show", "grant", "revoke", "cancel"] {
        assert!(help.contains(command), "{help}");
    }
    let expected: &[(&str, &[&str])] = &[
        (
            "add",
            &["--level", "--since", "--bundle", "--password-stdin", "--db"],
        ),
        ("list", &["--json"]),
        ("show", &["--json"]),
        ("grant", &["--level", "--bundle", "--at", "--complimentary"]),
        ("revoke", &["--level", "--bundle", "--at"]),
        ("cancel", &["--bundle", "--until", "--at"]),
    ];
    for (command, options) in expected {
        let help = site.ok(&[command, "--help"]);
        for option in *options {
            let line = help
                .lines()
                .find(|l| l.starts_with(' ') && l.trim_start().starts_with(&format!("{option} ")))
                .unwrap_or_else(|| panic!("{command} --help lists {option}:\n{help}"));
            let described = line
                .trim_start()
                .split("  ")
                .filter(|p| !p.trim().is_empty())
                .count()
                > 1;
            assert!(described, "{command} {option} has help text:\n{help}");
        }
    }
}

#[test]
fn a_list_read_only_in_part_ends_quietly() {
    // `gatehouse members list | head`: the reader closes the pipe early. `print!` panicked.
    let site = Site::new();
    let mut csv = String::from("email,level,since,bundles,status,expires\n");
    for n in 0..3000 {
        csv.push_str(&format!(
            "member{n:05}@example.com,gold,2025-01-01,,active,\n"
        ));
    }
    std::fs::write(site.root().join("many.csv"), csv).unwrap();
    site.ok(&["import", "many.csv"]);
    let mut child = site
        .command(&["list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{stderr}");
}
