//! A real `gatehouse edge` process on a real socket, for tests that need the binary: restarts,
//! kills, signals, and what runs in its background.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

pub const ADMIN: &str = "e2e-admin-token-0123456789abcdefgh";

/// A running `gatehouse edge`; killed on drop.
pub struct Edge {
    pub child: Child,
    pub api: String,
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
    /// The thread copying stderr into `log`; joined once the edge exits, so the log is whole.
    reader: Option<std::thread::JoinHandle<()>>,
}

/// How long an edge may take to exit after SIGTERM before it is taken to hang; the exit is
/// polled, so a prompt one costs nothing.
const STOP_LIMIT: Duration = Duration::from_secs(60);

impl Edge {
    pub fn start(root: &Path, db: &str, env: &[(&str, &str)]) -> Edge {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command
            .args(["--root"])
            .arg(root)
            .args(["edge", "--bind", "127.0.0.1:0", "--db", db])
            .env("GATEHOUSE_ADMIN_TOKEN", ADMIN)
            .env("RUST_LOG", "debug")
            .env_remove("GATEHOUSE_SECRET")
            .env_remove("GATEHOUSE_SMTP_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap();
        // Collect the log for the tests that read it, without ever blocking the server.
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&line);
                sink.lock().unwrap().push('\n');
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let api = line
            .trim()
            .strip_prefix("gatehouse edge listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Edge {
            child,
            api,
            log,
            reader: Some(reader),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// SIGTERM, then the exit status, once everything the edge logged is in `log`.
    pub fn stop(mut self) -> ExitStatus {
        // An edge that already exited cannot be signalled; its status says why.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = std::time::Instant::now() + STOP_LIMIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                if let Some(reader) = self.reader.take() {
                    reader.join().unwrap();
                }
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the edge did not stop within {STOP_LIMIT:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGSTOP, returning once the edge is stopped (a write already under way when the signal
    /// came has then landed): it does nothing more until `thaw`, so a test can look at what it
    /// left.
    pub fn freeze(&self) {
        self.signal("-STOP");
        let stat = format!("/proc/{}/stat", self.child.id());
        let deadline = std::time::Instant::now() + STOP_LIMIT;
        // The state is the field after the parenthesised command name: `T` once stopped.
        while !std::fs::read_to_string(&stat)
            .unwrap_or_default()
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('T'))
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the edge does not stop"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGCONT after `freeze`.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, which: &str) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([which, &pid])
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Edge {
    /// SIGKILL: no chance to finish anything, as in a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}
