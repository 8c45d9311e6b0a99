//! `gatehouse serve` for tests: the real binary on a copy of the demo site, its start-up output
//! (demo members and their login links), the live-reload events it announces, and raw HTTP for
//! request paths that a client library would clean up before sending.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::SECRET_B64;

/// Long enough for a debug build of the demo site on a busy two-core machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a rebuild may take to be announced after a save.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The folder `serve` builds into, below the site's root.
pub const SERVE_OUT: &str = ".gatehouse/serve";

const LISTENING: &str = "gatehouse serve listening on ";

/// A running `gatehouse --root ROOT serve --port 0`; killed on drop.
pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
    /// Standard output up to and including the `listening on` line.
    pub stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    pub fn start(root: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("--root")
            .arg(root)
            .args(["serve", "--port", "0"])
            .env("GATEHOUSE_SECRET", SECRET_B64)
            .env_remove("GATEHOUSE_ADMIN_TOKEN")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the gatehouse binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let err = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut log = sink.lock().expect("the log lock is not poisoned");
                log.push_str(&line);
                log.push('\n');
            }
        });
        // Lines go through a channel so that waiting for them can time out; the thread keeps
        // draining stdout for the life of the process.
        let (lines, received) = mpsc::channel();
        let out = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let mut serve = Serve {
            child,
            url: String::new(),
            stdout: Vec::new(),
            stderr,
        };
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = received.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "`gatehouse serve` did not say it was listening within {START_TIMEOUT:?}.\n\
                     stdout:\n{}\nstderr:\n{}",
                    serve.stdout.join("\n"),
                    serve.log()
                )
            });
            serve.stdout.push(line.clone());
            if let Some(url) = line.strip_prefix(LISTENING) {
                serve.url = url.trim_end_matches('/').to_owned();
                return serve;
            }
        }
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// What `serve` wrote to stderr so far (build errors, rebuild lines).
    pub fn log(&self) -> String {
        self.stderr
            .lock()
            .expect("the log lock is not poisoned")
            .clone()
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

/// The root of a served site's output.
pub fn served_dir(root: &Path) -> PathBuf {
    root.join(SERVE_OUT)
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client builds")
}

/// An event on `/_gatehouse/events`, as the dev script reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DevEvent {
    Reload { paths: Vec<String> },
    Error { message: String },
}

/// An open connection to `/_gatehouse/events`.
pub struct Events {
    response: reqwest::Response,
    /// Received text not yet parsed into events.
    pending: String,
}

impl Events {
    /// Connects; once this returns, the server has subscribed this page to announcements.
    pub async fn connect(serve: &Serve) -> Events {
        let response = reqwest::get(serve.at("/_gatehouse/events"))
            .await
            .expect("the event stream answers");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        assert_eq!(kind.as_deref(), Some("text/event-stream"));
        Events {
            response,
            pending: String::new(),
        }
    }

    /// The next `gatehouse` event within `within`, or `None`.
    pub async fn next_within(&mut self, within: Duration) -> Option<DevEvent> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(event) = self.parse_one() {
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.pending.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) => panic!("the event stream ended"),
                Ok(Err(error)) => panic!("the event stream failed: {error}"),
                Err(_) => return None,
            }
        }
    }

    /// The next `gatehouse` event; panics naming `what` was awaited if none comes in time.
    pub async fn next(&mut self, serve: &Serve, what: &str) -> DevEvent {
        match self.next_within(EVENT_TIMEOUT).await {
            Some(event) => event,
            None => panic!(
                "no event within {EVENT_TIMEOUT:?} after {what}; serve's log:\n{}",
                serve.log()
            ),
        }
    }

    /// Takes one complete `gatehouse` event off the received text, skipping keep-alives.
    fn parse_one(&mut self) -> Option<DevEvent> {
        loop {
            let normalized = self.pending.replace("\r\n", "\n");
            let end = normalized.find("\n\n")?;
            let frame = normalized[..end].to_owned();
            self.pending = normalized[end + 2..].to_owned();
            let mut name = "message";
            let mut data = Vec::new();
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if name == "gatehouse" {
                let data = data.join("\n");
                return Some(
                    serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("bad event data {data:?}: {e}")),
                );
            }
        }
    }
}

/// GET with the request path sent exactly as written (no `..` clean-up): status and body.
pub async fn raw_get(serve: &Serve, path: &str) -> (u16, String) {
    let host = serve.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("serve accepts connections");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("the answer is read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
    (status, answer)
}

/// Polls `check` every 50 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
