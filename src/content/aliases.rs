//! `aliases:` in front matter: old URLs of a document, each written by the build as a redirect
//! page (`build::redirect`), so a site that moves to gatehouse keeps its inbound links.
//! Checked here, once the whole tree is known, so a collision can name both files.

use std::collections::HashMap;
use std::path::Path;

use super::front_matter::{self, Split};
use super::{DocKind, Library};
use crate::config::SiteConfig;
use crate::diagnostic::{Diagnostic, Diagnostics};

/// One `aliases:` entry of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// As written: `/old/url/` or `/2019/01/post.html`.
    pub url: String,
    /// The file line it is written on.
    pub line: Option<usize>,
}

/// The document's aliases with the front-matter line of each, for error messages.
pub(super) fn read(split: &Split<'_>, urls: Vec<String>) -> Vec<Alias> {
    urls.into_iter()
        .map(|url| {
            let line = front_matter::line_containing_after(split, "aliases:", &url)
                .or_else(|| front_matter::line_starting_with(split, "aliases:"));
            Alias { url, line }
        })
        .collect()
}

/// Where a valid alias is written, relative to the output folder: `/old/url/` (or
/// `/old/url`) → `old/url/index.html`; a path ending in `.html` is that file.
pub fn output_file(url: &str) -> String {
    let trimmed = url.trim_start_matches('/');
    let lower = trimmed.to_ascii_lowercase();
    if lower.ends_with(".html") || lower.ends_with(".htm") {
        trimmed.to_owned()
    } else if trimmed.is_empty() || trimmed.ends_with('/') {
        format!("{trimmed}index.html")
    } else {
        format!("{trimmed}/index.html")
    }
}

/// Why `url` cannot be an alias, or `Ok`. `edge_path` is the edge API's path (`/_gate`),
/// whose URLs the edge answers, not the static files.
fn check_syntax(url: &str, edge_path: &str) -> Result<(), String> {
    let fix = "write a path from the site's root, such as `/old/url/` or `/2019/01/post.html`";
    if url.contains("://") || url.starts_with("//") {
        return Err(format!(
            "alias `{url}` is a full URL; an alias is a path on this site: {fix}"
        ));
    }
    if !url.starts_with('/') {
        return Err(format!(
            "alias `{url}` is not a root-relative path (it must start with `/`): {fix}"
        ));
    }
    if url.contains('?') || url.contains('#') {
        return Err(format!(
            "alias `{url}` has a query or fragment (`?` or `#`), which a static redirect page \
             cannot match: remove it"
        ));
    }
    let segments: Vec<&str> = url[1..].split('/').collect();
    let last = segments.len() - 1;
    for (index, segment) in segments.iter().enumerate() {
        if *segment == ".." || *segment == "." {
            return Err(format!(
                "alias `{url}` contains `{segment}`: write the path without it"
            ));
        }
        // The last segment is empty for `/old/url/`; an empty one elsewhere is `//`.
        if segment.is_empty() {
            if index == last {
                continue;
            }
            return Err(format!("alias `{url}` contains `//`: write a single `/`"));
        }
        let safe = !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
        if !safe {
            return Err(format!(
                "alias `{url}` has the segment `{segment}`, which would make an unsafe file \
                 name: use letters, digits, `-`, `_`, `.` and `~` (no leading `.`)"
            ));
        }
    }
    // Case-insensitively: on the disks authors build on (macOS, Windows), `/_GATED/` is
    // `/_gated/`, and `/Course/` is the page at `/course/`.
    if segments[0].eq_ignore_ascii_case("_gated") {
        return Err(format!(
            "alias `{url}` points into `/_gated/`, where the sealed members-only files live: \
             choose another path"
        ));
    }
    let (lower, edge_lower) = (url.to_ascii_lowercase(), edge_path.to_ascii_lowercase());
    if !edge_path.is_empty()
        && (lower == edge_lower || lower.starts_with(&format!("{edge_lower}/")))
    {
        return Err(format!(
            "alias `{url}` is inside `{edge_path}/`, the edge API's path (`edge_url` in \
             site.toml), which the static site never answers: choose another path"
        ));
    }
    Ok(())
}

/// Every problem with the library's aliases: bad paths, and two outputs at one path (an
/// alias and a page or section, or two aliases).
pub(super) fn check(library: &Library, config: &SiteConfig) -> Result<(), Diagnostics> {
    let edge_path = crate::server::base_path(&config.edge_url);
    let mut problems = Vec::new();
    // Output file, lowercase (one file on a case-insensitive disk) → what makes it: the
    // document, and the alias (none for the page itself).
    let mut taken: HashMap<String, (usize, Option<&Alias>)> = HashMap::new();
    for (index, doc) in library.docs.iter().enumerate() {
        // A document's path always ends in `/`: `/a/` → `a/index.html`.
        taken.insert(output_file(&doc.path).to_lowercase(), (index, None));
    }
    for (index, doc) in library.docs.iter().enumerate() {
        for alias in &doc.aliases {
            if let Err(message) = check_syntax(&alias.url, &edge_path) {
                problems.push(Diagnostic::new(&doc.source, alias.line, message));
                continue;
            }
            let file = output_file(&alias.url).to_lowercase();
            match taken.get(&file) {
                None => {
                    taken.insert(file, (index, Some(alias)));
                }
                Some(&(other, other_alias)) => {
                    let message = collision(library, index, alias, other, other_alias);
                    problems.push(Diagnostic::new(&doc.source, alias.line, message));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(problems))
    }
}

fn collision(
    library: &Library,
    index: usize,
    alias: &Alias,
    other: usize,
    other_alias: Option<&Alias>,
) -> String {
    let url = &alias.url;
    let other_doc = &library.docs[other];
    let other_file = other_doc.source.display();
    match other_alias {
        None if other == index => format!(
            "alias `{url}` is this page's own URL ({}): remove the alias",
            other_doc.path
        ),
        None => {
            let what = match (other_doc.kind, Path::new(&other_doc.source).extension()) {
                (DocKind::Section, None) => "the section made from the folder",
                (DocKind::Section, Some(_)) => "the section",
                (DocKind::Page, _) => "the page",
            };
            format!(
                "alias `{url}` is the URL of {what} {other_file} ({}): remove the alias, or \
                 move that page",
                other_doc.path
            )
        }
        Some(first) if other == index => format!(
            "alias `{url}` is listed twice (also as `{}`{}): remove one",
            first.url,
            first
                .line
                .map(|l| format!(" on line {l}"))
                .unwrap_or_default()
        ),
        Some(first) => format!(
            "alias `{url}` is also an alias of {other_file}{} (as `{}`): keep it on one page \
             only",
            first.line.map(|l| format!(":{l}")).unwrap_or_default(),
            first.url
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_files_follow_zola() {
        assert_eq!(output_file("/old/url/"), "old/url/index.html");
        assert_eq!(output_file("/old/url"), "old/url/index.html");
        assert_eq!(output_file("/2019/01/post.html"), "2019/01/post.html");
        assert_eq!(output_file("/"), "index.html");
    }

    #[test]
    fn bad_paths_are_refused_with_the_fix() {
        let refused = |url: &str| check_syntax(url, "/_gate").unwrap_err();
        assert!(refused("old/url/").contains("root-relative"));
        assert!(refused("https://x.com/a/").contains("full URL"));
        assert!(refused("/a/../b/").contains("`..`"));
        assert!(refused("/a/?x=1").contains("query"));
        assert!(refused("/a/#x").contains("fragment"));
        assert!(refused("/a b/").contains("unsafe"));
        assert!(refused("/a/<script>/").contains("unsafe"));
        assert!(refused("/a//b/").contains("`//`"));
        assert!(refused("/.git/x").contains("unsafe"));
        assert!(refused("/_gated/abc/x.bin").contains("_gated"));
        assert!(refused("/_gate/keys").contains("edge API"));
        for fine in ["/old/url/", "/old/url", "/2019/01/post.html", "/a.b~c_d-e/"] {
            assert_eq!(check_syntax(fine, "/_gate"), Ok(()), "{fine}");
        }
    }
}
