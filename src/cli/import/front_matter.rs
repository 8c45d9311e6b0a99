//! Front matter of a Hugo or Zola page → gatehouse front matter: sort each key (as `read`
//! found it) into what gatehouse keeps, renames, files under `taxonomies`, or moves into
//! `extra`, and write it back in the same format (JSON becomes YAML). Every change is recorded
//! for the report: gatehouse's own parser is strict, and this is the one step allowed to be
//! lenient, so it must say what it did (issue 16).

use std::path::Path;

use super::Tool;
use super::read::Format;
use super::value::{Map, Value, get};
use super::{emit, hugo, zola};
use crate::content::parse_date;

/// What one key of the source front matter becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRule {
    Title,
    Description,
    Summary,
    Slug,
    Date,
    /// `updated` (Zola) or `lastmod` (Hugo).
    Updated,
    Draft,
    Weight,
    Tags,
    /// `aliases`; relative ones are made root-relative the tool's way.
    Aliases,
    /// A Hugo taxonomy written as its own key (`categories = […]`).
    Taxonomy,
    /// Zola's `[taxonomies]` table.
    Taxonomies,
    /// Zola's `[extra]` or Hugo's `[params]`: merged into `extra`.
    MergeExtra,
    PaginateBy,
    PaginatePath,
    /// A key that hides the page in the source tool when its value says so (Hugo's
    /// `headless`, `build.render`; Zola's `render = false`): moved to `extra`, and the page
    /// becomes a draft, the nearest gatehouse has.
    Hides(HiddenWhen),
    /// Moved into `extra`, with what gatehouse does instead when the key had an effect.
    Extra(Option<&'static str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenWhen {
    /// `headless: true`.
    True,
    /// `render = false`.
    False,
    /// `build: {render: never}` (or `false`, as older Hugo wrote it).
    RenderNever,
    /// Hugo's `publishDate` still to come: Hugo holds the page back until then.
    Future,
    /// Hugo's `expiryDate` already past: Hugo no longer publishes the page.
    Past,
}

impl HiddenWhen {
    fn hides(self, value: &Value) -> bool {
        let is = |value: &Value, flag: bool| match value {
            Value::Bool(b) => *b == flag,
            Value::Str(text) => text.eq_ignore_ascii_case(if flag { "true" } else { "false" }),
            _ => false,
        };
        match self {
            HiddenWhen::True => is(value, true),
            HiddenWhen::False => is(value, false),
            HiddenWhen::RenderNever => match value {
                Value::Map(map) => get(map, "render")
                    .is_some_and(|render| is(render, false) || render.as_text() == Some("never")),
                _ => false,
            },
            HiddenWhen::Future | HiddenWhen::Past => {
                let Some(Ok(date)) = value.as_text().map(parse_date) else {
                    return false;
                };
                let now = jiff::Timestamp::now();
                if self == HiddenWhen::Future {
                    date > now
                } else {
                    date <= now
                }
            }
        }
    }

    /// Why the page is now a draft, after "`key` ".
    fn why(self, tool: Tool) -> String {
        match self {
            HiddenWhen::Future => "is still to come, so Hugo holds this page back, and \
                                   gatehouse has no scheduled publishing"
                .to_owned(),
            HiddenWhen::Past => "has passed, so Hugo no longer publishes this page".to_owned(),
            _ => format!(
                "hides this page in {}, and gatehouse has no headless pages",
                tool.title()
            ),
        }
    }

    /// The note for a key that does not hide the page now, but would have an effect later.
    fn note_when_shown(self) -> Option<&'static str> {
        match self {
            HiddenWhen::Future => Some(
                "Hugo holds the page back until then; gatehouse has no scheduled publishing \
                 (use `draft: true`, or a members `drip`)",
            ),
            HiddenWhen::Past => Some("Hugo stops publishing the page then; gatehouse does not"),
            _ => None,
        }
    }
}

/// What the conversion changed in one file, for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// `lastmod → updated`, `taxonomies.tags → tags`.
    pub renamed: Vec<String>,
    /// Keys now under `extra`.
    pub to_extra: Vec<String>,
    /// Taxonomy names this file uses (besides `tags`).
    pub taxonomies: Vec<String>,
    /// Everything else worth a line: a title made up, a page turned into a draft, a setting
    /// whose effect is lost.
    pub notes: Vec<String>,
}

/// Facts about the file the conversion needs.
pub struct Page<'a> {
    pub tool: Tool,
    /// Relative to the source content folder.
    pub path: &'a Path,
    /// Hugo's taxonomy keys other than `tags` (from its config, or the usual ones).
    pub hugo_taxonomies: &'a [String],
    /// The section page (source path) whose Hugo `cascade` hides this page, if one does.
    pub hidden_by: Option<&'a str>,
}

/// The converted front matter, in gatehouse's key order, and what changed.
pub fn convert(front: Map, page: &Page<'_>) -> (Map, Changes) {
    let mut out = Fields::default();
    let mut changes = Changes::default();
    let mut moved: Map = Vec::new();
    for (key, value) in front {
        let rule = match page.tool {
            Tool::Hugo => hugo::key_rule(&key, page.hugo_taxonomies),
            Tool::Zola => zola::key_rule(&key, is_section(page.path)),
        };
        apply(rule, key, value, page, &mut out, &mut moved, &mut changes);
    }
    if let Some(section) = page.hidden_by
        && !matches!(out.draft, Some(Value::Bool(true)))
    {
        out.draft = Some(Value::Bool(true));
        changes.notes.push(format!(
            "the `cascade` of {section} hides this page in {}: it is now `draft: true` (its \
             files are still copied)",
            page.tool.title()
        ));
    }
    if out.title.is_none() {
        let title = title_from_file_name(page.path);
        changes
            .notes
            .push(format!("no title: made `{title}` from the file name"));
        out.title = Some(Value::Str(title));
    }
    for (key, value) in moved {
        let name = if out.extra.iter().any(|(known, _)| *known == key) {
            format!("{}_{key}", page.tool.name())
        } else {
            key.clone()
        };
        changes.to_extra.push(if name == key {
            key
        } else {
            format!("{key} (as extra.{name}: extra.{key} was taken)")
        });
        out.extra.push((name, value));
    }
    (out.into_map(), changes)
}

/// The keys gatehouse reads, held until they are written in its order.
#[derive(Default)]
struct Fields {
    title: Option<Value>,
    description: Option<Value>,
    summary: Option<Value>,
    date: Option<Value>,
    updated: Option<Value>,
    draft: Option<Value>,
    weight: Option<Value>,
    slug: Option<Value>,
    tags: Vec<Value>,
    taxonomies: Map,
    aliases: Vec<Value>,
    paginate_by: Option<Value>,
    paginate_path: Option<Value>,
    extra: Map,
}

impl Fields {
    fn into_map(self) -> Map {
        let mut map: Map = Vec::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                map.push((key.to_owned(), value));
            }
        };
        put("title", self.title);
        put("description", self.description);
        put("summary", self.summary);
        put("date", self.date);
        put("updated", self.updated);
        put("draft", self.draft);
        put("weight", self.weight);
        put("slug", self.slug);
        put("paginate_by", self.paginate_by);
        put("paginate_path", self.paginate_path);
        put("tags", non_empty_list(self.tags));
        put("aliases", non_empty_list(self.aliases));
        put("taxonomies", non_empty_map(self.taxonomies));
        put("extra", non_empty_map(self.extra));
        map
    }
}

fn non_empty_list(items: Vec<Value>) -> Option<Value> {
    (!items.is_empty()).then_some(Value::List(items))
}

fn non_empty_map(map: Map) -> Option<Value> {
    (!map.is_empty()).then_some(Value::Map(map))
}

fn apply(
    rule: KeyRule,
    key: String,
    value: Value,
    page: &Page<'_>,
    out: &mut Fields,
    moved: &mut Map,
    changes: &mut Changes,
) {
    match rule {
        KeyRule::Title | KeyRule::Description | KeyRule::Summary | KeyRule::Slug => {
            let slot = match rule {
                KeyRule::Title => &mut out.title,
                KeyRule::Description => &mut out.description,
                KeyRule::Summary => &mut out.summary,
                _ => &mut out.slug,
            };
            match value.scalar_text() {
                Some(text) if !(rule == KeyRule::Title && text.trim().is_empty()) => {
                    *slot = Some(Value::Str(text));
                }
                _ if matches!(value, Value::Null) => {}
                Some(_) => {} // an empty title: one is made from the file name
                None => misfit(moved, changes, key, value, "is not text".to_owned()),
            }
        }
        KeyRule::Date | KeyRule::Updated => match value.as_text().map(parse_date) {
            Some(Ok(_)) => {
                let lower = key.to_ascii_lowercase();
                if rule == KeyRule::Updated && lower != "updated" {
                    changes.renamed.push(format!("{key} → updated"));
                } else if rule == KeyRule::Date && lower != "date" {
                    changes.renamed.push(format!("{key} → date"));
                }
                let slot = if rule == KeyRule::Date {
                    &mut out.date
                } else {
                    &mut out.updated
                };
                *slot = Some(value);
            }
            _ if matches!(value, Value::Null) => {}
            Some(Err(_)) | None => misfit(
                moved,
                changes,
                key,
                value,
                "is not a date gatehouse reads (write 2026-01-10 or 2026-01-10T09:30:00Z)"
                    .to_owned(),
            ),
        },
        KeyRule::Draft => match bool_of(&value) {
            Some(flag) => {
                // A page hidden by `headless` stays a draft whatever `draft` said.
                if !matches!(out.draft, Some(Value::Bool(true))) {
                    out.draft = Some(Value::Bool(flag));
                }
            }
            None => {
                // Hugo reads `1`, `"t"`… as true; whatever it meant, a page that may have
                // been a draft must not be published by the import (fail closed).
                out.draft = Some(Value::Bool(true));
                misfit(
                    moved,
                    changes,
                    key,
                    value,
                    "is not true or false, so the page is now `draft: true` (remove it to \
                     publish the page); the value"
                        .to_owned(),
                );
            }
        },
        KeyRule::Weight | KeyRule::PaginateBy => match int_of(&value) {
            Some(number) => {
                let slot = if rule == KeyRule::Weight {
                    &mut out.weight
                } else {
                    &mut out.paginate_by
                };
                *slot = Some(Value::Int(number));
            }
            None => misfit(
                moved,
                changes,
                key,
                value,
                "is not a whole number".to_owned(),
            ),
        },
        KeyRule::PaginatePath => match value.scalar_text() {
            Some(text) => out.paginate_path = Some(Value::Str(text)),
            None => misfit(moved, changes, key, value, "is not text".to_owned()),
        },
        KeyRule::Tags => match texts_of(&value) {
            Some(tags) => out.tags.extend(tags.into_iter().map(Value::Str)),
            None => misfit(
                moved,
                changes,
                key,
                value,
                "is not a list of words".to_owned(),
            ),
        },
        KeyRule::Aliases => match texts_of(&value) {
            Some(urls) => {
                for url in urls {
                    match page.tool.root_relative_alias(&url, page.path) {
                        Ok(fixed) => {
                            if fixed != url {
                                changes
                                    .notes
                                    .push(format!("alias `{url}` made root-relative: `{fixed}`"));
                            }
                            out.aliases.push(Value::Str(fixed));
                        }
                        Err(why) => {
                            changes.notes.push(format!(
                                "alias `{url}` {why}: moved to extra.aliases_dropped"
                            ));
                            push_list(moved, "aliases_dropped", Value::Str(url));
                        }
                    }
                }
            }
            None => misfit(
                moved,
                changes,
                key,
                value,
                "is not a list of URLs".to_owned(),
            ),
        },
        KeyRule::Taxonomy => match texts_of(&value) {
            Some(terms) => add_terms(out, changes, &key.to_ascii_lowercase(), terms),
            None => misfit(
                moved,
                changes,
                key,
                value,
                "is not a list of terms".to_owned(),
            ),
        },
        KeyRule::Taxonomies => match value {
            Value::Map(map) => {
                for (name, terms) in map {
                    match texts_of(&terms) {
                        Some(terms) if name == "tags" => {
                            changes.renamed.push("taxonomies.tags → tags".to_owned());
                            out.tags.extend(terms.into_iter().map(Value::Str));
                        }
                        Some(terms) => add_terms(out, changes, &name, terms),
                        None => misfit(
                            moved,
                            changes,
                            format!("taxonomies_{name}"),
                            terms,
                            format!("(taxonomies.{name}) is not a list of terms"),
                        ),
                    }
                }
            }
            other => misfit(
                moved,
                changes,
                key,
                other,
                "is not a table of lists".to_owned(),
            ),
        },
        KeyRule::MergeExtra => match value {
            Value::Map(map) => {
                if key != "extra" {
                    changes.renamed.push(format!("{key}.* → extra.*"));
                }
                out.extra.extend(map);
            }
            other => {
                changes.to_extra.push(key.clone());
                out.extra.push((key, other));
            }
        },
        KeyRule::Hides(hidden_when) => {
            if hidden_when.hides(&value) {
                out.draft = Some(Value::Bool(true));
                changes.notes.push(format!(
                    "`{key}` {}: it is now `draft: true` (its files are still copied)",
                    hidden_when.why(page.tool)
                ));
            } else if let Some(note) = hidden_when.note_when_shown() {
                changes.notes.push(format!("`{key}`: {note}"));
            }
            moved.push((key, value));
        }
        KeyRule::Extra(note) => {
            if let Some(note) = note {
                changes.notes.push(format!("`{key}`: {note}"));
            }
            moved.push((key, value));
        }
    }
}

/// Whether a Hugo section's `cascade` (a table, or a list of them, each maybe with a
/// `_target`, which is ignored: fail closed) hides the pages below it: `draft` not false,
/// `headless`, `_build: {render: never}`, a `publishDate` to come or an `expiryDate` past.
pub fn hugo_cascade_hides(front: &Map, taxonomies: &[String]) -> bool {
    fn hides(value: &Value, taxonomies: &[String]) -> bool {
        match value {
            Value::List(items) => items.iter().any(|item| hides(item, taxonomies)),
            Value::Map(map) => {
                map.iter()
                    .any(|(key, value)| match hugo::key_rule(key, taxonomies) {
                        KeyRule::Draft => bool_of(value) != Some(false),
                        KeyRule::Hides(hidden_when) => hidden_when.hides(value),
                        _ => false,
                    })
            }
            _ => false,
        }
    }
    front
        .iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case("cascade"))
        .any(|(_, value)| hides(value, taxonomies))
}

/// A kept key whose value gatehouse would reject goes to `extra` with the reason, so the
/// import never writes front matter that `check` then refuses.
fn misfit(
    moved: &mut Map,
    changes: &mut Changes,
    key: String,
    value: Value,
    why: impl Into<String>,
) {
    let why = why.into();
    changes
        .notes
        .push(format!("`{key}` {why}: moved to extra.{key}"));
    moved.push((key, value));
}

fn add_terms(out: &mut Fields, changes: &mut Changes, name: &str, terms: Vec<String>) {
    if !changes.taxonomies.iter().any(|known| known == name) {
        changes.taxonomies.push(name.to_owned());
    }
    let terms = terms.into_iter().map(Value::Str);
    match out.taxonomies.iter_mut().find(|(known, _)| known == name) {
        Some((_, Value::List(list))) => list.extend(terms),
        _ => out
            .taxonomies
            .push((name.to_owned(), Value::List(terms.collect()))),
    }
}

fn push_list(map: &mut Map, key: &str, item: Value) {
    match map.iter_mut().find(|(known, _)| known == key) {
        Some((_, Value::List(list))) => list.push(item),
        _ => map.push((key.to_owned(), Value::List(vec![item]))),
    }
}

fn bool_of(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::Str(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::Str(text) if text.eq_ignore_ascii_case("false") => Some(false),
        // Hugo's `cast.ToBool`: 0 and "0" are false.
        Value::Int(0) => Some(false),
        Value::Str(text) if matches!(text.trim(), "0" | "f" | "F") => Some(false),
        _ => None,
    }
}

fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Int(number) => Some(*number),
        Value::Str(text) => text.trim().parse().ok(),
        Value::Float(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
            Some(*number as i64)
        }
        _ => None,
    }
}

/// A list of scalars (or one scalar) as words: `tags: rust` as well as `tags: [rust, 2024]`.
fn texts_of(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::List(items) => items.iter().map(Value::scalar_text).collect(),
        Value::Null => Some(Vec::new()),
        scalar => scalar.scalar_text().map(|text| vec![text]),
    }
}

fn is_section(path: &Path) -> bool {
    path.file_name().is_some_and(|name| name == "_index.md")
}

/// `my-first_post.md` → "My first post"; a bundle's or section's index takes its folder's name;
/// the home page is "Home".
pub fn title_from_file_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if stem == "index" || stem == "_index" {
        path.parent()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Home".to_owned())
    } else {
        stem
    };
    let words = name.replace(['-', '_'], " ");
    let words = words.trim();
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Untitled".to_owned(),
    }
}

/// The converted front matter between its fences, in the source's format (JSON and files
/// without front matter get YAML).
pub fn write(map: &Map, format: Format) -> String {
    match format {
        Format::Toml => format!("+++\n{}+++\n", emit::toml(map)),
        _ => format!("---\n{}---\n", emit::yaml(map)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(tool: Tool, path: &str) -> (Tool, std::path::PathBuf) {
        (tool, std::path::PathBuf::from(path))
    }

    fn convert_text(tool: Tool, path: &str, text: &str) -> (Map, Changes) {
        let (tool, path) = page(tool, path);
        let source = crate::cli::import::read::read(text).unwrap();
        let taxonomies = ["categories".to_owned(), "series".to_owned()];
        convert(
            source.front,
            &Page {
                tool,
                path: &path,
                hugo_taxonomies: &taxonomies,
                hidden_by: None,
            },
        )
    }

    fn keys(map: &Map) -> Vec<&str> {
        map.iter().map(|(key, _)| key.as_str()).collect()
    }

    #[test]
    fn hugo_toml_keys_are_kept_renamed_filed_and_moved() {
        let (map, changes) = convert_text(
            Tool::Hugo,
            "posts/a.md",
            "+++\nauthor = \"Ann\"\ntitle = \"A\"\ndate = 2024-01-02\nlastmod = 2024-02-03T10:00:00Z\ncategories = [\"Dev\"]\nseries = \"Intro\"\ntags = [\"go\"]\naliases = [\"/old/a/\", \"older\"]\ntype = \"post\"\n[params]\nmood = \"fine\"\n+++\nbody\n",
        );
        assert_eq!(
            keys(&map),
            [
                "title",
                "date",
                "updated",
                "tags",
                "aliases",
                "taxonomies",
                "extra"
            ]
        );
        assert_eq!(
            get(&map, "updated"),
            Some(&Value::Date("2024-02-03T10:00:00Z".into()))
        );
        assert_eq!(
            get(&map, "aliases"),
            Some(&Value::List(vec![
                Value::Str("/old/a/".into()),
                Value::Str("/posts/older/".into())
            ]))
        );
        let Some(Value::Map(extra)) = get(&map, "extra") else {
            panic!("{map:?}");
        };
        assert_eq!(keys(extra), ["mood", "author", "type"]);
        assert_eq!(changes.renamed, ["lastmod → updated", "params.* → extra.*"]);
        assert_eq!(changes.taxonomies, ["categories", "series"]);
        assert_eq!(changes.to_extra, ["author", "type"]);
    }

    #[test]
    fn hugo_headless_bundle_becomes_a_draft() {
        let (map, changes) =
            convert_text(Tool::Hugo, "shared/index.md", "---\nheadless: true\n---\n");
        assert_eq!(get(&map, "draft"), Some(&Value::Bool(true)));
        assert_eq!(get(&map, "title"), Some(&Value::Str("Shared".into())));
        assert!(
            changes
                .notes
                .iter()
                .any(|note| note.contains("draft: true")),
            "{changes:?}"
        );
        let (map, _) = convert_text(
            Tool::Hugo,
            "b/index.md",
            "---\ntitle: B\ndraft: false\nbuild:\n  render: never\n  list: never\n---\n",
        );
        assert_eq!(get(&map, "draft"), Some(&Value::Bool(true)));
    }

    #[test]
    fn zola_taxonomies_and_extra_stay_and_tags_move_up() {
        let (map, changes) = convert_text(
            Tool::Zola,
            "blog/_index.md",
            "+++\ntitle = \"Blog\"\nsort_by = \"date\"\npaginate_by = 5\ntemplate = \"blog.html\"\n[taxonomies]\ntags = [\"a\"]\ncategories = [\"b\"]\n[extra]\nlead = \"x\"\n+++\n",
        );
        assert_eq!(
            keys(&map),
            ["title", "paginate_by", "tags", "taxonomies", "extra"]
        );
        let Some(Value::Map(extra)) = get(&map, "extra") else {
            panic!("{map:?}");
        };
        assert_eq!(keys(extra), ["lead", "sort_by", "template"]);
        assert_eq!(changes.renamed, ["taxonomies.tags → tags"]);
        assert_eq!(changes.taxonomies, ["categories"]);
    }

    #[test]
    fn toml_extra_keeps_the_order_it_was_written_in() {
        let (map, _) = convert_text(
            Tool::Zola,
            "a.md",
            "+++\ntitle = \"A\"\n[extra]\nzebra = 1\napple = 2\nmango = { b = 1, a = 2 }\n+++\n",
        );
        let Some(Value::Map(extra)) = get(&map, "extra") else {
            panic!("{map:?}");
        };
        assert_eq!(keys(extra), ["zebra", "apple", "mango"]);
        let Some(Value::Map(mango)) = get(extra, "mango") else {
            panic!("{extra:?}");
        };
        assert_eq!(keys(mango), ["b", "a"]);
    }

    #[test]
    fn values_gatehouse_would_reject_go_to_extra_with_a_reason() {
        let (map, changes) = convert_text(
            Tool::Hugo,
            "a.md",
            "---\ntitle: A\ndate: last tuesday\nweight: heavy\n---\n",
        );
        assert_eq!(keys(&map), ["title", "extra"]);
        assert_eq!(changes.notes.len(), 2, "{changes:?}");
        assert!(changes.notes[0].contains("not a date"), "{changes:?}");
    }

    #[test]
    fn titles_come_from_file_names() {
        assert_eq!(
            title_from_file_name(Path::new("posts/my-first_post.md")),
            "My first post"
        );
        assert_eq!(
            title_from_file_name(Path::new("docs/intro/_index.md")),
            "Intro"
        );
        assert_eq!(title_from_file_name(Path::new("_index.md")), "Home");
    }
}
