//! Assembling parsed documents into the site tree: implicit sections, parents, the access
//! cascade of DESIGN §3, display order and tags.

use std::collections::HashMap;
use std::path::Path;

use super::access::Access;
use super::doc::{Doc, DocKind};
use super::markdown::Rendered;
use super::parse::Parsed;
use super::{CONTENT_DIR, Library, paginate, taxonomy};
use crate::config::SiteConfig;
use crate::diagnostic::{Diagnostic, Diagnostics};

fn parent_dir(dir: &str) -> Option<&str> {
    if dir.is_empty() {
        None
    } else {
        Some(dir.rsplit_once('/').map_or("", |(parent, _)| parent))
    }
}

fn implicit_section(config: &SiteConfig, dir: &str) -> Doc {
    let name = dir.rsplit('/').next().unwrap_or(dir);
    let title = if dir.is_empty() {
        config.title.clone()
    } else {
        crate::config::taxonomy_title(name)
    };
    Doc {
        kind: DocKind::Section,
        source: Path::new(CONTENT_DIR).join(dir),
        path: if dir.is_empty() {
            "/".to_owned()
        } else {
            format!("/{dir}/")
        },
        parent: None,
        pages: Vec::new(),
        subsections: Vec::new(),
        title,
        description: None,
        date: None,
        updated: None,
        teaser_html: None,
        teaser_in_body: false,
        tags: Vec::new(),
        taxonomies: Default::default(),
        paginate: None,
        weight: None,
        template: None,
        extra: serde_json::Value::Object(Default::default()),
        own_access: None,
        access: Access::Public,
        owned_dir: Some(dir.to_owned()),
        public_files: Vec::new(),
        aliases: Vec::new(),
        body: Rendered::default(),
    }
}

pub fn assemble(config: &SiteConfig, parsed: Vec<Parsed>) -> Result<Library, Diagnostics> {
    let mut docs = Vec::with_capacity(parsed.len() + 8);
    let mut section_of_dir: HashMap<String, usize> = HashMap::new();
    let mut owners = Vec::with_capacity(parsed.len());
    for item in parsed {
        if let Some(own) = item.own_dir {
            section_of_dir.insert(own, docs.len());
        }
        owners.push(item.section_dir);
        docs.push(item.doc);
    }
    // Every folder that holds content is a section, even without an `_index.md`.
    let mut wanted: Vec<String> = owners.clone();
    wanted.push(String::new());
    while let Some(dir) = wanted.pop() {
        if !section_of_dir.contains_key(&dir) {
            section_of_dir.insert(dir.clone(), docs.len());
            docs.push(implicit_section(config, &dir));
            owners.push(parent_dir(&dir).unwrap_or("").to_owned());
        }
        if let Some(parent) = parent_dir(&dir) {
            wanted.push(parent.to_owned());
        }
    }

    let mut by_path: HashMap<&str, usize> = HashMap::new();
    let mut problems = Vec::new();
    for (index, doc) in docs.iter().enumerate() {
        if let Some(other) = by_path.insert(&doc.path, index) {
            problems.push(Diagnostic::new(
                &doc.source,
                None,
                format!(
                    "this file and {} both make the page {}: rename one or set a different `slug`",
                    docs[other].source.display(),
                    doc.path
                ),
            ));
        }
    }
    problems.extend(paginate::collisions(&docs));
    if !problems.is_empty() {
        return Err(Diagnostics(problems));
    }

    let root = section_of_dir[""];
    for (index, owner) in owners.iter().enumerate() {
        if index == root {
            continue;
        }
        let parent = section_of_dir[owner.as_str()];
        docs[index].parent = Some(parent);
        match docs[index].kind {
            DocKind::Page => docs[parent].pages.push(index),
            DocKind::Section => docs[parent].subsections.push(index),
        }
    }
    for index in 0..docs.len() {
        docs[index].access = inherited_access(&docs, index);
    }
    for index in 0..docs.len() {
        let mut pages = std::mem::take(&mut docs[index].pages);
        pages.sort_by(|&a, &b| display_order(&docs[a], &docs[b]));
        docs[index].pages = pages;
        let mut subsections = std::mem::take(&mut docs[index].subsections);
        subsections.sort_by(|&a, &b| {
            (docs[a].weight.is_none(), docs[a].weight, &docs[a].title).cmp(&(
                docs[b].weight.is_none(),
                docs[b].weight,
                &docs[b].title,
            ))
        });
        docs[index].subsections = subsections;
    }
    let taxonomies = taxonomy::collect(&config.taxonomies, &docs);
    Ok(Library {
        docs,
        root,
        taxonomies,
        assets: Vec::new(),
        gated_files: Vec::new(),
        warnings: Vec::new(),
        highlight_css: None,
        highlighter: None,
        shortcodes: std::sync::Arc::new(super::Shortcodes::none()),
    })
}

/// The document's own access, else the nearest section's that says one, else public.
fn inherited_access(docs: &[Doc], index: usize) -> Access {
    let mut current = Some(index);
    while let Some(i) = current {
        if let Some(access) = &docs[i].own_access {
            return access.clone();
        }
        current = docs[i].parent;
    }
    Access::Public
}

/// Weight first (lessons), then newest first (posts), then title.
fn display_order(a: &Doc, b: &Doc) -> std::cmp::Ordering {
    (a.weight.is_none(), a.weight)
        .cmp(&(b.weight.is_none(), b.weight))
        .then_with(|| b.date.cmp(&a.date))
        .then_with(|| a.title.cmp(&b.title))
        .then_with(|| a.path.cmp(&b.path))
}
