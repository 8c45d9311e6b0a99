//! The console's pages: the theme's `templates/admin/*` (and `console.css`, `console.js`), with
//! the site's own `templates/admin/*` over them, compiled once when the edge starts so that a
//! broken template stops the start rather than an operator's afternoon.

use std::path::{Path, PathBuf};

use tera::{Context, Tera};

use crate::config::SiteConfig;

/// The templates every console needs; a site may override each one.
pub const REQUIRED: [&str; 3] = ["admin/base.html", "admin/login.html", "admin/message.html"];

#[derive(Debug, thiserror::Error)]
pub enum PagesError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("the operator console's templates do not compile: {0}")]
    Compile(String),
    #[error(
        "the operator console needs {0}, which neither the theme nor the site's templates/ has"
    )]
    Missing(&'static str),
}

/// The compiled console templates.
#[derive(Debug)]
pub struct Pages {
    tera: Tera,
}

impl Pages {
    pub fn load(config: &SiteConfig) -> Result<Pages, PagesError> {
        let mut sources: Vec<(String, String)> = Vec::new();
        for dir in [
            config.theme_dir().join("templates"),
            config.root.join("templates"),
        ] {
            for (name, text) in read_admin_templates(&dir, &config.root)? {
                match sources.iter_mut().find(|(known, _)| *known == name) {
                    Some(slot) => slot.1 = text,
                    None => sources.push((name, text)),
                }
            }
        }
        for required in REQUIRED {
            if !sources.iter().any(|(name, _)| name == required) {
                return Err(PagesError::Missing(required));
            }
        }
        let mut tera = Tera::new();
        super::format::register(&mut tera);
        tera.add_raw_templates(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())))
            .map_err(|error| PagesError::Compile(error.to_string()))?;
        Ok(Pages { tera })
    }

    pub fn has(&self, name: &str) -> bool {
        self.tera.contains_template(name)
    }

    /// Renders a page; a failure is logged with the template's own message and shown as a
    /// server error that names only the template.
    pub fn render(&self, name: &str, context: &Context) -> Result<String, String> {
        self.tera
            .render(name, context)
            .map_err(|error| format!("{name}: {}", error_chain(&error)))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn read_admin_templates(dir: &Path, root: &Path) -> Result<Vec<(String, String)>, PagesError> {
    let admin: PathBuf = dir.join("admin");
    let mut found = Vec::new();
    if !admin.is_dir() {
        return Ok(found);
    }
    for entry in walkdir::WalkDir::new(&admin).sort_by_file_name() {
        let shown = |path: &Path| {
            path.strip_prefix(root)
                .unwrap_or(path)
                .display()
                .to_string()
        };
        let entry = entry.map_err(|e| PagesError::Read(shown(&admin), std::io::Error::other(e)))?;
        if !entry.file_type().is_file() || entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let name = entry
            .path()
            .strip_prefix(dir)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(entry.path())
            .map_err(|e| PagesError::Read(shown(entry.path()), e))?;
        found.push((name, text));
    }
    Ok(found)
}
