//! Every rule DESIGN §2 lists for `gatehouse check`, one test each, with file:line.

#![allow(clippy::unwrap_used)]

use gatehouse::config::{Billing, Grant, parse};

const BASE: &str = r#"title = "T"
base_url = "https://example.com"

[[levels]]
id = "free"
rank = 0

[[levels]]
id = "gold"
rank = 20

[[bundles]]
id = "course"
"#;

fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("themes/default/templates")).unwrap();
    dir
}

fn problems(extra: &str) -> String {
    let dir = root();
    let text = format!("{BASE}{extra}");
    match parse(dir.path(), &text) {
        Ok(_) => panic!("expected a problem with:\n{extra}"),
        Err(problems) => problems.to_string(),
    }
}

fn accepts(extra: &str) -> gatehouse::config::SiteConfig {
    let dir = root();
    parse(dir.path(), &format!("{BASE}{extra}")).unwrap_or_else(|p| panic!("{p}"))
}

#[test]
fn defaults_fill_optional_settings() {
    let config = accepts("");
    assert_eq!(config.epoch, 1);
    assert_eq!(config.edge_url, "/_gate");
    assert_eq!(config.theme, "default");
    assert_eq!(
        config
            .levels
            .iter()
            .map(|l| l.id.as_str())
            .collect::<Vec<_>>(),
        ["free", "gold"]
    );
}

#[test]
fn unknown_level_in_product_is_rejected_with_hint() {
    let error =
        problems("\n[[products]]\nid = \"p\"\ngrants = \"level:gld\"\nbilling = \"single\"\n");
    assert!(error.contains("site.toml:17:"), "{error}");
    assert!(
        error.contains("unknown level `gld` (did you mean `gold`?)"),
        "{error}"
    );
}

#[test]
fn unknown_bundle_in_product_is_rejected() {
    let error =
        problems("\n[[products]]\nid = \"p\"\ngrants = \"bundle:nope\"\nbilling = \"single\"\n");
    assert!(error.contains("unknown bundle `nope`"), "{error}");
}

#[test]
fn unknown_on_expire_level_is_rejected() {
    let error = problems(
        "\n[[levels]]\nid = \"silver\"\nrank = 10\nexpires_after = \"30d\"\non_expire = \"fre\"\n",
    );
    assert!(error.contains("site.toml:19:"), "{error}");
    assert!(error.contains("did you mean `free`?"), "{error}");
}

#[test]
fn duplicate_ranks_are_rejected() {
    let error = problems("\n[[levels]]\nid = \"silver\"\nrank = 20\n");
    assert!(error.contains("site.toml:17:"), "{error}");
    assert!(error.contains("share rank 20"), "{error}");
}

#[test]
fn duplicate_ids_are_rejected() {
    let error = problems("\n[[bundles]]\nid = \"course\"\n");
    assert!(
        error.contains("bundle `course` is defined twice (first on line 13)"),
        "{error}"
    );
}

#[test]
fn product_granting_nothing_is_rejected() {
    let error = problems("\n[[products]]\nid = \"p\"\ngrants = \"\"\nbilling = \"single\"\n");
    assert!(error.contains("grants nothing"), "{error}");
    let error = problems("\n[[products]]\nid = \"p\"\ngrants = []\nbilling = \"single\"\n");
    assert!(error.contains("grants nothing"), "{error}");
}

#[test]
fn product_granting_two_things_is_rejected() {
    let error = problems(
        "\n[[products]]\nid = \"p\"\ngrants = [\"level:gold\", \"bundle:course\"]\nbilling = \"single\"\n",
    );
    assert!(error.contains("grants several things"), "{error}");
    let error = problems(
        "\n[[products]]\nid = \"p\"\ngrants = \"level:gold,bundle:course\"\nbilling = \"single\"\n",
    );
    assert!(error.contains("grants two things"), "{error}");
}

#[test]
fn trial_on_single_payment_is_rejected() {
    let error = problems(
        "\n[[products]]\nid = \"p\"\ngrants = \"bundle:course\"\nbilling = \"single\"\ntrial = \"7d\"\n",
    );
    assert!(error.contains("site.toml:19:"), "{error}");
    assert!(
        error.contains("single payment cannot have a trial"),
        "{error}"
    );
}

#[test]
fn expiring_level_sold_by_plain_subscription_is_rejected() {
    let dir = root();
    let text = BASE.replace("rank = 20\n", "rank = 20\nexpires_after = \"365d\"\n")
        + "\n[[products]]\nid = \"p\"\ngrants = \"level:gold\"\nbilling = \"subscription\"\ninterval = \"1 month\"\n";
    let error = parse(dir.path(), &text).unwrap_err().to_string();
    assert!(
        error.contains("by plain subscription, but it expires"),
        "{error}"
    );
}

#[test]
fn expiring_bundle_sold_by_plain_subscription_is_rejected() {
    let dir = root();
    let text = BASE.replace(
        "id = \"course\"\n",
        "id = \"course\"\nexpires_after = \"90d\"\n",
    ) + "\n[[products]]\nid = \"p\"\ngrants = \"bundle:course\"\nbilling = \"subscription\"\ninterval = \"1 month\"\n";
    let error = parse(dir.path(), &text).unwrap_err().to_string();
    assert!(
        error.contains("bundle `course` by plain subscription"),
        "{error}"
    );
}

fn plan_with_expiry(expires: &str) -> Result<gatehouse::config::SiteConfig, String> {
    let dir = root();
    let text = BASE.replace(
        "id = \"course\"\n",
        &format!("id = \"course\"\nexpires_after = \"{expires}\"\n"),
    ) + "\n[[products]]\nid = \"plan\"\ngrants = \"bundle:course\"\nbilling = \"payment-plan\"\npayments = 3\ninterval = \"1 month\"\n";
    parse(dir.path(), &text).map_err(|p| p.to_string())
}

#[test]
fn payment_plan_expiring_within_8_days_of_last_payment_is_rejected() {
    // Last of 3 monthly payments falls due up to 62 days in (months count 31 days).
    let error = plan_with_expiry("69d").unwrap_err();
    assert!(
        error.contains("at least 8 days beyond it (expires_after ≥ 70d)"),
        "{error}"
    );
    let config = plan_with_expiry("70d").unwrap();
    assert_eq!(config.products[0].grants, Grant::Bundle("course".into()));
    assert!(matches!(
        config.products[0].billing,
        Billing::PaymentPlan { payments: 3, .. }
    ));
}

#[test]
fn payment_plan_trial_delays_the_last_payment() {
    let dir = root();
    let text = BASE.replace(
        "id = \"course\"\n",
        "id = \"course\"\nexpires_after = \"70d\"\n",
    ) + "\n[[products]]\nid = \"plan\"\ngrants = \"bundle:course\"\nbilling = \"payment-plan\"\npayments = 3\ninterval = \"1 month\"\ntrial = \"14d\"\n";
    let error = parse(dir.path(), &text).unwrap_err().to_string();
    assert!(error.contains("≥ 84d"), "{error}");
}

#[test]
fn payment_plan_needs_payments_and_interval() {
    let error = problems(
        "\n[[products]]\nid = \"p\"\ngrants = \"bundle:course\"\nbilling = \"payment-plan\"\ninterval = \"1 month\"\n",
    );
    assert!(error.contains("needs `payments`"), "{error}");
    let error = problems(
        "\n[[products]]\nid = \"p\"\ngrants = \"bundle:course\"\nbilling = \"subscription\"\n",
    );
    assert!(error.contains("needs `interval`"), "{error}");
}

#[test]
fn unknown_keys_are_rejected_at_any_depth_with_line_and_hint() {
    let error = problems("\n[[levels]]\nid = \"silver\"\nrank = 10\nexpire_after = \"30d\"\n");
    assert!(error.contains("site.toml:"), "{error}");
    assert!(error.contains("did you mean `expires_after`?"), "{error}");
    let error = problems("\n[membership]\ncancellation = \"keep_unlocked\"\n");
    assert!(error.contains("did you mean `keep-unlocked`?"), "{error}");
}

#[test]
fn bad_ids_and_urls_are_rejected() {
    let dir = root();
    let text = BASE
        .replace("id = \"course\"", "id = \"Course;1\"")
        .replace("https://example.com", "example.com");
    let error = parse(dir.path(), &text).unwrap_err().to_string();
    assert!(
        error.contains("bundle id `Course;1` may use only lowercase"),
        "{error}"
    );
    assert!(error.contains("must be an absolute http(s) URL"), "{error}");
}

#[test]
fn a_site_needs_at_least_one_level() {
    let dir = root();
    let error = parse(dir.path(), "title = \"T\"\nbase_url = \"https://e.com\"\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("no [[levels]]"), "{error}");
}

#[test]
fn the_demo_site_config_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = gatehouse::config::load(root).unwrap();
    assert!(config.levels.len() >= 2);
    assert!(!config.products.is_empty());
}

#[test]
fn one_stripe_price_or_payment_link_cannot_sell_two_products() {
    let product = |id: &str, key: &str| {
        format!(
            "\n[[products]]\nid = \"{id}\"\ngrants = \"bundle:course\"\nbilling = \"single\"\n{key} = \"price_same\"\n"
        )
    };
    let error = problems(&format!(
        "{}{}",
        product("a", "stripe_price"),
        product("b", "stripe_price")
    ));
    assert!(
        error.contains("stripe_price `price_same` is defined twice"),
        "{error}"
    );
    let error = problems(&format!(
        "{}{}",
        product("a", "stripe_payment_link"),
        product("b", "stripe_payment_link")
    ));
    assert!(error.contains("stripe_payment_link"), "{error}");
    let config = accepts(&product("a", "stripe_price"));
    assert_eq!(
        config.product_by_price("price_same").map(|p| p.id.as_str()),
        Some("a")
    );
}

#[test]
fn notify_endpoints_are_checked() {
    let config = accepts(
        "\n[[notify]]\nurl = \"https://hooks.example.com/x\"\nevents = [\"joined\", \"member.expired\"]\n",
    );
    assert_eq!(config.notify[0].events, ["member.joined", "member.expired"]);
    assert_eq!(config.notify[0].secret_env, "GATEHOUSE_NOTIFY_SECRET");
    assert!(config.notify[0].wants("member.expired"));
    assert!(!config.notify[0].wants("member.level_changed"));
    let error = problems("\n[[notify]]\nurl = \"hooks.example.com\"\n");
    assert!(error.contains("must be an absolute http(s) URL"), "{error}");
    let error = problems("\n[[notify]]\nurl = \"https://h.example.com\"\nevents = [\"joind\"]\n");
    assert!(error.contains("unknown event `joind`"), "{error}");
    assert!(error.contains("member.joined"), "{error}");
    let error =
        problems("\n[[notify]]\nurl = \"https://h.example.com\"\nsecret_env = \"s3cr3t-value\"\n");
    assert!(
        error.contains("must name an environment variable"),
        "{error}"
    );
    assert!(error.contains("site.toml:"), "names the line: {error}");
}
