//! Atomic output: everything is written into a staging folder beside the target, which is
//! swapped in only when the whole build succeeded. A failed build leaves the old site alone.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where rendered files go: a staging folder, or nowhere (`gatehouse check`).
pub struct Output {
    staging: Option<PathBuf>,
    bytes: AtomicU64,
    files: AtomicU64,
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "refusing to replace {0}: it is not empty and does not look like a gatehouse build (no sitemap.xml); remove it or choose another --out"
    )]
    NotOurs(PathBuf),
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
        Output {
            staging: None,
            bytes: AtomicU64::new(0),
            files: AtomicU64::new(0),
        }
    }

    /// Prepares a staging folder for `target`, after checking that replacing it is safe.
    pub fn stage(root: &Path, target: &Path) -> Result<Output, OutputError> {
        let target = absolute(target);
        let root = absolute(root);
        if root.starts_with(&target) || target.starts_with(root.join("content")) {
            return Err(OutputError::Unsafe(target));
        }
        if target.is_dir() && !looks_like_build(&target) {
            return Err(OutputError::NotOurs(target));
        }
        let staging = sibling(&target, &format!("staging-{}", std::process::id()));
        remove_stale(&target);
        std::fs::create_dir_all(&staging).map_err(|source| OutputError::Write {
            path: staging.clone(),
            source,
        })?;
        Ok(Output {
            staging: Some(staging),
            bytes: AtomicU64::new(0),
            files: AtomicU64::new(0),
        })
    }

    pub fn is_discard(&self) -> bool {
        self.staging.is_none()
    }

    /// Writes `bytes` at `relative` (a `/`-separated path inside the site).
    pub fn write(&self, relative: &str, bytes: &[u8]) -> Result<(), OutputError> {
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.files.fetch_add(1, Ordering::Relaxed);
        let Some(staging) = &self.staging else {
            return Ok(());
        };
        let path = staging.join(relative.trim_start_matches('/'));
        let result = std::fs::write(&path, bytes).or_else(|error| {
            if error.kind() != std::io::ErrorKind::NotFound {
                return Err(error);
            }
            let parent = path.parent().expect("a file inside staging has a parent");
            std::fs::create_dir_all(parent)?;
            std::fs::write(&path, bytes)
        });
        result.map_err(|source| OutputError::Write { path, source })
    }

    /// Copies a file from the site into the output.
    pub fn copy(&self, source: &Path, relative: &str) -> Result<(), OutputError> {
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
    pub fn commit(mut self, target: &Path) -> Result<(), OutputError> {
        let Some(staging) = self.staging.take() else {
            return Ok(());
        };
        let target = absolute(target);
        let swap = |source| OutputError::Swap {
            path: target.clone(),
            source,
        };
        if target.exists() {
            let old = sibling(&target, &format!("old-{}", std::process::id()));
            std::fs::rename(&target, &old).map_err(swap)?;
            if let Err(error) = std::fs::rename(&staging, &target) {
                // Put the previous build back: the live folder must never be missing.
                let _ = std::fs::rename(&old, &target);
                return Err(swap(error));
            }
            remove_tree(&old);
        } else {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(swap)?;
            }
            std::fs::rename(&staging, &target).map_err(swap)?;
        }
        Ok(())
    }
}

impl Drop for Output {
    /// A build that did not commit leaves nothing behind.
    fn drop(&mut self) {
        if let Some(staging) = &self.staging {
            let _ = std::fs::remove_dir_all(staging);
        }
    }
}

/// Removes a large output tree, its top-level folders in parallel.
fn remove_tree(dir: &Path) {
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

fn looks_like_build(dir: &Path) -> bool {
    dir.join("sitemap.xml").is_file()
        || std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// Removes staging and old folders that a killed build left behind.
fn remove_stale(target: &Path) {
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if let Some(rest) = file_name.strip_prefix(&prefix) {
            let pid = rest
                .strip_prefix("staging-")
                .or_else(|| rest.strip_prefix("old-"));
            // A folder whose build is still running (another process) is not stale.
            if pid.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}
