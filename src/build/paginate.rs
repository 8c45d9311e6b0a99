//! Writing paginated lists (Zola's scheme): pager 1 is the list's own page, written by its
//! caller; pagers 2… go at `<list>page/<n>/`, and `<list>page/1/` redirects to the list.
//! Every pager gets the list's own context with its `paginator` (`render::paginator`), so a
//! gated section's pagers show exactly what its first page shows: the teaser, the slot and
//! page summaries, never a body.

use std::path::Path;

use tera::Context;

use super::extras::index_file;
use super::redirect::redirect_page;
use super::{BuildError, Site};
use crate::content::Paginate;
use crate::render::paginator::{PaginatorCtx, paginators};

impl Site<'_> {
    /// The paginators of the section `index`: none unless it says `paginate_by:`.
    pub(super) fn section_paginators(&self, index: usize) -> Vec<PaginatorCtx> {
        let doc = &self.library.docs[index];
        let Some(paginate) = &doc.paginate else {
            return Vec::new();
        };
        let items: Vec<tera::Value> = doc
            .pages
            .iter()
            .map(|&i| self.summaries[i].clone())
            .collect();
        paginators(paginate, &doc.path, &self.config.base_url, &items)
    }

    /// Renders pagers 2… of the list at `list_path` with `template` and `context` (the first
    /// pager's, which this changes), and writes the redirect from `page/1/` to the list.
    pub(super) fn write_later_pagers(
        &self,
        list_path: &str,
        paginate: Option<&Paginate>,
        pagers: &[PaginatorCtx],
        template: &str,
        context: &mut Context,
        source: &Path,
    ) -> Result<(), BuildError> {
        let Some(paginate) = paginate else {
            return Ok(());
        };
        let base = &self.config.base_url;
        for pager in pagers.iter().skip(1) {
            context.insert("current_path", &pager.path);
            context.insert("current_url", &format!("{base}{}", pager.path));
            context.insert("paginator", pager);
            let html = self.theme.render(template, context, source)?;
            self.output
                .write(&index_file(&pager.path), html.as_bytes())?;
        }
        let first = format!("{}1/", paginate.folder(list_path));
        let redirect = redirect_page(&format!("{base}{list_path}"));
        self.output
            .write(&index_file(&first), redirect.as_bytes())?;
        Ok(())
    }
}
