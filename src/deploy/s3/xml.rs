//! The little XML that S3 answers with: a listing's keys, and an error's code and message.
//! Both are flat documents of simple elements, so a few string searches read them.

/// The text of every `<tag>…</tag>` in `xml`, in order, entities decoded.
pub fn all<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// The text of the first `<tag>`, decoded.
pub fn first(xml: &str, tag: &str) -> Option<String> {
    all(xml, tag).first().map(|text| unescape(text))
}

/// Decodes the five named entities and numeric character references.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';') else {
            out.push_str(&rest[amp..]);
            return out;
        };
        let entity = &after[..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` as the content of an XML element: `&`, `<` and `>` encoded.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One page of a ListObjectsV2 answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Listing {
    pub keys: Vec<String>,
    /// The token for the next page; `None` on the last.
    pub next: Option<String>,
}

/// Reads a ListObjectsV2 page. A page that says more follow but gives no token is an error:
/// taking it for the last page would leave the rest of the bucket unseen.
pub fn listing(xml: &str) -> Result<Listing, String> {
    let keys = all(xml, "Contents")
        .into_iter()
        .filter_map(|contents| first(contents, "Key"))
        .collect();
    let truncated = first(xml, "IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = first(xml, "NextContinuationToken").filter(|token| !token.is_empty());
    match (truncated, next) {
        (true, None) => Err("its bucket listing says more keys follow, but gives no \
                             continuation token (does it speak ListObjectsV2?)"
            .to_owned()),
        (true, next) => Ok(Listing { keys, next }),
        (false, _) => Ok(Listing { keys, next: None }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_page_gives_decoded_keys_and_the_next_token() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>site</Name>
<IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;1</NextContinuationToken>
<Contents><Key>www/a&amp;b.html</Key><Size>3</Size></Contents>
<Contents><Key>www/caf&#233;/index.html</Key><Size>4</Size></Contents>
</ListBucketResult>"#;
        let page = listing(xml).expect("a page");
        assert_eq!(page.keys, ["www/a&b.html", "www/café/index.html"]);
        assert_eq!(page.next.as_deref(), Some("tok&1"));
    }

    #[test]
    fn the_last_page_has_no_token() {
        let xml = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert_eq!(
            listing(xml),
            Ok(Listing {
                keys: Vec::new(),
                next: None
            })
        );
        let broken = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
        assert!(listing(broken).is_err(), "truncated without a token");
    }

    #[test]
    fn an_error_document_gives_its_code_and_message() {
        let xml = "<Error><Code>NoSuchBucket</Code><Message>The bucket &lt;x&gt; does not exist</Message></Error>";
        assert_eq!(first(xml, "Code").as_deref(), Some("NoSuchBucket"));
        assert_eq!(
            first(xml, "Message").as_deref(),
            Some("The bucket <x> does not exist")
        );
        assert_eq!(unescape("a & b &bogus; c"), "a & b &bogus; c");
    }
}
