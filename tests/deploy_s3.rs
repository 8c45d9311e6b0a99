//! `gatehouse deploy` to a real S3-compatible server (DESIGN §9): Garage on loopback, which
//! checks every SigV4 signature, read back through its website endpoint as a CDN would read
//! its origin. First deploy, a no-op, a one-page edit, deletions and their cap, `--dry-run`,
//! the headers of every kind of file, bad credentials and other failures, and a key rotation
//! going out while pages cached from the old build keep opening for the grace window.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::Site;
use common::deploy::{
    LiveBucket, add_gated_file, append_and_build, assert_live_matches, attribute, counts,
    demo_deploying, deploy, deploy_manifest, deploy_ok, envelope_of, names_in, open_page,
    sealed_files, stderr,
};
use common::edge::TestEdge;
use common::garage::{self, Garage};
use gatehouse::gate::{MasterSecret, Rule, derive_key, open};

const PREFIX: &str = "www";
const LESSON: &str = "content/course/value-metric.md";
const LESSON_PATH: &str = "/course/value-metric/";

fn site_deploying_to(garage: &Garage, extra: &str) -> Site {
    demo_deploying(&garage.deploy_table(PREFIX), extra)
}

fn live(garage: &Garage) -> LiveBucket<'_> {
    LiveBucket {
        garage,
        prefix: PREFIX,
    }
}

/// The paths a `--dry-run --verbose` plan would upload.
fn planned_uploads(plan: &str) -> BTreeSet<String> {
    plan.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("upload") || l.starts_with("replace"))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn a_first_deploy_publishes_every_file_and_a_rebuild_then_uploads_nothing() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = site_deploying_to(&garage, "");
    let files = common::snapshot(&site.out()).len() - 1;
    let out = deploy_ok(&site, &[], &garage.env());
    assert_eq!(counts(&out), (files, 0, 0), "{out}");
    assert!(
        out.contains(&format!("s3://site/www at {}", garage.endpoint)),
        "{out}"
    );
    assert_live_matches(&live(&garage), &site.out());
    let (_, body) = open_page(&live(&garage), LESSON_PATH);
    assert!(body.unwrap().contains("value metric"));

    site.build().unwrap();
    let again = deploy_ok(&site, &[], &garage.env());
    assert!(again.contains("Nothing to deploy"), "{again}");
    assert_eq!(counts(&again), (0, 0, 0));
}

#[test]
fn a_one_page_edit_uploads_only_that_page_its_envelope_and_the_changed_lists() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = site_deploying_to(&garage, "");
    deploy_ok(&site, &[], &garage.env());
    let old_src = attribute(&open_page(&live(&garage), LESSON_PATH).0, "data-src").unwrap();
    append_and_build(&site, LESSON, "One more paragraph.");

    let plan = deploy_ok(&site, &["--dry-run", "--verbose"], &garage.env());
    let new_src = envelope_of(&site, LESSON_PATH);
    let gate = new_src.split('/').nth(2).unwrap();
    let expected: BTreeSet<String> = [
        new_src.clone(),
        "/course/value-metric/index.html".to_owned(),
        common::manifest(&site.out()).bundles[gate].clone(),
        "/_gated/manifest.json".to_owned(),
        "/_gated/gates.json".to_owned(),
    ]
    .into();
    assert_eq!(planned_uploads(&plan), expected, "{plan}");
    assert!(
        open_page(&live(&garage), LESSON_PATH).0.contains(&old_src),
        "the dry run changed nothing"
    );

    let out = deploy_ok(&site, &[], &garage.env());
    assert_eq!(counts(&out), (2, 3, 0), "{out}");
    let (html, body) = open_page(&live(&garage), LESSON_PATH);
    assert!(html.contains(&new_src));
    assert!(body.unwrap().contains("One more paragraph."));
    assert_eq!(
        garage.fetch(&format!("/{PREFIX}{old_src}")).status,
        200,
        "the replaced envelope is kept for pages cached before the edit"
    );
}

#[test]
fn every_kind_of_file_gets_its_content_type_and_cache_control() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = site_deploying_to(
        &garage,
        "[[deploy.headers]]\npath = \"*.svg\"\ncache_control = \"public, max-age=86400\"\n",
    );
    deploy_ok(&site, &[], &garage.env());
    let manifest = common::manifest(&site.out());
    let envelope = &manifest.pages[0].src;
    let bundle = &manifest.bundles[&manifest.pages[0].gate];
    let short = "public, max-age=60";
    let immutable = "public, max-age=31536000, immutable";
    let home = site.read("index.html");
    let fingerprinted_gate = home
        .split('"')
        .find(|part| part.starts_with("/gate.") && part.ends_with(".js") && part != &"/gate.js")
        .expect("the home page links gate.js by its fingerprinted name")
        .to_owned();
    let cases = [
        (
            fingerprinted_gate.as_str(),
            "text/javascript; charset=utf-8",
            immutable,
        ),
        ("/gatehouse-sw.js", "text/javascript; charset=utf-8", short),
        ("/", "text/html; charset=utf-8", short),
        (LESSON_PATH, "text/html; charset=utf-8", short),
        ("/404.html", "text/html; charset=utf-8", short),
        (envelope.as_str(), "application/octet-stream", immutable),
        (bundle.as_str(), "application/octet-stream", immutable),
        ("/_gated/manifest.json", "application/json", short),
        ("/_gated/gates.json", "application/json", short),
        ("/search.json", "application/json", short),
        ("/atom.xml", "application/atom+xml; charset=utf-8", short),
        ("/sitemap.xml", "application/xml; charset=utf-8", short),
        (
            "/style.css",
            "text/css; charset=utf-8",
            "public, max-age=300",
        ),
        (
            "/gate.js",
            "text/javascript; charset=utf-8",
            "public, max-age=300",
        ),
        (
            "/robots.txt",
            "text/plain; charset=utf-8",
            "public, max-age=300",
        ),
        ("/favicon.svg", "image/svg+xml", "public, max-age=86400"),
    ];
    for (path, content_type, cache_control) in cases {
        let answer = garage.fetch(&format!("/{PREFIX}{path}"));
        assert_eq!(answer.status, 200, "{path}");
        assert_eq!(answer.header("content-type"), Some(content_type), "{path}");
        assert_eq!(
            answer.header("cache-control"),
            Some(cache_control),
            "{path}"
        );
    }
}

#[test]
fn deletions_come_last_are_capped_and_a_dry_run_changes_nothing() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = site_deploying_to(&garage, "max_deletes = 0\n");
    deploy_ok(&site, &[], &garage.env());
    std::fs::remove_file(site.path("content/blog/good-better-best.md")).unwrap();
    site.build().unwrap();

    let plan = deploy_ok(&site, &["--dry-run", "--force"], &garage.env());
    assert!(
        plan.contains("delete   /blog/good-better-best/index.html"),
        "{plan}"
    );
    let refused = deploy(&site, &[], &garage.env());
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("more than max_deletes (0)"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        garage.fetch("/www/blog/good-better-best/").status,
        200,
        "still live"
    );

    let out = deploy_ok(&site, &["--force"], &garage.env());
    assert!(counts(&out).2 >= 1, "{out}");
    assert_eq!(garage.fetch("/www/blog/good-better-best/").status, 404);
    assert_live_matches(&live(&garage), &site.out());
}

#[test]
fn wrong_credentials_are_refused_clearly_and_change_nothing() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = site_deploying_to(&garage, "");
    let wrong_secret = "0badc0de".repeat(8);
    let output = deploy(
        &site,
        &[],
        &[
            ("AWS_ACCESS_KEY_ID", garage::ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", wrong_secret.clone()),
        ],
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("refused the credentials"), "{message}");
    assert!(
        message.contains("AWS_SECRET_ACCESS_KEY"),
        "says what to check: {message}"
    );
    assert!(
        !message.contains(&wrong_secret),
        "no secret in the error: {message}"
    );
    assert!(!message.contains(garage::SECRET_KEY), "{message}");
    assert_eq!(garage.fetch("/www/").status, 404, "nothing was uploaded");

    let unknown_key = deploy(
        &site,
        &[],
        &[
            ("AWS_ACCESS_KEY_ID", "GKffffffffffffffffffffffff".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", garage::SECRET_KEY.to_owned()),
        ],
    );
    assert!(stderr(&unknown_key).contains("refused the credentials"));

    let none = deploy(&site, &[], &[]);
    assert!(!none.status.success());
    assert!(
        stderr(&none)
            .contains("no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn a_missing_bucket_a_wrong_region_and_an_unreachable_endpoint_are_named() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = site_deploying_to(&garage, "");
    let missing = deploy(
        &site,
        &["--target", "s3://no-such-bucket/www"],
        &garage.env(),
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("bucket `no-such-bucket` does not exist at http://127.0.0.1:"),
        "{}",
        stderr(&missing)
    );

    site.edit("site.toml", "region = \"garage\"", "region = \"eu-west-1\"");
    let region = deploy(&site, &[], &garage.env());
    assert!(!region.status.success());
    assert!(
        stderr(&region).contains("is in another region (`garage`)"),
        "{}",
        stderr(&region)
    );

    // Bound and held, never listening: connections are refused, and no other program can
    // open a server there while the deploy tries.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = closed.local_addr().unwrap().port();
    site.edit("site.toml", "region = \"eu-west-1\"", "region = \"garage\"");
    site.edit(
        "site.toml",
        &garage.endpoint,
        &format!("http://127.0.0.1:{port}"),
    );
    let unreachable = deploy(&site, &[], &garage.env());
    assert!(!unreachable.status.success());
    let message = stderr(&unreachable);
    assert!(
        message.contains(&format!("cannot reach http://127.0.0.1:{port}")),
        "{message}"
    );
    assert!(
        message.contains("tried 5 times"),
        "retried with backoff: {message}"
    );
}

const GOLD: &str = "level=gold;bundles=-;drip=0";

/// The page of the demo site whose rule is plain gold.
fn gold_page(site: &Site) -> String {
    common::manifest(&site.out())
        .pages
        .into_iter()
        .find(|p| p.rule == GOLD)
        .unwrap()
        .path
}

fn key_from(answer: &serde_json::Value) -> gatehouse::gate::GateKey {
    let gate = Rule::parse(GOLD).unwrap().gate_id();
    let text = answer["keys"][gate.as_str()].as_str().unwrap();
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text).unwrap();
    let epoch = u32::try_from(answer["epoch"].as_u64().unwrap()).unwrap();
    gatehouse::gate::GateKey::from_bytes(bytes.try_into().unwrap(), epoch)
}

#[tokio::test]
async fn after_a_rotation_pages_cached_from_the_old_build_open_only_within_the_grace_window() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = site_deploying_to(&garage, "");
    let env = garage.env();
    deploy_ok(&site, &[], &env);
    let path = gold_page(&site);
    // What a CDN or a browser cached before the rotation.
    let cached_html = garage.fetch(&format!("/{PREFIX}{path}")).text();
    let cached_src = attribute(&cached_html, "data-src").unwrap();

    common::gatehouse_ok(site.root(), &["keys", "rotate"]);
    site.build().unwrap();
    let out = deploy_ok(&site, &[], &env);
    assert!(out.contains("replaced files kept"), "{out}");
    let (new_html, body) = open_page(&live(&garage), &path);
    assert!(body.is_some(), "the new page opens with epoch 2");
    assert!(new_html.contains("data-epoch=\"2\""));
    let old_envelope = garage.fetch(&format!("/{PREFIX}{cached_src}"));
    assert_eq!(
        old_envelope.status, 200,
        "the old envelope is still at the origin"
    );

    let rule = Rule::parse(GOLD).unwrap();
    let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
    let root = site.root().to_path_buf();
    let edge = TestEdge::start(site, &url).await;
    edge.add_member(
        "gil@example.com",
        "gold",
        "2026-01-01T00:00:00Z",
        Some("a long password"),
    )
    .await;
    let cookie = edge.login("gil@example.com", "a long password").await;
    let asked = serde_json::json!({ "rules": [GOLD], "epoch": 1 });
    let answer = edge.post("/keys", &asked, Some(&cookie)).await.json();
    assert_eq!(
        answer["epoch"], 1,
        "inside the window the old page gets its epoch"
    );
    assert!(
        open(
            &key_from(&answer),
            &rule.gate_id(),
            &path,
            &old_envelope.body
        )
        .is_ok()
    );

    // A day and more later, the same cached page is told the epoch moved on.
    let config = std::fs::read_to_string(root.join("site.toml")).unwrap();
    let stale = config
        .lines()
        .map(|line| {
            if line.starts_with("rotated_at") {
                "rotated_at = \"2026-01-01T00:00:00Z\"".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let later = Site::demo();
    later.write("site.toml", &stale);
    let edge = TestEdge::start(later, &url).await;
    let cookie = edge.login("gil@example.com", "a long password").await;
    let answer = edge.post("/keys", &asked, Some(&cookie)).await.json();
    assert_eq!(answer["epoch"], 2);
    assert!(
        open(
            &key_from(&answer),
            &rule.gate_id(),
            &path,
            &old_envelope.body
        )
        .is_err()
    );
    let secret = MasterSecret::from_base64url(common::SECRET_B64).unwrap();
    assert!(
        !answer
            .to_string()
            .contains(&derive_key(&secret, 1, &rule).to_base64url()),
        "no epoch-1 key after the window"
    );
}

#[tokio::test]
async fn a_bucket_without_a_manifest_is_listed_and_its_foreign_files_kept_until_forced() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = Site::demo();
    site.write("static/files/a b+c%d é.txt", "odd name\n");
    site.write("static/empty.txt", "");
    let toml = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write(
        "site.toml",
        &format!("{toml}{}", garage.deploy_table(PREFIX)),
    );
    site.build().unwrap();
    // Someone else's file under the prefix, put there by another tool.
    let s3 = gatehouse::deploy::S3Target::new(
        &gatehouse::deploy::S3Settings {
            bucket: garage::BUCKET.into(),
            prefix: PREFIX.into(),
            endpoint: Some(garage.endpoint.clone()),
            region: Some(garage::REGION.into()),
            path_style: None,
        },
        gatehouse::deploy::Credentials::new(
            garage::ACCESS_KEY.into(),
            garage::SECRET_KEY.into(),
            None,
        ),
    )
    .unwrap();
    let headers = gatehouse::deploy::Headers {
        content_type: "text/plain".into(),
        cache_control: "no-cache".into(),
    };
    gatehouse::deploy::Target::put(&s3, "legacy/report.txt", b"old".to_vec(), None, &headers)
        .await
        .unwrap();

    let refused = deploy(&site, &[], &garage.env());
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(message.contains("has no deploy manifest"), "{message}");
    assert!(
        message.contains("holds 1 file that is not in this build (/legacy/report.txt)"),
        "{message}"
    );
    assert_eq!(garage.fetch("/www/legacy/report.txt").status, 200);

    deploy_ok(&site, &["--force"], &garage.env());
    assert_eq!(garage.fetch("/www/legacy/report.txt").status, 404);
    let odd = garage.fetch("/www/files/a%20b%2Bc%25d%20%C3%A9.txt");
    assert_eq!(odd.status, 200, "a name with a space, +, % and é");
    assert_eq!(odd.text(), "odd name\n");
    let empty = garage.fetch("/www/empty.txt");
    assert_eq!((empty.status, empty.body.len()), (200, 0), "an empty file");
    assert_live_matches(&live(&garage), &site.out());
    let again = deploy_ok(&site, &[], &garage.env());
    assert!(again.contains("Nothing to deploy"), "{again}");
}

/// The largest sealed file of the build: the lesson's diagram when it is the big one.
fn largest_sealed_file(site: &Site) -> String {
    sealed_files(&site.out())
        .into_iter()
        .max_by_key(|key| std::fs::metadata(site.out().join(key)).unwrap().len())
        .expect("a sealed file")
}

#[test]
fn a_100_mib_sealed_file_goes_up_in_parts_and_reads_back_whole() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = site_deploying_to(&garage, "");
    add_gated_file(&site, 100 * 1024 * 1024);
    site.build().unwrap();
    let video = largest_sealed_file(&site);
    let built = std::fs::read(site.out().join(&video)).unwrap();
    assert!(built.len() > 100 * 1024 * 1024, "{}", built.len());

    deploy_ok(&site, &[], &garage.env());
    let answer = garage.fetch(&format!("/{PREFIX}/{video}"));
    assert_eq!(answer.status, 200);
    assert!(answer.body == built, "the object reads back byte for byte");
    let etag = answer.header("etag").unwrap_or_default();
    assert!(
        etag.trim_matches('"').ends_with("-2"),
        "Garage made it of two parts (64 MiB, then the rest): ETag {etag}"
    );
    assert_eq!(
        answer.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        answer.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let small = garage.fetch(&format!("/{PREFIX}/index.html"));
    assert!(
        !small.header("etag").unwrap_or_default().contains('-'),
        "small files go up in one PUT"
    );

    site.build().unwrap();
    let again = deploy_ok(&site, &[], &garage.env());
    assert!(again.contains("Nothing to deploy"), "{again}");
}

#[test]
fn the_bucket_holds_a_sealed_manifest_and_a_key_rotation_uploads_no_sealed_file() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = site_deploying_to(&garage, "");
    add_gated_file(&site, 64 * 1024);
    site.build().unwrap();
    deploy_ok(&site, &[], &garage.env());

    let manifest = garage.fetch(&format!("/{PREFIX}/.gatehouse-deploy.sealed"));
    assert_eq!(manifest.status, 200);
    assert_eq!(
        manifest.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(manifest.header("cache-control"), Some("no-store"));
    let keys: Vec<String> = common::snapshot(&site.out()).into_keys().collect();
    let mut names: Vec<&str> = keys.iter().map(String::as_str).collect();
    names.extend(["_gated/files/", "index.html", "lesson-x"]);
    assert_eq!(names_in(&manifest.body, names), Vec::<&str>::new());
    assert_eq!(
        garage
            .fetch(&format!("/{PREFIX}/.gatehouse-deploy.json"))
            .status,
        404,
        "no plain manifest"
    );
    let state = deploy_manifest(&live(&garage));
    let sealed = sealed_files(&site.out());
    assert!(!sealed.is_empty());
    for file in &sealed {
        assert!(state["files"][file].is_array(), "{file}: {state}");
    }

    common::gatehouse_ok(site.root(), &["keys", "rotate"]);
    site.build().unwrap();
    assert_eq!(
        sealed_files(&site.out()),
        sealed,
        "sealed once, whatever the epoch"
    );
    let plan = deploy_ok(&site, &["--dry-run", "--verbose"], &garage.env());
    let uploads = planned_uploads(&plan);
    assert!(
        uploads.iter().any(|p| p.ends_with(".bin")),
        "new envelopes go up: {plan}"
    );
    let files: Vec<&String> = uploads
        .iter()
        .filter(|p| p.starts_with("/_gated/files/"))
        .collect();
    assert!(
        files.is_empty(),
        "no sealed file is uploaded again: {files:?}"
    );
    deploy_ok(&site, &[], &garage.env());
    for file in &sealed {
        assert_eq!(
            garage.fetch(&format!("/{PREFIX}/{file}")).status,
            200,
            "{file}"
        );
    }
    let (_, body) = open_page(&live(&garage), "/course/lesson-x/");
    assert!(
        body.unwrap().contains("/_gated/files/"),
        "the lesson still points at it"
    );
    let again = deploy_ok(&site, &[], &garage.env());
    assert!(again.contains("Nothing to deploy"), "{again}");
}
