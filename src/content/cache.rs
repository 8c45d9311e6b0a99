//! What `gatehouse serve` keeps between whole-site builds: each Markdown file's parse, by a
//! digest of the file's bytes. A build then parses only the files that changed, which is most
//! of its time; reading and hashing them is a small part of it. Not by size and modification
//! time: copying tools (`cp -p`, `rsync -t`) keep those, and a file's times tick coarsely, so a
//! page replaced by another of the same size could keep its old parse, `access:` and all.
//! Everything is dropped when the configuration changes, since levels, bundles and Markdown
//! settings decide how a file parses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::LoadOptions;
use super::parse::Outcome;
use crate::config::SiteConfig;
use crate::diagnostic::Diagnostic;

#[derive(Default)]
pub struct ParseCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// The configuration and options the entries were parsed under.
    under: String,
    files: HashMap<PathBuf, (Stamp, Outcome)>,
}

/// SHA-256 of the file's bytes.
type Stamp = [u8; 32];

fn stamp(bytes: &[u8]) -> Stamp {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest
        .as_ref()
        .try_into()
        .expect("a SHA-256 digest is 32 bytes")
}

impl ParseCache {
    /// Empties the cache unless it was filled under this same configuration.
    pub(super) fn keep_for(&self, config: &SiteConfig, options: LoadOptions, shortcodes: &str) {
        let under = format!("{config:?}{options:?}{shortcodes}");
        let mut inner = self.lock();
        if inner.under != under {
            inner.files.clear();
            inner.under = under;
        }
    }

    /// The cached parse of `relative` if its bytes are still `bytes`, else `parse()`, which
    /// parses those same bytes (kept if it succeeded: a file with an error is parsed again, so
    /// its error is reported again).
    pub(super) fn parse(
        &self,
        relative: &Path,
        bytes: &[u8],
        parse: impl FnOnce() -> Result<Outcome, Vec<Diagnostic>>,
    ) -> Result<Outcome, Vec<Diagnostic>> {
        let stamp = stamp(bytes);
        if let Some((seen, outcome)) = self.lock().files.get(relative)
            && *seen == stamp
        {
            return Ok(outcome.clone());
        }
        let outcome = parse()?;
        self.lock()
            .files
            .insert(relative.to_path_buf(), (stamp, outcome.clone()));
        Ok(outcome)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Result<Outcome, Vec<Diagnostic>> {
        Ok(Outcome::Draft { withheld_dir: None })
    }

    #[test]
    fn a_file_is_parsed_again_only_when_it_changed() {
        let file = Path::new("a.md");
        let cache = ParseCache::default();
        let mut parses = 0;
        for _ in 0..2 {
            let _ = cache.parse(file, b"one", || {
                parses += 1;
                draft()
            });
        }
        assert_eq!(parses, 1, "an unchanged file is not parsed twice");
        let _ = cache.parse(file, b"one, longer", || {
            parses += 1;
            draft()
        });
        assert_eq!(parses, 2, "a changed file is parsed again");
    }

    #[test]
    fn a_page_replaced_with_one_of_the_same_size_is_parsed_again() {
        // What `cp -p` of another page of the same length leaves behind, same time and all.
        let file = Path::new("a.md");
        let cache = ParseCache::default();
        let mut parses = 0;
        for text in ["access: {level: free}", "access: {level: gold}"] {
            let _ = cache.parse(file, text.as_bytes(), || {
                parses += 1;
                draft()
            });
        }
        assert_eq!(
            parses, 2,
            "the new text is parsed, not the old parse reused"
        );
    }

    #[test]
    fn errors_are_not_kept_and_a_new_configuration_empties_the_cache() {
        let file = Path::new("a.md");
        let cache = ParseCache::default();
        let failed = cache.parse(file, b"x", || Err(Vec::new()));
        assert!(failed.is_err());
        let mut parses = 0;
        let _ = cache.parse(file, b"x", || {
            parses += 1;
            draft()
        });
        assert_eq!(parses, 1, "a file that failed is parsed again");
        let config = crate::config::parse(
            Path::new("."),
            "title = \"t\"\nbase_url = \"http://x\"\n[[levels]]\nid = \"free\"\nrank = 0\n",
        )
        .expect("a valid config");
        cache.keep_for(&config, LoadOptions::default(), "");
        let _ = cache.parse(file, b"x", || {
            parses += 1;
            draft()
        });
        assert_eq!(parses, 2, "another configuration parses everything again");
    }
}
