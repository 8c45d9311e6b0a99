//! End to end: the real `gatehouse serve` on its own copy of the demo site (DESIGN §8), live
//! reload: a body edit reloads one page (a gated one resealed, leaking nowhere), a title edit or
//! a new page the whole site, and a build error is announced while the last good build stays up.

#![allow(clippy::unwrap_used)]

mod common;

use common::serve::{EVENT_TIMEOUT, rule_of, served_dir, start_demo};
use common::serve_events::{DevEvent, Events, served_mark};
use common::serve_http::{client, eventually, get};
use common::{Site, manifest};
use gatehouse::gate::{Rule, derive_key, open};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;

/// The envelope address in a gated page's HTML.
fn data_src(html: &str) -> String {
    assert_eq!(html.matches("data-src=\"").count(), 1, "one gate slot");
    let start = html.find("data-src=\"").unwrap() + "data-src=\"".len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The served files whose bytes hold `text` anywhere (the leak rule: none may, for gated text).
fn served_files_holding(site: &Site, text: &str) -> Vec<String> {
    served_snapshot(site)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(text.len()).any(|w| w == text.as_bytes()))
        .map(|(name, _)| name)
        .collect()
}

/// Every served file, read while serve may still be settling its last rebuild: a file that is
/// renamed or removed between the walk and the read makes the walk start again, so the result is
/// one whole, quiet view of the folder rather than a torn one.
fn served_snapshot(site: &Site) -> BTreeMap<String, Vec<u8>> {
    let dir = served_dir(site.root());
    for _ in 0..50 {
        if let Some(files) = try_snapshot(&dir) {
            return files;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("the served folder never held still long enough to read it whole")
}

fn try_snapshot(dir: &std::path::Path) -> Option<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.ok()?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(dir).unwrap();
        let bytes = std::fs::read(entry.path()).ok()?;
        files.insert(relative.to_string_lossy().replace('\\', "/"), bytes);
    }
    Some(files)
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

// ---------------------------------------------------------------------------------------------
// 4. to 6. Live reload
// ---------------------------------------------------------------------------------------------

/// The dev script connects late (once the browser is idle), so a rebuild can end before it
/// listens: the stream it opens with its page's mark starts with what that page missed, and
/// with nothing for a page that is current.
#[tokio::test]
async fn a_page_read_before_a_rebuild_hears_of_it_when_its_script_connects_late() {
    let (site, serve) = start_demo();
    let browser = client();
    let stale = served_mark(&get(&browser, &serve, "/about/").await.body);
    let mut watching = Events::connect(&serve).await;
    prepend_to_body(
        &site,
        "content/about.md",
        "Heard of by pages that connect late.",
    );
    let event = watching
        .next(&serve, "a body edit of content/about.md")
        .await;
    assert_eq!(
        event,
        DevEvent::Reload {
            paths: vec!["/about/".to_owned()]
        }
    );

    let mut late = Events::connect_since(&serve, &stale).await;
    let missed = late
        .next(&serve, "connecting with a mark from before the edit")
        .await;
    assert_eq!(
        missed,
        DevEvent::Reload {
            paths: vec!["/about/".to_owned()]
        }
    );

    let current = served_mark(&get(&browser, &serve, "/about/").await.body);
    assert_ne!(current, stale);
    let mut fresh = Events::connect_since(&serve, &current).await;
    let heard = fresh
        .next_within(std::time::Duration::from_millis(500))
        .await;
    assert_eq!(heard, None, "a current page must not reload");

    // A mark from another run of serve (counts start again at 0): every page reloads.
    let run = current.split('.').next().unwrap();
    let other = if run == "00000000" {
        "11111111.0"
    } else {
        "00000000.0"
    };
    let mut restarted = Events::connect_since(&serve, other).await;
    let event = restarted
        .next(&serve, "connecting with another run's mark")
        .await;
    assert_eq!(event, DevEvent::Reload { paths: Vec::new() });
}

#[tokio::test]
async fn a_body_edit_reloads_just_that_page() {
    const SENTENCE: &str = "Quokkas audit the quarterly ledger at dawn.";
    let (site, serve) = start_demo();
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
    let (site, serve) = start_demo();
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

    // The new envelope holds the new text, under serve's development secret.
    let rule = Rule::parse(&rule_of(site.root(), PATH)).unwrap();
    let secret = serve.dev_secret();
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
    let leaks = served_files_holding(&site, SENTENCE);
    assert!(
        leaks.is_empty(),
        "served files leak the gated sentence: {leaks:?}"
    );
}

#[tokio::test]
async fn a_members_block_edit_reseals_the_block_and_leaks_nowhere() {
    const SENTENCE: &str = "Walruses bundle their tiers by the ice floe.";
    const PAGE: &str = "/blog/good-better-best/";
    const BLOCK: &str = "/blog/good-better-best/#1";
    const FILE: &str = "content/blog/good-better-best.md";
    let (site, serve) = start_demo();
    let browser = client();
    let block_src = |manifest: &Value| {
        let pages = manifest["pages"].as_array()?;
        let entry = pages.iter().find(|p| p["path"] == BLOCK)?;
        entry["src"].as_str().map(str::to_owned)
    };
    let old_manifest: Value =
        serde_json::from_str(&get(&browser, &serve, "/_gated/manifest.json").await.body).unwrap();
    let old_src = block_src(&old_manifest).expect("the demo's block is in the manifest");

    let mut events = Events::connect(&serve).await;
    site.edit(
        FILE,
        "The members' template pack",
        &format!("{SENTENCE} The members' template pack"),
    );
    let event = events
        .next(&serve, "a body edit inside a members block")
        .await;
    assert_eq!(
        event,
        DevEvent::Reload {
            paths: vec![PAGE.to_owned()]
        }
    );
    let page = get(&browser, &serve, PAGE).await.body;
    assert!(!page.contains(SENTENCE), "the page shows the block's text");
    assert!(
        !page.contains(&old_src),
        "the page still points at the old block envelope"
    );
    let (b, s, old) = (&browser, &serve, old_src.as_str());
    let new_src = eventually(
        "the manifest points at the new block envelope",
        EVENT_TIMEOUT,
        move || async move {
            let manifest: Value =
                serde_json::from_str(&get(b, s, "/_gated/manifest.json").await.body).ok()?;
            block_src(&manifest).filter(|src| src != old)
        },
    )
    .await;
    assert!(
        page.contains(&new_src),
        "the page's slot names the new envelope"
    );
    let envelope = browser
        .get(serve.at(&new_src))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let rule = Rule::parse(&rule_of(site.root(), BLOCK)).unwrap();
    let key = derive_key(
        &serve.dev_secret(),
        manifest(&served_dir(site.root())).epoch,
        &rule,
    );
    let plain = open(&key, &rule.gate_id(), BLOCK, &envelope).expect("the block opens");
    assert!(String::from_utf8(plain).unwrap().contains(SENTENCE));
    let leaks = served_files_holding(&site, SENTENCE);
    assert!(
        leaks.is_empty(),
        "served files leak the block's text: {leaks:?}"
    );
}

#[tokio::test]
async fn a_title_edit_reloads_the_whole_site_and_the_section_list_shows_it() {
    const OLD: &str = "Good, better, best: do you really need three tiers?";
    const NEW: &str = "Three tiers, renamed while serving";
    let (site, serve) = start_demo();
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
    let (site, serve) = start_demo();
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
    let (site, serve) = start_demo();
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
