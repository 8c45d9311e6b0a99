//! The release `gatehouse edge` under test: started as a child process (stdout to a file, whose
//! first line gives its address; stderr appended to one log), killed with SIGKILL as in a crash,
//! stopped with SIGTERM, and its resident memory read from /proc.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How to start the edge: the same every time, so a restart finds the same database.
#[derive(Debug, Clone)]
pub struct Launch {
    pub bin: PathBuf,
    pub root: PathBuf,
    pub db: String,
    pub admin_token: String,
    pub webhook_secret: String,
    /// Where stdout files and the shared log go.
    pub out: PathBuf,
}

/// A running edge; killed on drop.
pub struct Edge {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:PORT/_gate`.
    pub api: String,
}

impl Edge {
    /// Starts the edge on `bind` (`127.0.0.1:0` for any port) and waits until it listens.
    pub async fn start(launch: &Launch, bind: &str, run: usize) -> anyhow::Result<Edge> {
        let stdout_path = launch.out.join(format!("edge-{run}.out"));
        let stdout = std::fs::File::create(&stdout_path)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(launch.out.join("edge.log"))?;
        let mut child = Command::new(&launch.bin)
            .arg("--root")
            .arg(&launch.root)
            .args(["edge", "--behind-proxy", "--bind", bind, "--db", &launch.db])
            .env("GATEHOUSE_ADMIN_TOKEN", &launch.admin_token)
            .env("GATEHOUSE_STRIPE_WEBHOOK_SECRET", &launch.webhook_secret)
            .env_remove("GATEHOUSE_SECRET")
            .env_remove("GATEHOUSE_SMTP_URL")
            .env_remove("GATEHOUSE_DB")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", launch.bin.display()))?;
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&stdout_path).unwrap_or_default();
            if let Some(api) = text
                .lines()
                .find_map(|line| line.strip_prefix("gatehouse edge listening on "))
            {
                return Ok(Edge {
                    child,
                    pid,
                    api: api.trim().to_owned(),
                });
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the edge exited with {status} before listening; see {}",
                    launch.out.join("edge.log").display()
                );
            }
            if Instant::now() > deadline {
                bail!("the edge did not listen within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The port it listens on, to restart it on the same one.
    pub fn port(&self) -> &str {
        self.api
            .rsplit_once(':')
            .map_or("0", |(_, rest)| rest.split('/').next().unwrap_or("0"))
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM, then waits for the exit; true when it exited cleanly.
    pub async fn stop(mut self) -> anyhow::Result<bool> {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()?;
        if !status.success() {
            bail!("could not signal the edge");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(exit) = self.child.try_wait()? {
                return Ok(exit.success());
            }
            if Instant::now() > deadline {
                bail!("the edge did not stop within 60 s of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident set size of a process in KiB (`VmRSS` in /proc/PID/status).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
