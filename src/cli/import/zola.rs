//! What is Zola's: its front-matter keys (Zola is as strict as gatehouse, so the set is
//! closed) and its shortcodes, whose syntax is gatehouse's own (DESIGN §3): those named like
//! gatehouse's are kept, the others listed.

use std::collections::BTreeSet;

use super::front_matter::{HiddenWhen, KeyRule};
use super::shortcodes::{At, GATEHOUSE_SHORTCODES, Step};

pub fn key_rule(key: &str, is_section: bool) -> KeyRule {
    match key {
        "title" => KeyRule::Title,
        "description" => KeyRule::Description,
        "date" => KeyRule::Date,
        "updated" => KeyRule::Updated,
        "draft" => KeyRule::Draft,
        "weight" => KeyRule::Weight,
        "slug" => KeyRule::Slug,
        "aliases" => KeyRule::Aliases,
        "taxonomies" => KeyRule::Taxonomies,
        "extra" => KeyRule::MergeExtra,
        "paginate_by" if is_section => KeyRule::PaginateBy,
        "paginate_path" if is_section => KeyRule::PaginatePath,
        "render" => KeyRule::Hides(HiddenWhen::False),
        "template" | "page_template" => KeyRule::Extra(Some(
            "names a Zola template; gatehouse uses page.html and section.html unless \
             `template:` names one the site has, so set it again once that template exists",
        )),
        "path" => KeyRule::Extra(Some(
            "Zola's `path` sets the page's address; gatehouse takes it from the file path and \
             `slug`. If old links point at it, add it to `aliases`",
        )),
        "redirect_to" => KeyRule::Extra(Some(
            "gatehouse has no section redirects: put this section's URL in `aliases` of the \
             page it should lead to",
        )),
        "sort_by" | "paginate_reversed" => KeyRule::Extra(Some(
            "gatehouse orders a section's pages itself (by `weight`, then date)",
        )),
        "transparent" => KeyRule::Extra(Some(
            "gatehouse has no transparent sections: the pages stay listed in this section",
        )),
        "in_search_index" => KeyRule::Extra(Some("gatehouse's search has no per-page opt-out")),
        _ => KeyRule::Extra(None),
    }
}

/// Zola resolves every alias from the site's root, with or without the leading slash.
pub fn root_relative_alias(url: &str) -> Result<String, String> {
    if url.contains("://") || url.starts_with("//") {
        return Err("is a full URL, and an alias is a path on this site".to_owned());
    }
    Ok(if url.starts_with('/') {
        url.to_owned()
    } else {
        format!("/{url}")
    })
}

/// The rewriter for `shortcodes::convert`: it rewrites nothing, and lists the shortcodes that
/// gatehouse's theme does not have. `own` holds the names of the Zola site's
/// `templates/shortcodes/*.html`.
pub fn rewrite(at: &At<'_>, own: &BTreeSet<String>) -> Option<Step> {
    let (name, consumed) = call(at.rest)?;
    if GATEHOUSE_SHORTCODES.contains(&name) {
        return None;
    }
    let why = if own.contains(name) {
        format!(
            "the site's own shortcode: copy templates/shortcodes/{name}.html from the Zola site \
             into this site's templates/shortcodes/ (gatehouse renders it with Tera 2)"
        )
    } else {
        format!("gatehouse has no `{name}`: add templates/shortcodes/{name}.html, or rewrite it")
    };
    Some(Step::Keep {
        consumed,
        name: name.to_owned(),
        why,
    })
}

/// `{{ name(…) }}` or `{% name(…) %}`: the shortcode's name and the call's length (up to the
/// name alone when the call does not close, so the report still points at it). The
/// arguments stay as written. `{% end %}`, `{% else %}` and `{{/* … */}}` escapes are not
/// calls.
fn call(rest: &str) -> Option<(&str, usize)> {
    let after = rest
        .strip_prefix("{{")
        .or_else(|| rest.strip_prefix("{%"))?;
    let trimmed = after.trim_start_matches([' ', '\t']);
    let name_len = trimmed
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(trimmed.len());
    if name_len == 0 {
        return None;
    }
    let name = &trimmed[..name_len];
    if !trimmed[name_len..]
        .trim_start_matches([' ', '\t'])
        .starts_with('(')
    {
        return None;
    }
    let name_end = rest.len() - trimmed.len() + name_len;
    let close = if rest.starts_with("{{") { "}}" } else { "%}" };
    let consumed = call_end(&rest[name_end..], close).map_or(name_end, |end| name_end + end);
    Some((name, consumed))
}

/// Where `(…) }}` ends, skipping quoted arguments (a `)` inside a string is text).
fn call_end(text: &str, close: &str) -> Option<usize> {
    let text = &text[..text.floor_char_boundary(4096)];
    let mut quote = None;
    for (index, c) in text.char_indices() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, ')') => {
                let after = text[index + 1..].trim_start_matches([' ', '\t']);
                return after
                    .starts_with(close)
                    .then(|| text.len() - after.len() + close.len());
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::import::shortcodes::convert;

    #[test]
    fn our_shortcodes_are_kept_and_the_others_listed_outside_code() {
        let own = BTreeSet::from(["gallery".to_owned()]);
        let body = "{{ figure(src=\"a.jpg\") }}\n{{ youtube(id=\"x\") }}\n\n```\n{{ gist(url=\"x\") }}\n```\n{% gallery(n=2) %}\nx\n{% end %}\n{{/* gist() */}}\n";
        let out = convert(body, 4, 2, |at| rewrite(at, &own));
        assert_eq!(out.text, body);
        let found: Vec<(&str, usize, usize)> = out
            .unmapped
            .iter()
            .map(|found| (found.name.as_str(), found.source_line, found.line))
            .collect();
        assert_eq!(found, [("youtube", 5, 3), ("gallery", 10, 8)]);
        assert!(out.unmapped[1].why.contains("own shortcode"));
    }

    #[test]
    fn aliases_are_from_the_root() {
        assert_eq!(root_relative_alias("old/url").unwrap(), "/old/url");
        assert_eq!(root_relative_alias("/a/").unwrap(), "/a/");
    }
}
