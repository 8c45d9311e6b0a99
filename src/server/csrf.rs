//! Cross-site request refusal for every state-changing request (login CSRF, forced logout).
//!
//! A browser names the page that made a request in `Origin` (every POST in current browsers)
//! and says whether it came from another site in `Sec-Fetch-Site`. A POST is refused when:
//! - its `Origin` is not one of the site's origins (`base_url`, the API's own, the operator's
//!   `--allow-origin`s), nor, for `gatehouse serve` only (whose `Host` is checked first), the
//!   `http://` origin the request was sent to; `Origin: null`
//!   (sandboxed frames, privacy redirects, pages with `Referrer-Policy: no-referrer`) is
//!   refused too, unless the browser says the request is `Sec-Fetch-Site: same-origin`;
//! - it has no `Origin` but its `Sec-Fetch-Site` is `cross-site` or `same-site`.
//!
//! Requests that carry neither header do not come from a browser (curl, Stripe, the admin
//! CLI) and cannot ride on a visitor's cookie, so they pass. The Stripe webhook is outside
//! this check: it is authenticated by its signature.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};

/// The origins whose pages may POST to the API, as `scheme://host[:port]` in lower case.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    list: Vec<String>,
    /// Also `http://<Host>`: for `gatehouse serve`, which refuses any `Host` but its own
    /// first. The edge never trusts `Host`: a page served over plain http on the site's name
    /// (no HSTS) must not pass for the site.
    own_host: bool,
}

impl Origins {
    pub fn new<'a>(urls: impl IntoIterator<Item = &'a str>) -> Origins {
        let mut list: Vec<String> = urls
            .into_iter()
            .filter_map(super::origin_of)
            .map(|origin| origin.to_ascii_lowercase())
            .collect();
        list.sort();
        list.dedup();
        Origins {
            list,
            own_host: false,
        }
    }

    /// These origins, and `http://<Host>` (`gatehouse serve` only).
    pub fn and_own_host(self) -> Origins {
        Origins {
            own_host: true,
            ..self
        }
    }

    /// Whether a request with these headers may change state. Compared without folding a
    /// copy to lower case: this runs on every API request.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let origin = headers
            .get(header::ORIGIN)
            .map(|value| value.to_str().unwrap_or("null"));
        // Set by the browser alone: no page can write it.
        let fetch_site = headers
            .get("sec-fetch-site")
            .and_then(|value| value.to_str().ok());
        match origin {
            Some(origin) if origin.eq_ignore_ascii_case("null") => {
                fetch_site == Some("same-origin")
            }
            Some(origin) => {
                self.list.iter().any(|o| o.eq_ignore_ascii_case(origin))
                    || (self.own_host && same_as_host(origin, headers))
            }
            None => !matches!(fetch_site, Some("cross-site" | "same-site")),
        }
    }
}

/// `Origin` is `http://` and the very host the request was sent to.
fn same_as_host(origin: &str, headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    !host.is_empty()
        && origin.len() == "http://".len() + host.len()
        && origin.is_char_boundary("http://".len())
        && origin[.."http://".len()].eq_ignore_ascii_case("http://")
        && origin["http://".len()..].eq_ignore_ascii_case(host)
}

/// Whether `request` is a POST that `origins` refuse (403 `cross_site` before any handler
/// runs; `observe_api` asks this for every API request).
pub fn refused(request: &Request, origins: &Origins) -> bool {
    request.method() == Method::POST && !origins.allows(request.headers())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_sites_own_pages_may_post_and_others_may_not() {
        let origins = Origins::new([
            "https://academy.example.com/",
            "https://edge.example.com/api",
        ]);
        assert!(origins.allows(&headers(&[("origin", "https://academy.example.com")])));
        assert!(
            !origins.allows(&headers(&[
                ("origin", "http://academy.example.com"),
                ("host", "academy.example.com")
            ])),
            "the edge never trusts Host"
        );
        assert!(origins.allows(&headers(&[("origin", "https://EDGE.example.com")])));
        assert!(!origins.allows(&headers(&[("origin", "https://evil.example")])));
        assert!(!origins.allows(&headers(&[("origin", "http://academy.example.com")])));
        assert!(!origins.allows(&headers(&[("origin", "null")])));
        assert!(!origins.allows(&headers(&[
            ("origin", "null"),
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(
            origins.allows(&headers(&[
                ("origin", "null"),
                ("sec-fetch-site", "same-origin")
            ])),
            "a form on a no-referrer page of the edge itself"
        );
        assert!(!origins.allows(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!origins.allows(&headers(&[("sec-fetch-site", "same-site")])));
        assert!(origins.allows(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(
            origins.allows(&headers(&[])),
            "curl and servers send neither"
        );
        assert!(!origins.allows(&headers(&[
            ("origin", "http://127.0.0.1:8787"),
            ("host", "127.0.0.1:8787")
        ])));
        let serve = Origins::default().and_own_host();
        assert!(serve.allows(&headers(&[
            ("origin", "http://localhost:1111"),
            ("host", "localhost:1111")
        ])));
        assert!(!serve.allows(&headers(&[
            ("origin", "https://localhost:1111"),
            ("host", "localhost:1111")
        ])));
    }

    #[test]
    fn case_does_not_matter_and_near_misses_do() {
        let origins = Origins::new(["https://academy.example.com/"]);
        assert!(origins.allows(&headers(&[("origin", "HTTPS://Academy.Example.COM")])));
        assert!(!origins.allows(&headers(&[("origin", "https://academy.example.co")])));
        assert!(!origins.allows(&headers(&[("origin", "https://academy.example.com.")])));
        assert!(!origins.allows(&headers(&[("origin", "https://academy.example.com:443")])));
        assert!(
            !origins.allows(&headers(&[("origin", "NULL")])),
            "null in any case is null"
        );
        let serve = Origins::default().and_own_host();
        assert!(serve.allows(&headers(&[
            ("origin", "HTTP://LocalHost:1111"),
            ("host", "localhost:1111")
        ])));
        assert!(serve.allows(&headers(&[
            ("origin", "http://localhost:1111"),
            ("host", "LOCALHOST:1111")
        ])));
        for (origin, host) in [
            ("http://localhost:111", "localhost:1111"),
            ("http://localhost:11111", "localhost:1111"),
            ("httpx//localhost:1111", "localhost:1111"),
            ("http://", ""),
            ("http:/\u{e9}localhost:1111", "localhost:1111"),
        ] {
            assert!(
                !serve.allows(&headers(&[("origin", origin), ("host", host)])),
                "{origin} from {host}"
            );
        }
    }
}
