//! A fast reading of the plainest YAML front matter: `key: "text"`, `key: 2026-10-01`,
//! `key: [a, "b"]`, and one level of `key:` with indented `name: value` or `- item` lines.
//! The full YAML parser costs about 10 µs a page, most of a build's front-matter time; this
//! reads the same pages in a fraction of it.
//!
//! It is an accelerator, never a judge: it answers only for text whose meaning it is sure of
//! and hands everything else to the full parser, including every mistake, so that every error
//! message and line number comes from one place. A plain (unquoted) value is taken only when
//! no YAML schema could read it as anything but a string (not `yes`, `null`, `1.5` or `0x1f`);
//! a quoted one only without escapes. What it reads goes through `FrontMatter`'s own
//! `Deserialize`, so unknown keys, `access:` rules, dates and one-or-many lists are checked by
//! the same code as on the full path. The tests below hold it to the full parser's answers on
//! generated front matter.

use serde::Deserialize;
use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};

use super::front_matter::FrontMatter;

/// The front matter, if `yaml` is plain enough to read here; `None` sends it to the full parser.
pub fn parse(yaml: &str) -> Option<FrontMatter> {
    let entries = read(yaml)?;
    FrontMatter::deserialize(MapDeserializer::new(
        entries.iter().map(|(k, v)| (*k, Node(v))),
    ))
    .ok()
}

/// The longest front matter read here, in bytes.
const MAX_LEN: usize = 16 * 1024;

#[derive(Debug, PartialEq)]
enum Value<'a> {
    Text(&'a str),
    List(Vec<&'a str>),
    Map(Vec<(&'a str, Value<'a>)>),
}

/// The entries of a block mapping at indent 0, each value a scalar, a flow list, or one
/// indented level of entries or `- item` lines.
fn read(yaml: &str) -> Option<Vec<(&str, Value<'_>)>> {
    // Front matter is a few hundred bytes: past these, the full parser and its limits decide
    // (and a duplicate-key check that looks at every key before is no cost).
    if yaml.len() > MAX_LEN || yaml.contains(['\t', '\r']) {
        return None;
    }
    let mut lines = yaml
        .lines()
        .filter(|line| !line.trim_start_matches(' ').is_empty())
        .peekable();
    let mut entries: Vec<(&str, Value<'_>)> = Vec::new();
    while let Some(line) = lines.next() {
        let (key, rest) = entry(line)?;
        let value = if rest.is_empty() {
            // Indented lines under the key, all at the first one's indent.
            let indent = lines
                .peek()
                .map(|next| indent_of(next))
                .filter(|&n| n > 0)?;
            let mut children = Vec::new();
            while let Some(child) = lines.next_if(|next| indent_of(next) > 0) {
                if indent_of(child) != indent {
                    return None;
                }
                children.push(&child[indent..]);
            }
            block(&children)?
        } else {
            inline(rest)?
        };
        if entries.iter().any(|(seen, _)| *seen == key) {
            return None;
        }
        entries.push((key, value));
    }
    Some(entries)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `key: rest` with a lowercase key that YAML reads as text (not `null` or `true`); `rest` is
/// empty for `key:` alone.
fn entry(line: &str) -> Option<(&str, &str)> {
    let (key, rest) = line.split_once(':')?;
    let key_ok = plain_word(key) && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if !key_ok {
        return None;
    }
    match rest.strip_prefix(' ') {
        Some(value) => Some((key, value)),
        None if rest.is_empty() => Some((key, "")),
        None => None,
    }
}

/// The indented lines under a key: all `- item`, or all `name: value`.
fn block<'a>(children: &[&'a str]) -> Option<Value<'a>> {
    if children.iter().all(|child| child.starts_with("- ")) {
        let items = children.iter().map(|child| scalar(&child[2..]));
        return items.collect::<Option<Vec<_>>>().map(Value::List);
    }
    let mut entries: Vec<(&str, Value<'_>)> = Vec::new();
    for child in children {
        let (key, rest) = entry(child)?;
        if rest.is_empty() || entries.iter().any(|(seen, _)| *seen == key) {
            return None;
        }
        entries.push((key, inline(rest)?));
    }
    Some(Value::Map(entries))
}

/// A value on the key's own line: a scalar or a flow list.
fn inline(text: &str) -> Option<Value<'_>> {
    match text.strip_prefix('[') {
        Some(rest) => flow_list(rest.strip_suffix(']')?).map(Value::List),
        None => scalar(text).map(Value::Text),
    }
}

/// The inside of `[…]`: scalars separated by `, `.
fn flow_list(inside: &str) -> Option<Vec<&str>> {
    if inside.trim_matches(' ').is_empty() {
        return Some(Vec::new());
    }
    let mut items = Vec::new();
    let mut rest = inside.trim_start_matches(' ');
    loop {
        // A quoted item may hold commas; a plain one ends at the first.
        let end = match rest.strip_prefix('"') {
            Some(quoted) => quoted.find('"')? + 2,
            None => rest.find(',').unwrap_or(rest.len()),
        };
        items.push(scalar(rest[..end].trim_end_matches(' '))?);
        rest = rest[end..].trim_start_matches(' ');
        match rest.strip_prefix(',') {
            Some(after) => rest = after.trim_start_matches(' '),
            None if rest.is_empty() => return Some(items),
            None => return None,
        }
    }
}

/// A string written `"like this"` with no escapes, or plain text that every YAML schema reads
/// as a string.
fn scalar(text: &str) -> Option<&str> {
    if let Some(quoted) = text.strip_prefix('"') {
        let inside = quoted.strip_suffix('"')?;
        return (!inside.contains(['"', '\\']) && inside.chars().all(printable)).then_some(inside);
    }
    (plain_word(text) || plain_path(text) || plain_date(text) || plain_duration(text))
        .then_some(text)
}

/// `/old/url/`, `/2019/01/post.html`: a slash, then letters, digits, `/`, `.`, `-` and `_`.
fn plain_path(text: &str) -> bool {
    text.starts_with('/')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'))
}

/// Text a YAML parser keeps as it is: printable, and no line or byte-order marks.
fn printable(c: char) -> bool {
    matches!(c, ' '..='~')
        || (c > '\u{9f}'
            && !matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            ))
}

/// `gold`, `course-a`, `my_series`: a letter, then letters, digits, `-` and `_`, and none of
/// the words YAML 1.1 or 1.2 reads as a bool or null.
fn plain_word(text: &str) -> bool {
    const NOT_STRINGS: [&str; 9] = ["y", "n", "yes", "no", "true", "false", "on", "off", "null"];
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !NOT_STRINGS
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word))
}

/// `2026-10-01`, `2026-10-01T09:00:00Z`, `2026-10-01T09:00:00+02:00`.
fn plain_date(text: &str) -> bool {
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let (date, time) = text.split_once('T').unwrap_or((text, ""));
    let date_ok = matches!(date.split('-').collect::<Vec<_>>()[..], [y, m, d]
        if y.len() == 4 && m.len() == 2 && d.len() == 2 && digits(y) && digits(m) && digits(d));
    if !date_ok {
        return false;
    }
    if time.is_empty() {
        return !text.contains('T');
    }
    let (clock, zone) = match time.strip_suffix('Z') {
        Some(clock) => (clock, ""),
        None => match time.find(['+', '-']) {
            Some(at) => time.split_at(at),
            None => (time, ""),
        },
    };
    let clock_ok = matches!(clock.split(':').collect::<Vec<_>>()[..], [h, m, s]
        if [h, m, s].iter().all(|p| p.len() == 2 && digits(p)));
    let zone_ok = zone.is_empty()
        || matches!(zone[1..].split(':').collect::<Vec<_>>()[..], [h, m]
            if h.len() == 2 && m.len() == 2 && digits(h) && digits(m));
    clock_ok && zone_ok
}

/// `7d`, `12h`, `2w`: digits not starting with 0, then lowercase letters.
fn plain_duration(text: &str) -> bool {
    let letters = text.trim_start_matches(|c: char| c.is_ascii_digit());
    let digits = &text[..text.len() - letters.len()];
    !digits.is_empty()
        && !digits.starts_with('0')
        && !letters.is_empty()
        && letters.bytes().all(|b| b.is_ascii_lowercase())
        && letters != "e"
}

/// A read value, for `FrontMatter`'s `Deserialize`.
struct Node<'v, 'a>(&'v Value<'a>);

impl<'de> IntoDeserializer<'de, Error> for Node<'_, '_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for Node<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Text(text) => visitor.visit_str(text),
            Value::List(items) => visitor.visit_seq(SeqDeserializer::new(items.iter().copied())),
            Value::Map(entries) => visitor.visit_map(MapDeserializer::new(
                entries.iter().map(|(k, v)| (*k, Node(v))),
            )),
        }
    }

    // Every value read here is present: YAML's null always goes to the full parser.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_plain_forms() {
        let yaml = "title: \"A, b: c\"\ndate: 2025-09-14T13:01:00Z\ntags: [\"x\", y-z]\n\naccess:\n  bundles: [course-a, course-b]\n  drip: 7d\ntaxonomies:\n  series:\n";
        assert_eq!(read(yaml), None, "`series:` with nothing under it is null");
        let yaml = "title: \"A, b: c\"\ndate: 2025-09-14T13:01:00Z\ntags: [\"x\", y-z]\n\naccess:\n  bundles: [course-a, course-b]\n  drip: 7d\naliases:\n  - /old/\n";
        let read = read(yaml).unwrap();
        assert_eq!(read[0], ("title", Value::Text("A, b: c")));
        assert_eq!(read[1], ("date", Value::Text("2025-09-14T13:01:00Z")));
        assert_eq!(read[2], ("tags", Value::List(vec!["x", "y-z"])));
        assert_eq!(
            read[3],
            (
                "access",
                Value::Map(vec![
                    ("bundles", Value::List(vec!["course-a", "course-b"])),
                    ("drip", Value::Text("7d")),
                ])
            )
        );
        assert_eq!(read[4], ("aliases", Value::List(vec!["/old/"])), "{read:?}");
    }

    #[test]
    fn leaves_anything_else_to_the_full_parser() {
        for yaml in [
            "title: yes",
            "title: No",
            "title: null",
            "title: ~",
            "title: 12",
            "title: 1.5",
            "title: 0x1f",
            "title: 1e5",
            "title: .inf",
            "title: 'single'",
            "title: \"esc\\\"aped\"",
            "title: \"tab\there\"",
            "title: a # comment",
            "title: a b",
            "title: \"open",
            "title:\"x\"",
            "Title: \"x\"",
            "title: \"x\"\ntitle: \"y\"",
            "title: \"x\"\r\n",
            "title: &anchor \"x\"",
            "title: *alias",
            "tags: [a, [b]]",
            "tags: [a,",
            "tags:\n  - a\n   - b",
            "tags:\n  - a\n  b: c",
            "access:",
            "access:\n  level:",
            "access:\n  level: gold\n  level: silver",
            "# a comment\ntitle: \"x\"",
            "---\ntitle: \"x\"",
            "<<: {title: x}",
            "title: \"\u{85}\"",
            "date: 2025-9-14",
            "date: 2025-09-14T1:00:00Z",
            "drip: 07d",
            "title: \"x\"\nextra:\n  null: a",
            "title: \"x\"\ntaxonomies:\n  true: [a]",
            "null: x",
        ] {
            assert!(read(yaml).is_none(), "{yaml:?}");
        }
    }

    use super::super::front_matter::parse_yaml_fully;
    use proptest::prelude::*;

    /// Values as authors write them, and near misses of every rule above.
    const SCALARS: &[&str] = &[
        "gold",
        "course-a",
        "my_series",
        "Rust",
        "a1",
        "x",
        "yes",
        "No",
        "ON",
        "off",
        "y",
        "n",
        "null",
        "Null",
        "~",
        "true",
        "False",
        "12",
        "-3",
        "+4",
        "1.5",
        ".5",
        "1e5",
        "0x1f",
        "0o17",
        "0b101",
        ".inf",
        "-.INF",
        ".nan",
        "1_000",
        "1:20",
        "7d",
        "14d",
        "2w",
        "07d",
        "1e",
        "10h",
        "2025-09-14",
        "2025-09-14T13:01:00Z",
        "2025-09-14T13:01:00+02:00",
        "2025-09-14T13:01:00-05:30",
        "2025-09-14 13:01:00",
        "2025-9-14",
        "2025-09-14T1:00:00Z",
        "2025-09-14T13:01:00.5Z",
        "2025-09-14t13:01:00z",
        "\"\"",
        "\"A title\"",
        "\"a, b: c\"",
        "\"yes\"",
        "\"12\"",
        "\"#hash\"",
        "\"Déjà vu 日本\"",
        "\"tab\there\"",
        "\"q\\\"uote\"",
        "\"back\\\\slash\"",
        "\"\\u00e9\"",
        "'single'",
        "'it''s'",
        "a b",
        "a #c",
        "a#b",
        "a:b",
        "&anchor x",
        "*alias",
        "!tag x",
        "|",
        ">",
        "-",
        "- a",
        "[a]",
        "[]",
        "[a, b]",
        "[\"a, b\", c]",
        "[a, [b]]",
        "[a,b]",
        "[ a , b ]",
        "[a, ]",
        "{a: b}",
        "\"\u{85}\"",
        "\"\u{2028}\"",
        "\"\u{feff}x\"",
        "\"open",
        "public",
        "@at",
        "%pct",
        "`tick`",
        "?q",
        "/old/url/",
        "a-",
        "_a",
    ];

    /// Keys whose values are text, the ones the fast reading takes.
    const TEXT_KEYS: &[&str] = &[
        "title",
        "description",
        "date",
        "updated",
        "summary",
        "tags",
        "slug",
        "template",
        "aliases",
        "public_files",
        "access",
        "taxonomies",
        "extra",
    ];

    /// Keys the fast reading leaves to the full parser: not text, unknown, or miswritten.
    const OTHER_KEYS: &[&str] = &[
        "draft",
        "weight",
        "paginate_by",
        "unknown",
        "Title",
        "level",
    ];

    const NESTED_KEYS: &[&str] = &[
        "level",
        "bundles",
        "drip",
        "categories",
        "series",
        "x",
        "title",
        "null",
        "true",
        "yes",
    ];

    /// Values the fast reading takes, most of the time, so that whole documents reach it.
    const FAST: &[&str] = &[
        "gold",
        "course-a",
        "my_series",
        "7d",
        "2025-09-14",
        "2025-09-14T13:01:00Z",
        "\"A title\"",
        "\"a, b: c\"",
        "\"yes\"",
        "\"Déjà vu 日本\"",
        "/old/url/",
        "public",
    ];

    fn scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => proptest::sample::select(FAST),
            1 => proptest::sample::select(SCALARS),
        ]
        .prop_map(str::to_owned)
    }

    /// One front-matter entry: `key: value`, or `key:` and indented lines.
    fn entry() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            4 => proptest::sample::select(TEXT_KEYS),
            1 => proptest::sample::select(OTHER_KEYS),
        ];
        let nested = proptest::sample::select(NESTED_KEYS);
        let indent = prop_oneof![4 => Just("  "), 1 => Just("    "), 1 => Just("")];
        prop_oneof![
            6 => (key.clone(), scalar()).prop_map(|(k, v)| format!("{k}: {v}")),
            1 => (key.clone(), proptest::collection::vec(scalar(), 0..4))
                .prop_map(|(k, v)| format!("{k}: [{}]", v.join(", "))),
            1 => (key.clone(), indent.clone(), proptest::collection::vec(scalar(), 0..3))
                .prop_map(|(k, i, v)| {
                    let items: String = v.iter().map(|v| format!("\n{i}- {v}")).collect();
                    format!("{k}:{items}")
                }),
            2 => (key, indent, proptest::collection::vec((nested, scalar()), 0..3))
                .prop_map(|(k, i, v)| {
                    let items: String = v.iter().map(|(n, v)| format!("\n{i}{n}: {v}")).collect();
                    format!("{k}:{items}")
                }),
            1 => Just(String::new()),
            1 => Just("  ".to_owned()),
            1 => Just("# a comment".to_owned()),
        ]
    }

    fn front_matter() -> impl Strategy<Value = String> {
        (
            proptest::option::of(scalar()),
            proptest::collection::vec(entry(), 0..5),
        )
            .prop_map(|(title, entries)| {
                let mut yaml = String::new();
                if let Some(title) = title {
                    yaml.push_str(&format!("title: {title}\n"));
                }
                for entry in entries {
                    yaml.push_str(&entry);
                    yaml.push('\n');
                }
                yaml
            })
    }

    /// Whatever the fast reading answers, the full parser answers the same; and the generated
    /// front matter reaches the fast reading often enough for that to mean something.
    #[test]
    fn the_fast_reading_agrees_with_the_full_parser() {
        use proptest::test_runner::{Config, TestRunner};
        let cases = 4000;
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let fast_answers = std::cell::Cell::new(0u32);
        runner
            .run(&front_matter(), |yaml| {
                if let Some(fast) = parse(&yaml) {
                    fast_answers.set(fast_answers.get() + 1);
                    let full = parse_yaml_fully(&yaml);
                    prop_assert_eq!(full.as_ref().ok(), Some(&fast), "{:?}: {:?}", yaml, full);
                }
                Ok(())
            })
            .unwrap();
        assert!(
            fast_answers.get() > cases / 20,
            "only {} of {cases} cases were read fast",
            fast_answers.get()
        );
    }

    /// Past the length limit the full parser decides: it has its own limits on keys and nodes.
    #[test]
    fn long_front_matter_goes_to_the_full_parser() {
        let items = vec!["a"; MAX_LEN / 3].join(", ");
        let yaml = format!("title: \"x\"\ntags: [{items}]\n");
        assert!(read(&yaml).is_none());
        let short = format!("title: \"x\"\ntags: [{}]\n", vec!["a"; 100].join(", "));
        assert!(read(&short).is_some());
    }

    /// The generated cases reach the fast reading, not only the full parser.
    #[test]
    fn the_fast_reading_answers_for_plain_front_matter() {
        for yaml in [
            "title: \"Plain\"\ndate: 2025-09-14T13:01:00Z\ntags: [\"a\", \"b\"]\n",
            "title: \"Gated\"\naccess:\n  bundles: [course-a, course-b]\n  drip: 7d\n",
            "title: Word\ntaxonomies:\n  categories: [Pricing]\n  series: Launch\n",
            "title: \"Listed\"\naliases:\n  - /old/\n  - /older/\nextra:\n  color: blue\n",
        ] {
            let fast = parse(yaml).unwrap_or_else(|| panic!("{yaml:?} goes the full way"));
            assert_eq!(Ok(fast), parse_yaml_fully(yaml), "{yaml:?}");
        }
    }
}
