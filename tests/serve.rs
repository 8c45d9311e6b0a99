//! End to end: the real `gatehouse serve` on its own copy of the demo site (DESIGN §8). Pages and
//! the edge API on one origin, the dev script only in what serve sends, one-click demo logins, a
//! dev database reset at every start, live reload of one page or the whole site, build errors
//! announced while the last good build stays up, "view as" (serve only), and site.toml edits.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::serve::{
    DevEvent, EVENT_TIMEOUT, EdgeProcess, Events, Serve, client, eventually, raw_get, served_dir,
};
use common::{SECRET_B64, Site, manifest, snapshot};
use gatehouse::gate::{MasterSecret, Rule, derive_key, open};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The tag `serve` puts into every HTML page it sends, and nowhere else.
const DEV_SCRIPT: &str = r#"<script src="/_gatehouse/dev.js" defer></script>"#;
const HTML: &str = "text/html; charset=utf-8";
const DAY: u64 = 86_400;

fn start() -> (Site, Serve) {
    let site = Site::demo();
    let serve = Serve::start(site.root());
    (site, serve)
}

/// What one GET answered.
struct Page {
    status: StatusCode,
    kind: String,
    location: Option<String>,
    body: String,
}

async fn get(browser: &reqwest::Client, serve: &Serve, path: &str) -> Page {
    let response = browser.get(serve.at(path)).send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (kind, location) = (
        header("content-type").unwrap_or_default(),
        header("location"),
    );
    Page {
        status: response.status(),
        kind,
        location,
        body: response.text().await.unwrap(),
    }
}

/// `POST /keys` at `url` for `rules`; panics unless it answers 200.
async fn keys(browser: &reqwest::Client, url: &str, rules: &[&str]) -> Value {
    let response = browser
        .post(url)
        .json(&json!({ "rules": rules }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// `open` when the answer holds the rule's key, else the reason it stays locked.
fn outcome(answer: &Value, rule: &str) -> String {
    let gate = Rule::parse(rule).unwrap().gate_id().as_str().to_owned();
    if answer["keys"][&gate].is_string() {
        return "open".to_owned();
    }
    answer["locked"][&gate]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("{rule} is neither open nor locked in {answer}"))
        .to_owned()
}

async fn view_as(browser: &reqwest::Client, serve: &Serve, view: &str) -> (StatusCode, String) {
    let response = browser
        .post(serve.at("/_gatehouse/view-as"))
        .json(&json!({ "as": view }))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The rule of the page at `path`, from the served manifest.
fn rule_of(root: &Path, path: &str) -> String {
    let manifest = manifest(&served_dir(root));
    let page = manifest.pages.iter().find(|p| p.path == path);
    page.unwrap_or_else(|| panic!("{path} is not in the manifest"))
        .rule
        .clone()
}

/// The envelope address in a gated page's HTML.
fn data_src(html: &str) -> String {
    assert_eq!(html.matches("data-src=\"").count(), 1, "one gate slot");
    let start = html.find("data-src=\"").unwrap() + "data-src=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn append(site: &Site, relative: &str, text: &str) {
    let mut source = std::fs::read_to_string(site.path(relative)).unwrap();
    source.push_str(text);
    site.write(relative, &source);
}

/// Puts `text` first in the body, where the search index (which keeps a page's opening) sees it.
fn prepend_to_body(site: &Site, relative: &str, text: &str) {
    let source = std::fs::read_to_string(site.path(relative)).unwrap();
    let end = source[3..].find("\n---\n").unwrap() + 3 + "\n---\n".len();
    site.write(
        relative,
        &format!("{}\n{text}\n{}", &source[..end], &source[end..]),
    );
}

fn gatehouse(root: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("GATEHOUSE_SECRET", SECRET_B64)
        .output()
        .unwrap();
    let (stdout, stderr) = common::text(&output);
    assert!(output.status.success(), "gatehouse {args:?}: {stderr}");
    stdout
}

// ---------------------------------------------------------------------------------------------
// 1. Serving files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn files_are_served_with_their_type_and_html_gets_the_dev_script_once() {
    let (_site, serve) = start();
    let browser = client();
    let cases = [
        ("/", HTML),
        ("/about/", HTML),
        ("/course/value-metric/", HTML),
        ("/blog/", HTML),
        ("/style.css", "text/css; charset=utf-8"),
        ("/gate.js", "text/javascript; charset=utf-8"),
        ("/search.json", "application/json"),
        ("/atom.xml", "application/xml; charset=utf-8"),
        ("/sitemap.xml", "application/xml; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
        ("/robots.txt", "text/plain; charset=utf-8"),
    ];
    for (path, kind) in cases {
        let page = get(&browser, &serve, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.kind, kind, "{path}");
        let wanted = usize::from(kind == HTML);
        assert_eq!(
            page.body.matches(DEV_SCRIPT).count(),
            wanted,
            "{path}: the dev script must appear {wanted} time(s)"
        );
        assert_eq!(
            page.body.matches("_gatehouse").count(),
            wanted,
            "{path}: nothing but the dev script may mention _gatehouse"
        );
    }

    let script = get(&browser, &serve, "/_gatehouse/dev.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(script.kind, "text/javascript; charset=utf-8");
    assert!(
        script.body.contains("/_gatehouse/events"),
        "{}",
        script.body
    );
}

#[tokio::test]
async fn a_normal_build_of_the_same_site_has_no_trace_of_serve() {
    let (site, serve) = start();
    let out = tempfile::tempdir().unwrap();
    gatehouse(
        site.root(),
        &["build", "--out", out.path().to_str().unwrap()],
    );
    let traces: Vec<String> = snapshot(out.path())
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(10).any(|w| w == b"_gatehouse"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        traces.is_empty(),
        "build output mentions _gatehouse: {traces:?}"
    );

    // The page serve sends is the built page plus the script, with serve's own address as the
    // base URL: the script is added on the way out and nothing else differs.
    let served = get(&client(), &serve, "/about/").await.body;
    let built = std::fs::read_to_string(out.path().join("about/index.html")).unwrap();
    let base_url = gatehouse::config::load(site.root()).unwrap().base_url;
    let served_as_built = served
        .replacen(DEV_SCRIPT, "", 1)
        .replace(&serve.url, &base_url);
    assert!(
        served_as_built == built,
        "serve's /about/ is not the build's plus the dev script:\n{served}"
    );
}

#[tokio::test]
async fn paths_out_of_the_output_folder_are_refused() {
    let (site, serve) = start();
    let root = site.root().display().to_string();
    let absolute = format!("/%2f{}/site.toml", root.trim_start_matches('/'));
    let attempts = [
        "/../site.toml",
        "/../../site.toml",
        "/../secret",
        "/%2e%2e/secret",
        "/%2e%2e/%2e%2e/site.toml",
        "/%2E%2E/%2E%2E/site.toml",
        "/..%2f..%2fsite.toml",
        "/%2e%2e%2f%2e%2e%2fsite.toml",
        "/course/../../../site.toml",
        "/course/%2e%2e/%2e%2e/%2e%2e/site.toml",
        "/..%5c..%5csite.toml",
        absolute.as_str(),
    ];
    let toml = std::fs::read_to_string(site.path("site.toml")).unwrap();
    let level_line = toml.lines().find(|l| l.starts_with("[[levels]]")).unwrap();
    for path in attempts {
        let (status, answer) = raw_get(&serve, path).await;
        assert!(
            status == 400 || status == 404,
            "{path} answered {status}:\n{answer}"
        );
        assert!(
            !answer.contains(SECRET_B64) && !answer.contains(level_line),
            "{path} read a file outside the output:\n{answer}"
        );
    }
}

#[tokio::test]
async fn unknown_paths_get_the_themes_404_page_and_folders_redirect() {
    let (_site, serve) = start();
    let browser = client();
    for path in [
        "/no-such-page/",
        "/no-such-file.css",
        "/course/no-such-lesson/",
    ] {
        let page = get(&browser, &serve, path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(page.kind, HTML, "{path}");
        assert!(
            page.body.contains("Page not found"),
            "{path}: {}",
            page.body
        );
        assert_eq!(page.body.matches(DEV_SCRIPT).count(), 1, "{path}");
    }
    for (path, to) in [
        ("/course", "/course/"),
        ("/course/value-metric", "/course/value-metric/"),
    ] {
        let page = get(&browser, &serve, path).await;
        assert!(page.status.is_redirection(), "{path}: {}", page.status);
        assert_eq!(page.location.as_deref(), Some(to), "{path}");
    }
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
    let (site, serve) = start();
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

async fn login_as(link: &str) -> reqwest::Client {
    let browser = client();
    let answer = browser.get(link).send().await.unwrap();
    assert!(
        answer.status().is_redirection(),
        "{link}: {}",
        answer.status()
    );
    browser
}

#[tokio::test]
async fn a_login_link_with_a_wrong_key_is_refused_without_a_session() {
    let (site, serve) = start();
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
        gatehouse(site.root(), &all)
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
// 4. to 6. Live reload
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_body_edit_reloads_just_that_page() {
    const SENTENCE: &str = "Quokkas audit the quarterly ledger at dawn.";
    let (site, serve) = start();
    let browser = client();
    let mut events = Events::connect(&serve).await;
    prepend_to_body(&site, "content/about.md", SENTENCE);

    let event = events.next(&serve, "a body edit of content/about.md").await;
    assert_eq!(
        event,
        DevEvent::Reload {
            paths: vec!["/about/".to_owned()]
        }
    );
    // Announced once the page is on disk: no waiting for it.
    let page = get(&browser, &serve, "/about/").await;
    assert!(page.body.contains(SENTENCE), "{}", page.body);
    // A public page's text reaches the search index once the shared files catch up.
    let (b, s) = (&browser, &serve);
    eventually(
        "search.json has the public sentence",
        EVENT_TIMEOUT,
        move || async move {
            get(b, s, "/search.json")
                .await
                .body
                .contains(SENTENCE)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_gated_body_edit_reseals_the_page_and_leaks_nowhere() {
    const SENTENCE: &str = "Narwhals price their premium tier by the fjord.";
    const PATH: &str = "/course/value-metric/";
    let (site, serve) = start();
    let browser = client();
    let old_src = data_src(&get(&browser, &serve, PATH).await.body);
    let old_search = get(&browser, &serve, "/search.json").await.body;

    let mut events = Events::connect(&serve).await;
    append(
        &site,
        "content/course/value-metric.md",
        &format!("\n\n{SENTENCE}\n"),
    );
    let event = events.next(&serve, "a body edit of a gated page").await;
    assert_eq!(
        event,
        DevEvent::Reload {
            paths: vec![PATH.to_owned()]
        }
    );

    let new_src = data_src(&get(&browser, &serve, PATH).await.body);
    assert_ne!(
        new_src, old_src,
        "the page still points at its old envelope"
    );
    // The browser reloads at once and fetches the envelope: it must already be there.
    let response = browser.get(serve.at(&new_src)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{new_src}");
    let envelope = response.bytes().await.unwrap();
    let (b, s, src) = (&browser, &serve, new_src.as_str());
    eventually(
        "the manifest points at the new envelope",
        EVENT_TIMEOUT,
        move || async move {
            let manifest: Value =
                serde_json::from_str(&get(b, s, "/_gated/manifest.json").await.body).ok()?;
            let pages = manifest["pages"].as_array()?;
            let page = pages.iter().find(|p| p["path"] == PATH)?;
            (page["src"] == src).then_some(())
        },
    )
    .await;

    // The new envelope holds the new text.
    let rule = Rule::parse(&rule_of(site.root(), PATH)).unwrap();
    let secret = MasterSecret::from_base64url(SECRET_B64).unwrap();
    let epoch = manifest(&served_dir(site.root())).epoch;
    let key = derive_key(&secret, epoch, &rule);
    let plain = open(&key, &rule.gate_id(), PATH, &envelope).expect("the envelope opens");
    assert!(String::from_utf8(plain).unwrap().contains(SENTENCE));

    // Leak rule: the gated sentence is in no file anyone can read without a key.
    assert!(
        get(&browser, &serve, "/search.json").await.body == old_search,
        "search.json changed on a gated body edit"
    );
    for path in [
        PATH,
        "/course/",
        "/search.json",
        "/atom.xml",
        "/sitemap.xml",
    ] {
        let page = get(&browser, &serve, path).await;
        assert!(
            !page.body.contains(SENTENCE),
            "{path} leaks the gated sentence"
        );
    }
    let leaks: Vec<String> = snapshot(&served_dir(site.root()))
        .into_iter()
        .filter(|(_, bytes)| {
            bytes
                .windows(SENTENCE.len())
                .any(|w| w == SENTENCE.as_bytes())
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        leaks.is_empty(),
        "served files leak the gated sentence: {leaks:?}"
    );
}

#[tokio::test]
async fn a_title_edit_reloads_the_whole_site_and_the_section_list_shows_it() {
    const OLD: &str = "Good, better, best: do you really need three tiers?";
    const NEW: &str = "Three tiers, renamed while serving";
    let (site, serve) = start();
    let browser = client();
    assert!(get(&browser, &serve, "/blog/").await.body.contains(OLD));
    let mut events = Events::connect(&serve).await;
    site.edit("content/blog/good-better-best.md", OLD, NEW);

    let event = events.next(&serve, "a title edit").await;
    assert_eq!(event, DevEvent::Reload { paths: Vec::new() });
    let list = get(&browser, &serve, "/blog/").await.body;
    assert!(list.contains(NEW) && !list.contains(OLD), "{list}");
}

#[tokio::test]
async fn a_new_page_reloads_the_whole_site_and_appears_in_its_section() {
    const TITLE: &str = "Written while serving";
    let (site, serve) = start();
    let browser = client();
    let mut events = Events::connect(&serve).await;
    site.write(
        "content/blog/written-while-serving.md",
        &format!("---\ntitle: {TITLE}\ndate: 2026-06-01\n---\n\nA post added while serve ran.\n"),
    );

    let event = events.next(&serve, "a new page").await;
    assert_eq!(event, DevEvent::Reload { paths: Vec::new() });
    let list = get(&browser, &serve, "/blog/").await.body;
    assert!(list.contains(TITLE), "{list}");
    let page = get(&browser, &serve, "/blog/written-while-serving/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("A post added while serve ran."));
}

#[tokio::test]
async fn a_build_error_is_announced_and_the_last_good_build_stays_up() {
    const FILE: &str = "content/about.md";
    let (site, serve) = start();
    let browser = client();
    let original = std::fs::read_to_string(site.path(FILE)).unwrap();
    let mut events = Events::connect(&serve).await;
    site.edit(
        FILE,
        "title: About Acme Academy",
        "title: [About Acme Academy",
    );

    let DevEvent::Error { message } = events.next(&serve, "malformed front matter").await else {
        panic!("expected an error event; log:\n{}", serve.log());
    };
    let at = message
        .find(&format!("{FILE}:"))
        .unwrap_or_else(|| panic!("the error does not name {FILE}: {message}"));
    let line = &message[at + FILE.len() + 1..];
    assert!(
        line.starts_with(|c: char| c.is_ascii_digit()),
        "the error names no line: {message}"
    );
    let page = get(&browser, &serve, "/about/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<title>About Acme Academy"),
        "{}",
        page.body
    );

    // A page opened while the build is broken hears the error at once.
    let mut late = Events::connect(&serve).await;
    let first = late
        .next(&serve, "connecting while the build is broken")
        .await;
    assert_eq!(first, DevEvent::Error { message });

    const FIXED: &str = "Fixed while the server was running.";
    site.write(FILE, &format!("{original}\n\n{FIXED}\n"));
    for stream in [&mut events, &mut late] {
        let event = stream.next(&serve, "fixing the front matter").await;
        assert!(matches!(event, DevEvent::Reload { .. }), "{event:?}");
    }
    assert!(get(&browser, &serve, "/about/").await.body.contains(FIXED));

    // Once fixed, a newly opened page is not told about the old error: its first event is the
    // next change.
    let mut fresh = Events::connect(&serve).await;
    append(&site, FILE, "\nOne more line.\n");
    let event = fresh.next(&serve, "an edit after the fix").await;
    assert_eq!(
        event,
        DevEvent::Reload {
            paths: vec!["/about/".to_owned()]
        }
    );
}

// ---------------------------------------------------------------------------------------------
// 7. View as
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn view_as_previews_a_level_or_bundle_on_a_given_day_or_a_visitor() {
    let (site, serve) = start();
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
async fn the_production_edge_ignores_the_view_as_cookie() {
    let (site, serve) = start();
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

// ---------------------------------------------------------------------------------------------
// 8. site.toml
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_site_toml_edit_reloads_everything_and_the_edge_takes_the_new_config() {
    const PLATINUM: &str = "level=platinum;bundles=-;drip=0";
    let (site, serve) = start();
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
    let (site, serve) = start();
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
