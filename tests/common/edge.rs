//! An edge server for tests: the demo site's config, the fixed secret, a real database, and
//! `server::app(state)` driven in-process with `oneshot` (or on a real socket).

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use gatehouse::gate::MasterSecret;
use gatehouse::mail::{Mailer, outbox_dir};
use gatehouse::server::{AppState, EdgeOptions, app};
use gatehouse::store::Store;
use serde_json::Value;
use tower::ServiceExt;

use super::{SECRET_B64, Site, eml_files};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

pub struct TestEdge {
    pub site: Site,
    pub state: AppState,
    pub store: Store,
    pub app: Router,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// `gh_session=<token>` from the Set-Cookie header, for the next request's Cookie.
    pub fn session_cookie(&self) -> Option<String> {
        let set = self.header("set-cookie")?;
        let pair = set.split(';').next()?.trim().to_owned();
        (pair.len() > "gh_session=".len()).then_some(pair)
    }
}

impl TestEdge {
    /// The demo site with a fresh SQLite database in its `.gatehouse/`.
    pub async fn sqlite() -> TestEdge {
        let site = Site::demo();
        let url = format!("sqlite://{}", site.path(".gatehouse/members.db").display());
        TestEdge::start(site, &url).await
    }

    pub async fn start(site: Site, url: &str) -> TestEdge {
        TestEdge::start_with(site, url, |_| {}).await
    }

    /// As `start`, with the edge options changed by `adjust` first.
    pub async fn start_with(
        site: Site,
        url: &str,
        adjust: impl FnOnce(&mut EdgeOptions),
    ) -> TestEdge {
        let config = gatehouse::config::load(site.root()).unwrap();
        let secret = MasterSecret::from_base64url(SECRET_B64).unwrap();
        let store = Store::open(url).await.unwrap();
        let mailer = Mailer::Outbox(outbox_dir(site.root()));
        let mut options = EdgeOptions::new(&config);
        options.admin_token = Some(ADMIN_TOKEN.to_owned());
        options.manifest = Some(site.out().join("_gated/manifest.json"));
        adjust(&mut options);
        let state = AppState::new(config, secret, store.clone(), mailer, options);
        let app = app(state.clone());
        TestEdge {
            site,
            state,
            store,
            app,
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub fn request(
        method: Method,
        path: &str,
        cookie: Option<&str>,
    ) -> axum::http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("/_gate{path}"))
            .header(header::HOST, "localhost:8787");
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, cookie);
        }
        builder
    }

    pub async fn post(&self, path: &str, body: &Value, cookie: Option<&str>) -> Answer {
        let request = TestEdge::request(Method::POST, path, cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> Answer {
        let request = TestEdge::request(Method::POST, path, None)
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.send(request).await
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let request = TestEdge::request(Method::GET, path, cookie)
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> Answer {
        let request = TestEdge::request(Method::POST, path, None)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
            .body(Body::from(body.to_string()))
            .unwrap();
        self.send(request).await
    }

    pub async fn admin_get(&self, path: &str) -> Answer {
        let request = TestEdge::request(Method::GET, path, None)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    /// Creates a member through the admin API; panics unless it answers 201.
    pub async fn add_member(&self, email: &str, level: &str, since: &str, password: Option<&str>) {
        let mut body = serde_json::json!({ "email": email, "level": level, "since": since });
        if let Some(password) = password {
            body["password"] = password.into();
        }
        let answer = self.admin_post("/admin/members", &body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }

    /// Appends an event through the admin API; panics unless it answers 201.
    pub async fn event(&self, email: &str, event: Value) {
        let answer = self
            .admin_post(&format!("/admin/members/{email}/events"), &event)
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    }

    /// Logs in with a password and returns the session cookie.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let answer = self
            .post(
                "/login/password",
                &serde_json::json!({ "email": email, "password": password }),
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.session_cookie().expect("a session cookie")
    }

    pub async fn keys(&self, rules: &[&str], cookie: Option<&str>) -> Answer {
        self.post("/keys", &serde_json::json!({ "rules": rules }), cookie)
            .await
    }

    /// The messages in the site's outbox, oldest first.
    pub fn outbox(&self) -> Vec<String> {
        let Ok(paths) = eml_files(&outbox_dir(self.site.root())) else {
            return Vec::new();
        };
        paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// Waits for the outbox to hold `count` messages (mail is sent in the background).
    pub async fn wait_for_outbox(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let messages = self.outbox();
            if messages.len() >= count {
                return messages;
            }
            assert!(
                Instant::now() < deadline,
                "{} message(s) in the outbox, expected {count}",
                messages.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The login link's token from an email (lettre may fold long lines with quoted-printable).
pub fn token_from_mail(mail: &str) -> String {
    let unfolded = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = unfolded.find("token=").expect("a login link in the mail") + "token=".len();
    unfolded[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
