//! `gatehouse serve` for tests: the real binary on a copy of the demo site, its start-up output
//! (demo members and their one-click login links), what it writes into the site (served files,
//! envelopes, the mail outbox, its development secret), and the production `gatehouse edge`
//! beside it for comparison.
//! Requests to a running serve are in `serve_http`, its live-reload events in `serve_events`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse::gate::MasterSecret;

use super::{ManifestPage, SECRET_B64, Site, eml_files, manifest};

/// Long enough for a debug build of the demo site on a busy two-core machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a rebuild may take to be announced after a save.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a login mail may take to land in the outbox (it is sent in the background).
pub const MAIL_TIMEOUT: Duration = Duration::from_secs(10);
/// The admin token [`Serve::start_with_admin`] gives the server, so tests can change members'
/// histories through the admin API.
pub const ADMIN_TOKEN: &str = "browser-admin-token-0123456789abcdef";

/// The folder `serve` builds into, below the site's root.
pub const SERVE_OUT: &str = ".gatehouse/serve";
/// `serve`'s development secret, apart from the site's `.gatehouse/secret`.
pub const DEV_SECRET: &str = ".gatehouse/dev/secret";
/// Where `serve` caches the files it sealed with its development secret.
pub const DEV_FILES: &str = ".gatehouse/dev/files";

const LISTENING: &str = "gatehouse serve listening on ";

/// How a test starts `gatehouse --root ROOT serve --port 0`.
pub struct Launch<'a> {
    /// Arguments after `serve --port 0`.
    pub args: &'a [&'a str],
    /// `GATEHOUSE_ADMIN_TOKEN`; `None` turns the admin API off.
    pub admin_token: Option<&'a str>,
    /// `GATEHOUSE_SECRET`, the site's master secret; `None` leaves it unset.
    pub site_secret_env: Option<&'a str>,
}

impl Default for Launch<'_> {
    /// No arguments, admin API off, the fixture secret as the site's.
    fn default() -> Self {
        Launch {
            args: &[],
            admin_token: None,
            site_secret_env: Some(SECRET_B64),
        }
    }
}

/// A running `gatehouse --root ROOT serve --port 0` with the fixture secret as the site's (serve
/// seals with its development secret unless started with `--site-secret`); killed on drop.
pub struct Serve {
    child: Child,
    /// The site's root, which the server builds from and writes into.
    root: PathBuf,
    /// Started with `--site-secret`: sealed with the site's secret, cached where a build caches.
    site_secret: bool,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    /// Standard output up to and including the `listening on` line.
    pub stdout: Vec<String>,
    /// Everything the server printed (stdout and stderr), for failure reports.
    output: Arc<Mutex<String>>,
}

/// The repository's demo site in a temporary folder and `serve` running on it, admin API off.
pub fn start_demo() -> (Site, Serve) {
    let site = Site::demo();
    let serve = Serve::start(site.root());
    (site, serve)
}

impl Serve {
    /// Serves `root` with the admin API off (no admin token).
    pub fn start(root: &Path) -> Serve {
        Serve::launch(root, Launch::default())
    }

    /// Serves `root` with the admin API on, under [`ADMIN_TOKEN`].
    pub fn start_with_admin(root: &Path) -> Serve {
        Serve::launch(
            root,
            Launch {
                admin_token: Some(ADMIN_TOKEN),
                ..Launch::default()
            },
        )
    }

    /// Starts the binary and waits until it says where it listens.
    pub fn launch(root: &Path, launch: Launch) -> Serve {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command
            .arg("--root")
            .arg(root)
            .args(["serve", "--port", "0"])
            .args(launch.args)
            .current_dir(root)
            // Mail goes to the site's outbox, where tests read it, whatever the caller's setup.
            .env_remove("GATEHOUSE_SMTP_URL")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match launch.admin_token {
            Some(token) => command.env("GATEHOUSE_ADMIN_TOKEN", token),
            None => command.env_remove("GATEHOUSE_ADMIN_TOKEN"),
        };
        match launch.site_secret_env {
            Some(secret) => command.env("GATEHOUSE_SECRET", secret),
            None => command.env_remove("GATEHOUSE_SECRET"),
        };
        let mut child = command.spawn().expect("the gatehouse binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        // Both pipes are read to their end, so the server never blocks on a full pipe; stdout
        // lines also go through a channel so that waiting for start-up can time out.
        let (lines, received) = mpsc::channel();
        collect(
            child.stdout.take().expect("stdout is piped"),
            &output,
            Some(lines),
        );
        collect(child.stderr.take().expect("stderr is piped"), &output, None);
        // Built before it is ready, so that a panic below still kills the process on drop.
        let mut serve = Serve {
            child,
            root: root.to_path_buf(),
            site_secret: launch.args.contains(&"--site-secret"),
            url: String::new(),
            stdout: Vec::new(),
            output,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = received.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "`gatehouse serve` did not say it was listening within {START_TIMEOUT:?}:\n{}",
                    serve.log()
                )
            });
            serve.stdout.push(line.clone());
            if let Some(url) = line.trim().strip_prefix(LISTENING) {
                serve.url = url.trim_end_matches('/').to_owned();
                return serve;
            }
        }
    }

    /// The site's address of `path` (which starts with `/`).
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Everything the server has printed so far: start-up, build errors, rebuild lines.
    pub fn log(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// The demo members printed at start-up, in order.
    pub fn demo_members(&self) -> Vec<DemoLine> {
        let start = self
            .stdout
            .iter()
            .position(|l| l.starts_with("Demo members"))
            .unwrap_or_else(|| panic!("no demo member list in:\n{}", self.stdout.join("\n")));
        let lines: Vec<&str> = self.stdout[start + 1..]
            .iter()
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.trim())
            .collect();
        assert!(
            lines.len().is_multiple_of(2),
            "demo members come as pairs of lines: {lines:#?}"
        );
        lines
            .chunks(2)
            .map(|pair| {
                let (email, what) = pair[0].split_once(' ').unwrap_or((pair[0], ""));
                DemoLine {
                    email: email.to_owned(),
                    what: what.trim().to_owned(),
                    link: pair[1].to_owned(),
                }
            })
            .collect()
    }

    /// The one-click login link of demo member `email`, returning to `next`.
    pub fn login_link(&self, email: &str, next: &str) -> String {
        let members = self.demo_members();
        let member = members
            .iter()
            .find(|m| m.email == email)
            .unwrap_or_else(|| {
                let known: Vec<&str> = members.iter().map(|m| m.email.as_str()).collect();
                panic!("no demo login link for {email} (have: {known:?})")
            });
        format!("{}&next={next}", member.link)
    }

    /// The served envelope file of the gated page at `path` (from the served manifest).
    pub fn envelope_of(&self, path: &str) -> PathBuf {
        let page = served_page(&self.root, path);
        served_dir(&self.root).join(page.src.trim_start_matches('/'))
    }

    /// The served sealed object of the gated file `content_path` (below content/), from the
    /// cache index of the files serve sealed.
    pub fn sealed_file_of(&self, content_path: &str) -> PathBuf {
        let cache = if self.site_secret {
            ".gatehouse/files"
        } else {
            DEV_FILES
        };
        let index = std::fs::read_to_string(self.root.join(cache).join("index.json"))
            .expect("the cache index of sealed files");
        let index: serde_json::Value = serde_json::from_str(&index).expect("it is JSON");
        let salt = index["files"][content_path]["salt"]
            .as_str()
            .unwrap_or_else(|| panic!("{content_path} is not a sealed file: {index}"));
        served_dir(&self.root).join(format!("_gated/files/{salt}.bin"))
    }

    /// The development secret serve seals with and hands keys out of (without `--site-secret`).
    pub fn dev_secret(&self) -> MasterSecret {
        dev_secret(&self.root)
    }

    /// The site folder this server builds.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Appends `text` to the content file `relative` (under content/), as an editor would save.
    pub fn append_to_content(&self, relative: &str, text: &str) {
        let path = self.root.join("content").join(relative);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// The outbox's messages, oldest first.
    pub fn outbox(&self) -> Vec<String> {
        // No folder yet: nothing was sent.
        let Ok(paths) = eml_files(&gatehouse::mail::outbox_dir(&self.root)) else {
            return Vec::new();
        };
        paths
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits for a login mail to `email` and returns the link in it. Mail is sent in the
    /// background, so it can land a moment after the form says it was sent.
    pub async fn wait_for_login_mail(&self, email: &str) -> String {
        let deadline = Instant::now() + MAIL_TIMEOUT;
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
                "no login mail for {email} in {} after {MAIL_TIMEOUT:?}; server output:\n{}",
                gatehouse::mail::outbox_dir(&self.root).display(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One demo member as printed: `email  what`, then the one-click login link.
#[derive(Debug, Clone)]
pub struct DemoLine {
    pub email: String,
    pub what: String,
    pub link: String,
}

/// The development secret `serve` made for the site at `root`.
pub fn dev_secret(root: &Path) -> MasterSecret {
    let path = root.join(DEV_SECRET);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("serve's development secret {}: {e}", path.display()));
    MasterSecret::from_base64url(&text).expect("the development secret is base64url")
}

/// The root of a served site's output.
pub fn served_dir(root: &Path) -> PathBuf {
    root.join(SERVE_OUT)
}

/// The gated page at `path` in the served manifest.
pub fn served_page(root: &Path, path: &str) -> ManifestPage {
    let manifest = manifest(&served_dir(root));
    let page = manifest.pages.into_iter().find(|p| p.path == path);
    page.unwrap_or_else(|| panic!("{path} is not in the served manifest"))
}

/// The access rule of the gated page at `path`, from the served manifest.
pub fn rule_of(root: &Path, path: &str) -> String {
    served_page(root, path).rule
}

/// Reads `pipe` to its end in a thread, into `output` and (each line) to `lines`.
fn collect(
    pipe: impl std::io::Read + Send + 'static,
    output: &Arc<Mutex<String>>,
    lines: Option<mpsc::Sender<String>>,
) {
    let output = output.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Ok(mut all) = output.lock() {
                all.push_str(&line);
                all.push('\n');
            }
            if let Some(lines) = &lines {
                // Nobody listens after start-up; later lines only go to `output`.
                let _ = lines.send(line);
            }
        }
    });
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

/// A running `gatehouse edge` (the production server) on the same site; killed on drop.
pub struct EdgeProcess {
    child: Child,
    /// The API's address, e.g. `http://127.0.0.1:PORT/_gate`.
    pub api: String,
}

impl EdgeProcess {
    pub fn start(root: &Path) -> EdgeProcess {
        let db = format!("sqlite://{}", root.join(".gatehouse/edge.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("--root")
            .arg(root)
            .args(["edge", "--bind", "127.0.0.1:0", "--db", &db])
            .env("GATEHOUSE_SECRET", SECRET_B64)
            .env_remove("GATEHOUSE_ADMIN_TOKEN")
            .env_remove("GATEHOUSE_SMTP_URL")
            .stdout(Stdio::piped())
            // Its log is not read; a full pipe must not stall it.
            .stderr(Stdio::null())
            .spawn()
            .expect("the gatehouse binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout is piped"))
            .read_line(&mut line)
            .expect("the edge prints where it listens");
        let api = line
            .trim()
            .strip_prefix("gatehouse edge listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from `gatehouse edge`: {line:?}"))
            .to_owned();
        EdgeProcess { child, api }
    }
}

impl Drop for EdgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
