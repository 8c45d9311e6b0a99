//! Finding the URLs in rendered HTML that point at files: `src`, `href`, `poster`, `srcset` and
//! `data` of any element (Markdown's images and links, and the raw `<video>`, `<audio>`,
//! `<source>`, `<track>` and `<object>` that authors write), `url(…)` in `style`, and `content`
//! of `<meta>` (an `og:image`).
//!
//! A small tokenizer rather than an HTML parser: the input is our own Markdown output plus the
//! author's raw HTML, and all it must do is find attribute values and their byte ranges, so a
//! gated body can have them rewritten and public HTML can be checked.

use std::ops::Range;

/// One URL in an attribute: its byte range in the HTML and its text with entities decoded.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlRef {
    pub range: Range<usize>,
    pub value: String,
}

const URL_ATTRIBUTES: [&str; 5] = ["src", "href", "poster", "srcset", "data"];

/// Every URL-valued attribute in `html`, in document order; a `srcset` gives one per candidate.
pub fn url_refs(html: &str) -> Vec<UrlRef> {
    let bytes = html.as_bytes();
    let mut refs = Vec::new();
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        at += offset + 1;
        match bytes.get(at) {
            Some(b'!') => {
                let end = if html[at..].starts_with("!--") {
                    "-->"
                } else {
                    ">"
                };
                at = html[at..]
                    .find(end)
                    .map_or(html.len(), |e| at + e + end.len());
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let name_end = html[at..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                    .map_or(html.len(), |e| at + e);
                let tag = html[at..name_end].to_ascii_lowercase();
                at = read_attributes(html, name_end, &tag, &mut refs);
                if tag == "script" || tag == "style" {
                    // Their text is code, not markup: skip to the end tag.
                    let close = format!("</{tag}");
                    at = find_ascii_case_insensitive(html, at, &close).unwrap_or(html.len());
                }
            }
            _ => {}
        }
    }
    refs
}

/// Reads a tag's attributes from `at` to its `>`, collecting URL ones; returns where it ends.
fn read_attributes(html: &str, mut at: usize, tag: &str, refs: &mut Vec<UrlRef>) -> usize {
    let bytes = html.as_bytes();
    loop {
        while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'/') {
            at += 1;
        }
        if at >= bytes.len() {
            return at;
        }
        if bytes[at] == b'>' {
            return at + 1;
        }
        let name_start = at;
        while at < bytes.len()
            && !matches!(bytes[at], b'=' | b'>' | b'/')
            && !bytes[at].is_ascii_whitespace()
        {
            at += 1;
        }
        let name = html[name_start..at].to_ascii_lowercase();
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if bytes.get(at) != Some(&b'=') {
            continue;
        }
        at += 1;
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let value = match bytes.get(at) {
            Some(&quote @ (b'"' | b'\'')) => {
                let start = at + 1;
                let end = html[start..]
                    .find(quote as char)
                    .map_or(html.len(), |e| start + e);
                at = (end + 1).min(html.len());
                start..end
            }
            _ => {
                let start = at;
                while at < bytes.len() && !bytes[at].is_ascii_whitespace() && bytes[at] != b'>' {
                    at += 1;
                }
                start..at
            }
        };
        let is_url = URL_ATTRIBUTES.contains(&name.as_str())
            || name == "style"
            || (tag == "meta" && name == "content");
        if !is_url {
            continue;
        }
        if name == "style" {
            style_refs(html, value, refs);
        } else if name == "srcset" {
            srcset_refs(html, value, refs);
        } else {
            refs.push(UrlRef {
                value: decode_entities(&html[value.clone()]),
                range: value,
            });
        }
    }
}

/// `a.png 1x, b.png 2x`: the URL of each candidate.
fn srcset_refs(html: &str, value: Range<usize>, refs: &mut Vec<UrlRef>) {
    let mut at = value.start;
    for candidate in html[value.clone()].split(',') {
        let leading = candidate.len() - candidate.trim_start().len();
        let url = candidate.split_whitespace().next().unwrap_or("");
        let start = at + leading;
        if !url.is_empty() {
            refs.push(UrlRef {
                range: start..start + url.len(),
                value: decode_entities(url),
            });
        }
        at += candidate.len() + 1;
    }
}

/// `background: url('a.png')`: the URL of each `url(…)`.
fn style_refs(html: &str, value: Range<usize>, refs: &mut Vec<UrlRef>) {
    let text = &html[value.clone()];
    let mut from = 0;
    while let Some(at) = find_ascii_case_insensitive(text, from, "url(") {
        let inner_start = at + 4;
        let Some(close) = text[inner_start..].find(')') else {
            return;
        };
        let inner = &text[inner_start..inner_start + close];
        let trimmed = inner
            .trim()
            .trim_start_matches(['"', '\'', ' '])
            .trim_end_matches(['"', '\'', ' ']);
        let trimmed = trimmed
            .strip_prefix("&quot;")
            .and_then(|t| t.strip_suffix("&quot;"))
            .unwrap_or(trimmed);
        if let Some(offset) = inner.find(trimmed).filter(|_| !trimmed.is_empty()) {
            let start = value.start + inner_start + offset;
            refs.push(UrlRef {
                range: start..start + trimmed.len(),
                value: decode_entities(trimmed),
            });
        }
        from = inner_start + close + 1;
    }
}

fn find_ascii_case_insensitive(html: &str, from: usize, needle: &str) -> Option<usize> {
    let hay = html.as_bytes();
    let needle = needle.as_bytes();
    (from..hay.len().saturating_sub(needle.len() - 1))
        .find(|&i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

/// Character references in an attribute value: numeric ones (`&#x2F;`, `&#47;`) and the named
/// ones a URL may hold. An unknown name stays as written, as browsers leave it.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest.find(';').filter(|&end| end <= 12);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let code = match name.strip_prefix('#') {
                Some(hex) if hex.starts_with(['x', 'X']) => u32::from_str_radix(&hex[1..], 16).ok(),
                Some(decimal) => decimal.parse::<u32>().ok(),
                None => named_entity(name),
            };
            code.and_then(char::from_u32).map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The named references a URL may be written with.
fn named_entity(name: &str) -> Option<u32> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "sol" => '/',
        "bsol" => '\\',
        "quest" => '?',
        "num" => '#',
        "colon" => ':',
        "period" => '.',
        "percnt" => '%',
        "equals" => '=',
        _ => return None,
    };
    Some(u32::from(c))
}

/// The site-root URL path that `url` points at from a page at `base` (a path ending in `/`),
/// with its `#fragment` (kept, for media fragments such as `#t=30`). `None` for another site,
/// a scheme (`mailto:`, `data:`), or a fragment alone. `site` is the site's own `base_url`.
pub fn resolve(url: &str, base: &str, site: &str) -> Option<(String, String)> {
    // Browsers read `\` as `/` in http(s) URLs.
    let url = url.trim().replace('\\', "/");
    let url = match same_site_path(&url, site) {
        Some(path) => path,
        None if url.starts_with("//") || url.contains("://") => return None,
        None => url.as_str(),
    };
    if url.is_empty() || url.starts_with('#') {
        return None;
    }
    let before_path_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    if url[..before_path_end].contains(':') {
        return None;
    }
    let (rest, fragment) = url.split_once('#').map_or((url, ""), |(r, f)| (r, f));
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    let path = crate::percent::decode(path)?;
    let joined = if path.starts_with('/') {
        path
    } else {
        let dir = base.rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{dir}/{path}")
    };
    let mut segments: Vec<&str> = Vec::new();
    for segment in joined.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            segment => segments.push(segment),
        }
    }
    let fragment = if fragment.is_empty() {
        String::new()
    } else {
        format!("#{fragment}")
    };
    Some((format!("/{}", segments.join("/")), fragment))
}

/// The path part of an absolute (`https://host/…`) or protocol-relative (`//host/…`) URL on the
/// site's own host, in any case, with or without the default port; `None` for another host or
/// a URL without one.
fn same_site_path<'u>(url: &'u str, site: &str) -> Option<&'u str> {
    let host_and_rest = match url.split_once("://") {
        Some((scheme, rest))
            if matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") =>
        {
            rest
        }
        Some(_) => return None,
        None => url.strip_prefix("//")?,
    };
    let (_, site_rest) = site.split_once("://")?;
    let site_host = site_rest.split('/').next()?;
    let end = host_and_rest
        .find(['/', '?', '#'])
        .unwrap_or(host_and_rest.len());
    let host = &host_and_rest[..end];
    let without_default_port = |h: &str| -> String {
        let lower = h.to_ascii_lowercase();
        match lower
            .strip_suffix(":443")
            .or_else(|| lower.strip_suffix(":80"))
        {
            Some(bare) => bare.to_owned(),
            None => lower,
        }
    };
    if without_default_port(host) != without_default_port(site_host) {
        return None;
    }
    let path = &host_and_rest[end..];
    Some(if path.is_empty() { "/" } else { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(html: &str) -> Vec<String> {
        url_refs(html).into_iter().map(|r| r.value).collect()
    }

    #[test]
    fn finds_markdown_and_raw_html_references() {
        let html = r#"<p><img src="a.png" alt="x"> <a href='b.pdf'>w</a></p>
<video controls poster=c.jpg><source src="d.webm" type="video/webm"><track src="e.vtt"></video>
<img srcset="f.png 1x, g.png 2x"><meta property="og:image" content="h.png">"#;
        assert_eq!(
            values(html),
            [
                "a.png", "b.pdf", "c.jpg", "d.webm", "e.vtt", "f.png", "g.png", "h.png"
            ]
        );
    }

    #[test]
    fn ranges_point_at_the_raw_value() {
        let html = r#"<img srcset=" f.png 1x,g.png 2x" src="x&amp;y.png">"#;
        for r in url_refs(html) {
            let raw = &html[r.range.clone()];
            assert_eq!(decode_entities(raw), r.value);
        }
    }

    #[test]
    fn escaped_markup_comments_and_scripts_are_not_references() {
        let html = r#"<code>&lt;img src="no.png"&gt;</code><!-- <img src="no2.png"> -->
<script>var s = '<img src="no3.png">';</script><p data-src="no4.png">"#;
        assert!(values(html).is_empty(), "{:?}", values(html));
    }

    #[test]
    fn entities_styles_and_objects_are_read_as_browsers_read_them() {
        let html = r#"<img src="&#x2F;a&#47;b.png"><object data="c.pdf"></object><p style="background: url('d.png')">"#;
        assert_eq!(values(html), ["/a/b.png", "c.pdf", "d.png"]);
        assert_eq!(decode_entities("a&amp;b&unknown;c&#63;"), "a&b&unknown;c?");
    }

    #[test]
    fn the_sites_own_host_is_recognised_in_any_form() {
        let site = "https://academy.example.com";
        for url in [
            "//academy.example.com/x.png",
            "https://ACADEMY.example.com/x.png",
            "https://academy.example.com:443/x.png",
            "http://academy.example.com/x.png",
            "\\x.png",
        ] {
            assert_eq!(
                resolve(url, "/", site),
                Some(("/x.png".into(), String::new())),
                "{url}"
            );
        }
        assert_eq!(resolve("//elsewhere.example/x.png", "/", site), None);
    }

    #[test]
    fn resolves_relative_absolute_and_site_urls() {
        let base = "/course/lesson-3/";
        let site = "https://academy.example.com";
        let at = |u: &str| resolve(u, base, site);
        assert_eq!(
            at("intro.mp4"),
            Some(("/course/lesson-3/intro.mp4".into(), String::new()))
        );
        assert_eq!(
            at("../x.pdf?v=2"),
            Some(("/course/x.pdf".into(), String::new()))
        );
        assert_eq!(
            at("/a%20b.png#t=30"),
            Some(("/a b.png".into(), "#t=30".into()))
        );
        assert_eq!(
            at("https://academy.example.com/course/d.png"),
            Some(("/course/d.png".into(), String::new()))
        );
        assert_eq!(at("https://elsewhere.example/d.png"), None);
        assert_eq!(at("mailto:a@b.c"), None);
        assert_eq!(at("#top"), None);
        assert_eq!(at("//cdn.example/x.png"), None);
    }
}
