//! The `Stripe-Signature` scheme: `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…][,v0=…]`, the
//! HMAC taken with the endpoint secret over `"{t}.{raw body}"`. Stripe lists several `v1`
//! signatures while a secret is being rolled; any one that matches will do, and `v0` (test-mode
//! legacy) is ignored. gatehouse signs its own push notifications the same way, so receivers can
//! reuse Stripe's verification code.

use ring::hmac;

/// How far a signature's timestamp may be from now, either way: a replay of a captured event
/// is refused after five minutes.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header: the request did not come from Stripe")]
    Missing,
    #[error("the Stripe-Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error(
        "the signature is {age} s from now, more than the {TOLERANCE_SECS} s allowed: a replayed event, or a clock far off"
    )]
    Stale { age: i64 },
    #[error(
        "no signature matches: check that GATEHOUSE_STRIPE_WEBHOOK_SECRET is this endpoint's signing secret"
    )]
    Mismatch,
}

/// Checks `header` against `body` with any of `secrets` at `now` (unix seconds); returns the
/// signed timestamp. The comparison is constant-time.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[&str],
    now: i64,
) -> Result<i64, SignatureError> {
    let header = header
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("a part is not `name=value`"))?;
        match name {
            "t" => {
                let t = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed("`t` is not a number"))?;
                if timestamp.replace(t).is_some() {
                    return Err(SignatureError::Malformed("`t` is given twice"));
                }
            }
            // A v1 that is not hex can never match; it is skipped like any wrong one.
            "v1" => signatures.extend(crate::gate::from_hex(value)),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no `t` timestamp"))?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    // `t` is the sender's to write: saturating, `t=-9223372036854775808` is stale rather than
    // an overflow that panics.
    let age = now.saturating_sub(timestamp);
    if age.unsigned_abs() > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale { age });
    }
    let payload = signed_payload(timestamp, body);
    let matches = secrets.iter().any(|secret| {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        signatures
            .iter()
            .any(|signature| hmac::verify(&key, &payload, signature).is_ok())
    });
    if matches {
        Ok(timestamp)
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header value for `body` signed with `secret` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, &signed_payload(timestamp, body));
    format!("t={timestamp},v1={}", crate::gate::to_hex(tag.as_ref()))
}

fn signed_payload(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{timestamp}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret_for_gatehouse";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    const NOW: i64 = 1_790_000_000;

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let header = sign(SECRET, NOW - 10, BODY);
        assert_eq!(verify(Some(&header), BODY, &[SECRET], NOW), Ok(NOW - 10));
    }

    /// A vector computed independently with Python's `hmac` module:
    /// `hmac.new(b"whsec_abc", b"1700000000.{}", hashlib.sha256).hexdigest()`.
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        let header = sign("whsec_abc", 1_700_000_000, b"{}");
        assert_eq!(
            header,
            "t=1700000000,v1=bad9ac117e973d721c232d46744158d75e3f1b44e36771e13d01b9e6a580bc72"
        );
    }

    #[test]
    fn a_forged_body_or_wrong_secret_is_refused() {
        let header = sign(SECRET, NOW, BODY);
        let forged = br#"{"id":"evt_1","type":"invoice.paid","x":1}"#;
        assert_eq!(
            verify(Some(&header), forged, &[SECRET], NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&header), BODY, &["whsec_other"], NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_far_future_timestamps_are_refused() {
        let old = sign(SECRET, NOW - TOLERANCE_SECS - 1, BODY);
        assert_eq!(
            verify(Some(&old), BODY, &[SECRET], NOW),
            Err(SignatureError::Stale {
                age: TOLERANCE_SECS + 1
            })
        );
        let edge = sign(SECRET, NOW - TOLERANCE_SECS, BODY);
        assert!(verify(Some(&edge), BODY, &[SECRET], NOW).is_ok());
        let future = sign(SECRET, NOW + TOLERANCE_SECS + 1, BODY);
        assert!(matches!(
            verify(Some(&future), BODY, &[SECRET], NOW),
            Err(SignatureError::Stale { .. })
        ));
    }

    #[test]
    fn a_timestamp_at_the_ends_of_i64_is_stale_not_an_overflow() {
        for t in [i64::MIN, i64::MAX] {
            let header = format!("t={t},v1={}", "ab".repeat(32));
            assert!(
                matches!(
                    verify(Some(&header), BODY, &[SECRET], NOW),
                    Err(SignatureError::Stale { .. })
                ),
                "{header}"
            );
        }
    }

    #[test]
    fn any_of_several_v1_signatures_may_match_and_v0_is_ignored() {
        let good = sign(SECRET, NOW, BODY);
        let good_v1 = good.split_once(",v1=").map(|(_, v)| v).unwrap_or_default();
        let header = format!("t={NOW},v1={},v1={good_v1},v0={good_v1}", "ab".repeat(32));
        assert_eq!(verify(Some(&header), BODY, &[SECRET], NOW), Ok(NOW));
        let only_v0 = format!("t={NOW},v0={good_v1}");
        assert_eq!(
            verify(Some(&only_v0), BODY, &[SECRET], NOW),
            Err(SignatureError::NoSignature)
        );
    }

    #[test]
    fn missing_and_malformed_headers_say_what_is_wrong() {
        assert_eq!(
            verify(None, BODY, &[SECRET], NOW),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("  "), BODY, &[SECRET], NOW),
            Err(SignatureError::Missing)
        );
        for header in ["garbage", "t=abc,v1=00", "v1=00", "t=1,t=2,v1=00"] {
            assert!(
                matches!(
                    verify(Some(header), BODY, &[SECRET], NOW),
                    Err(SignatureError::Malformed(_))
                ),
                "{header}"
            );
        }
        let not_hex = format!("t={NOW},v1=zz");
        assert_eq!(
            verify(Some(&not_hex), BODY, &[SECRET], NOW),
            Err(SignatureError::NoSignature)
        );
    }
}
