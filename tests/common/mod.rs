//! Shared helpers for integration tests: fixture sites copied into temp folders, a fixed
//! master secret, and the built binary.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gatehouse::build::{BuildError, BuildOptions, BuildReport, build};
use gatehouse::gate::{MasterSecret, Rule, derive_key, open};
pub mod browser;
pub mod browser_session;
pub mod console;
pub mod deploy;
pub mod edge;
pub mod edge_process;
pub mod garage;
pub mod receiver;
pub mod serve;
pub mod serve_events;
pub mod serve_http;
pub mod servers;
pub mod spare;
pub mod stripe;

/// The secret every fixture build uses, so tests can open what they built.
pub const SECRET_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).into_iter().map(Result::unwrap) {
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A fixture site in a fresh temp folder, with the repository's default theme and a fixed secret.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn fixture(name: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("tests/fixtures").join(name), dir.path());
        Site::finish(dir)
    }

    /// The repository's own demo site.
    pub fn demo() -> Site {
        let dir = tempfile::tempdir().unwrap();
        for part in ["content", "site.toml"] {
            let from = repo().join(part);
            if from.is_dir() {
                copy_dir(&from, &dir.path().join(part));
            } else {
                std::fs::copy(&from, dir.path().join(part)).unwrap();
            }
        }
        Site::finish(dir)
    }

    fn finish(dir: tempfile::TempDir) -> Site {
        if !dir.path().join("themes/default").exists() {
            copy_dir(
                &repo().join("themes/default"),
                &dir.path().join("themes/default"),
            );
        }
        std::fs::create_dir_all(dir.path().join(".gatehouse")).unwrap();
        std::fs::write(dir.path().join(".gatehouse/secret"), SECRET_B64).unwrap();
        Site { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn out(&self) -> PathBuf {
        self.root().join("public")
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    /// Saves the file as editors do, whole: written beside it under a scratch name the
    /// watcher ignores, then renamed over it. (Written in place, a save is a truncate and a
    /// write, and a busy machine can let `serve` see the empty file between the two.)
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        let dir = path.parent().unwrap();
        std::fs::create_dir_all(dir).unwrap();
        let name = path.file_name().unwrap().to_string_lossy();
        let scratch = dir.join(format!(".{name}.saving.tmp"));
        std::fs::write(&scratch, text).unwrap();
        std::fs::rename(&scratch, &path).unwrap();
    }

    pub fn edit(&self, relative: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path(relative)).unwrap();
        assert!(text.contains(from), "{relative} does not contain {from:?}");
        self.write(relative, &text.replacen(from, to, 1));
    }

    pub fn build_into(&self, out: &Path) -> Result<BuildReport, BuildError> {
        build(&BuildOptions {
            base_url: None,
            dev_secret: None,
            root: self.root().to_path_buf(),
            out: Some(out.to_path_buf()),
            drafts: false,
            check_only: false,
            progress: false,
        })
    }

    pub fn build_with_drafts(&self, out: &Path) -> Result<BuildReport, BuildError> {
        build(&BuildOptions {
            base_url: None,
            dev_secret: None,
            root: self.root().to_path_buf(),
            out: Some(out.to_path_buf()),
            drafts: true,
            check_only: false,
            progress: false,
        })
    }

    pub fn build(&self) -> Result<BuildReport, BuildError> {
        self.build_into(&self.out())
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.out().join(relative))
            .unwrap_or_else(|e| panic!("cannot read output {relative}: {e}"))
    }
}

/// Every file below `dir`, relative path → bytes.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let relative = e
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (relative, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

#[derive(serde::Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub epoch: u32,
    pub pages: Vec<ManifestPage>,
    /// Each gate's search bundle: gate id → `src`.
    pub bundles: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
pub struct ManifestPage {
    pub path: String,
    pub gate: String,
    pub rule: String,
    pub src: String,
}

pub fn manifest(out: &Path) -> Manifest {
    let text = std::fs::read_to_string(out.join("_gated/manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Opens every envelope of a built site with the fixture secret: path → plaintext.
pub fn open_all(out: &Path) -> BTreeMap<String, String> {
    let manifest = manifest(out);
    let secret = MasterSecret::from_base64url(SECRET_B64).unwrap();
    let mut opened = BTreeMap::new();
    for page in &manifest.pages {
        let rule = Rule::parse(&page.rule).unwrap();
        assert_eq!(rule.gate_id().as_str(), page.gate);
        let key = derive_key(&secret, manifest.epoch, &rule);
        let bytes = std::fs::read(out.join(page.src.trim_start_matches('/'))).unwrap();
        let plain = open(&key, &rule.gate_id(), &page.path, &bytes).unwrap();
        opened.insert(page.path.clone(), String::from_utf8(plain).unwrap());
        let bundle_path = format!("/_gated/{}/bundle", page.gate);
        let bundle_src = &manifest.bundles[&page.gate];
        let bundle = std::fs::read(out.join(bundle_src.trim_start_matches('/'))).unwrap();
        let plain = open(&key, &rule.gate_id(), &bundle_path, &bundle).unwrap();
        opened.insert(bundle_path, String::from_utf8(plain).unwrap());
    }
    opened
}

pub fn gatehouse(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(cwd)
        .env_remove("GATEHOUSE_SECRET")
        .output()
        .unwrap()
}

pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The `.eml` files in `dir`, in name order: the outbox and the SMTP sink number their messages,
/// so that is oldest first.
pub fn eml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "eml") {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Runs `gatehouse --root ROOT ARGS` with the fixture secret; panics unless it succeeds, and
/// returns its standard output.
pub fn gatehouse_ok(root: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env("GATEHOUSE_SECRET", SECRET_B64)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "gatehouse {args:?}: {stderr}");
    stdout
}

/// Polls `probe` until it finds something, and returns it; panics naming `what` if nothing
/// is found `within` (a bound on a hang: a condition met at once costs nothing).
#[allow(dead_code)] // not every test binary polls
pub async fn eventually<T>(
    what: &str,
    within: std::time::Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = std::time::Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "gave up after {within:?} waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Options for a `LiveSite` (what `gatehouse serve` keeps) building `site` into `live/`.
pub fn live_options(site: &Site) -> BuildOptions {
    BuildOptions {
        root: site.root().to_path_buf(),
        out: Some(site.root().join("live")),
        drafts: false,
        check_only: false,
        progress: false,
        base_url: Some("http://127.0.0.1:4000".to_owned()),
        dev_secret: None,
    }
}
