//! A real S3-compatible server for deploy tests: Garage (which checks every request's SigV4
//! signature) on loopback, single node, one bucket `site` served also as a website, so tests
//! read deployed pages over plain HTTP the way a CDN would fetch them from its origin.
//!
//! `scripts/test` installs Garage with cargo. Without it, [`Garage::start`] prints a loud
//! SKIPPED notice and returns `None`; under `CI=true` it panics instead.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::servers::skip;

pub const BUCKET: &str = "site";
pub const REGION: &str = "garage";
pub const ACCESS_KEY: &str = "GK0123456789abcdef01234567";
/// 64 hex digits, as Garage's secret keys are.
pub const SECRET_KEY: &str = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2";

pub struct Garage {
    child: Child,
    config: PathBuf,
    _dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT` of the S3 API.
    pub endpoint: String,
    web: String,
}

/// One HTTP answer of the website endpoint.
#[derive(Debug)]
pub struct WebAnswer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl WebAnswer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// The Garage binary: `GATEHOUSE_TEST_GARAGE`, else `garage` on PATH or in cargo's bin folder.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("GATEHOUSE_TEST_GARAGE") {
        return Some(PathBuf::from(path));
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("garage"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        candidates.push(PathBuf::from(home).join("bin/garage"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/garage"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// How one try at starting Garage ended.
enum Started {
    Up(Garage),
    /// One of its ports was taken between choosing it and Garage binding it: try other ports.
    PortTaken,
}

/// How long Garage may take to answer before it is taken to hang. Its start is polled, and a
/// Garage that exits is reported at once, so this bounds only a hang.
const START_LIMIT: Duration = Duration::from_secs(180);

impl Garage {
    pub fn start() -> Option<Garage> {
        let Some(binary) = binary() else {
            skip("Garage 2 (`garage` on PATH; scripts/test installs it)");
            return None;
        };
        for _ in 0..5 {
            if let Started::Up(garage) = Garage::try_start(&binary) {
                return Some(garage);
            }
        }
        panic!("Garage could not bind free loopback ports in 5 tries");
    }

    fn try_start(binary: &PathBuf) -> Started {
        let dir = tempfile::tempdir().expect("temp dir");
        let (rpc, s3, web) = (free_port(), free_port(), free_port());
        let config = dir.path().join("garage.toml");
        std::fs::write(
            &config,
            format!(
                r#"metadata_dir = "{root}/meta"
data_dir = "{root}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secret}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "127.0.0.1:{s3}"
root_domain = ".s3.garage.localhost"

[s3_web]
bind_addr = "127.0.0.1:{web}"
root_domain = ".web.garage.localhost"
index = "index.html"
"#,
                root = dir.path().display(),
                secret = "1799bccfd7411eddcf9ebd316bc1f5287ad12a68094e1c6ac6abde7e6feae1ec",
            ),
        )
        .expect("garage.toml");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .args(["server", "--single-node", "--default-bucket"])
            .env("GARAGE_DEFAULT_ACCESS_KEY", ACCESS_KEY)
            .env("GARAGE_DEFAULT_SECRET_KEY", SECRET_KEY)
            .env("GARAGE_DEFAULT_BUCKET", BUCKET)
            // Its servers say where they listen: a port another program took first is only a
            // logged error, and Garage keeps running without that server.
            .env("RUST_LOG", "warn,garage_api_common=info,garage_web=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut garage = Garage {
            child,
            config,
            _dir: dir,
            endpoint: format!("http://127.0.0.1:{s3}"),
            web: format!("127.0.0.1:{web}"),
        };
        let deadline = Instant::now() + START_LIMIT;
        let listening = |log: &str| {
            log.contains(&format!("listening on http://127.0.0.1:{s3}"))
                && log.contains(&format!("listening on http://127.0.0.1:{web}"))
        };
        loop {
            let log = garage.log();
            if log.contains("Address already in use") {
                return Started::PortTaken;
            }
            if let Ok(Some(status)) = garage.child.try_wait() {
                panic!("Garage exited ({status}) while starting: {log}");
            }
            if listening(&log) && garage.cli(&["bucket", "info", BUCKET]) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Garage did not answer within {START_LIMIT:?}: {}",
                garage.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            garage.cli(&["bucket", "website", "--allow", BUCKET]),
            "cannot make the bucket a website: {}",
            garage.log()
        );
        Started::Up(garage)
    }

    fn cli(&self, args: &[&str]) -> bool {
        let Some(binary) = binary() else {
            return false;
        };
        Command::new(binary)
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default()
    }

    /// The credentials of the bucket's key, as `gatehouse deploy` reads them.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ]
    }

    /// The `[deploy]` table for a site deploying into `prefix` of the bucket.
    pub fn deploy_table(&self, prefix: &str) -> String {
        format!(
            "\n[deploy]\ntarget = \"s3://{BUCKET}/{prefix}\"\nendpoint = \"{}\"\nregion = \"{REGION}\"\n",
            self.endpoint
        )
    }

    /// GET `path` (from the bucket's root, e.g. `/www/course/`) from the website endpoint.
    pub fn fetch(&self, path: &str) -> WebAnswer {
        let mut stream = TcpStream::connect(&self.web).expect("Garage web endpoint");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {BUCKET}.web.garage.localhost\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("response");
        parse_response(&raw)
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP/1.1 response with a Content-Length or chunked body.
fn parse_response(raw: &[u8]) -> WebAnswer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        body = dechunk(&body);
    }
    WebAnswer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}
