//! One document of the site: a page, or a section (`_index.md`) that lists pages.

use std::path::PathBuf;

use jiff::Timestamp;

use super::access::Access;
use super::aliases::Alias;
use super::markdown::Rendered;
use crate::glob::Glob;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocKind {
    Page,
    Section,
}

#[derive(Debug, Clone)]
pub struct Doc {
    pub kind: DocKind,
    /// The source file relative to the site root, e.g. `content/course/lesson-1.md`.
    /// Implicit sections (folders without `_index.md`) name their folder.
    pub source: PathBuf,
    /// The URL path, always with a trailing slash, e.g. `/course/lesson-1/`.
    pub path: String,
    pub parent: Option<usize>,
    /// Pages directly in this section, in display order.
    pub pages: Vec<usize>,
    pub subsections: Vec<usize>,
    pub title: String,
    pub description: Option<String>,
    pub date: Option<Timestamp>,
    pub updated: Option<Timestamp>,
    /// The public teaser, rendered: `summary:`, else the Markdown above `<!-- more -->`.
    pub teaser_html: Option<String>,
    /// The teaser is the top of the body (`<!-- more -->`), so a decrypted body repeats it;
    /// a `summary:` is not part of the body.
    pub teaser_in_body: bool,
    /// The `tags` taxonomy's terms.
    pub tags: Vec<String>,
    /// The terms of every other taxonomy the document names, by taxonomy (see
    /// [`Doc::terms`]).
    pub taxonomies: std::collections::BTreeMap<String, Vec<String>>,
    /// A section's `paginate_by:`.
    pub paginate: Option<super::paginate::Paginate>,
    pub weight: Option<i64>,
    pub template: Option<String>,
    pub extra: serde_json::Value,
    /// What the front matter itself says; `None` inherits from the parent section.
    pub own_access: Option<Access>,
    pub access: Access,
    /// The folder below `content/` whose files this document owns (DESIGN §3 Files): a
    /// section's own folder or a page bundle's (`lesson-3/index.md`, any Markdown extension);
    /// `None` for a page in a plain file.
    pub owned_dir: Option<String>,
    /// `public_files:` globs: files this document owns that stay public (DESIGN §3 Files).
    pub public_files: Vec<Glob>,
    /// `aliases:`: old URLs that redirect here.
    pub aliases: Vec<Alias>,
    pub body: Rendered,
}

impl Doc {
    pub fn is_gated(&self) -> bool {
        matches!(self.access, Access::Gated(_))
    }

    /// The document's terms in `taxonomy` (`tags`, `categories`…).
    pub fn terms(&self, taxonomy: &str) -> &[String] {
        if taxonomy == crate::config::DEFAULT_TAXONOMY {
            &self.tags
        } else {
            self.taxonomies.get(taxonomy).map_or(&[], Vec::as_slice)
        }
    }

    /// A public body as a feed shows it: each members block replaced by its public `else`
    /// part (pages show the block's slot instead, which a feed reader could not open).
    pub fn public_body_html(&self) -> String {
        super::shortcodes::fill_blocks(&self.body.html, |n| {
            let block = self.body.blocks.get(n.wrapping_sub(1))?;
            Some(block.else_html.clone())
        })
        .into_owned()
    }

    /// The public teaser, or nothing: nothing of a body is ever excerpted automatically
    /// (DESIGN §3).
    pub fn teaser_html(&self) -> &str {
        self.teaser_html.as_deref().unwrap_or("")
    }

    /// What a gated document seals: the rendered HTML of the whole body (DESIGN §4). The
    /// browser shows it in place of the teaser and the locked slot.
    pub fn sealed_html(&self) -> &str {
        &self.body.html
    }

    /// When the document last changed, as far as the public may know: `updated` is private
    /// front matter on a gated document (DESIGN §3), so only `date` is used there.
    pub fn last_modified(&self) -> Option<Timestamp> {
        if self.is_gated() {
            self.date
        } else {
            self.updated.or(self.date)
        }
    }
}
