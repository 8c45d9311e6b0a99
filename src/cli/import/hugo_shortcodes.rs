//! Hugo's shortcodes, `{{< name args >}}` and `{{% name args %}}`: `figure`, `ref`/`relref`
//! and `highlight` become gatehouse's figure, `@/` links and fenced code; the others stay as
//! written and are listed with their line.

use std::collections::BTreeSet;

use super::shortcodes::{At, Mapped, Step, quote_arg};

/// One parsed Hugo shortcode tag.
#[derive(Debug, PartialEq, Eq)]
struct Tag {
    name: String,
    /// Positional arguments have no name.
    args: Vec<(Option<String>, String)>,
    closing: bool,
    /// Bytes from `{{` to the closing `}}`.
    len: usize,
}

impl Tag {
    fn named(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(name, _)| name.as_deref() == Some(key))
            .map(|(_, value)| value.as_str())
    }

    fn positional(&self, index: usize) -> Option<&str> {
        self.args
            .iter()
            .filter(|(name, _)| name.is_none())
            .nth(index)
            .map(|(_, value)| value.as_str())
    }
}

/// The source content's Markdown files (relative, `/`-separated, as written out), to resolve
/// `ref` and `relref`.
pub struct Pages<'a> {
    pub all: &'a BTreeSet<String>,
    /// The page being converted.
    pub current: &'a str,
    /// The site's own shortcode templates (`layouts/shortcodes/<name>.html`), if any.
    pub own_shortcodes: &'a BTreeSet<String>,
}

/// The rewriter for `shortcodes::convert`.
pub fn rewrite(at: &At<'_>, pages: &Pages<'_>) -> Option<Step> {
    let rest = at.rest;
    if !(rest.starts_with("{{<") || rest.starts_with("{{%")) {
        return None;
    }
    if let Some(step) = escaped(rest, at.source_line) {
        return Some(step);
    }
    let tag = parse_tag(rest)?;
    if tag.closing {
        // The end of a paired shortcode left as it was; its start is what the report lists.
        return None;
    }
    let mapped = |note: Option<String>| Mapped {
        name: tag.name.clone(),
        source_line: at.source_line,
        note,
    };
    let keep = |why: String| Step::Keep {
        consumed: tag.len,
        name: tag.name.clone(),
        why,
    };
    Some(match tag.name.as_str() {
        "figure" => match figure(&tag) {
            Some((with, note)) => Step::Replace {
                consumed: tag.len,
                with,
                mapped: mapped(note),
            },
            None => {
                keep("a figure without `src`: write `{{ figure(src=\"…\", alt=\"…\") }}`".into())
            }
        },
        "ref" | "relref" => {
            let target = tag
                .named("path")
                .or_else(|| tag.positional(0))
                .unwrap_or("");
            match resolve_ref(target, pages) {
                Some(link) => Step::Replace {
                    consumed: tag.len,
                    with: link,
                    mapped: mapped(None),
                },
                None => keep(format!(
                    "no page `{target}` in the imported content: write the link as \
                     `@/path/to/page.md`"
                )),
            }
        }
        "highlight" => match highlight(rest, &tag, at.at_line_start) {
            Some((consumed, with, note)) => Step::Replace {
                consumed,
                with,
                mapped: mapped(note),
            },
            None => keep("a `highlight` without its `{{< /highlight >}}`".into()),
        },
        "youtube" | "vimeo" => keep(format!(
            "gatehouse has no `{}`: embed the player's HTML, or add \
             templates/shortcodes/{}.html and write `{{{{ {}(id=\"…\") }}}}`",
            tag.name, tag.name, tag.name
        )),
        name => keep(if pages.own_shortcodes.contains(name) {
            format!(
                "the site's own shortcode (layouts/shortcodes/{name}.html, a Go template): \
                 port it to templates/shortcodes/{name}.html and write `{{{{ {name}(…) }}}}`"
            )
        } else {
            format!(
                "no gatehouse equivalent: rewrite it, or add templates/shortcodes/{name}.html \
                 and write `{{{{ {name}(…) }}}}`"
            )
        }),
    })
}

/// `{{</* name */>}}` shows a shortcode as text in Hugo; as text it needs no escaping here.
fn escaped(rest: &str, source_line: usize) -> Option<Step> {
    let (open, close) = if rest.starts_with("{{<") {
        ("{{<", ">}}")
    } else {
        ("{{%", "%}}")
    };
    let inner = rest[3..].trim_start();
    let inner = inner.strip_prefix("/*")?;
    let comment_close = format!("*/{close}");
    let end = inner.find(&comment_close)?;
    let shown = format!("{open} {} {close}", inner[..end].trim());
    let consumed = rest.len() - inner.len() + end + comment_close.len();
    Some(Step::Replace {
        consumed,
        with: shown,
        mapped: Mapped {
            name: "`{{</* … */>}}` shown as text".to_owned(),
            source_line,
            note: None,
        },
    })
}

/// Parses `{{< name a "b c" key="v" >}}` (or with `%`), or `None` when it is not one.
fn parse_tag(text: &str) -> Option<Tag> {
    // A tag that has not closed within this many bytes is a typo, not a shortcode whose
    // arguments swallow the rest of the page.
    let text = &text[..text.floor_char_boundary(4096)];
    let delimiter = text.as_bytes().get(2).copied()?;
    let close = if delimiter == b'<' { ">}}" } else { "%}}" };
    let mut rest = text[3..].trim_start();
    let closing = rest.starts_with('/');
    if closing {
        rest = rest[1..].trim_start();
    }
    let name_len = rest
        .char_indices()
        .find(|&(index, c)| {
            !(c.is_alphanumeric()
                || matches!(c, '_' | '-' | '.')
                || (c == '/'
                    && rest[index + 1..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphanumeric)))
        })
        .map_or(rest.len(), |(index, _)| index);
    if name_len == 0 {
        return None;
    }
    let name = rest[..name_len].to_owned();
    rest = &rest[name_len..];
    let mut args = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(close) {
            return Some(Tag {
                name,
                args,
                closing,
                len: text.len() - after.len(),
            });
        }
        // `{{< name />}}` closes itself.
        if let Some(after) = rest.strip_prefix('/')
            && let Some(after) = after.trim_start().strip_prefix(close)
        {
            return Some(Tag {
                name,
                args,
                closing,
                len: text.len() - after.len(),
            });
        }
        let (first, after) = token(rest, close)?;
        rest = after;
        if let Some(after) = rest.strip_prefix('=') {
            let (value, after) = token(after.trim_start(), close)?;
            rest = after;
            args.push((Some(first), value));
        } else {
            args.push((None, first));
        }
    }
}

/// One argument: `"quoted \" text"`, `` `raw text` ``, or a bare word.
fn token<'a>(text: &'a str, close: &str) -> Option<(String, &'a str)> {
    let mut chars = text.char_indices();
    match chars.next()?.1 {
        '"' => {
            let mut value = String::new();
            let mut escaped = false;
            for (index, c) in chars {
                match c {
                    _ if escaped => {
                        value.push(c);
                        escaped = false;
                    }
                    '\\' => escaped = true,
                    '"' => return Some((value, &text[index + 1..])),
                    _ => value.push(c),
                }
            }
            None
        }
        '`' => {
            let end = text[1..].find('`')? + 1;
            Some((text[1..end].to_owned(), &text[end + 1..]))
        }
        _ => {
            let end = text
                .char_indices()
                .find(|&(index, c)| {
                    c.is_whitespace() || c == '=' || text[index..].starts_with(close)
                })
                .map_or(text.len(), |(index, _)| index);
            if end == 0 {
                return None;
            }
            Some((text[..end].to_owned(), &text[end..]))
        }
    }
}

/// Hugo's figure → `{{ figure(src=…, alt=…, caption=…, link=…, width=…, height=…) }}`, the
/// arguments of the default theme's figure; the title joins the caption, and the rest
/// (`class`, `attr`, `target`…) is dropped and reported.
fn figure(tag: &Tag) -> Option<(String, Option<String>)> {
    let src = tag.named("src")?;
    let mut args = vec![format!("src={}", quote_arg(src))];
    let mut dropped: Vec<String> = Vec::new();
    if let Some(alt) = tag.named("alt") {
        args.push(format!("alt={}", quote_arg(alt)));
    }
    let caption = match (tag.named("title"), tag.named("caption")) {
        (Some(title), Some(caption)) => Some(format!("{title} — {caption}")),
        (title, caption) => caption.or(title).map(str::to_owned),
    };
    if let Some(caption) = caption {
        args.push(format!("caption={}", quote_arg(&caption)));
    }
    if let Some(link) = tag.named("link") {
        args.push(format!("link={}", quote_arg(link)));
    }
    // Sizes are numbers in gatehouse's figure; Hugo's `width="50%"` has no equivalent.
    for size in ["width", "height"] {
        if let Some(value) = tag.named(size) {
            match value.trim().trim_end_matches("px").parse::<u32>() {
                Ok(number) => args.push(format!("{size}={number}")),
                Err(_) => dropped.push(format!("{size}=\"{value}\"")),
            }
        }
    }
    dropped.extend(
        tag.args
            .iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_deref(),
                    Some("src" | "alt" | "title" | "caption" | "link" | "width" | "height")
                )
            })
            .map(|(name, value)| match name {
                Some(name) => format!("{name}=\"{value}\""),
                None => format!("\"{value}\""),
            }),
    );
    let mut notes = Vec::new();
    if tag.named("title").is_some() && tag.named("caption").is_some() {
        notes.push("title joined to the caption".to_owned());
    }
    if !dropped.is_empty() {
        notes.push(format!("dropped {}", dropped.join(" ")));
    }
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    Some((format!("{{{{ figure({}) }}}}", args.join(", ")), note))
}

/// `ref "post.md#part"` → `@/blog/post.md#part`, the way Hugo looks pages up: from the root
/// with a leading `/`, else beside the current page, then from the root, then by file name.
fn resolve_ref(target: &str, pages: &Pages<'_>) -> Option<String> {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, format!("#{anchor}")),
        None => (target, String::new()),
    };
    if path.is_empty() {
        return (!anchor.is_empty()).then_some(anchor);
    }
    let path = path.trim_end_matches('/');
    let here = pages
        .current
        .rsplit_once('/')
        .map_or("", |(folder, _)| folder);
    let mut bases: Vec<String> = Vec::new();
    if let Some(from_root) = path.strip_prefix('/') {
        bases.push(from_root.to_owned());
    } else {
        if !here.is_empty() {
            bases.push(format!("{here}/{path}"));
        }
        bases.push(path.to_owned());
    }
    let found = bases
        .iter()
        .find_map(|base| candidate(base, pages.all))
        .or_else(|| {
            // A bare file name Hugo finds anywhere, as long as only one page has it.
            let name = path.trim_start_matches('/');
            let mut matches = pages.all.iter().filter(|page| {
                page.ends_with(&format!("/{name}"))
                    || page.ends_with(&format!("/{name}.md"))
                    || page.ends_with(&format!("/{name}/index.md"))
            });
            let first = matches.next()?;
            matches.next().is_none().then(|| first.clone())
        })?;
    Some(format!("@/{found}{anchor}"))
}

/// The page a path names: the file itself, with `.md` added, or a bundle's or section's index.
fn candidate(base: &str, all: &BTreeSet<String>) -> Option<String> {
    let base = base.trim_start_matches("./");
    let base = base
        .strip_suffix(".markdown")
        .map_or(base.to_owned(), |stem| format!("{stem}.md"));
    [
        base.clone(),
        format!("{base}.md"),
        format!("{base}/index.md"),
        format!("{base}/_index.md"),
    ]
    .into_iter()
    .find(|path| all.contains(path))
}

/// `{{< highlight go "linenos=table" >}}…{{< /highlight >}}` → a fenced code block.
/// Returns the bytes consumed (through the closing tag), the block, and what was dropped.
fn highlight(
    rest: &str,
    tag: &Tag,
    at_line_start: bool,
) -> Option<(usize, String, Option<String>)> {
    let after_open = &rest[tag.len..];
    let mut search = 0;
    let (code_end, close_len) = loop {
        let found = after_open[search..].find("{{")? + search;
        if let Some(close) = parse_tag(&after_open[found..])
            && close.closing
            && close.name == "highlight"
        {
            break (found, close.len);
        }
        search = found + 2;
    };
    let code = &after_open[..code_end];
    let code = code
        .strip_prefix("\r\n")
        .or_else(|| code.strip_prefix('\n'))
        .unwrap_or(code);
    let language = tag
        .positional(0)
        .or_else(|| tag.named("lang"))
        .unwrap_or("");
    // A fence longer than any backtick run inside, so the code cannot close it early.
    let longest = code
        .lines()
        .map(|line| line.trim_start().chars().take_while(|&c| c == '`').count())
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let mut block = String::new();
    if !at_line_start {
        block.push('\n');
    }
    block.push_str(&fence);
    block.push_str(language);
    block.push('\n');
    block.push_str(code);
    if !code.is_empty() && !code.ends_with('\n') {
        block.push('\n');
    }
    block.push_str(&fence);
    let options: Vec<&str> = tag
        .args
        .iter()
        .skip(usize::from(!language.is_empty()))
        .map(|(_, value)| value.as_str())
        .collect();
    let note = (!options.is_empty()).then(|| format!("dropped options {}", options.join(" ")));
    Some((tag.len + code_end + close_len, block, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::import::shortcodes::convert;

    fn run(body: &str) -> crate::cli::import::shortcodes::Body {
        let all: BTreeSet<String> = ["posts/first.md", "posts/bundle/index.md", "docs/_index.md"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let own = BTreeSet::from(["notice".to_owned()]);
        let pages = Pages {
            all: &all,
            current: "posts/first.md",
            own_shortcodes: &own,
        };
        convert(body, 1, 1, |at| rewrite(at, &pages))
    }

    #[test]
    fn tags_parse_with_quotes_names_and_both_delimiters() {
        let tag =
            parse_tag("{{< figure src=\"a b.jpg\" alt=`x \"y\"` class=wide >}} after").unwrap();
        assert_eq!(tag.name, "figure");
        assert_eq!(tag.named("src"), Some("a b.jpg"));
        assert_eq!(tag.named("alt"), Some("x \"y\""));
        assert_eq!(tag.named("class"), Some("wide"));
        assert_eq!(
            tag.len,
            "{{< figure src=\"a b.jpg\" alt=`x \"y\"` class=wide >}}".len()
        );
        let tag = parse_tag("{{% /note %}}").unwrap();
        assert!(tag.closing);
        assert_eq!(tag.name, "note");
        assert!(parse_tag("{{< >}}").is_none());
        assert!(parse_tag("{{< figure src=\"unclosed >}}").is_none());
    }

    #[test]
    fn figure_ref_and_highlight_are_mapped() {
        let out = run(
            "{{< figure src=\"cat.jpg\" alt=\"A cat\" title=\"Cat\" caption=\"Asleep\" width=\"300\" class=\"wide\" >}}\n\
             See [it]({{< ref \"bundle\" >}}) and [docs]({{< relref \"/docs\" >}}#intro).\n\
             {{< highlight rust \"linenos=table\" >}}\nfn main() {}\n{{< /highlight >}}\n",
        );
        assert_eq!(
            out.text,
            "{{ figure(src=\"cat.jpg\", alt=\"A cat\", caption=\"Cat — Asleep\", width=300) }}\n\
             See [it](@/posts/bundle/index.md) and [docs](@/docs/_index.md#intro).\n\
             ```rust\nfn main() {}\n```\n"
        );
        assert!(out.unmapped.is_empty(), "{:?}", out.unmapped);
        assert_eq!(out.mapped.len(), 4);
        assert_eq!(
            out.mapped[0].note.as_deref(),
            Some("title joined to the caption; dropped class=\"wide\"")
        );
    }

    #[test]
    fn unmapped_shortcodes_stay_and_are_listed_once() {
        let out = run(
            "{{< youtube w7Ft2ymGmfc >}}\n\n{{% notice info %}}\nHi\n{{% /notice %}}\n[x]({{< ref \"nowhere.md\" >}})\n",
        );
        let names: Vec<(&str, usize)> = out
            .unmapped
            .iter()
            .map(|found| (found.name.as_str(), found.line))
            .collect();
        assert_eq!(names, [("youtube", 1), ("notice", 3), ("ref", 6)]);
        assert!(
            out.unmapped[1]
                .why
                .contains("layouts/shortcodes/notice.html")
        );
        assert!(out.text.starts_with("{{< youtube w7Ft2ymGmfc >}}"));
    }

    #[test]
    fn escaped_shortcodes_become_text_and_code_is_untouched() {
        let out = run("Write `{{< figure src=\"x\" >}}` or {{</* figure src=\"x\" */>}}.\n");
        assert_eq!(
            out.text,
            "Write `{{< figure src=\"x\" >}}` or {{< figure src=\"x\" >}}.\n"
        );
    }
}
