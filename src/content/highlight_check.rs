//! Whether HTML from the highlight cache is what the highlighter writes for a block: only its
//! own tags (`pre`, `code`, `span`, with class names and a language), and text that reads back
//! as the block's code exactly. The cache file's digest tells a damaged file from a good one,
//! but anyone who can write the file can compute it; this check is what keeps a forged entry
//! from putting markup of its choosing into a page. An entry that fails is highlighted again.

/// True when `html` is highlighter markup whose text is `code`.
pub fn is_highlight_of(html: &str, code: &str) -> bool {
    let mut text = String::with_capacity(code.len());
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let Some(end) = after.find('>') else {
                return false;
            };
            if !allowed_tag(&after[..end]) {
                return false;
            }
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('&') {
            let Some((decoded, length)) = entity(after) else {
                return false;
            };
            text.push(decoded);
            rest = &after[length..];
        } else {
            let end = rest.find(['<', '&']).unwrap_or(rest.len());
            let plain = &rest[..end];
            if plain.contains(['>', '"', '\'']) {
                return false;
            }
            text.push_str(plain);
            rest = &rest[end..];
        }
    }
    // The highlighter leaves out a block's last line when it is empty.
    text.trim_end_matches('\n') == code.trim_end_matches('\n')
}

/// The inside of a tag the highlighter writes: `pre`, `code` and `span`, opening or closing,
/// with only `class` and `data-lang` attributes of plain values.
fn allowed_tag(inside: &str) -> bool {
    if let Some(name) = inside.strip_prefix('/') {
        return matches!(name, "pre" | "code" | "span");
    }
    let inside = inside.trim_end();
    let (name, mut attributes) = inside.split_once(' ').unwrap_or((inside, ""));
    if !matches!(name, "pre" | "code" | "span") {
        return false;
    }
    loop {
        attributes = attributes.trim_start();
        if attributes.is_empty() {
            return true;
        }
        let Some((attribute, after)) = attributes.split_once("=\"") else {
            return false;
        };
        let Some((value, after)) = after.split_once('"') else {
            return false;
        };
        if !matches!(attribute, "class" | "data-lang") || !value.chars().all(plain_value) {
            return false;
        }
        attributes = after;
    }
}

fn plain_value(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '+' | '#')
}

/// The character of the entity at the start of `after` (the text after `&`), and the length
/// of the entity there: only the five the highlighter writes.
fn entity(after: &str) -> Option<(char, usize)> {
    [
        ("lt;", '<'),
        ("gt;", '>'),
        ("amp;", '&'),
        ("quot;", '"'),
        ("#39;", '\''),
    ]
    .into_iter()
    .find(|(name, _)| after.starts_with(name))
    .map(|(name, decoded)| (decoded, name.len()))
}

#[cfg(test)]
mod tests {
    use super::is_highlight_of;
    use crate::content::Highlighter;

    const BLOCKS: [(&str, &str); 6] = [
        (
            "rust",
            "fn main() {\n    let s = \"<a href='x'>&amp;</a>\";\n}\n",
        ),
        (
            "python",
            "def f(x):\n    return x < 3 and x > 1  # 'quoted'\n\n\n",
        ),
        ("json", "{\n  \"a\": [1, 2, \"&\"]\n}"),
        ("yaml", "key: value\nlist:\n  - one\n"),
        (
            "html",
            "<script>alert(1)</script>\n<p class=\"x\">&nbsp;</p>\n",
        ),
        ("bash", "echo \"$HOME\" > /tmp/x && cat <<EOF\nhi\nEOF\n"),
    ];

    #[test]
    fn what_the_highlighter_writes_passes() {
        let highlighter = Highlighter::load("github-light").expect("a known theme");
        for (lang, code) in BLOCKS {
            let html = highlighter.highlight(code, lang).expect("a known language");
            assert!(is_highlight_of(&html, code), "{lang}: {html}");
        }
    }

    #[test]
    fn other_code_or_other_markup_fails() {
        let highlighter = Highlighter::load("github-light").expect("a known theme");
        let code = "let x = 1;\n";
        let html = highlighter.highlight(code, "rust").expect("rust is known");
        assert!(is_highlight_of(&html, code));
        assert!(
            !is_highlight_of(&html, "let x = 2;\n"),
            "another block's code"
        );
        let forged = [
            html.replacen("<span", "<script>alert(1)</script><span", 1),
            html.replacen("<span", "<span onclick=\"alert(1)\"", 1),
            html.replacen("<span", "<img src=x onerror=alert(1)><span", 1),
            html.replacen("class=\"", "class=\"x\" style=\"", 1),
            html.replacen("class=\"", "class=\"a\"b", 1),
            html.replacen("<span", "<span class=\"x><script>\"", 1),
            html.replacen("let", "&#x6c;et", 1),
            html.replacen("</code>", "</code><a href=\"javascript:alert(1)\">x</a>", 1),
            format!("{html}<"),
            format!("{html}'"),
        ];
        for html in forged {
            assert!(!is_highlight_of(&html, code), "{html}");
        }
    }
}
