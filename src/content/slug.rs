//! Slugs for heading ids, tag URLs and path segments.

/// Lowercase words joined by `-`; letters of any script are kept.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    let mut dash = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if dash && !slug.is_empty() {
                slug.push('-');
            }
            dash = false;
            slug.extend(c.to_lowercase());
        } else if c == '_' && !slug.is_empty() {
            slug.push('_');
        } else {
            dash = true;
        }
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_are_lowercase_dashed_words() {
        assert_eq!(
            slugify("Lesson 3 — Pricing tiers!"),
            "lesson-3-pricing-tiers"
        );
        assert_eq!(slugify("  Déjà vu  "), "déjà-vu");
        assert_eq!(slugify("snake_case"), "snake_case");
        assert_eq!(slugify("???"), "");
    }
}
