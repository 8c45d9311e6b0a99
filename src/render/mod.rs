//! Tera setup: the theme's templates, overridden file by file by the site's `templates/`,
//! compiled once per build and shared by every rendering thread.

mod assets;
mod cached;
pub mod context;
mod deps;
pub mod paginator;
mod slot;
pub mod taxonomy;

pub use slot::{Offer, Slot, offers_for};

use std::path::{Path, PathBuf};

use tera::{Context, Tera};
use walkdir::WalkDir;

use crate::config::SiteConfig;
use crate::diagnostic::relative;
pub use assets::{Fingerprints, SERVICE_WORKER};

/// Templates every theme must provide; the others are optional.
pub const REQUIRED_TEMPLATES: [&str; 3] = ["index.html", "section.html", "page.html"];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read template {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("templates of theme `{theme}`: {message}")]
    Compile { theme: String, message: String },
    #[error("theme `{theme}` has no {name} (looked in {dir})")]
    Missing {
        theme: String,
        name: String,
        dir: PathBuf,
    },
    #[error("{source_file}: template {template} failed: {message}")]
    Render {
        source_file: String,
        template: String,
        message: String,
    },
    #[error(
        "{source_file}: front matter names template `{template}`, which neither themes/{theme}/templates/ nor templates/ has"
    )]
    UnknownTemplate {
        source_file: String,
        template: String,
        theme: String,
    },
    #[error(
        "{source_file}: template {template} does not print the gate slot of this gated page; add `{{{{ page.gate.slot | safe }}}}` (or `section.gate.slot`) where the body belongs"
    )]
    MissingSlot {
        source_file: String,
        template: String,
    },
}

/// A compiled theme.
pub struct Theme {
    tera: Tera,
    name: String,
    /// Theme `static/` first, then the site's, so the site's files win.
    pub static_dirs: Vec<PathBuf>,
    /// The fingerprinted names of the static `.js` and `.css` files.
    pub fingerprints: Fingerprints,
    /// Each template and the templates it extends, includes or imports.
    references: Vec<(String, Vec<String>)>,
    /// What `cached(…)` rendered in this build.
    cache: std::sync::Arc<cached::Cache>,
}

impl Theme {
    /// Loads `themes/<theme>/templates/**` and the site's `templates/**` over it.
    pub fn load(config: &SiteConfig) -> Result<Theme, RenderError> {
        let theme_dir = config.theme_dir();
        let mut sources: Vec<(String, String)> = Vec::new();
        for dir in [theme_dir.join("templates"), config.root.join("templates")] {
            // Shortcodes are the content's templates, compiled apart with their own filter;
            // `admin/` is the edge's operator console, never part of the site.
            let pages = read_templates(&dir)?.into_iter().filter(|(name, _)| {
                !name.starts_with("shortcodes/") && !name.starts_with("admin/")
            });
            for (name, text) in pages {
                match sources.iter_mut().find(|(existing, _)| *existing == name) {
                    Some(slot) => slot.1 = text,
                    None => sources.push((name, text)),
                }
            }
        }
        for required in REQUIRED_TEMPLATES {
            if !sources.iter().any(|(name, _)| name == required) {
                return Err(RenderError::Missing {
                    theme: config.theme.clone(),
                    name: required.to_owned(),
                    dir: relative(&config.root, &theme_dir.join("templates")),
                });
            }
        }
        let static_dirs = vec![theme_dir.join("static"), config.root.join("static")];
        let fingerprints = Fingerprints::of(&static_dirs);
        let mut tera = Tera::new();
        register_asset_function(&mut tera, fingerprints.clone());
        let cache = cached::Cache::register(&mut tera);
        tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())))
            .map_err(|error| RenderError::Compile {
                theme: config.theme.clone(),
                message: error.to_string(),
            })?;
        let references = sources
            .iter()
            .map(|(name, text)| (name.clone(), deps::references(text)))
            .collect();
        Ok(Theme {
            tera,
            name: config.theme.clone(),
            static_dirs,
            fingerprints,
            references,
            cache,
        })
    }

    /// The templates whose output may change with `changed`: those, and every template that
    /// extends, includes or imports one of them, however indirectly. `None` when a changed
    /// template reaches pages some other way (e.g. Tera components, usable from anywhere):
    /// one that nothing references and that is not one of the `roots` rendered directly.
    pub fn affected_by(
        &self,
        changed: &[String],
        roots: &std::collections::BTreeSet<String>,
    ) -> Option<std::collections::BTreeSet<String>> {
        deps::closure(&self.references, changed, roots)
    }

    /// Forgets what `cached(…)` rendered: the content it was rendered from may have changed.
    pub fn forget_cached(&self) {
        self.cache.clear();
    }

    pub fn has(&self, template: &str) -> bool {
        self.tera.contains_template(template)
    }

    /// Values every template sees (`config`, `nav`).
    pub fn set_global(&mut self, key: &'static str, value: &impl serde::Serialize) {
        // `cached` renders with a copy of the templates taken at the first render.
        assert!(
            !self.cache.is_prepared(),
            "Theme::set_global after rendering began: cached(…) would not see `{key}`"
        );
        self.tera.global_context().insert(key, value);
    }

    /// Renders `template`; `source_file` names the document in errors.
    pub fn render(
        &self,
        template: &str,
        context: &Context,
        source_file: &Path,
    ) -> Result<String, RenderError> {
        let source_file = source_file.display().to_string();
        if !self.tera.contains_template(template) {
            return Err(RenderError::UnknownTemplate {
                source_file,
                template: template.to_owned(),
                theme: self.name.clone(),
            });
        }
        self.cache.prepare(&self.tera);
        self.tera
            .render(template, context)
            .map_err(|error| RenderError::Render {
                source_file,
                template: template.to_owned(),
                message: error.to_string(),
            })
    }
}

/// `{{ asset(path="gate.js") }}` → `/gate.<hash>.js`; an unknown path is an error that lists
/// the files it could have meant.
fn register_asset_function(tera: &mut Tera, fingerprints: Fingerprints) {
    tera.register_function(
        "asset",
        move |kwargs: tera::Kwargs, _: &tera::State| -> tera::TeraResult<String> {
            let path = kwargs.must_get::<&str>("path")?;
            let relative = path.trim_start_matches('/');
            match fingerprints.name_of(relative) {
                Some(name) => Ok(format!("/{name}")),
                None => Err(tera::Error::message(format!(
                    "asset(path=\"{path}\"): no such .js or .css file in the theme's or the \
                     site's static/ folder (known: {})",
                    fingerprints.known().collect::<Vec<_>>().join(", ")
                ))),
            }
        },
    );
}

fn read_templates(dir: &Path) -> Result<Vec<(String, String)>, RenderError> {
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    for entry in WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|error| RenderError::Read {
            path: dir.to_path_buf(),
            source: std::io::Error::other(error),
        })?;
        if !entry.file_type().is_file() || entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let text = std::fs::read_to_string(path).map_err(|source| RenderError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path
            .strip_prefix(dir)
            .expect("walkdir yields paths below its root")
            .to_string_lossy()
            .replace('\\', "/");
        found.push((name, text));
    }
    Ok(found)
}

/// HTML-escapes text for an attribute or element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    pulldown_cmark_escape::escape_html(&mut out, text).expect("writing to a String cannot fail");
    out
}
