//! Markdown → HTML with pulldown-cmark: heading ids and anchors, highlighted code, the
//! `<!-- more -->` teaser split, a table of contents and the plain text for search.

use std::collections::{HashMap, VecDeque};

use pulldown_cmark::{Alignment, CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd, html};

use super::highlight::Highlighter;
use super::slug::slugify;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Heading {
    pub level: u8,
    pub id: String,
    pub title: String,
}

/// A rendered Markdown document.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    pub html: String,
    /// Byte offset in the Markdown source of the `<!-- more -->` marker, if the author wrote
    /// one: the teaser is the source above it.
    pub more_at: Option<usize>,
    pub toc: Vec<Heading>,
    /// Plain text of the document for search; parsing keeps only what search keeps of it
    /// (`search_text::searchable`).
    pub text: String,
    pub words: usize,
    /// Members blocks cut out of the body (DESIGN §3), in document order: the body holds a
    /// placeholder where each was, which the build fills with the block's slot.
    pub blocks: Vec<super::shortcodes::Block>,
}

pub(crate) fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_SMART_PUNCTUATION
}

/// Renders `markdown`; `highlighter` is `None` when code highlighting is off.
pub fn render(markdown: &str, highlighter: Option<&Highlighter>) -> Rendered {
    render_with_ids(markdown, highlighter, &mut HeadingIds::default())
}

/// The heading ids already given out in one page, so that the parts of a page rendered apart
/// (its body and its members blocks) never give two headings the same id.
#[derive(Debug, Default)]
pub struct HeadingIds(HashMap<String, usize>);

/// `render`, giving headings ids that `ids` has not given out yet.
pub fn render_with_ids(
    markdown: &str,
    highlighter: Option<&Highlighter>,
    ids: &mut HeadingIds,
) -> Rendered {
    let mut parser = Parser::new_ext(markdown, options())
        .into_offset_iter()
        .map(|(event, range)| (event, range.start));
    let mut more_at = None;
    let mut toc = Vec::new();
    let mut text = String::with_capacity(markdown.len());
    let used_ids = &mut ids.0;
    let mut table = TableCells::default();
    // Events go straight to the HTML writer: only a heading's own events wait here, while its
    // id is worked out from its text. Collecting the whole document's events first was an
    // eighth of the Markdown stage's time.
    let mut queued: VecDeque<Event<'_>> = VecDeque::new();

    let events = std::iter::from_fn(|| {
        loop {
            if let Some(event) = queued.pop_front() {
                return Some(event);
            }
            let (event, offset) = parser.next()?;
            let event = match event {
                Event::Start(Tag::Heading {
                    level,
                    id,
                    classes,
                    attrs,
                }) => {
                    let mut title = String::new();
                    let mut inner = Vec::new();
                    for (event, _) in parser.by_ref() {
                        match &event {
                            Event::End(TagEnd::Heading(_)) => break,
                            Event::Text(t) | Event::Code(t) => title.push_str(t),
                            _ => {}
                        }
                        inner.push(event);
                    }
                    let id = match id {
                        Some(id) => id.to_string(),
                        None => unique_id(used_ids, slugify(&title)),
                    };
                    text.push_str(&title);
                    text.push('\n');
                    let anchor = format!(
                        "<a class=\"anchor\" href=\"#{id}\" aria-label=\"Link to this section\">#</a>"
                    );
                    toc.push(Heading {
                        level: level as u8,
                        id: id.clone(),
                        title,
                    });
                    queued.extend(inner);
                    queued.push_back(Event::InlineHtml(CowStr::from(anchor)));
                    queued.push_back(Event::End(TagEnd::Heading(level)));
                    Event::Start(Tag::Heading {
                        level,
                        id: Some(CowStr::from(id)),
                        classes,
                        attrs,
                    })
                }
                Event::Start(Tag::CodeBlock(kind)) => {
                    let mut code = String::new();
                    for (event, _) in parser.by_ref() {
                        match event {
                            Event::End(TagEnd::CodeBlock) => break,
                            Event::Text(t) => code.push_str(&t),
                            _ => {}
                        }
                    }
                    let lang = match &kind {
                        CodeBlockKind::Fenced(info) => info.split_whitespace().next().unwrap_or(""),
                        CodeBlockKind::Indented => "",
                    };
                    text.push_str(&code);
                    text.push('\n');
                    Event::Html(CowStr::from(code_block(&code, lang, highlighter)))
                }
                Event::Html(raw) | Event::InlineHtml(raw) if raw.trim() == "<!-- more -->" => {
                    more_at.get_or_insert(offset);
                    continue;
                }
                Event::Start(Tag::Table(alignments)) => {
                    let plain = vec![Alignment::None; alignments.len()];
                    table = TableCells {
                        alignments,
                        ..TableCells::default()
                    };
                    Event::Start(Tag::Table(plain))
                }
                Event::Start(Tag::TableHead) => {
                    table.in_head = true;
                    table.column = 0;
                    event
                }
                Event::End(TagEnd::TableHead) => {
                    table.in_head = false;
                    event
                }
                Event::Start(Tag::TableRow) => {
                    table.column = 0;
                    event
                }
                Event::Start(Tag::TableCell) => Event::Html(CowStr::Borrowed(table.start())),
                Event::End(TagEnd::TableCell) => {
                    text.push('\n');
                    let end = table.end();
                    table.column += 1;
                    Event::Html(CowStr::Borrowed(end))
                }
                Event::Text(ref t) | Event::Code(ref t) => {
                    text.push_str(t);
                    event
                }
                Event::SoftBreak | Event::HardBreak => {
                    text.push(' ');
                    event
                }
                Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::BlockQuote(_)) => {
                    text.push('\n');
                    event
                }
                other => other,
            };
            return Some(event);
        }
    });

    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    let words = super::words::count(&text);
    Rendered {
        html: out,
        more_at,
        toc,
        text,
        words,
        blocks: Vec::new(),
    }
}

/// Table cells carry their alignment as a class: pulldown-cmark writes `style=` attributes,
/// which a strict Content-Security-Policy (`style-src` without `unsafe-inline`) would block.
#[derive(Default)]
struct TableCells {
    alignments: Vec<Alignment>,
    in_head: bool,
    column: usize,
}

impl TableCells {
    fn start(&self) -> &'static str {
        let alignment = self.alignments.get(self.column).copied();
        match (self.in_head, alignment) {
            (true, Some(Alignment::Left)) => "<th class=\"gh-align-left\">",
            (true, Some(Alignment::Center)) => "<th class=\"gh-align-center\">",
            (true, Some(Alignment::Right)) => "<th class=\"gh-align-right\">",
            (true, _) => "<th>",
            (false, Some(Alignment::Left)) => "<td class=\"gh-align-left\">",
            (false, Some(Alignment::Center)) => "<td class=\"gh-align-center\">",
            (false, Some(Alignment::Right)) => "<td class=\"gh-align-right\">",
            (false, _) => "<td>",
        }
    }

    fn end(&self) -> &'static str {
        if self.in_head { "</th>\n" } else { "</td>\n" }
    }
}

fn unique_id(used: &mut HashMap<String, usize>, base: String) -> String {
    let base = if base.is_empty() {
        "section".to_owned()
    } else {
        base
    };
    let count = used.entry(base.clone()).or_insert(0);
    *count += 1;
    if *count == 1 {
        base
    } else {
        format!("{base}-{}", *count - 1)
    }
}

fn code_block(code: &str, lang: &str, highlighter: Option<&Highlighter>) -> String {
    if !lang.is_empty()
        && let Some(html) = highlighter.and_then(|h| h.highlight(code, lang))
    {
        return html;
    }
    let mut out = String::with_capacity(code.len() + 64);
    if lang.is_empty() {
        out.push_str("<pre><code>");
    } else {
        out.push_str("<pre><code class=\"language-");
        escape_into(&mut out, lang);
        out.push_str("\">");
    }
    escape_into(&mut out, code);
    out.push_str("</code></pre>\n");
    out
}

fn escape_into(out: &mut String, text: &str) {
    pulldown_cmark_escape::escape_html(out, text).expect("writing to a String cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_unique_ids_anchors_and_toc_entries() {
        let doc = render("# Intro\n\n## Intro\n\n### Custom {#mine}\n", None);
        assert!(
            doc.html
                .contains("<h1 id=\"intro\">Intro<a class=\"anchor\" href=\"#intro\"")
        );
        assert!(doc.html.contains("<h2 id=\"intro-1\">"));
        assert!(doc.html.contains("<h3 id=\"mine\">"));
        let ids: Vec<&str> = doc.toc.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["intro", "intro-1", "mine"]);
    }

    #[test]
    fn more_marker_is_found_in_the_source_and_dropped_from_html() {
        let source = "Teaser *here*.\n\n<!-- more -->\n\nRest.\n\n```\n<!-- more -->\n```\n";
        let doc = render(source, None);
        assert_eq!(doc.more_at, Some(16));
        assert_eq!(&source[..16], "Teaser *here*.\n\n");
        assert!(doc.html.contains("<p>Rest.</p>"));
        assert!(
            !doc.html.contains("<!-- more -->\n\n<p>"),
            "the marker itself is not output"
        );
        assert!(
            doc.html.contains("&lt;!-- more --&gt;"),
            "a marker inside code is just code"
        );
    }

    #[test]
    fn extensions_are_enabled() {
        let doc = render(
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~ \"quoted\"\n\n- [x] done\n\nNote[^1].\n\n[^1]: Foot.\n",
            None,
        );
        assert!(doc.html.contains("<table>"));
        assert!(doc.html.contains("<del>gone</del>"));
        assert!(doc.html.contains("“quoted”"));
        assert!(doc.html.contains("type=\"checkbox\""));
        assert!(doc.html.contains("footnote-definition"));
    }

    #[test]
    fn table_alignment_uses_classes_not_inline_styles() {
        let doc = render("| a | b | c |\n|:--|:-:|--:|\n| 1 | 2 | 3 |\n", None);
        assert!(!doc.html.contains("style="), "{}", doc.html);
        assert!(doc.html.contains("<th class=\"gh-align-left\">a</th>"));
        assert!(doc.html.contains("<td class=\"gh-align-center\">2</td>"));
        assert!(doc.html.contains("<td class=\"gh-align-right\">3</td>"));
    }

    #[test]
    fn unhighlighted_code_is_escaped_and_counted_as_text() {
        let doc = render("```weird-lang\n<script>x</script>\n```\n", None);
        assert!(doc.html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(doc.html.contains("language-weird-lang"));
        assert!(doc.text.contains("<script>x</script>"));
    }

    #[test]
    fn plain_text_collects_words_for_search() {
        let doc = render("# Title\n\nHello **bold** world.\n", None);
        assert_eq!(doc.words, 4);
        assert!(doc.text.contains("Hello bold world."));
    }
}
