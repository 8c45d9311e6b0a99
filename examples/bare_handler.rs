//! The baseline for `scripts/bench-edge`: the least an axum server can do for `POST /_gate/keys`.
//! It reads and parses the JSON body, then answers a fixed JSON of the same shape and about the
//! same size as the edge's answer for the benchmark's member and five rules (five keys, nothing
//! locked). No session, no database, no key derivation, no middleware, no logging.
//!
//!   cargo run --release --example bare_handler -- 8788
//!
//! Prints `bare handler listening on http://ADDR/_gate` once it accepts connections.

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::Value;

/// What the real edge answers for the benchmark's member and rules, keys replaced by fixed text.
const ANSWER: &str = r#"{"epoch":1,"keys":{"07a60ff1374d10c5":"mW8y0f3JbKq4V1n2r5t7u9w0x2z4B6D8F0H2J4L6N8Q","63c1efd5435b83d1":"Qb3nJ4k5L6m7N8p9R0s1T2u3V4w5X6y7Z8a9B0c1D2e","a9706e2c953b7403":"Zx9Cv8Bn7Mq6Wd5Ef4Rg3Th2Yj1Uk0Il9Om8Pn7Qo6r","ba4c961d0652c56c":"Lp0Ko9Ji8Hu7Gy6Ft5Dr4Se3Aw2Qz1Xc0Vb9Nm8Lk7","e6deec55c32b1836":"Tg5Yh6Uj7Ik8Ol9Pa0Sd1Fg2Hj3Kl4Zx5Cv6Bn7Mq8"},"locked":{}}"#;

async fn keys(Json(body): Json<Value>) -> impl IntoResponse {
    // Touch the body the way a handler would, so the parse is not dead code.
    let rules = body
        .get("rules")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    std::hint::black_box(rules);
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        ANSWER,
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(8788);
    let app = Router::new().route("/_gate/keys", post(keys));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!(
        "bare handler listening on http://{}/_gate",
        listener.local_addr()?
    );
    axum::serve(listener, app).await
}
