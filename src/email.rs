//! Member email addresses: trimmed, lowercased, and refused when plainly not an address. The
//! edge API and the `members` command share this, so one address is one member everywhere.

/// Why a text is not an email address; the message quotes the text and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the email address is empty")]
    Empty,
    #[error("`{0}` is not an email address: {1}")]
    Invalid(String, &'static str),
}

/// Characters that cannot appear unquoted in an address.
const SPECIALS: &str = "()<>[],;:\\\"";

pub fn normalize_email(raw: &str) -> Result<String, EmailError> {
    let shown = raw.trim();
    let email = shown.to_lowercase();
    let bad = |why| Err(EmailError::Invalid(shown.to_owned(), why));
    if email.is_empty() {
        return Err(EmailError::Empty);
    }
    if email.len() > 254 {
        return bad("it is longer than 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains spaces");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return bad("it has no @");
    };
    if domain.contains('@') {
        return bad("it has more than one @");
    }
    if local.is_empty() {
        return bad("nothing comes before the @");
    }
    let labels_ok = domain
        .split('.')
        .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    if !domain.contains('.') || !labels_ok || domain.chars().any(|c| SPECIALS.contains(c)) {
        return bad("the part after @ is not a domain name such as example.com");
    }
    if local.chars().any(|c| SPECIALS.contains(c)) {
        return bad("the part before @ holds characters an address cannot");
    }
    Ok(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_plain_mistakes_refused() {
        assert_eq!(
            normalize_email("  Ann@Example.COM ").as_deref(),
            Ok("ann@example.com")
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@b@c.com",
            "ann@example..com",
            "ann@-example.com",
            "a<b@example.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} is refused");
        }
    }
}
