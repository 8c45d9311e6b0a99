//! Pagination, with Zola's names: a section's `paginate_by:` (and `paginate_path:`) front
//! matter, the URL of each pager, and the check that no document sits where a pager goes.

use super::doc::{Doc, DocKind};
use super::front_matter::{self, Split};
use crate::diagnostic::Diagnostic;

/// The folder that pagers 2, 3… go in unless `paginate_path:` says otherwise.
pub const DEFAULT_PAGINATE_PATH: &str = "page";

/// A paginated list: `by` pages per pager, pagers 2… at `<list path><path>/<n>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paginate {
    pub by: usize,
    pub path: String,
}

impl Paginate {
    /// How many pagers `items` entries fill: always at least one, so an empty list still
    /// has its first page.
    pub fn pager_count(&self, items: usize) -> usize {
        items.div_ceil(self.by).max(1)
    }

    /// The URL path of pager `n` (1-based) of the list at `base` (`/blog/`): the list's own
    /// path for the first, `/blog/page/2/` for the second.
    pub fn pager_path(&self, base: &str, n: usize) -> String {
        if n <= 1 {
            base.to_owned()
        } else {
            format!("{base}{}/{n}/", self.path)
        }
    }

    /// `/blog/page/`: where pagers (and the redirect from `/blog/page/1/`) go.
    pub fn folder(&self, base: &str) -> String {
        format!("{base}{}/", self.path)
    }
}

/// A section's `paginate_by:` and `paginate_path:`, or a (file line, message) problem.
pub fn resolve(
    kind: DocKind,
    split: &Split<'_>,
    by: Option<i64>,
    path: Option<String>,
) -> Result<Option<Paginate>, Vec<(Option<usize>, String)>> {
    let line = |key: &str| front_matter::line_starting_with(split, &format!("{key}:"));
    let mut problems = Vec::new();
    if kind == DocKind::Page {
        for (key, given) in [
            ("paginate_by", by.is_some()),
            ("paginate_path", path.is_some()),
        ] {
            if given {
                problems.push((
                    line(key),
                    format!(
                        "{key} is for sections: put it in the section's `_index.md`, whose \
                         page lists it splits"
                    ),
                ));
            }
        }
        return if problems.is_empty() {
            Ok(None)
        } else {
            Err(problems)
        };
    }
    let Some(by) = by else {
        if path.is_some() {
            problems.push((
                line("paginate_path"),
                "paginate_path without paginate_by: add `paginate_by: N` (pages per pager), or \
                 remove paginate_path"
                    .to_owned(),
            ));
            return Err(problems);
        }
        return Ok(None);
    };
    let by = match usize::try_from(by) {
        Ok(by) if by > 0 => by,
        _ => {
            problems.push((
                line("paginate_by"),
                format!(
                    "paginate_by: {by} is not a number of pages: write a positive number, or \
                     remove it to list every page at once"
                ),
            ));
            0
        }
    };
    let path = path.unwrap_or_else(|| DEFAULT_PAGINATE_PATH.to_owned());
    let safe = !path.is_empty()
        && !path.starts_with('.')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if !safe {
        problems.push((
            line("paginate_path"),
            format!(
                "paginate_path `{path}` must be one URL segment of letters, digits, `-` and \
                 `_`, such as `page`"
            ),
        ));
    }
    if problems.is_empty() {
        Ok(Some(Paginate { by, path }))
    } else {
        Err(problems)
    }
}

/// A document whose URL falls in a paginated section's pager folder (`/blog/page/`, or a
/// page with `slug: page`) would be written over by a pager or hide one: an error that names
/// both files.
pub fn collisions(docs: &[Doc]) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    for section in docs {
        let Some(paginate) = &section.paginate else {
            continue;
        };
        let folder = paginate.folder(&section.path);
        for doc in docs.iter().filter(|doc| doc.path.starts_with(&folder)) {
            problems.push(Diagnostic::new(
                &doc.source,
                None,
                format!(
                    "this file makes {}, inside {folder}, where the pagination of {} \
                     (`paginate_by`) writes its pages {}2/, {}3/…: rename it or set its \
                     `slug`, or set `paginate_path` in {}",
                    doc.path,
                    section.source.display(),
                    folder,
                    folder,
                    section.source.display(),
                ),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_text(
        kind: DocKind,
        text: &str,
    ) -> Result<Option<Paginate>, Vec<(Option<usize>, String)>> {
        let split = front_matter::split(text).expect("front matter");
        let fm = front_matter::parse(&split).expect("parses");
        resolve(kind, &split, fm.paginate_by, fm.paginate_path)
    }

    #[test]
    fn pager_paths_follow_zola() {
        let paginate = Paginate {
            by: 2,
            path: "page".to_owned(),
        };
        assert_eq!(paginate.pager_path("/blog/", 1), "/blog/");
        assert_eq!(paginate.pager_path("/blog/", 3), "/blog/page/3/");
        assert_eq!(paginate.pager_count(5), 3);
        assert_eq!(paginate.pager_count(4), 2);
        assert_eq!(paginate.pager_count(0), 1);
    }

    #[test]
    fn sections_read_paginate_by_and_path() {
        let found = resolve_text(
            DocKind::Section,
            "---\ntitle: B\npaginate_by: 5\npaginate_path: p\n---\n",
        );
        assert_eq!(
            found,
            Ok(Some(Paginate {
                by: 5,
                path: "p".to_owned()
            }))
        );
        let toml = resolve_text(
            DocKind::Section,
            "+++\ntitle = \"B\"\npaginate_by = 3\n+++\n",
        );
        assert_eq!(
            toml.expect("valid").map(|p| (p.by, p.path)),
            Some((3, "page".to_owned()))
        );
        assert_eq!(
            resolve_text(DocKind::Section, "---\ntitle: B\n---\n"),
            Ok(None)
        );
    }

    #[test]
    fn bad_values_name_their_line() {
        for (kind, text, line, needle) in [
            (
                DocKind::Section,
                "---\ntitle: B\npaginate_by: 0\n---\n",
                3,
                "positive",
            ),
            (
                DocKind::Section,
                "---\ntitle: B\npaginate_by: 2\npaginate_path: a/b\n---\n",
                4,
                "one URL segment",
            ),
            (
                DocKind::Section,
                "---\ntitle: B\npaginate_path: p\n---\n",
                3,
                "without paginate_by",
            ),
            (
                DocKind::Page,
                "---\ntitle: B\npaginate_by: 2\n---\n",
                3,
                "for sections",
            ),
        ] {
            let problems = resolve_text(kind, text).unwrap_err();
            assert_eq!(problems[0].0, Some(line), "{text}: {problems:?}");
            assert!(problems[0].1.contains(needle), "{text}: {problems:?}");
        }
    }
}
