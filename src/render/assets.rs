//! Fingerprinted theme assets: `gate.js` is published as `gate.<hash>.js` too, and templates
//! link it with `{{ asset(path="gate.js") }}`, so CDNs may cache every asset for a year and a
//! changed file is fetched at once under its new name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ring::digest;

use crate::gate::to_hex;

/// Kept at its own name: a service worker's URL must not change between builds, or browsers
/// would run two of them.
pub const SERVICE_WORKER: &str = "gatehouse-sw.js";

/// Static files by their path in the site (`gate.js`), with their fingerprinted names.
#[derive(Debug, Clone, Default)]
pub struct Fingerprints {
    names: BTreeMap<String, String>,
}

impl Fingerprints {
    /// Hashes every `.js` and `.css` file of `static_dirs` (later folders win, as when they
    /// are copied).
    pub fn of(static_dirs: &[PathBuf]) -> Fingerprints {
        let mut sources: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in static_dirs.iter().filter(|dir| dir.is_dir()) {
            for entry in walkdir::WalkDir::new(dir)
                .into_iter()
                .filter_map(Result::ok)
            {
                let relative = entry.path().strip_prefix(dir).unwrap_or(entry.path());
                let relative = relative.to_string_lossy().replace('\\', "/");
                if entry.file_type().is_file() && is_fingerprinted(&relative) {
                    sources.insert(relative, entry.path().to_path_buf());
                }
            }
        }
        let names = sources
            .into_iter()
            .filter_map(|(relative, path)| {
                let bytes = std::fs::read(&path).ok()?;
                let name = fingerprinted_name(&relative, &bytes);
                Some((relative, name))
            })
            .collect();
        Fingerprints { names }
    }

    /// `gate.js` → `gate.3f9a1c2b4d.js`, or `None` for a file that is not fingerprinted.
    pub fn name_of(&self, relative: &str) -> Option<&str> {
        self.names.get(relative).map(String::as_str)
    }

    pub fn known(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }
}

fn is_fingerprinted(relative: &str) -> bool {
    let name = Path::new(relative)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name != SERVICE_WORKER && (name.ends_with(".js") || name.ends_with(".css"))
}

/// `dir/name.<first 10 hex of SHA-256>.ext`
fn fingerprinted_name(relative: &str, bytes: &[u8]) -> String {
    let hash = to_hex(digest::digest(&digest::SHA256, bytes).as_ref());
    match relative.rsplit_once('.') {
        Some((stem, extension)) => format!("{stem}.{}.{extension}", &hash[..10]),
        None => format!("{relative}.{}", &hash[..10]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_hash_before_the_extension() {
        let a = fingerprinted_name("js/gate.js", b"one");
        let b = fingerprinted_name("js/gate.js", b"two");
        assert!(a.starts_with("js/gate.") && a.ends_with(".js"), "{a}");
        assert_ne!(a, b);
        assert!(!is_fingerprinted("gatehouse-sw.js"));
        assert!(!is_fingerprinted("favicon.svg"));
        assert!(is_fingerprinted("style.css"));
    }
}
