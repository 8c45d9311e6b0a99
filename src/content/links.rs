//! Internal links: `[text](@/course/lesson-3.md#pricing)` becomes the target's URL path,
//! `/course/lesson-3/#pricing` (DESIGN §3). `@/` paths are relative to `content/` and name the
//! file: `_index.md` for a section, `dir/index.md` for a page bundle.
//!
//! Resolved once the library is assembled, over the rendered HTML, so that only real `href`
//! and `src` attributes count: pulldown-cmark escapes a `@/` inside code into text.
//!
//! The anchor check must not disclose a gated page's headings: its errors reach `gatehouse
//! serve`'s error overlay, which is HTML. So a did-you-mean names only headings of public
//! bodies, whatever the linking page's own access.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use rayon::prelude::*;

use super::{CONTENT_DIR, Doc, Library};
use crate::build::file_refs::url_refs;
use crate::diagnostic::{Diagnostic, Diagnostics, line_of};
use crate::suggest;

const PREFIX: &str = "@/";

/// Why one `@/` link cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkProblem {
    /// The link as written, with character references decoded: `@/course/lesson-9.md#pricing`.
    pub target: String,
    /// The whole message, naming the link and the fix.
    pub message: String,
}

/// What links resolve against: the library's documents by source file.
pub(crate) struct Targets<'a> {
    library: &'a Library,
    /// `course/lesson-3.md` → document index. Implicit sections (folders without an
    /// `_index.md`) have no file, so no `@/` path.
    by_source: HashMap<String, usize>,
    site_root: &'a Path,
    drafts: bool,
    /// A re-parsed document that stands in for the library's own (`gatehouse serve`).
    replaced: Option<(usize, &'a Doc)>,
}

impl<'a> Targets<'a> {
    pub(crate) fn new(library: &'a Library, site_root: &'a Path, drafts: bool) -> Targets<'a> {
        let by_source = library
            .docs
            .iter()
            .enumerate()
            .filter_map(|(index, doc)| Some((content_path(&doc.source)?, index)))
            .collect();
        Targets {
            library,
            by_source,
            site_root,
            drafts,
            replaced: None,
        }
    }

    fn doc(&self, index: usize) -> &Doc {
        match self.replaced {
            Some((replaced, doc)) if replaced == index => doc,
            _ => &self.library.docs[index],
        }
    }

    /// The URL that the link `value` (starting with `@/`) stands for.
    fn resolve(&self, value: &str) -> Result<String, String> {
        let rest = &value[PREFIX.len()..];
        let (before_anchor, anchor) = match rest.split_once('#') {
            Some((before, anchor)) => (before, Some(anchor)),
            None => (rest, None),
        };
        let (file, query) = match before_anchor.split_once('?') {
            Some((file, query)) => (file, Some(query)),
            None => (before_anchor, None),
        };
        // pulldown-cmark percent-encodes spaces and non-ASCII in link destinations.
        let file = crate::percent::decode(file).unwrap_or_else(|| file.to_owned());
        let Some(&index) = self.by_source.get(&file) else {
            return Err(self.missing_page(value, &file));
        };
        let doc = self.doc(index);
        let mut url = doc.path.clone();
        if let Some(query) = query {
            url.push('?');
            url.push_str(query);
        }
        if let Some(anchor) = anchor.filter(|anchor| !anchor.is_empty()) {
            let decoded = crate::percent::decode(anchor).unwrap_or_else(|| anchor.to_owned());
            let known = anchors(doc);
            if !known.contains(anchor) && !known.contains(&decoded) {
                return Err(missing_anchor(value, doc, &decoded));
            }
            url.push('#');
            url.push_str(anchor);
        }
        Ok(url)
    }

    fn missing_page(&self, value: &str, file: &str) -> String {
        // Only files inside content/ are looked at: `@/../x.md` is simply not a page.
        let inside = !file.split('/').any(|segment| segment == "..");
        let on_disk = self.site_root.join(CONTENT_DIR).join(file);
        let on_disk = inside && on_disk.is_file();
        let markdown = content_path(Path::new(CONTENT_DIR).join(file).as_path()).is_some();
        if on_disk && !markdown {
            return format!(
                "link to `{value}`: `@/` links name Markdown pages; link this file by its URL \
                 instead, relative to the page (`{name}` beside it) or from the root",
                name = file.rsplit('/').next().unwrap_or(file)
            );
        }
        // A Markdown file that exists but was not loaded is a draft, or in a draft section.
        if !self.drafts && on_disk {
            return format!(
                "link to `{value}`: that page is a draft (or inside a draft section), so it is \
                 not built: publish it (remove `draft: true`), build with `--drafts`, or remove \
                 the link"
            );
        }
        let known = self.by_source.keys().map(String::as_str);
        let fix = match suggest::closest(file, known) {
            Some(best) => format!("did you mean `@/{best}`?"),
            None => "an `@/` path is relative to content/ and names the file, e.g. \
                     `@/blog/post.md`, `@/blog/_index.md` for a section or \
                     `@/blog/post/index.md` for a page bundle"
                .to_owned(),
        };
        format!("link to `{value}`: there is no `{CONTENT_DIR}/{file}` ({fix})")
    }
}

/// A document's source below `content/`, `/`-separated, when it is a Markdown file.
fn content_path(source: &Path) -> Option<String> {
    let extension = source.extension()?.to_string_lossy().to_ascii_lowercase();
    if extension != "md" && extension != "markdown" {
        return None;
    }
    let relative = source.strip_prefix(CONTENT_DIR).ok()?;
    Some(relative.to_string_lossy().replace('\\', "/"))
}

/// The message for a link to `#anchor` that `doc` does not have. Only a public body's headings
/// are ever named (see the module's comment): a gated page's are private, and so are those in
/// members blocks, which `body.toc` does not hold (each block has its own).
fn missing_anchor(value: &str, doc: &Doc, anchor: &str) -> String {
    let head = format!("link to `{value}`: no heading `#{anchor}` on that page");
    if doc.is_gated() {
        return format!("{head} (its headings are members-only, so none is suggested)");
    }
    let public: Vec<&str> = doc.body.toc.iter().map(|h| h.id.as_str()).collect();
    if let Some(best) = suggest::closest(anchor, public.iter().copied()) {
        return format!("{head} (did you mean `#{best}`?)");
    }
    const SHOWN: usize = 12;
    match public.len() {
        0 => format!("{head}, which has no public headings: remove the `#{anchor}`"),
        n => {
            let listed: Vec<String> = public
                .iter()
                .take(SHOWN)
                .map(|id| format!("#{id}"))
                .collect();
            let more = if n > SHOWN { ", …" } else { "" };
            format!("{head} (its headings: {}{more})", listed.join(", "))
        }
    }
}

/// Every id a link may point at in `doc`: its headings (the body's and each members block's)
/// and any `id="…"` that the author wrote in raw HTML.
fn anchors(doc: &Doc) -> BTreeSet<String> {
    let blocks = doc.body.blocks.iter().flat_map(|block| &block.toc);
    let mut ids: BTreeSet<String> = doc
        .body
        .toc
        .iter()
        .chain(blocks)
        .map(|h| h.id.clone())
        .collect();
    for html in parts(doc) {
        ids.extend(id_attributes(html));
    }
    ids
}

/// Whether a re-parsed document offers the same link targets as before: when it does not,
/// links elsewhere to it must be checked again (`gatehouse serve` rebuilds the whole site).
pub fn same_anchors(old: &Doc, new: &Doc) -> bool {
    anchors(old) == anchors(new)
}

/// The values of `id` attributes in `html`. Escaped text (code) has no `id="` in it.
fn id_attributes(html: &str) -> impl Iterator<Item = String> + '_ {
    html.match_indices("id=")
        .filter(move |&(at, _)| at > 0 && html.as_bytes()[at - 1].is_ascii_whitespace())
        .filter_map(move |(at, _)| {
            let rest = &html[at + 3..];
            let quote = rest.chars().next().filter(|c| matches!(c, '"' | '\''))?;
            let value = &rest[1..];
            let end = value.find(quote)?;
            Some(crate::build::file_refs::decode_entities(&value[..end]))
        })
}

/// Every HTML string of a document that may hold links, in a fixed order: the body, the
/// teaser, and each members block's HTML and public `else` HTML. [`parts_mut`] lists the same.
fn parts(doc: &Doc) -> Vec<&str> {
    let mut parts = vec![doc.body.html.as_str()];
    if let Some(teaser) = &doc.teaser_html {
        parts.push(teaser);
    }
    for block in &doc.body.blocks {
        parts.push(&block.html);
        parts.push(&block.else_html);
    }
    parts
}

/// [`parts`], to write the resolved HTML back.
fn parts_mut(doc: &mut Doc) -> Vec<&mut String> {
    let mut parts = vec![&mut doc.body.html];
    if let Some(teaser) = &mut doc.teaser_html {
        parts.push(teaser);
    }
    for block in &mut doc.body.blocks {
        parts.push(&mut block.html);
        parts.push(&mut block.else_html);
    }
    parts
}

/// `html` with every `@/` link in a URL attribute (`href`, `src`, …) replaced by its target's
/// URL path; or every link that does not resolve.
pub(crate) fn resolve_links(html: &str, targets: &Targets<'_>) -> Result<String, Vec<LinkProblem>> {
    if !html.contains(PREFIX) {
        return Ok(html.to_owned());
    }
    let mut out = String::with_capacity(html.len());
    let mut problems = Vec::new();
    let mut copied = 0;
    for found in url_refs(html) {
        if !found.value.starts_with(PREFIX) {
            continue;
        }
        match targets.resolve(&found.value) {
            Ok(url) => {
                out.push_str(&html[copied..found.range.start]);
                out.push_str(&escape_attribute(&url));
                copied = found.range.end;
            }
            Err(message) => problems.push(LinkProblem {
                target: found.value,
                message,
            }),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    out.push_str(&html[copied..]);
    Ok(out)
}

/// Escapes a URL for an attribute value in either kind of quotes.
fn escape_attribute(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The resolved HTML of each of `doc`'s [`parts`] (`None` when none has an `@/` link), or a
/// diagnostic per distinct bad link, on the line of the Markdown source that writes it.
fn resolve_doc(doc: &Doc, targets: &Targets<'_>) -> Result<Option<Vec<String>>, Vec<Diagnostic>> {
    let parts = parts(doc);
    let finder = memchr::memmem::Finder::new(PREFIX);
    if !parts
        .iter()
        .any(|html| finder.find(html.as_bytes()).is_some())
    {
        return Ok(None);
    }
    let mut resolved = Vec::with_capacity(parts.len());
    let mut problems: Vec<LinkProblem> = Vec::new();
    for html in parts {
        match resolve_links(html, targets) {
            Ok(html) => resolved.push(html),
            Err(found) => {
                for problem in found {
                    // A teaser above `<!-- more -->` repeats the body's links.
                    if !problems.iter().any(|p| p.target == problem.target) {
                        problems.push(problem);
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(Some(resolved));
    }
    let source = std::fs::read_to_string(targets.site_root.join(&doc.source)).unwrap_or_default();
    Err(problems
        .into_iter()
        .map(|problem| {
            let line = link_line(&source, &problem.target);
            Diagnostic::new(&doc.source, line, problem.message)
        })
        .collect())
}

/// The line of the Markdown source that writes the link `target`: the rendered HTML has no
/// positions, so the source is searched for the link's text, then for its file part.
fn link_line(source: &str, target: &str) -> Option<usize> {
    let file_part = target.split(['#', '?']).next().unwrap_or(target);
    source
        .find(target)
        .or_else(|| source.find(file_part))
        .map(|at| line_of(source, at))
}

/// Resolves every `@/` link of every document (DESIGN §3), or returns every link that does
/// not resolve.
pub(crate) fn resolve_all(
    library: &mut Library,
    site_root: &Path,
    drafts: bool,
) -> Result<(), Diagnostics> {
    let results: Vec<Result<Option<Vec<String>>, Vec<Diagnostic>>> = {
        let targets = Targets::new(library, site_root, drafts);
        library
            .docs
            .par_iter()
            .map(|doc| resolve_doc(doc, &targets))
            .collect()
    };
    let mut problems = Vec::new();
    for (doc, result) in library.docs.iter_mut().zip(results) {
        match result {
            Ok(Some(resolved)) => {
                for (part, html) in parts_mut(doc).into_iter().zip(resolved) {
                    *part = html;
                }
            }
            Ok(None) => {}
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(problems))
    }
}

/// Resolves the links of `doc`, a re-parsed version of the library's document `index`
/// (`gatehouse serve`'s single-page update); a link from the page to itself sees `doc`.
pub fn resolve_changed(
    library: &Library,
    index: usize,
    doc: &mut Doc,
    site_root: &Path,
    drafts: bool,
) -> Result<(), Diagnostics> {
    // Parsed alone, the document has no access yet (the tree cascades it): give it what a
    // full build would, so that an error never treats a gated page's headings as public.
    let inherited = library.docs[index]
        .parent
        .map(|parent| library.docs[parent].access.clone());
    if let Some(access) = doc.own_access.clone().or(inherited) {
        doc.access = access;
    }
    let resolved = {
        let mut targets = Targets::new(library, site_root, drafts);
        targets.replaced = Some((index, &*doc));
        resolve_doc(doc, &targets).map_err(Diagnostics)?
    };
    if let Some(resolved) = resolved {
        for (part, html) in parts_mut(doc).into_iter().zip(resolved) {
            *part = html;
        }
    }
    Ok(())
}

/// The checks that need the whole tree, run once it is assembled: aliases (a collision names
/// both files) and `@/` links. Every problem of both is returned at once.
pub(crate) fn check_tree(
    library: &mut Library,
    config: &crate::config::SiteConfig,
    drafts: bool,
) -> Result<(), Diagnostics> {
    let mut problems = match super::aliases::check(library, config) {
        Ok(()) => Vec::new(),
        Err(Diagnostics(found)) => found,
    };
    if let Err(Diagnostics(found)) = resolve_all(library, &config.root, drafts) {
        problems.extend(found);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_from_attributes_not_from_escaped_text() {
        let html =
            "<h2 id=\"a\">A</h2><div id='b'></div><code>id=&quot;c&quot;</code><p data-id=\"d\">";
        let ids: Vec<String> = id_attributes(html).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn a_link_is_found_on_its_source_line() {
        let source = "---\ntitle: A\n---\nText.\n\nSee [x](@/a.md#top) and\n[y](@/b.md).\n";
        assert_eq!(link_line(source, "@/a.md#top"), Some(6));
        assert_eq!(link_line(source, "@/b.md"), Some(7));
        // Written differently in the source: found by its file part.
        assert_eq!(link_line(source, "@/b.md#other"), Some(7));
        assert_eq!(link_line(source, "@/c.md"), None);
    }

    #[test]
    fn only_markdown_files_have_at_paths() {
        assert_eq!(
            content_path(Path::new("content/course/_index.md")).as_deref(),
            Some("course/_index.md")
        );
        assert_eq!(
            content_path(Path::new("content/a/index.MARKDOWN")).as_deref(),
            Some("a/index.MARKDOWN")
        );
        // An implicit section names its folder.
        assert_eq!(content_path(Path::new("content/v1.0")), None);
    }

    #[test]
    fn resolved_urls_are_escaped_for_either_quote() {
        assert_eq!(
            escape_attribute("/a/?x=1&y='2'#\"z\""),
            "/a/?x=1&amp;y=&#39;2&#39;#&quot;z&quot;"
        );
    }
}
