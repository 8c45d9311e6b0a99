//! A page's body, from Markdown to what the build needs: shortcodes expanded, members blocks
//! cut out and rendered apart (each with its own access), and the public teaser.

use super::access::{self, Access};
use super::front_matter::AccessSpec;
use super::highlight::Highlighter;
use super::markdown::{self, Rendered};
use super::shortcodes::{self, Block, Expanded, Scope, Shortcodes};
use crate::config::SiteConfig;

/// A body whose tags and block rules are valid, ready to render.
pub struct Checked<'a> {
    source: &'a str,
    expanded: Option<Expanded>,
    access: Vec<Access>,
}

/// Expands the shortcodes of `body` (which starts on file line `first_line`) and resolves
/// each members block's rule like `access:`. Every problem carries its file line.
pub fn check<'a>(
    body: &'a str,
    first_line: usize,
    shortcodes: &Shortcodes,
    config: &SiteConfig,
) -> Result<Checked<'a>, Vec<(usize, String)>> {
    let expanded = shortcodes::expand(body, first_line, shortcodes)?;
    let mut problems = Vec::new();
    let mut resolved = Vec::new();
    for block in expanded.iter().flat_map(|e| &e.blocks) {
        if block.rule.level.is_none() && block.rule.bundles.is_empty() {
            problems.push((
                block.line,
                "a members block needs a `level` or `bundles`, as `access:` does: \
                 `{% members(level=\"gold\") %}`"
                    .to_owned(),
            ));
            continue;
        }
        match access::resolve(&AccessSpec::Rule(block.rule.clone()), config) {
            Ok(access) => resolved.push(access),
            Err(found) => problems.extend(found.into_iter().map(|p| {
                let message = p.message.strip_prefix("access.").unwrap_or(&p.message);
                (block.line, format!("members block: {message}"))
            })),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Checked {
        source: body,
        expanded,
        access: resolved,
    })
}

/// The rendered body, its blocks, and the public teaser.
pub struct Body {
    pub rendered: Rendered,
    pub teaser_html: Option<String>,
    pub teaser_in_body: bool,
}

pub fn render(
    checked: Checked<'_>,
    summary: Option<&str>,
    highlighter: Option<&Highlighter>,
) -> Body {
    let Some(expanded) = checked.expanded else {
        let rendered = markdown::render(checked.source, highlighter);
        let teaser_html = teaser(
            summary,
            checked.source,
            rendered.more_at,
            highlighter,
            None,
            &[],
        );
        let teaser_in_body = summary.is_none() && rendered.more_at.is_some();
        return Body {
            rendered,
            teaser_html,
            teaser_in_body,
        };
    };
    // One set of heading ids for the page and its blocks: an opened block's headings must not
    // take ids the page already uses.
    let mut ids = markdown::HeadingIds::default();
    let mut rendered = render_scope(&expanded.page, highlighter, &mut ids);
    rendered.blocks = expanded
        .blocks
        .iter()
        .zip(checked.access)
        .enumerate()
        .map(|(index, (raw, access))| {
            let body = render_scope(&raw.body, highlighter, &mut ids);
            let else_html = raw
                .else_part
                .as_ref()
                .map(|part| render_scope(part, highlighter, &mut ids).html)
                .unwrap_or_default();
            Block {
                n: index + 1,
                line: raw.line,
                access,
                html: body.html,
                else_html,
                text: body.text,
                toc: body.toc,
            }
        })
        .collect();
    let teaser_html = teaser(
        summary,
        &expanded.page.markdown,
        rendered.more_at,
        highlighter,
        Some(&expanded.page),
        &rendered.blocks,
    );
    let teaser_in_body = summary.is_none() && rendered.more_at.is_some();
    Body {
        rendered,
        teaser_html,
        teaser_in_body,
    }
}

/// One scope's Markdown rendered, its shortcodes filled in and their text counted.
fn render_scope(
    scope: &Scope,
    highlighter: Option<&Highlighter>,
    ids: &mut markdown::HeadingIds,
) -> Rendered {
    let mut rendered = markdown::render_with_ids(&scope.markdown, highlighter, ids);
    rendered.html = scope.fill(&rendered.html);
    let outputs = scope.output_text();
    // `render` counted the Markdown's words; count only the outputs' (not the whole text a
    // second time), one fewer when the two texts meet inside a word.
    let joined = rendered
        .text
        .chars()
        .next_back()
        .is_some_and(|c| !c.is_whitespace())
        && outputs.chars().next().is_some_and(|c| !c.is_whitespace());
    rendered.words = rendered.words + super::words::count(&outputs) - usize::from(joined);
    rendered.text.push_str(&outputs);
    rendered
}

/// The public teaser: `summary:`, else the Markdown above `<!-- more -->` rendered on its own,
/// so that nothing defined below the marker (a link reference, a footnote) can surface in it.
/// A members block above the marker shows its public `else` part there, never its body.
fn teaser(
    summary: Option<&str>,
    markdown_text: &str,
    more_at: Option<usize>,
    highlighter: Option<&Highlighter>,
    scope: Option<&Scope>,
    blocks: &[Block],
) -> Option<String> {
    if let Some(summary) = summary {
        return Some(markdown::render(summary, None).html);
    }
    let above = &markdown_text[..more_at?];
    let mut html = markdown::render(above, highlighter).html;
    if let Some(scope) = scope {
        html = scope.fill(&html);
        let filled = shortcodes::fill_blocks(&html, |n| {
            blocks.get(n.wrapping_sub(1)).map(|b| b.else_html.clone())
        });
        if let std::borrow::Cow::Owned(filled) = filled {
            html = filled;
        }
    }
    Some(html.trim_end().to_owned())
}

/// The file line on which `body`, a slice of `text`, starts.
pub fn first_line(text: &str, body: &str) -> usize {
    let offset = (body.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}
