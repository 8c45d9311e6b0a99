//! The edge server (DESIGN §6): axum routes for login, sessions, keys and administration.
//! `app(state)` is the whole HTTP surface; `serve` runs it on a listener until shutdown.

mod cache;
pub mod console;
pub(crate) mod csrf;
mod error;
mod extract;
mod known_rules;
mod limit;
mod metrics;
pub mod password;
pub mod preview;
mod push;
mod routes;
pub(crate) mod session;
mod token;
mod workers;

use std::collections::HashSet;
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use ring::hmac;
use ring::rand::SystemRandom;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;

pub use error::ApiError;
pub use token::{secrets_equal, token_hash};
pub use workers::{TOO_LONG, WorkerTimes, run_workers, spawn_workers};

use crate::config::SiteConfig;
use crate::gate::{MasterSecret, derive_purpose_key};
use crate::mail::Mailer;
use crate::store::Store;
use limit::Limiter;
use metrics::Metrics;

/// How one edge server runs, beyond site.toml.
#[derive(Debug, Clone)]
pub struct EdgeOptions {
    /// `GATEHOUSE_ADMIN_TOKEN`; without it the admin routes answer 404.
    pub admin_token: Option<String>,
    /// Trust the last `X-Forwarded-For` hop as the client's address.
    pub behind_proxy: bool,
    /// The From: of login emails.
    pub mail_from: String,
    /// Origins allowed to call the API with credentials, besides `base_url`'s.
    pub extra_origins: Vec<String>,
    pub session_days: i64,
    /// The built site's `_gated/manifest.json`, for the upcoming unlocks in `/me`.
    pub manifest: Option<PathBuf>,
    /// `gatehouse serve`: honour the author's "view as" cookie in `/keys`.
    pub dev_preview: bool,
    /// `GATEHOUSE_STRIPE_WEBHOOK_SECRET` (comma-separated while rolling); empty: webhooks off.
    pub stripe_secrets: Hidden<Vec<String>>,
    /// The signing secret of each `[[notify]]` endpoint, by environment variable name.
    pub notify_secrets: Hidden<std::collections::BTreeMap<String, String>>,
    /// The welcome email for new members; `None` sends none.
    pub welcome: Option<Arc<crate::notify::welcome::Welcome>>,
    /// Keys each login limiter remembers at most (addresses; address and email pairs).
    pub limiter_keys: usize,
}

impl EdgeOptions {
    pub fn new(config: &SiteConfig) -> EdgeOptions {
        EdgeOptions {
            admin_token: None,
            behind_proxy: false,
            mail_from: default_mail_from(config),
            extra_origins: Vec::new(),
            session_days: 30,
            manifest: None,
            dev_preview: false,
            stripe_secrets: Hidden::default(),
            notify_secrets: Hidden::default(),
            welcome: None,
            limiter_keys: LIMITER_KEYS,
        }
    }
}

/// A secret value that `Debug` never prints, so options can be logged whole.
#[derive(Clone, Default)]
pub struct Hidden<T>(pub T);

impl<T> std::fmt::Debug for Hidden<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[hidden]")
    }
}

fn default_mail_from(config: &SiteConfig) -> String {
    let host = config
        .base_url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or("localhost");
    let title: String = config
        .title
        .chars()
        .filter(|c| !matches!(c, '"' | '<' | '>'))
        .collect();
    format!("\"{title}\" <no-reply@{host}>")
}

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: SiteConfig,
    pub secret: MasterSecret,
    pub store: Store,
    pub mailer: Mailer,
    pub options: EdgeOptions,
    pub(crate) metrics: Metrics,
    /// Login attempts per client address (IPv6 by /64).
    pub(crate) ip_limit: Limiter,
    /// Login attempts per (address, email): one address cannot lock a member out.
    pub(crate) pair_limit: Limiter,
    /// Password verifications running or waiting: argon2 is the costliest thing a stranger
    /// can ask for.
    pub(crate) verifications: password::Gate,
    /// Room for background login work (finding the member, sending the link).
    pub(crate) login_work: Arc<tokio::sync::Semaphore>,
    /// A member's login work takes turns, so that counting their recent links and adding one
    /// cannot interleave with another request's; members share one of these by id.
    member_turns: Vec<tokio::sync::Mutex<()>>,
    /// Login attempts per network (IPv4 /24, IPv6 /48): many /64s of one holder are one.
    pub(crate) net_limit: Limiter,
    /// How the session cookie is named and scoped.
    pub(crate) cookie: session::CookiePolicy,
    /// The origins whose pages may send the API state-changing requests.
    pub(crate) origins: csrf::Origins,
    pub(crate) rng: SystemRandom,
    /// Keys the per-day address log, so the database holds no addresses.
    address_key: hmac::Key,
    pub(crate) sessions: cache::SessionCache,
    /// (member, day, address hash) already written, so `/keys` writes only on a new one.
    seen_addresses: Mutex<HashSet<(i64, i64, std::net::IpAddr)>>,
    /// The rules `/keys` was asked for, checked, with their gate ids and keys, by text.
    pub(crate) rules: known_rules::KnownRules,
    /// Wakes the background workers: a member changed, or an event waits to be applied.
    pub(crate) wake: tokio::sync::Notify,
    /// The operator console's templates; `None` when `[admin] emails` lists nobody.
    pub(crate) pages: Option<Arc<console::Pages>>,
    /// The console dashboard's figures, reused for a few seconds.
    pub(crate) dashboard: console::dashboard::Figures,
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        config: SiteConfig,
        secret: MasterSecret,
        store: Store,
        mailer: Mailer,
        options: EdgeOptions,
    ) -> AppState {
        // Stable across replicas and restarts, yet separate from every gate key.
        let address_key = hmac::Key::new(
            hmac::HMAC_SHA256,
            &derive_purpose_key(&secret, "member-addresses"),
        );
        let limiter_keys = options.limiter_keys;
        if config.password_login {
            std::thread::spawn(password::warm);
        }
        let api_url = public_api_url(&config);
        let cookie = session::CookiePolicy::new(&api_url, &base_path(&config.edge_url));
        let mut origins = csrf::Origins::new(
            [config.base_url.as_str(), api_url.as_str()]
                .into_iter()
                .chain(options.extra_origins.iter().map(String::as_str)),
        );
        if options.dev_preview {
            origins = origins.and_own_host();
        }
        // `gatehouse edge` loads them first and stops on an error; here a broken template
        // leaves the console off (refusing every page), never open.
        let pages = if config.admin.emails.is_empty() {
            None
        } else {
            match console::Pages::load(&config) {
                Ok(pages) => Some(Arc::new(pages)),
                Err(error) => {
                    tracing::error!(%error, "the operator console is off");
                    None
                }
            }
        };
        AppState(Arc::new(Inner {
            config,
            secret,
            store,
            mailer,
            options,
            metrics: Metrics::default(),
            // 10 login requests at once per address, then one every 6 s.
            ip_limit: Limiter::new(10, Duration::from_secs(6), limiter_keys),
            // 5 attempts at once per address and email, then one a minute.
            pair_limit: Limiter::new(5, Duration::from_secs(60), limiter_keys),
            verifications: password::Gate::new(password::concurrent_verifications()),
            login_work: Arc::new(tokio::sync::Semaphore::new(LOGIN_BACKLOG)),
            member_turns: (0..MEMBER_TURNS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            // 100 login requests at once per network, then about two a second.
            net_limit: Limiter::new(100, Duration::from_millis(500), limiter_keys),
            cookie,
            origins,
            rng: SystemRandom::new(),
            address_key,
            sessions: cache::SessionCache::default(),
            seen_addresses: Mutex::new(HashSet::new()),
            rules: known_rules::KnownRules::default(),
            wake: tokio::sync::Notify::new(),
            pages,
            dashboard: console::dashboard::Figures::default(),
        }))
    }

    /// The URL path under which the API lives: `edge_url`'s path (default `/_gate`).
    pub fn base_path(&self) -> String {
        base_path(&self.config.edge_url)
    }

    /// The absolute URL of the API, for links in emails.
    pub fn public_api_url(&self) -> String {
        public_api_url(&self.config)
    }

    /// After members' histories changed here: their next `/keys` must see it at once, and the
    /// workers announce the change.
    pub fn members_changed(&self, members: &[i64]) {
        for member in members {
            self.sessions.forget_member(*member);
        }
        self.dashboard.clear();
        self.wake.notify_one();
    }

    /// The keyed hash under which a client address is stored (IPv6 by its /64, which one
    /// subscriber holds whole).
    pub(crate) fn address_hash(&self, address: std::net::IpAddr) -> String {
        let bucket = limit::address_bucket(address);
        let tag = hmac::sign(&self.address_key, bucket.to_string().as_bytes());
        crate::gate::to_hex(&tag.as_ref()[..16])
    }

    /// The keyed hash of an address's network (IPv4 /24, IPv6 /48), for link budgets.
    pub fn network_hash(&self, address: std::net::IpAddr) -> String {
        let network = limit::network_of(address);
        let tag = hmac::sign(&self.address_key, format!("net:{network}").as_bytes());
        crate::gate::to_hex(&tag.as_ref()[..16])
    }

    /// The lock a member's login work takes turns on.
    pub(crate) fn member_turn(&self, member_id: i64) -> &tokio::sync::Mutex<()> {
        &self.member_turns[member_id.rem_euclid(MEMBER_TURNS as i64) as usize]
    }

    /// Records that a member used an address today, writing only the first time.
    pub(crate) async fn note_address(&self, member_id: i64, address: Option<std::net::IpAddr>) {
        let Some(address) = address.map(limit::address_bucket) else {
            return;
        };
        let day = jiff::Timestamp::now().as_second().div_euclid(86_400);
        {
            // Checked before hashing: a repeat costs one set lookup, not an HMAC.
            let mut seen = match self.seen_addresses.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            if seen.len() > 100_000 {
                seen.clear();
            }
            if !seen.insert((member_id, day, address)) {
                return;
            }
        }
        let hash = self.address_hash(address);
        if let Err(error) = self.store.record_address(member_id, day, &hash).await {
            tracing::warn!(%error, "could not record a member's address");
        }
    }
}

/// Locks that members' login work is spread over.
const MEMBER_TURNS: usize = 64;
/// Keys each login limiter remembers by default (about 15 MB at most).
const LIMITER_KEYS: usize = 100_000;
/// Login requests whose background work may wait at once; past it, requests are still answered
/// the same way, and their work is dropped (and logged).
const LOGIN_BACKLOG: usize = 1024;

/// The absolute URL of the API: `edge_url`, or `base_url` followed by `edge_url`'s path.
pub fn public_api_url(config: &SiteConfig) -> String {
    let edge = config.edge_url.trim_end_matches('/');
    if edge.starts_with("http://") || edge.starts_with("https://") {
        edge.to_owned()
    } else {
        format!("{}{}", config.base_url.trim_end_matches('/'), edge)
    }
}

pub fn base_path(edge_url: &str) -> String {
    let path = match edge_url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => edge_url,
    };
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        String::new()
    } else if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

/// The whole HTTP API, mounted under `edge_url`'s path.
pub fn app(state: AppState) -> Router {
    // The console is apart from the API's CORS: no other origin, not even the site's own
    // pages on a sibling host, may read a console page or post a console form.
    let console = console::router(state.clone())
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            console::own_origin_posts,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe));
    let api = routes::router()
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .layer(middleware::from_fn_with_state(state.clone(), observe_api))
        .merge(
            routes::webhooks()
                .layer(RequestBodyLimitLayer::new(1024 * 1024))
                .layer(middleware::from_fn_with_state(state.clone(), observe)),
        )
        .layer(cors(&state))
        .merge(console)
        .with_state(state.clone());
    let base = state.base_path();
    if base.is_empty() {
        api
    } else {
        Router::new().nest(&base, api)
    }
}

/// Credentials may be sent only from the site itself and the operator's extra origins.
fn cors(state: &AppState) -> CorsLayer {
    let site_origin = origin_of(&state.config.base_url);
    let origins: Vec<HeaderValue> = site_origin
        .into_iter()
        .chain(
            state
                .options
                .extra_origins
                .iter()
                .filter_map(|o| origin_of(o)),
        )
        .filter_map(|o| HeaderValue::from_str(&o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600))
}

/// `scheme://host[:port]` of a URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// Counts and logs every request, and marks every answer uncacheable: keys and member data
/// must never sit in a shared cache. The log names the route's template
/// (`/admin/members/{email}`), never the path the client sent: paths carry emails, and the
/// query string can hold a login token.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let observed = Observed::start(&request);
    let response = next.run(request).await;
    observed.finish(&state, response)
}

/// `observe` for the API's routes, which also refuses cross-site POSTs (`csrf`). One layer
/// does both because every layer costs every request a copy of the service below it and a
/// boxed future, and `/keys` is the edge's busiest route.
async fn observe_api(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let observed = Observed::start(&request);
    let response = if csrf::refused(&request, &state.origins) {
        axum::response::IntoResponse::into_response(error::ApiError::CrossSite)
    } else {
        next.run(request).await
    };
    observed.finish(&state, response)
}

/// What `observe` notes of a request before it runs.
struct Observed {
    method: Method,
    /// The route's template, shared with the router (no copy of the text per request).
    matched: Option<axum::extract::MatchedPath>,
    started: std::time::Instant,
}

impl Observed {
    fn start(request: &Request) -> Observed {
        Observed {
            method: request.method().clone(),
            matched: request
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .cloned(),
            started: std::time::Instant::now(),
        }
    }

    fn finish(self, state: &AppState, mut response: Response) -> Response {
        let status = response.status();
        let failed =
            status.is_server_error() && response.extensions().get::<error::Deliberate>().is_none();
        Metrics::add(&state.metrics.requests, 1);
        if failed {
            Metrics::add(&state.metrics.server_errors, 1);
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // Successes log at debug: at thousands of key requests a second, a line each would
        // cost more than the request. Refusals and failures always log.
        let micros = self.started.elapsed().as_micros() as u64;
        let code = status.as_u16();
        let method = &self.method;
        let path = self
            .matched
            .as_ref()
            .map_or("(no route)", |matched| matched.as_str());
        if failed {
            tracing::error!(%method, path, status = code, micros, "request");
        } else if status.is_client_error() || status.is_server_error() {
            tracing::info!(%method, path, status = code, micros, "request");
        } else {
            tracing::debug!(%method, path, status = code, micros, "request");
        }
        response
    }
}

/// `/metrics` alone, without the admin token: for `gatehouse edge --metrics-bind`, a listener
/// that only the monitoring system reaches.
///
/// It answers only requests addressed by IP or as `localhost`: a web page that rebinds its own
/// name to this listener sends that name, and the counters tell who is a member.
pub fn metrics_app(state: AppState) -> Router {
    routes::metrics_only()
        .with_state(state)
        .layer(middleware::from_fn(addressed_by_ip))
}

async fn addressed_by_ip(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    if name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok() {
        return next.run(request).await;
    }
    use axum::response::IntoResponse;
    (
        axum::http::StatusCode::FORBIDDEN,
        "the metrics listener answers requests addressed by IP or as localhost only\n",
    )
        .into_response()
}

/// Serves `app(state)` on `listener` until `shutdown` resolves, then finishes the requests in
/// flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_path_comes_from_edge_url() {
        assert_eq!(base_path("/_gate"), "/_gate");
        assert_eq!(base_path("/_gate/"), "/_gate");
        assert_eq!(base_path("https://edge.example.com/api"), "/api");
        assert_eq!(base_path("https://edge.example.com"), "");
    }

    #[test]
    fn origins_drop_the_path() {
        assert_eq!(
            origin_of("https://academy.example.com/x/").as_deref(),
            Some("https://academy.example.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:1111").as_deref(),
            Some("http://127.0.0.1:1111")
        );
        assert_eq!(origin_of("nope"), None);
    }
}
