//! The bytes of the highlight cache file: a version, the entries with their lengths, and a
//! SHA-256 of it all, so that a truncated, corrupt or foreign file is told apart from a good
//! one and never trusted.

use std::collections::BTreeMap;

use ring::digest::{SHA256, SHA256_OUTPUT_LEN};

use super::highlight_cache::Key;

const MAGIC: &[u8; 8] = b"GHLCACHE";
/// Everything besides theme, language and code that shapes the HTML: the giallo release
/// (`versions_agree` holds it to Cargo.lock's) and our renderer's options in `highlight.rs`
/// (bump the first number when they change). A file of another version is ignored.
const VERSION: &str = "gatehouse-highlight 1, giallo 0.5.2, class prefix g-";

/// The file: `MAGIC`, the version (u32 length, bytes), the entry count (u32), each entry
/// (32-byte key, u32 length, HTML), then the SHA-256 of all that. Integers little-endian.
pub(super) fn serialize(entries: &BTreeMap<&Key, &str>) -> Vec<u8> {
    let size: usize = entries.values().map(|html| html.len() + 36).sum();
    let mut out = Vec::with_capacity(size + VERSION.len() + 64);
    out.extend_from_slice(MAGIC);
    push_bytes(&mut out, VERSION.as_bytes());
    let fitting: Vec<(&&Key, &&str)> = entries
        .iter()
        .filter(|(_, html)| u32::try_from(html.len()).is_ok())
        .collect();
    out.extend_from_slice(&(fitting.len() as u32).to_le_bytes());
    for (key, html) in fitting {
        out.extend_from_slice(key.as_slice());
        push_bytes(&mut out, html.as_bytes());
    }
    let digest = ring::digest::digest(&SHA256, &out);
    out.extend_from_slice(digest.as_ref());
    out
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The entries of a cache file, or `None` if it is not a whole one of this version.
pub(super) fn parse(bytes: &[u8]) -> Option<Vec<(Key, String)>> {
    let body_len = bytes.len().checked_sub(SHA256_OUTPUT_LEN)?;
    let (body, digest) = bytes.split_at(body_len);
    if ring::digest::digest(&SHA256, body).as_ref() != digest {
        return None;
    }
    let mut reader = Reader(body);
    if reader.take(MAGIC.len())? != MAGIC || reader.take_sized()? != VERSION.as_bytes() {
        return None;
    }
    let count = reader.take_u32()?;
    // Each entry takes at least 36 bytes: a count that the file cannot hold is a lie.
    if count as usize > reader.0.len() / 36 {
        return None;
    }
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let key: Key = reader.take(SHA256_OUTPUT_LEN)?.try_into().ok()?;
        let html = std::str::from_utf8(reader.take_sized()?).ok()?;
        entries.push((key, html.to_owned()));
    }
    reader.0.is_empty().then_some(entries)
}

/// The unread rest of a cache file; every `take` checks the length it is given.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.0.len() {
            return None;
        }
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(taken)
    }

    fn take_u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn take_sized(&mut self) -> Option<&'a [u8]> {
        let len = self.take_u32()?;
        self.take(usize::try_from(len).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(entries: &[(u8, &str)]) -> Vec<u8> {
        let keys: Vec<Key> = entries.iter().map(|(byte, _)| [*byte; 32]).collect();
        let map: BTreeMap<&Key, &str> = keys
            .iter()
            .zip(entries)
            .map(|(k, (_, h))| (k, *h))
            .collect();
        serialize(&map)
    }

    #[test]
    fn entries_come_back_as_they_were_written() {
        let bytes = file(&[(1, "<a>"), (2, ""), (3, "<pre>é</pre>")]);
        let parsed = parse(&bytes).expect("a whole file");
        let expected = vec![
            ([1; 32], "<a>".to_owned()),
            ([2; 32], String::new()),
            ([3; 32], "<pre>é</pre>".to_owned()),
        ];
        assert_eq!(parsed, expected);
        assert_eq!(parse(&file(&[])), Some(Vec::new()));
    }

    /// A file whose digest matches its (damaged) body: only the length checks stop it.
    fn resealed(mut body: Vec<u8>) -> Vec<u8> {
        let digest = ring::digest::digest(&SHA256, &body);
        body.extend_from_slice(digest.as_ref());
        body
    }

    #[test]
    fn a_damaged_or_foreign_file_is_refused_without_panicking() {
        let good = file(&[(1, "<a>"), (2, "<b>")]);
        let body = good[..good.len() - SHA256_OUTPUT_LEN].to_vec();
        let count_at = MAGIC.len() + 4 + VERSION.len();
        let entry_len_at = count_at + 4 + SHA256_OUTPUT_LEN;
        let with = |at: usize, bytes: &[u8]| {
            let mut changed = body.clone();
            changed[at..at + bytes.len()].copy_from_slice(bytes);
            resealed(changed)
        };
        let mut flipped = good.clone();
        flipped[entry_len_at + 5] ^= 1;
        let foreign = resealed(
            [
                &MAGIC[..],
                &5u32.to_le_bytes(),
                b"other",
                &0u32.to_le_bytes(),
            ]
            .concat(),
        );
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("shorter than a digest", good[..10].to_vec()),
            ("truncated", good[..good.len() - 7].to_vec()),
            ("a flipped bit", flipped),
            ("another version", foreign),
            ("another magic", with(0, b"X")),
            (
                "a version longer than the file",
                with(MAGIC.len(), &u32::MAX.to_le_bytes()),
            ),
            (
                "a count the file cannot hold",
                with(count_at, &u32::MAX.to_le_bytes()),
            ),
            (
                "a count larger than the entries",
                with(count_at, &3u32.to_le_bytes()),
            ),
            (
                "an entry longer than the file",
                with(entry_len_at, &u32::MAX.to_le_bytes()),
            ),
            ("HTML that is not UTF-8", with(entry_len_at + 4, &[0xff])),
            ("trailing bytes", resealed([&body[..], b"more"].concat())),
            ("not a cache", b"{\"json\": true}".to_vec()),
        ];
        assert!(parse(&good).is_some());
        for (case, bytes) in cases {
            assert_eq!(parse(&bytes), None, "{case}");
        }
    }

    #[test]
    fn versions_agree() {
        // A new giallo may highlight the same code differently: its version is in VERSION.
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
            .expect("Cargo.lock");
        let locked = lock
            .split("[[package]]")
            .find(|package| package.contains("\nname = \"giallo\"\n"))
            .and_then(|package| package.lines().find_map(|l| l.strip_prefix("version = ")))
            .expect("giallo is locked")
            .trim_matches('"');
        assert!(
            VERSION.contains(&format!("giallo {locked},")),
            "{VERSION} vs {locked}"
        );
        let prefix = format!("class prefix {}", super::super::highlight::CLASS_PREFIX);
        assert!(VERSION.ends_with(&prefix), "{VERSION}");
    }
}
