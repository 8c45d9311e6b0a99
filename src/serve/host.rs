//! `gatehouse serve` answers only requests addressed to this machine by name: `localhost`,
//! a loopback address, or site.toml's own host (for authors who point it at 127.0.0.1 in
//! /etc/hosts). A web page elsewhere that rebinds its own name to 127.0.0.1 sends its own name
//! as `Host`, and is refused before it can reach "View as" or any page.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The host names, besides loopback ones, that requests may name.
#[derive(Debug, Clone)]
pub struct Allowed(Arc<Vec<String>>);

impl Allowed {
    /// Loopback names, and the host of site.toml's `base_url`.
    pub fn new(base_url: &str) -> Allowed {
        let configured = base_url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
            .map(host_name)
            .filter(|host| !host.is_empty());
        Allowed(Arc::new(configured.into_iter().collect()))
    }

    pub fn allows(&self, host_header: Option<&str>) -> bool {
        let Some(host) = host_header.map(host_name) else {
            return false;
        };
        is_loopback_name(&host) || self.0.contains(&host)
    }
}

/// The name part of a `Host` value, in lower case: `[::1]:1111` → `::1`, `Site:80` → `site`.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_owned();
    }
    host.rsplit_once(':')
        .map_or(host.as_str(), |(name, _port)| name)
        .trim_end_matches('.')
        .to_owned()
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a request whose `Host` is not this machine's, with 403 and what to do.
pub async fn only_allowed(
    State(allowed): State<Allowed>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    if allowed.allows(host) {
        return next.run(request).await;
    }
    (
        StatusCode::FORBIDDEN,
        "gatehouse serve answers only requests for localhost, a loopback address or site.toml's \
         base_url host: open the address it printed at start-up.",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_the_configured_host_are_allowed_and_others_are_not() {
        let allowed = Allowed::new("https://academy.example.com/");
        for host in [
            "127.0.0.1:1111",
            "127.5.6.7",
            "localhost:1111",
            "LOCALHOST",
            "app.localhost:1111",
            "[::1]:1111",
            "academy.example.com",
            "academy.example.com.:1111",
        ] {
            assert!(allowed.allows(Some(host)), "{host}");
        }
        for host in [
            "evil.example:1111",
            "192.168.1.20:1111",
            "localhost.evil.example",
            "[::2]:1111",
            "",
        ] {
            assert!(!allowed.allows(Some(host)), "{host}");
        }
        assert!(!allowed.allows(None));
    }
}
