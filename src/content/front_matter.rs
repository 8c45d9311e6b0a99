//! Front matter, YAML between `---` lines or TOML between `+++` lines (as Zola and Hugo write
//! it): split it from the body and parse it strictly, with the same keys in both, since a
//! misspelt `access` would silently publish a members-only page.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::suggest;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, deserialize_with = "date_text")]
    pub date: Option<String>,
    #[serde(default, deserialize_with = "date_text")]
    pub updated: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub tags: Vec<String>,
    /// Zola's form, `taxonomies: {categories: [a], series: b}`; names are checked against
    /// site.toml's `[taxonomies]` in `content::taxonomy`.
    #[serde(default)]
    pub taxonomies: std::collections::BTreeMap<String, super::taxonomy::TermList>,
    /// A section's pages, this many per pager (Zola's name); see `content::paginate`.
    #[serde(default)]
    pub paginate_by: Option<i64>,
    #[serde(default)]
    pub paginate_path: Option<String>,
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub weight: Option<i64>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub extra: Option<serde_json::Value>,
    /// `access:` with no value is an error, not "no access" (see [`present`]).
    #[serde(default, deserialize_with = "present")]
    pub access: Option<AccessSpec>,
    /// Globs, relative to the document's folder, of files it owns that stay public although
    /// the document is gated (DESIGN §3 Files): a course's cover image.
    #[serde(default, deserialize_with = "one_or_many")]
    pub public_files: Vec<String>,
    /// Old URLs of this document (`/old/url/`, `/2019/01/post.html`), each written as a
    /// redirect page (checked in `content::aliases`).
    #[serde(default, deserialize_with = "one_or_many")]
    pub aliases: Vec<String>,
}

/// What `access:` says, before its ids are checked against site.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessSpec {
    /// `access: public`: open to all, even inside a gated section.
    Public,
    Rule(RawRule),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub bundles: Vec<String>,
    #[serde(default)]
    pub drip: Option<String>,
}

impl<'de> Deserialize<'de> for AccessSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AccessVisitor;
        impl<'de> Visitor<'de> for AccessVisitor {
            type Value = AccessSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("`public` or a map with `level`, `bundles` and/or `drip`")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<AccessSpec, E> {
                if value == "public" {
                    Ok(AccessSpec::Public)
                } else {
                    Err(E::custom(format!(
                        "access: `{value}` is not understood: write `access: public`, or a map such as \
                         `access: {{level: gold}}`"
                    )))
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<AccessSpec, E> {
                Err(E::custom(
                    "access: is empty: write `access: public`, or a rule such as \
                     `access: {level: gold}`, or remove the line to inherit the section's",
                ))
            }
            fn visit_none<E: de::Error>(self) -> Result<AccessSpec, E> {
                self.visit_unit()
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<AccessSpec, M::Error> {
                RawRule::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(AccessSpec::Rule)
            }
        }
        deserializer.deserialize_any(AccessVisitor)
    }
}

/// A key that is there, whatever its value: `access:` left empty (YAML's null) reaches
/// [`AccessSpec`]'s own check instead of reading as no `access` at all, which would make a
/// section public (issue 15). An absent key is `None` through `#[serde(default)]`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<AccessSpec>, D::Error> {
    AccessSpec::deserialize(deserializer).map(Some)
}

/// Accepts `tags: rust` as well as `tags: [rust, web]`.
fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    // A visitor, not an untagged enum: the enum buffered every value to try each variant (a
    // percent of a 10,000-page build) and said only "did not match any variant" when neither fit.
    struct OneOrMany;
    impl<'de> serde::de::Visitor<'de> for OneOrMany {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string or a list of strings")
        }

        fn visit_str<E: serde::de::Error>(self, one: &str) -> Result<Self::Value, E> {
            Ok(vec![one.to_owned()])
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut many = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(one) = seq.next_element::<String>()? {
                many.push(one);
            }
            Ok(many)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    deserializer.deserialize_any(OneOrMany)
}

/// A file split into its front matter and its Markdown body.
/// How the front matter is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Between `---` lines.
    Yaml,
    /// Between `+++` lines.
    Toml,
}

#[derive(Debug)]
pub struct Split<'a> {
    /// The front matter's text, YAML or TOML as `format` says.
    pub yaml: &'a str,
    pub body: &'a str,
    /// The file line on which the front matter starts (the line after the opening fence).
    pub yaml_first_line: usize,
    pub format: Format,
}

/// Finds the front matter: the file must open with a `---` (YAML) or `+++` (TOML) line and
/// close it with another of the same.
pub fn split(text: &str) -> Result<Split<'_>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line_end = text.find('\n').unwrap_or(text.len());
    let (fence, format) = match text[..first_line_end].trim_end() {
        "---" => ("---", Format::Yaml),
        "+++" => ("+++", Format::Toml),
        _ => {
            return Err((
                1,
                "missing front matter: start the file with a `---` line, then `title: …`, then `---` (or TOML between `+++` lines)"
                    .to_owned(),
            ));
        }
    };
    let yaml_start = (first_line_end + 1).min(text.len());
    let mut offset = yaml_start;
    for line in text[yaml_start..].split_inclusive('\n') {
        if line.trim_end() == fence {
            let body_start = offset + line.len();
            return Ok(Split {
                yaml: &text[yaml_start..offset],
                body: &text[body_start..],
                yaml_first_line: 2,
                format,
            });
        }
        offset += line.len();
    }
    Err((
        1,
        format!(
            "front matter is not closed: add a `{fence}` line after the last front-matter field"
        ),
    ))
}

/// Parses the front matter, returning the failing file line and a one-line message on error.
pub fn parse(split: &Split<'_>) -> Result<FrontMatter, (usize, String)> {
    match split.format {
        Format::Yaml => parse_yaml(split),
        Format::Toml => parse_toml(split),
    }
}

fn parse_yaml(split: &Split<'_>) -> Result<FrontMatter, (usize, String)> {
    if let Some(front_matter) = super::front_matter_fast::parse(split.yaml) {
        return Ok(front_matter);
    }
    parse_yaml_fully(split.yaml)
        .map_err(|(line, message)| (split.yaml_first_line + line - 1, message))
}

/// The full YAML parser: the front matter, or the line in it (from 1) and message of its
/// first error.
pub(super) fn parse_yaml_fully(yaml: &str) -> Result<FrontMatter, (usize, String)> {
    serde_saphyr::from_str::<FrontMatter>(yaml).map_err(|error| {
        let line = error
            .location()
            .map_or(1, |location| location.line() as usize)
            .max(1);
        let message = one_line(&error.to_string());
        (
            line,
            format!("front matter: {}", suggest::improve_serde_message(&message)),
        )
    })
}

fn parse_toml(split: &Split<'_>) -> Result<FrontMatter, (usize, String)> {
    toml::from_str::<FrontMatter>(split.yaml).map_err(|error| {
        let line = error.span().map_or(1, |span| {
            split.yaml[..span.start.min(split.yaml.len())]
                .matches('\n')
                .count()
                + 1
        });
        let message = one_line(error.message());
        (
            split.yaml_first_line + line - 1,
            format!("front matter: {}", suggest::improve_serde_message(&message)),
        )
    })
}

/// A date written as text (YAML, or quoted TOML) or as a TOML date or date-time.
fn date_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    struct DateText;
    impl<'de> Visitor<'de> for DateText {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a date such as 2026-10-01 or 2026-10-01T09:00:00Z")
        }
        fn visit_str<E: de::Error>(self, value: &str) -> Result<Option<String>, E> {
            Ok(Some(value.to_owned()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        // A TOML date arrives as a one-entry map holding its text.
        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Option<String>, M::Error> {
            let Some((_, text)) = map.next_entry::<String, String>()? else {
                return Err(de::Error::custom("an empty date"));
            };
            if map.next_entry::<String, String>()?.is_some() {
                return Err(de::Error::custom("a date must be one value"));
            }
            Ok(Some(text))
        }
    }
    deserializer.deserialize_any(DateText)
}

/// The YAML parser's messages can carry a source excerpt; keep the first meaningful line.
fn one_line(message: &str) -> String {
    let first = message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or(message);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // The location is reported separately, as the file line.
    let first = match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((position, rest)) if position.contains("column") => rest,
        _ => first,
    };
    match first.split_once(" at line ") {
        Some((head, _)) => head.to_owned(),
        None => first.to_owned(),
    }
}

/// The file line of the first front-matter line containing `needle`, for messages about
/// values that parsed but are wrong (an unknown level, say).
pub fn line_containing(split: &Split<'_>, needle: &str) -> Option<usize> {
    line_containing_after(split, "", needle)
}

/// The file line of the first front-matter line that starts with `prefix` (a key such as
/// `date:`), so `updated:` is never mistaken for `date:`.
pub fn line_starting_with(split: &Split<'_>, prefix: &str) -> Option<usize> {
    split
        .yaml
        .lines()
        .position(|line| starts_key(split.format, line, prefix))
        .map(|index| split.yaml_first_line + index)
}

/// Whether `line` starts with `prefix`, a YAML key such as `date:`; in TOML the same key is
/// `date =` or a table `[access]`.
fn starts_key(format: Format, line: &str, prefix: &str) -> bool {
    match (format, prefix.strip_suffix(':')) {
        (Format::Toml, Some(key)) => {
            let line = line.trim_start();
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
                || line.trim_end() == format!("[{key}]")
        }
        _ => line.starts_with(prefix),
    }
}

/// Like [`line_containing`], searching from the first line that starts with `anchor`: an id
/// inside `access:` is looked for there, not in an earlier title that happens to contain it.
pub fn line_containing_after(split: &Split<'_>, anchor: &str, needle: &str) -> Option<usize> {
    let lines: Vec<&str> = split.yaml.lines().collect();
    let start = lines
        .iter()
        .position(|line| starts_key(split.format, line, anchor))
        .unwrap_or(0);
    lines[start..]
        .iter()
        .position(|line| line.contains(needle))
        .map(|index| split.yaml_first_line + start + index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<FrontMatter, (usize, String)> {
        parse(&split(text)?)
    }

    #[test]
    fn parses_access_map_and_public_keyword() {
        let fm = parse_text(
            "---\ntitle: A\naccess:\n  level: gold\n  bundles: [b, a]\n  drip: 7d\n---\nbody",
        )
        .unwrap();
        assert_eq!(
            fm.access,
            Some(AccessSpec::Rule(RawRule {
                level: Some("gold".into()),
                bundles: vec!["b".into(), "a".into()],
                drip: Some("7d".into()),
            }))
        );
        let fm = parse_text("---\ntitle: A\naccess: public\n---\n").unwrap();
        assert_eq!(fm.access, Some(AccessSpec::Public));
    }

    #[test]
    fn tags_are_one_string_or_a_list_in_yaml_and_toml() {
        for (text, tags) in [
            ("---\ntitle: A\ntags: rust\n---\n", vec!["rust"]),
            ("---\ntitle: A\ntags: \"web dev\"\n---\n", vec!["web dev"]),
            (
                "---\ntitle: A\ntags: [rust, web]\n---\n",
                vec!["rust", "web"],
            ),
            (
                "---\ntitle: A\ntags:\n  - rust\n  - web\n---\n",
                vec!["rust", "web"],
            ),
            ("---\ntitle: A\ntags: []\n---\n", vec![]),
            ("---\ntitle: A\ntags:\n---\n", vec![]),
            ("---\ntitle: A\ntags: ~\n---\n", vec![]),
            ("---\ntitle: A\n---\n", vec![]),
            ("+++\ntitle = \"A\"\ntags = \"rust\"\n+++\n", vec!["rust"]),
            (
                "+++\ntitle = \"A\"\ntags = [\"rust\", \"web\"]\n+++\n",
                vec!["rust", "web"],
            ),
        ] {
            let fm = parse_text(text).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
            assert_eq!(fm.tags, tags, "{text:?}");
        }
    }

    #[test]
    fn tags_of_another_shape_say_what_was_expected_and_where() {
        for text in [
            "---\ntitle: A\ntags:\n  rust: yes\n---\n",
            "---\ntitle: A\ntags: [[rust]]\n---\n",
            "+++\ntitle = \"A\"\ntags = { rust = true }\n+++\n",
        ] {
            let (line, message) = parse_text(text).unwrap_err();
            assert!(message.contains("string"), "{text:?}: {message}");
            assert!((2..=4).contains(&line), "{text:?}: line {line}: {message}");
        }
    }

    #[test]
    fn misspelt_access_key_is_an_error_with_line_and_hint() {
        let (line, message) =
            parse_text("---\ntitle: A\nacess:\n  level: gold\n---\n").unwrap_err();
        assert_eq!(line, 3, "{message}");
        assert!(message.contains("did you mean `access`?"), "{message}");
    }

    #[test]
    fn unknown_key_inside_access_is_an_error() {
        let (line, message) =
            parse_text("---\ntitle: A\naccess:\n  levle: gold\n---\n").unwrap_err();
        assert!(message.contains("levle"), "{message}");
        assert!((3..=4).contains(&line), "line {line}: {message}");
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let (line, message) =
            parse_text("---\ntitle: A\ntags: [a, b\ndate: 2026-01-01\n---\n").unwrap_err();
        assert!((3..=5).contains(&line), "line {line}: {message}");
        assert!(message.starts_with("front matter:"), "{message}");
    }

    #[test]
    fn missing_or_unclosed_front_matter_is_explained() {
        assert!(
            split("# no front matter")
                .unwrap_err()
                .1
                .contains("missing front matter")
        );
        assert!(
            split("---\ntitle: x\n")
                .unwrap_err()
                .1
                .contains("not closed")
        );
    }

    #[test]
    fn empty_access_is_an_error_not_a_public_page() {
        for text in [
            "---\ntitle: A\naccess:\n---\n",
            "---\ntitle: A\naccess: ~\n---\n",
            "---\ntitle: A\naccess: null\n---\n",
        ] {
            let (line, message) = parse_text(text).unwrap_err();
            assert_eq!(line, 3, "{text:?}: {message}");
            assert!(message.contains("access: is empty"), "{message}");
        }
        assert_eq!(parse_text("---\ntitle: A\n---\n").unwrap().access, None);
    }

    #[test]
    fn a_key_given_twice_is_an_error_not_the_last_one_winning() {
        let (_, message) =
            parse_text("---\ntitle: A\naccess:\n  level: gold\naccess: public\n---\n").unwrap_err();
        assert!(message.contains("access"), "{message}");
    }

    #[test]
    fn toml_front_matter_has_the_same_keys_and_reads_toml_dates() {
        let fm = parse_text(
            "+++\ntitle = \"Lesson\"\ndate = 2026-10-01\nupdated = 2026-10-02T09:00:00Z\ntags = [\"a\", \"b\"]\n\n[access]\nlevel = \"gold\"\ndrip = \"7d\"\n\n[extra]\nauthor = \"Ann\"\n+++\nbody\n",
        )
        .unwrap();
        assert_eq!(fm.title, "Lesson");
        assert_eq!(fm.date.as_deref(), Some("2026-10-01"));
        assert_eq!(fm.updated.as_deref(), Some("2026-10-02T09:00:00Z"));
        assert_eq!(fm.tags, ["a", "b"]);
        let Some(AccessSpec::Rule(rule)) = fm.access else {
            panic!("a rule: {:?}", fm.access);
        };
        assert_eq!(rule.level.as_deref(), Some("gold"));
        assert_eq!(rule.drip.as_deref(), Some("7d"));
        let public = parse_text("+++\ntitle = \"x\"\naccess = \"public\"\n+++\n").unwrap();
        assert_eq!(public.access, Some(AccessSpec::Public));
    }

    #[test]
    fn toml_front_matter_is_as_strict_and_names_its_lines() {
        let (line, message) =
            parse_text("+++\ntitle = \"x\"\nacess = \"public\"\n+++\n").unwrap_err();
        assert_eq!(line, 3, "{message}");
        assert!(message.contains("acess"), "{message}");
        let (line, message) =
            parse_text("+++\ntitle = \"x\"\n[access]\nlevel = \"gold\"\nlevle = \"x\"\n+++\n")
                .unwrap_err();
        assert!(line >= 4, "{line}: {message}");
        let (line, _) = parse_text("+++\ntitle = \"x\"\nbroken = \n+++\n").unwrap_err();
        assert_eq!(line, 3);
        let (line, message) = parse_text("+++\ntitle = \"x\"\n").unwrap_err();
        assert_eq!(line, 1);
        assert!(message.contains("`+++`"), "{message}");
    }

    #[test]
    fn access_word_other_than_public_is_rejected() {
        let (_, message) = parse_text("---\ntitle: A\naccess: gold\n---\n").unwrap_err();
        assert!(message.contains("access: public"), "{message}");
    }
}
