//! What is Hugo's: its front-matter keys and what each becomes, its taxonomy names (from its
//! config), and how it reads a relative alias. Its shortcodes are in `hugo_shortcodes`.

use std::path::Path;

use super::front_matter::{HiddenWhen, KeyRule};
use super::value::{Value, get};

/// The taxonomies Hugo has when its config does not list them (`tags` is gatehouse's own
/// key), plus `series`, which Hugo's docs and themes use throughout.
pub const USUAL_TAXONOMIES: [&str; 2] = ["categories", "series"];

/// Where a Hugo site keeps its config, newest name first.
const CONFIG_FILES: [&str; 10] = [
    "hugo.toml",
    "hugo.yaml",
    "hugo.yml",
    "hugo.json",
    "config.toml",
    "config.yaml",
    "config.yml",
    "config.json",
    "config/_default/hugo.toml",
    "config/_default/config.toml",
];

/// Hugo's front-matter keys are case-insensitive (`Title`, `lastMod`).
pub fn key_rule(key: &str, taxonomies: &[String]) -> KeyRule {
    let lower = key.to_ascii_lowercase();
    match lower.as_str() {
        "title" => KeyRule::Title,
        "description" => KeyRule::Description,
        "summary" => KeyRule::Summary,
        "slug" => KeyRule::Slug,
        "date" => KeyRule::Date,
        "lastmod" => KeyRule::Updated,
        "draft" => KeyRule::Draft,
        "weight" => KeyRule::Weight,
        "tags" => KeyRule::Tags,
        "aliases" => KeyRule::Aliases,
        "params" => KeyRule::MergeExtra,
        "headless" => KeyRule::Hides(HiddenWhen::True),
        "build" | "_build" => KeyRule::Hides(HiddenWhen::RenderNever),
        name if taxonomies.iter().any(|known| known == name) => KeyRule::Taxonomy,
        "url" => KeyRule::Extra(Some(
            "Hugo's `url` sets the page's address; gatehouse takes it from the file path and \
             `slug`. If old links point at it, add it to `aliases`",
        )),
        "type" | "layout" => KeyRule::Extra(Some(
            "picks a Hugo layout; gatehouse uses page.html and section.html, or `template:` \
             naming a template of the site's own",
        )),
        // Moved to `extra` with a note; a page Hugo would not publish today is a draft.
        "publishdate" | "pubdate" => KeyRule::Hides(HiddenWhen::Future),
        "expirydate" | "unpublishdate" => KeyRule::Hides(HiddenWhen::Past),
        "cascade" => KeyRule::Extra(Some(
            "Hugo passes these values to the pages below; gatehouse cascades only `access:`",
        )),
        "outputs" => KeyRule::Extra(Some("Hugo output formats; gatehouse writes HTML and feeds")),
        "menu" | "menus" => KeyRule::Extra(Some(
            "Hugo menu entries; gatehouse's theme builds its navigation from sections and `weight`",
        )),
        "resources" => KeyRule::Extra(Some(
            "Hugo resource metadata; files in the bundle are copied as they are",
        )),
        "access" | "public_files" | "template" | "updated" | "paginate_by" | "taxonomies" => {
            KeyRule::Extra(Some(
                "is a gatehouse key, but Hugo never read it, so the import does not act on \
                 it; set it again yourself if it is meant for gatehouse",
            ))
        }
        _ => KeyRule::Extra(None),
    }
}

/// Hugo's taxonomy keys besides `tags`: those its config lists, else the usual ones.
/// `site` is the Hugo site's folder (the parent of its content folder), if known.
pub fn taxonomies(site: Option<&Path>) -> (Vec<String>, Option<String>) {
    let usual = || {
        USUAL_TAXONOMIES
            .iter()
            .map(|name| (*name).to_owned())
            .collect()
    };
    let Some(site) = site else {
        return (usual(), None);
    };
    for name in CONFIG_FILES {
        let path = site.join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let parsed: Option<Value> = if name.ends_with(".toml") {
            toml::from_str(&text).ok()
        } else if name.ends_with(".json") {
            serde_json::from_str(&text).ok()
        } else {
            serde_saphyr::from_str(&text).ok()
        };
        let Some(Value::Map(config)) = parsed else {
            continue;
        };
        let found = match get(&config, "taxonomies") {
            // `[taxonomies] category = "categories"`: the plural is the front-matter key.
            Some(Value::Map(map)) => map
                .iter()
                .filter_map(|(_, plural)| plural.as_text())
                .map(str::to_ascii_lowercase)
                .filter(|plural| plural != "tags")
                .collect(),
            // No `[taxonomies]`: Hugo's defaults, tags and categories.
            _ => vec!["categories".to_owned()],
        };
        return (found, Some(name.to_owned()));
    }
    (usual(), None)
}

/// A Hugo alias without a leading slash is relative to the page's section folder.
pub fn root_relative_alias(url: &str, page: &Path) -> Result<String, String> {
    if url.contains("://") || url.starts_with("//") {
        return Err("is a full URL, and an alias is a path on this site".to_owned());
    }
    if url.starts_with('/') {
        return Ok(url.to_owned());
    }
    // `posts/a.md` and `posts/b/index.md` both live in `posts/`; `posts/_index.md` too.
    let is_index = page
        .file_stem()
        .is_some_and(|stem| stem == "index" || stem == "_index");
    let mut folder = page.parent().unwrap_or(Path::new(""));
    if is_index {
        folder = folder.parent().unwrap_or(Path::new(""));
    }
    let mut prefix: String = folder
        .components()
        .map(|part| format!("/{}", part.as_os_str().to_string_lossy()))
        .collect();
    prefix.push('/');
    let mut fixed = format!("{prefix}{url}");
    let lower = fixed.to_ascii_lowercase();
    if !fixed.ends_with('/') && !lower.ends_with(".html") && !lower.ends_with(".htm") {
        fixed.push('/');
    }
    Ok(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_aliases_live_in_the_section_folder() {
        let alias = |url, page| root_relative_alias(url, Path::new(page));
        assert_eq!(alias("old", "posts/a.md").unwrap(), "/posts/old/");
        assert_eq!(
            alias("old.html", "posts/b/index.md").unwrap(),
            "/posts/old.html"
        );
        assert_eq!(alias("/keep/", "posts/a.md").unwrap(), "/keep/");
        assert!(alias("https://x.example/", "a.md").is_err());
    }
}
