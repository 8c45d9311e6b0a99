//! One simulated member's browser (plus the Stripe and admin traffic the site sees meanwhile):
//! a loop of `POST /keys` with its session, `GET /me`, now and then a login (password or magic
//! link), a signed Stripe webhook and an admin read, each timed and counted by what it got.
//!
//! Every client has its own address, sent as `X-Forwarded-For` to an edge started with
//! `--behind-proxy`, so the login limits (per address, and per address and email) apply per
//! client as they would per visitor.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, RequestBuilder};
use serde_json::json;

use crate::stripe::{self, Delivery};

/// The rules a page of the demo site asks for (as `scripts/bench-edge`): a gold member with the
/// pricing course opens all five, so each request derives five keys.
const RULES: [&str; 5] = [
    "level=gold;bundles=-;drip=0",
    "level=silver;bundles=-;drip=604800",
    "level=-;bundles=pricing-course;drip=0",
    "level=gold;bundles=pricing-course;drip=0",
    "level=free;bundles=-;drip=0",
];

/// What a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Keys,
    Me,
    PasswordLogin,
    MagicLink,
    Webhook,
    AdminRead,
    Metrics,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Keys,
        Kind::Me,
        Kind::PasswordLogin,
        Kind::MagicLink,
        Kind::Webhook,
        Kind::AdminRead,
        Kind::Metrics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Keys => "POST /keys",
            Kind::Me => "GET /me",
            Kind::PasswordLogin => "POST /login/password",
            Kind::MagicLink => "POST /login",
            Kind::Webhook => "POST /webhooks/stripe",
            Kind::AdminRead => "GET /admin/members/{email}",
            Kind::Metrics => "GET /metrics",
        }
    }
}

/// Latencies of the 2xx answers (µs) and a count per outcome, for one kind of request.
#[derive(Debug, Default)]
pub struct KindStats {
    pub ok_micros: Vec<u32>,
    /// `200`, `429`, …, `cut` (no answer: the edge was killed or restarting), `failed`
    /// (no answer otherwise: a real error).
    pub outcomes: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
pub struct Stats(pub BTreeMap<Kind, KindStats>);

impl Stats {
    fn record(&mut self, kind: Kind, outcome: String, micros: Option<u32>) {
        let entry = self.0.entry(kind).or_default();
        *entry.outcomes.entry(outcome).or_default() += 1;
        if let Some(micros) = micros {
            entry.ok_micros.push(micros);
        }
    }

    pub fn merge(&mut self, other: Stats) {
        for (kind, theirs) in other.0 {
            let mine = self.0.entry(kind).or_default();
            mine.ok_micros.extend(theirs.ok_micros);
            for (outcome, n) in theirs.outcomes {
                *mine.outcomes.entry(outcome).or_default() += n;
            }
        }
    }
}

/// What every client shares: the edge's address (it changes only if a restart cannot take the
/// same port) and whether the edge is down on purpose.
pub struct Target {
    pub http: reqwest::Client,
    api: RwLock<Arc<str>>,
    pub admin_token: String,
    pub webhook_secret: String,
    /// Imported members `member{i}@soak.test`, `i < members`.
    pub members: usize,
    /// Members with a password, `pw{i}@soak.test` / `soak-password-{i}`.
    pub password_members: usize,
    /// Set from just before a kill until the restarted edge listens again.
    pub outage: AtomicBool,
    /// Counts kills, so that a request cut by one is told from a real failure.
    pub kills: AtomicU64,
    /// When the edge last listened again after a kill.
    pub back_at: Mutex<Option<Instant>>,
}

/// Connection errors this soon after a restart still count as cut by the crash: a connection
/// to the killed process may be found dead only when used.
const AFTER_RESTART: Duration = Duration::from_secs(1);

impl Target {
    pub fn new(
        api: &str,
        admin_token: &str,
        webhook_secret: &str,
        members: usize,
        password_members: usize,
    ) -> anyhow::Result<Target> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(1024)
            .build()?;
        Ok(Target {
            http,
            api: RwLock::new(Arc::from(api)),
            admin_token: admin_token.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            members,
            password_members,
            outage: AtomicBool::new(false),
            kills: AtomicU64::new(0),
            back_at: Mutex::new(None),
        })
    }

    pub fn api(&self) -> Arc<str> {
        self.api
            .read()
            .map_or_else(|p| p.into_inner().clone(), |a| a.clone())
    }

    pub fn set_api(&self, api: &str) {
        let mut slot = self.api.write().unwrap_or_else(|p| p.into_inner());
        *slot = Arc::from(api);
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.api()))
    }

    /// Sends a request, records its outcome under `kind`, and returns the status, headers and
    /// body of an answer.
    pub async fn send(
        &self,
        stats: &mut Stats,
        kind: Kind,
        request: RequestBuilder,
    ) -> Option<(u16, HeaderMap, axum::body::Bytes)> {
        let kills = self.kills.load(Ordering::SeqCst);
        let started = Instant::now();
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                response.bytes().await.map(|body| (status, headers, body))
            }
            Err(error) => Err(error),
        };
        let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        match answer {
            Ok((status, headers, body)) => {
                let ok = (200..300).contains(&status);
                stats.record(kind, status.to_string(), ok.then_some(micros));
                Some((status, headers, body))
            }
            Err(error) => {
                let cut = self.outage.load(Ordering::SeqCst)
                    || self.kills.load(Ordering::SeqCst) != kills
                    || self
                        .back_at
                        .lock()
                        .ok()
                        .and_then(|at| *at)
                        .is_some_and(|at| at.elapsed() < AFTER_RESTART);
                if !cut {
                    eprintln!("soak: {} failed: {error}", kind.name());
                }
                stats.record(kind, if cut { "cut" } else { "failed" }.into(), None);
                // Not a hot loop against a port nobody listens on.
                tokio::time::sleep(Duration::from_millis(25)).await;
                None
            }
        }
    }
}

/// How one client behaves.
#[derive(Debug, Clone)]
pub struct Plan {
    pub index: usize,
    pub clients: usize,
    /// Unique per phase, in every event and buyer the client makes.
    pub phase: &'static str,
    pub until: Instant,
    pub login_every: Duration,
    pub webhook_every: Duration,
    pub think: Duration,
}

/// What a client did: its requests, and its webhooks by whether they were acknowledged.
#[derive(Debug, Default)]
pub struct Outcome {
    pub stats: Stats,
    pub acked: Vec<(Delivery, Instant)>,
    pub unacked: Vec<Delivery>,
}

/// One client's state between requests.
struct Client {
    plan: Plan,
    address: String,
    cookie: Option<String>,
    logins: usize,
    webhooks: usize,
    last_created: i64,
    rng: u64,
}

/// Logs the client in with a password before the clock starts, so that every client has a
/// session from its first `/keys` (100 argon2 checks at once would only measure the queue).
pub async fn first_session(target: &Target, index: usize) -> anyhow::Result<String> {
    let mut stats = Stats::default();
    for _ in 0..50 {
        let k = index % target.password_members;
        if let Some(cookie) = password_login(target, &mut stats, &address(index), k).await {
            return Ok(cookie);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("client {index} could not log in: {stats:?}")
}

/// `10.x.y.7`, one per client, each in its own /24: visitors come from many networks, and the
/// edge also limits logins per network (IPv4 /24).
fn address(index: usize) -> String {
    let n = index + 1;
    format!("10.{}.{}.7", (n >> 8) & 255, n & 255)
}

/// Runs one client until its plan's end.
pub async fn run(target: Arc<Target>, plan: Plan, cookie: String) -> Outcome {
    let started = Instant::now();
    let offset = |every: Duration| every.mul_f64(plan.index as f64 / plan.clients as f64);
    let mut next_login = started + offset(plan.login_every);
    let mut next_webhook = started + offset(plan.webhook_every);
    let mut client = Client {
        address: address(plan.index),
        cookie: Some(cookie),
        logins: 0,
        webhooks: 0,
        last_created: 0,
        rng: 0x9E37_79B9_7F4A_7C15 ^ ((plan.index as u64 + 1) << 17),
        plan,
    };
    let mut out = Outcome::default();
    let mut round: u64 = 0;
    while Instant::now() < client.plan.until {
        let now = Instant::now();
        if now >= next_login {
            client.login(&target, &mut out.stats).await;
            let jitter = client.next_random() % 1000;
            next_login = now + client.plan.login_every + Duration::from_millis(jitter);
        }
        if now >= next_webhook {
            client.webhook(&target, &mut out).await;
            next_webhook = now + client.plan.webhook_every;
        }
        client.keys(&target, &mut out.stats).await;
        if round.is_multiple_of(8) {
            client.me(&target, &mut out.stats).await;
        }
        if round % 50 == 25 {
            client.admin_read(&target, &mut out.stats).await;
        }
        if round % 2000 == 1000 {
            let request = target
                .request(Method::GET, "/metrics")
                .bearer_auth(&target.admin_token);
            target.send(&mut out.stats, Kind::Metrics, request).await;
        }
        if !client.plan.think.is_zero() {
            tokio::time::sleep(client.plan.think).await;
        }
        round += 1;
    }
    out
}

impl Client {
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn with_session(&self, request: RequestBuilder) -> RequestBuilder {
        let request = request.header("x-forwarded-for", &self.address);
        match &self.cookie {
            Some(cookie) => request.header("cookie", cookie),
            None => request,
        }
    }

    async fn keys(&mut self, target: &Target, stats: &mut Stats) {
        let request = self.with_session(
            target
                .request(Method::POST, "/keys")
                .json(&json!({ "rules": RULES })),
        );
        target.send(stats, Kind::Keys, request).await;
    }

    async fn me(&mut self, target: &Target, stats: &mut Stats) {
        let request = self.with_session(target.request(Method::GET, "/me"));
        target.send(stats, Kind::Me, request).await;
    }

    async fn admin_read(&mut self, target: &Target, stats: &mut Stats) {
        let member = self.next_random() as usize % target.members;
        let request = target
            .request(
                Method::GET,
                &format!("/admin/members/member{member}@soak.test"),
            )
            .bearer_auth(&target.admin_token);
        target.send(stats, Kind::AdminRead, request).await;
    }

    /// Every other login is a password login (a new session), the rest magic-link requests
    /// for an imported member. Emails rotate, so the per (address, email) limit rarely bites.
    async fn login(&mut self, target: &Target, stats: &mut Stats) {
        self.logins += 1;
        if self.logins.is_multiple_of(2) {
            let k = (self.plan.index + self.logins * 7) % target.password_members;
            if let Some(cookie) = password_login(target, stats, &self.address, k).await {
                self.cookie = Some(cookie);
            }
        } else {
            let member = self.next_random() as usize % target.members;
            let request = target
                .request(Method::POST, "/login")
                .header("x-forwarded-for", &self.address)
                .json(&json!({ "email": format!("member{member}@soak.test"), "next": "/course/" }));
            target.send(stats, Kind::MagicLink, request).await;
        }
    }

    /// Sends the client's next webhook. Its events go in fours: a single purchase by a new
    /// buyer; a member's subscription through Checkout; the subscription set to cancel at the
    /// period's end; and resumed.
    async fn webhook(&mut self, target: &Target, out: &mut Outcome) {
        let step = self.webhooks;
        self.webhooks += 1;
        let (phase, index) = (self.plan.phase, self.plan.index);
        let tag = format!("{phase}_{index}_{step}");
        let sub = format!("sub_soak_{phase}_{index}_{}", step / 4);
        // Stripe orders events about one thing by `created`: keep it strictly increasing.
        let created = jiff::Timestamp::now()
            .as_second()
            .max(self.last_created + 1);
        self.last_created = created;
        let delivery = match step % 4 {
            0 => {
                let email = format!("buyer-{phase}-{index}-{step}@soak.test");
                stripe::purchase(&tag, &email, created)
            }
            1 => {
                // A different seeded member for every subscription of every client.
                let nth = index + self.plan.clients * (step / 4);
                let email = format!("member{}@soak.test", nth % target.members);
                stripe::subscription_checkout(&tag, &sub, &email, created)
            }
            2 => stripe::subscription_updated(&tag, &sub, true, created),
            _ => stripe::subscription_updated(&tag, &sub, false, created),
        };
        match deliver(target, &mut out.stats, &delivery).await {
            Some(receipt) if receipt.acked => out.acked.push((delivery, Instant::now())),
            _ => out.unacked.push(delivery),
        }
    }
}

/// What the edge answered a webhook delivery.
#[derive(Debug, Clone, Copy)]
pub struct Receipt {
    /// 2xx: Stripe would not send it again.
    pub acked: bool,
    /// The edge had stored it before (`"duplicate": true`).
    pub duplicate: bool,
}

/// Posts a webhook as Stripe does; `None` when no answer came.
pub async fn deliver(target: &Target, stats: &mut Stats, delivery: &Delivery) -> Option<Receipt> {
    let t = jiff::Timestamp::now().as_second();
    let request = target
        .request(Method::POST, "/webhooks/stripe")
        .header("content-type", "application/json")
        .header(
            "user-agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .header(
            "stripe-signature",
            stripe::signature(&target.webhook_secret, t, &delivery.body),
        )
        .body(delivery.body.clone());
    let (status, _, body) = target.send(stats, Kind::Webhook, request).await?;
    let duplicate = serde_json::from_slice::<serde_json::Value>(&body)
        .is_ok_and(|answer| answer["duplicate"] == true);
    Some(Receipt {
        acked: (200..300).contains(&status),
        duplicate,
    })
}

/// `POST /login/password` as password member `k`; the session cookie (`name=value`) on success.
async fn password_login(
    target: &Target,
    stats: &mut Stats,
    address: &str,
    k: usize,
) -> Option<String> {
    let request = target
        .request(Method::POST, "/login/password")
        .header("x-forwarded-for", address)
        .json(&json!({ "email": format!("pw{k}@soak.test"), "password": password(k) }));
    let (status, headers, _) = target.send(stats, Kind::PasswordLogin, request).await?;
    if status != 200 {
        return None;
    }
    session_cookie(&headers)
}

/// The password of password member `k`.
pub fn password(k: usize) -> String {
    format!("soak-password-{k}")
}

/// `name=value` of the session cookie an answer sets (`gh_session` over http; the `__Host-`
/// and `__Secure-` names over https).
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| {
            pair.split_once('=')
                .is_some_and(|(name, value)| name.ends_with("gh_session") && !value.is_empty())
        })
        .map(str::to_owned)
}
