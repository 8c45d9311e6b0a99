//! The import's report on stdout: what was converted, copied and skipped, each file's changes,
//! every shortcode left as it was with its `file:line` in the written tree, and the lines
//! site.toml needs. It is the record of everything the import relaxed (issue 16).

use std::fmt::Write as _;
use std::path::Path;

use super::plan::{Action, Plan, Source};
use super::value::{Value, get};

pub fn render(source: &Source, plan: &Plan, out: &Path, root: &Path) -> String {
    let mut text = String::new();
    let converted = plan
        .files
        .iter()
        .filter(|file| matches!(file.action, Action::Convert(_)))
        .count();
    let copied = plan.files.len() - converted;
    let _ = writeln!(
        text,
        "Imported the {} content in {} into {}: {converted} page(s) converted, {copied} file(s) \
         copied, {} skipped.",
        source.tool.title(),
        source.content.display(),
        out.display(),
        plan.skipped.len()
    );

    if source.tool == super::Tool::Hugo {
        let _ = writeln!(
            text,
            "Hugo taxonomies besides tags: {} ({}).",
            source.hugo_taxonomies.join(", "),
            match &source.config_file {
                Some(file) => format!("from {file}"),
                None => "no Hugo config found: the usual ones".to_owned(),
            }
        );
    }
    let mut unmapped = Vec::new();
    let mut taxonomies: Vec<String> = Vec::new();
    let mut section = Section::new(&mut text, "Pages converted (paths relative to the output):");
    for file in &plan.files {
        let Action::Convert(converted) = &file.action else {
            continue;
        };
        let changes = &converted.changes;
        let body = &converted.body;
        for name in &changes.taxonomies {
            if !taxonomies.contains(name) {
                taxonomies.push(name.clone());
            }
        }
        let mut lines = Vec::new();
        if !changes.renamed.is_empty() {
            lines.push(format!("renamed: {}", changes.renamed.join(", ")));
        }
        if !changes.taxonomies.is_empty() {
            lines.push(format!("taxonomies: {}", changes.taxonomies.join(", ")));
        }
        if !changes.to_extra.is_empty() {
            lines.push(format!("moved to extra: {}", changes.to_extra.join(", ")));
        }
        if !body.mapped.is_empty() {
            let mapped: Vec<String> = body
                .mapped
                .iter()
                .map(|mapped| match &mapped.note {
                    Some(note) => format!("{} (line {}: {note})", mapped.name, mapped.source_line),
                    None => format!("{} (line {})", mapped.name, mapped.source_line),
                })
                .collect();
            lines.push(format!("shortcodes mapped: {}", mapped.join(", ")));
        }
        if body.more_marker {
            lines.push("`<!--more-->` written as `<!-- more -->`".to_owned());
        }
        if !body.unmapped.is_empty() {
            lines.push(format!(
                "shortcodes left as they were: {} (listed below)",
                body.unmapped.len()
            ));
        }
        for note in &changes.notes {
            lines.push(format!("note: {note}"));
        }
        if lines.is_empty() {
            section.line(&format!(
                "{}: front matter and body kept as they were",
                file.target
            ));
        } else {
            section.line(&format!("{}:", file.target));
            for line in lines {
                section.line(&format!("  {line}"));
            }
        }
        for found in &body.unmapped {
            unmapped.push((file, found));
        }
    }
    section.end();

    let mut section = Section::new(&mut text, "Files copied as they are:");
    for file in &plan.files {
        if matches!(file.action, Action::Copy) {
            section.line(&file.target);
        }
    }
    section.end();

    let mut section = Section::new(&mut text, "Skipped:");
    for (path, why) in &plan.skipped {
        section.line(&format!("{path}: {why}"));
    }
    section.end();

    let mut section = Section::new(
        &mut text,
        "Shortcodes left as they were (the build rejects or shows them as text until each is \
         rewritten):",
    );
    for (file, found) in &unmapped {
        section.line(&format!(
            "{}:{}: {} ({}:{} in the source)",
            out.join(&file.target).display(),
            found.line,
            found.text,
            file.source,
            found.source_line
        ));
        section.line(&format!("  {}", found.why));
    }
    section.end();

    if let Some(site) = &source.site {
        let static_dir = site.join("static");
        if static_dir.is_dir() {
            let _ = writeln!(
                text,
                "\n{} holds files served as they are; it was not imported. Copy it to {} \
                 (gatehouse serves static/ the same way).",
                static_dir.display(),
                root.join("static").display()
            );
        }
    }

    let _ = writeln!(text);
    if taxonomies.is_empty() {
        let _ = writeln!(text, "site.toml needs no changes for this content.");
    } else {
        let mut names = vec!["tags".to_owned()];
        names.extend(taxonomies.iter().cloned());
        let quoted: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
        if site_lists(root, &names) {
            let _ = writeln!(
                text,
                "site.toml's [taxonomies] already lists {}.",
                quoted.join(", ")
            );
        } else {
            let _ = writeln!(
                text,
                "Add to site.toml (pages use these taxonomies; the build accepts only those it \
                 lists):\n\n[taxonomies]\nnames = [{}]\n",
                quoted.join(", ")
            );
        }
    }
    let _ = writeln!(text, "Then run `gatehouse check`.");
    text
}

/// Whether the site's site.toml already lists every name under `[taxonomies] names`.
fn site_lists(root: &Path, names: &[String]) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join("site.toml")) else {
        return false;
    };
    let Ok(Value::Map(config)) = toml::from_str::<Value>(&text) else {
        return false;
    };
    let Some(Value::Map(taxonomies)) = get(&config, "taxonomies") else {
        return false;
    };
    let Some(Value::List(listed)) = get(taxonomies, "names") else {
        return false;
    };
    names
        .iter()
        .all(|name| listed.iter().any(|listed| listed.as_text() == Some(name)))
}

/// A titled list that prints nothing when it stays empty.
struct Section<'a> {
    text: &'a mut String,
    title: &'a str,
    lines: Vec<String>,
}

impl<'a> Section<'a> {
    fn new(text: &'a mut String, title: &'a str) -> Self {
        Section {
            text,
            title,
            lines: Vec::new(),
        }
    }

    fn line(&mut self, line: &str) {
        self.lines.push(line.to_owned());
    }

    fn end(self) {
        if self.lines.is_empty() {
            return;
        }
        let _ = writeln!(self.text, "\n{}", self.title);
        for line in self.lines {
            let _ = writeln!(self.text, "  {line}");
        }
    }
}
