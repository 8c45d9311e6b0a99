//! A shortcode call as written, `name(key=value, …)`, parsed into typed arguments: strings
//! (`"…"` or `'…'`), numbers, booleans and arrays of those, as Zola reads them.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum ArgValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<ArgValue>),
}

impl ArgValue {
    /// The type's name as authors and `{# args: … #}` declarations write it.
    pub fn type_name(&self) -> &'static str {
        match self {
            ArgValue::Str(_) => "string",
            ArgValue::Int(_) | ArgValue::Float(_) => "number",
            ArgValue::Bool(_) => "bool",
            ArgValue::Array(_) => "array",
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            ArgValue::Str(s) => serde_json::Value::from(s.as_str()),
            ArgValue::Int(n) => serde_json::Value::from(*n),
            ArgValue::Float(n) => serde_json::Value::from(*n),
            ArgValue::Bool(b) => serde_json::Value::from(*b),
            ArgValue::Array(items) => items.iter().map(ArgValue::to_json).collect(),
        }
    }
}

impl fmt::Display for ArgValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgValue::Str(s) => write!(f, "{s:?}"),
            ArgValue::Int(n) => write!(f, "{n}"),
            ArgValue::Float(n) => write!(f, "{n}"),
            ArgValue::Bool(b) => write!(f, "{b}"),
            ArgValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub args: Vec<(String, ArgValue)>,
}

/// Whether `text` starts a call: an identifier, then `(` (spaces between allowed). Text such
/// as `{{ page.title }}` in prose is not a shortcode and stays as it is.
pub fn starts_call(text: &str) -> bool {
    let rest = text.trim_start();
    let name_len = identifier_len(rest);
    name_len > 0 && rest[name_len..].trim_start().starts_with('(')
}

/// Parses the call at the start of `text` (after optional spaces). Returns the call and the
/// byte length of what it read, up to and including the closing `)`.
pub fn parse(text: &str) -> Result<(Call, usize), String> {
    let mut reader = Reader { text, at: 0 };
    reader.skip_space();
    let name = reader.identifier().ok_or("expected a shortcode name")?;
    reader.skip_space();
    reader.expect('(', &format!("expected `(` after `{name}`"))?;
    let mut args: Vec<(String, ArgValue)> = Vec::new();
    loop {
        reader.skip_space();
        if reader.eat(')') {
            break;
        }
        let key = reader.identifier().ok_or_else(|| {
            format!(
                "`{name}(…)`: expected an argument name, or `)` (arguments are written \
                 `key=value`)"
            )
        })?;
        reader.skip_space();
        reader.expect('=', &format!("`{name}(…)`: expected `=` after `{key}`"))?;
        reader.skip_space();
        let value = reader
            .value()
            .map_err(|message| format!("`{name}(…)`: argument `{key}`: {message}"))?;
        if args.iter().any(|(seen, _)| *seen == key) {
            return Err(format!("`{name}(…)`: argument `{key}` is given twice"));
        }
        args.push((key, value));
        reader.skip_space();
        if reader.eat(',') {
            continue;
        }
        reader.skip_space();
        reader.expect(
            ')',
            &format!(
                "`{name}(…)`: expected `,` or `)` after the argument `{}`",
                { args.last().map_or("", |(k, _)| k.as_str()) }
            ),
        )?;
        break;
    }
    Ok((Call { name, args }, reader.at))
}

fn identifier_len(text: &str) -> usize {
    let mut len = 0;
    for (i, c) in text.char_indices() {
        let ok = c == '_' || c.is_ascii_alphabetic() || (i > 0 && (c.is_ascii_digit() || c == '-'));
        if !ok {
            break;
        }
        len = i + c.len_utf8();
    }
    len
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, message: &str) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            let found = match self.peek() {
                Some(found) => format!(", found `{found}`"),
                None => ", found the end".to_owned(),
            };
            Err(format!("{message}{found}"))
        }
    }

    fn identifier(&mut self) -> Option<String> {
        let len = identifier_len(self.rest());
        if len == 0 {
            return None;
        }
        let name = self.rest()[..len].to_owned();
        self.at += len;
        Some(name)
    }

    fn value(&mut self) -> Result<ArgValue, String> {
        self.value_at(0)
    }

    fn value_at(&mut self, depth: usize) -> Result<ArgValue, String> {
        match self.peek() {
            Some(quote @ ('"' | '\'')) => self.string(quote).map(ArgValue::Str),
            Some('[') => self.array(depth),
            Some(c) if c == '-' || c == '+' || c.is_ascii_digit() => self.number(),
            Some(_) => {
                let word_len = identifier_len(self.rest());
                let word = self.rest()[..word_len].to_owned();
                match word.as_str() {
                    "true" | "false" => {
                        self.at += word_len;
                        Ok(ArgValue::Bool(word == "true"))
                    }
                    "" => Err(format!(
                        "expected a value (a \"string\", a number, true/false or [an, array]), \
                         found `{}`",
                        self.peek().unwrap_or(' ')
                    )),
                    other => Err(format!(
                        "`{other}` is not a value: quote text (\"{other}\"); booleans are \
                         `true` and `false`"
                    )),
                }
            }
            None => Err("expected a value, found the end".to_owned()),
        }
    }

    fn string(&mut self, quote: char) -> Result<String, String> {
        self.at += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.at += i + 1;
                return Ok(out);
            }
            if c == '\\' {
                match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, escaped)) => out.push(escaped),
                    None => break,
                }
            } else {
                out.push(c);
            }
        }
        Err(format!("a string is not closed: add the closing {quote}"))
    }

    fn number(&mut self) -> Result<ArgValue, String> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(i, c)| {
                !(c.is_ascii_digit() || c == '.' || c == '_' || (i == 0 && (c == '-' || c == '+')))
            })
            .map_or(rest.len(), |(i, _)| i);
        let text = rest[..len].replace('_', "");
        self.at += len;
        if let Ok(n) = text.parse::<i64>() {
            return Ok(ArgValue::Int(n));
        }
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(ArgValue::Float(n)),
            _ => Err(format!("`{text}` is not a number")),
        }
    }

    fn array(&mut self, depth: usize) -> Result<ArgValue, String> {
        // Deep nesting is never meant, and would exhaust the stack.
        if depth >= 8 {
            return Err("arrays nest too deeply (8 levels at most)".to_owned());
        }
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.eat(']') {
                return Ok(ArgValue::Array(items));
            }
            items.push(self.value_at(depth + 1)?);
            self.skip_space();
            if self.eat(',') {
                continue;
            }
            self.expect(']', "expected `,` or `]` in an array")?;
            return Ok(ArgValue::Array(items));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(text: &str) -> Call {
        parse(text).expect("a valid call").0
    }

    #[test]
    fn arguments_are_typed() {
        let parsed =
            call(r#"figure(src="a.png", width=640, ratio=1.5, lazy=true, tags=['x', "y"])"#);
        assert_eq!(parsed.name, "figure");
        assert_eq!(
            parsed.args,
            vec![
                ("src".to_owned(), ArgValue::Str("a.png".to_owned())),
                ("width".to_owned(), ArgValue::Int(640)),
                ("ratio".to_owned(), ArgValue::Float(1.5)),
                ("lazy".to_owned(), ArgValue::Bool(true)),
                (
                    "tags".to_owned(),
                    ArgValue::Array(vec![
                        ArgValue::Str("x".to_owned()),
                        ArgValue::Str("y".to_owned())
                    ])
                ),
            ]
        );
    }

    #[test]
    fn the_length_read_ends_at_the_closing_parenthesis() {
        let text = r#"callout( kind = "tip" , title="a ) b" ) }}"#;
        let (parsed, len) = parse(text).expect("valid");
        assert_eq!(&text[len..], " }}");
        assert_eq!(parsed.args[1].1, ArgValue::Str("a ) b".to_owned()));
        assert_eq!(call("video()").args, vec![]);
        assert_eq!(
            call(r#"q(t="say \"hi\"")"#).args[0].1,
            ArgValue::Str("say \"hi\"".to_owned())
        );
    }

    #[test]
    fn bad_calls_say_what_is_wrong() {
        let error = |text: &str| parse(text).expect_err(text);
        assert!(error(r#"figure(src="a.png""#).contains("expected `,` or `)`"));
        assert!(error(r#"figure(src="a.png)"#).contains("not closed"));
        assert!(error("figure(src=big)").contains("quote text"));
        assert!(error("figure(src)").contains("expected `=` after `src`"));
        assert!(error(r#"figure(a=1, a=2)"#).contains("given twice"));
        assert!(error("figure(w=1.2.3)").contains("not a number"));
        assert!(error(&format!("f(a={}1{})", "[".repeat(50), "]".repeat(50))).contains("nest"));
    }

    #[test]
    fn only_an_identifier_and_a_parenthesis_start_a_call() {
        assert!(starts_call(" video(src=1)"));
        assert!(starts_call("my_code-2 ()"));
        assert!(!starts_call(" page.title "));
        assert!(!starts_call(" (x) "));
        assert!(!starts_call(""));
    }
}
