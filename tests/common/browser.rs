//! A real headless Chromium driving the real `gatehouse serve`, for the browser tests
//! (tests/browser.rs; docs/testing.md).
//!
//! - [`scenario`] runs one test: it checks that Chromium and chromedriver are there (a loud
//!   SKIPPED notice otherwise, a panic under `CI=true`), starts chromedriver, a fresh browser
//!   session (fresh profile: no cookies, no storage) and the test body, and always closes the
//!   session, also when the body panics. Scenarios run one at a time, whatever `--test-threads`
//!   says: each one is a browser plus a server, and the machines this runs on have two cores.
//! - [`Browser`] wraps a fantoccini client with polling waits (no fixed sleeps) and screenshots
//!   into `<target>/browser-artifacts/`.
//! - [`ServeSite`] copies the demo site into a temporary folder and runs the real binary's
//!   `gatehouse serve` on it, with its demo members' one-click login links.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use serde_json::{Value, json};

use super::servers::in_ci;
use super::{SECRET_B64, Site};

/// How long a wait polls before it fails: generous for a debug build on two busy cores.
pub const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
/// The viewport every session starts with (CSS pixels), and the phone one of `shot_phone`.
const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);
/// The admin token `ServeSite` gives `gatehouse serve`, so tests can change members' histories.
pub const ADMIN_TOKEN: &str = "browser-admin-token-0123456789abcdef";

/// Runs one browser scenario; see the module docs. `name` names its screenshots.
pub fn scenario<F>(name: &str, body: F)
where
    F: AsyncFnOnce(&Browser, &ServeSite),
{
    // One at a time. A scenario that panicked poisons the lock; the next one may still run.
    static SERIAL: Mutex<()> = Mutex::new(());
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(tools) = Tools::find() else { return };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let serve = ServeSite::start();
        let driver = Driver::start(&tools);
        let browser = driver.session(&tools, name).await;
        let outcome = AssertUnwindSafe(body(&browser, &serve))
            .catch_unwind()
            .await;
        if outcome.is_err() {
            // What the page looked like when it went wrong, and what the server said.
            browser.try_shot("FAILED").await;
            eprintln!(
                "--- gatehouse serve output ({}) ---\n{}",
                serve.url,
                serve.log()
            );
        }
        browser.close().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    });
}

/// Where screenshots go: `$CARGO_TARGET_DIR/browser-artifacts/`, else
/// `<repository>/target/browser-artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => super::repo().join(dir),
        _ => super::repo().join("target"),
    };
    target.join("browser-artifacts")
}

/* ---------- Chromium and chromedriver ---------- */

/// The two programs a browser test needs.
struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

impl Tools {
    /// `$GATEHOUSE_CHROMIUM` / `$GATEHOUSE_CHROMEDRIVER` when set, else the first of the usual
    /// names on `PATH`. `None` after a loud notice when one is missing (a panic instead under
    /// `CI=true`).
    fn find() -> Option<Tools> {
        let chromium = program(
            "GATEHOUSE_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let chromedriver = program("GATEHOUSE_CHROMEDRIVER", &["chromedriver"]);
        match (chromium, chromedriver) {
            (Some(chromium), Some(chromedriver)) => Some(Tools {
                chromium,
                chromedriver,
            }),
            (chromium, chromedriver) => {
                let missing: Vec<&str> = [
                    chromium.is_none().then_some("chromium"),
                    chromedriver.is_none().then_some("chromedriver"),
                ]
                .into_iter()
                .flatten()
                .collect();
                skip_without(&missing.join(" and "));
                None
            }
        }
    }
}

/// Says loudly that a browser test did not run, naming the test and what to install; under
/// `CI=true`, where nothing may skip, it panics instead.
fn skip_without(missing: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a browser test")
        .to_owned();
    assert!(
        !in_ci(),
        "CI=true: {test} needs {missing} (scripts/test installs chromium and chromium-driver)"
    );
    let rule = "*".repeat(78);
    // Straight to stderr, past the test harness's capture, so it shows when the test "passes".
    let _ = writeln!(
        std::io::stderr(),
        "\n{rule}\n\
         *** SKIPPED {test}\n\
         ***   {missing} not found: $GATEHOUSE_CHROMIUM / $GATEHOUSE_CHROMEDRIVER, else PATH\n\
         ***   install: apt-get install chromium chromium-driver (scripts/test does)\n\
         ***   nothing was tested; under CI=true this is a failure\n\
         {rule}\n"
    );
}

fn program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A chromedriver on a free port, in its own process group so that dropping it also ends the
/// browsers it started (they would outlive a plain kill of chromedriver).
struct Driver {
    child: Child,
    url: String,
    _log_dir: tempfile::TempDir,
}

impl Driver {
    fn start(tools: &Tools) -> Driver {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let log_dir = tempfile::tempdir().expect("a folder for chromedriver's log");
        let log_path = log_dir.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).expect("chromedriver's log file");
        let child = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("chromedriver's log file"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", tools.chromedriver.display()));
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _log_dir: log_dir,
        };
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver does not answer on port {port}:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        driver
    }

    /// A new browser with a fresh profile, at the desktop size.
    async fn session(&self, tools: &Tools, scenario: &str) -> Browser {
        let options = json!({
            "binary": tools.chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            ],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver cannot start Chromium: {e}"));
        let browser = Browser {
            client,
            scenario: scenario.to_owned(),
        };
        // --window-size counts the browser's frame; screenshots show the viewport.
        browser.set_viewport(DESKTOP).await;
        browser.clear_old_shots();
        browser
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any Chromium it left behind. Only our own group.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    listener.local_addr().expect("a bound address").port()
}

/* ---------- the browser ---------- */

/// One browser session (one profile) for one scenario.
pub struct Browser {
    client: Client,
    scenario: String,
}

impl Browser {
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

    /// A cookie's value, HttpOnly ones included.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let cookie = self.client.get_named_cookie(name).await.ok()?;
        Some(cookie.value().to_owned())
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
    async fn try_shot(&self, state: &str) {
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

    async fn close(&self) {
        // Best effort: the driver's process group is killed afterwards anyway.
        let _ = self.client.clone().close().await;
    }
}

/* ---------- gatehouse serve ---------- */

/// The demo site in a temporary folder, served by the real `gatehouse serve --port 0`, with
/// a fixed master secret and the admin API on. Killed on drop.
pub struct ServeSite {
    pub site: Site,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    /// Demo member's email → their one-click login link, as printed at start-up.
    pub logins: BTreeMap<String, String>,
    child: Child,
    /// Everything the server printed (stdout and stderr), for failure reports.
    output: Arc<Mutex<String>>,
}

impl ServeSite {
    pub fn start() -> ServeSite {
        let site = Site::demo();
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("--root")
            .arg(site.root())
            .args(["serve", "--port", "0"])
            .current_dir(site.root())
            .env("GATEHOUSE_SECRET", SECRET_B64)
            .env("GATEHOUSE_ADMIN_TOKEN", ADMIN_TOKEN)
            .env_remove("GATEHOUSE_SMTP_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the gatehouse binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        // Both pipes are read until the end, so the server never blocks on a full pipe;
        // stdout lines also go to the start-up parser below.
        let (lines, from_stdout) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("serve's stdout");
        collect(stdout, output.clone(), Some(lines));
        let stderr = child.stderr.take().expect("serve's stderr");
        collect(stderr, output.clone(), None);

        let mut logins = BTreeMap::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = from_stdout.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "gatehouse serve did not say it was listening:\n{}",
                    output.lock().map(|o| o.clone()).unwrap_or_default()
                );
            };
            if let Some((email, link)) = login_link(&line) {
                logins.insert(email, link);
            }
            if let Some(url) = line.trim().strip_prefix("gatehouse serve listening on ") {
                break url.trim_end_matches('/').to_owned();
            }
        };
        ServeSite {
            site,
            url,
            logins,
            child,
            output,
        }
    }

    /// The site's address of `path` (which starts with `/`).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The one-click login link of `email`, returning to `next`.
    pub fn login_link(&self, email: &str, next: &str) -> String {
        let link = self.logins.get(email).unwrap_or_else(|| {
            panic!(
                "no demo login link for {email} (have: {:?})",
                self.logins.keys()
            )
        });
        format!("{link}&next={next}")
    }

    /// The folder the server builds into and serves from.
    pub fn served(&self) -> PathBuf {
        self.site.path(".gatehouse/serve")
    }

    /// Everything the server has printed so far.
    pub fn log(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// The outbox's messages, oldest first.
    pub fn outbox(&self) -> Vec<String> {
        let dir = gatehouse::mail::outbox_dir(self.site.root());
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        paths.sort();
        paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits for a login mail to `email` and returns the link in it. Mail is sent in the
    /// background, so it can land a moment after the form says it was sent.
    pub async fn wait_for_login_mail(&self, email: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .outbox()
                .into_iter()
                .map(|mail| unfold_quoted_printable(&mail))
                .filter(|mail| mail.contains(email))
                .find_map(|mail| link_in(&mail, "/_gate/auth?token="));
            if let Some(link) = found {
                return link;
            }
            assert!(
                Instant::now() < deadline,
                "no login mail for {email} in {} after {WAIT:?}; server output:\n{}",
                gatehouse::mail::outbox_dir(self.site.root()).display(),
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// `POST /_gate/admin/members/{email}/events` with the admin token; panics unless 201.
    pub async fn admin_event(&self, email: &str, event: Value) -> Value {
        let response = reqwest::Client::new()
            .post(self.at(&format!("/_gate/admin/members/{email}/events")))
            .bearer_auth(ADMIN_TOKEN)
            .json(&event)
            .send()
            .await
            .expect("the admin API answers");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status.as_u16(), 201, "admin event refused: {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    /// `POST /_gate/keys` for `rules` as the holder of session cookie `session`.
    pub async fn keys(&self, session: &str, rules: &[&str]) -> Value {
        let response = reqwest::Client::new()
            .post(self.at("/_gate/keys"))
            .header("Cookie", format!("gh_session={session}"))
            .json(&json!({ "rules": rules }))
            .send()
            .await
            .expect("the keys API answers");
        response.json().await.expect("the keys API answers JSON")
    }

    /// The page's HTML exactly as the server sends it (the dev script included).
    pub async fn fetch_html(&self, path: &str) -> String {
        reqwest::get(self.at(path))
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .text()
            .await
            .expect("an HTML body")
    }

    /// The served envelope file of the gated page at `path` (from the served manifest).
    pub fn envelope_of(&self, path: &str) -> PathBuf {
        let manifest = super::manifest(&self.served());
        let page = manifest
            .pages
            .iter()
            .find(|p| p.path == path)
            .unwrap_or_else(|| panic!("{path} is not in the served manifest"));
        self.served().join(page.src.trim_start_matches('/'))
    }

    /// Appends `text` to the content file `relative` (under content/), as an editor would save.
    pub fn append_to_content(&self, relative: &str, text: &str) {
        let path = self.site.path(&format!("content/{relative}"));
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for ServeSite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pipe` to its end in a thread, into `output` and (each line) to `lines`.
fn collect(
    pipe: impl std::io::Read + Send + 'static,
    output: Arc<Mutex<String>>,
    lines: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Ok(mut all) = output.lock() {
                all.push_str(&line);
                all.push('\n');
            }
            if let Some(lines) = &lines {
                // The parser stops listening after start-up; later lines only go to `output`.
                let _ = lines.send(line);
            }
        }
    });
}

/// `(email, link)` from a start-up line holding a one-click login link.
fn login_link(line: &str) -> Option<(String, String)> {
    let link = line.trim();
    if !link.starts_with("http") || !link.contains("/_gatehouse/login?") {
        return None;
    }
    let query = link.split_once('?')?.1;
    let email = query.split('&').find_map(|pair| pair.strip_prefix("as="))?;
    Some((percent_decode(email), link.to_owned()))
}

fn percent_decode(text: &str) -> String {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let hex = text.get(i + 1..i + 3);
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A mail's text with quoted-printable soft line breaks and `=3D` undone (lettre folds long
/// lines).
fn unfold_quoted_printable(mail: &str) -> String {
    mail.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The first `http…` URL in `text` that contains `marker`.
fn link_in(text: &str, marker: &str) -> Option<String> {
    text.split_whitespace()
        .filter(|word| word.starts_with("http") && word.contains(marker))
        .map(|word| word.trim_end_matches(['.', ',', '>', ')']).to_owned())
        .next()
}
