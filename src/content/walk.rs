//! Finding the site's content: Markdown files and the assets that sit beside them. Anything
//! the walk cannot place for sure (a link, a special file, an unreadable folder, a page saved
//! under a name that is not Markdown) stops the build: skipped, it could take a section's
//! `access:` with it, or be published as it is (DESIGN §3).

use std::io::Read;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::CONTENT_DIR;
use crate::diagnostic::Diagnostic;

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

/// Walks `content_dir`, skipping hidden files and folders (editor swap files, `.DS_Store`);
/// every problem found is returned at once.
pub fn walk(content_dir: &Path) -> Result<Found, Vec<Diagnostic>> {
    let mut found = Found {
        markdown: Vec::new(),
        assets: Vec::new(),
        skipped: Vec::new(),
        hidden_pages: Vec::new(),
    };
    let mut problems = Vec::new();
    let shown =
        |path: &Path| Path::new(CONTENT_DIR).join(path.strip_prefix(content_dir).unwrap_or(path));
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
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                // An unreadable folder may hold a section's `_index.md`: its pages elsewhere
                // must not be published as if it had none.
                let path = error
                    .path()
                    .map_or_else(|| PathBuf::from(CONTENT_DIR), shown);
                let cause = error
                    .io_error()
                    .map_or(error.to_string(), ToString::to_string);
                problems.push(Diagnostic::new(
                    path,
                    None,
                    format!("cannot read: {cause}; make it readable, or move it out of content/"),
                ));
                continue;
            }
        };
        let file_type = entry.file_type();
        if file_type.is_dir() {
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
        if let Some(message) = not_a_file(file_type) {
            problems.push(Diagnostic::new(shown(entry.path()), None, message));
            continue;
        }
        match classify(&name) {
            Kind::Markdown => found.markdown.push(relative),
            Kind::Backup => found.skipped.push(relative),
            Kind::Asset => match head(entry.path()) {
                Err(error) => problems.push(Diagnostic::new(
                    shown(entry.path()),
                    None,
                    format!("cannot read: {error}; make it readable, or move it out of content/"),
                )),
                // `index.old`, `_index.bak`: a page renamed out of the way still holds its
                // front matter and body, gated or not. Never published as a file.
                Ok(head) if names_index(&name) && opens_front_matter(&head) => {
                    found.skipped.push(relative)
                }
                Ok(head) => match access_line(&head) {
                    Some(line) => problems.push(Diagnostic::new(
                        shown(entry.path()),
                        Some(line),
                        "this file has front matter with `access:`, but only Markdown files \
                         (`.md`, `.markdown`) are pages: it would be published as it is, gated \
                         text and all. Rename it to `.md`, or take its front matter out",
                    )),
                    None => found.assets.push(relative),
                },
            },
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// Why an entry that is not a folder is not a plain file either, if it is not.
fn not_a_file(file_type: std::fs::FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_symlink() {
        // Followed, a link's owner (its place) and its bytes (its target's) could disagree: a
        // gated file linked from a public folder would be published in the clear. Skipped,
        // a linked `_index.md` would drop its folder's `access:`.
        Some(
            "a symbolic link: links in content/ are not followed, and one skipped could take \
             a section's `access:` with it. Put a copy of the file or folder in its place",
        )
    } else {
        Some("not a plain file or folder (a pipe, socket or device): move it out of content/")
    }
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

/// How much of a file is read to find front matter: far more than any real front matter.
const HEAD_BYTES: u64 = 64 * 1024;

/// The first bytes of a file: enough to see whether it opens with front matter, and if it does
/// (a page, whatever its name), the front matter too. Media files cost one small read.
fn head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let mut head = Vec::new();
    (&mut file).take(8).read_to_end(&mut head)?;
    if opens_front_matter(&head) {
        file.take(HEAD_BYTES).read_to_end(&mut head)?;
    }
    Ok(head)
}

/// Whether the text opens with a front matter line (`---` or `+++`): a Markdown page, whatever
/// its name says.
fn opens_front_matter(head: &[u8]) -> bool {
    let head = head.strip_prefix("\u{feff}".as_bytes()).unwrap_or(head);
    head.starts_with(b"---") || head.starts_with(b"+++")
}

/// The line of a top-level `access` key in front matter that the text opens with and closes
/// (YAML between `---` lines, TOML between `+++` lines), if it has one.
fn access_line(head: &[u8]) -> Option<usize> {
    if !opens_front_matter(head) {
        return None;
    }
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines();
    let fence = lines.next()?.trim_start_matches('\u{feff}').trim_end();
    if fence != "---" && fence != "+++" {
        return None;
    }
    let mut access = None;
    for (index, line) in lines.enumerate() {
        if line.trim_end() == fence {
            return access;
        }
        let is_access = ["access:", "access =", "access=", "[access]"]
            .iter()
            .any(|start| line.starts_with(start));
        if access.is_none() && is_access {
            access = Some(index + 2);
        }
    }
    None
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
    use super::{Kind, access_line, classify};

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

    #[test]
    fn a_top_level_access_key_in_closed_front_matter_is_found_with_its_line() {
        let found = |text: &str| access_line(text.as_bytes());
        assert_eq!(
            found("---\ntitle: x\naccess:\n  level: gold\n---\nbody"),
            Some(3)
        );
        assert_eq!(found("\u{feff}---\naccess: {level: gold}\n---\n"), Some(2));
        assert_eq!(
            found("+++\ntitle = \"x\"\n[access]\nlevel = \"gold\"\n+++\n"),
            Some(3)
        );
        assert_eq!(found("+++\naccess = { level = \"gold\" }\n+++\n"), Some(2));
        // Not front matter, not top level, or not closed: an ordinary file.
        assert_eq!(found("access: gold\n"), None);
        assert_eq!(found("---\nrules:\n  access: gold\n---\n"), None);
        assert_eq!(found("---\naccess: gold\n"), None);
        assert_eq!(found("---\ntitle: x\n---\naccess: gold\n"), None);
        assert_eq!(found("---\naccessible: yes\n---\n"), None);
    }
}
