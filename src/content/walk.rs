//! Finding the site's content: Markdown files and the assets that sit beside them.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

pub struct Found {
    /// Markdown files, relative to `content/`, sorted.
    pub markdown: Vec<PathBuf>,
    /// Other files, relative to `content/`: copied to the output as they are.
    pub assets: Vec<PathBuf>,
}

/// Walks `content_dir`, skipping hidden files and folders (editor swap files, `.DS_Store`).
pub fn walk(content_dir: &Path) -> std::io::Result<Found> {
    let mut found = Found {
        markdown: Vec::new(),
        assets: Vec::new(),
    };
    let walker = WalkDir::new(content_dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
        });
    for entry in walker {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(content_dir)
            .expect("walkdir yields paths below its root")
            .to_path_buf();
        if relative.extension().is_some_and(|ext| ext == "md") {
            found.markdown.push(relative);
        } else {
            found.assets.push(relative);
        }
    }
    Ok(found)
}
