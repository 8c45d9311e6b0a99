//! The front matter of a Hugo or Zola page as read, before conversion: YAML, TOML and JSON
//! parsed into one value type that keeps its keys in the order the author wrote them (serde's
//! maps would sort them) and keeps a TOML date a date rather than a string.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// The key under which the `toml` crate hands a date to `deserialize_any`: a one-entry map.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

/// Keys in written order.
pub type Map = Vec<(String, Value)>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A TOML date or date-time, as written (`2026-01-10`, `2026-01-10T09:00:00Z`).
    Date(String),
    List(Vec<Value>),
    Map(Map),
}

impl Value {
    /// The text of a string or a date.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Str(text) | Value::Date(text) => Some(text),
            _ => None,
        }
    }

    /// A scalar written as text: a title of `2024` is the string "2024".
    pub fn scalar_text(&self) -> Option<String> {
        match self {
            Value::Str(text) | Value::Date(text) => Some(text.clone()),
            Value::Int(number) => Some(number.to_string()),
            Value::Float(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }

    pub fn is_scalar(&self) -> bool {
        !matches!(self, Value::List(_) | Value::Map(_))
    }
}

/// The value under `key`, if the map has it.
pub fn get<'a>(map: &'a Map, key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value)
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a front-matter value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        // Beyond i64 a number is kept exactly as text rather than rounded.
        Ok(i64::try_from(value).map_or_else(|_| Value::Str(value.to_string()), Value::Int))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Ok(Value::Float(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::Str(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::Str(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map: Map = Vec::new();
        while let Some(key) = access.next_key::<String>()? {
            if key == TOML_DATETIME_KEY {
                let text = access.next_value::<String>()?;
                return Ok(Value::Date(text));
            }
            let value = access.next_value::<Value>()?;
            // YAML and JSON parsers let a repeated key through; the last one winning silently
            // is how a page loses a setting, so it is an error naming the key.
            if map.iter().any(|(known, _)| *known == key) {
                return Err(de::Error::custom(format!(
                    "`{key}` is given twice: keep one"
                )));
            }
            map.push((key, value));
        }
        Ok(Value::Map(map))
    }
}

/// Puts the keys of `value`, read from the TOML `text`, back in written order: the `toml`
/// crate (built without `preserve_order`) hands them over sorted, but its span-carrying
/// document still knows where each key was written.
pub fn order_as_written_toml(value: &mut Value, text: &str) {
    if let Ok(document) = toml::de::DeTable::parse(text) {
        order_table(value, document.get_ref());
    }
}

fn order_table(value: &mut Value, table: &toml::de::DeTable<'_>) {
    let Value::Map(map) = value else {
        return;
    };
    let written = |key: &str| {
        table
            .iter()
            .find(|(name, _)| name.get_ref().as_ref() == key)
            .map(|(name, item)| (name.span().start, item))
    };
    // A stable sort: keys the document does not show keep their place at the end.
    map.sort_by_key(|(key, _)| written(key).map_or(usize::MAX, |(start, _)| start));
    for (key, inner) in map.iter_mut() {
        if let Some((_, item)) = written(key) {
            order_value(inner, item.get_ref());
        }
    }
}

fn order_value(value: &mut Value, item: &toml::de::DeValue<'_>) {
    match (value, item) {
        (value @ Value::Map(_), toml::de::DeValue::Table(table)) => order_table(value, table),
        (Value::List(items), toml::de::DeValue::Array(array)) => {
            for (inner, item) in items.iter_mut().zip(array.iter()) {
                order_value(inner, item.get_ref());
            }
        }
        _ => {}
    }
}
