//! Request extractors with the API's error shape: JSON bodies whose mistakes come back as
//! `{"error":"bad_json"}`, and the client's address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;

/// A JSON body; a malformed one is a 400 that says what is wrong.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(ApiError::bad_request("bad_json", rejection.body_text())),
        }
    }
}

/// The request's headers and its JSON body, as `HeaderMap` and [`ApiJson`] would give them,
/// without copying the headers: axum's `HeaderMap` extractor clones the whole map, which on
/// `/keys` cost more than reading the session from it.
pub struct HeadersAndJson<T>(pub HeaderMap, pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for HeadersAndJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let headers = std::mem::take(&mut parts.headers);
        // What axum's `Json` reads besides the body: `Content-Type`, and the extensions (the
        // default body limit); so the body is judged exactly as `ApiJson` judges it.
        if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
            parts
                .headers
                .insert(header::CONTENT_TYPE, content_type.clone());
        }
        let ApiJson(value) = ApiJson::from_request(Request::from_parts(parts, body), state).await?;
        Ok(HeadersAndJson(headers, value))
    }
}

/// The client's address: the socket peer, or with `--behind-proxy` the last address the
/// proxy appended to `X-Forwarded-For` (earlier entries are whatever the client claimed);
/// when that hop is unreadable, the socket peer.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

/// One `X-Forwarded-For` hop: `1.2.3.4`, `2001:db8::1`, or with a port as some proxies write
/// it, `1.2.3.4:5678` and `[2001:db8::1]:5678`.
fn forwarded_address(hop: &str) -> Option<IpAddr> {
    if let Ok(address) = hop.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse().ok())
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.options.behind_proxy {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                // Only the very last hop: skipping an unreadable one would hand the choice to
                // whatever the client wrote before it.
                .and_then(|last| forwarded_address(last.trim()));
            if forwarded.is_some() {
                return Ok(ClientAddr(forwarded));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        Ok(ClientAddr(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_hops_with_ports_are_read() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(forwarded_address("192.0.2.7"), Some(v4));
        assert_eq!(forwarded_address("192.0.2.7:5678"), Some(v4));
        assert_eq!(forwarded_address("2001:db8::1"), Some(v6));
        assert_eq!(forwarded_address("[2001:db8::1]:5678"), Some(v6));
        assert_eq!(forwarded_address("[2001:db8::1]"), Some(v6));
        assert_eq!(forwarded_address("unknown"), None);
    }

    /// What `HeadersAndJson` answers, and what `ApiJson` answers, for the same request.
    async fn both(
        content_type: Option<&str>,
        body: &str,
    ) -> (Result<String, String>, Result<String, String>) {
        let request = || {
            let mut builder = Request::builder()
                .method("POST")
                .uri("/keys")
                .header(header::COOKIE, "gh_session=abc");
            if let Some(content_type) = content_type {
                builder = builder.header(header::CONTENT_TYPE, content_type);
            }
            builder
                .body(axum::body::Body::from(body.to_owned()))
                .unwrap()
        };
        let text = |error: ApiError| format!("{error:?}");
        let split = HeadersAndJson::<serde_json::Value>::from_request(request(), &())
            .await
            .map(|HeadersAndJson(headers, value)| {
                assert_eq!(
                    headers[header::COOKIE],
                    "gh_session=abc",
                    "the headers, whole"
                );
                value.to_string()
            })
            .map_err(text);
        let whole = ApiJson::<serde_json::Value>::from_request(request(), &())
            .await
            .map(|ApiJson(value)| value.to_string())
            .map_err(text);
        (split, whole)
    }

    #[tokio::test]
    async fn headers_and_json_judge_a_body_as_api_json_does() {
        let cases = [
            (Some("application/json"), r#"{"rules":[]}"#),
            (Some("application/json; charset=utf-8"), r#"{"rules":[]}"#),
            (Some("text/plain"), r#"{"rules":[]}"#),
            (None, r#"{"rules":[]}"#),
            (Some("application/json"), r#"{"rules": ["#),
        ];
        for (content_type, body) in cases {
            let (split, whole) = both(content_type, body).await;
            assert_eq!(split, whole, "{content_type:?} {body}");
        }
        assert!(
            both(None, "{}").await.0.is_err(),
            "no Content-Type is refused"
        );
    }
}
