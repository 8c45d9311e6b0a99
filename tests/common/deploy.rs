//! Helpers for deploy tests: running `gatehouse deploy`, reading a deployed site back the way
//! a browser would (a folder, or Garage's website endpoint), and checking that every page of
//! it opens: its HTML is there and, when gated, the envelope it points at is there and opens.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gatehouse::deploy::{ManifestKey, STATE_KEY};
use gatehouse::gate::{MasterSecret, Rule, derive_key, envelope_epoch, open};

use super::garage::Garage;
use super::{SECRET_B64, Site};

/// `gatehouse --root <site> deploy <args>` with `env` added.
pub fn deploy(site: &Site, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .arg("--root")
        .arg(site.root())
        .arg("deploy")
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("GATEHOUSE_SECRET", SECRET_B64);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run gatehouse deploy")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A successful deploy's stdout.
pub fn deploy_ok(site: &Site, args: &[&str], env: &[(&str, String)]) -> String {
    let output = deploy(site, args, env);
    assert!(
        output.status.success(),
        "gatehouse deploy {args:?} failed:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// The `N new, M replaced, K deleted` counts of a deploy's final line.
pub fn counts(stdout: &str) -> (usize, usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Deployed to") || l.starts_with("Nothing to deploy"))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
    if line.starts_with("Nothing") {
        return (0, 0, 0);
    }
    let number = |word: &str| -> usize {
        let at = line
            .find(word)
            .unwrap_or_else(|| panic!("`{word}` in {line}"));
        line[..at]
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a count before `{word}` in {line}"))
    };
    (number(" new"), number(" replaced"), number(" deleted"))
}

/// A deployed site, read back file by file.
pub trait Live {
    /// The bytes at a URL path (`/course/a/`, `/_gated/g/h.bin`), or `None` when missing.
    fn fetch(&self, path: &str) -> Option<Vec<u8>>;
}

pub struct LiveFolder(pub PathBuf);

impl Live for LiveFolder {
    fn fetch(&self, path: &str) -> Option<Vec<u8>> {
        let mut file = self.0.join(path.trim_start_matches('/'));
        if path.ends_with('/') {
            file.push("index.html");
        }
        std::fs::read(file).ok()
    }
}

/// A site deployed under `prefix` of Garage's bucket.
pub struct LiveBucket<'a> {
    pub garage: &'a Garage,
    pub prefix: &'a str,
}

impl Live for LiveBucket<'_> {
    fn fetch(&self, path: &str) -> Option<Vec<u8>> {
        let answer = self.garage.fetch(&format!("/{}{path}", self.prefix));
        (answer.status == 200).then_some(answer.body)
    }
}

/// The URL path of every page of a build (`/`, `/course/a/`).
pub fn pages(out: &Path) -> BTreeSet<String> {
    super::snapshot(out)
        .into_keys()
        .filter_map(|key| {
            if key == "index.html" {
                Some("/".to_owned())
            } else {
                key.strip_suffix("/index.html").map(|k| format!("/{k}/"))
            }
        })
        .collect()
}

/// The attribute `name` of the first element that has it.
pub fn attribute(html: &str, name: &str) -> Option<String> {
    let marker = format!("{name}=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}

/// What a reader of `path` gets: the page's HTML, and for a gated page its body, opened
/// with the key of the epoch its envelope carries. Panics with what is missing.
pub fn open_page(live: &dyn Live, path: &str) -> (String, Option<String>) {
    let html = live
        .fetch(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|| panic!("{path}: the page is missing"));
    let Some(src) = attribute(&html, "data-src") else {
        return (html, None);
    };
    let rule = Rule::parse(&attribute(&html, "data-rule").expect("data-rule")).expect("rule");
    let envelope = live
        .fetch(&src)
        .unwrap_or_else(|| panic!("{path}: its envelope {src} is missing"));
    let epoch = envelope_epoch(&envelope).expect("an envelope");
    let secret = MasterSecret::from_base64url(SECRET_B64).expect("secret");
    let key = derive_key(&secret, epoch, &rule);
    // The first slot may be a members block's (`<path>#<n>`) on a public page: it must open
    // too, but the page itself has no sealed body.
    let sealed_path = attribute(&html, "data-path").unwrap_or_else(|| path.to_owned());
    let body = open(&key, &rule.gate_id(), &sealed_path, &envelope)
        .unwrap_or_else(|_| panic!("{path}: its envelope {src} does not open"));
    if sealed_path != path {
        return (html, None);
    }
    (html, Some(String::from_utf8(body).expect("utf-8 body")))
}

/// Every page of the build in `out` opens from `live`, each exactly as built.
pub fn assert_live_matches(live: &dyn Live, out: &Path) {
    for path in pages(out) {
        let built =
            std::fs::read_to_string(out.join(path.trim_start_matches('/')).join("index.html"))
                .expect("built page");
        let (html, _) = open_page(live, &path);
        assert_eq!(html, built, "{path} is live as built");
    }
}

/// The key the fixture secret seals deploy manifests with.
pub fn manifest_key() -> ManifestKey {
    ManifestKey::derive(&MasterSecret::from_base64url(SECRET_B64).expect("secret"))
}

/// The deploy manifest a target holds, opened with the fixture secret.
pub fn deploy_manifest(live: &dyn Live) -> serde_json::Value {
    let bytes = live
        .fetch(&format!("/{STATE_KEY}"))
        .expect("a deploy manifest in the target");
    let plain = manifest_key()
        .open(STATE_KEY, &bytes)
        .expect("the deploy manifest opens with the fixture secret");
    serde_json::from_slice(&plain).expect("deploy manifest JSON")
}

/// `state` (a deploy manifest's JSON) sealed as a deploy stores it, with the fixture secret.
pub fn sealed_manifest(state: &serde_json::Value) -> Vec<u8> {
    let json = serde_json::to_vec(state).expect("JSON");
    manifest_key().seal(STATE_KEY, &json).expect("sealed")
}

/// Every name in `names` that occurs in `bytes`.
pub fn names_in<'a>(bytes: &[u8], names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    names
        .into_iter()
        .filter(|name| bytes.windows(name.len()).any(|w| w == name.as_bytes()))
        .collect()
}

/// A gated lesson whose page bundle holds a binary diagram of `size` bytes (which the build
/// seals into `_gated/files/`), referenced from its gated body.
pub fn add_gated_file(site: &Site, size: usize) {
    site.write(
        "content/course/lesson-x/index.md",
        "---\ntitle: \"Lesson X\"\nweight: 90\naccess:\n  level: gold\n---\n\n\
         The members' diagram:\n\n![d](diagram.png)\n",
    );
    let path = site.path("content/course/lesson-x/diagram.png");
    // Bytes that compress to nothing would be a poor stand-in for media.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut bytes = Vec::with_capacity(size);
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    std::fs::write(path, bytes).expect("diagram.png");
}

/// The sealed files (`_gated/files/<salt>.bin`) of the build in `out`.
pub fn sealed_files(out: &Path) -> Vec<String> {
    walkdir::WalkDir::new(out.join("_gated/files"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| format!("_gated/files/{}", e.file_name().to_string_lossy()))
        .collect()
}

/// Adds `count` gated lessons (and a public post per lesson) to the demo site, so a deploy
/// has hundreds of files: enough to be cut off half way.
pub fn add_lessons(site: &Site, count: usize, version: &str) {
    for n in 0..count {
        site.write(
            &format!("content/course/bulk-{n:03}.md"),
            &format!(
                "---\ntitle: \"Bulk lesson {n}\"\ndate: 2026-02-01\nweight: {}\nsummary: \"Teaser {n}.\"\n---\n\n{}\n",
                100 + n,
                format!("Lesson {n}, version {version}. ").repeat(40)
            ),
        );
        site.write(
            &format!("content/blog/bulk-{n:03}.md"),
            &format!(
                "---\ntitle: \"Bulk post {n}\"\ndate: 2026-02-01\n---\n\n{}\n",
                format!("Post {n}, version {version}. ").repeat(20)
            ),
        );
    }
}

/// Keys (paths) below `dir` with the inode of each file, to tell which files a folder deploy
/// rewrote: every write renames a new file into place.
pub fn inodes(dir: &Path) -> BTreeMap<String, u64> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let key = e
                .path()
                .strip_prefix(dir)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            (key, e.metadata().expect("metadata").ino())
        })
        .collect()
}

/// The demo site, built, with `table` (a `[deploy]` table) and `extra` settings added.
pub fn demo_deploying(table: &str, extra: &str) -> Site {
    let site = Site::demo();
    let toml = std::fs::read_to_string(site.path("site.toml")).expect("site.toml");
    site.write("site.toml", &format!("{toml}\n{table}{extra}"));
    site.build().expect("the demo site builds");
    site
}

/// The demo site deploying to the folder `live/` inside it.
pub fn demo_deploying_to_folder(extra: &str) -> Site {
    demo_deploying("[deploy]\ntarget = \"live\"\n", extra)
}

/// Appends a paragraph to a content file and rebuilds.
pub fn append_and_build(site: &Site, file: &str, words: &str) {
    let text = std::fs::read_to_string(site.path(file)).expect("content file");
    site.write(file, &format!("{text}\n{words}\n"));
    site.build().expect("the site builds");
}

/// The envelope (`/_gated/<gate>/<hash>.bin`) the build gave the page at `path`.
pub fn envelope_of(site: &Site, path: &str) -> String {
    super::manifest(&site.out())
        .pages
        .into_iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("{path} is not a gated page"))
        .src
}
