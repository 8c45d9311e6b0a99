//! Inputs as a fuzzer makes them: realistic documents mutated (bit flips, truncation, tokens
//! of the format inserted, a piece repeated into deep nesting or a huge line), mixed with plain
//! random bytes and with soups of the format's tokens. A parser is then driven past its first
//! check, into the code behind it, as well as into the check itself.

use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Map, Value};

/// Tokens that break or stretch any text format.
const COMMON: &[&str] = &[
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\"",
    "'",
    "\\",
    "\0",
    "é",
    "\u{feff}",
    "\u{200b}",
    "\u{10ffff}",
    "𝔘",
    "\u{301}",
    "---\n",
    "+++\n",
    "99999999999999999999999999",
    "18446744073709551616",
    "-9223372036854775808",
    "9223372036854775807",
    "4294967296",
    "4294967295",
    "999999999",
    "-1",
    "0",
    "1e400",
    "NaN",
];

/// A text format: documents to start from, tokens to insert, and values to put in place of
/// a field's.
pub struct Format {
    pub seeds: &'static [&'static str],
    pub tokens: &'static [&'static str],
    pub values: &'static [&'static str],
}

/// Bytes a test makes itself (a sealed envelope): there is nothing format-specific to insert.
const OPAQUE: Format = Format {
    seeds: &[],
    tokens: &[],
    values: &[],
};

/// One change to a document.
#[derive(Debug, Clone)]
pub enum Edit {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    Delete(Index, usize),
    /// A token of the format, or a common one.
    Insert(Index, Index),
    /// Random bytes.
    InsertBytes(Index, Vec<u8>),
    /// A piece of the document, repeated: deep nesting, long lines, many entries.
    Repeat(Index, usize, usize),
    /// A piece of the document copied elsewhere.
    Copy(Index, usize, Index),
    /// The text between a separator (`,`, `>`, a line end…) and the next one replaced by a
    /// value: a CSV field or an element's text changed, while the document still parses.
    Field(Index, Index),
    /// The value of a `key = value` or `key: value` line replaced: a setting changed.
    Value(Index, Index),
}

const SEPARATORS: &[u8] = b"\n,=:;|<>[]{}";

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Edit::FlipBit(i, bit)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::SetByte(i, b)),
        1 => any::<Index>().prop_map(Edit::Truncate),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        5 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Edit::Insert(i, t)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, bytes)| Edit::InsertBytes(i, bytes)),
        1 => (any::<Index>(), 1usize..24, prop_oneof![2..16usize, 100..2000usize])
            .prop_map(|(i, len, times)| Edit::Repeat(i, len, times)),
        1 => (any::<Index>(), 1usize..200, any::<Index>())
            .prop_map(|(from, len, to)| Edit::Copy(from, len, to)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(at, v)| Edit::Field(at, v)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(at, v)| Edit::Value(at, v)),
    ]
}

/// One of `own`, or of the common tokens.
fn pick(own: &[&'static str], index: &Index) -> &'static str {
    match index.index(own.len() + COMMON.len()) {
        k if k < own.len() => own[k],
        k => COMMON[k - own.len()],
    }
}

/// Replaces `bytes[start..end]` (after the spaces at `start`) with `value`.
fn replace(bytes: &mut Vec<u8>, start: usize, end: usize, value: &str) {
    let skip = bytes[start..end].iter().take_while(|&&b| b == b' ').count();
    bytes.splice(start + skip..end, value.bytes());
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit], format: &Format) -> Vec<u8> {
    // An index into the document including its end, so text can be added after it.
    let at = |index: &Index, len: usize| index.index(len + 1);
    for edit in edits {
        let len = bytes.len();
        match edit {
            Edit::FlipBit(i, bit) if len > 0 => bytes[i.index(len)] ^= 1 << bit,
            Edit::SetByte(i, byte) if len > 0 => bytes[i.index(len)] = *byte,
            Edit::Truncate(i) => bytes.truncate(at(i, len)),
            Edit::Delete(i, n) => {
                let start = at(i, len);
                bytes.drain(start..(start + n).min(len));
            }
            Edit::Insert(i, token) => {
                let start = at(i, len);
                bytes.splice(start..start, pick(format.tokens, token).bytes());
            }
            Edit::InsertBytes(i, more) => {
                let start = at(i, len);
                bytes.splice(start..start, more.iter().copied());
            }
            Edit::Repeat(i, piece, times) if len > 0 => {
                let start = i.index(len);
                let piece = bytes[start..(start + piece).min(len)].to_vec();
                bytes.splice(start..start, piece.repeat(*times));
            }
            Edit::Copy(from, piece, to) if len > 0 => {
                let start = from.index(len);
                let piece = bytes[start..(start + piece).min(len)].to_vec();
                let to = at(to, len);
                bytes.splice(to..to, piece);
            }
            Edit::Field(i, value) => {
                let separators: Vec<usize> = (0..len)
                    .filter(|&k| SEPARATORS.contains(&bytes[k]))
                    .collect();
                if separators.is_empty() {
                    continue;
                }
                let start = separators[i.index(separators.len())] + 1;
                let end = (start..len)
                    .find(|&k| SEPARATORS.contains(&bytes[k]))
                    .unwrap_or(len);
                replace(&mut bytes, start, end, pick(format.values, value));
            }
            Edit::Value(i, value) => {
                // The byte after each `=` or `:` that a line's first such separator is.
                let mut values = Vec::new();
                let mut line_start = 0;
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    if let Some(k) = line.iter().position(|&b| b == b'=' || b == b':') {
                        let end = line_start + line.len() - usize::from(line.ends_with(b"\n"));
                        values.push((line_start + k + 1, end));
                    }
                    line_start += line.len();
                }
                if values.is_empty() {
                    continue;
                }
                let (start, end) = values[i.index(values.len())];
                replace(&mut bytes, start, end, pick(format.values, value));
            }
            _ => {}
        }
    }
    bytes
}

/// Up to eight edits, for bytes that a test makes itself (a sealed envelope, say).
pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(edit(), 0..8)
}

/// `bytes` with `edits` made, in order.
pub fn apply_edits(bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    apply(bytes, edits, &OPAQUE)
}

/// Bytes: mostly a seed with a few edits, else one with many, random bytes or a soup of
/// tokens.
pub fn bytes(format: &'static Format) -> BoxedStrategy<Vec<u8>> {
    let soup = prop::collection::vec(
        prop_oneof![select(format.tokens), select(format.values), select(COMMON)],
        0..48,
    )
    .prop_map(|parts| parts.concat().into_bytes());
    let mutated = |edits| {
        (select(format.seeds), prop::collection::vec(edit(), edits))
            .prop_map(move |(seed, edits)| apply(seed.as_bytes().to_vec(), &edits, format))
    };
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        1 => soup,
        // Mostly a few edits, which leave most of a document readable; some many.
        6 => mutated(0..4),
        2 => mutated(4..16),
    ]
    .boxed()
}

/// Text: [`bytes`], with what is not UTF-8 replaced, for parsers that take a `&str`.
pub fn text(format: &'static Format) -> BoxedStrategy<String> {
    bytes(format)
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .boxed()
}

/// A value that a JSON field might hold instead of the one it has.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just(i64::MIN),
            Just(i64::MAX),
            Just(-1),
            Just(0),
            Just(253_402_300_800)
        ]
        .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        select(STRIPE_WORDS).prop_map(Value::from),
        // Other buyers and objects than the seeds', so that events make new members.
        "(cus|sub|in|pi|ch|cs)_[a-c]{1,2}".prop_map(Value::from),
        "[a-c]{1,2}@example\\.com".prop_map(Value::from),
        Just(Value::Array(Vec::new())),
        Just(Value::Object(Map::new())),
    ]
}

/// Words Stripe's payloads are read for, so that a changed field can still mean something.
const STRIPE_WORDS: &[&str] = &[
    "",
    "active",
    "trialing",
    "past_due",
    "unpaid",
    "paused",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "paid",
    "unpaid",
    "open",
    "subscription",
    "payment",
    "price_demo_gold_monthly",
    "price_demo_gold_yearly",
    "price_demo_silver_pass",
    "price_demo_pricing_course",
    "price_demo_launch_workshop",
    "gold-monthly",
    "launch-workshop-3-payments",
    "cus_fuzz1",
    "sub_fuzz1",
    "in_fuzz1",
    "pi_fuzz1",
    "ch_fuzz1",
    "fuzz@example.com",
    "FUZZ@Example.COM",
    "not an email",
    "checkout.session.completed",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "charge.refunded",
    "customer.updated",
    "invoice_payment.paid",
];

/// One change to a JSON document, at the node its index picks (in document order).
#[derive(Debug, Clone)]
enum JsonEdit {
    Replace(Index, Value),
    Remove(Index),
    /// The node wrapped in itself: `{"data": node}` or `[node]`, many times.
    Nest(Index, usize),
    /// The node copied over another one: an object where a string was, a list of two items.
    CopyOver(Index, Index),
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        6 => (any::<Index>(), odd_value()).prop_map(|(i, v)| JsonEdit::Replace(i, v)),
        2 => any::<Index>().prop_map(JsonEdit::Remove),
        1 => (any::<Index>(), prop_oneof![1..4usize, 100..300usize])
            .prop_map(|(i, depth)| JsonEdit::Nest(i, depth)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| JsonEdit::CopyOver(a, b)),
    ]
}

/// JSON pointers of every node below the root, in document order.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    };
    for (key, child) in children {
        let pointer = format!("{at}/{key}");
        out.push(pointer.clone());
        pointers(child, pointer, out);
    }
}

fn apply_json(mut value: Value, edits: &[JsonEdit]) -> Value {
    for edit in edits {
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        if all.is_empty() {
            break;
        }
        let pick = |index: &Index| all[index.index(all.len())].clone();
        match edit {
            JsonEdit::Replace(i, new) => {
                if let Some(node) = value.pointer_mut(&pick(i)) {
                    *node = new.clone();
                }
            }
            JsonEdit::Remove(i) => {
                let pointer = pick(i);
                let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", ""));
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(k) = key.parse::<usize>()
                            && k < items.len()
                        {
                            items.remove(k);
                        }
                    }
                    _ => {}
                }
            }
            JsonEdit::Nest(i, depth) => {
                if let Some(node) = value.pointer_mut(&pick(i)) {
                    for level in 0..*depth {
                        let inner = node.take();
                        *node = if level % 2 == 0 {
                            serde_json::json!({ "data": inner, "id": "x" })
                        } else {
                            Value::Array(vec![inner])
                        };
                    }
                }
            }
            JsonEdit::CopyOver(from, to) => {
                let copied = value.pointer(&pick(from)).cloned();
                if let (Some(copied), Some(node)) = (copied, value.pointer_mut(&pick(to))) {
                    *node = copied;
                }
            }
        }
    }
    value
}

/// JSON bodies: mostly a seed changed field by field (so that it still parses and reaches the
/// code that reads it), some changed byte by byte, some random.
pub fn json(format: &'static Format) -> BoxedStrategy<Vec<u8>> {
    let structured = (
        select(format.seeds),
        prop::collection::vec(json_edit(), 0..4),
    )
        .prop_map(|(seed, edits)| {
            let value: Value = serde_json::from_str(seed).expect("the seeds are JSON");
            serde_json::to_vec(&apply_json(value, &edits)).expect("a Value always serializes")
        });
    prop_oneof![
        7 => structured,
        1 => bytes(format),
    ]
    .boxed()
}
