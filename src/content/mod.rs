//! Content: walk `content/`, parse front matter and Markdown, and assemble the [`Library`]:
//! documents with their URL paths, sections, resolved access, order and tags.

mod access;
mod aliases;
mod assets;
mod body;
mod cache;
mod date;
mod doc;
mod front_matter;
mod front_matter_fast;
mod highlight;
mod highlight_cache;
mod highlight_check;
mod highlight_file;
mod links;
mod markdown;
mod mp4;
mod ownership;
mod paginate;
mod parse;
mod search_text;
mod shortcodes;
mod slug;
mod taxonomy;
mod tree;
mod walk;
mod words;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use access::{Access, label as access_label, needs_label};
pub use aliases::{Alias, output_file as alias_output_file};
pub use cache::ParseCache;
pub use date::{display_date, parse_date, rfc3339};
pub use doc::{Doc, DocKind};
pub use highlight::Highlighter;
pub use highlight_cache::HighlightCache;
pub use links::{resolve_changed as resolve_links_of_changed, same_anchors};
pub use markdown::{Heading, Rendered, render as render_markdown};
pub use paginate::{DEFAULT_PAGINATE_PATH, Paginate};
pub use shortcodes::{ArgValue, Block, Shortcodes, fill_blocks};
pub use slug::slugify;
pub use taxonomy::{Taxonomy, Term, term_path};

use crate::config::{CONFIG_FILE, SiteConfig};
use crate::diagnostic::{Diagnostic, Diagnostics};
use parse::Outcome;

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
    /// Every taxonomy site.toml declares, in its order, with its terms.
    pub taxonomies: Vec<Taxonomy>,
    pub assets: Vec<Asset>,
    /// Files that take a gated owner's access: sealed by the build, never copied.
    pub gated_files: Vec<GatedFile>,
    pub warnings: Vec<Diagnostic>,
    /// `/highlight.css`, when code highlighting is on.
    pub highlight_css: Option<String>,
    /// Kept for re-parsing single files (`gatehouse serve`): loading it costs more than
    /// parsing many pages.
    pub highlighter: Option<Highlighter>,
    /// Kept for re-parsing single files, as the highlighter is.
    pub shortcodes: std::sync::Arc<Shortcodes>,
}

/// A non-Markdown file in `content/` with a public owner, copied as it is.
pub struct Asset {
    pub source: PathBuf,
    /// Relative to the output folder.
    pub output: PathBuf,
    /// Public because a gated owner's `public_files:` says so (rather than a public owner).
    pub listed_public: bool,
}

/// A non-Markdown file in `content/` whose owner is gated (DESIGN §3 Files).
pub struct GatedFile {
    pub source: PathBuf,
    /// Below `content/`, `/`-separated: `course/lesson-3/intro.mp4`.
    pub content_path: String,
    /// The file name that the sealed meta carries: `intro.mp4`.
    pub name: String,
    /// URL paths by which pages refer to it, e.g. `/course/lesson-3/intro.mp4`.
    pub urls: Vec<String>,
    /// The document whose access it takes.
    pub owner: usize,
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

/// Loads the whole library, or every problem found in it.
pub fn load(config: &SiteConfig, options: LoadOptions) -> Result<Library, Diagnostics> {
    load_with(config, options, None, None)
}

/// `load`, re-parsing only the files that changed since `cache` saw them (`gatehouse serve`),
/// and taking highlighted code from `highlights` when it has it.
pub fn load_with(
    config: &SiteConfig,
    options: LoadOptions,
    cache: Option<&ParseCache>,
    highlights: Option<&std::sync::Arc<HighlightCache>>,
) -> Result<Library, Diagnostics> {
    let content_dir = config.root.join(CONTENT_DIR);
    let shortcodes = Shortcodes::load(config).map_err(|problem| {
        Diagnostics(vec![Diagnostic::new(problem.file, None, problem.message)])
    })?;
    if let Some(cache) = cache {
        cache.keep_for(config, options, shortcodes.fingerprint());
    }
    let found = walk::walk(&content_dir).map_err(Diagnostics)?;
    let highlighter = if config.markdown.highlight_code {
        Some(
            Highlighter::load(&config.markdown.highlight_theme)
                .map_err(|message| {
                    Diagnostics(vec![Diagnostic::new(
                        CONFIG_FILE,
                        config.markdown.highlight_theme_line,
                        message,
                    )])
                })?
                .with_cache(highlights.cloned()),
        )
    } else {
        None
    };

    let results: Vec<Result<Outcome, Vec<Diagnostic>>> = found
        .markdown
        .par_iter()
        .map(|relative| {
            let bytes = parse::read(&content_dir, relative)?;
            let parse = || {
                parse::parse_file(
                    config,
                    relative,
                    &bytes,
                    options,
                    highlighter.as_ref(),
                    &shortcodes,
                )
            };
            match cache {
                Some(cache) => cache.parse(relative, &bytes, parse),
                None => parse(),
            }
        })
        .collect();
    let mut problems = Vec::new();
    // Sized up front: a `Parsed` is large, and growing the vector copied every one of them.
    let mut parsed = Vec::with_capacity(results.len());
    let mut draft_dirs = Vec::new();
    for result in results {
        match result {
            Ok(Outcome::Doc(doc)) => parsed.push(*doc),
            Ok(Outcome::Draft { withheld_dir }) => draft_dirs.extend(withheld_dir),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }
    // A draft section hides everything below it. Keeping its pages would drop the section's
    // `access:` from the cascade and publish members-only pages in the clear.
    let in_draft = |relative: &Path| {
        draft_dirs
            .iter()
            .any(|dir| relative.starts_with(Path::new(CONTENT_DIR).join(dir)))
    };
    parsed.retain(|doc| !in_draft(&doc.doc.source));
    let assets: Vec<PathBuf> = found
        .assets
        .into_iter()
        .filter(|asset| !in_draft(&Path::new(CONTENT_DIR).join(asset)))
        .collect();
    // Copies of a draft's own page are withheld with the rest of its folder.
    let index_copies: Vec<PathBuf> = found
        .skipped
        .iter()
        .filter(|file| {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            walk::names_index(&name.to_lowercase())
        })
        .chain(&found.hidden_pages)
        .filter(|copy| !in_draft(&Path::new(CONTENT_DIR).join(copy)))
        .cloned()
        .collect();
    ownership::check(parsed.iter().map(|parsed| &parsed.doc), &index_copies)?;

    let mut library = tree::assemble(config, parsed)?;
    links::check_tree(&mut library, config, options.drafts)?;
    let mut warnings: Vec<Diagnostic> = found
        .skipped
        .iter()
        .map(|relative| {
            Diagnostic::new(
                Path::new(CONTENT_DIR).join(relative),
                None,
                "not published: this looks like a backup or editor copy of a Markdown file",
            )
        })
        .collect();
    (library.assets, library.gated_files) = assets::place_assets(&content_dir, assets, &library);
    warnings.extend(late_mp4_index_warnings(&library, &config.root));
    library.warnings = warnings;
    library.highlight_css = highlighter.as_ref().map(Highlighter::css);
    library.highlighter = highlighter;
    library.shortcodes = std::sync::Arc::new(shortcodes);
    Ok(library)
}

/// A warning for each MP4 whose index (`moov`) comes after its media: it cannot start playing
/// before the whole file is downloaded.
fn late_mp4_index_warnings(library: &Library, site_root: &Path) -> Vec<Diagnostic> {
    let public = library.assets.iter().map(|a| &a.source);
    let gated = library.gated_files.iter().map(|f| &f.source);
    public
        .chain(gated)
        .filter(|source| mp4::is_mp4(&source.to_string_lossy()))
        .filter(|source| mp4::moov_after_media(source).unwrap_or(false))
        .map(|source| {
            Diagnostic::new(
                source.strip_prefix(site_root).unwrap_or(source),
                None,
                "this MP4's index (the `moov` atom) comes after its media, so it cannot start \
                 playing before the whole file is downloaded; move it to the front with \
                 `ffmpeg -i in.mp4 -c copy -movflags +faststart out.mp4`",
            )
        })
        .collect()
}

/// Parses one Markdown file again (`gatehouse serve`), without placing it in the tree:
/// `None` for a draft that the options leave out. `relative` is below `content/`.
pub fn parse_one(
    config: &SiteConfig,
    relative: &Path,
    options: LoadOptions,
    highlighter: Option<&Highlighter>,
    shortcodes: &Shortcodes,
) -> Result<Option<Doc>, Diagnostics> {
    let content_dir = config.root.join(CONTENT_DIR);
    let bytes = parse::read(&content_dir, relative).map_err(Diagnostics)?;
    match parse::parse_file(config, relative, &bytes, options, highlighter, shortcodes) {
        Ok(Outcome::Doc(parsed)) => Ok(Some(parsed.doc)),
        Ok(Outcome::Draft { .. }) => Ok(None),
        Err(problems) => Err(Diagnostics(problems)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str =
        "title = \"t\"\nbase_url = \"http://x\"\n[[levels]]\nid = \"gold\"\nrank = 1\n";

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("a folder made");
        std::fs::write(path, text).expect("written");
    }

    #[test]
    fn a_cached_rebuild_stops_on_a_section_turned_into_a_draft_with_a_bad_slug() {
        // `gatehouse serve` rebuilds through the parse cache.
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path();
        std::fs::create_dir_all(root.join("themes/default/templates")).expect("a theme folder");
        let config = crate::config::parse(root, CONFIG).expect("a valid config");
        write(
            root,
            "content/course/lesson.md",
            "---\ntitle: L\n---\nbody\n",
        );
        write(
            root,
            "content/course/_index.md",
            "---\ntitle: C\naccess:\n  level: gold\n---\n",
        );
        let cache = ParseCache::default();
        let library =
            load_with(&config, LoadOptions::default(), Some(&cache), None).expect("loads");
        assert_eq!(library.gated_count(), 2);
        write(
            root,
            "content/course/_index.md",
            "---\ntitle: C\ndraft: true\nslug: \"a b\"\naccess:\n  level: gold\n---\n",
        );
        let Err(problems) = load_with(&config, LoadOptions::default(), Some(&cache), None) else {
            panic!("a draft section with a bad slug must stop the rebuild");
        };
        let shown = problems.to_string();
        assert!(
            shown.contains("content/course/_index.md:4: slug `a b`"),
            "{shown}"
        );
    }
}
