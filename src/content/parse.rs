//! One Markdown file → a [`Parsed`] document: front matter, access, URL path and rendered body.

use std::path::Path;

use super::access;
use super::doc::{Doc, DocKind};
use super::front_matter;
use super::highlight::Highlighter;
use super::{CONTENT_DIR, LoadOptions, date};
use crate::config::SiteConfig;
use crate::diagnostic::Diagnostic;

/// A parsed file before it takes its place in the tree.
#[derive(Clone)]
pub struct Parsed {
    pub doc: Doc,
    /// Folder (relative to `content/`, `/`-joined) of the section this document belongs to.
    pub section_dir: String,
    /// For sections: their own folder.
    pub own_dir: Option<String>,
}

#[derive(Clone)]
pub enum Outcome {
    Doc(Box<Parsed>),
    /// A draft left out of the build; a draft section or page bundle takes its whole folder
    /// with it (its files too: they are the draft's).
    Draft {
        withheld_dir: Option<String>,
    },
}

/// The bytes of the Markdown file `relative` (below `content/`).
pub fn read(content_dir: &Path, relative: &Path) -> Result<Vec<u8>, Vec<Diagnostic>> {
    std::fs::read(content_dir.join(relative)).map_err(|error| {
        vec![Diagnostic::new(
            Path::new(CONTENT_DIR).join(relative),
            None,
            format!("cannot read: {error}"),
        )]
    })
}

/// Parses the bytes of the Markdown file `relative` (below `content/`).
pub fn parse_file(
    config: &SiteConfig,
    relative: &Path,
    bytes: &[u8],
    options: LoadOptions,
    highlighter: Option<&Highlighter>,
    shortcodes: &super::Shortcodes,
) -> Result<Outcome, Vec<Diagnostic>> {
    let source = Path::new(CONTENT_DIR).join(relative);
    let problem = |line: Option<usize>, message: String| Diagnostic::new(&source, line, message);
    let text = utf8(bytes).map_err(|(line, message)| vec![problem(Some(line), message)])?;
    let split = front_matter::split(text).map_err(|(line, m)| vec![problem(Some(line), m)])?;
    let fm = front_matter::parse(&split).map_err(|(line, m)| vec![problem(Some(line), m)])?;

    // Everything the file says is checked, a draft's too (issue 15): an error in a file that
    // carries or cascades `access:` stops the build, with or without `--drafts`.
    let mut problems = Vec::new();
    if let Some(message) = misnamed_index(relative) {
        problems.push(problem(None, message));
    }
    if let Some(slug) = &fm.slug
        && let Err(message) = check_segment(slug, "slug")
    {
        problems.push(problem(
            front_matter::line_starting_with(&split, "slug:"),
            message,
        ));
    }
    let mut date_field = |value: &Option<String>, key: &str| {
        let value = value.as_ref()?;
        date::parse_date(value)
            .map_err(|message| {
                let line = front_matter::line_starting_with(&split, &format!("{key}:"));
                problems.push(problem(line, format!("{key}: {message}")));
            })
            .ok()
    };
    let date = date_field(&fm.date, "date");
    let updated = date_field(&fm.updated, "updated");
    let own_access = match &fm.access {
        None => None,
        Some(spec) => match access::resolve(spec, config) {
            Ok(access) => Some(access),
            Err(found) => {
                for access_problem in found {
                    let line = front_matter::line_containing_after(
                        &split,
                        "access:",
                        &access_problem.needle,
                    )
                    .or_else(|| front_matter::line_containing(&split, "access"));
                    problems.push(problem(line, access_problem.message));
                }
                None
            }
        },
    };
    let mut public_files = Vec::new();
    for text in &fm.public_files {
        match crate::glob::Glob::new(text) {
            Ok(glob) => public_files.push(glob),
            Err(message) => problems.push(problem(
                front_matter::line_containing(&split, "public_files"),
                format!("public_files: `{text}`: {message}"),
            )),
        }
    }
    let terms = super::taxonomy::resolve(&config.taxonomies, &split, fm.tags, fm.taxonomies)
        .map_err(|found| problems.extend(found.into_iter().map(|(l, m)| problem(l, m))))
        .unwrap_or_default();
    let paginate = super::paginate::resolve(
        section_kind(relative),
        &split,
        fm.paginate_by,
        fm.paginate_path,
    )
    .map_err(|found| problems.extend(found.into_iter().map(|(l, m)| problem(l, m))))
    .unwrap_or_default();
    // Blocks are checked before a draft returns: a block's rule carries access too.
    let body_line = super::body::first_line(text, split.body);
    let checked = super::body::check(split.body, body_line, shortcodes, config)
        .map_err(|found| {
            problems.extend(found.into_iter().map(|(line, m)| problem(Some(line), m)));
        })
        .ok();
    if fm.draft && !options.drafts {
        if !problems.is_empty() {
            return Err(problems);
        }
        // The draft's place, from its path alone: a folder name that is no good in a URL is
        // fine in a draft, and must not let the draft's pages or files escape to the section
        // above.
        return Ok(Outcome::Draft {
            withheld_dir: index_dir(relative),
        });
    }
    let location = match locate(relative, fm.slug.as_deref()) {
        Ok(location) => Some(location),
        Err(message) => {
            problems.push(problem(None, message));
            None
        }
    };
    let (Some(location), Some(checked)) = (location.filter(|_| problems.is_empty()), checked)
    else {
        return Err(problems);
    };

    let super::body::Body {
        rendered: mut body,
        teaser_html,
        teaser_in_body,
    } = super::body::render(checked, fm.summary.as_deref(), highlighter);
    body.text = super::search_text::searchable(&body.text);
    for block in &mut body.blocks {
        block.text = super::search_text::searchable(&block.text);
    }
    Ok(Outcome::Doc(Box::new(Parsed {
        doc: Doc {
            kind: location.kind,
            source,
            path: location.path,
            parent: None,
            pages: Vec::new(),
            subsections: Vec::new(),
            title: fm.title,
            description: fm.description,
            date,
            updated,
            teaser_html,
            teaser_in_body,
            tags: terms.tags,
            taxonomies: terms.others,
            paginate,
            weight: fm.weight,
            template: fm.template,
            extra: fm
                .extra
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            own_access,
            access: access::Access::Public,
            owned_dir: location.own_dir.clone().or(location.bundle_dir.clone()),
            public_files,
            aliases: super::aliases::read(&split, fm.aliases),
            body,
        },
        section_dir: location.section_dir,
        own_dir: location.own_dir,
    })))
}

#[derive(Debug)]
struct Location {
    kind: DocKind,
    path: String,
    section_dir: String,
    own_dir: Option<String>,
    /// A page bundle's folder (`lesson-3/index.md` → `lesson-3`), whatever its slug.
    bundle_dir: Option<String>,
}

/// Maps a file to its kind, URL path, owning section folder and (for sections) own folder.
/// Every path segment must be URL-safe: the path is also the envelope's AAD (DESIGN §4), and
/// must equal what a browser reports as `location.pathname`. The slug is checked by the
/// caller, drafts' too.
fn locate(relative: &Path, slug: Option<&str>) -> Result<Location, String> {
    let mut dirs: Vec<String> = relative
        .parent()
        .into_iter()
        .flat_map(|parent| parent.components())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let stem = relative
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    for dir in &dirs {
        check_segment(dir, "folder name")?;
    }
    let url = |segments: &[String]| {
        if segments.is_empty() {
            "/".to_owned()
        } else {
            format!("/{}/", segments.join("/"))
        }
    };
    // `_Index.md` is a section page too: a page of its own would drop the cascade.
    Ok(match stem.to_ascii_lowercase().as_str() {
        "_index" => Location {
            kind: DocKind::Section,
            path: url(&dirs),
            section_dir: dirs[..dirs.len().saturating_sub(1)].join("/"),
            own_dir: Some(dirs.join("/")),
            bundle_dir: None,
        },
        "index" if !dirs.is_empty() => {
            let section_dir = dirs[..dirs.len() - 1].join("/");
            let bundle_dir = Some(dirs.join("/"));
            if let (Some(slug), Some(last)) = (slug, dirs.last_mut()) {
                *last = slug.to_owned();
            }
            Location {
                kind: DocKind::Page,
                path: url(&dirs),
                section_dir,
                own_dir: None,
                bundle_dir,
            }
        }
        _ => {
            if slug.is_none() {
                check_segment(&stem, "file name")?;
            }
            let section_dir = dirs.join("/");
            dirs.push(slug.map_or(stem, str::to_owned));
            Location {
                kind: DocKind::Page,
                path: url(&dirs),
                section_dir,
                own_dir: None,
                bundle_dir: None,
            }
        }
    })
}

/// The file's text; a file that is not UTF-8 is refused with the line of its first bad byte.
fn utf8(bytes: &[u8]) -> Result<&str, (usize, String)> {
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        (
            line,
            "not UTF-8 text (the first byte that is not is on this line): save it as UTF-8"
                .to_owned(),
        )
    })
}

/// Why a Markdown file named like a section or bundle page, but not quite (`_index.en.md`,
/// `index.old.md`), is refused: as a page of its own, it would leave its folder's pages and
/// files without the access it says.
fn misnamed_index(relative: &Path) -> Option<String> {
    let name = relative.file_name()?.to_string_lossy();
    let stem = relative.file_stem()?.to_string_lossy().to_ascii_lowercase();
    let (what, proper, prefix) = if stem.starts_with("_index.") {
        ("a section page", "_index.md", "_index.")
    } else if stem.starts_with("index.") {
        ("a page bundle's page", "index.md", "index.")
    } else {
        return None;
    };
    Some(format!(
        "`{name}` is named like {what} (`{proper}`) but is not one, so its folder's pages and \
         files would not take its access: rename it `{proper}` (one per folder; translations \
         are not supported), or give it a name that does not start with `{prefix}`"
    ))
}

/// A section (`_index.md`) or a page, from the file name alone, as [`locate`] decides it.
fn section_kind(relative: &Path) -> DocKind {
    let stem = relative.file_stem().map(|s| s.to_string_lossy());
    if stem.is_some_and(|stem| stem.eq_ignore_ascii_case("_index")) {
        DocKind::Section
    } else {
        DocKind::Page
    }
}

/// The folder a section or bundle page owns (`course/_index.md` → `course`, the root's `""`),
/// from its path alone; `None` for a plain page.
fn index_dir(relative: &Path) -> Option<String> {
    let stem = relative.file_stem()?.to_string_lossy().to_ascii_lowercase();
    let dir = relative.parent().unwrap_or(Path::new(""));
    let owns = stem == "_index" || (stem == "index" && !dir.as_os_str().is_empty());
    owns.then(|| dir.to_string_lossy().replace('\\', "/"))
}

fn check_segment(segment: &str, what: &str) -> Result<(), String> {
    let safe = !segment.is_empty()
        && !segment.starts_with('.')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    if safe {
        Ok(())
    } else {
        let fix = if what == "slug" {
            "change the slug"
        } else {
            "rename it, or set `slug:` for a page"
        };
        Err(format!(
            "{what} `{segment}` would make an unsafe URL: use letters, digits, `-`, `_`, `.` \
             and `~` ({fix})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_files_sections_and_slugs() {
        let at = |p: &str, slug: Option<&str>| locate(Path::new(p), slug).unwrap().path;
        assert_eq!(at("_index.md", None), "/");
        assert_eq!(at("course/_index.md", None), "/course/");
        assert_eq!(at("course/lesson-1.md", None), "/course/lesson-1/");
        assert_eq!(at("course/lesson-1.md", Some("intro")), "/course/intro/");
        assert_eq!(at("about/index.md", None), "/about/");
    }

    #[test]
    fn unsafe_url_segments_are_rejected() {
        assert!(
            locate(Path::new("course/My Lesson.md"), None)
                .unwrap_err()
                .contains("`My Lesson`")
        );
        assert!(
            locate(Path::new("a b/x.md"), None)
                .unwrap_err()
                .contains("folder name")
        );
        assert!(check_segment("a?b", "slug").unwrap_err().contains("slug"));
        assert!(locate(Path::new("My Lesson.md"), Some("fine")).is_ok());
    }
}
