//! One browser session for one browser test: a fantoccini client with polling waits (no fixed
//! sleeps), the page's text and DOM, and screenshots into `<target>/browser-artifacts/`
//! (docs/testing.md). `browser::scenario` starts it and closes it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// How long a wait polls before it fails: generous for a debug build on two busy cores.
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
/// The viewport every session starts with (CSS pixels), and the phone one of `shot_phone`.
pub(super) const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// Where screenshots go: `$CARGO_TARGET_DIR/browser-artifacts/`, else
/// `<repository>/target/browser-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => super::repo().join(dir),
        _ => super::repo().join("target"),
    };
    target.join("browser-artifacts")
}

/// One browser session (one profile) for one scenario.
pub struct Browser {
    client: Client,
    scenario: String,
    /// chromedriver's address, for the DevTools commands WebDriver has no verb for.
    driver: String,
}

impl Browser {
    /// Wraps a new session: the desktop viewport, and no screenshots of earlier runs.
    pub(super) async fn new(client: Client, scenario: &str, driver: &str) -> Browser {
        let browser = Browser {
            client,
            scenario: scenario.to_owned(),
            driver: driver.to_owned(),
        };
        // --window-size counts the browser's frame; screenshots show the viewport.
        browser.set_viewport(DESKTOP).await;
        browser.clear_old_shots();
        browser
    }

    /// Sends a Chrome DevTools Protocol command through chromedriver (`goog/cdp/execute`),
    /// e.g. `ServiceWorker.stopAllWorkers`, and returns its result.
    pub async fn cdp(&self, command: &str, params: Value) -> Value {
        let session = self
            .client
            .session_id()
            .await
            .expect("the session id")
            .expect("a running session");
        let url = format!("{}/session/{session}/goog/cdp/execute", self.driver);
        let answer = reqwest::Client::new()
            .post(&url)
            .json(&json!({ "cmd": command, "params": params }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{command}: {status} {body}");
        body["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    pub async fn current_path(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        url.path().to_owned()
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) and returns its result.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Polls `script` until `accept` likes its result, and returns that result. Fails after
    /// `timeout` with `what` and the last result. A script error (say, while the page reloads)
    /// counts as "not yet".
    pub async fn wait_until_for(
        &self,
        timeout: Duration,
        what: &str,
        script: &str,
        args: Vec<Value>,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.client.execute(script, args.clone()).await {
                Ok(value) if accept(&value) => return value,
                Ok(value) => value.to_string(),
                Err(error) => format!("script error: {error}"),
            };
            if Instant::now() >= deadline {
                panic!("waited {timeout:?} for {what}; last saw: {last}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `wait_until_for` with the usual timeout.
    pub async fn wait_until(
        &self,
        what: &str,
        script: &str,
        args: Vec<Value>,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_until_for(WAIT, what, script, args, accept).await
    }

    /// Waits until `css` matches an element, and returns it.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.wait_until(
            &format!("an element `{css}`"),
            "return document.querySelector(arguments[0]) !== null;",
            vec![json!(css)],
            |v| v == &json!(true),
        )
        .await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("`{css}` was there a moment ago: {e}"))
    }

    /// Waits until the first `css` element's `attribute` is `value`.
    pub async fn wait_for_attr(&self, css: &str, attribute: &str, value: &str) {
        self.wait_until(
            &format!("`{css}` to have {attribute}=\"{value}\""),
            "const e = document.querySelector(arguments[0]); \
             return e && e.getAttribute(arguments[1]);",
            vec![json!(css), json!(attribute)],
            |v| v == &json!(value),
        )
        .await;
    }

    /// Waits until the first `css` element's rendered text contains `needle`; returns the text.
    pub async fn wait_for_text_for(&self, timeout: Duration, css: &str, needle: &str) -> String {
        let text = self
            .wait_until_for(
                timeout,
                &format!("`{css}` to show {needle:?}"),
                "const e = document.querySelector(arguments[0]); return e && e.innerText;",
                vec![json!(css)],
                |v| v.as_str().is_some_and(|t| t.contains(needle)),
            )
            .await;
        text.as_str().unwrap_or_default().to_owned()
    }

    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        self.wait_for_text_for(WAIT, css, needle).await
    }

    /// The rendered text of the first `css` element, or "" when there is none.
    pub async fn text(&self, css: &str) -> String {
        let value = self
            .js(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
                vec![json!(css)],
            )
            .await;
        value.as_str().unwrap_or_default().to_owned()
    }

    /// The rendered text of every `css` element.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let value = self
            .js(
                "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText);",
                vec![json!(css)],
            )
            .await;
        serde_json::from_value(value).unwrap_or_default()
    }

    /// The page as the browser holds it now (the live DOM, serialized).
    pub async fn dom(&self) -> String {
        self.client.source().await.expect("the page source")
    }

    /// Everything a reader can see on the page.
    pub async fn body_text(&self) -> String {
        self.text("body").await
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
    }

    /// A cookie's value, HttpOnly ones included, whatever its path: the session cookie is
    /// scoped to the edge's path (`/_gate`), so WebDriver's own lookup, which sees only the
    /// cookies the current page would be sent, does not find it from a page of the site.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let answer = self.cdp("Storage.getCookies", json!({})).await;
        let cookies = answer["cookies"].as_array()?;
        let cookie = cookies.iter().find(|cookie| cookie["name"] == name)?;
        cookie["value"].as_str().map(str::to_owned)
    }

    /// Forgets the keys gate.js cached for this tab (they live in sessionStorage ~5 minutes).
    pub async fn clear_session_storage(&self) {
        self.js("sessionStorage.clear();", vec![]).await;
    }

    pub async fn refresh(&self) {
        self.client.refresh().await.expect("reload the page");
    }

    /// Scrolls the innermost element showing `needle` into the middle of the viewport.
    pub async fn scroll_to_text(&self, needle: &str) {
        let found = self
            .js(
                "const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); \
                 while (walk.nextNode()) { \
                   if (walk.currentNode.nodeValue.includes(arguments[0])) { \
                     walk.currentNode.parentElement.scrollIntoView({block: 'center'}); \
                     return true; \
                   } \
                 } \
                 return false;",
                vec![json!(needle)],
            )
            .await;
        assert_eq!(found, json!(true), "no text {needle:?} on the page");
    }

    /// Saves the viewport as `<artifacts>/<scenario>-<state>.png`, with `css` (if any)
    /// scrolled into view first so the state shows.
    pub async fn shot(&self, state: &str, css: Option<&str>) {
        if let Some(css) = css {
            self.js(
                "const e = document.querySelector(arguments[0]); \
                 if (e) e.scrollIntoView({block: 'center'});",
                vec![json!(css)],
            )
            .await;
        }
        // An opened body fades in (gh-reveal): picture it once it is fully there. Endless
        // animations (the loading pulse) are not waited for.
        self.wait_until(
            "finite animations to finish before a screenshot",
            "return document.getAnimations().filter(a => a.playState === 'running' \
               && a.effect && a.effect.getComputedTiming().endTime !== Infinity).length;",
            vec![],
            |v| v == &json!(0),
        )
        .await;
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.shot_path(state);
        std::fs::create_dir_all(path.parent().expect("the artifacts folder"))
            .expect("create the artifacts folder");
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// As `shot`, at a phone's viewport (390×844), saved as `<scenario>-<state>-phone.png`.
    /// The desktop size comes back afterwards.
    pub async fn shot_phone(&self, state: &str, css: Option<&str>) {
        self.set_viewport(PHONE).await;
        self.shot(&format!("{state}-phone"), css).await;
        self.set_viewport(DESKTOP).await;
    }

    /// Sizes the window so that the page's viewport is `width`×`height` CSS pixels (the
    /// window is larger than its viewport by the browser's own frame).
    async fn set_viewport(&self, (width, height): (u32, u32)) {
        let inner = "return [window.innerWidth, window.innerHeight];";
        let set = async |w: i64, h: i64| {
            let (w, h) = (
                u32::try_from(w).unwrap_or(width),
                u32::try_from(h).unwrap_or(height),
            );
            self.client
                .set_window_size(w, h)
                .await
                .expect("resize the window");
        };
        let (want_w, want_h) = (i64::from(width), i64::from(height));
        set(want_w, want_h).await;
        let got = self.js(inner, vec![]).await;
        let (got_w, got_h) = (
            got[0].as_i64().unwrap_or(want_w),
            got[1].as_i64().unwrap_or(want_h),
        );
        set(2 * want_w - got_w, 2 * want_h - got_h).await;
        // The page lays itself out again before the next screenshot: wait for the new size.
        self.wait_until(
            &format!("the viewport to be {width}×{height}"),
            inner,
            vec![],
            |v| v == &json!([want_w, want_h]),
        )
        .await;
    }

    /// A screenshot that never fails the test (for failure reports).
    pub(super) async fn try_shot(&self, state: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let path = self.shot_path(state);
            let _ = std::fs::create_dir_all(artifacts_dir());
            if std::fs::write(&path, png).is_ok() {
                eprintln!("screenshot of the failure: {}", path.display());
            }
        }
    }

    fn shot_path(&self, state: &str) -> PathBuf {
        artifacts_dir().join(format!("{}-{state}.png", self.scenario))
    }

    /// Removes this scenario's screenshots of earlier runs, so the folder shows this run.
    fn clear_old_shots(&self) {
        let prefix = format!("{}-", self.scenario);
        let Ok(entries) = std::fs::read_dir(artifacts_dir()) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) && name.ends_with(".png") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    pub(super) async fn close(&self) {
        // Best effort: the driver's process group is killed afterwards anyway.
        let _ = self.client.clone().close().await;
    }
}
