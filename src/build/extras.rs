//! Everything a build writes besides documents: taxonomy pages, 404, feeds, sitemap, robots.txt,
//! the public search index, highlight.css, static files and content assets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tera::Context;

use super::output::Output;
use super::{BuildError, Site, feeds, search};
use crate::content::Library;
use crate::render::Theme;

impl Site<'_> {
    /// Taxonomy pages, 404, feeds, sitemap, robots.txt, the search index and highlight.css.
    pub(super) fn render_extras(&self, lists_taxonomies: bool) -> Result<(), BuildError> {
        let base = &self.config.base_url;
        let page_context = |path: &str| {
            let mut context = Context::new();
            context.insert("current_path", path);
            context.insert("current_url", &format!("{base}{path}"));
            context
        };
        self.render_taxonomies(lists_taxonomies)?;
        if self.theme.has("404.html") {
            let html = self.theme.render(
                "404.html",
                &page_context("/404.html"),
                Path::new("404.html"),
            )?;
            self.output.write("404.html", html.as_bytes())?;
        }
        // The member's account page: gate.js fills it from the edge API.
        if self.theme.has("account.html") {
            let html = self.theme.render(
                "account.html",
                &page_context("/account/"),
                Path::new("account.html"),
            )?;
            self.output.write("account/index.html", html.as_bytes())?;
        }
        self.output.write(
            "atom.xml",
            feeds::atom(self.library, self.config).as_bytes(),
        )?;
        self.output.write(
            "sitemap.xml",
            feeds::sitemap(self.library, self.config, lists_taxonomies).as_bytes(),
        )?;
        self.output
            .write("robots.txt", feeds::robots(self.config).as_bytes())?;
        self.output
            .write("search.json", search::index_json(self.library).as_bytes())?;
        if let Some(css) = &self.library.highlight_css {
            self.output.write("highlight.css", css.as_bytes())?;
        }
        Ok(())
    }
}

/// `/a/b/` → `a/b/index.html`
pub(super) fn index_file(path: &str) -> String {
    format!("{}index.html", path.trim_start_matches('/'))
}

/// Theme and site static files (the site's win, file by file), then the assets that sit in
/// `content/`. A path that a generated file already has is an error, not an overwrite.
pub(super) fn copy_static(
    theme: &Theme,
    library: &Library,
    output: &Output,
) -> Result<(), BuildError> {
    let mut files: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in &theme.static_dirs {
        if !dir.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
        {
            if entry.file_type().is_file() {
                let relative = entry.path().strip_prefix(dir).expect("below its root");
                let relative = relative.to_string_lossy().replace('\\', "/");
                files.insert(relative, entry.path().to_path_buf());
            }
        }
    }
    // Fingerprinted files go out under both names: the plain one keeps older templates
    // working, the hashed one is what `asset()` links and what CDNs may cache for good.
    files.par_iter().try_for_each(|(relative, source)| {
        output.copy(source, relative)?;
        match theme.fingerprints.name_of(relative) {
            Some(name) => output.copy(source, name),
            None => Ok(()),
        }
    })?;
    library
        .assets
        .par_iter()
        .try_for_each(|asset| output.copy(&asset.source, &asset.output.to_string_lossy()))?;
    Ok(())
}
