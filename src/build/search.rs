//! `/search.json`: the public search index. Public pages only (DESIGN §4 leak rule); members'
//! search adds the decrypted bundles of the gates they can open.

use serde::Serialize;

use crate::content::{DocKind, Library};

/// Enough text per page to find it by its opening, without shipping the whole site. The same
/// limit applies to the members' bundles, so both searches behave alike.
pub const TEXT_LIMIT: usize = 2_000;

#[derive(Serialize)]
struct Entry<'a> {
    path: &'a str,
    title: &'a str,
    text: &'a str,
    tags: &'a [String],
}

pub fn index_json(library: &Library) -> String {
    let entries: Vec<Entry<'_>> = library
        .docs
        .iter()
        .filter(|doc| doc.kind == DocKind::Page && !doc.is_gated())
        .map(|doc| Entry {
            path: &doc.path,
            title: &doc.title,
            text: truncate(doc.body.text.trim(), TEXT_LIMIT),
            tags: &doc.tags,
        })
        .collect();
    // Sized up front: growing a buffer of many megabytes by doubling cost more than the JSON.
    let estimate: usize = entries
        .iter()
        .map(|entry| entry.path.len() + entry.title.len() + entry.text.len() * 11 / 10 + 64)
        .sum();
    let mut json = Vec::with_capacity(estimate);
    serde_json::to_writer(&mut json, &entries).expect("search entries are plain strings");
    String::from_utf8(json).expect("serde_json writes UTF-8")
}

/// Cuts at a word boundary at or before `limit` bytes.
pub fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match text[..end].rfind(char::is_whitespace) {
        Some(space) => &text[..space],
        None => &text[..end],
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncates_at_a_word_boundary_and_char_boundary() {
        assert_eq!(super::truncate("hello world", 8), "hello");
        assert_eq!(super::truncate("héllo", 2), "h");
        assert_eq!(super::truncate("short", 100), "short");
    }
}
