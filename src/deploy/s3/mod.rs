//! An S3-compatible bucket as a deploy target: AWS S3, Cloudflare R2, Backblaze B2, MinIO,
//! Garage. Requests are signed with SigV4 and sent over the same hyper + rustls (ring) stack
//! as the edge's push client; transient failures (connection errors, timeouts, 5xx, 429,
//! SlowDown) are retried with exponential backoff.

mod credentials;
mod sign;
mod xml;

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub use credentials::Credentials;

use super::headers::Headers;
use super::local::sha256_hex;
use super::target::{Target, TargetError};

/// Where the bucket is and how to address it; `None` fields fall back to the `AWS_*`
/// environment, then to AWS's own defaults.
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    pub bucket: String,
    pub prefix: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: Option<bool>,
}

pub struct S3Target {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    credentials: Credentials,
    scheme: &'static str,
    /// `host[:port]` of the endpoint, without the bucket.
    authority: String,
    bucket: String,
    prefix: String,
    region: String,
    path_style: bool,
    retry: Retry,
}

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

/// A response read whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl S3Target {
    pub fn new(settings: &S3Settings, credentials: Credentials) -> Result<S3Target, String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let region = settings
            .region
            .clone()
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = settings
            .endpoint
            .clone()
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        let (scheme, authority, custom) = match &endpoint {
            Some(url) => {
                let url = url.trim().trim_end_matches('/');
                let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
                    ("https", rest)
                } else if let Some(rest) = url.strip_prefix("http://") {
                    ("http", rest)
                } else {
                    return Err(format!(
                        "S3 endpoint `{url}` must start with https:// or http://"
                    ));
                };
                if rest.is_empty() || rest.contains('/') {
                    return Err(format!(
                        "S3 endpoint `{url}` must be only scheme://host[:port]"
                    ));
                }
                (scheme, rest.to_owned(), true)
            }
            None => ("https", format!("s3.{region}.amazonaws.com"), false),
        };
        // Custom endpoints (MinIO, Garage, R2 by IP or port) address buckets by path; AWS by
        // host name, except for names with dots, which TLS wildcards cannot cover.
        let path_style = settings
            .path_style
            .unwrap_or(custom || settings.bucket.contains('.'));
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(S3Target {
            client: Client::builder(TokioExecutor::new()).build(connector),
            credentials,
            scheme,
            authority,
            bucket: settings.bucket.clone(),
            prefix: settings.prefix.clone(),
            region,
            path_style,
            retry: Retry::default(),
        })
    }

    pub fn with_retry(mut self, retry: Retry) -> S3Target {
        self.retry = retry;
        self
    }

    /// `https://s3.eu-west-1.amazonaws.com`, for messages.
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    fn object(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// The Host header and the encoded path for an object, or for the bucket itself.
    fn address(&self, object: Option<&str>) -> (String, String) {
        let object = object.map(sign::encode_path).unwrap_or_default();
        if self.path_style {
            let path = if object.is_empty() {
                format!("/{}", self.bucket)
            } else {
                format!("/{}/{object}", self.bucket)
            };
            (self.authority.clone(), path)
        } else {
            (
                format!("{}.{}", self.bucket, self.authority),
                format!("/{object}"),
            )
        }
    }

    async fn send(
        &self,
        method: Method,
        object: Option<&str>,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Answer, TargetError> {
        let payload_sha256 = if body.is_empty() {
            sign::EMPTY_SHA256.to_owned()
        } else {
            sha256_hex(&body)
        };
        let (host, path) = self.address(object);
        let query_string = sign::canonical_query(query);
        let uri = if query_string.is_empty() {
            format!("{}://{host}{path}", self.scheme)
        } else {
            format!("{}://{host}{path}?{query_string}", self.scheme)
        };
        // Slow links get longer for big files: 30 s, plus a second per 128 KiB.
        let timeout = Duration::from_secs(30 + body.len() as u64 / (128 * 1024));
        let mut last_failure = String::new();
        for attempt in 1..=self.retry.attempts {
            if attempt > 1 {
                let factor = 2u32.saturating_pow(attempt - 2);
                tokio::time::sleep(self.retry.first_delay.saturating_mul(factor)).await;
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
            signed.extend_from_slice(headers);
            let authorization = sign::authorization(
                &self.credentials,
                &sign::Request {
                    method: method.as_str(),
                    path: &path,
                    query,
                    headers: &signed,
                    payload_sha256: &payload_sha256,
                    amz_date: &amz_date,
                    region: &self.region,
                },
            );
            let mut request = Request::builder().method(method.clone()).uri(&uri).header(
                "user-agent",
                concat!("gatehouse/", env!("CARGO_PKG_VERSION")),
            );
            for (name, value) in &signed {
                request = request.header(*name, *value);
            }
            let request = request
                .header("authorization", authorization)
                .body(Full::new(body.clone()))
                .map_err(|e| self.unreachable(format!("bad request: {e}"), 1))?;
            match tokio::time::timeout(timeout, self.exchange(request)).await {
                Ok(Ok(answer)) => {
                    let code = xml::first(&String::from_utf8_lossy(&answer.body), "Code");
                    let transient = matches!(answer.status, 500 | 502 | 503 | 504 | 429)
                        || matches!(
                            code.as_deref(),
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
        Err(self.unreachable(last_failure, self.retry.attempts))
    }

    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<Answer, String> {
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
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    fn unreachable(&self, detail: String, attempts: u32) -> TargetError {
        TargetError::Unreachable {
            endpoint: self.endpoint(),
            detail,
            attempts,
        }
    }

    /// The error an unsuccessful answer stands for.
    fn refusal(&self, answer: &Answer, what: &str) -> TargetError {
        let text = String::from_utf8_lossy(&answer.body);
        let code = xml::first(&text, "Code").unwrap_or_default();
        let message = xml::first(&text, "Message")
            .map(|m| m.chars().take(200).collect())
            .unwrap_or_default();
        let region = answer
            .headers
            .get("x-amz-bucket-region")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| xml::first(&text, "Region"));
        let bucket = self.bucket.clone();
        match (answer.status, code.as_str()) {
            (_, "NoSuchBucket") => TargetError::NoBucket {
                bucket,
                endpoint: self.endpoint(),
            },
            (301 | 307, _) | (_, "PermanentRedirect" | "IllegalLocationConstraintException") => {
                TargetError::WrongRegion { bucket, region }
            }
            (_, "AuthorizationHeaderMalformed") if region.is_some() => {
                TargetError::WrongRegion { bucket, region }
            }
            (401 | 403, _)
            | (
                _,
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AccessDenied"
                | "InvalidToken"
                | "ExpiredToken",
            ) => TargetError::Credentials {
                endpoint: self.endpoint(),
                bucket,
                code: if code.is_empty() {
                    format!("status {}", answer.status)
                } else {
                    code
                },
                message,
            },
            _ => TargetError::Server {
                endpoint: self.endpoint(),
                what: what.to_owned(),
                status: answer.status,
                code,
                message,
            },
        }
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

fn success(status: u16) -> bool {
    (200..300).contains(&status)
}

impl Target for S3Target {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError> {
        let object = self.object(key);
        let answer = self
            .send(Method::GET, Some(&object), &[], &[], Bytes::new())
            .await?;
        if success(answer.status) {
            return Ok(Some(answer.body.to_vec()));
        }
        let code = xml::first(&String::from_utf8_lossy(&answer.body), "Code");
        if answer.status == 404 && code.as_deref() != Some("NoSuchBucket") {
            return Ok(None);
        }
        Err(self.refusal(&answer, &format!("GET {key}")))
    }

    async fn list(&self) -> Result<Vec<String>, TargetError> {
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", prefix.as_str())];
            if let Some(token) = &token {
                query.push(("continuation-token", token));
            }
            let answer = self
                .send(Method::GET, None, &query, &[], Bytes::new())
                .await?;
            if !success(answer.status) {
                return Err(self.refusal(&answer, "the bucket listing"));
            }
            let (page, next) = xml::listing(&String::from_utf8_lossy(&answer.body));
            keys.extend(
                page.into_iter()
                    .filter_map(|key| key.strip_prefix(&prefix).map(str::to_owned))
                    .filter(|key| super::is_safe_key(key)),
            );
            match next {
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
    }

    async fn put(&self, key: &str, body: Vec<u8>, headers: &Headers) -> Result<(), TargetError> {
        let object = self.object(key);
        let headers = [
            ("cache-control", headers.cache_control.as_str()),
            ("content-type", headers.content_type.as_str()),
        ];
        let answer = self
            .send(Method::PUT, Some(&object), &[], &headers, Bytes::from(body))
            .await?;
        if success(answer.status) {
            Ok(())
        } else {
            Err(self.refusal(&answer, &format!("PUT {key}")))
        }
    }

    async fn delete(&self, key: &str) -> Result<(), TargetError> {
        let object = self.object(key);
        let answer = self
            .send(Method::DELETE, Some(&object), &[], &[], Bytes::new())
            .await?;
        let code = xml::first(&String::from_utf8_lossy(&answer.body), "Code");
        if success(answer.status) || (answer.status == 404 && code.as_deref() == Some("NoSuchKey"))
        {
            Ok(())
        } else {
            Err(self.refusal(&answer, &format!("DELETE {key}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(settings: S3Settings) -> S3Target {
        S3Target::new(&settings, Credentials::new("A".into(), "B".into(), None)).expect("target")
    }

    #[test]
    fn custom_endpoints_address_buckets_by_path_and_aws_by_host() {
        let garage = target(S3Settings {
            bucket: "site".into(),
            prefix: "www".into(),
            endpoint: Some("http://127.0.0.1:3900".into()),
            region: Some("garage".into()),
            path_style: None,
        });
        assert_eq!(
            garage.address(Some(&garage.object("a b/index.html"))),
            ("127.0.0.1:3900".into(), "/site/www/a%20b/index.html".into())
        );
        assert_eq!(garage.address(None).1, "/site");
        let aws = target(S3Settings {
            bucket: "site".into(),
            region: Some("eu-west-1".into()),
            ..S3Settings::default()
        });
        assert_eq!(
            aws.address(Some("index.html")),
            (
                "site.s3.eu-west-1.amazonaws.com".into(),
                "/index.html".into()
            )
        );
        assert_eq!(aws.endpoint(), "https://s3.eu-west-1.amazonaws.com");
    }
}
