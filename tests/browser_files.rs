//! Gated files end to end in a real headless Chromium, on the real `gatehouse serve` of the
//! demo site: the diagram, worksheet and video of a gold lesson
//! (content/course/tiers-and-anchors/) reach a gold member through the service worker, the
//! video plays and seeks (also after Chrome stops the worker), a tampered record shows an
//! error, and a visitor or a member without access gets no plaintext byte.
//!
//! Run: `cargo test --test browser_files -- --test-threads=1`

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::browser::{Browser, scenario};
use common::serve::Serve;
use ring::digest;
use serde_json::{Value, json};

/// A gold lesson whose bundle holds the demo media.
const PAGE: &str = "/course/tiers-and-anchors/";
const MEDIA: &str = "course/tiers-and-anchors";
const SLOT: &str = ".gh-gate[data-gate]";
/// Starting Chromium's media pipeline in a debug build on two cores takes a while.
const MEDIA_WAIT: Duration = Duration::from_secs(30);

fn source_bytes(serve: &Serve, name: &str) -> Vec<u8> {
    std::fs::read(serve.root().join("content").join(MEDIA).join(name)).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    gatehouse::gate::to_hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

async fn log_in_as(browser: &Browser, serve: &Serve, email: &str) {
    browser.goto(&serve.login_link(email, PAGE)).await;
    assert_eq!(browser.current_path().await, PAGE);
}

/// Fetches `url` from the page and returns the SHA-256 (hex) of what the page received, with
/// its status and Content-Type.
async fn fetch_in_page(browser: &Browser, url: &str) -> Value {
    browser
        .js(
            "window.__fetched = null;
             fetch(arguments[0]).then(async (r) => {
               const bytes = new Uint8Array(await r.arrayBuffer());
               const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
               window.__fetched = {
                 status: r.status,
                 type: r.headers.get('content-type'),
                 disposition: r.headers.get('content-disposition'),
                 sha256: Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join(''),
                 head: Array.from(bytes.slice(0, 4), (b) => String.fromCharCode(b)).join(''),
               };
             }, (e) => { window.__fetched = { error: String(e) }; });
             return true;",
            vec![json!(url)],
        )
        .await;
    browser
        .wait_until(
            "the page's fetch",
            "return window.__fetched;",
            vec![],
            |v| !v.is_null(),
        )
        .await
}

/// The URL that the opened body gives an element matching `css`, in attribute `attribute`.
async fn gated_url(browser: &Browser, css: &str, attribute: &str) -> String {
    let url = browser
        .wait_until(
            &format!("{css} with a sealed file's URL"),
            "const e = document.querySelector(arguments[0]);
             return e ? e.getAttribute(arguments[1]) : null;",
            vec![json!(css), json!(attribute)],
            |v| v.as_str().is_some_and(|u| u.starts_with("/_gated/files/")),
        )
        .await;
    url.as_str().unwrap().to_owned()
}

/// Seeks the video to `seconds` and waits until a frame there can be shown.
async fn seek_and_wait(browser: &Browser, seconds: f64) {
    browser
        .js(
            "const v = document.querySelector(arguments[0] + ' video');
             window.__seeked = false;
             v.addEventListener('seeked', () => { window.__seeked = true; }, { once: true });
             v.currentTime = arguments[1];
             return true;",
            vec![json!(SLOT), json!(seconds)],
        )
        .await;
    let state = browser
        .wait_until_for(
            MEDIA_WAIT,
            &format!("the video to seek to {seconds} s"),
            "const v = document.querySelector(arguments[0] + ' video');
             return { seeked: window.__seeked, ready: v.readyState, at: v.currentTime,
                      error: v.error && v.error.code };",
            vec![json!(SLOT)],
            |v| v["seeked"] == json!(true) && v["ready"].as_u64().unwrap_or(0) >= 2,
        )
        .await;
    let at = state["at"].as_f64().unwrap();
    assert!(
        (at - seconds).abs() < 0.5,
        "the video is at {at}, not {seconds}: {state}"
    );
}

#[test]
fn a_gold_member_sees_the_diagram_gets_the_worksheet_and_plays_and_seeks_the_video() {
    scenario("files-1-gold", async |browser, serve| {
        log_in_as(browser, serve, "gold@demo.test").await;
        browser.wait_for_attr(SLOT, "data-gate-state", "open").await;

        // The diagram: decoded by the browser, so its bytes were the PNG's.
        let image = gated_url(browser, &format!("{SLOT} img"), "src").await;
        let width = browser
            .wait_until(
                "the diagram to load",
                "const i = document.querySelector(arguments[0] + ' img');
                 return i && i.complete ? i.naturalWidth : 0;",
                vec![json!(SLOT)],
                |v| v.as_u64().unwrap_or(0) > 0,
            )
            .await;
        assert_eq!(width, json!(640), "the diagram decoded at its size");
        assert!(
            !browser.dom().await.contains("tiers.png"),
            "the opened body names no gated file"
        );

        // The worksheet: the bytes the page gets are the source's, with its name.
        // The worksheet's link is in a paragraph; the video's own download link is inside it.
        let pdf = gated_url(
            browser,
            &format!("{SLOT} p a[href^='/_gated/files/']"),
            "href",
        )
        .await;
        let got = fetch_in_page(browser, &pdf).await;
        assert_eq!(got["status"], json!(200), "{got}");
        assert_eq!(got["type"], json!("application/pdf"), "{got}");
        assert_eq!(
            got["sha256"],
            json!(sha256_hex(&source_bytes(serve, "pricing-worksheet.pdf"))),
            "the worksheet's bytes equal the source: {got}"
        );
        assert!(
            got["disposition"]
                .as_str()
                .unwrap_or("")
                .contains("pricing-worksheet.pdf"),
            "{got}"
        );
        assert_ne!(image, pdf);

        // The video plays, then seeks, through Range requests the worker answers.
        gated_url(browser, &format!("{SLOT} video"), "src").await;
        browser
            .js(
                "const v = document.querySelector(arguments[0] + ' video');
                 v.muted = true; v.play(); return true;",
                vec![json!(SLOT)],
            )
            .await;
        browser
            .wait_until_for(
                MEDIA_WAIT,
                "the video to play",
                "const v = document.querySelector(arguments[0] + ' video');
                 return { at: v.currentTime, error: v.error && v.error.code };",
                vec![json!(SLOT)],
                |v| v["at"].as_f64().unwrap_or(0.0) > 0.2,
            )
            .await;
        seek_and_wait(browser, 4.0).await;
        browser.shot("playing", Some(SLOT)).await;

        // Chrome stops idle workers and their memory (the keys) with them; the next request
        // starts a fresh worker, which asks the page for the key.
        browser.cdp("ServiceWorker.enable", json!({})).await;
        browser.cdp("ServiceWorker.stopAllWorkers", json!({})).await;
        seek_and_wait(browser, 1.5).await;
        let again = fetch_in_page(browser, &pdf).await;
        assert_eq!(again["sha256"], got["sha256"], "after a restart: {again}");

        // Nothing went to storage: no Cache API entries, no IndexedDB.
        browser
            .js(
                "window.__stored = null;
                 Promise.all([caches.keys(), indexedDB.databases ? indexedDB.databases() : []])
                   .then(([c, d]) => { window.__stored = { caches: c.length, databases: d.length }; });
                 return true;",
                vec![],
            )
            .await;
        let stored = browser
            .wait_until("storage counts", "return window.__stored;", vec![], |v| {
                !v.is_null()
            })
            .await;
        assert_eq!(stored, json!({"caches": 0, "databases": 0}));
    });
}

#[test]
fn a_tampered_record_is_an_error_on_the_page_not_garbage() {
    scenario("files-2-tampered", async |browser, serve| {
        let object = serve.sealed_file_of(&format!("{MEDIA}/tiers.png"));
        let mut bytes = std::fs::read(&object).unwrap();
        let last = bytes.len() - 20;
        bytes[last] ^= 0x01;
        // A new file in place of the served one (the served file is a hard link to the
        // build's cache, which stays intact).
        let temporary = object.with_extension("tampered");
        std::fs::write(&temporary, bytes).unwrap();
        std::fs::rename(&temporary, &object).unwrap();

        log_in_as(browser, serve, "gold@demo.test").await;
        browser.wait_for_attr(SLOT, "data-gate-state", "open").await;
        let text = browser
            .wait_for_text_for(MEDIA_WAIT, ".gh-file-error", "could not be verified")
            .await;
        assert!(text.contains("This file could not be verified."), "{text}");
        let width = browser
            .js(
                "const i = document.querySelector(arguments[0] + ' img');
                 return i ? i.naturalWidth : -1;",
                vec![json!(SLOT)],
            )
            .await;
        assert_eq!(width, json!(0), "no picture from a tampered file");
        browser.shot("tampered", Some(SLOT)).await;
    });
}

#[test]
fn a_visitor_and_a_member_without_access_get_no_plaintext() {
    scenario("files-3-no-access", async |browser, serve| {
        let pdf = serve.sealed_file_of(&format!("{MEDIA}/pricing-worksheet.pdf"));
        let url = format!(
            "/_gated/files/{}",
            pdf.file_name().unwrap().to_string_lossy()
        );
        let source = sha256_hex(&source_bytes(serve, "pricing-worksheet.pdf"));
        for who in [None, Some("free@demo.test")] {
            match who {
                None => browser.goto(&serve.at(PAGE)).await,
                Some(email) => log_in_as(browser, serve, email).await,
            }
            browser
                .wait_until(
                    "the slot to settle locked",
                    "const s = document.querySelector(arguments[0]);
                     return s ? s.getAttribute('data-gate-state') : null;",
                    vec![json!(SLOT)],
                    |v| matches!(v.as_str(), Some("login" | "level")),
                )
                .await;
            let got = fetch_in_page(browser, &url).await;
            assert_ne!(
                got["sha256"],
                json!(source),
                "{who:?} got the worksheet: {got}"
            );
            assert_ne!(got["head"], json!("%PDF"), "{who:?}: {got}");
            assert!(
                !browser.dom().await.contains("/_gated/files/"),
                "{who:?}: a locked page names no sealed file"
            );
        }
    });
}
