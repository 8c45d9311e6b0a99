//! An S3-compatible bucket as a deploy target: AWS S3, Cloudflare R2, Backblaze B2, MinIO,
//! Garage. Requests are signed with SigV4 and sent over the same hyper + rustls (ring) stack
//! as the edge's push client; transient failures (connection errors, timeouts, 5xx, 429,
//! SlowDown) are retried with exponential backoff. Files above 64 MiB go up as multipart
//! uploads ([`multipart`]), read a part at a time.

mod credentials;
mod multipart;
mod refusal;
mod send;
mod sign;
// Public only so that tests/fuzz.rs can throw random listings at it.
#[doc(hidden)]
pub mod xml;

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Method;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub use credentials::Credentials;
pub use send::Retry;

use super::headers::Headers;
use super::target::{Source, Target, TargetError};
use send::Call;

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
    /// Files above this go up in parts of at least this size.
    part_size: u64,
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
                if rest.contains('@') {
                    // Not quoted: what precedes the `@` is a password.
                    return Err(
                        "the S3 endpoint must not hold credentials (`user:password@`): \
                                give them in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                            .to_owned(),
                    );
                }
                if rest.is_empty() || rest.contains(['/', '?', '#']) {
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
            part_size: multipart::DEFAULT_PART,
        })
    }

    pub fn with_retry(mut self, retry: Retry) -> S3Target {
        self.retry = retry;
        self
    }

    /// Files above `bytes` go up in parts of `bytes` (64 MiB unless set). S3 wants parts of
    /// at least 5 MiB, the last one excepted; tests use small parts to keep their files small.
    pub fn with_part_size(mut self, bytes: u64) -> S3Target {
        self.part_size = bytes.max(1);
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
}

impl Target for S3Target {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError> {
        let object = self.object(key);
        let what = format!("GET {key}");
        let answer = self
            .send(Call::new(Method::GET, Some(&object), &what))
            .await?;
        if answer.ok() {
            return Ok(Some(answer.body.to_vec()));
        }
        if answer.status == 404 && answer.code().as_deref() != Some("NoSuchBucket") {
            return Ok(None);
        }
        Err(self.refusal(&answer, &what))
    }

    async fn list(&self) -> Result<Vec<String>, TargetError> {
        let prefix = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", prefix.as_str())];
            if let Some(token) = &token {
                query.push(("continuation-token", token));
            }
            let what = "the bucket listing";
            let answer = self
                .send(Call {
                    query: &query,
                    ..Call::new(Method::GET, None, what)
                })
                .await?;
            if !answer.ok() {
                return Err(self.refusal(&answer, what));
            }
            let page = xml::listing(&answer.text()).map_err(|detail| TargetError::Protocol {
                endpoint: self.endpoint(),
                detail,
            })?;
            keys.extend(
                page.keys
                    .into_iter()
                    .filter_map(|key| key.strip_prefix(&prefix).map(str::to_owned))
                    .filter(|key| super::is_safe_key(key)),
            );
            match page.next {
                // A server handing out a token twice would list forever.
                Some(next) if !seen.insert(next.clone()) => {
                    return Err(TargetError::Protocol {
                        endpoint: self.endpoint(),
                        detail: "its bucket listing repeats a page".to_owned(),
                    });
                }
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: Option<&str>,
        headers: &Headers,
    ) -> Result<(), TargetError> {
        let object = self.object(key);
        let what = format!("PUT {key}");
        let headers = [
            ("cache-control", headers.cache_control.as_str()),
            ("content-type", headers.content_type.as_str()),
        ];
        let answer = self
            .send(Call {
                headers: &headers,
                body: Bytes::from(body),
                sha256,
                ..Call::new(Method::PUT, Some(&object), &what)
            })
            .await?;
        if answer.ok() {
            Ok(())
        } else {
            Err(self.refusal(&answer, &what))
        }
    }

    async fn put_file(
        &self,
        key: &str,
        source: &Source<'_>,
        headers: &Headers,
        stop: &AtomicBool,
    ) -> Result<(), TargetError> {
        if source.size > self.part_size {
            return self.put_multipart(key, source, headers, stop).await;
        }
        let path = source.path.to_path_buf();
        let body = tokio::task::spawn_blocking(move || std::fs::read(path))
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|read| read)
            .map_err(|cause| TargetError::Io {
                path: source.path.to_path_buf(),
                cause,
            })?;
        if crate::deploy::sha256_hex(&body) != source.sha256 {
            return Err(TargetError::changed(source.path));
        }
        self.put(key, body, Some(source.sha256), headers).await
    }

    async fn delete(&self, key: &str) -> Result<(), TargetError> {
        let object = self.object(key);
        let what = format!("DELETE {key}");
        let answer = self
            .send(Call::new(Method::DELETE, Some(&object), &what))
            .await?;
        if answer.ok() || (answer.status == 404 && answer.code().as_deref() == Some("NoSuchKey")) {
            Ok(())
        } else {
            Err(self.refusal(&answer, &what))
        }
    }

    fn max_file_size(&self) -> Option<u64> {
        Some(multipart::MAX_OBJECT)
    }

    fn memory_for(&self, size: u64) -> u64 {
        if size > self.part_size {
            multipart::part_size(size, self.part_size)
        } else {
            size
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
