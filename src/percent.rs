//! Percent-decoding of URL paths (`/caf%C3%A9/` → `/café/`), shared by the dev server, which maps
//! request paths to files, and the build, which resolves the links in pages.

/// `%20` → ` `; `None` for a bad escape (`%zz`, `%+1`, a cut `%4`) or bytes that are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            // `from_hex` takes digits only (`from_str_radix` would take a sign).
            let hex = text.get(i + 1..i + 3)?;
            out.extend(crate::gate::from_hex(hex)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_utf8_escapes_and_refuses_bad_ones() {
        assert_eq!(decode("/caf%C3%A9/a%20b").as_deref(), Some("/café/a b"));
        assert_eq!(decode("/plain/").as_deref(), Some("/plain/"));
        for bad in ["/bad%zz", "/bad%+1", "/cut%4", "/%FF"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
