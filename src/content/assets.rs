//! Files beside the Markdown (DESIGN §3 Files): each belongs to the page whose bundle folder
//! holds it, else to the section of its folder, and takes that owner's access. A public
//! owner's files (and those its `public_files:` names) are copied as they are; a gated
//! owner's files are sealed by the build and never written in the clear.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::doc::Doc;
use super::{Asset, GatedFile, Library};

/// Splits the assets into public ones and gated ones, each with its owner.
pub fn place_assets(
    content_dir: &Path,
    assets: Vec<PathBuf>,
    library: &Library,
) -> (Vec<Asset>, Vec<GatedFile>) {
    let owners: HashMap<String, usize> = library
        .docs
        .iter()
        .enumerate()
        .filter_map(|(index, doc)| Some((doc.owned_dir.clone()?, index)))
        .collect();
    let mut public = Vec::new();
    let mut gated = Vec::new();
    for relative in assets {
        let content_path = relative.to_string_lossy().replace('\\', "/");
        let (owner, owner_dir) = owner_of(&content_path, &owners);
        let doc = &library.docs[owner];
        let below_owner = content_path
            .strip_prefix(owner_dir.as_str())
            .unwrap_or(&content_path)
            .trim_start_matches('/');
        let listed_public = doc.is_gated() && is_kept_public(doc, below_owner);
        if doc.is_gated() && !listed_public {
            gated.push(GatedFile {
                source: content_dir.join(&relative),
                urls: urls_of(&content_path, doc, below_owner),
                name: relative
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                content_path,
                owner,
            });
        } else {
            public.push(Asset {
                source: content_dir.join(&relative),
                output: relative,
                listed_public,
            });
        }
    }
    (public, gated)
}

/// The nearest folder, from the file's own upwards, that a document owns. The root section
/// owns `content/` itself, so there always is one.
fn owner_of(content_path: &str, owners: &HashMap<String, usize>) -> (usize, String) {
    let mut dir = content_path.rsplit_once('/').map_or("", |(dir, _)| dir);
    loop {
        if let Some(&owner) = owners.get(dir) {
            return (owner, dir.to_owned());
        }
        if dir.is_empty() {
            // No root section at all: the library always has one, so this is unreachable in
            // a real build; treat the file as the root's.
            return (0, String::new());
        }
        dir = dir.rsplit_once('/').map_or("", |(parent, _)| parent);
    }
}

/// Whether the owner's `public_files:` names the file (`below_owner` is its path inside the
/// owner's folder): a glob with a `/` matches that path, one without the file name alone.
fn is_kept_public(owner: &Doc, below_owner: &str) -> bool {
    let subject = format!("/{below_owner}");
    owner.public_files.iter().any(|glob| glob.matches(&subject))
}

/// Every URL path by which a page may refer to the file: where it would be published (its
/// folder below `content/`) and, for a page bundle with its own slug, beside the page.
fn urls_of(content_path: &str, owner: &Doc, below_owner: &str) -> Vec<String> {
    let mut urls = vec![format!("/{content_path}")];
    let beside_owner = format!("{}{below_owner}", owner.path);
    if !urls.contains(&beside_owner) {
        urls.push(beside_owner);
    }
    urls
}
