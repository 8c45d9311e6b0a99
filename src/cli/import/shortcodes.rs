//! Walking a page body for shortcodes without touching code: the parts of the Markdown that
//! are code spans or code blocks (as pulldown-cmark reads them, so indented blocks and
//! ```` ``` ```` inside `~~~` count right) are copied byte for byte, and only the rest is
//! offered to the tool's own rewriter (`hugo::rewrite`, `zola::rewrite`).

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag};

/// The shortcodes gatehouse's default theme ships, plus the built-in members block
/// (DESIGN §3): a Zola shortcode with one of these names is kept as it is.
pub const GATEHOUSE_SHORTCODES: [&str; 6] =
    ["video", "audio", "figure", "callout", "download", "members"];

/// A shortcode the import left as it was, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    pub name: String,
    /// The shortcode as written, shortened for the report.
    pub text: String,
    /// Line in the source file.
    pub source_line: usize,
    /// Line in the written file (the front matter may have grown or shrunk).
    pub line: usize,
    /// What the author can do about it.
    pub why: String,
}

/// A shortcode the import rewrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub name: String,
    pub source_line: usize,
    /// What was lost on the way, if anything (`dropped width="300"`).
    pub note: Option<String>,
}

/// A converted body and what was done to it.
#[derive(Debug, Default)]
pub struct Body {
    pub text: String,
    pub mapped: Vec<Mapped>,
    pub unmapped: Vec<Unmapped>,
    /// `<!--more-->` written as gatehouse's `<!-- more -->`.
    pub more_marker: bool,
}

/// What a rewriter did at one position.
pub enum Step {
    /// Replace `consumed` bytes with `with`.
    Replace {
        consumed: usize,
        with: String,
        mapped: Mapped,
    },
    /// Keep `consumed` bytes as they are, and list them as unmapped.
    Keep {
        consumed: usize,
        name: String,
        why: String,
    },
}

/// Where a rewriter is called: `rest` starts with `{` or `<` outside code.
pub struct At<'a> {
    pub rest: &'a str,
    /// Source file line of `rest`'s first byte.
    pub source_line: usize,
    /// Whether the output so far ends a line, so a block (a code fence) may start here.
    pub at_line_start: bool,
}

/// Runs `rewrite` at every `{` and `<` of `body` outside code and assembles the result.
/// `first_line` is the body's first line in the source file; `output_first_line` the same in
/// the written file.
pub fn convert(
    body: &str,
    first_line: usize,
    output_first_line: usize,
    mut rewrite: impl FnMut(&At<'_>) -> Option<Step>,
) -> Body {
    let code = code_ranges(body);
    let mut out = Body::default();
    let mut unmapped_at = Vec::new();
    let mut pos = 0;
    let mut copied_to = 0;
    let mut line = first_line;
    let mut line_counted_to = 0;
    // The ranges come in document order and do not overlap.
    let mut next_code = 0;
    while pos < body.len() {
        while code.get(next_code).is_some_and(|range| range.end <= pos) {
            next_code += 1;
        }
        if let Some(range) = code.get(next_code).filter(|range| range.contains(&pos)) {
            pos = range.end;
            continue;
        }
        let byte = body.as_bytes()[pos];
        if byte != b'{' && byte != b'<' {
            pos += 1;
            continue;
        }
        line += body[line_counted_to..pos].matches('\n').count();
        line_counted_to = pos;
        let rest = &body[pos..];
        if let Some(consumed) = more_marker(rest) {
            out.text.push_str(&body[copied_to..pos]);
            out.text.push_str("<!-- more -->");
            out.more_marker = true;
            pos += consumed;
            copied_to = pos;
            continue;
        }
        let before = &body[copied_to..pos];
        let at_line_start = if before.is_empty() {
            out.text.is_empty() || out.text.ends_with('\n')
        } else {
            before.ends_with('\n')
        };
        let at = At {
            rest,
            source_line: line,
            at_line_start,
        };
        match rewrite(&at) {
            Some(Step::Replace {
                consumed,
                with,
                mapped,
            }) => {
                out.text.push_str(before);
                out.text.push_str(&with);
                out.mapped.push(mapped);
                pos += consumed;
                copied_to = pos;
            }
            Some(Step::Keep {
                consumed,
                name,
                why,
            }) => {
                out.text.push_str(before);
                unmapped_at.push(out.text.len());
                out.text.push_str(&rest[..consumed]);
                out.unmapped.push(Unmapped {
                    name,
                    text: shorten(&rest[..consumed]),
                    source_line: line,
                    line: 0,
                    why,
                });
                pos += consumed;
                copied_to = pos;
            }
            None => pos += 1,
        }
    }
    out.text.push_str(&body[copied_to..]);
    for (unmapped, offset) in out.unmapped.iter_mut().zip(unmapped_at) {
        unmapped.line = output_first_line + out.text[..offset].matches('\n').count();
    }
    out
}

/// Byte ranges of code spans and code blocks: shortcodes there are examples, not calls.
pub fn code_ranges(body: &str) -> Vec<Range<usize>> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(_)) | Event::Code(_) => ranges.push(range),
            _ => {}
        }
    }
    ranges
}

/// Hugo's `<!--more-->` (any spacing) is gatehouse's `<!-- more -->`, which its teaser split
/// matches exactly. Returns the marker's length.
fn more_marker(rest: &str) -> Option<usize> {
    let inner = rest.strip_prefix("<!--")?;
    let end = inner.find("-->")?;
    if inner[..end].trim() == "more" && !inner[..end].contains('\n') {
        // Already gatehouse's form: nothing to rewrite.
        if &rest[..4 + end + 3] == "<!-- more -->" {
            return None;
        }
        Some(4 + end + 3)
    } else {
        None
    }
}

/// A shortcode as the report shows it: one line, at most about 80 characters.
fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        let cut: String = one_line.chars().take(77).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

/// `"value"` for a shortcode argument in gatehouse's (Zola's) syntax, whose strings take
/// backslash escapes.
pub fn quote_arg(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_spans_fences_and_indented_blocks_are_code() {
        let body = "a `{{< x >}}` b\n\n```\n{{< y >}}\n```\n\n    {{< z >}}\n\n{{< w >}}\n";
        let code = code_ranges(body);
        let in_code = |needle: &str| {
            let at = body.find(needle).unwrap();
            code.iter().any(|range| range.contains(&at))
        };
        assert!(in_code("{{< x"));
        assert!(in_code("{{< y"));
        assert!(in_code("{{< z"));
        assert!(!in_code("{{< w"));
    }

    #[test]
    fn the_more_marker_takes_gatehouse_spacing_outside_code_only() {
        let body = "Teaser\n<!--more-->\nRest `<!--more-->`\n";
        let out = convert(body, 1, 1, |_| None);
        assert_eq!(out.text, "Teaser\n<!-- more -->\nRest `<!--more-->`\n");
        assert!(out.more_marker);
        let out = convert("<!-- more -->\n", 1, 1, |_| None);
        assert!(!out.more_marker);
    }

    #[test]
    fn unmapped_shortcodes_carry_source_and_output_lines() {
        let body = "one\ntwo {{x}}\n\n`{{x}}`\nthree {{x}}\n";
        let out = convert(body, 5, 7, |at| {
            at.rest.starts_with("{{x}}").then(|| Step::Keep {
                consumed: 5,
                name: "x".into(),
                why: String::new(),
            })
        });
        let lines: Vec<(usize, usize)> = out
            .unmapped
            .iter()
            .map(|found| (found.source_line, found.line))
            .collect();
        assert_eq!(lines, [(6, 8), (9, 11)]);
        assert_eq!(out.text, body);
    }

    #[test]
    fn arguments_are_quoted_with_backslash_escapes() {
        assert_eq!(quote_arg("a b"), "\"a b\"");
        assert_eq!(quote_arg("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
    }
}
