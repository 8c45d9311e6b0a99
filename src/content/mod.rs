//! Content: walk `content/`, parse front matter and Markdown, and assemble the [`Library`]:
//! documents with their URL paths, sections, resolved access, order and tags.

mod access;
mod date;
mod doc;
mod front_matter;
mod highlight;
mod markdown;
mod slug;
mod walk;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use access::{Access, label as access_label};
pub use date::{display_date, parse_date, rfc3339};
pub use doc::{Doc, DocKind};
pub use highlight::Highlighter;
pub use markdown::{Heading, Rendered, render as render_markdown};
pub use slug::slugify;

use crate::config::{CONFIG_FILE, SiteConfig};
use crate::diagnostic::{Diagnostic, Diagnostics};

pub const CONTENT_DIR: &str = "content";

#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub drafts: bool,
}

/// Everything the site's content says, ready to render.
pub struct Library {
    pub docs: Vec<Doc>,
    /// Index of the home section, `/`.
    pub root: usize,
    pub terms: Vec<Term>,
    pub assets: Vec<Asset>,
    pub warnings: Vec<Diagnostic>,
    /// `/highlight.css`, when code highlighting is on.
    pub highlight_css: Option<String>,
}

/// A tag and the pages that carry it, newest first.
pub struct Term {
    pub name: String,
    pub slug: String,
    pub pages: Vec<usize>,
}

/// A non-Markdown file in `content/`, copied as it is.
pub struct Asset {
    pub source: PathBuf,
    /// Relative to the output folder.
    pub output: PathBuf,
}

impl Library {
    pub fn pages(&self) -> impl Iterator<Item = (usize, &Doc)> {
        self.docs
            .iter()
            .enumerate()
            .filter(|(_, doc)| doc.kind == DocKind::Page)
    }

    pub fn gated_count(&self) -> usize {
        self.docs.iter().filter(|doc| doc.is_gated()).count()
    }
}

/// A parsed file before it takes its place in the tree.
struct Parsed {
    doc: Doc,
    /// Folder (relative to `content/`, `/`-joined) of the section this document belongs to.
    section_dir: String,
    /// For sections: their own folder.
    own_dir: Option<String>,
}

/// Loads the whole library, or every problem found in it.
pub fn load(config: &SiteConfig, options: LoadOptions) -> Result<Library, Diagnostics> {
    let content_dir = config.root.join(CONTENT_DIR);
    let found = walk::walk(&content_dir).map_err(|error| {
        Diagnostics(vec![Diagnostic::new(
            CONTENT_DIR,
            None,
            format!("cannot read the content folder: {error}"),
        )])
    })?;
    let highlighter = if config.markdown.highlight_code {
        Some(
            Highlighter::load(&config.markdown.highlight_theme).map_err(|message| {
                Diagnostics(vec![Diagnostic::new(CONFIG_FILE, None, message)])
            })?,
        )
    } else {
        None
    };

    let results: Vec<Result<Option<Parsed>, Vec<Diagnostic>>> = found
        .markdown
        .par_iter()
        .map(|relative| {
            parse_file(
                config,
                &content_dir,
                relative,
                options,
                highlighter.as_ref(),
            )
        })
        .collect();
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for result in results {
        match result {
            Ok(Some(doc)) => parsed.push(doc),
            Ok(None) => {}
            Err(mut found) => problems.append(&mut found),
        }
    }
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    let mut library = assemble(config, parsed)?;
    let mut warnings = Vec::new();
    library.assets = place_assets(&content_dir, found.assets, &library, &mut warnings);
    library.warnings = warnings;
    library.highlight_css = highlighter.map(|h| h.css());
    Ok(library)
}

fn parse_file(
    config: &SiteConfig,
    content_dir: &Path,
    relative: &Path,
    options: LoadOptions,
    highlighter: Option<&Highlighter>,
) -> Result<Option<Parsed>, Vec<Diagnostic>> {
    let source = Path::new(CONTENT_DIR).join(relative);
    let problem = |line: Option<usize>, message: String| Diagnostic::new(&source, line, message);
    let text = std::fs::read_to_string(content_dir.join(relative))
        .map_err(|error| vec![problem(None, format!("cannot read: {error}"))])?;
    let split = front_matter::split(&text).map_err(|(line, m)| vec![problem(Some(line), m)])?;
    let fm = front_matter::parse(&split).map_err(|(line, m)| vec![problem(Some(line), m)])?;
    if fm.draft && !options.drafts {
        return Ok(None);
    }

    let mut problems = Vec::new();
    let mut date_field = |value: &Option<String>, key: &str| {
        let value = value.as_ref()?;
        date::parse_date(value)
            .map_err(|message| {
                let line = front_matter::line_containing(&split, &format!("{key}:"));
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
    if let Some(slug) = &fm.slug
        && (slug.is_empty() || slug.contains('/') || slug.starts_with('.'))
    {
        let line = front_matter::line_containing(&split, "slug:");
        problems.push(problem(
            line,
            format!("slug `{slug}` must be one path segment without `/`"),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let (kind, path, section_dir, own_dir) = locate(relative, fm.slug.as_deref());
    let body = markdown::render(split.body, highlighter);
    let summary_html = fm
        .summary
        .as_deref()
        .map(|summary| markdown::render(summary, None).html);
    Ok(Some(Parsed {
        doc: Doc {
            kind,
            source,
            path,
            parent: None,
            pages: Vec::new(),
            subsections: Vec::new(),
            title: fm.title,
            description: fm.description,
            date,
            updated,
            summary_html,
            tags: fm.tags,
            weight: fm.weight,
            template: fm.template,
            extra: fm
                .extra
                .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            own_access,
            access: Access::Public,
            body,
        },
        section_dir,
        own_dir,
    }))
}

/// Maps a file to its kind, URL path, owning section folder and (for sections) own folder.
fn locate(relative: &Path, slug: Option<&str>) -> (DocKind, String, String, Option<String>) {
    let mut dirs: Vec<String> = relative
        .parent()
        .into_iter()
        .flat_map(|parent| parent.components())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let file = relative
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let url = |segments: &[String]| {
        if segments.is_empty() {
            "/".to_owned()
        } else {
            format!("/{}/", segments.join("/"))
        }
    };
    match file.as_str() {
        "_index" => {
            let own = dirs.join("/");
            let parent = dirs[..dirs.len().saturating_sub(1)].join("/");
            (DocKind::Section, url(&dirs), parent, Some(own))
        }
        "index" if !dirs.is_empty() => {
            let section = dirs[..dirs.len() - 1].join("/");
            if let (Some(slug), Some(last)) = (slug, dirs.last_mut()) {
                *last = slug.to_owned();
            }
            (DocKind::Page, url(&dirs), section, None)
        }
        _ => {
            let section = dirs.join("/");
            dirs.push(slug.map_or(file, str::to_owned));
            (DocKind::Page, url(&dirs), section, None)
        }
    }
}

fn parent_dir(dir: &str) -> Option<&str> {
    if dir.is_empty() {
        None
    } else {
        Some(dir.rsplit_once('/').map_or("", |(parent, _)| parent))
    }
}

fn implicit_section(config: &SiteConfig, dir: &str) -> Doc {
    let name = dir.rsplit('/').next().unwrap_or(dir);
    let title = if dir.is_empty() {
        config.title.clone()
    } else {
        let words = name.replace(['-', '_'], " ");
        let mut chars = words.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    };
    Doc {
        kind: DocKind::Section,
        source: Path::new(CONTENT_DIR).join(dir),
        path: if dir.is_empty() {
            "/".to_owned()
        } else {
            format!("/{dir}/")
        },
        parent: None,
        pages: Vec::new(),
        subsections: Vec::new(),
        title,
        description: None,
        date: None,
        updated: None,
        summary_html: None,
        tags: Vec::new(),
        weight: None,
        template: None,
        extra: serde_json::Value::Object(Default::default()),
        own_access: None,
        access: Access::Public,
        body: Rendered::default(),
    }
}

fn assemble(config: &SiteConfig, parsed: Vec<Parsed>) -> Result<Library, Diagnostics> {
    let mut docs = Vec::with_capacity(parsed.len() + 8);
    let mut section_of_dir: HashMap<String, usize> = HashMap::new();
    let mut owners = Vec::with_capacity(parsed.len());
    for item in parsed {
        if let Some(own) = item.own_dir {
            section_of_dir.insert(own, docs.len());
        }
        owners.push(item.section_dir);
        docs.push(item.doc);
    }
    // Every folder that holds content is a section, even without an `_index.md`.
    let mut wanted: Vec<String> = owners.clone();
    wanted.push(String::new());
    while let Some(dir) = wanted.pop() {
        if !section_of_dir.contains_key(&dir) {
            section_of_dir.insert(dir.clone(), docs.len());
            docs.push(implicit_section(config, &dir));
            owners.push(parent_dir(&dir).unwrap_or("").to_owned());
        }
        if let Some(parent) = parent_dir(&dir) {
            wanted.push(parent.to_owned());
        }
    }

    let mut by_path: HashMap<&str, usize> = HashMap::new();
    let mut problems = Vec::new();
    for (index, doc) in docs.iter().enumerate() {
        if let Some(other) = by_path.insert(&doc.path, index) {
            problems.push(Diagnostic::new(
                &doc.source,
                None,
                format!(
                    "this file and {} both make the page {}: rename one or set a different `slug`",
                    docs[other].source.display(),
                    doc.path
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }

    let root = section_of_dir[""];
    for (index, owner) in owners.iter().enumerate() {
        if index == root {
            continue;
        }
        let parent = section_of_dir[owner.as_str()];
        docs[index].parent = Some(parent);
        match docs[index].kind {
            DocKind::Page => docs[parent].pages.push(index),
            DocKind::Section => docs[parent].subsections.push(index),
        }
    }
    for index in 0..docs.len() {
        docs[index].access = inherited_access(&docs, index);
    }
    for index in 0..docs.len() {
        let mut pages = std::mem::take(&mut docs[index].pages);
        pages.sort_by(|&a, &b| display_order(&docs[a], &docs[b]));
        docs[index].pages = pages;
        let mut subsections = std::mem::take(&mut docs[index].subsections);
        subsections.sort_by(|&a, &b| {
            (docs[a].weight.is_none(), docs[a].weight, &docs[a].title).cmp(&(
                docs[b].weight.is_none(),
                docs[b].weight,
                &docs[b].title,
            ))
        });
        docs[index].subsections = subsections;
    }
    let terms = collect_terms(&docs);
    Ok(Library {
        docs,
        root,
        terms,
        assets: Vec::new(),
        warnings: Vec::new(),
        highlight_css: None,
    })
}

/// The document's own access, else the nearest section's that says one, else public.
fn inherited_access(docs: &[Doc], index: usize) -> Access {
    let mut current = Some(index);
    while let Some(i) = current {
        if let Some(access) = &docs[i].own_access {
            return access.clone();
        }
        current = docs[i].parent;
    }
    Access::Public
}

/// Weight first (lessons), then newest first (posts), then title.
fn display_order(a: &Doc, b: &Doc) -> std::cmp::Ordering {
    (a.weight.is_none(), a.weight)
        .cmp(&(b.weight.is_none(), b.weight))
        .then_with(|| b.date.cmp(&a.date))
        .then_with(|| a.title.cmp(&b.title))
        .then_with(|| a.path.cmp(&b.path))
}

fn collect_terms(docs: &[Doc]) -> Vec<Term> {
    let mut terms: BTreeMap<String, Term> = BTreeMap::new();
    for (index, doc) in docs.iter().enumerate() {
        for tag in &doc.tags {
            let slug = slugify(tag);
            if slug.is_empty() {
                continue;
            }
            let term = terms.entry(slug.clone()).or_insert_with(|| Term {
                name: tag.clone(),
                slug,
                pages: Vec::new(),
            });
            if !term.pages.contains(&index) {
                term.pages.push(index);
            }
        }
    }
    let mut terms: Vec<Term> = terms.into_values().collect();
    for term in &mut terms {
        term.pages.sort_by(|&a, &b| {
            docs[b]
                .date
                .cmp(&docs[a].date)
                .then_with(|| docs[a].title.cmp(&docs[b].title))
        });
    }
    terms
}

/// Places assets beside their pages and warns about files inside gated sections: assets are
/// copied as they are, never encrypted.
fn place_assets(
    content_dir: &Path,
    assets: Vec<PathBuf>,
    library: &Library,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<Asset> {
    let by_path: HashMap<&str, &Doc> = library.docs.iter().map(|d| (d.path.as_str(), d)).collect();
    assets
        .into_iter()
        .map(|relative| {
            let mut dir = relative.parent().map(Path::to_path_buf).unwrap_or_default();
            loop {
                let key = if dir.as_os_str().is_empty() {
                    "/".to_owned()
                } else {
                    format!("/{}/", dir.to_string_lossy().replace('\\', "/"))
                };
                if let Some(doc) = by_path.get(key.as_str()) {
                    if doc.is_gated() {
                        warnings.push(Diagnostic::new(
                            Path::new(CONTENT_DIR).join(&relative),
                            None,
                            format!(
                                "this file sits in the gated {key} but is published unencrypted, \
                                 like every asset; move it out if it is for members only"
                            ),
                        ));
                    }
                    break;
                }
                if !dir.pop() {
                    break;
                }
            }
            Asset {
                source: content_dir.join(&relative),
                output: relative,
            }
        })
        .collect()
}
