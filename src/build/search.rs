//! `/search.json`: the public search index. Public pages only (DESIGN §4 leak rule); members'
//! search adds the decrypted bundles of the gates they can open.

use serde::Serialize;

use crate::content::{DocKind, Library};

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
            // already cut to what search keeps, when the page was parsed
            text: &doc.body.text,
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
