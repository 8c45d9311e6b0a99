//! The HTTP client that delivers push notifications: HTTP/1.1 over TLS (rustls with ring, and
//! the Mozilla root certificates built in, so it needs nothing from the machine) or plain HTTP.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub struct PushClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl PushClient {
    pub fn new(timeout: Duration) -> PushClient {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map(|builder| builder.https_or_http().enable_http1().build())
            .unwrap_or_else(|_| {
                // Only a provider without safe defaults fails here; ring has them.
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_webpki_roots()
                    .https_or_http()
                    .enable_http1()
                    .build()
            });
        PushClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }

    /// POSTs `body` to `url` with `headers`; the status, or why there is none. Errors never
    /// quote the URL, which may carry a token.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<u16, String> {
        let mut request = axum::http::Request::post(url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("gatehouse/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| "the endpoint URL is not valid".to_owned())?;
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Ok(Ok(response)) => Ok(response.status().as_u16()),
            Ok(Err(error)) => Err(describe(&error)),
            Err(_) => Err(format!("no answer within {} s", self.timeout.as_secs())),
        }
    }
}

fn describe(error: &hyper_util::client::legacy::Error) -> String {
    if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    }
}
