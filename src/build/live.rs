//! Incremental rebuilds for `gatehouse serve`. The last good build stays in memory:
//! - a change that touches only one page's body re-renders that page alone (and then its
//!   gate's bundle, the manifest, the search index and the feed);
//! - an edited template re-renders the pages whose templates extend, include or import it;
//! - anything else — a new or deleted file, a title, date, tag or access change, a static
//!   file, site.toml — rebuilds the whole site, which is swapped in only when it succeeds,
//!   parsing again only the Markdown files that changed (all of them after site.toml does).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use std::time::{Duration, Instant};

use super::output::Output;
use super::{
    BuildError, BuildOptions, BuildReport, Built, EXTRA_TEMPLATES, Site, build_keeping, feeds,
    load_theme, search, taxonomies, template_of, write_gate_lists,
};
use crate::content::{self, CONTENT_DIR, Doc, DocKind, HighlightCache, LoadOptions, ParseCache};

/// The site as `gatehouse serve` last built it.
pub struct LiveSite {
    options: BuildOptions,
    built: Built,
    /// Whole-site rebuilds parse only the files that changed.
    cache: ParseCache,
    /// And highlight only the code they have not seen.
    highlights: Arc<HighlightCache>,
}

/// What one rebuild did.
#[derive(Debug)]
pub enum Update {
    /// The whole site was rebuilt and swapped in.
    Full(BuildReport),
    /// Only these pages (URL paths) were rendered again; none means every page.
    Pages {
        paths: Vec<String>,
        /// Until the pages were on disk, ready for the browser.
        pages_elapsed: Duration,
        /// Until the bundle, manifest, search index and feed had caught up too.
        elapsed: Duration,
    },
}

impl LiveSite {
    /// A full build into `options.out_dir()`, kept for later updates.
    pub fn build(options: BuildOptions) -> Result<(LiveSite, BuildReport), BuildError> {
        let cache = ParseCache::default();
        let highlights = Arc::new(HighlightCache::open(&options.root));
        let (report, built) = build_keeping(&options, Some(&cache), &highlights)?;
        // Saved after this first build only: later ones look up only the files that changed,
        // and saving what they used would drop the rest from the file.
        let _ = highlights.save();
        let site = LiveSite {
            options,
            built,
            cache,
            highlights,
        };
        Ok((site, report))
    }

    pub fn out_dir(&self) -> PathBuf {
        self.options.out_dir()
    }

    pub fn config(&self) -> &crate::config::SiteConfig {
        &self.built.config
    }

    /// The rule of every gate the site has.
    pub fn rules(&self) -> Vec<crate::gate::Rule> {
        self.built
            .gates
            .list
            .iter()
            .map(|g| g.rule.clone())
            .collect()
    }

    /// Rebuilds everything, whatever changed.
    pub fn rebuild_all(&mut self) -> Result<Update, BuildError> {
        let (report, built) = build_keeping(&self.options, Some(&self.cache), &self.highlights)?;
        self.built = built;
        Ok(Update::Full(report))
    }

    /// Rebuilds what `changed` (paths below the site's root) touches. `pages_ready` is called
    /// as soon as re-rendered pages are on disk, before the slower shared files, so a browser
    /// can reload at once. On an error, the previous build stays in place and in memory.
    pub fn update(
        &mut self,
        changed: &[PathBuf],
        pages_ready: impl FnOnce(&[String]),
    ) -> Result<Update, BuildError> {
        let started = Instant::now();
        if let Some(docs) = self.body_only_changes(changed)? {
            return self.rerender(docs, started, pages_ready);
        }
        if let Some(templates) = self.template_changes(changed) {
            return self.rerender_templates(&templates, started, pages_ready);
        }
        self.rebuild_all()
    }

    /// The names of the changed templates, when every change is an edit of a template the
    /// theme already has (a new or deleted one may change which file wins: full build).
    fn template_changes(&self, changed: &[PathBuf]) -> Option<Vec<String>> {
        let theme_dir = Path::new("themes")
            .join(&self.built.config.theme)
            .join("templates");
        changed
            .iter()
            .map(|path| {
                let name = path
                    .strip_prefix(&theme_dir)
                    .or_else(|_| path.strip_prefix("templates"))
                    .ok()?
                    .to_string_lossy()
                    .replace('\\', "/");
                let exists = self.options.root.join(path).is_file();
                (exists && self.built.theme.has(&name)).then_some(name)
            })
            .collect()
    }

    /// Reloads the theme and renders again only what the changed templates reach.
    fn rerender_templates(
        &mut self,
        templates: &[String],
        started: Instant,
        pages_ready: impl FnOnce(&[String]),
    ) -> Result<Update, BuildError> {
        let built = &self.built;
        let theme = load_theme(&built.config, &built.library)?;
        let docs = built.library.docs.len();
        let mut roots: BTreeSet<String> = (0..docs)
            .map(|i| template_of(&built.library, i).to_owned())
            .collect();
        roots.extend(EXTRA_TEMPLATES.map(String::from));
        let affected = theme.affected_by(templates, &roots);
        let reaches = |name: &str| affected.as_ref().is_none_or(|a| a.contains(name));
        let indices: Vec<usize> = (0..docs)
            .filter(|&i| reaches(template_of(&built.library, i)))
            .collect();
        let output = Output::live(&self.out_dir());
        output.guard_with(built.files.clone());
        let site = Site {
            config: &built.config,
            library: &built.library,
            theme: &theme,
            gates: &built.gates,
            files: &built.files,
            output: &output,
            summaries: &built.summaries,
        };
        indices
            .par_iter()
            .try_for_each(|&i| site.render_doc(i).map(|_| ()))?;
        let extras = EXTRA_TEMPLATES.iter().any(|name| reaches(name));
        if extras {
            site.render_extras(taxonomies::lists_taxonomies(&theme))?;
        }
        refuse_public_references(built, &self.options.root)?;
        // Tag pages and the like are not tracked by path: they reload every page.
        let every = extras || indices.len() == docs;
        let paths: Vec<String> = if every {
            Vec::new()
        } else {
            indices
                .iter()
                .map(|&i| built.library.docs[i].path.clone())
                .collect()
        };
        let pages_elapsed = started.elapsed();
        if every || !paths.is_empty() {
            pages_ready(&paths);
        }
        self.built.theme = theme;
        Ok(Update::Pages {
            paths,
            pages_elapsed,
            elapsed: started.elapsed(),
        })
    }

    /// The documents (index, re-parsed version) when every change is a body edit of an
    /// existing Markdown page; `None` when anything needs a full build.
    fn body_only_changes(
        &mut self,
        changed: &[PathBuf],
    ) -> Result<Option<Vec<(usize, Doc)>>, BuildError> {
        let mut docs = Vec::new();
        for path in changed {
            let Ok(relative) = path.strip_prefix(CONTENT_DIR) else {
                return Ok(None);
            };
            if path.extension().is_none_or(|e| e != "md") || !self.options.root.join(path).is_file()
            {
                return Ok(None);
            }
            let Some(index) = self
                .built
                .library
                .docs
                .iter()
                .position(|d| d.source == *path)
            else {
                return Ok(None);
            };
            let highlighter = self.built.library.highlighter.as_ref();
            let options = LoadOptions {
                drafts: self.options.drafts,
            };
            let Some(mut new) = content::parse_one(
                &self.built.config,
                relative,
                options,
                highlighter,
                &self.built.library.shortcodes,
            )?
            else {
                return Ok(None);
            };
            // `@/` links are resolved as a full build does, before the teaser is compared.
            content::resolve_links_of_changed(
                &self.built.library,
                index,
                &mut new,
                &self.options.root,
                self.options.drafts,
            )?;
            let old = &self.built.library.docs[index];
            // Other pages' links to this one's anchors are checked only by a full build.
            if !same_outside_body(old, &new) || !content::same_anchors(old, &new) {
                return Ok(None);
            }
            docs.push((index, new));
        }
        Ok((!docs.is_empty()).then_some(docs))
    }

    fn rerender(
        &mut self,
        docs: Vec<(usize, Doc)>,
        started: Instant,
        pages_ready: impl FnOnce(&[String]),
    ) -> Result<Update, BuildError> {
        let out = self.out_dir();
        let output = Output::live(&out);
        output.guard_with(self.built.files.clone());
        let built = &mut self.built;
        for (index, new) in docs.iter() {
            built.library.docs[*index].body = new.body.clone();
        }
        // A theme may key `cached(…)` output on a page whose body just changed.
        built.theme.forget_cached();
        let site = Site {
            config: &built.config,
            library: &built.library,
            theme: &built.theme,
            gates: &built.gates,
            files: &built.files,
            output: &output,
            summaries: &built.summaries,
        };
        let mut entries = Vec::new();
        for (index, _) in &docs {
            entries.extend(site.render_doc(*index)?);
        }
        refuse_public_references(built, &self.options.root)?;
        let paths: Vec<String> = docs
            .iter()
            .map(|(i, _)| built.library.docs[*i].path.clone())
            .collect();
        let pages_elapsed = started.elapsed();
        pages_ready(&paths);

        // The files every page shares, now that the pages themselves are served.
        let shared = Output::live(&out);
        // Each changed page's gate and its blocks' gates: their bundles hold the new text.
        let mut gates: Vec<usize> = docs
            .iter()
            .flat_map(|(i, _)| {
                let blocks = built.gates.of_block[*i].iter().copied();
                built.gates.of_doc[*i].into_iter().chain(blocks)
            })
            .collect();
        gates.sort_unstable();
        gates.dedup();
        for gate in gates {
            let gate = &built.gates.list[gate];
            let bundle = built.gates.seal_bundle(gate, &built.library);
            shared.write(&bundle.src, &bundle.envelope)?;
            built.bundles.insert(gate.id.to_string(), bundle.src);
        }
        if !entries.is_empty() {
            for entry in entries {
                if let Some(old) = built.manifest.iter_mut().find(|e| e.path == entry.path) {
                    *old = entry;
                }
            }
            write_gate_lists(
                &shared,
                &built.config,
                &built.gates,
                &mut built.manifest,
                &built.bundles,
            )?;
        }
        let public_page = docs.iter().any(|(i, _)| {
            let doc = &built.library.docs[*i];
            doc.kind == DocKind::Page && !doc.is_gated()
        });
        if public_page {
            shared.write("search.json", search::index_json(&built.library).as_bytes())?;
            shared.write(
                "atom.xml",
                feeds::atom(&built.library, &built.config).as_bytes(),
            )?;
        }
        Ok(Update::Pages {
            paths,
            pages_elapsed,
            elapsed: started.elapsed(),
        })
    }
}

/// A re-rendered public page that now refers to a gated file fails like a full build does.
/// The page is already on disk in the dev output; the error is shown in place of the site.
fn refuse_public_references(built: &Built, root: &Path) -> Result<(), BuildError> {
    let problems = built
        .files
        .reference_problems(&built.library, &built.config, root);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(crate::diagnostic::Diagnostics(problems).into())
    }
}

/// True when everything that other pages, lists or the tree read from a document is
/// unchanged: only its body (which nothing else shows) differs.
fn same_outside_body(old: &Doc, new: &Doc) -> bool {
    old.kind == new.kind
        && old.path == new.path
        && old.title == new.title
        && old.description == new.description
        && old.date == new.date
        && old.updated == new.updated
        && old.teaser_html == new.teaser_html
        && old.teaser_in_body == new.teaser_in_body
        && old.tags == new.tags
        && old.taxonomies == new.taxonomies
        && old.paginate == new.paginate
        && old.weight == new.weight
        && old.template == new.template
        && old.extra == new.extra
        && old.own_access == new.own_access
        && old.public_files == new.public_files
        && old.aliases == new.aliases
        && same_block_rules(old, new)
}

/// The gates were planned for the old blocks: a block added, removed or given another rule
/// needs a whole build.
fn same_block_rules(old: &Doc, new: &Doc) -> bool {
    old.body.blocks.len() == new.body.blocks.len()
        && old
            .body
            .blocks
            .iter()
            .zip(&new.body.blocks)
            .all(|(a, b)| a.access == b.access)
}
