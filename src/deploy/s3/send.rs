//! Sending one signed S3 request, again with exponential backoff (and jitter, so parallel
//! uploads do not retry in step) while the failure is transient: a connection error, a
//! timeout, 5xx, 429, `SlowDown`. Sending again is safe: GET, whole-object PUT, DELETE, a
//! listing page and a multipart upload's part (same number, same bytes) are idempotent. A
//! multipart upload's start sent twice leaves an empty upload no one completes; its
//! completion sent again after a lost answer is refused (the upload is gone), and the deploy
//! fails with the file marked unknown, so the next one uploads it again.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};

use super::{S3Target, sign, xml};
use crate::deploy::target::TargetError;

/// How often and how patiently a transient failure is tried again.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 5,
            first_delay: Duration::from_millis(250),
        }
    }
}

impl Retry {
    /// The wait before attempt `attempt` (2, 3, …): the first delay doubling, plus up to a
    /// quarter more at random.
    fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(2)));
        let mut byte = [0u8; 1];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
        base + base.mul_f64(f64::from(byte[0]) / 1024.0)
    }
}

/// A response read whole.
pub(super) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// How many times the request was sent.
    pub attempts: u32,
}

impl Answer {
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    pub fn code(&self) -> Option<String> {
        xml::first(&self.text(), "Code")
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// One request to send: the object (or the bucket, for `None`), the query, extra headers to
/// sign and send, and the body with its SHA-256 when known.
pub(super) struct Call<'a> {
    pub method: Method,
    pub object: Option<&'a str>,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Bytes,
    pub sha256: Option<&'a str>,
    /// What the request is for, in messages (`PUT index.html`).
    pub what: &'a str,
    /// How long the server may take beyond sending the body: completing a multipart upload of
    /// thousands of parts can take S3 minutes, with a tiny body.
    pub server_time: Duration,
}

impl<'a> Call<'a> {
    /// A call without query, extra headers or body.
    pub fn new(method: Method, object: Option<&'a str>, what: &'a str) -> Call<'a> {
        Call {
            method,
            object,
            query: &[],
            headers: &[],
            body: Bytes::new(),
            sha256: None,
            what,
            server_time: Duration::from_secs(30),
        }
    }
}

impl S3Target {
    pub(super) async fn send(&self, call: Call<'_>) -> Result<Answer, TargetError> {
        let payload_sha256 = match call.sha256 {
            Some(hash) => hash.to_owned(),
            None if call.body.is_empty() => sign::EMPTY_SHA256.to_owned(),
            None => crate::deploy::sha256_hex(&call.body),
        };
        let (host, path) = self.address(call.object);
        let query_string = sign::canonical_query(call.query);
        let uri = if query_string.is_empty() {
            format!("{}://{host}{path}", self.scheme)
        } else {
            format!("{}://{host}{path}?{query_string}", self.scheme)
        };
        // Slow links get longer for big files: the server's time, plus a second per 128 KiB.
        let timeout = call.server_time + Duration::from_secs(call.body.len() as u64 / (128 * 1024));
        // S3 wants a Content-Length on every PUT and POST, also of an empty body (411
        // otherwise), and hyper leaves it out when the body is empty.
        let length = call.body.len().to_string();
        let mut last_failure = String::new();
        for attempt in 1..=self.retry.attempts {
            if attempt > 1 {
                tokio::time::sleep(self.retry.delay(attempt)).await;
            }
            let amz_date = sign::amz_date(jiff::Timestamp::now().as_second());
            let mut signed: Vec<(&str, &str)> = vec![
                ("host", &host),
                ("x-amz-content-sha256", &payload_sha256),
                ("x-amz-date", &amz_date),
            ];
            if let Some(token) = &self.credentials.session_token {
                signed.push(("x-amz-security-token", token));
            }
            signed.extend_from_slice(call.headers);
            let authorization = sign::authorization(
                &self.credentials,
                &sign::Request {
                    method: call.method.as_str(),
                    path: &path,
                    query: call.query,
                    headers: &signed,
                    payload_sha256: &payload_sha256,
                    amz_date: &amz_date,
                    region: &self.region,
                },
            );
            let mut request = Request::builder()
                .method(call.method.clone())
                .uri(&uri)
                .header(
                    "user-agent",
                    concat!("gatehouse/", env!("CARGO_PKG_VERSION")),
                );
            for (name, value) in &signed {
                request = request.header(*name, *value);
            }
            if call.method == Method::PUT || call.method == Method::POST {
                request = request.header("content-length", &length);
            }
            let request = request
                .header("authorization", authorization)
                .body(Full::new(call.body.clone()))
                .map_err(|e| TargetError::Request {
                    what: call.what.to_owned(),
                    // The builder names the part it refused, never a header's value.
                    detail: e.to_string(),
                })?;
            match tokio::time::timeout(timeout, self.exchange(request)).await {
                Ok(Ok((status, headers, body))) => {
                    let answer = Answer {
                        status,
                        headers,
                        body,
                        attempts: attempt,
                    };
                    let transient = matches!(answer.status, 500 | 502 | 503 | 504 | 429)
                        || matches!(
                            answer.code().as_deref(),
                            Some("SlowDown" | "InternalError" | "RequestTimeout")
                        );
                    if !transient || attempt == self.retry.attempts {
                        return Ok(answer);
                    }
                    last_failure = format!("status {}", answer.status);
                }
                Ok(Err(detail)) => last_failure = detail,
                Err(_) => last_failure = format!("no answer within {} s", timeout.as_secs()),
            }
        }
        Err(TargetError::Unreachable {
            endpoint: self.endpoint(),
            detail: last_failure,
            attempts: self.retry.attempts,
        })
    }

    async fn exchange(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(u16, HeaderMap, Bytes), String> {
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| innermost(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| innermost(&e))?
            .to_bytes();
        Ok((status, headers, body))
    }
}

/// The deepest cause of an HTTP error ("Connection refused (os error 111)"): the most
/// specific thing to show, and it never holds a header.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::Retry;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_with_at_most_a_quarter_of_jitter() {
        let retry = Retry {
            attempts: 5,
            first_delay: Duration::from_millis(100),
        };
        for (attempt, base) in [(2, 100), (3, 200), (4, 400), (5, 800)] {
            let delay = retry.delay(attempt);
            assert!(delay >= Duration::from_millis(base), "{attempt}: {delay:?}");
            assert!(
                delay <= Duration::from_millis(base * 5 / 4),
                "{attempt}: {delay:?}"
            );
        }
    }
}
