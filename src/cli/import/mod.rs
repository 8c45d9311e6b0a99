//! `gatehouse import hugo|zola SRC`: converts another generator's content tree into a
//! gatehouse `content/` (issue 16). The build stays strict; this is the one step that relaxes
//! it, so it plans every file first, writes nothing if any front matter cannot be read or an
//! existing file would be overwritten, and reports each change it made (see docs/import.md).

mod emit;
mod front_matter;
mod hugo;
mod hugo_shortcodes;
mod plan;
mod read;
mod report;
mod shortcodes;
mod value;
mod zola;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The generator the site was made with.
    #[arg(value_enum)]
    pub tool: Tool,
    /// The Hugo or Zola site's folder (the one holding content/), or a content folder itself.
    /// It is only read, never changed.
    #[arg(value_name = "SRC")]
    pub src: PathBuf,
    /// Where to write the converted content (default: content/ in the site's folder, --root).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite files that already exist in the output folder (without it, the import
    /// refuses and writes nothing).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tool {
    Hugo,
    Zola,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Hugo => "hugo",
            Tool::Zola => "zola",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Tool::Hugo => "Hugo",
            Tool::Zola => "Zola",
        }
    }

    /// gatehouse aliases start at the site's root; each tool reads a relative one its own way.
    fn root_relative_alias(self, url: &str, page: &Path) -> Result<String, String> {
        match self {
            Tool::Hugo => hugo::root_relative_alias(url, page),
            Tool::Zola => zola::root_relative_alias(url),
        }
    }
}

pub fn run(root: &Path, args: ImportArgs) -> anyhow::Result<()> {
    let source = plan::Source::find(args.tool, &args.src)?;
    let out = args.out.clone().unwrap_or_else(|| root.join("content"));
    refuse_overlap(&source.content, &out)?;
    let plan = plan::plan(&source)?;
    let existing: Vec<PathBuf> = plan
        .files
        .iter()
        .map(|file| out.join(&file.target))
        .filter(|path| path.exists())
        .collect();
    if !existing.is_empty() && !args.force {
        let shown: Vec<String> = existing
            .iter()
            .take(10)
            .map(|path| format!("  {}", path.display()))
            .collect();
        let more = if existing.len() > 10 {
            format!("\n  … and {} more", existing.len() - 10)
        } else {
            String::new()
        };
        bail!(
            "{} file(s) of the import already exist in {}:\n{}{more}\nnothing was written: \
             import into an empty folder (--out DIR), or pass --force to overwrite them",
            existing.len(),
            out.display(),
            shown.join("\n")
        );
    }
    plan::write(&plan, &source.content, &out)?;
    print!("{}", report::render(&source, &plan, &out, root));
    Ok(())
}

/// Writing into the source tree would change the site being imported (and could read
/// back the files just written); writing over the output's parent would overwrite the site.
fn refuse_overlap(content: &Path, out: &Path) -> anyhow::Result<()> {
    let content = content
        .canonicalize()
        .with_context(|| format!("cannot read {}", content.display()))?;
    let out_resolved = resolve(out)?;
    if out_resolved.starts_with(&content) || content.starts_with(&out_resolved) {
        bail!(
            "the output folder {} overlaps the source {}: the import never changes its source; \
             choose another --out",
            out.display(),
            content.display()
        );
    }
    Ok(())
}

/// `path` made absolute with its existing part resolved (it may not exist yet).
fn resolve(path: &Path) -> anyhow::Result<PathBuf> {
    let absolute =
        std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return Ok(rest.iter().rev().fold(real, |path, part| path.join(part)));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return Ok(absolute),
        }
    }
}
