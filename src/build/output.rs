//! Atomic output: everything is written into a staging folder beside the target, which is
//! swapped in only when the whole build succeeded. A failed build leaves the old site alone.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::files::FileTable;
use super::spare;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Written into every build, so that only a folder holding it (or an empty one) is ever
/// replaced: `--out` pointed at the wrong folder must not delete someone's files.
pub const BUILD_MARKER: &str = ".gatehouse-build";
const BUILD_MARKER_TEXT: &str =
    "Written by `gatehouse build`; this folder is replaced as a whole on every build.\n";

/// The previous build, kept for the next one to write over (`spare`).
const SPARE_DIR: &str = ".gatehouse/spare";

/// Where `gatehouse serve` renders: inside `.gatehouse/`, beside (never over) the secret.
pub const SERVE_DIR: &str = ".gatehouse/serve";

/// Site folders that a build must never replace or write into.
const PROTECTED: [&str; 5] = ["content", "static", "templates", "themes", ".gatehouse"];

/// Where rendered files go: a staging folder, or nowhere (`gatehouse check`).
pub struct Output {
    staging: Option<PathBuf>,
    /// Writing into a folder that is being served (`gatehouse serve`): each file is replaced
    /// by a rename, so a reader never sees half of it.
    live: bool,
    bytes: AtomicU64,
    files: AtomicU64,
    /// Every path written so far: two outputs at one path is an error, not a silent overwrite.
    written: Mutex<HashSet<String>>,
    /// Set once gated files are sealed: public outputs must not refer to them.
    guard: OnceLock<Arc<FileTable>>,
    /// A write into the staging folder failed: what is in the way may fail the next build
    /// too, so the folder is deleted rather than handed back as the spare.
    failed_write: AtomicBool,
    /// What the staging folder held when this build took it over from the previous build
    /// (`spare`): written over, and what this build does not write is removed before commit.
    before: Option<Vec<String>>,
    /// Where the build this one replaces is kept for the next (`spare`).
    spare: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "refusing to replace {0}: it is not empty and does not look like a gatehouse build (no {BUILD_MARKER} file); remove it or choose another --out"
    )]
    NotOurs(PathBuf),
    #[error(
        "refusing to replace {0}: it is a symbolic link, and a build replaces its folder as a whole; point --out at a real folder"
    )]
    Symlink(PathBuf),
    #[error(
        "two outputs would be written at /{0}: a static file or a content asset has the path of a generated file or page; rename one of them"
    )]
    Collision(String),
    #[error(
        "refusing to build into {0}: it would replace the site's own files; choose another --out"
    )]
    Unsafe(PathBuf),
    #[error("cannot move the new build into place at {path}: {source}")]
    Swap {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Output {
    /// Output that is rendered but never written.
    pub fn discard() -> Output {
        Output::new(None)
    }

    /// Output written straight into `dir`, file by file, replacing what is there.
    pub fn live(dir: &Path) -> Output {
        let mut output = Output::new(Some(dir.to_path_buf()));
        output.live = true;
        output
    }

    fn new(staging: Option<PathBuf>) -> Output {
        Output {
            staging,
            live: false,
            bytes: AtomicU64::new(0),
            files: AtomicU64::new(0),
            written: Mutex::new(HashSet::new()),
            guard: OnceLock::new(),
            failed_write: AtomicBool::new(false),
            before: None,
            spare: None,
        }
    }

    /// Prepares a staging folder for `target`, after checking that replacing it is safe.
    pub fn stage(root: &Path, target: &Path) -> Result<Output, OutputError> {
        let target = normalize(&absolute(target));
        let root = normalize(&absolute(root));
        check_target(&root, &target)?;
        restore_interrupted_swap(&target);
        remove_stale(&target);
        let staging = sibling(&target, &format!("staging-{}", std::process::id()));
        let io = |source| OutputError::Write {
            path: staging.clone(),
            source,
        };
        // A killed build that had our process id left this: never ship its leftovers.
        if staging.exists() {
            remove_tree(&staging);
        }
        let spare = root.join(SPARE_DIR);
        let before = spare::take(&spare, &staging);
        if before.is_some() {
            // Written anew rather than over a file that may be read-only.
            let _ = std::fs::remove_file(staging.join(BUILD_MARKER));
        } else {
            if let Some(parent) = staging.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::create_dir(&staging).map_err(io)?;
        }
        if let Err(error) = std::fs::write(staging.join(BUILD_MARKER), BUILD_MARKER_TEXT) {
            remove_tree(&staging);
            return Err(io(error));
        }
        let mut output = Output::new(Some(staging));
        output.before = before;
        output.spare = Some(spare);
        Ok(output)
    }

    pub fn is_discard(&self) -> bool {
        self.staging.is_none()
    }

    /// Checks every public page and feed written from now on for references to gated files.
    pub fn guard_with(&self, files: Arc<FileTable>) {
        let _ = self.guard.set(files);
    }

    /// Claims `relative` for one output of `len` bytes: two outputs at one path are an error.
    /// Returns where to write it, or `None` when output is discarded.
    fn claim(&self, relative: &str, len: u64) -> Result<Option<PathBuf>, OutputError> {
        let mut written = self
            .written
            .lock()
            .map_err(|_| OutputError::Collision(relative.to_owned()))?;
        // A file where another output needs a folder (`search.json` and an alias's
        // `search.json/index.html`) fails one of the writes; `check`, which writes nothing,
        // must fail too. Folders are held as `a/b/`, files without the slash.
        let folders: Vec<&str> = relative
            .match_indices('/')
            .map(|(at, _)| &relative[..at + 1])
            .collect();
        if let Some(file) = folders
            .iter()
            .map(|folder| folder.trim_end_matches('/'))
            .find(|file| written.contains(*file))
        {
            return Err(OutputError::Collision(file.to_owned()));
        }
        if written.contains(&format!("{relative}/")) {
            return Err(OutputError::Collision(relative.to_owned()));
        }
        let fresh = written.insert(relative.to_owned());
        if !fresh || relative == BUILD_MARKER {
            return Err(OutputError::Collision(relative.to_owned()));
        }
        for folder in folders {
            written.insert(folder.to_owned());
        }
        drop(written);
        self.bytes.fetch_add(len, Ordering::Relaxed);
        self.files.fetch_add(1, Ordering::Relaxed);
        Ok(self.staging.as_ref().map(|staging| staging.join(relative)))
    }

    /// Puts the file at `source` (a sealed object in the cache) at `relative` by a hard link,
    /// or a copy where links cannot be made: no byte of it is read or written when it links.
    pub fn link(&self, source: &Path, relative: &str) -> Result<(), OutputError> {
        self.noting_failure(self.link_staged(source, relative))
    }

    fn link_staged(&self, source: &Path, relative: &str) -> Result<(), OutputError> {
        let relative = relative.trim_start_matches('/');
        let len = std::fs::metadata(source).map(|m| m.len()).unwrap_or(0);
        let Some(path) = self.claim(relative, len)? else {
            return Ok(());
        };
        let io = |source| OutputError::Write {
            path: path.clone(),
            source,
        };
        if let (Some(_), Some(staging)) = (&self.before, &self.staging) {
            spare::clear_way(staging, relative).map_err(io)?;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        if self.live || self.before.is_some() {
            let _ = std::fs::remove_file(&path);
        }
        std::fs::hard_link(source, &path)
            .or_else(|_| std::fs::copy(source, &path).map(|_| ()))
            .map_err(io)
    }

    /// Writes `bytes` at `relative` (a `/`-separated path inside the site).
    pub fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), OutputError> {
        self.noting_failure(self.write_staged(relative, bytes))
    }

    /// Remembers a failed write for `Drop`.
    fn noting_failure(&self, result: Result<(), OutputError>) -> Result<(), OutputError> {
        if let Err(OutputError::Write { .. }) = &result {
            self.failed_write.store(true, Ordering::Relaxed);
        }
        result
    }

    fn write_staged(&self, relative: &str, bytes: &[u8]) -> Result<(), OutputError> {
        let relative = relative.trim_start_matches('/');
        if let Some(guard) = self.guard.get() {
            guard.inspect_public(relative, bytes);
        }
        let Some(path) = self.claim(relative, bytes.len() as u64)? else {
            return Ok(());
        };
        if self.live {
            return write_by_rename(&path, bytes)
                .map_err(|source| OutputError::Write { path, source });
        }
        let result = overwrite(&path, bytes).or_else(|error| {
            match (error.kind(), &self.before, &self.staging) {
                (std::io::ErrorKind::NotFound, _, _) => {}
                // Over the previous build: a file or folder of it may be in the way, or a
                // file of it may be read-only.
                (_, Some(_), Some(staging)) => {
                    spare::clear_way(staging, relative)?;
                    let _ = std::fs::remove_file(&path);
                }
                _ => return Err(error),
            }
            let parent = path.parent().expect("a file inside staging has a parent");
            std::fs::create_dir_all(parent)?;
            overwrite(&path, bytes)
        });
        result.map_err(|source| OutputError::Write { path, source })
    }

    /// Copies a file from the site into the output.
    pub fn copy(&self, source: &Path, relative: &str) -> Result<(), OutputError> {
        if self.is_discard() {
            // `check` still learns about collisions without reading the file, except a page
            // or feed, which must not refer to a gated file.
            let inspected = relative.ends_with(".html") || relative.ends_with(".xml");
            if let (Some(guard), true) = (self.guard.get(), inspected)
                && let Ok(bytes) = std::fs::read(source)
            {
                guard.inspect_public(relative.trim_start_matches('/'), &bytes);
            }
            return self.write(relative, &[]);
        }
        let bytes = std::fs::read(source).map_err(|error| OutputError::Write {
            path: source.to_path_buf(),
            source: error,
        })?;
        self.write(relative, &bytes)
    }

    pub fn totals(&self) -> (u64, u64) {
        (
            self.files.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    /// Moves the staging folder to `target`, replacing what was there.
    /// A commit that fails leaves the staging folder to `Drop`, like any failed build.
    pub fn commit(mut self, target: &Path) -> Result<(), OutputError> {
        let Some(staging) = self.staging.clone() else {
            return Ok(());
        };
        let target = absolute(target);
        let swap = |source| OutputError::Swap {
            path: target.clone(),
            source,
        };
        if let Some(before) = &self.before {
            let written = self
                .written
                .lock()
                .map_err(|_| swap(std::io::Error::other("a writer panicked")))?;
            // Fail closed: a file of an earlier build that this one did not write must not
            // go live (a page since gated, a file since removed).
            let removed = spare::remove_leftovers(&staging, before, &written).map_err(|source| {
                OutputError::Write {
                    path: staging.clone(),
                    source,
                }
            });
            drop(written);
            self.noting_failure(removed)?;
        }
        if target.symlink_metadata().is_ok() {
            let old = sibling(&target, &format!("old-{}", std::process::id()));
            std::fs::rename(&target, &old).map_err(swap)?;
            if let Err(error) = std::fs::rename(&staging, &target) {
                // Put the previous build back: the live folder must never be missing.
                let _ = std::fs::rename(&old, &target);
                return Err(swap(error));
            }
            self.staging = None;
            match &self.spare {
                Some(spare) => spare::keep(&old, spare),
                None => remove_tree(&old),
            }
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(swap)?;
            }
            std::fs::rename(&staging, &target).map_err(swap)?;
            self.staging = None;
        }
        Ok(())
    }
}

/// Writes `bytes` as the whole of the file at `path`, over what a file of the previous build
/// held there (the spare) rather than truncating it first: the file system keeps the pages it
/// has and fills them, where a truncation freed every page only for the write to allocate them
/// again (4.5% of a 10k-page build's CPU went to truncating). The length is set after.
fn overwrite(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    file.write_all(bytes)?;
    file.set_len(bytes.len() as u64)
}

fn write_by_rename(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

impl Drop for Output {
    /// A build that did not commit leaves nothing behind in the site's folder: its staging
    /// folder goes back to be the next build's spare (one rename, where deleting a large site
    /// took longer than building it), or is deleted when a write into it failed (what was in
    /// the way could fail the next build too). Nothing in it can go live unchecked: the next
    /// build writes over what it writes, removes the rest, and checks the spare it takes.
    fn drop(&mut self) {
        if self.live {
            return;
        }
        let Some(staging) = &self.staging else {
            return;
        };
        match &self.spare {
            Some(spare) if !self.failed_write.load(Ordering::Relaxed) => {
                spare::keep(staging, spare)
            }
            _ => remove_tree(staging),
        }
    }
}

/// Removes a large output tree, its top-level folders in parallel.
pub(super) fn remove_tree(dir: &Path) {
    use rayon::prelude::*;
    if let Ok(entries) = std::fs::read_dir(dir) {
        let paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.par_iter().for_each(|path| {
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
        });
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// `path` made absolute with `.` and `..` resolved, for comparing folders.
pub fn resolved(path: &Path) -> PathBuf {
    normalize(&absolute(path))
}

/// Whether writing into `folder` (resolved) would touch the site's own files: the site folder
/// or one above it, or one of its source folders (or `.gatehouse/`, the master secret).
pub fn holds_site_files(root: &Path, folder: &Path) -> bool {
    let root = resolved(root);
    root.starts_with(folder)
        || PROTECTED
            .iter()
            .any(|protected| folder.starts_with(root.join(protected)))
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn sibling(target: &Path, suffix: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "public".to_owned());
    target.with_file_name(format!(".{name}.{suffix}"))
}

/// Resolves `.` and `..` without touching the file system, so `--out x/../content` is seen
/// for what it is.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn check_target(root: &Path, target: &Path) -> Result<(), OutputError> {
    let dev_output = target.starts_with(root.join(SERVE_DIR));
    if root.starts_with(target)
        || (!dev_output
            && PROTECTED
                .iter()
                .any(|folder| target.starts_with(root.join(folder))))
    {
        return Err(OutputError::Unsafe(target.to_path_buf()));
    }
    let Ok(meta) = target.symlink_metadata() else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        return Err(OutputError::Symlink(target.to_path_buf()));
    }
    if !meta.is_dir() || !looks_like_build(target) {
        return Err(OutputError::NotOurs(target.to_path_buf()));
    }
    Ok(())
}

fn looks_like_build(dir: &Path) -> bool {
    dir.join(BUILD_MARKER).is_file()
        || std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// A build killed between the two renames of `commit` leaves no `target` but an `old-*`
/// folder: that is the live site, so it goes back before anything else happens — even
/// before a build that then fails.
pub fn restore_interrupted_swap(target: &Path) {
    let target = normalize(&absolute(target));
    let target = target.as_path();
    if target.symlink_metadata().is_ok() {
        return;
    }
    let mut olds = stale_siblings(target, "old-");
    olds.sort_by_key(|path| {
        path.metadata()
            .and_then(|m| m.modified())
            .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
    });
    if let Some(newest) = olds.pop() {
        let _ = std::fs::rename(newest, target);
    }
}

/// `.<name>.<kind><pid>` folders beside `target` whose build is no longer running.
fn stale_siblings(target: &Path, kind: &str) -> Vec<PathBuf> {
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return Vec::new();
    };
    let prefix = format!(".{}.{kind}", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            // A folder whose build is still running (another process) is not stale.
            file_name
                .strip_prefix(&prefix)
                .is_some_and(|pid| !Path::new("/proc").join(pid).exists())
        })
        .map(|entry| entry.path())
        .collect()
}

/// Removes staging and old folders that a killed build left behind.
fn remove_stale(target: &Path) {
    for kind in ["staging-", "old-"] {
        for path in stale_siblings(target, kind) {
            remove_tree(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A site folder with a spare, and the staged output that took it over.
    fn staged_over_a_spare() -> (tempfile::TempDir, PathBuf, Output) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path().join("site");
        let spare = root.join(SPARE_DIR);
        std::fs::create_dir_all(spare.join("old")).unwrap();
        std::fs::write(spare.join("old/index.html"), "an earlier build").unwrap();
        let target = root.join("public");
        let output = Output::stage(&root, &target).expect("staged");
        assert!(output.before.is_some(), "the spare was taken");
        (dir, root, output)
    }

    fn staging_folders(root: &Path) -> Vec<String> {
        std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains("staging"))
            .collect()
    }

    #[test]
    fn a_build_that_fails_elsewhere_hands_its_folder_back_as_the_spare() {
        let (_dir, root, output) = staged_over_a_spare();
        output.write("page/index.html", b"new").unwrap();
        drop(output);
        assert!(root.join(SPARE_DIR).join("page/index.html").is_file());
        assert!(staging_folders(&root).is_empty());
    }

    #[test]
    fn a_build_whose_write_failed_deletes_its_folder() {
        // What was in the way of that write could fail the next build too.
        let (_dir, root, output) = staged_over_a_spare();
        let too_long = format!("{}/index.html", "n".repeat(300));
        assert!(output.write(&too_long, b"x").is_err());
        drop(output);
        assert!(
            !root.join(SPARE_DIR).exists(),
            "handed back after a failed write"
        );
        assert!(staging_folders(&root).is_empty());
    }

    #[test]
    fn a_failed_commit_leaves_no_staging_folder_beside_the_target() {
        let (dir, root, output) = staged_over_a_spare();
        output.write("page/index.html", b"new").unwrap();
        // The target's folder cannot be made: a file is where it goes.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, "a file").unwrap();
        assert!(output.commit(&blocked.join("public")).is_err());
        assert!(
            staging_folders(&root).is_empty(),
            "{:?}",
            staging_folders(&root)
        );
        assert!(root.join(SPARE_DIR).join("page/index.html").is_file());
    }
}
