//! Real servers for integration tests: a fresh PostgreSQL database per call, and an SMTP sink
//! that keeps every message it receives.
//!
//! `scripts/test` installs and starts what these need. In a plain `cargo test` without them, the
//! helpers print a loud SKIPPED notice and return `None`; under `CI=true` they panic instead, so
//! nothing is skipped in CI.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::{Connection, PgConnection};

use super::eml_files;

/// The environment variable naming a PostgreSQL server the tests may create databases on, as a
/// URL whose role has CREATEDB (scripts/test sets
/// `postgres://gatehouse:gatehouse@127.0.0.1:5432/postgres`).
pub const PG_ENV: &str = "GATEHOUSE_TEST_PG";

/// Whether the tests run under `CI=true`, where nothing may skip.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Reports a missing prerequisite: panics under `CI=true`, otherwise prints a loud notice naming
/// the running test. The caller then returns without testing.
pub fn skip(what: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    assert!(
        !in_ci(),
        "CI=true: {test} needs {what} (scripts/test installs and starts it)"
    );
    // Straight to stderr, past the test harness's capture, so the notice shows even when the
    // test passes.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: needs {what}; run scripts/test ***\n"
    );
}

/// A fresh, empty PostgreSQL database on the server named by `GATEHOUSE_TEST_PG`, as a URL to
/// connect to. Each call makes a new uniquely named database (`gh_test_<pid>_<n>_<nanos>`), so
/// tests running in parallel never share one. Databases left by test processes that have ended
/// are dropped on the first call of a process.
///
/// Returns `None` (after a loud notice) when `GATEHOUSE_TEST_PG` is not set; panics instead under
/// `CI=true`. Panics when the variable is set but the server cannot be used.
pub async fn postgres_database() -> Option<String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let Some(admin_url) = std::env::var(PG_ENV).ok().filter(|url| !url.is_empty()) else {
        skip(&format!("PostgreSQL: set {PG_ENV}"));
        return None;
    };
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let mut admin = connect(&admin_url).await;
    if n == 0 {
        drop_stale_databases(&mut admin).await;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("gh_test_{}_{n}_{nanos}", std::process::id());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("{PG_ENV}: cannot create database {name}: {e}"));
    // Best effort: a failed close only leaves a connection for the server to reap.
    let _ = admin.close().await;
    Some(with_database(&admin_url, &name))
}

async fn connect(url: &str) -> PgConnection {
    let mut last = None;
    // The server may still be starting when the first tests run.
    for _ in 0..20 {
        match PgConnection::connect(url).await {
            Ok(connection) => return connection,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "{PG_ENV} is set but PostgreSQL cannot be reached at {}: {}",
        redact(url),
        last.map_or_else(String::new, |e| e.to_string())
    );
}

/// Drops `gh_test_<pid>_*` databases whose process is gone (Linux only: it asks /proc).
async fn drop_stale_databases(admin: &mut PgConnection) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'gh\\_test\\_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for name in names {
        let Some(pid) = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        // Another process may be dropping the same database: ignore failures.
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut *admin)
        .await;
    }
}

/// `url` with its database path replaced by `database`, keeping any `?query`.
pub fn with_database(url: &str, database: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let (head, query) = match url.find('?') {
        Some(q) => url.split_at(q),
        None => (url, ""),
    };
    let base = match head[authority_start..].find('/') {
        Some(slash) => &head[..authority_start + slash],
        None => head,
    };
    format!("{base}/{database}{query}")
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..start], &rest[at..])
        }
        None => url.to_string(),
    }
}

/// A real SMTP server on 127.0.0.1 (tests/support/smtp_sink.py, on aiosmtpd) that writes every
/// message it receives into a temporary folder. It stops when dropped.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl SmtpSink {
    /// Starts a sink on a free port and waits until it accepts connections.
    ///
    /// Returns `None` (after a loud notice) when python3 with `aiosmtpd` is missing; panics
    /// instead under `CI=true`. Panics when the sink does not start.
    pub fn start() -> Option<SmtpSink> {
        let present = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !present {
            skip("python3 with `aiosmtpd` (pip install aiosmtpd)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temporary folder for the SMTP sink");
        let log_path = dir.path().join("sink.log");
        let log = std::fs::File::create(&log_path).expect("the SMTP sink's log");
        let script = super::repo().join("tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--port", "0", "--exit-on-stdin-eof", "--dir"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("python3 tests/support/smtp_sink.py starts");
        let stdout = child.stdout.take().expect("the sink's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse::<u16>().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("the SMTP sink did not start (printed {line:?}):\n{stderr}");
        };
        let sink = SmtpSink { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the SMTP sink does not accept connections on 127.0.0.1:{port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(sink)
    }

    /// The folder the messages are written to, one `NNNNNN.eml` file each (and the sink's
    /// stderr, `sink.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every message received so far, oldest first: its raw text, preceded by one
    /// `X-Envelope-From:` header and one `X-Envelope-To:` header per recipient.
    pub fn messages(&self) -> Vec<String> {
        eml_files(self.dir.path())
            .expect("the SMTP sink's folder")
            .iter()
            .map(|p| {
                let bytes = std::fs::read(p).expect("a received message");
                String::from_utf8_lossy(&bytes).into_owned()
            })
            .collect()
    }

    /// Waits until at least `count` messages have arrived and returns all of them, oldest
    /// first. Panics after `timeout`. It blocks the thread; the sink is another process, so
    /// that does not hold up delivery.
    pub fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "the SMTP sink got {} message(s) in {timeout:?}, expected {count}",
                messages.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until a message has arrived and returns the first one. Panics after `timeout`.
    pub fn wait_for_message(&self, timeout: Duration) -> String {
        self.wait_for_messages(1, timeout)
            .into_iter()
            .next()
            .expect("one message")
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
