//! The highlight cache, `.gatehouse/highlight.cache`: the HTML of each fenced block the last
//! build highlighted, by a digest of its theme, language and code, so that a rebuild
//! highlights only the blocks that changed (highlighting is most of a build with much code).
//!
//! It holds code from gated pages in plaintext, as the sources do: it is written with mode
//! 0600 beside the secret, never into the output. A missing, truncated, corrupt or foreign
//! file is an empty cache; the next save replaces it. Lookups from the parsing threads read
//! the loaded map without a lock; only blocks missing from it take one.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ring::digest::{Context, SHA256, SHA256_OUTPUT_LEN};

use super::highlight_file;

const CACHE_FILE: &str = ".gatehouse/highlight.cache";

/// A larger file is not read: it is not one a site's code makes (a 10,000-page site with
/// 17,000 blocks makes 21 MB).
const MAX_FILE: u64 = 1 << 30;

/// SHA-256 of the theme, language and code.
pub type Key = [u8; SHA256_OUTPUT_LEN];

pub struct HighlightCache {
    path: PathBuf,
    /// From the file; read-only while pages are parsed, apart from the flags.
    loaded: HashMap<Key, Loaded>,
    /// Blocks highlighted since the cache was opened.
    fresh: Mutex<HashMap<Key, String>>,
    /// The file was read whole and valid (else it is rewritten even when nothing changed).
    intact: bool,
    hits: AtomicUsize,
    highlighted: AtomicUsize,
}

struct Loaded {
    html: String,
    /// Looked up since the cache was opened: only used entries are saved again. Relaxed
    /// ordering is enough: `save` reads the flags after the parsing threads have joined.
    used: AtomicBool,
}

/// The cache key of a block.
pub fn key(theme: &str, lang: &str, code: &str) -> Key {
    let mut context = Context::new(&SHA256);
    // Lengths first, so that no two (theme, language) pairs run together alike.
    for part in [theme, lang] {
        context.update(&(part.len() as u64).to_le_bytes());
        context.update(part.as_bytes());
    }
    context.update(code.as_bytes());
    context
        .finish()
        .as_ref()
        .try_into()
        .expect("a SHA-256 digest is 32 bytes")
}

impl HighlightCache {
    /// The cache of the site at `root`; empty when its file is missing or cannot be trusted.
    pub fn open(root: &Path) -> HighlightCache {
        let path = root.join(CACHE_FILE);
        let parsed = read_regular(&path).and_then(|bytes| highlight_file::parse(&bytes));
        let intact = parsed.is_some();
        let loaded = parsed
            .unwrap_or_default()
            .into_iter()
            .map(|(key, html)| {
                let used = AtomicBool::new(false);
                (key, Loaded { html, used })
            })
            .collect();
        HighlightCache {
            path,
            loaded,
            fresh: Mutex::default(),
            intact,
            hits: AtomicUsize::new(0),
            highlighted: AtomicUsize::new(0),
        }
    }

    /// The HTML cached for `key` if `accept` takes it, marking it used. An entry refused is
    /// neither counted nor kept: the block highlighted again replaces it.
    pub fn get(&self, key: &Key, accept: impl FnOnce(&str) -> bool) -> Option<String> {
        let html = match self.loaded.get(key) {
            Some(entry) => {
                if !accept(&entry.html) {
                    return None;
                }
                // A load before the store keeps the flag's cache line shared once it is set.
                if !entry.used.load(Ordering::Relaxed) {
                    entry.used.store(true, Ordering::Relaxed);
                }
                entry.html.clone()
            }
            None => self.lock_fresh().get(key)?.clone(),
        };
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(html)
    }

    /// Adds a block highlighted now.
    pub fn insert(&self, key: Key, html: &str) {
        self.highlighted.fetch_add(1, Ordering::Relaxed);
        self.lock_fresh().insert(key, html.to_owned());
    }

    /// Blocks taken from the cache and blocks highlighted, since it was opened.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.hits.load(Ordering::Relaxed),
            self.highlighted.load(Ordering::Relaxed),
        )
    }

    /// Writes the entries used since the cache was opened, and only those, so that it never
    /// outgrows the site; does nothing when the file already holds exactly them. Written to a
    /// temporary file and renamed, so a crash leaves the old file or the new one.
    pub fn save(&self) -> std::io::Result<()> {
        let fresh = self.lock_fresh();
        let mut entries: BTreeMap<&Key, &str> = self
            .loaded
            .iter()
            .filter(|(_, entry)| entry.used.load(Ordering::Relaxed))
            .map(|(key, entry)| (key, entry.html.as_str()))
            .collect();
        if self.intact && fresh.is_empty() && entries.len() == self.loaded.len() {
            return Ok(());
        }
        entries.extend(fresh.iter().map(|(key, html)| (key, html.as_str())));
        let dir = self.path.parent().expect("the cache file is in a folder");
        crate::secret::make_ignored_dir(dir)?;
        let temporary = self
            .path
            .with_extension(format!("cache.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&temporary);
        let written = write_private(&temporary, &highlight_file::serialize(&entries))
            .and_then(|()| std::fs::rename(&temporary, &self.path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written
    }

    fn lock_fresh(&self) -> std::sync::MutexGuard<'_, HashMap<Key, String>> {
        match self.fresh.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// The cache file's bytes, if it is a regular file (not a link to a device or a pipe, which
/// would hang or fill the memory of every build) of at most `MAX_FILE` bytes.
fn read_regular(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let metadata = std::fs::symlink_metadata(path).ok()?;
    if !metadata.file_type().is_file() || metadata.len() > MAX_FILE {
        return None;
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    std::fs::File::open(path)
        .ok()?
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= MAX_FILE).then_some(bytes)
}

/// Creates `path` with mode 0600 (it holds gated code). Not synced: a file that a crash cuts
/// short fails its digest and is ignored.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary folder")
    }

    /// A cache at `root` holding `blocks` (language, code, HTML), saved.
    fn saved(root: &Path, blocks: &[(&str, &str, &str)]) {
        let cache = HighlightCache::open(root);
        for (lang, code, html) in blocks {
            cache.insert(key("t", lang, code), html);
        }
        cache.save().expect("saved");
    }

    fn cached(cache: &HighlightCache, lang: &str, code: &str) -> Option<String> {
        cache.get(&key("t", lang, code), |_| true)
    }

    #[test]
    fn saved_blocks_come_back_after_reopening() {
        let dir = site();
        saved(
            dir.path(),
            &[
                ("rust", "fn a() {}", "<pre>a</pre>"),
                ("go", "x", "<pre>é</pre>"),
            ],
        );
        let cache = HighlightCache::open(dir.path());
        assert_eq!(
            cached(&cache, "rust", "fn a() {}").as_deref(),
            Some("<pre>a</pre>")
        );
        assert_eq!(cached(&cache, "go", "x").as_deref(), Some("<pre>é</pre>"));
        assert_eq!(
            cached(&cache, "rust", "x"),
            None,
            "the language is part of the key"
        );
        assert_ne!(
            key("t", "rust", "x"),
            key("u", "rust", "x"),
            "so is the theme"
        );
        assert_ne!(key("ab", "c", "x"), key("a", "bc", "x"));
        assert_eq!(cache.counts(), (2, 0));
    }

    #[test]
    fn only_blocks_used_since_opening_are_saved_again() {
        let dir = site();
        saved(
            dir.path(),
            &[("rust", "old", "<old>"), ("rust", "kept", "<kept>")],
        );
        let cache = HighlightCache::open(dir.path());
        assert!(cached(&cache, "rust", "kept").is_some());
        cache.insert(key("t", "rust", "new"), "<new>");
        cache.save().expect("saved");
        let cache = HighlightCache::open(dir.path());
        assert_eq!(
            cached(&cache, "rust", "old"),
            None,
            "an unused block is dropped"
        );
        assert_eq!(cached(&cache, "rust", "kept").as_deref(), Some("<kept>"));
        assert_eq!(cached(&cache, "rust", "new").as_deref(), Some("<new>"));
    }

    #[cfg(unix)]
    #[test]
    fn a_cache_that_holds_exactly_what_was_used_is_not_rewritten() {
        use std::os::unix::fs::MetadataExt;
        let dir = site();
        saved(dir.path(), &[("rust", "a", "<a>")]);
        let file = dir.path().join(CACHE_FILE);
        // A save writes a new file and renames it over the old one: a new inode.
        let inode = || std::fs::metadata(&file).expect("a file").ino();
        let before = inode();
        let cache = HighlightCache::open(dir.path());
        assert!(cached(&cache, "rust", "a").is_some());
        cache.save().expect("saved");
        assert_eq!(inode(), before, "nothing changed, nothing written");
        cache.insert(key("t", "rust", "b"), "<b>");
        cache.save().expect("saved");
        assert_ne!(inode(), before, "a new block is written");
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_kept_out_of_git() {
        use std::os::unix::fs::PermissionsExt;
        let dir = site();
        saved(dir.path(), &[("rust", "secret()", "<pre>secret()</pre>")]);
        let mode = std::fs::metadata(dir.path().join(CACHE_FILE))
            .expect("a file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let ignore = std::fs::read_to_string(dir.path().join(".gatehouse/.gitignore"));
        assert_eq!(ignore.expect("a .gitignore"), "*\n");
        let left: Vec<_> = std::fs::read_dir(dir.path().join(".gatehouse"))
            .expect("a folder")
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "no temporary file is left: {left:?}");
    }

    #[test]
    fn a_truncated_file_is_an_empty_cache_and_is_replaced() {
        let dir = site();
        saved(dir.path(), &[("rust", "a", "<a>")]);
        let file = dir.path().join(CACHE_FILE);
        let bytes = std::fs::read(&file).expect("a file");
        std::fs::write(&file, &bytes[..bytes.len() - 1]).expect("written");
        let cache = HighlightCache::open(dir.path());
        assert_eq!(cached(&cache, "rust", "a"), None);
        cache.save().expect("saved");
        let rewritten = std::fs::read(&file).expect("a file");
        assert!(highlight_file::parse(&rewritten).is_some_and(|e| e.is_empty()));
    }

    #[test]
    fn a_missing_file_is_an_empty_cache() {
        let dir = site();
        let cache = HighlightCache::open(dir.path());
        assert_eq!(cached(&cache, "rust", "a"), None);
        assert_eq!(cache.counts(), (0, 0));
    }
}
