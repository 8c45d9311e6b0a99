//! Reading a Hugo or Zola page's front matter in whatever format it is written: YAML between
//! `---` lines, TOML between `+++` lines, Hugo's JSON object, or none at all. Errors carry the
//! file line, so the import can name it and stop before writing anything.

use super::value::{Map, Value};

/// How the source file writes its front matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Toml,
    /// Hugo's `{ … }` object at the top of the file.
    Json,
    /// No front matter at all (Hugo allows it).
    None,
}

/// A source file split into its front matter and its body.
#[derive(Debug)]
pub struct Source<'a> {
    pub format: Format,
    pub front: Map,
    pub body: &'a str,
    /// The file line on which the body starts, to report source lines.
    pub body_first_line: usize,
}

/// Splits and parses the front matter; on error, the file line and a one-line message.
pub fn read(text: &str) -> Result<Source<'_>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line_end = text.find('\n').unwrap_or(text.len());
    let first_line = text[..first_line_end].trim_end();
    let (format, fence) = match first_line {
        "---" => (Format::Yaml, "---"),
        "+++" => (Format::Toml, "+++"),
        _ if text.starts_with('{') => return read_json(text),
        _ => {
            return Ok(Source {
                format: Format::None,
                front: Vec::new(),
                body: text,
                body_first_line: 1,
            });
        }
    };
    let front_start = (first_line_end + 1).min(text.len());
    let mut offset = front_start;
    for line in text[front_start..].split_inclusive('\n') {
        if line.trim_end() == fence {
            let front = &text[front_start..offset];
            let body = &text[offset + line.len()..];
            let map = match format {
                Format::Yaml => parse_yaml(front)?,
                _ => parse_toml(front)?,
            };
            return Ok(Source {
                format,
                front: map,
                body,
                body_first_line: line_count(&text[..offset + line.len()]) + 1,
            });
        }
        offset += line.len();
    }
    Err((
        1,
        format!("front matter is not closed: add a `{fence}` line after its last key"),
    ))
}

fn line_count(text: &str) -> usize {
    text.matches('\n').count()
}

/// Front matter starts on file line 2, after the opening fence.
const FRONT_FIRST_LINE: usize = 2;

fn parse_yaml(front: &str) -> Result<Map, (usize, String)> {
    if front.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_saphyr::from_str(front).map_err(|error| {
        let line = error
            .location()
            .map_or(1, |location| location.line() as usize)
            .max(1);
        (
            FRONT_FIRST_LINE + line - 1,
            format!("YAML front matter: {}", first_line(&error.to_string())),
        )
    })?;
    into_map(value, FRONT_FIRST_LINE)
}

fn parse_toml(front: &str) -> Result<Map, (usize, String)> {
    let mut value: Value = toml::from_str(front).map_err(|error| {
        let line = error.span().map_or(1, |span| {
            line_count(&front[..span.start.min(front.len())]) + 1
        });
        (
            FRONT_FIRST_LINE + line - 1,
            format!("TOML front matter: {}", first_line(error.message())),
        )
    })?;
    super::value::order_as_written_toml(&mut value, front);
    into_map(value, FRONT_FIRST_LINE)
}

/// Hugo's JSON front matter is one object at the top of the file; the body follows it.
fn read_json(text: &str) -> Result<Source<'_>, (usize, String)> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let value = match stream.next() {
        Some(Ok(value)) => value,
        Some(Err(error)) => {
            return Err((
                error.line().max(1),
                format!("JSON front matter: {}", first_line(&error.to_string())),
            ));
        }
        None => return Err((1, "JSON front matter is empty".to_owned())),
    };
    let end = stream.byte_offset();
    let rest = &text[end..];
    // The body starts on the line after the closing brace.
    let body = match rest.find('\n') {
        Some(newline) if rest[..newline].trim().is_empty() => &rest[newline + 1..],
        _ => rest,
    };
    let body_first_line = line_count(&text[..text.len() - body.len()]) + 1;
    Ok(Source {
        format: Format::Json,
        front: into_map(value, 1)?,
        body,
        body_first_line,
    })
}

fn into_map(value: Value, line: usize) -> Result<Map, (usize, String)> {
    match value {
        Value::Map(map) => Ok(map),
        Value::Null => Ok(Vec::new()),
        _ => Err((
            line,
            "front matter is not a set of `key: value` lines".to_owned(),
        )),
    }
}

/// The first meaningful line of a parser's message (they can carry source excerpts).
fn first_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or(message)
        .trim_start_matches("error: ")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::import::value::get;

    #[test]
    fn json_front_matter_is_read_and_the_body_follows_it() {
        let source = read("{\n  \"title\": \"J\",\n  \"tags\": [\"x\"]\n}\n\nBody\n").unwrap();
        assert_eq!(source.format, Format::Json);
        assert_eq!(source.body, "\nBody\n");
        assert_eq!(source.body_first_line, 5);
        assert_eq!(get(&source.front, "title"), Some(&Value::Str("J".into())));
    }

    #[test]
    fn parse_errors_name_the_file_line() {
        assert_eq!(
            read("+++\ntitle = \"x\"\nbroken = \n+++\n").unwrap_err().0,
            3
        );
        let (line, message) = read("---\ntitle: A\ntags: [a, b\nx: 1\n---\n").unwrap_err();
        assert!((3..=5).contains(&line), "{line} {message}");
        assert_eq!(
            read("{\n \"title\": \"x\",\n \"a\": ,\n}\n").unwrap_err().0,
            3
        );
        assert!(
            read("---\ntitle: x\n")
                .unwrap_err()
                .1
                .contains("not closed")
        );
    }
}
