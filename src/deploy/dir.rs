//! A folder target (`file:///var/www/site`): the site is copied into a folder that a web
//! server serves. Each file is written beside its final name and renamed into place, so a
//! reader never sees half of one. A folder has no headers; its web server sets them.
//!
//! Nothing is written or deleted through a symbolic link inside the folder: a web root often
//! links shared folders (`media -> /srv/media`), and a deploy must not reach into them.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::headers::Headers;
use super::target::{Source, Target, TargetError};

pub struct DirTarget {
    root: Arc<PathBuf>,
}

/// The suffix of a file being copied in. A deploy killed mid-write leaves one; the next
/// deploy writes or deletes that key again, and takes it away.
const PARTIAL: &str = ".gatehouse-partial";

impl DirTarget {
    pub fn new(root: PathBuf) -> DirTarget {
        DirTarget {
            root: Arc::new(root),
        }
    }

    /// Runs file work off the async threads, so one slow disk write does not stall the rest.
    async fn blocking<R: Send + 'static>(
        &self,
        key: &str,
        work: impl FnOnce(&Path, &str) -> Result<R, TargetError> + Send + 'static,
    ) -> Result<R, TargetError> {
        let root = Arc::clone(&self.root);
        let key = key.to_owned();
        tokio::task::spawn_blocking(move || work(&root, &key))
            .await
            .map_err(|e| io(&self.root)(std::io::Error::other(e.to_string())))?
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TargetError + '_ {
    move |cause| TargetError::Io {
        path: path.to_path_buf(),
        cause,
    }
}

fn partial_of(path: &Path) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(PARTIAL);
    PathBuf::from(partial)
}

/// The path of `key` below `root`, refusing one whose folders below `root` include a
/// symbolic link. Keys are checked by `is_safe_key` where they enter (build, manifest).
fn path_of(root: &Path, key: &str) -> Result<PathBuf, TargetError> {
    let path = root.join(key);
    let mut folder = root.to_path_buf();
    let parts: Vec<&str> = key.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        folder.push(part);
        match folder.symlink_metadata() {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(io(&folder)(std::io::Error::other(
                    "is a symbolic link, and a deploy does not write or delete through links",
                )));
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(path)
}

/// Writes `key` with what `fill` writes into the file beside it, then renames it into place.
fn put_with(
    root: &Path,
    key: &str,
    fill: impl FnOnce(&Path, std::fs::File) -> Result<(), TargetError>,
) -> Result<(), TargetError> {
    let path = path_of(root, key)?;
    // A file where the new build has a folder (`docs` became `docs/index.html`) goes first:
    // the plan deletes it anyway, and the folder cannot be made while it is there.
    let mut folder = root.to_path_buf();
    let parts: Vec<&str> = key.split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        folder.push(part);
        if folder.symlink_metadata().is_ok_and(|m| m.is_file()) {
            std::fs::remove_file(&folder).map_err(io(&folder))?;
        }
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Err(io(&path)(std::io::Error::other(
            "is a folder, and the new build has a file here: move the folder away, then deploy again",
        )));
    }
    let partial = partial_of(&path);
    let file = std::fs::File::create(&partial).map_err(io(&partial))?;
    if let Err(error) = fill(&partial, file) {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, &path).map_err(io(&path))
}

fn put_bytes(root: &Path, key: &str, body: &[u8]) -> Result<(), TargetError> {
    put_with(root, key, |partial, mut file| {
        file.write_all(body).map_err(io(partial))
    })
}

/// Copies the build's file in a buffer at a time (a sealed video may be gigabytes), hashing
/// what it copies: bytes other than the planned ones are never renamed into place.
fn copy_file(root: &Path, key: &str, from: &Path, sha256: &str) -> Result<(), TargetError> {
    put_with(root, key, |partial, file| {
        let mut reader = std::fs::File::open(from).map_err(io(from))?;
        let mut writer = Hashing {
            inner: std::io::BufWriter::with_capacity(256 * 1024, file),
            digest: ring::digest::Context::new(&ring::digest::SHA256),
        };
        std::io::copy(&mut reader, &mut writer).map_err(io(partial))?;
        writer.inner.flush().map_err(io(partial))?;
        if crate::gate::to_hex(writer.digest.finish().as_ref()) != sha256 {
            return Err(TargetError::changed(from));
        }
        Ok(())
    })
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    digest: ring::digest::Context,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.digest.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn delete_file(root: &Path, key: &str) -> Result<(), TargetError> {
    let path = path_of(root, key)?;
    let _ = std::fs::remove_file(partial_of(&path));
    // A folder where the file was means the file is gone already: the new build put a folder
    // of that name there (`handouts` became `handouts/week-1.txt`).
    if path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(&path)(e)),
    }
    // Folders left empty go too, so a removed section leaves no trace; a folder that still
    // holds something is kept. None of them is a link: `path_of` checked.
    let mut folder = path.parent();
    while let Some(dir) = folder {
        if dir == root || std::fs::remove_dir(dir).is_err() {
            break;
        }
        folder = dir.parent();
    }
    Ok(())
}

fn list_files(root: &Path) -> Result<Vec<String>, TargetError> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.map_err(|e| TargetError::Io {
            path: e.path().unwrap_or(root).to_path_buf(),
            cause: e.into(),
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        if let Some(key) = relative.to_str() {
            let key = key.replace(std::path::MAIN_SEPARATOR, "/");
            if super::is_safe_key(&key) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

impl Target for DirTarget {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError> {
        self.blocking(key, |root, key| {
            let path = path_of(root, key)?;
            match std::fs::read(&path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io(&path)(e)),
            }
        })
        .await
    }

    async fn list(&self) -> Result<Vec<String>, TargetError> {
        self.blocking("", |root, _| list_files(root)).await
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        _sha256: Option<&str>,
        _headers: &Headers,
    ) -> Result<(), TargetError> {
        self.blocking(key, move |root, key| put_bytes(root, key, &body))
            .await
    }

    async fn put_file(
        &self,
        key: &str,
        source: &Source<'_>,
        _headers: &Headers,
        _stop: &AtomicBool,
    ) -> Result<(), TargetError> {
        let from = source.path.to_path_buf();
        let sha256 = source.sha256.to_owned();
        self.blocking(key, move |root, key| copy_file(root, key, &from, &sha256))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), TargetError> {
        self.blocking(key, delete_file).await
    }
}
