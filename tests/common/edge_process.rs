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
}

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
        std::thread::spawn(move || {
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
        Edge { child, api, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the edge did not stop within 5 s of SIGTERM");
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
