//! The Content-Type and Cache-Control each deployed file gets (DESIGN §9): HTML and the lists
//! of pages stay short-lived, so an edit shows within a minute; content-addressed envelopes
//! and fingerprinted assets never change, so caches may keep them for a year.

use serde::{Deserialize, Serialize};

use crate::config::HeaderRule;

/// For files replaced in place whose readers must see a new version soon.
pub const SHORT: &str = "public, max-age=60";
/// For files whose name changes whenever their bytes do.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For other static files (style.css, gate.js, images): replaced in place, so kept briefly.
pub const ASSET: &str = "public, max-age=300";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    pub content_type: String,
    pub cache_control: String,
}

/// The headers for the file at `key` (a path below the site root, `course/a/index.html`): the
/// first `[[deploy.headers]]` rule whose glob matches sets what it names, and the defaults
/// fill in the rest.
pub fn headers_for(key: &str, rules: &[HeaderRule]) -> Headers {
    let path = format!("/{key}");
    let rule = rules.iter().find(|rule| rule.path.matches(&path));
    Headers {
        content_type: rule
            .and_then(|rule| rule.content_type.clone())
            .unwrap_or_else(|| crate::media_type::for_path(key).to_owned()),
        cache_control: rule
            .and_then(|rule| rule.cache_control.clone())
            .unwrap_or_else(|| default_cache_control(key).to_owned()),
    }
}

pub fn default_cache_control(key: &str) -> &'static str {
    if is_envelope(key) || is_sealed_file(key) {
        IMMUTABLE
    } else if is_list(key)
        || key.ends_with(".html")
        || key.ends_with(".htm")
        || key == crate::render::SERVICE_WORKER
    {
        SHORT
    } else if is_fingerprinted(key) {
        IMMUTABLE
    } else {
        ASSET
    }
}

/// `_gated/<gate>/<hash>.bin`: a page's, block's or search bundle's envelope, named by the hash
/// of its bytes (DESIGN §4).
pub fn is_envelope(key: &str) -> bool {
    let mut parts = key.split('/');
    let (Some("_gated"), Some(gate), Some(file), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let hash = file.strip_suffix(".bin").unwrap_or("");
    is_hex(gate, 16) && is_hex(hash, 16)
}

/// `_gated/files/<salt>.bin`: a sealed file, named by its salt, which its bytes determine.
pub fn is_sealed_file(key: &str) -> bool {
    key.strip_prefix("_gated/files/")
        .and_then(|name| name.strip_suffix(".bin"))
        .is_some_and(|salt| is_hex(salt, 32))
}

/// Files that list pages: they go up after the pages they point to.
pub fn is_list(key: &str) -> bool {
    matches!(
        key,
        "search.json" | "_gated/manifest.json" | "_gated/gates.json"
    ) || (key.ends_with(".xml") && !key.contains('/'))
}

/// A name with a segment of 8 or more hex digits, mixing letters and digits, as asset
/// pipelines write them (`app.3f9a1c2b.js`, `font-3f9a1c2bd0.woff2`, `0a1b2c3d4e5f.css`).
/// Digits alone are a date or a number (`IMG_20240115_123456.jpg`, `invoice_10000001.pdf`)
/// and letters alone a word (`deadbeef`): such files are replaced in place, so never immutable.
pub fn is_fingerprinted(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    stem.split(['.', '-', '_']).any(|part| {
        part.len() >= 8
            && part.bytes().all(|b| b.is_ascii_hexdigit())
            && part.bytes().any(|b| b.is_ascii_digit())
            && part.bytes().any(|b| b.is_ascii_alphabetic())
    })
}

fn is_hex(text: &str, length: usize) -> bool {
    text.len() == length
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glob::Glob;

    #[test]
    fn each_kind_of_file_gets_its_default_cache_control() {
        let cases = [
            ("index.html", SHORT),
            ("course/a/index.html", SHORT),
            ("404.html", SHORT),
            ("_gated/0123456789abcdef/fedcba9876543210.bin", IMMUTABLE),
            (
                "_gated/files/0123456789abcdef0123456789abcdef.bin",
                IMMUTABLE,
            ),
            ("gatehouse-sw.js", SHORT),
            ("_gated/manifest.json", SHORT),
            ("_gated/gates.json", SHORT),
            ("search.json", SHORT),
            ("atom.xml", SHORT),
            ("sitemap.xml", SHORT),
            ("assets/app.3f9a1c2b.js", IMMUTABLE),
            ("style.css", ASSET),
            ("gate.js", ASSET),
            ("images/a-cafe.png", ASSET),
        ];
        for (key, expected) in cases {
            assert_eq!(default_cache_control(key), expected, "{key}");
        }
    }

    #[test]
    fn only_names_with_a_hash_in_them_count_as_fingerprinted() {
        for yes in [
            "app.3f9a1c2b.js",
            "font-3f9a1c2bd0.woff2",
            "0a1b2c3d4e5f.css",
            "a/b.c0ffee12.png",
        ] {
            assert!(is_fingerprinted(yes), "{yes}");
        }
        for no in [
            "images/IMG_20240115_123456.jpg",
            "photo-20240115.jpg",
            "downloads/invoice_10000001.pdf",
            "logo-deadbeef.png",
            "style.css",
            "app.3f9a1c2.js",
        ] {
            assert!(!is_fingerprinted(no), "{no}");
        }
    }

    #[test]
    fn envelopes_are_recognised_by_shape_only() {
        assert!(is_envelope("_gated/0123456789abcdef/fedcba9876543210.bin"));
        assert!(!is_envelope("_gated/0123456789abcdef/bundle.bin"));
        assert!(!is_envelope(
            "_gated/files/0123456789abcdef0123456789abcdef.bin"
        ));
        assert!(is_sealed_file(
            "_gated/files/0123456789abcdef0123456789abcdef.bin"
        ));
        assert!(!is_sealed_file("_gated/files/0123456789abcdef.bin"));
        assert!(!is_sealed_file(
            "x/_gated/files/0123456789abcdef0123456789abcdef.bin"
        ));
        assert!(!is_envelope("_gated/0123456789ABCDEF/fedcba9876543210.bin"));
        assert!(!is_envelope(
            "x/_gated/0123456789abcdef/fedcba9876543210.bin"
        ));
        assert!(!is_envelope("_gated/manifest.json"));
    }

    #[test]
    fn the_first_matching_rule_sets_what_it_names() {
        let rules = vec![
            HeaderRule {
                path: Glob::new("/images/**").expect("glob"),
                cache_control: Some("public, max-age=86400".into()),
                content_type: None,
            },
            HeaderRule {
                path: Glob::new("*.png").expect("glob"),
                cache_control: Some("no-store".into()),
                content_type: Some("image/x-test".into()),
            },
        ];
        let headers = headers_for("images/a.png", &rules);
        assert_eq!(headers.cache_control, "public, max-age=86400");
        assert_eq!(headers.content_type, "image/png");
        let other = headers_for("b.png", &rules);
        assert_eq!(other.cache_control, "no-store");
        assert_eq!(other.content_type, "image/x-test");
        assert_eq!(headers_for("index.html", &rules).cache_control, SHORT);
    }
}
