//! Which templates use which: enough of Tera's syntax to find `extends`, `include`, `import`
//! and `cached(template=…)` by name, so `gatehouse serve` re-renders only the pages a template
//! edit reaches.

use std::collections::BTreeSet;

/// The template names a template's source extends, includes, imports or renders through
/// `cached(template="…")`.
pub fn references(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in source.match_indices("cached(") {
        let args = &source[at + "cached(".len()..];
        let args = &args[..args.find(')').unwrap_or(args.len())];
        // The `template=` argument, not a word ending in "template" (`key=p.template`).
        let named = args.match_indices("template").find_map(|(at, word)| {
            let whole = !args[..at].ends_with(|c: char| c.is_alphanumeric() || "_.".contains(c));
            let value = args[at + word.len()..].trim_start().strip_prefix('=')?;
            (whole && !value.starts_with('=')).then_some(value)
        });
        if let Some(value) = named {
            found.extend(quoted(value).into_iter().take(1));
        }
    }
    let mut rest = source;
    while let Some(open) = rest.find("{%") {
        let tag = &rest[open + 2..];
        let Some(close) = tag.find("%}") else { break };
        let inside = tag[..close].trim_matches(|c: char| c == '-' || c.is_whitespace());
        let mut words = inside.splitn(2, char::is_whitespace);
        if let (Some("extends" | "include" | "import"), Some(args)) = (words.next(), words.next()) {
            found.extend(quoted(args));
        }
        rest = &tag[close + 2..];
    }
    found
}

/// Every quoted string in `args`: `include ["a.html", "b.html"] ignore missing` names two.
fn quoted(args: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = args;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let after = &rest[start + 1..];
        let Some(end) = after.find(quote) else { break };
        names.push(after[..end].to_owned());
        rest = &after[end + 1..];
    }
    names
}

/// `changed` and everything that reaches them through `references`; `None` if one of those
/// is neither referenced nor a root, since it must then be used some other way (a file of
/// components, usable from any template).
pub fn closure(
    references: &[(String, Vec<String>)],
    changed: &[String],
    roots: &BTreeSet<String>,
) -> Option<BTreeSet<String>> {
    for name in changed {
        let referenced = references.iter().any(|(_, refs)| refs.contains(name));
        if !referenced && !roots.contains(name) {
            return None;
        }
    }
    let mut affected: BTreeSet<String> = changed.iter().cloned().collect();
    loop {
        let before = affected.len();
        for (name, refs) in references {
            if refs.iter().any(|r| affected.contains(r)) {
                affected.insert(name.clone());
            }
        }
        if affected.len() == before {
            let unknown_use = affected.iter().any(|name| {
                !roots.contains(name) && !references.iter().any(|(_, refs)| refs.contains(name))
            });
            return (!unknown_use).then_some(affected);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_extends_include_and_import() {
        let source = r#"{% extends "base.html" %}{%- include 'partials/a.html' -%}
            {% import "macros.html" as m %}{% include ["x.html", "y.html"] ignore missing %}
            {% if x %}{{ "include.html" }}{% endif %}"#;
        assert_eq!(
            references(source),
            [
                "base.html",
                "partials/a.html",
                "macros.html",
                "x.html",
                "y.html"
            ]
        );
    }

    #[test]
    fn a_partial_reaches_everything_that_uses_it() {
        let references = vec![
            (
                "base.html".to_owned(),
                vec!["partials/header.html".to_owned()],
            ),
            ("page.html".to_owned(), vec!["base.html".to_owned()]),
            ("section.html".to_owned(), vec!["base.html".to_owned()]),
            ("partials/header.html".to_owned(), vec![]),
            ("components.html".to_owned(), vec![]),
        ];
        let roots: BTreeSet<String> = ["page.html", "section.html"].map(String::from).into();
        let affected = closure(&references, &["partials/header.html".to_owned()], &roots)
            .expect("the header is included");
        assert!(affected.contains("page.html") && affected.contains("section.html"));
        let only_page = closure(&references, &["page.html".to_owned()], &roots).expect("a root");
        assert_eq!(only_page.into_iter().collect::<Vec<_>>(), ["page.html"]);
        // Components are usable from any template without a reference: everything.
        assert_eq!(
            closure(&references, &["components.html".to_owned()], &roots),
            None
        );
    }

    #[test]
    fn a_template_rendered_by_cached_reaches_what_renders_it() {
        let source = r#"{{ cached(template="partials/card.html", key=p.path, p=p) }}
            {{ cached(key=1, template = 'other.html') }}{{ cached(key=2) }}
            {{ cached(key=p.template, template="third.html") }}"#;
        assert_eq!(
            references(source),
            ["partials/card.html", "other.html", "third.html"]
        );
        let references = vec![
            (
                "page.html".to_owned(),
                vec!["partials/card.html".to_owned()],
            ),
            (
                "components.html".to_owned(),
                vec!["partials/card.html".to_owned()],
            ),
            ("partials/card.html".to_owned(), vec![]),
        ];
        let roots: BTreeSet<String> = ["page.html"].map(String::from).into();
        // The card reaches the page, and the components that every template may use.
        assert_eq!(
            closure(&references, &["partials/card.html".to_owned()], &roots),
            None
        );
        let without_components = &references[..1];
        let page_only = closure(
            without_components,
            &["partials/card.html".to_owned()],
            &roots,
        );
        assert_eq!(
            page_only.map(|a| a.into_iter().collect::<Vec<_>>()),
            Some(vec![
                "page.html".to_owned(),
                "partials/card.html".to_owned()
            ])
        );
    }
}
