//! The cache of sealed files in `.gatehouse/files/`: each gated file's object, and an index
//! from its path in `content/` to the size, times, inode and media type it was sealed with.
//! The change time and inode are in it because tools that copy files (`cp -p`, `rsync -t`,
//! `tar`) keep the modification time, but never the change time or the inode. A rebuild whose media did not change reads no media bytes and writes none: the objects
//! are hard-linked into the output.
//!
//! The cache holds only ciphertext. Its index is bound to the files root's fingerprint, so a
//! new master secret seals everything again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

use crate::gate::file::FileSalt;

pub const CACHE_DIR: &str = ".gatehouse/files";
/// Where `gatehouse serve` caches files sealed with its development secret, apart from the
/// site's own cache so that neither run throws the other's away.
pub const DEV_CACHE_DIR: &str = ".gatehouse/dev/files";
const INDEX: &str = "index.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub size: u64,
    /// Nanoseconds since 1970 (u64 lasts until 2554; serde's `flatten` cannot carry a u128).
    pub mtime_ns: u64,
    pub ctime_ns: u64,
    pub inode: u64,
    pub device: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub stamp: Stamp,
    #[serde(rename = "type")]
    pub media_type: String,
    /// 32 hex digits: the object is `<salt>.bin`.
    pub salt: String,
}

#[derive(Default, Serialize, Deserialize)]
struct Index {
    root: String,
    files: BTreeMap<String, Entry>,
}

pub struct FileCache {
    dir: PathBuf,
    root: String,
    files: BTreeMap<String, Entry>,
}

impl Stamp {
    pub fn of(path: &Path) -> std::io::Result<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)?;
        let mtime_ns = meta
            .modified()?
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let ctime_ns = u64::try_from(meta.ctime())
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::try_from(meta.ctime_nsec()).unwrap_or(0));
        Ok(Stamp {
            size: meta.len(),
            mtime_ns,
            ctime_ns,
            inode: meta.ino(),
            device: meta.dev(),
        })
    }
}

impl FileCache {
    /// Opens the cache in `dir` (the site's `CACHE_DIR`, or `DEV_CACHE_DIR` for `serve`'s
    /// development secret) for the files root `fingerprint`; a missing, unreadable or foreign
    /// index is an empty cache.
    pub fn open(dir: &Path, fingerprint: &str) -> std::io::Result<FileCache> {
        let dir = dir.to_path_buf();
        std::fs::create_dir_all(&dir)?;
        let index: Index = std::fs::read(dir.join(INDEX))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let files = if index.root == fingerprint {
            index.files
        } else {
            BTreeMap::new()
        };
        Ok(FileCache {
            dir,
            root: fingerprint.to_owned(),
            files,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn object(&self, salt_hex: &str) -> PathBuf {
        self.dir.join(format!("{salt_hex}.bin"))
    }

    /// The entry for `content_path` if the file still has that stamp and media type and its
    /// object is still there, whole.
    pub fn hit(
        &self,
        content_path: &str,
        stamp: &Stamp,
        media_type: &str,
        object_len: u64,
    ) -> Option<&Entry> {
        let entry = self.files.get(content_path)?;
        // The index is ours, but a hand-edited one must not steer a path outside the cache.
        FileSalt::from_hex(&entry.salt)?;
        let whole =
            std::fs::metadata(self.object(&entry.salt)).is_ok_and(|meta| meta.len() == object_len);
        (entry.stamp == *stamp && entry.media_type == media_type && whole).then_some(entry)
    }

    /// Replaces the index with `entries` (this build's files) and removes the objects no entry
    /// names any more. Written by rename, so a crash leaves the old index or the new one.
    pub fn save(&mut self, entries: BTreeMap<String, Entry>) -> std::io::Result<()> {
        self.files = entries;
        let index = Index {
            root: self.root.clone(),
            files: self.files.clone(),
        };
        let text = serde_json::to_vec_pretty(&index).map_err(std::io::Error::other)?;
        let temporary = self
            .dir
            .join(format!("{INDEX}.{}.0.tmp", std::process::id()));
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, self.dir.join(INDEX))?;
        let keep: std::collections::HashSet<String> = self
            .files
            .values()
            .map(|entry| format!("{}.bin", entry.salt))
            .collect();
        for found in std::fs::read_dir(&self.dir)?.filter_map(Result::ok) {
            let name = found.file_name().to_string_lossy().into_owned();
            let stale_object = name.ends_with(".bin") && !keep.contains(&name);
            // `<name>.<pid>.<n>.tmp`: left by a build that was killed, unless it still runs
            // (without /proc to tell, left alone).
            let parts: Vec<&str> = name.split('.').collect();
            let stale_temporary = name.ends_with(".tmp")
                && Path::new("/proc/self").exists()
                && parts.len() >= 4
                && !Path::new("/proc").join(parts[parts.len() - 3]).exists();
            if stale_object || stale_temporary {
                let _ = std::fs::remove_file(found.path());
            }
        }
        Ok(())
    }
}
