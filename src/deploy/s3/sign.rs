//! AWS Signature Version 4 for S3 requests (header-based), with ring's HMAC-SHA256. Pure: the
//! request time is passed in.

use ring::{digest, hmac};

use super::credentials::Credentials;
use crate::gate::to_hex;

/// The hash S3 expects in `x-amz-content-sha256` for a request without a body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A request as it is signed.
pub struct Request<'a> {
    pub method: &'a str,
    /// The path exactly as sent, already percent-encoded (see [`encode_path`]).
    pub path: &'a str,
    /// Query parameters, not yet encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// Every header to sign, names in lowercase; `host`, `x-amz-date` and
    /// `x-amz-content-sha256` must be among them.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload_sha256: &'a str,
    /// `20130524T000000Z`.
    pub amz_date: &'a str,
    pub region: &'a str,
}

/// The `Authorization` header value for `request`.
pub fn authorization(credentials: &Credentials, request: &Request<'_>) -> String {
    let date = &request.amz_date[..8.min(request.amz_date.len())];
    let scope = format!("{date}/{}/s3/aws4_request", request.region);
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), collapse_spaces(value)))
        .collect();
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        request.method,
        request.path,
        canonical_query(request.query),
        request.payload_sha256
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{scope}\n{}",
        request.amz_date,
        to_hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let key = format!("AWS4{}", credentials.secret_access_key());
    let mut signing = sign(key.as_bytes(), date);
    for part in [request.region, "s3", "aws4_request"] {
        signing = sign(signing.as_ref(), part);
    }
    let signature = to_hex(sign(signing.as_ref(), &string_to_sign).as_ref());
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        credentials.access_key_id
    )
}

fn sign(key: &[u8], data: &str) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
}

fn collapse_spaces(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The query as SigV4 wants it: every name and value encoded, sorted by name, then value.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(name, value)| (encode(name, true), encode(value, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// An object path for the request line and the signature: each segment percent-encoded,
/// slashes kept.
pub fn encode_path(path: &str) -> String {
    encode(path, false)
}

/// RFC 3986 percent-encoding of everything but the unreserved characters (and `/` unless
/// `slash` is set), as SigV4 requires.
fn encode(text: &str, slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(byte, b'-' | b'_' | b'.' | b'~')
            || (byte == b'/' && !slash);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `20130524T000000Z` for a Unix time.
pub fn amz_date(unix_seconds: i64) -> String {
    jiff::Timestamp::from_second(unix_seconds)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked examples of AWS's "Signature Calculations for the Authorization Header"
    /// (examplebucket, us-east-1, 2013-05-24).
    fn example_credentials() -> Credentials {
        Credentials::new(
            "AKIAIOSFODNN7EXAMPLE".into(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            None,
        )
    }

    fn signature(header: &str) -> &str {
        header.rsplit("Signature=").next().unwrap_or("")
    }

    #[test]
    fn aws_example_get_object_signs_to_the_published_signature() {
        let request = Request {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("range", "bytes=0-9"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ],
            payload_sha256: EMPTY_SHA256,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
        };
        let header = authorization(&example_credentials(), &request);
        assert_eq!(
            signature(&header),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert!(header.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature="
        ));
    }

    #[test]
    fn aws_example_list_objects_signs_its_query() {
        let request = Request {
            method: "GET",
            path: "/",
            query: &[("prefix", "J"), ("max-keys", "2")],
            headers: &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", "20130524T000000Z"),
            ],
            payload_sha256: EMPTY_SHA256,
            amz_date: "20130524T000000Z",
            region: "us-east-1",
        };
        assert_eq!(
            signature(&authorization(&example_credentials(), &request)),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn paths_and_queries_are_encoded_as_sigv4_wants() {
        assert_eq!(encode_path("/a b/c+d/é~.txt"), "/a%20b/c%2Bd/%C3%A9~.txt");
        assert_eq!(
            canonical_query(&[("prefix", "www/"), ("list-type", "2")]),
            "list-type=2&prefix=www%2F"
        );
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
    }

    #[test]
    fn multipart_queries_are_signed_sorted_with_empty_values_kept() {
        assert_eq!(canonical_query(&[("uploads", "")]), "uploads=");
        assert_eq!(
            canonical_query(&[("uploadId", "a/b+c=="), ("partNumber", "12")]),
            "partNumber=12&uploadId=a%2Fb%2Bc%3D%3D"
        );
    }
}
