//! A real headless Chromium driving the real `gatehouse serve`, for the browser tests
//! (tests/browser.rs; docs/testing.md).
//!
//! - [`scenario`] runs one test: it checks that Chromium and chromedriver are there (a loud
//!   SKIPPED notice otherwise, a panic under `CI=true`), starts chromedriver, a fresh browser
//!   session (fresh profile: no cookies, no storage) and the test body, and always closes the
//!   session, also when the body panics. Scenarios run one at a time, whatever `--test-threads`
//!   says: each one is a browser plus a server, and the machines this runs on have two cores.
//! - [`Browser`] (in `browser_session`) wraps a fantoccini client with polling waits (no fixed
//!   sleeps) and screenshots into `<target>/browser-artifacts/`.
//!
//! The server is `common::serve::Serve` on a fresh copy of the demo site, admin API on.

use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::ClientBuilder;
use futures_util::FutureExt;
use serde_json::json;

use super::Site;
use super::browser_session::{DESKTOP, WAIT};
use super::serve::Serve;
use super::servers::in_ci;

/// Resolves to the test server, yet is not a secure context (no WebCrypto) for the browser.
/// It is the demo site's `base_url` host: the one name besides loopback ones that `serve`
/// answers (it refuses other `Host`s, as a DNS-rebinding page would send).
pub const INSECURE_HOST: &str = "academy.example.com";

pub use super::browser_session::Browser;

/// Runs one browser scenario; see the module docs. `name` names its screenshots.
pub fn scenario<F>(name: &str, body: F)
where
    F: AsyncFnOnce(&Browser, &Serve),
{
    scenario_on(name, Site::demo, body);
}

/// As [`scenario`], on the site `site` makes (e.g. `|| Site::fixture("browser_blocks")`)
/// instead of the demo site.
pub fn scenario_on<F>(name: &str, site: impl FnOnce() -> Site, body: F)
where
    F: AsyncFnOnce(&Browser, &Serve),
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
        let site = site();
        let serve = Serve::start_with_admin(site.root());
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
    /// Starts chromedriver on a port it picks itself (`--port=0`) and reads which from its
    /// log, so no other program can take the port between choosing and binding it.
    fn start(tools: &Tools) -> Driver {
        use std::os::unix::process::CommandExt;
        let log_dir = tempfile::tempdir().expect("a folder for chromedriver's log");
        let log_path = log_dir.path().join("chromedriver.log");
        let log = std::fs::File::create(&log_path).expect("chromedriver's log file");
        let mut child = Command::new(&tools.chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("chromedriver's log file"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", tools.chromedriver.display()));
        let deadline = Instant::now() + WAIT;
        let port = loop {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let said = log
                .split("started successfully on port ")
                .nth(1)
                .and_then(|rest| rest.split_once('.'))
                .map(|(port, _)| port)
                .and_then(|port| port.trim().parse::<u16>().ok());
            if let Some(port) = said {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("chromedriver exited ({status}) while starting:\n{log}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("chromedriver did not start:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _log_dir: log_dir,
        }
    }

    /// A new browser with a fresh profile, at the desktop size.
    ///
    /// (See [`INSECURE_HOST`] for the one name it resolves itself.)
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
                // A name for the loopback server that is not "localhost" nor an IP: pages
                // reached through it are not a secure context, as on plain http in production.
                format!("--host-resolver-rules=MAP {INSECURE_HOST} 127.0.0.1"),
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
        Browser::new(client, scenario, &self.url).await
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
