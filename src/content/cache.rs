//! What `gatehouse serve` keeps between whole-site builds: each Markdown file's parse, by the
//! file's modification time and size. A build then parses only the files that changed, which
//! is most of its time. Everything is dropped when the configuration changes, since levels,
//! bundles and Markdown settings decide how a file parses.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

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

type Stamp = (SystemTime, u64);

impl ParseCache {
    /// Empties the cache unless it was filled under this same configuration.
    pub(super) fn keep_for(&self, config: &SiteConfig, options: LoadOptions) {
        let under = format!("{config:?}{options:?}");
        let mut inner = self.lock();
        if inner.under != under {
            inner.files.clear();
            inner.under = under;
        }
    }

    /// The cached parse of `relative` if the file is unchanged, else `parse()` (kept if it
    /// succeeded: a file with an error is parsed again, so its error is reported again).
    pub(super) fn parse(
        &self,
        content_dir: &Path,
        relative: &Path,
        parse: impl FnOnce() -> Result<Outcome, Vec<Diagnostic>>,
    ) -> Result<Outcome, Vec<Diagnostic>> {
        let stamp = std::fs::metadata(content_dir.join(relative))
            .ok()
            .and_then(|meta| Some((meta.modified().ok()?, meta.len())));
        if let Some(stamp) = stamp
            && let Some((seen, outcome)) = self.lock().files.get(relative)
            && *seen == stamp
        {
            return Ok(outcome.clone());
        }
        let outcome = parse()?;
        if let Some(stamp) = stamp {
            self.lock()
                .files
                .insert(relative.to_path_buf(), (stamp, outcome.clone()));
        }
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
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = Path::new("a.md");
        std::fs::write(dir.path().join(file), "one").expect("written");
        let cache = ParseCache::default();
        let mut parses = 0;
        for _ in 0..2 {
            let _ = cache.parse(dir.path(), file, || {
                parses += 1;
                draft()
            });
        }
        assert_eq!(parses, 1, "an unchanged file is not parsed twice");
        std::fs::write(dir.path().join(file), "one, longer").expect("written");
        let _ = cache.parse(dir.path(), file, || {
            parses += 1;
            draft()
        });
        assert_eq!(parses, 2, "a changed file is parsed again");
    }

    #[test]
    fn errors_are_not_kept_and_a_new_configuration_empties_the_cache() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let file = Path::new("a.md");
        std::fs::write(dir.path().join(file), "x").expect("written");
        let cache = ParseCache::default();
        let failed = cache.parse(dir.path(), file, || Err(Vec::new()));
        assert!(failed.is_err());
        let mut parses = 0;
        let _ = cache.parse(dir.path(), file, || {
            parses += 1;
            draft()
        });
        assert_eq!(parses, 1, "a file that failed is parsed again");
        let config = crate::config::parse(
            Path::new("."),
            "title = \"t\"\nbase_url = \"http://x\"\n[[levels]]\nid = \"free\"\nrank = 0\n",
        )
        .expect("a valid config");
        cache.keep_for(&config, LoadOptions::default());
        let _ = cache.parse(dir.path(), file, || {
            parses += 1;
            draft()
        });
        assert_eq!(parses, 2, "another configuration parses everything again");
    }
}
