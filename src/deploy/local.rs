//! The built site as a deploy sees it: every file below `public/` with its hash and headers.

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::DeployError;
use super::headers::{Headers, headers_for};
use super::state::is_reserved;
use crate::build::BUILD_MARKER;
use crate::config::HeaderRule;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// The path below the site root, `/`-separated (`course/a/index.html`).
    pub key: String,
    pub path: PathBuf,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub size: u64,
    pub headers: Headers,
}

/// Every file of the build in `dir`, hashed in parallel, sorted by key. Refuses a folder that
/// is not a gatehouse build, so a wrong `--from` cannot replace a live site with something else.
pub fn scan(dir: &Path, rules: &[HeaderRule]) -> Result<Vec<LocalFile>, DeployError> {
    if !dir.join(BUILD_MARKER).is_file() {
        return Err(DeployError::NotABuild(dir.to_path_buf()));
    }
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| DeployError::Read {
            path: e.path().unwrap_or(dir).to_path_buf(),
            cause: e.into(),
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let path = entry.path().to_path_buf();
        let relative = path.strip_prefix(dir).unwrap_or(&path);
        let key = relative
            .to_str()
            .map(|k| k.replace(std::path::MAIN_SEPARATOR, "/"))
            .filter(|key| super::is_safe_key(key))
            .ok_or_else(|| DeployError::BadName(path.clone()))?;
        if is_reserved(&key) {
            continue;
        }
        if !entry.file_type().is_file() {
            return Err(DeployError::NotAFile(path));
        }
        paths.push((key, path));
    }
    paths
        .into_par_iter()
        .map(|(key, path)| {
            let (sha256, size) = hash_file(&path).map_err(|cause| DeployError::Read {
                path: path.clone(),
                cause,
            })?;
            Ok(LocalFile {
                sha256,
                size,
                headers: headers_for(&key, rules),
                key,
                path,
            })
        })
        .collect()
}

/// The SHA-256 (lowercase hex) and length of the file at `path`, read a buffer at a time: a
/// sealed video may be gigabytes, and files are hashed in parallel.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        digest.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((crate::gate::to_hex(digest.finish().as_ref()), size))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    crate::gate::to_hex(digest.as_ref())
}

/// Refuses a build sealed with another keys epoch than site.toml's (rotated, not rebuilt): it
/// would go live with keys the edge stops handing out once the grace window ends.
pub fn check_epoch(dir: &Path, local: &[LocalFile], configured: u32) -> Result<(), DeployError> {
    let Some(manifest) = local.iter().find(|f| f.key == "_gated/manifest.json") else {
        return Ok(());
    };
    let bytes = std::fs::read(&manifest.path).map_err(|cause| DeployError::Read {
        path: manifest.path.clone(),
        cause,
    })?;
    let built = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|m| m.get("epoch").and_then(serde_json::Value::as_u64));
    match built {
        Some(built) if built != u64::from(configured) => Err(DeployError::StaleEpoch {
            dir: dir.to_path_buf(),
            built,
            configured,
        }),
        _ => Ok(()),
    }
}
