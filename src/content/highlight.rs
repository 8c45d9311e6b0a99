//! Syntax highlighting of fenced code with giallo (VS Code grammars), as CSS classes so one
//! stylesheet (`/highlight.css`) themes every page.

use giallo::{HighlightOptions, HtmlRenderer, Registry, RenderOptions, ThemeVariant};

const CLASS_PREFIX: &str = "g-";

pub struct Highlighter {
    registry: Registry,
    theme: String,
    renderer: HtmlRenderer,
}

impl Highlighter {
    /// Loads the built-in grammars and checks that `theme` exists.
    pub fn load(theme: &str) -> Result<Highlighter, String> {
        let mut registry =
            Registry::builtin().map_err(|error| format!("cannot load the highlighter: {error}"))?;
        registry.link_grammars();
        if !registry.contains_theme(theme) {
            return Err(format!(
                "highlight_theme `{theme}` is not a known theme (try `github-light`, \
                 `github-dark`, `catppuccin-latte` or `vitesse-light`)"
            ));
        }
        Ok(Highlighter {
            registry,
            theme: theme.to_owned(),
            renderer: HtmlRenderer {
                css_class_prefix: Some(CLASS_PREFIX.to_owned()),
                ..HtmlRenderer::default()
            },
        })
    }

    /// Highlighted HTML for `code`, or `None` when the language is unknown.
    pub fn highlight(&self, code: &str, lang: &str) -> Option<String> {
        let options = HighlightOptions::new(lang, ThemeVariant::Single(self.theme.as_str()));
        let highlighted = self.registry.highlight(code, &options).ok()?;
        Some(
            self.renderer
                .render(&highlighted, &RenderOptions::default()),
        )
    }

    /// The stylesheet for the classes this highlighter emits.
    pub fn css(&self) -> String {
        self.registry
            .generate_css(&self.theme, CLASS_PREFIX)
            .unwrap_or_default()
    }
}
