//! The text search keeps of a page or members block: its opening, enough to find it by. The
//! public index (`/search.json`) and the members' bundles take the same, so both searches
//! behave alike. It is cut when the document is parsed, not when the index is written: a
//! 10k-page site otherwise held tens of megabytes of text to the end of the build, each page
//! of it touched for the first time (a page fault) only to be dropped.

/// Enough text per page to find it by its opening, without shipping the whole site.
pub const TEXT_LIMIT: usize = 2_000;

/// What search keeps of `text`: trimmed, then cut at a word boundary at or before
/// `TEXT_LIMIT` bytes.
pub fn searchable(text: &str) -> String {
    truncate(text.trim(), TEXT_LIMIT).to_owned()
}

/// Cuts at a word boundary at or before `limit` bytes.
fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match text[..end].rfind(char::is_whitespace) {
        Some(space) => &text[..space],
        None => &text[..end],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_at_a_word_boundary_and_char_boundary() {
        assert_eq!(truncate("hello world", 8), "hello");
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("short", 100), "short");
    }

    #[test]
    fn search_keeps_the_trimmed_opening() {
        assert_eq!(searchable("  one two  "), "one two");
        let long = "word ".repeat(1_000);
        let kept = searchable(&long);
        assert!(
            kept.len() <= TEXT_LIMIT && kept.len() > TEXT_LIMIT - 6,
            "{}",
            kept.len()
        );
        assert!(kept.ends_with("word"), "{kept:?}");
        assert_eq!(searchable(&kept), kept, "cutting twice changes nothing");
    }
}
