//! Request extractors with the API's error shape: JSON bodies whose mistakes come back as
//! `{"error":"bad_json"}`, and the client's address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
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
}
