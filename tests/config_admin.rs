//! `[admin]` in site.toml (issue 17): who may use the operator console, checked like every
//! other setting, with the line of each mistake.

#![allow(clippy::unwrap_used)]

use gatehouse::config::parse;

const BASE: &str = r#"title = "T"
base_url = "https://example.com"

[[levels]]
id = "free"
rank = 0
"#;

fn load(extra: &str) -> Result<gatehouse::config::SiteConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("themes/default/templates")).unwrap();
    parse(dir.path(), &format!("{BASE}{extra}")).map_err(|p| p.to_string())
}

#[test]
fn without_admin_the_console_has_no_operators() {
    let config = load("").unwrap();
    assert!(config.admin.emails.is_empty());
    assert_eq!(config.admin.session_hours, 8);
    assert_eq!(config.admin.sharing_threshold, 5);
}

#[test]
fn operator_emails_are_normalised_like_members() {
    let config = load("\n[admin]\nemails = [\" Owner@Example.COM \", \"ops@example.com\"]\nsession_hours = 2\nsharing_threshold = 9\n").unwrap();
    assert_eq!(
        config.admin.emails,
        ["owner@example.com", "ops@example.com"]
    );
    assert!(config.admin.is_operator("owner@example.com"));
    assert!(
        !config.admin.is_operator("Owner@Example.COM"),
        "callers normalise first"
    );
    assert_eq!(config.admin.session_hours, 2);
    assert_eq!(config.admin.sharing_threshold, 9);
}

#[test]
fn a_bad_operator_email_names_its_line() {
    let error =
        load("\n[admin]\nemails = [\"owner@example.com\",\n  \"not an address\"]\n").unwrap_err();
    assert!(error.contains("site.toml:10"), "{error}");
    assert!(
        error.contains("[admin] emails") && error.contains("not an address"),
        "{error}"
    );
}

#[test]
fn an_operator_listed_twice_is_a_mistake() {
    let error = load("\n[admin]\nemails = [\"a@example.com\", \"A@example.com\"]\n").unwrap_err();
    assert!(error.contains("twice"), "{error}");
}

#[test]
fn session_hours_and_threshold_are_bounded() {
    let error = load("\n[admin]\nemails = [\"a@example.com\"]\nsession_hours = 0\n").unwrap_err();
    assert!(
        error.contains("session_hours = 0") && error.contains("1 to 168"),
        "{error}"
    );
    let error = load("\n[admin]\nsharing_threshold = -1\n").unwrap_err();
    assert!(error.contains("sharing_threshold"), "{error}");
}

#[test]
fn an_unknown_admin_key_is_refused() {
    let error = load("\n[admin]\noperators = [\"a@example.com\"]\n").unwrap_err();
    assert!(error.contains("operators"), "{error}");
}
