//! Writes converted front matter as YAML or TOML text. Neither `serde-saphyr` (built here to
//! read only) nor `toml` (built without its writer) serializes, and front matter has few
//! shapes: scalars, dates, lists and maps. Strings are quoted whenever a plain scalar could be
//! read back as something else, so what is written parses to what was meant.

use std::fmt::Write as _;

use super::value::{Map, Value};

/// YAML lines for `map`, without the `---` fences.
pub fn yaml(map: &Map) -> String {
    let mut out = String::new();
    yaml_map(&mut out, map, 0);
    out
}

fn yaml_map(out: &mut String, map: &Map, indent: usize) {
    for (key, value) in map {
        let pad = " ".repeat(indent);
        let key = yaml_key(key);
        match value {
            Value::Map(inner) if !inner.is_empty() => {
                let _ = writeln!(out, "{pad}{key}:");
                yaml_map(out, inner, indent + 2);
            }
            Value::List(items) if !fits_flow(items) => {
                let _ = writeln!(out, "{pad}{key}:");
                yaml_block_list(out, items, indent + 2);
            }
            _ => {
                let _ = writeln!(out, "{pad}{key}: {}", yaml_inline(value));
            }
        }
    }
}

fn yaml_block_list(out: &mut String, items: &[Value], indent: usize) {
    let pad = " ".repeat(indent);
    for item in items {
        match item {
            Value::Map(inner) if !inner.is_empty() => {
                // The first key goes on the dash's line; the others line up under it.
                let mut nested = String::new();
                yaml_map(&mut nested, inner, indent + 2);
                let nested = nested.trim_start();
                let _ = write!(out, "{pad}- {nested}");
            }
            Value::List(inner) if !fits_flow(inner) => {
                let _ = writeln!(out, "{pad}-");
                yaml_block_list(out, inner, indent + 2);
            }
            _ => {
                let _ = writeln!(out, "{pad}- {}", yaml_inline(item));
            }
        }
    }
}

/// A list of scalars short enough for `[a, b]` on one line, as authors write tags.
fn fits_flow(items: &[Value]) -> bool {
    items.iter().all(Value::is_scalar)
        && items
            .iter()
            .map(|item| yaml_inline(item).len() + 2)
            .sum::<usize>()
            <= 72
}

/// A scalar, an empty collection or a short list of scalars, on one line.
fn yaml_inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Int(number) => number.to_string(),
        Value::Float(number) => yaml_float(*number),
        Value::Str(text) | Value::Date(text) => yaml_string(text),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(yaml_inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(map) if map.is_empty() => "{}".to_owned(),
        Value::Map(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(key, value)| format!("{}: {}", yaml_key(key), yaml_inline(value)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

fn yaml_float(number: f64) -> String {
    if number.is_nan() {
        ".nan".to_owned()
    } else if number.is_infinite() {
        if number > 0.0 { ".inf" } else { "-.inf" }.to_owned()
    } else {
        // `{:?}` keeps the `.0` that makes `1.0` a float when read back.
        format!("{number:?}")
    }
}

fn yaml_key(key: &str) -> String {
    let plain = key
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !is_yaml_word(key);
    if plain {
        key.to_owned()
    } else {
        double_quoted(key)
    }
}

/// A string plain when that cannot be misread (a word, a path, a date), else double-quoted.
fn yaml_string(text: &str) -> String {
    if is_date(text) || is_plain_safe(text) {
        text.to_owned()
    } else {
        double_quoted(text)
    }
}

/// Letters, digits, spaces and `_ . / -`, starting with a letter or `/` and not ending in a
/// space: never a number, a bool, null, a comment or a flow indicator in YAML.
fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    (first.is_alphabetic() || first == '/')
        && !text.ends_with(' ')
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '.' | '/' | '-'))
        && !is_yaml_word(text)
}

/// Words YAML 1.1 or 1.2 readers take as bools or null.
fn is_yaml_word(text: &str) -> bool {
    matches!(
        text.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "nan" | "inf"
    )
}

/// `2026-01-10`, `2026-01-10T09:30:00Z`, `2026-01-10 09:30:00+02:00`: written plain so the
/// front matter reads as authors write it (our parser takes dates as text either way).
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let date = bytes.len() >= 10
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10);
    date && text[10..]
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, 'T' | 'Z' | ':' | '.' | '+' | '-'))
        || (date
            && text[10..].starts_with(' ')
            && text[11..]
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, 'Z' | ':' | '.' | '+' | '-')))
}

/// A double-quoted string with JSON-style escapes, which YAML and TOML both read.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// TOML lines for `map`, without the `+++` fences: plain keys first (a key after a
/// `[table]` header would belong to that table), then each table under its dotted header.
pub fn toml(map: &Map) -> String {
    let mut out = String::new();
    toml_table(&mut out, map, &[]);
    out
}

fn toml_table(out: &mut String, map: &Map, path: &[String]) {
    let is_table = |value: &Value| matches!(value, Value::Map(_));
    let is_table_array = |value: &Value| {
        matches!(value, Value::List(items)
            if !items.is_empty() && items.iter().all(|item| matches!(item, Value::Map(_))))
    };
    for (key, value) in map {
        if is_table(value) || is_table_array(value) || matches!(value, Value::Null) {
            continue;
        }
        let _ = writeln!(out, "{} = {}", toml_key(key), toml_inline(value));
    }
    for (key, value) in map {
        let mut inner_path = path.to_vec();
        inner_path.push(toml_key(key));
        let header = inner_path.join(".");
        match value {
            Value::Map(inner) => {
                // A table holding only tables needs no header of its own: `[extra.build]`
                // defines `extra` too.
                let only_tables = !inner.is_empty()
                    && inner
                        .iter()
                        .all(|(_, value)| is_table(value) || is_table_array(value));
                if !only_tables {
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    let _ = writeln!(out, "[{header}]");
                }
                toml_table(out, inner, &inner_path);
            }
            Value::List(items) if is_table_array(value) => {
                for item in items {
                    if let Value::Map(inner) = item {
                        if !out.is_empty() {
                            out.push('\n');
                        }
                        let _ = writeln!(out, "[[{header}]]");
                        toml_table(out, inner, &inner_path);
                    }
                }
            }
            _ => {}
        }
    }
}

fn toml_inline(value: &Value) -> String {
    match value {
        // TOML has no null; a map never holds one here (see `toml_table`), and in a list
        // the empty string is the nearest thing.
        Value::Null => "\"\"".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Int(number) => number.to_string(),
        Value::Float(number) => toml_float(*number),
        Value::Str(text) => double_quoted(text),
        Value::Date(text) => text.clone(),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(toml_inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(map) => {
            let entries: Vec<String> = map
                .iter()
                .filter(|(_, value)| !matches!(value, Value::Null))
                .map(|(key, value)| format!("{} = {}", toml_key(key), toml_inline(value)))
                .collect();
            if entries.is_empty() {
                "{}".to_owned()
            } else {
                format!("{{ {} }}", entries.join(", "))
            }
        }
    }
}

fn toml_float(number: f64) -> String {
    if number.is_nan() {
        "nan".to_owned()
    } else if number.is_infinite() {
        if number > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{number:?}")
    }
}

fn toml_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        key.to_owned()
    } else {
        double_quoted(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::Str(text.to_owned())
    }

    fn entry(key: &str, value: Value) -> (String, Value) {
        (key.to_owned(), value)
    }

    /// Every shape front matter has, with strings that a careless writer would corrupt.
    fn sample() -> Map {
        vec![
            entry("title", s("Rust: a \"new\" hope # not a comment")),
            entry("description", s("yes")),
            entry("slug", s("123")),
            entry("date", s("2026-01-10T09:30:00+02:00")),
            entry(
                "summary",
                s("Line one\nline two\twith tab and \\ backslash"),
            ),
            entry("weight", Value::Int(-3)),
            entry("draft", Value::Bool(true)),
            entry(
                "tags",
                Value::List(vec![s("rust"), s("web, dev"), s("[x]")]),
            ),
            entry(
                "aliases",
                Value::List(vec![s("/old/url/"), s("/2019/a.html")]),
            ),
            entry(
                "extra",
                Value::Map(vec![
                    entry("author", s("Ann Example")),
                    entry("ratio", Value::Float(1.0)),
                    entry("empty", Value::List(vec![])),
                    entry("nothing", Value::Map(vec![])),
                    entry("odd key", s("")),
                    entry("unicode", s("café ☕ — naïve")),
                    entry(
                        "images",
                        Value::List(vec![
                            Value::Map(vec![entry("src", s("a.jpg")), entry("alt", s("A"))]),
                            Value::Map(vec![entry("src", s("b.jpg"))]),
                        ]),
                    ),
                    entry(
                        "nested",
                        Value::Map(vec![entry(
                            "deeper",
                            Value::Map(vec![entry("n", Value::Int(1))]),
                        )]),
                    ),
                    entry(
                        "long",
                        Value::List((0..30).map(|n| s(&format!("item{n}"))).collect()),
                    ),
                ]),
            ),
        ]
    }

    #[test]
    fn yaml_round_trips_through_the_yaml_reader() {
        let text = yaml(&sample());
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, Value::Map(sample()), "{text}");
    }

    #[test]
    fn toml_round_trips_through_the_toml_reader() {
        let mut map = sample();
        map.push(entry("updated", Value::Date("2026-01-11T08:00:00Z".into())));
        let text = toml(&map);
        let mut back: Value = toml::from_str(&text).unwrap();
        super::super::value::order_as_written_toml(&mut back, &text);
        let Value::Map(back) = back else {
            panic!("a table: {text}");
        };
        assert_eq!(back.len(), map.len(), "{text}");
        // Tables are written after plain keys, so compare with keys sorted.
        fn sorted(value: &Value) -> Value {
            match value {
                Value::Map(map) => {
                    let mut map: Map = map.iter().map(|(k, v)| (k.clone(), sorted(v))).collect();
                    map.sort_by(|a, b| a.0.cmp(&b.0));
                    Value::Map(map)
                }
                Value::List(items) => Value::List(items.iter().map(sorted).collect()),
                other => other.clone(),
            }
        }
        for (key, value) in &map {
            let read = super::super::value::get(&back, key).map(sorted);
            assert_eq!(read, Some(sorted(value)), "{key} in\n{text}");
        }
    }

    #[test]
    fn plain_yaml_where_it_reads_back_the_same() {
        let text = yaml(&vec![
            entry("title", s("Hello world")),
            entry("date", s("2026-01-10")),
            entry("tags", Value::List(vec![s("rust"), s("web")])),
            entry("slug", s("true")),
        ]);
        assert_eq!(
            text,
            "title: Hello world\ndate: 2026-01-10\ntags: [rust, web]\nslug: \"true\"\n"
        );
    }

    #[test]
    fn toml_tables_come_after_plain_keys() {
        let text = toml(&vec![
            entry("title", s("T")),
            entry(
                "taxonomies",
                Value::Map(vec![entry("series", Value::List(vec![s("a")]))]),
            ),
            entry("date", Value::Date("2026-01-10".into())),
            entry("extra", Value::Map(vec![entry("author", s("Ann"))])),
        ]);
        assert_eq!(
            text,
            "title = \"T\"\ndate = 2026-01-10\n\n[taxonomies]\nseries = [\"a\"]\n\n[extra]\nauthor = \"Ann\"\n"
        );
    }
}
