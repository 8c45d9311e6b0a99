//! Which page owns each folder, checked before any file is placed (DESIGN §3 Files): a
//! section's `_index.md` or a bundle's `index.md` gives its folder's pages their access (the
//! cascade) and its files their owner. Two pages claiming one folder, or a copy of such a page
//! (`_index.md.off`, `index.md~`, `.index.md`) standing where the page itself is missing, would
//! give that folder's pages and files the access of some other page, which may be public: both
//! are errors that name the fix, never a guess.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{CONTENT_DIR, Library};
use crate::diagnostic::{Diagnostic, Diagnostics};

/// `index_copies`: skipped or hidden copies of index pages, relative to `content/`.
pub fn check(library: &Library, index_copies: &[PathBuf]) -> Result<(), Diagnostics> {
    let mut problems = Vec::new();
    // Implicit sections (a folder without `_index.md`) own their folder only by default.
    let mut owners: HashMap<&str, &Path> = HashMap::new();
    for doc in library
        .docs
        .iter()
        .filter(|doc| doc.source.extension().is_some())
    {
        let Some(dir) = doc.owned_dir.as_deref() else {
            continue;
        };
        if let Some(other) = owners.insert(dir, &doc.source) {
            problems.push(Diagnostic::new(
                &doc.source,
                None,
                format!(
                    "{} owns this folder too: a folder has one section page (`_index.md`) or one \
                     bundle page (`index.md`), which gives its pages and files their access; \
                     move one of them into a folder of its own",
                    other.display()
                ),
            ));
        }
    }
    for copy in index_copies {
        let dir = copy
            .parent()
            .map(|d| d.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if !owners.contains_key(dir.as_str()) {
            let name = copy.file_name().unwrap_or_default().to_string_lossy();
            problems.push(Diagnostic::new(
                Path::new(CONTENT_DIR).join(copy),
                None,
                format!(
                    "`{name}` looks like this folder's own page (`_index.md` or `index.md`), \
                     renamed, backed up or hidden, and the page itself is missing: without it the \
                     folder's pages and files would lose that page's access and could be \
                     published. Rename it back, delete it, or mark the page `draft: true`"
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(problems))
    }
}
