//! Lowercase hex, the one text encoding the contract uses for ids and file names.

/// Encodes bytes as lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex (either case); `None` for an odd length or a non-hex digit.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    // `from_str_radix` would take a sign ("+1"): only digits count.
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_lowercase_pairs() {
        assert_eq!(super::to_hex(&[0x00, 0xab, 0x7f, 0xff]), "00ab7fff");
    }

    #[test]
    fn decodes_what_it_encodes_and_refuses_the_rest() {
        assert_eq!(
            super::from_hex("00ab7FFF"),
            Some(vec![0x00, 0xab, 0x7f, 0xff])
        );
        assert_eq!(super::from_hex("abc"), None);
        assert_eq!(super::from_hex("zz"), None);
        assert_eq!(super::from_hex("+1"), None);
    }
}
