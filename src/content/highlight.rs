//! Syntax highlighting of fenced code with giallo (VS Code grammars), as CSS classes so one
//! stylesheet (`/highlight.css`) themes every page.

use std::sync::{Arc, OnceLock};

use giallo::{HighlightOptions, HtmlRenderer, Registry, RenderOptions, ThemeVariant};

use super::highlight_cache::{self, HighlightCache};
use super::highlight_check;

pub(super) const CLASS_PREFIX: &str = "g-";

pub struct Highlighter {
    registry: Registry,
    /// One copy of `registry` per rayon thread, made on the thread's first block. giallo keeps
    /// each compiled pattern set behind a `Mutex` in the registry it was compiled for, held
    /// for the whole regex search, which is most of highlighting: threads sharing one registry
    /// wait for each other whenever they highlight the same language. A clone starts with an
    /// empty pattern cache, so each thread compiles (and locks) its own.
    per_thread: Vec<OnceLock<Registry>>,
    theme: String,
    renderer: HtmlRenderer,
    /// Highlighted HTML from earlier builds, looked up before highlighting.
    cache: Option<Arc<HighlightCache>>,
}

impl Highlighter {
    /// Loads the built-in grammars and checks that `theme` exists.
    pub fn load(theme: &str) -> Result<Highlighter, String> {
        // `builtin` links the grammars itself.
        let registry =
            Registry::builtin().map_err(|error| format!("cannot load the highlighter: {error}"))?;
        if !registry.contains_theme(theme) {
            return Err(format!(
                "highlight_theme `{theme}` is not a known theme (try `github-light`, \
                 `github-dark`, `catppuccin-latte` or `vitesse-light`)"
            ));
        }
        Ok(Highlighter {
            registry,
            per_thread: (0..rayon::current_num_threads())
                .map(|_| OnceLock::new())
                .collect(),
            theme: theme.to_owned(),
            renderer: HtmlRenderer {
                css_class_prefix: Some(CLASS_PREFIX.to_owned()),
                ..HtmlRenderer::default()
            },
            cache: None,
        })
    }

    /// Looks blocks up in `cache` before highlighting them, and adds the ones it lacks.
    pub fn with_cache(mut self, cache: Option<Arc<HighlightCache>>) -> Highlighter {
        self.cache = cache;
        self
    }

    /// Highlighted HTML for `code`, or `None` when the language is unknown.
    pub fn highlight(&self, code: &str, lang: &str) -> Option<String> {
        let Some(cache) = &self.cache else {
            return self.highlight_now(code, lang);
        };
        let key = highlight_cache::key(&self.theme, lang, code);
        // A cached entry is used only if it is this block's highlighting: the file can be
        // written by others than the author (a CI cache, a shared volume).
        if let Some(html) = cache.get(&key, |html| highlight_check::is_highlight_of(html, code)) {
            return Some(html);
        }
        let html = self.highlight_now(code, lang)?;
        cache.insert(key, &html);
        Some(html)
    }

    fn highlight_now(&self, code: &str, lang: &str) -> Option<String> {
        let options = HighlightOptions::new(lang, ThemeVariant::Single(self.theme.as_str()));
        let highlighted = self.registry().highlight(code, &options).ok()?;
        Some(
            self.renderer
                .render(&highlighted, &RenderOptions::default()),
        )
    }

    /// This thread's registry: its own on a rayon thread, else the shared one (`serve`
    /// re-parsing a single page).
    fn registry(&self) -> &Registry {
        match rayon::current_thread_index().and_then(|index| self.per_thread.get(index)) {
            Some(slot) => slot.get_or_init(|| self.registry.clone()),
            None => &self.registry,
        }
    }

    /// The stylesheet for the classes this highlighter emits.
    pub fn css(&self) -> String {
        self.registry
            .generate_css(&self.theme, CLASS_PREFIX)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "fn main() {\n    let x = \"a\";\n}\n";

    #[test]
    fn every_thread_highlights_a_block_alike() {
        let highlighter = Highlighter::load("github-light").expect("a known theme");
        let here = highlighter.highlight(CODE, "rust").expect("rust is known");
        assert!(here.contains("class=\"g-"), "{here}");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .expect("a thread pool");
        let there: Vec<String> = pool.install(|| {
            use rayon::prelude::*;
            (0..4)
                .into_par_iter()
                .filter_map(|_| highlighter.highlight(CODE, "rust"))
                .collect()
        });
        assert_eq!(there, vec![here; 4]);
    }

    #[test]
    fn a_cached_block_is_the_block_highlighted() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let cache = Arc::new(HighlightCache::open(dir.path()));
        let highlighter = Highlighter::load("github-light")
            .expect("a known theme")
            .with_cache(Some(cache.clone()));
        let first = highlighter.highlight(CODE, "rust");
        let second = highlighter.highlight(CODE, "rust");
        assert!(first.is_some());
        assert_eq!(first, second);
        assert_eq!(cache.counts(), (1, 1));
        assert_eq!(highlighter.highlight(CODE, "no-such-language"), None);
        assert_eq!(cache.counts(), (1, 1), "an unknown language is not cached");
    }
}
