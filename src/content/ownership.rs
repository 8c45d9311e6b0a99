//! Which page owns each folder, checked before any file is placed (DESIGN §3 Files): a
//! section's `_index.md` or a bundle's `index.md` gives its folder's pages their access (the
//! cascade) and its files their owner. Two pages claiming one folder, a copy of such a page
//! (`_index.md.off`, `index.md~`, `.index.md`) standing where the page itself is missing, or a
//! page inside a bundle's folder (whose files take the bundle's access, but whose pages would
//! not) would give pages and files the access of some other page, which may be public: all are
//! errors that name the fix, never a guess.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::CONTENT_DIR;
use super::doc::{Doc, DocKind};
use crate::diagnostic::{Diagnostic, Diagnostics};

/// `explicit`: the documents parsed from Markdown files (implicit sections own their folder
/// only by default, and are made later). `index_copies`: skipped or hidden copies of index
/// pages, relative to `content/`.
pub fn check<'a>(
    explicit: impl IntoIterator<Item = &'a Doc>,
    index_copies: &[PathBuf],
) -> Result<(), Diagnostics> {
    let explicit: Vec<&Doc> = explicit.into_iter().collect();
    let mut problems = Vec::new();
    let mut owners: HashMap<&str, &Doc> = HashMap::new();
    for doc in &explicit {
        let Some(dir) = doc.owned_dir.as_deref() else {
            continue;
        };
        if let Some(other) = owners.insert(dir, doc) {
            problems.push(Diagnostic::new(
                &doc.source,
                None,
                format!(
                    "{} owns this folder too: a folder has one section page (`_index.md`) or one \
                     bundle page (`index.md`), which gives its pages and files their access; \
                     move one of them into a folder of its own",
                    other.source.display()
                ),
            ));
        }
    }
    for doc in &explicit {
        if let Some(bundle) = enclosing_bundle(doc, &owners) {
            problems.push(Diagnostic::new(
                &doc.source,
                None,
                format!(
                    "this page is inside the folder of the page bundle {}, whose files take that \
                     bundle's access but whose pages would not: move it out of the bundle's \
                     folder, or make the folder a section (`_index.md`)",
                    bundle.source.display()
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

/// The page bundle whose folder holds `doc` (its file, at any depth), other than `doc` itself.
fn enclosing_bundle<'a>(doc: &Doc, owners: &HashMap<&str, &'a Doc>) -> Option<&'a Doc> {
    let source = doc.source.strip_prefix(CONTENT_DIR).unwrap_or(&doc.source);
    source
        .ancestors()
        .skip(1)
        .filter_map(|dir| owners.get(dir.to_string_lossy().replace('\\', "/").as_str()))
        .find(|owner| owner.kind == DocKind::Page && owner.source != doc.source)
        .copied()
}
