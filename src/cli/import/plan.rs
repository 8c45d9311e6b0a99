//! Finding the source's content folder, deciding what happens to each of its files (convert,
//! copy or skip), and writing the result. Everything is converted in memory first, so a
//! front matter that cannot be read stops the import before any file is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Tool;
use super::front_matter::{self, Changes, Page};
use super::read::{self, Format};
use super::shortcodes::{self, Body};
use super::{hugo, hugo_shortcodes, zola};

/// The site being imported.
pub struct Source {
    pub tool: Tool,
    /// Its content folder.
    pub content: PathBuf,
    /// Its site folder, when SRC was one (holding config, templates and static/).
    pub site: Option<PathBuf>,
    /// Hugo's taxonomy keys besides `tags`.
    pub hugo_taxonomies: Vec<String>,
    /// The Hugo config file the taxonomies were read from.
    pub config_file: Option<String>,
    /// Names of the site's own shortcode templates.
    pub own_shortcodes: BTreeSet<String>,
}

impl Source {
    pub fn find(tool: Tool, src: &Path) -> anyhow::Result<Source> {
        if !src.is_dir() {
            bail!(
                "{} is not a folder: give the {} site's folder (the one holding content/) or \
                 its content folder",
                src.display(),
                tool.title()
            );
        }
        let (content, site) = if src.join("content").is_dir() {
            (src.join("content"), Some(src.to_path_buf()))
        } else {
            (src.to_path_buf(), None)
        };
        let (hugo_taxonomies, config_file) = match tool {
            Tool::Hugo => hugo::taxonomies(site.as_deref()),
            Tool::Zola => (Vec::new(), None),
        };
        let shortcode_dir = match tool {
            Tool::Hugo => "layouts/shortcodes",
            Tool::Zola => "templates/shortcodes",
        };
        let own_shortcodes = site
            .as_deref()
            .map(|site| template_names(&site.join(shortcode_dir)))
            .unwrap_or_default();
        Ok(Source {
            tool,
            content,
            site,
            hugo_taxonomies,
            config_file,
            own_shortcodes,
        })
    }
}

/// `gallery.html` → `gallery` (Zola also allows Markdown shortcodes, `gallery.md`).
fn template_names(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            let extension = path.extension()?.to_str()?;
            matches!(extension, "html" | "md").then(|| {
                path.file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
            })?
        })
        .collect()
}

/// What the import does, file by file.
pub struct Plan {
    pub files: Vec<Planned>,
    /// Source files left out, with why.
    pub skipped: Vec<(String, String)>,
}

pub struct Planned {
    /// Relative to the source content folder, `/`-separated.
    pub source: String,
    /// Relative to the output folder.
    pub target: String,
    pub action: Action,
}

pub enum Action {
    Copy,
    Convert(Box<Converted>),
}

pub struct Converted {
    pub text: String,
    pub changes: Changes,
    pub body: Body,
}

/// Formats Hugo renders as pages that gatehouse cannot: copying them would publish their
/// source as a file.
const OTHER_PAGE_FORMATS: [&str; 8] =
    ["html", "htm", "org", "adoc", "asciidoc", "ad", "pdc", "rst"];

pub fn plan(source: &Source) -> anyhow::Result<Plan> {
    let found = walk(&source.content)?;
    let pages: BTreeSet<String> = found
        .iter()
        .filter_map(|relative| markdown_target(relative))
        .collect();
    let mut plan = Plan {
        files: Vec::new(),
        skipped: Vec::new(),
    };
    let hiding = hiding_sections(source, &found);
    let mut errors = Vec::new();
    for relative in found {
        let path = source.content.join(&relative);
        if let Some(target) = markdown_target(&relative) {
            let hidden_by = hiding
                .iter()
                .find(|(folder, section)| {
                    *section != relative && relative.starts_with(folder.as_str())
                })
                .map(|(_, section)| section.as_str());
            match convert_page(source, &path, &relative, &target, &pages, hidden_by) {
                Ok(converted) => plan.files.push(Planned {
                    source: relative,
                    target,
                    action: Action::Convert(Box::new(converted)),
                }),
                Err(error) => errors.push(error),
            }
            continue;
        }
        let extension = extension_of(&relative);
        if source.tool == Tool::Hugo && OTHER_PAGE_FORMATS.contains(&extension.as_str()) {
            let is_page = !matches!(extension.as_str(), "html" | "htm")
                || std::fs::read(&path).is_ok_and(|bytes| {
                    bytes.starts_with(b"---")
                        || bytes.starts_with(b"+++")
                        || bytes.starts_with(b"{")
                });
            if is_page {
                plan.skipped.push((
                    relative,
                    format!(
                        "a Hugo page written in {extension}, not Markdown: convert it by hand \
                         (copied, its source would be published as a file)"
                    ),
                ));
                continue;
            }
        }
        plan.files.push(Planned {
            target: relative.clone(),
            source: relative,
            action: Action::Copy,
        });
    }
    if !errors.is_empty() {
        bail!(
            "{}\nnothing was written: fix the front matter in the {} site (or a copy of it) and \
             run the import again",
            errors.join("\n"),
            source.tool.title()
        );
    }
    let mut targets: BTreeMap<&str, &str> = BTreeMap::new();
    for file in &plan.files {
        if let Some(first) = targets.insert(&file.target, &file.source) {
            bail!(
                "{first} and {} would both become {}: rename one of them in the {} site \
                 (or a copy of it); nothing was written",
                file.source,
                file.target,
                source.tool.title()
            );
        }
    }
    Ok(plan)
}

/// Hugo sections whose `cascade` hides the pages below them: (folder with a trailing `/`,
/// or empty for the home page; the section page's source path).
fn hiding_sections(source: &Source, found: &[String]) -> Vec<(String, String)> {
    if source.tool != Tool::Hugo {
        return Vec::new();
    }
    found
        .iter()
        .filter(|relative| {
            let name = relative.rsplit('/').next().unwrap_or(relative);
            markdown_target(name).is_some_and(|target| target == "_index.md")
        })
        .filter(|relative| {
            let Ok(text) = std::fs::read_to_string(source.content.join(relative)) else {
                return false;
            };
            // A front matter that cannot be read is reported by the conversion itself.
            read::read(&text).is_ok_and(|split| {
                front_matter::hugo_cascade_hides(&split.front, &source.hugo_taxonomies)
            })
        })
        .map(|relative| {
            let folder = &relative[..relative.rfind('/').map_or(0, |slash| slash + 1)];
            (folder.to_owned(), relative.clone())
        })
        .collect()
}

/// Every file below `content`, relative and `/`-separated, in name order; hidden files and
/// folders (`.DS_Store`, `.git`) are left out, as the build leaves them out.
fn walk(content: &Path) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut links = Vec::new();
    let entries = walkdir::WalkDir::new(content)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.')
        });
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", content.display()))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let relative = entry.path().strip_prefix(content).with_context(|| {
            format!(
                "{} is outside {}",
                entry.path().display(),
                content.display()
            )
        })?;
        let parts: Vec<String> = relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect();
        // Copied, a link would bring in its target's bytes from anywhere on the disk (and the
        // build refuses links in content/): named, and nothing is written.
        if entry.path_is_symlink() {
            links.push(format!("  {}", parts.join("/")));
            continue;
        }
        found.push(parts.join("/"));
    }
    if !links.is_empty() {
        bail!(
            "{} holds symbolic links, which the import does not follow (a copy would publish \
             whatever they point at, and gatehouse refuses links in content/):\n{}\nnothing \
             was written: replace each with a copy of the file or folder it points at, or \
             remove it",
            content.display(),
            links.join("\n")
        );
    }
    Ok(found)
}

fn extension_of(relative: &str) -> String {
    Path::new(relative)
        .extension()
        .map(|extension| extension.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// A Markdown page's output path: `.markdown` (which Hugo also reads) becomes `.md`.
fn markdown_target(relative: &str) -> Option<String> {
    match extension_of(relative).as_str() {
        "md" => Some(relative.to_owned()),
        "markdown" | "mdown" => {
            let stem = &relative[..relative.rfind('.')?];
            Some(format!("{stem}.md"))
        }
        _ => None,
    }
}

fn convert_page(
    source: &Source,
    path: &Path,
    relative: &str,
    target: &str,
    pages: &BTreeSet<String>,
    hidden_by: Option<&str>,
) -> Result<Converted, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{}: cannot read it as UTF-8 text: {error}", path.display()))?;
    let split = read::read(&text)
        .map_err(|(line, message)| format!("{}:{line}: {message}", path.display()))?;
    let page = Page {
        tool: source.tool,
        path: Path::new(target),
        hugo_taxonomies: &source.hugo_taxonomies,
        hidden_by,
    };
    let (map, mut changes) = front_matter::convert(split.front, &page);
    if target != relative {
        changes.renamed.push(format!("file {relative} → {target}"));
    }
    if split.format == Format::Json {
        changes
            .notes
            .push("JSON front matter written as YAML".to_owned());
    }
    let front = front_matter::write(&map, split.format);
    let output_first_line = front.matches('\n').count() + 1;
    let mut body = match source.tool {
        Tool::Hugo => {
            let hugo_pages = hugo_shortcodes::Pages {
                all: pages,
                current: target,
                own_shortcodes: &source.own_shortcodes,
            };
            shortcodes::convert(split.body, split.body_first_line, output_first_line, |at| {
                hugo_shortcodes::rewrite(at, &hugo_pages)
            })
        }
        Tool::Zola => {
            shortcodes::convert(split.body, split.body_first_line, output_first_line, |at| {
                zola::rewrite(at, &source.own_shortcodes)
            })
        }
    };
    Ok(Converted {
        text: format!("{front}{}", std::mem::take(&mut body.text)),
        changes,
        body,
    })
}

/// Writes the planned files under `out`, creating folders as needed.
pub fn write(plan: &Plan, content: &Path, out: &Path) -> anyhow::Result<()> {
    for file in &plan.files {
        let target = out.join(&file.target);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        match &file.action {
            Action::Convert(converted) => std::fs::write(&target, &converted.text),
            Action::Copy => std::fs::copy(content.join(&file.source), &target).map(drop),
        }
        .with_context(|| format!("cannot write {}", target.display()))?;
    }
    Ok(())
}
