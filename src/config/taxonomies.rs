//! `[taxonomies]`: the taxonomies pages may use (Zola's and Hugo's tags, categories, series…),
//! whether their term pages are paginated, and whether each term has an Atom feed.

use std::collections::HashMap;

use toml::Spanned;

use super::raw::RawTaxonomies;
use super::validate::Checker;
use crate::diagnostic::line_of;

/// The taxonomy a site has when site.toml says nothing, so existing sites keep `/tags/`.
pub const DEFAULT_TAXONOMY: &str = "tags";

/// Names whose pages would land on the build's own: the account page, and the root section's
/// pagination (`/page/2/`).
const RESERVED: [&str; 2] = ["account", "page"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxonomyConfig {
    /// In site.toml's order: the order templates list them in.
    pub names: Vec<String>,
    /// Term pages list this many pages each, then continue at `page/2/`; `None` lists all.
    pub paginate_by: Option<usize>,
    /// An Atom feed per term at `/<name>/<term>/atom.xml`.
    pub feeds: bool,
}

impl Default for TaxonomyConfig {
    fn default() -> Self {
        TaxonomyConfig {
            names: vec![DEFAULT_TAXONOMY.to_owned()],
            paginate_by: None,
            feeds: true,
        }
    }
}

impl TaxonomyConfig {
    pub fn has(&self, name: &str) -> bool {
        self.names.iter().any(|known| known == name)
    }
}

/// A heading made from a name: a taxonomy's (`categories` → `Categories`) or a folder's
/// without a section page (`reading-lists` → `Reading lists`).
pub fn title_of(name: &str) -> String {
    let words = name.replace(['-', '_'], " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub(super) fn check_taxonomies(
    check: &mut Checker<'_>,
    raw: Option<&Spanned<RawTaxonomies>>,
) -> TaxonomyConfig {
    let Some(raw) = raw else {
        return TaxonomyConfig::default();
    };
    let section = raw.get_ref();
    let mut config = TaxonomyConfig {
        feeds: section.feeds.unwrap_or(true),
        ..TaxonomyConfig::default()
    };
    if let Some(names) = &section.names {
        if names.get_ref().is_empty() {
            check.at(
                names,
                "[taxonomies] names is empty: list at least one, e.g. `names = [\"tags\"]`, \
                 or remove the line to keep the default",
            );
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for name in names.get_ref() {
            check_name(check, name);
            let line = line_of(check.text, name.span().start);
            if let Some(first) = seen.insert(name.get_ref(), line) {
                check.at(
                    name,
                    format!(
                        "[taxonomies] names lists `{}` twice (first on line {first})",
                        name.get_ref()
                    ),
                );
            }
        }
        config.names = names
            .get_ref()
            .iter()
            .map(|n| n.get_ref().clone())
            .collect();
    }
    if let Some(by) = &section.paginate_by {
        match usize::try_from(*by.get_ref()) {
            Ok(by) if by > 0 => config.paginate_by = Some(by),
            _ => check.at(
                by,
                "[taxonomies] paginate_by must be a positive number of pages per term page \
                 (remove it to list every page on one)",
            ),
        }
    }
    config
}

/// A taxonomy name is a URL segment (`/categories/…`) and a front-matter key.
fn check_name(check: &mut Checker<'_>, name: &Spanned<String>) {
    let text = name.get_ref();
    let slug = text
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
    if !slug {
        check.at(
            name,
            format!(
                "[taxonomies] name `{text}` must be a URL-safe slug: lowercase letters, digits, \
                 `-` and `_`, starting with a letter or digit (e.g. `categories`)"
            ),
        );
    } else if RESERVED.contains(&text.as_str()) {
        check.at(
            name,
            format!("[taxonomies] name `{text}` is taken by the site's own pages: choose another"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<crate::config::SiteConfig, String> {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir_all(dir.path().join("themes/default/templates")).expect("a theme");
        let text = format!(
            "title = \"T\"\nbase_url = \"https://example.com\"\n[[levels]]\nid = \"free\"\nrank = 0\n{text}"
        );
        crate::config::parse(dir.path(), &text).map_err(|problems| problems.to_string())
    }

    #[test]
    fn tags_alone_is_the_default() {
        let config = parse("").expect("valid");
        assert_eq!(config.taxonomies, TaxonomyConfig::default());
        assert_eq!(config.taxonomies.names, ["tags"]);
        assert!(config.taxonomies.feeds);
    }

    #[test]
    fn names_paginate_by_and_feeds_are_read() {
        let config = parse(
            "[taxonomies]\nnames = [\"tags\", \"categories\", \"series\"]\npaginate_by = 20\nfeeds = false\n",
        )
        .expect("valid");
        assert_eq!(config.taxonomies.names, ["tags", "categories", "series"]);
        assert_eq!(config.taxonomies.paginate_by, Some(20));
        assert!(!config.taxonomies.feeds);
    }

    #[test]
    fn an_unknown_key_is_an_error_on_its_line() {
        let shown = parse("[taxonomies]\nnames = [\"tags\"]\npaginate_bye = 3\n").unwrap_err();
        assert!(shown.contains("site.toml:8:"), "{shown}");
        assert!(shown.contains("unknown field `paginate_bye`"), "{shown}");
        assert!(shown.contains("did you mean `paginate_by`?"), "{shown}");
    }

    #[test]
    fn bad_names_and_counts_are_errors_on_their_lines() {
        for (section, line, needle) in [
            ("names = [\"Categories\"]", 7, "URL-safe slug"),
            ("names = [\"a b\"]", 7, "URL-safe slug"),
            ("names = [\"tags\", \"tags\"]", 7, "twice"),
            ("names = []", 7, "is empty"),
            ("names = [\"page\"]", 7, "taken"),
            ("paginate_by = 0", 7, "positive"),
            ("paginate_by = -2", 7, "positive"),
        ] {
            let shown = parse(&format!("[taxonomies]\n{section}\n")).unwrap_err();
            assert!(
                shown.contains(&format!("site.toml:{line}:")),
                "{section}: {shown}"
            );
            assert!(shown.contains(needle), "{section}: {shown}");
        }
    }

    #[test]
    fn titles_are_capitalised_words() {
        assert_eq!(title_of("categories"), "Categories");
        assert_eq!(title_of("reading-lists"), "Reading lists");
    }
}
