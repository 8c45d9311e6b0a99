//! What taxonomy templates receive (docs/templates.md): `taxonomy` (the taxonomy as site.toml
//! declares it), `terms` on `taxonomy_list.html`, `term` on `taxonomy_single.html`. Terms list
//! page summaries only, so a gated page shows there what its summary shows (DESIGN §3).

use serde::Serialize;
use tera::Value;

use crate::config::{SiteConfig, taxonomy_title};
use crate::content::{Term, term_path};

/// A taxonomy, as templates see it: `{name, slug, title, path, paginate_by, feeds}`.
#[derive(Serialize)]
pub struct TaxonomyCtx<'a> {
    pub name: &'a str,
    /// The same as `name`, which is already a slug (Zola's field).
    pub slug: &'a str,
    /// `Categories`: a heading for its pages.
    pub title: String,
    pub path: String,
    pub paginate_by: Option<usize>,
    pub feeds: bool,
}

/// An item of `terms`: `{name, slug, path, permalink, count}`.
#[derive(Serialize)]
pub struct TermItemCtx<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub path: String,
    pub permalink: String,
    pub count: usize,
}

/// `term`: `{name, slug, path, permalink, feed, pages}`; `pages` are summaries, newest first
/// (all of them, also when the term is paginated: `paginator.pages` holds one pager's).
#[derive(Serialize)]
pub struct TermCtx<'a> {
    pub name: &'a str,
    pub slug: &'a str,
    pub path: &'a str,
    pub permalink: String,
    /// The term's Atom feed, when `[taxonomies] feeds` is on.
    pub feed: Option<String>,
    pub pages: Value,
}

pub fn taxonomy_ctx<'a>(name: &'a str, config: &SiteConfig) -> TaxonomyCtx<'a> {
    TaxonomyCtx {
        name,
        slug: name,
        title: taxonomy_title(name),
        path: format!("/{name}/"),
        paginate_by: config.taxonomies.paginate_by,
        feeds: config.taxonomies.feeds,
    }
}

pub fn term_items<'a>(
    taxonomy: &str,
    terms: &'a [Term],
    config: &SiteConfig,
) -> Vec<TermItemCtx<'a>> {
    terms
        .iter()
        .map(|term| {
            let path = term_path(taxonomy, &term.slug);
            TermItemCtx {
                name: &term.name,
                slug: &term.slug,
                permalink: format!("{}{path}", config.base_url),
                path,
                count: term.pages.len(),
            }
        })
        .collect()
}

pub fn term_ctx<'a>(
    term: &'a Term,
    path: &'a str,
    config: &SiteConfig,
    pages: Value,
) -> TermCtx<'a> {
    TermCtx {
        name: &term.name,
        slug: &term.slug,
        path,
        permalink: format!("{}{path}", config.base_url),
        feed: config.taxonomies.feeds.then(|| format!("{path}atom.xml")),
        pages,
    }
}
