//! Taxonomy pages: `/<taxonomy>/` lists its terms (taxonomy_list.html), `/<taxonomy>/<term>/`
//! the pages that carry a term (taxonomy_single.html, paginated by `[taxonomies]
//! paginate_by`), and `/<taxonomy>/<term>/atom.xml` its feed. They list page summaries and
//! feed entries only, so a gated page shows there its title and teaser, never its body
//! (DESIGN §3: taxonomies are public by design).

use std::path::Path;

use rayon::prelude::*;
use tera::{Context, Value};

use super::extras::index_file;
use super::feeds::{self, FeedOf};
use super::{BuildError, Site};
use crate::config::taxonomy_title;
use crate::content::{DEFAULT_PAGINATE_PATH, Paginate, Taxonomy, Term};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::render::paginator::paginators;
use crate::render::taxonomy::{taxonomy_ctx, term_ctx, term_items};

const LIST_TEMPLATE: &str = "taxonomy_list.html";
const SINGLE_TEMPLATE: &str = "taxonomy_single.html";

/// Whether the theme lists taxonomies at all: without taxonomy_list.html, no taxonomy pages
/// are written (feeds still are).
pub(super) fn lists_taxonomies(theme: &crate::render::Theme) -> bool {
    theme.has(LIST_TEMPLATE)
}

impl Site<'_> {
    /// Every taxonomy's pages and term feeds; a taxonomy without terms writes nothing.
    pub(super) fn render_taxonomies(&self, lists: bool) -> Result<(), BuildError> {
        let feeds = self.config.taxonomies.feeds;
        let used: Vec<&Taxonomy> = self
            .library
            .taxonomies
            .iter()
            .filter(|taxonomy| !taxonomy.terms.is_empty())
            .collect();
        if lists || feeds {
            self.check_taxonomy_paths(&used)?;
        }
        for taxonomy in used {
            if feeds {
                taxonomy
                    .terms
                    .par_iter()
                    .try_for_each(|term| self.write_term_feed(taxonomy, term))?;
            }
            if !lists {
                continue;
            }
            let path = taxonomy.path();
            let mut context = self.list_context(&path);
            context.insert("taxonomy", &taxonomy_ctx(&taxonomy.name, self.config));
            context.insert(
                "terms",
                &term_items(&taxonomy.name, &taxonomy.terms, self.config),
            );
            let html = self
                .theme
                .render(LIST_TEMPLATE, &context, Path::new(&path))?;
            self.output.write(&index_file(&path), html.as_bytes())?;
            if self.theme.has(SINGLE_TEMPLATE) {
                taxonomy
                    .terms
                    .par_iter()
                    .try_for_each(|term| self.write_term_pages(taxonomy, term))?;
            }
        }
        Ok(())
    }

    fn list_context(&self, path: &str) -> Context {
        let mut context = Context::new();
        context.insert("current_path", path);
        context.insert("current_url", &format!("{}{path}", self.config.base_url));
        context
    }

    /// `/<taxonomy>/<term>/` and its later pagers.
    fn write_term_pages(&self, taxonomy: &Taxonomy, term: &Term) -> Result<(), BuildError> {
        let path = term.path(&taxonomy.name);
        let pages: Vec<Value> = term
            .pages
            .iter()
            .map(|&i| self.summaries[i].clone())
            .collect();
        let paginate = self.config.taxonomies.paginate_by.map(|by| Paginate {
            by,
            path: DEFAULT_PAGINATE_PATH.to_owned(),
        });
        let pagers = match &paginate {
            Some(paginate) => paginators(paginate, &path, &self.config.base_url, &pages),
            None => Vec::new(),
        };
        let mut context = self.list_context(&path);
        context.insert("taxonomy", &taxonomy_ctx(&taxonomy.name, self.config));
        context.insert(
            "term",
            &term_ctx(term, &path, self.config, Value::from(pages)),
        );
        context.insert("paginator", &pagers.first());
        let source = Path::new(&path);
        let html = self.theme.render(SINGLE_TEMPLATE, &context, source)?;
        self.output.write(&index_file(&path), html.as_bytes())?;
        self.write_later_pagers(
            &path,
            paginate.as_ref(),
            &pagers,
            SINGLE_TEMPLATE,
            &mut context,
            source,
        )
    }

    fn write_term_feed(&self, taxonomy: &Taxonomy, term: &Term) -> Result<(), BuildError> {
        let path = term.path(&taxonomy.name);
        let feed_path = format!("{path}atom.xml");
        let title = format!(
            "{} · {}: {}",
            self.config.title,
            taxonomy_title(&taxonomy.name),
            term.name
        );
        let of = FeedOf {
            title: &title,
            path: &path,
            feed_path: &feed_path,
        };
        let feed = feeds::atom_of(self.library, self.config, term.pages.iter().copied(), &of);
        self.output.write(&feed_path, feed.as_bytes())?;
        Ok(())
    }

    /// A document under `/<taxonomy>/` would be written over by the taxonomy's pages, or hide
    /// them: an error naming the file and the taxonomy, rather than a bare output collision.
    fn check_taxonomy_paths(&self, used: &[&Taxonomy]) -> Result<(), BuildError> {
        let mut problems = Vec::new();
        for taxonomy in used {
            let folder = taxonomy.path();
            for doc in self
                .library
                .docs
                .iter()
                .filter(|doc| doc.path.starts_with(&folder))
            {
                problems.push(Diagnostic::new(
                    &doc.source,
                    None,
                    format!(
                        "this file makes {}, inside {folder}, where the taxonomy `{}` \
                         (site.toml `[taxonomies] names`) writes its pages: rename its folder \
                         or set its `slug`, or rename the taxonomy",
                        doc.path, taxonomy.name
                    ),
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Diagnostics(problems).into())
        }
    }
}
