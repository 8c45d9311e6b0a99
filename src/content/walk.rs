//! Finding the site's content: Markdown files and the assets that sit beside them.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

pub struct Found {
    /// Markdown files (`.md`, `.markdown`, any case), relative to `content/`, sorted.
    pub markdown: Vec<PathBuf>,
    /// Other files, relative to `content/`: copied to the output as they are.
    pub assets: Vec<PathBuf>,
    /// Backups and editor copies of Markdown files (`a.md~`, `#a.md#`, `a.md.orig`): never
    /// published, since they hold a page's source, gated body included.
    pub skipped: Vec<PathBuf>,
    /// Hidden section or bundle pages (`.index.md`, `._index.md`): not published, and neither
    /// are the files of their folder, which belong to them.
    pub hidden_pages: Vec<PathBuf>,
}

/// Walks `content_dir`, skipping hidden files and folders (editor swap files, `.DS_Store`).
pub fn walk(content_dir: &Path) -> std::io::Result<Found> {
    let mut found = Found {
        markdown: Vec::new(),
        assets: Vec::new(),
        skipped: Vec::new(),
        hidden_pages: Vec::new(),
    };
    let walker = WalkDir::new(content_dir)
        .sort_by_file_name()
        .into_iter()
        // Hidden folders are skipped whole; hidden files are looked at below.
        .filter_entry(|entry| {
            entry.depth() == 0
                || !entry.file_type().is_dir()
                || !entry.file_name().to_string_lossy().starts_with('.')
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
        let name = entry.file_name().to_string_lossy().to_lowercase();
        if let Some(visible) = name.strip_prefix('.') {
            // Editor swap files, `.DS_Store`: never published.
            if is_index_page(visible) {
                found.hidden_pages.push(relative);
            }
            continue;
        }
        match classify(&name) {
            Kind::Markdown => found.markdown.push(relative),
            // `index.old`, `_index.bak`: a page renamed out of the way still holds its front
            // matter and body, gated or not. Never published as a file.
            Kind::Asset if names_index(&name) && starts_with_front_matter(entry.path()) => {
                found.skipped.push(relative)
            }
            Kind::Asset => found.assets.push(relative),
            Kind::Backup => found.skipped.push(relative),
        }
    }
    Ok(found)
}

/// Whether a (lowercase) file name is a section's or a page bundle's Markdown page, or a copy
/// of one (`index.md`, `_index.markdown`, `index.md~`, `index.md.off`): it owns its folder.
pub fn is_index_page(lowercase_name: &str) -> bool {
    let markdown = lowercase_name.contains(".md") || lowercase_name.contains(".markdown");
    markdown && names_index(lowercase_name)
}

/// `index.*` or `_index.*` (lowercase).
pub fn names_index(lowercase_name: &str) -> bool {
    lowercase_name.starts_with("index.") || lowercase_name.starts_with("_index.")
}

/// Whether the file opens with a front matter line (`---` or `+++`): a Markdown page, whatever
/// its name says.
fn starts_with_front_matter(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 4];
    let read = std::fs::File::open(path)
        .and_then(|mut file| file.read(&mut head))
        .unwrap_or(0);
    let head = &head[..read];
    head.starts_with(b"---") || head.starts_with(b"+++")
}

enum Kind {
    Markdown,
    Asset,
    Backup,
}

fn classify(lowercase_name: &str) -> Kind {
    if lowercase_name.ends_with(".md") || lowercase_name.ends_with(".markdown") {
        return Kind::Markdown;
    }
    let names_markdown = lowercase_name.contains(".md") || lowercase_name.contains(".markdown");
    if names_markdown || lowercase_name.ends_with('~') || lowercase_name.starts_with('#') {
        return Kind::Backup;
    }
    Kind::Asset
}

#[cfg(test)]
mod tests {
    use super::{Kind, classify};

    #[test]
    fn markdown_in_any_case_is_content_and_its_backups_are_skipped() {
        for name in ["a.md", "a.markdown"] {
            assert!(matches!(classify(name), Kind::Markdown), "{name}");
        }
        for name in [
            "a.md~",
            "#a.md#",
            "a.md.orig",
            "a.md.swp",
            "notes~",
            "a.markdown.bak",
        ] {
            assert!(matches!(classify(name), Kind::Backup), "{name}");
        }
        for name in ["chart.svg", "slides.pdf", "mdx-logo.png"] {
            assert!(matches!(classify(name), Kind::Asset), "{name}");
        }
    }
}
