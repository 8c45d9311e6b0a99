//! A folder target (`file:///var/www/site`): the site is copied into a folder that a web
//! server serves. Each file is written beside its final name and renamed into place, so a
//! reader never sees half of one. A folder has no headers; its web server sets them.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::headers::Headers;
use super::target::{Target, TargetError};

pub struct DirTarget {
    root: PathBuf,
}

impl DirTarget {
    pub fn new(root: PathBuf) -> DirTarget {
        DirTarget { root }
    }

    fn path(&self, key: &str) -> PathBuf {
        // Keys are checked by `is_safe_key` where they enter (the build, the manifest).
        self.root.join(key)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TargetError + '_ {
    move |source| TargetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The suffix of a file being copied in. A deploy killed mid-write leaves one; the next
/// deploy writes or deletes that key again, and takes it away.
const PARTIAL: &str = ".gatehouse-partial";

fn partial_of(path: &Path) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(PARTIAL);
    PathBuf::from(partial)
}

impl Target for DirTarget {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError> {
        let path = self.path(key);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    async fn list(&self) -> Result<Vec<String>, TargetError> {
        if !self.root.exists() {
            return Ok(Vec::new());
        }
        let mut keys = Vec::new();
        for entry in walkdir::WalkDir::new(&self.root) {
            let entry = entry.map_err(|e| TargetError::Io {
                path: e.path().unwrap_or(&self.root).to_path_buf(),
                source: e.into(),
            })?;
            if entry.file_type().is_dir() {
                continue;
            }
            let relative = entry
                .path()
                .strip_prefix(&self.root)
                .unwrap_or(entry.path());
            if let Some(key) = relative.to_str() {
                keys.push(key.replace(std::path::MAIN_SEPARATOR, "/"));
            }
        }
        Ok(keys)
    }

    async fn put(&self, key: &str, body: Vec<u8>, _headers: &Headers) -> Result<(), TargetError> {
        let path = self.path(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let partial = partial_of(&path);
        std::fs::write(&partial, &body).map_err(io(&partial))?;
        std::fs::rename(&partial, &path).map_err(io(&path))
    }

    async fn delete(&self, key: &str) -> Result<(), TargetError> {
        let path = self.path(key);
        let _ = std::fs::remove_file(partial_of(&path));
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(&path)(e)),
        }
        // Folders left empty go too, so a removed section leaves no trace; a folder that
        // still holds something is kept.
        let mut folder = path.parent();
        while let Some(dir) = folder {
            if dir == self.root || std::fs::remove_dir(dir).is_err() {
                break;
            }
            folder = dir.parent();
        }
        Ok(())
    }
}
