//! Shortcodes and members blocks (DESIGN §3), in Zola's syntax: `{{ name(args) }}` inline,
//! `{% name(args) %}…{% end %}` with a body, rendered from `templates/shortcodes/<name>.html`
//! (the site's file over the theme's), and the built-in `{% members(…) %}…{% else %}…{% end %}`.
//!
//! A body is expanded before Markdown sees it: each shortcode becomes a placeholder comment
//! that its rendered HTML replaces afterwards, and each members block is cut out into a
//! [`RawBlock`] of its own, rendered and sealed apart from the page. Placeholders are numbered
//! per scope (the page, each block's body, each `else` part), and each scope is filled only
//! from its own list, so a placeholder written into public text can never pull in a block's
//! shortcode output.

mod call;
mod scan;
mod signature;

use std::borrow::Cow;
use std::collections::BTreeMap;

use tera::{Context, Kwargs, State, Tera};

pub use call::{ArgValue, Call};
use scan::Piece;
use signature::Signature;

use super::access::Access;
use super::front_matter::RawRule;
use super::markdown::Heading;
use crate::config::SiteConfig;
use crate::suggest;

/// The built-in block shortcode.
pub const MEMBERS: &str = "members";

const SHORTCODE_PREFIX: &str = "<!--gh:sc:";
const BLOCK_PREFIX: &str = "<!--gh:block:";
const PLACEHOLDER_END: &str = "-->";

/// The site's shortcode templates, compiled once per build.
pub struct Shortcodes {
    tera: Tera,
    /// Every shortcode name, with its declared arguments if its template declares them.
    known: BTreeMap<String, Option<Signature>>,
    /// The templates' names and texts, hashed: parses cached by `gatehouse serve` are dropped
    /// when a shortcode template changes, since its output is part of each parse.
    fingerprint: String,
}

impl std::fmt::Debug for Shortcodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shortcodes")
            .field("known", &self.known.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A problem in a shortcode template (not in a page): the template file and the message.
#[derive(Debug)]
pub struct TemplateProblem {
    pub file: std::path::PathBuf,
    pub message: String,
}

impl Shortcodes {
    /// Loads `themes/<theme>/templates/shortcodes/*.html`, then the site's
    /// `templates/shortcodes/*.html` over them.
    pub fn load(config: &SiteConfig) -> Result<Shortcodes, TemplateProblem> {
        Shortcodes::from_dirs(
            &[
                config.theme_dir().join("templates/shortcodes"),
                config.root.join("templates/shortcodes"),
            ],
            &config.root,
        )
    }

    /// Loads the `*.html` of each folder, a later folder's file over an earlier one's; files
    /// are named relative to `root` in errors.
    fn from_dirs(
        dirs: &[std::path::PathBuf],
        root: &std::path::Path,
    ) -> Result<Shortcodes, TemplateProblem> {
        let mut sources: BTreeMap<String, (std::path::PathBuf, String)> = BTreeMap::new();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".html"))
                else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let shown = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                let text = std::fs::read_to_string(&path).map_err(|error| TemplateProblem {
                    file: shown.clone(),
                    message: format!("cannot read: {error}"),
                })?;
                sources.insert(name.to_owned(), (shown, text));
            }
        }
        if let Some((shown, _)) = sources.get(MEMBERS) {
            return Err(TemplateProblem {
                file: shown.clone(),
                message: "`members` is built in (members blocks) and cannot be a template: \
                          rename this shortcode"
                    .to_owned(),
            });
        }
        let mut tera = Tera::new();
        register_markdown_filter(&mut tera);
        let mut known = BTreeMap::new();
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        for (name, (shown, text)) in &sources {
            tera.add_raw_template(&template_name(name), text)
                .map_err(|error| TemplateProblem {
                    file: shown.clone(),
                    message: error.to_string(),
                })?;
            let signature = signature::declared(text).map_err(|message| TemplateProblem {
                file: shown.clone(),
                message: format!("its `{{# args: … #}}` declaration: {message}"),
            })?;
            known.insert(name.clone(), signature);
            digest.update(name.as_bytes());
            digest.update(b"\0");
            digest.update(text.as_bytes());
            digest.update(b"\0");
        }
        let fingerprint = digest
            .finish()
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Shortcodes {
            tera,
            known,
            fingerprint,
        })
    }

    /// No shortcodes at all (a members block still works).
    pub fn none() -> Shortcodes {
        let mut tera = Tera::new();
        register_markdown_filter(&mut tera);
        Shortcodes {
            tera,
            known: BTreeMap::new(),
            fingerprint: String::new(),
        }
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn render(&self, call: &Call, body: Option<&str>, nth: usize) -> Result<String, String> {
        let Some(signature) = self.known.get(&call.name) else {
            let names = self
                .known
                .keys()
                .map(String::as_str)
                .chain([MEMBERS])
                .collect::<Vec<_>>();
            return Err(format!(
                "unknown shortcode `{}`{}: a shortcode is a template in \
                 templates/shortcodes/{}.html",
                call.name,
                suggest::hint(&call.name, names.iter().copied()),
                call.name
            ));
        };
        if let Some(signature) = signature {
            let problems = signature.check(call);
            if !problems.is_empty() {
                return Err(problems.join("; "));
            }
        }
        let mut context = Context::new();
        for (key, value) in &call.args {
            context.insert(key.clone(), &value.to_json());
        }
        context.insert("nth", &nth);
        if let Some(body) = body {
            context.insert("body", body);
        }
        self.tera
            .render(&template_name(&call.name), &context)
            .map_err(|error| {
                format!(
                    "shortcode `{}` (templates/shortcodes/{}.html) failed: {}",
                    call.name,
                    call.name,
                    error_chain(&error)
                )
            })
    }
}

fn template_name(name: &str) -> String {
    format!("shortcodes/{name}.html")
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// `{{ body | markdown | safe }}`, as in Zola; `markdown(inline=true)` drops the paragraph
/// around a one-line text.
fn register_markdown_filter(tera: &mut Tera) {
    tera.register_filter(
        "markdown",
        |text: &str, kwargs: Kwargs, _: &State| -> tera::TeraResult<String> {
            let inline = kwargs.get::<bool>("inline")?.unwrap_or(false);
            let html = super::markdown::render(text, None).html;
            if inline {
                let trimmed = html.trim_end();
                if let Some(inner) = trimmed
                    .strip_prefix("<p>")
                    .and_then(|t| t.strip_suffix("</p>"))
                    && !inner.contains("<p>")
                {
                    return Ok(inner.to_owned());
                }
            }
            Ok(html)
        },
    );
}

/// Markdown with placeholders, and the HTML that replaces each.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    pub markdown: String,
    outputs: Vec<String>,
}

impl Scope {
    /// Keeps a rendered shortcode (with the placeholders of the shortcodes inside its body
    /// filled) and returns its number.
    fn push_output(&mut self, html: String) -> usize {
        let html = fill_shortcodes(&html, &self.outputs);
        self.outputs.push(html);
        self.outputs.len() - 1
    }

    /// `html` rendered from this scope's Markdown, with each placeholder replaced.
    pub fn fill(&self, html: &str) -> String {
        fill_shortcodes(html, &self.outputs)
    }

    /// The text of this scope's shortcodes, for search.
    pub fn output_text(&self) -> String {
        let mut text = String::new();
        for output in &self.outputs {
            text.push_str(&strip_tags(output));
            text.push('\n');
        }
        text
    }
}

/// A members block as written: its rule and its two parts, not yet rendered.
#[derive(Debug, Clone)]
pub struct RawBlock {
    /// The file line of `{% members(…) %}`.
    pub line: usize,
    pub rule: RawRule,
    pub body: Scope,
    pub else_part: Option<Scope>,
}

/// A body with its shortcodes expanded and its members blocks cut out.
#[derive(Debug, Clone)]
pub struct Expanded {
    pub page: Scope,
    pub blocks: Vec<RawBlock>,
}

/// A rendered members block (DESIGN §3): sealed on its own as `<page path>#<n>`.
#[derive(Debug, Clone)]
pub struct Block {
    /// 1-based, in document order.
    pub n: usize,
    pub line: usize,
    pub access: Access,
    pub html: String,
    /// The public `else` part, rendered ("" without one).
    pub else_html: String,
    /// Plain text for the gate's member search bundle (`search_text::searchable`).
    pub text: String,
    pub toc: Vec<Heading>,
}

enum Frame {
    Block {
        call: Call,
        line: usize,
        body: Scope,
        else_part: Option<Scope>,
    },
    Body {
        call: Call,
        line: usize,
        text: String,
    },
}

/// Expands `body` (whose first line is file line `first_line`), or `None` when it holds no
/// shortcode tag. Each error carries its file line.
pub fn expand(
    body: &str,
    first_line: usize,
    shortcodes: &Shortcodes,
) -> Result<Option<Expanded>, Vec<(usize, String)>> {
    if !scan::may_hold_tags(body) {
        return Ok(None);
    }
    let pieces = scan::scan(body, first_line).map_err(|problem| vec![problem])?;
    if !pieces.iter().any(|p| !matches!(p, Piece::Text(_))) {
        return Ok(None);
    }
    let mut expander = Expander {
        shortcodes,
        page: Scope::default(),
        frames: Vec::new(),
        blocks: Vec::new(),
        counts: BTreeMap::new(),
        problems: Vec::new(),
    };
    for piece in pieces {
        expander.take(piece);
    }
    for frame in std::mem::take(&mut expander.frames) {
        let (name, line) = match &frame {
            Frame::Block { call, line, .. } | Frame::Body { call, line, .. } => (&call.name, *line),
        };
        expander.problems.push((
            line,
            format!("`{{% {name}(…) %}}` is not closed: end it with `{{% end %}}`"),
        ));
    }
    if !expander.problems.is_empty() {
        return Err(expander.problems);
    }
    Ok(Some(Expanded {
        page: expander.page,
        blocks: expander.blocks,
    }))
}

struct Expander<'s> {
    shortcodes: &'s Shortcodes,
    page: Scope,
    frames: Vec<Frame>,
    blocks: Vec<RawBlock>,
    /// Calls of each shortcode so far: templates see it as `nth`.
    counts: BTreeMap<String, usize>,
    problems: Vec<(usize, String)>,
}

impl Expander<'_> {
    /// Where text goes now: the innermost body, block part or the page.
    fn text_sink(&mut self) -> &mut String {
        match self.frames.last_mut() {
            Some(Frame::Body { text, .. }) => text,
            Some(Frame::Block {
                body, else_part, ..
            }) => &mut else_part.as_mut().unwrap_or(body).markdown,
            None => &mut self.page.markdown,
        }
    }

    /// Where rendered shortcodes go: the innermost block part, or the page.
    fn scope(&mut self) -> &mut Scope {
        for frame in self.frames.iter_mut().rev() {
            if let Frame::Block {
                body, else_part, ..
            } = frame
            {
                return else_part.as_mut().unwrap_or(body);
            }
        }
        &mut self.page
    }

    fn nth(&mut self, name: &str) -> usize {
        let count = self.counts.entry(name.to_owned()).or_insert(0);
        *count += 1;
        *count
    }

    /// Renders a shortcode into the current scope; its placeholder goes where text goes
    /// (into a body shortcode's text while one is being read).
    fn emit(&mut self, call: &Call, body: Option<&str>, line: usize) {
        let nth = self.nth(&call.name);
        match self.shortcodes.render(call, body, nth) {
            Ok(html) => {
                let index = self.scope().push_output(html);
                let placeholder = format!("{SHORTCODE_PREFIX}{index}{PLACEHOLDER_END}");
                self.text_sink().push_str(&placeholder);
            }
            Err(message) => self.problems.push((line, message)),
        }
    }

    fn take(&mut self, piece: Piece<'_>) {
        match piece {
            Piece::Text(text) => self.text_sink().push_str(text),
            Piece::Literal(text) => self.text_sink().push_str(&text),
            Piece::Inline { call, line } => {
                if call.name == MEMBERS {
                    self.problems.push((
                        line,
                        "`members` is a block: write `{% members(…) %}` … `{% end %}`, not \
                         `{{ members(…) }}`"
                            .to_owned(),
                    ));
                    return;
                }
                self.emit(&call, None, line);
            }
            Piece::Open { call, line } => {
                if call.name == MEMBERS {
                    let outer = self.frames.first().map(|f| match f {
                        Frame::Block { line, .. } => format!("the members block of line {line}"),
                        Frame::Body { call, line, .. } => {
                            format!("the `{}` shortcode of line {line}", call.name)
                        }
                    });
                    if let Some(outer) = outer {
                        self.problems.push((
                            line,
                            format!(
                                "a members block cannot be inside {outer}: close that one \
                                 first, or put what differs in one block (blocks do not nest)"
                            ),
                        ));
                    }
                    self.frames.push(Frame::Block {
                        call,
                        line,
                        body: Scope::default(),
                        else_part: None,
                    });
                } else {
                    self.frames.push(Frame::Body {
                        call,
                        line,
                        text: String::new(),
                    });
                }
            }
            Piece::Else { line } => match self.frames.last_mut() {
                Some(Frame::Block { else_part, .. }) if else_part.is_none() => {
                    *else_part = Some(Scope::default());
                }
                Some(Frame::Block { .. }) => self.problems.push((
                    line,
                    "a members block has one `{% else %}` at most".to_owned(),
                )),
                _ => self.problems.push((
                    line,
                    "`{% else %}` outside a members block: only `{% members(…) %}` has an \
                     `else` part"
                        .to_owned(),
                )),
            },
            Piece::End { line } => match self.frames.pop() {
                None => self.problems.push((
                    line,
                    "`{% end %}` without an opening `{% name(…) %}`: remove it".to_owned(),
                )),
                Some(Frame::Body { call, line, text }) => {
                    self.emit(&call, Some(&text), line);
                }
                Some(Frame::Block {
                    call,
                    line,
                    body,
                    else_part,
                }) => self.close_block(call, line, body, else_part),
            },
        }
    }

    fn close_block(&mut self, call: Call, line: usize, body: Scope, else_part: Option<Scope>) {
        let rule = match members_rule(&call) {
            Ok(rule) => rule,
            Err(message) => {
                self.problems.push((line, message));
                return;
            }
        };
        let index = self.blocks.len() + 1;
        self.blocks.push(RawBlock {
            line,
            rule,
            body,
            else_part,
        });
        let placeholder = format!("{BLOCK_PREFIX}{index}{PLACEHOLDER_END}");
        self.text_sink().push_str(&placeholder);
    }
}

/// `members(level=…, bundles=[…], drip="7d")` as a rule to resolve like `access:`.
fn members_rule(call: &Call) -> Result<RawRule, String> {
    let mut rule = RawRule {
        level: None,
        bundles: Vec::new(),
        drip: None,
    };
    for (key, value) in &call.args {
        match (key.as_str(), value) {
            ("level", ArgValue::Str(level)) => rule.level = Some(level.clone()),
            ("bundles", ArgValue::Str(bundle)) => rule.bundles.push(bundle.clone()),
            ("bundles", ArgValue::Array(items)) => {
                for item in items {
                    match item {
                        ArgValue::Str(bundle) => rule.bundles.push(bundle.clone()),
                        other => {
                            return Err(format!(
                                "`members`: `bundles` lists bundle ids as strings, not {} ({other})",
                                other.type_name()
                            ));
                        }
                    }
                }
            }
            ("drip", ArgValue::Str(drip)) => rule.drip = Some(drip.clone()),
            ("level" | "drip", other) => {
                return Err(format!(
                    "`members`: `{key}` must be a string, not a {} ({other})",
                    other.type_name()
                ));
            }
            ("bundles", other) => {
                return Err(format!(
                    "`members`: `bundles` must be an array of strings, not a {} ({other})",
                    other.type_name()
                ));
            }
            (unknown, _) => {
                return Err(format!(
                    "`members` has no argument `{unknown}`{} (it takes: level, bundles, drip)",
                    suggest::closest(unknown, ["level", "bundles", "drip"])
                        .map(|best| format!(" (did you mean `{best}`?)"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    Ok(rule)
}

/// Replaces each `<!--gh:sc:N-->` of `html` with `outputs[N]`; other text stays.
fn fill_shortcodes(html: &str, outputs: &[String]) -> String {
    fill(html, SHORTCODE_PREFIX, |index| {
        outputs.get(index).map(String::as_str).map(str::to_owned)
    })
}

/// Replaces each `<!--gh:block:N-->` (N from 1) with `slot(N)`; one that `slot` does not know
/// is removed, so nothing of a placeholder an author wrote by hand reaches a page. Most bodies
/// have none: they are searched with memchr's vectorised search and not copied.
pub fn fill_blocks(html: &str, slot: impl Fn(usize) -> Option<String>) -> Cow<'_, str> {
    if memchr::memmem::find(html.as_bytes(), BLOCK_PREFIX.as_bytes()).is_none() {
        return Cow::Borrowed(html);
    }
    Cow::Owned(fill(html, BLOCK_PREFIX, slot))
}

fn fill(html: &str, prefix: &str, value: impl Fn(usize) -> Option<String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(prefix) {
        out.push_str(&rest[..at]);
        let after = &rest[at + prefix.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let closed = after[digits..].starts_with(PLACEHOLDER_END);
        match after[..digits].parse::<usize>() {
            Ok(index) if closed => {
                if let Some(text) = value(index) {
                    out.push_str(&text);
                }
                rest = &after[digits + PLACEHOLDER_END.len()..];
            }
            _ => {
                out.push_str(prefix);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of some HTML, for search: tags dropped, entities left as they are.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme() -> Shortcodes {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        Shortcodes::from_dirs(&[root.join("themes/default/templates/shortcodes")], root)
            .expect("the default theme's shortcodes compile")
    }

    fn expand_page(body: &str) -> Expanded {
        expand(body, 1, &theme())
            .expect("expands")
            .expect("has tags")
    }

    fn render(body: &str) -> String {
        let expanded = expand_page(body);
        let html = crate::content::markdown::render(&expanded.page.markdown, None).html;
        expanded.page.fill(&html)
    }

    #[test]
    fn the_default_theme_ships_its_shortcodes() {
        let shortcodes = theme();
        let names: Vec<&str> = shortcodes.known.keys().map(String::as_str).collect();
        for name in ["audio", "callout", "download", "figure", "video"] {
            assert!(names.contains(&name), "{names:?}");
        }
    }

    #[test]
    fn theme_shortcodes_render_with_and_without_their_optional_arguments() {
        let html = render("{{ figure(src=\"a.png\") }}\n");
        assert!(html.contains("<img src=\"a.png\""), "{html}");
        let html = render("{{ figure(src=\"a.png\", caption=\"A *cat*\", width=640) }}\n");
        assert!(
            html.contains("<figcaption>A <em>cat</em></figcaption>"),
            "{html}"
        );
        assert!(html.contains("width=\"640\""), "{html}");
        let html = render("{{ video(src=\"intro.mp4\", poster=\"p.jpg\") }}\n");
        assert!(html.contains("src=\"intro.mp4\""), "{html}");
        assert!(html.contains("poster=\"p.jpg\""), "{html}");
        assert!(html.contains(" controls"), "{html}");
        let html = render("{{ audio(src=\"ep1.mp3\", title=\"Episode 1\") }}\n");
        assert!(html.contains("<audio controls"), "{html}");
        let html = render("{{ download(src=\"kit.pdf\", label=\"The kit\") }}\n");
        assert!(html.contains("href=\"kit.pdf\" download"), "{html}");
        assert!(html.contains("The kit"), "{html}");
        let html = render("{% callout(kind=\"tip\", title=\"Tip\") %}\nUse **this**.\n{% end %}\n");
        assert!(html.contains("sc-callout-tip"), "{html}");
        assert!(html.contains("<strong>this</strong>"), "{html}");
        let html = render("{% callout() %}Plain{% end %}\n");
        assert!(html.contains("sc-callout-note"), "{html}");
    }

    #[test]
    fn arguments_are_escaped_in_html() {
        let html = render("{{ figure(src=\"a.png\", alt=\"<script>x</script>\") }}\n");
        assert!(!html.contains("<script>"), "{html}");
    }

    #[test]
    fn a_shortcode_inside_a_body_shortcode_is_rendered_inside_it() {
        let html = render("{% callout() %}\n{{ figure(src=\"in.png\") }}\n{% end %}\n");
        let callout = html.find("sc-callout").expect("a callout");
        let figure = html.find("in.png").expect("a figure");
        assert!(figure > callout, "{html}");
        assert!(!html.contains("gh:sc"), "no placeholder is left: {html}");
    }

    #[test]
    fn members_blocks_are_cut_out_with_their_else_part() {
        let expanded = expand_page(
            "Intro\n\n{% members(level=\"gold\", bundles=[\"a\", \"b\"], drip=\"7d\") %}\nSecret {{ figure(src=\"s.png\") }}\n{% else %}\nUpgrade\n{% end %}\n\nOutro\n",
        );
        assert_eq!(expanded.blocks.len(), 1);
        let block = &expanded.blocks[0];
        assert_eq!(block.line, 3);
        assert_eq!(block.rule.level.as_deref(), Some("gold"));
        assert_eq!(block.rule.bundles, ["a", "b"]);
        assert_eq!(block.rule.drip.as_deref(), Some("7d"));
        assert!(block.body.markdown.contains("Secret"));
        assert!(!expanded.page.markdown.contains("Secret"));
        assert!(!expanded.page.markdown.contains("Upgrade"));
        assert!(expanded.page.markdown.contains("<!--gh:block:1-->"));
        assert!(
            block
                .else_part
                .as_ref()
                .expect("else")
                .markdown
                .contains("Upgrade")
        );
        // The block's shortcode is the block's, not the page's.
        assert!(expanded.page.outputs.is_empty());
        assert_eq!(block.body.outputs.len(), 1);
    }

    #[test]
    fn a_placeholder_in_public_text_never_pulls_in_a_block_shortcode() {
        let expanded = expand_page(
            "<!--gh:sc:0-->\n\n{% members(level=\"gold\") %}\n{% callout() %}SECRET{% end %}\n{% end %}\n",
        );
        let html = crate::content::markdown::render(&expanded.page.markdown, None).html;
        assert!(!expanded.page.fill(&html).contains("SECRET"));
    }

    #[test]
    fn bad_input_is_an_error_on_its_line() {
        let errors = |body: &str| expand(body, 10, &theme()).expect_err(body);
        let found = errors("a\n{{ figur(src=\"x\") }}\n");
        assert_eq!(found[0].0, 11);
        assert!(found[0].1.contains("did you mean `figure`"), "{found:?}");
        let found = errors("{{ figure(src=\"x\", captoin=\"y\") }}\n");
        assert!(found[0].1.contains("did you mean `caption`"), "{found:?}");
        let found = errors("{{ figure(src=1) }}\n");
        assert!(
            found[0].1.contains("must be a string, not a number"),
            "{found:?}"
        );
        let found = errors(
            "{% members(level=\"gold\") %}\n{% members(level=\"gold\") %}\nx\n{% end %}\n{% end %}\n",
        );
        assert_eq!(found[0].0, 11);
        assert!(
            found[0]
                .1
                .contains("cannot be inside the members block of line 10"),
            "{found:?}"
        );
        let found = errors("{% members(level=\"gold\") %}\nnever closed\n");
        assert!(found[0].1.contains("not closed"), "{found:?}");
        let found = errors("text\n{% end %}\n");
        assert_eq!(found[0].0, 11);
        let found = errors("{% else %}\n");
        assert!(found[0].1.contains("outside a members block"), "{found:?}");
        let found = errors("{{ members(level=\"gold\") }}\n");
        assert!(found[0].1.contains("is a block"), "{found:?}");
        let found = errors("{% members(levle=\"gold\") %}x{% end %}\n");
        assert!(found[0].1.contains("did you mean `level`"), "{found:?}");
        let found = errors("{% members(level=1) %}x{% end %}\n");
        assert!(found[0].1.contains("must be a string"), "{found:?}");
        let found = errors("{% callout() %}\n{% members(level=\"gold\") %}x{% end %}\n{% end %}\n");
        assert!(
            found[0]
                .1
                .contains("cannot be inside the `callout` shortcode"),
            "{found:?}"
        );
    }

    #[test]
    fn code_keeps_its_tags_and_a_body_without_tags_is_left_alone() {
        assert!(
            expand("`{{ figure() }}`\n", 1, &theme())
                .expect("fine")
                .is_none()
        );
        assert!(expand("plain text\n", 1, &theme()).expect("fine").is_none());
    }
}
