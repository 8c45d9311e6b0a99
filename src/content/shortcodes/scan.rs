//! Finds the shortcode tags of a Markdown body, outside code spans and code blocks:
//! `{{ name(…) }}`, `{% name(…) %}`, `{% else %}` and `{% end %}`. `{{/* … */}}` and
//! `{%/* … */%}` print the tag itself, as in Zola, for pages that document shortcodes.

use std::ops::Range;

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag};

use super::call::{self, Call};

#[derive(Debug, PartialEq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// Text that replaces an escaped tag.
    Literal(String),
    Inline {
        call: Call,
        line: usize,
    },
    Open {
        call: Call,
        line: usize,
    },
    Else {
        line: usize,
    },
    End {
        line: usize,
    },
}

/// Whether `body` might hold a tag at all: most pages do not, and skip the scan.
pub fn may_hold_tags(body: &str) -> bool {
    body.contains("{{") || body.contains("{%")
}

/// Splits `body` into text and tags; `first_line` is the file line `body` starts on.
/// An error carries the file line of the broken tag.
pub fn scan(body: &str, first_line: usize) -> Result<Vec<Piece<'_>>, (usize, String)> {
    // In document order and apart, so one pass over them keeps the scan linear.
    let code = code_ranges(body);
    let mut code = code.iter().peekable();
    let mut pieces = Vec::new();
    let mut copied = 0;
    let mut from = 0;
    let mut line = first_line;
    let mut counted = 0;
    while let Some(found) = next_opening(body, from) {
        from = found + 2;
        line += body[counted..found].matches('\n').count();
        counted = found;
        while code.next_if(|c| c.range.end <= found).is_some() {}
        if let Some(c) = code.peek().filter(|c| c.range.start <= found) {
            // Four spaces (or a tab) too many, or a stray backtick, turn a members block into
            // code, shown to everyone body and all: refused, where a fence or a one-line code
            // span is written on purpose.
            if c.accidental && opens_members(&body[found + 2..]) {
                let why = if body[c.range.clone()].starts_with('`') {
                    "inside a code span that a backtick before it opens (a stray `?)"
                } else {
                    "indented into a code block (four spaces or a tab)"
                };
                return Err((
                    line,
                    format!(
                        "this `{{% members(…) %}}` is {why}, so the block and its text would \
                         be shown to everyone as code: unindent it or remove the stray \
                         backtick (to show the tag as code, put it in a ``` fence)"
                    ),
                ));
            }
            from = c.range.end;
            continue;
        }
        let inline = body[found..].starts_with("{{");
        let (open, close) = if inline { ("{{", "}}") } else { ("{%", "%}") };
        let inner = &body[found + 2..];
        if let Some(escaped) = inner.strip_prefix("/*") {
            let end_mark = format!("*/{close}");
            let Some(end) = escaped.find(&end_mark) else {
                return Err((
                    line,
                    format!("`{open}/*` is not closed: end it with `*/{close}`"),
                ));
            };
            pieces.push(Piece::Text(&body[copied..found]));
            pieces.push(Piece::Literal(format!("{open}{}{close}", &escaped[..end])));
            copied = found + 2 + 2 + end + end_mark.len();
            from = copied;
            continue;
        }
        if !inline && let Some((word, len)) = keyword(inner) {
            pieces.push(Piece::Text(&body[copied..found]));
            pieces.push(if word == "else" {
                Piece::Else { line }
            } else {
                Piece::End { line }
            });
            copied = found + 2 + len;
            from = copied;
            continue;
        }
        if !call::starts_call(inner) {
            // A members block in another syntax (Hugo's `{{< members >}}`, a `{%-` trim
            // mark, Jinja's `{% members level=… %}`) would be published as text, body and
            // all: refused.
            if names_members(inner, close) {
                return Err((
                    line,
                    format!(
                        "`{open}…{close}` names `members` but is not a members block tag, so \
                         what follows would be shown to everyone: write \
                         `{{% members(level=\"…\") %}}` … `{{% end %}}` (Zola's syntax, \
                         without trim marks), or put it in code to show it as written"
                    ),
                ));
            }
            continue;
        }
        let (call, len) = call::parse(inner).map_err(|message| (line, message))?;
        let after = &inner[len..];
        let trimmed = after.trim_start();
        if !trimmed.starts_with(close) {
            return Err((
                line,
                format!(
                    "`{open} {}(…)` is not closed: end it with `{close}`",
                    call.name
                ),
            ));
        }
        pieces.push(Piece::Text(&body[copied..found]));
        let end = found + 2 + len + (after.len() - trimmed.len()) + 2;
        pieces.push(if inline {
            Piece::Inline { call, line }
        } else {
            Piece::Open { call, line }
        });
        copied = end;
        from = end;
    }
    pieces.push(Piece::Text(&body[copied..]));
    pieces.retain(|piece| !matches!(piece, Piece::Text("")));
    Ok(pieces)
}

fn next_opening(body: &str, from: usize) -> Option<usize> {
    let rest = body.get(from..)?;
    let at = rest
        .match_indices('{')
        .find(|(i, _)| matches!(rest.as_bytes().get(i + 1), Some(b'{' | b'%')))?
        .0;
    Some(from + at)
}

/// `else` or `end` (with spaces and `-` trim marks allowed) up to the closing `%}`: the word
/// and the length read.
fn keyword(inner: &str) -> Option<(&'static str, usize)> {
    let text = inner.strip_prefix('-').unwrap_or(inner);
    let skipped = inner.len() - text.len();
    let trimmed = text.trim_start();
    let word = ["else", "end"]
        .into_iter()
        .find(|w| trimmed.starts_with(w))?;
    let rest = &trimmed[word.len()..];
    let rest_trimmed = rest.trim_start();
    let rest_trimmed = rest_trimmed.strip_prefix('-').unwrap_or(rest_trimmed);
    if !rest_trimmed.starts_with("%}") {
        return None;
    }
    let len = skipped
        + (text.len() - trimmed.len())
        + word.len()
        + (rest.len() - rest.trim_start().len());
    let dash = usize::from(rest.trim_start().starts_with('-'));
    Some((word, len + dash + 2))
}

/// Whether the tag-like text `inner` (what follows `{{` or `{%`, up to `close` or the end of
/// its line) has the word `members` in it.
fn names_members(inner: &str, close: &str) -> bool {
    let line = inner.split('\n').next().unwrap_or(inner);
    let tag = line.find(close).map_or(line, |end| &line[..end]);
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    tag.match_indices(super::MEMBERS).any(|(at, _)| {
        let before = tag[..at].chars().next_back();
        let after = tag[at + super::MEMBERS.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

/// Whether `inner` (what follows `{%`) opens a members block: `members(`, spaces and a `-`
/// trim mark allowed.
fn opens_members(inner: &str) -> bool {
    let inner = inner.strip_prefix('-').unwrap_or(inner).trim_start();
    inner
        .strip_prefix(super::MEMBERS)
        .is_some_and(|rest| rest.trim_start().starts_with('('))
}

/// A code span or code block: a tag in it is code, shown as written.
struct Code {
    range: Range<usize>,
    /// Code that is rarely meant: an indented code block (four spaces or a tab), or a code
    /// span over several lines (a stray backtick pairs with the next one in the paragraph).
    accidental: bool,
}

/// The code spans and code blocks of `body`, in document order, read with the options the
/// page is rendered with: read otherwise (footnotes, tables), text that the page shows as
/// prose could be taken for code here, and a block in it left in the page.
fn code_ranges(body: &str) -> Vec<Code> {
    let mut ranges = Vec::new();
    let mut depth = 0usize;
    let parser = Parser::new_ext(body, crate::content::markdown::options());
    for (event, range) in parser.into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                if depth == 0 {
                    ranges.push(Code {
                        range,
                        accidental: matches!(kind, CodeBlockKind::Indented),
                    });
                }
                depth += 1;
            }
            Event::End(pulldown_cmark::TagEnd::CodeBlock) => depth = depth.saturating_sub(1),
            // A code span over lines is most likely a stray backtick pairing with another.
            Event::Code(_) => ranges.push(Code {
                accidental: body[range.clone()].contains('\n'),
                range,
            }),
            _ => {}
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pieces: &[Piece<'_>]) -> Vec<String> {
        pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(t) => format!("text:{t}"),
                Piece::Literal(t) => format!("literal:{t}"),
                Piece::Inline { call, line } => format!("inline:{}@{line}", call.name),
                Piece::Open { call, line } => format!("open:{}@{line}", call.name),
                Piece::Else { line } => format!("else@{line}"),
                Piece::End { line } => format!("end@{line}"),
            })
            .collect()
    }

    #[test]
    fn tags_are_found_with_their_lines() {
        let body = "Hi {{ video(src=\"a.mp4\") }}.\n\n{% members(level=\"gold\") %}\nSecret\n{% else %}\nBuy\n{%- end -%}\n";
        let pieces = scan(body, 5).expect("scans");
        assert_eq!(
            names(&pieces),
            [
                "text:Hi ",
                "inline:video@5",
                "text:.\n\n",
                "open:members@7",
                "text:\nSecret\n",
                "else@9",
                "text:\nBuy\n",
                "end@11",
                "text:\n"
            ]
        );
    }

    #[test]
    fn code_spans_and_blocks_are_left_alone() {
        let body = "`{{ video() }}`\n\n```\n{% members(level=\"gold\") %}\n```\n\n    {{ x() }}\n";
        let pieces = scan(body, 1).expect("scans");
        assert_eq!(names(&pieces), [format!("text:{body}")]);
    }

    #[test]
    fn prose_braces_and_escapes_stay_text() {
        let pieces = scan("Use {{ page.title }} or {{/* video() */}}.", 1).expect("scans");
        assert_eq!(
            names(&pieces),
            [
                "text:Use {{ page.title }} or ",
                "literal:{{ video() }}",
                "text:."
            ]
        );
    }

    #[test]
    fn broken_tags_name_their_line() {
        let (line, message) = scan("a\n\nb {{ video(src=\"x\") c\n", 10).expect_err("unclosed");
        assert_eq!(line, 12);
        assert!(message.contains("not closed"), "{message}");
        let (line, _) = scan("a\n{{/* x", 1).expect_err("unclosed escape");
        assert_eq!(line, 2);
    }
}
