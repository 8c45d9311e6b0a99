//! `gatehouse edge`: the member server (DESIGN §6, §7).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::db::{DbArgs, runtime};
use crate::config;
use crate::mail::Mailer;
use crate::notify::welcome::Welcome;
use crate::secret::{self, SecretSource};
use crate::server::{self, AppState, EdgeOptions};
use crate::store::{Store, redact_url};

/// Shorter admin tokens are refused: the admin API can grant anything to anyone.
const MIN_ADMIN_TOKEN: usize = 24;

#[derive(Debug, clap::Args)]
pub struct EdgeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "ADDR")]
    pub bind: SocketAddr,
    /// Take the client's address from the last `X-Forwarded-For` hop (only behind a proxy
    /// that sets it; otherwise clients could choose their own address for rate limits).
    #[arg(long)]
    pub behind_proxy: bool,
    /// Another origin allowed to call the API with the member's cookie (repeatable), besides
    /// site.toml's `base_url`.
    #[arg(
        long = "allow-origin",
        value_name = "URL",
        env = "GATEHOUSE_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allow_origins: Vec<String>,
    /// The built site whose `_gated/manifest.json` lists upcoming unlocks in `/me`
    /// (default: public/ in the site's folder).
    #[arg(long, value_name = "DIR")]
    pub site: Option<PathBuf>,
    /// Also serve `/metrics` without the admin token on this address (e.g. 127.0.0.1:9187),
    /// for a monitoring system. On the API's own address `/metrics` needs the admin token:
    /// its counters describe members.
    #[arg(long, value_name = "ADDR")]
    pub metrics_bind: Option<SocketAddr>,
    /// Days a login lasts (1 to 3650).
    #[arg(long, default_value_t = 30, value_name = "DAYS", value_parser = clap::value_parser!(i64).range(1..=3650))]
    pub session_days: i64,
}

pub fn run(root: &Path, args: EdgeArgs) -> anyhow::Result<()> {
    init_logging("info,sqlx=warn");
    let config = config::load(root).context("cannot start the edge server")?;
    let (secret, source) = secret::load_or_create(root).context("cannot load the master secret")?;
    if let SecretSource::Created(path) = &source {
        tracing::warn!(
            path = %path.display(),
            "created a new master secret: build the site with this same secret, or its pages will not open"
        );
    }
    let admin_token = admin_token()?;
    let smtp_url = std::env::var("GATEHOUSE_SMTP_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let mut options = EdgeOptions::new(&config);
    options.admin_token = admin_token;
    options.behind_proxy = args.behind_proxy;
    options.extra_origins = args.allow_origins.clone();
    options.session_days = args.session_days;
    if let Ok(from) = std::env::var("GATEHOUSE_MAIL_FROM") {
        options.mail_from = from;
    }
    options.stripe_secrets = server::Hidden(stripe_secrets());
    options.notify_secrets = server::Hidden(notify_secrets(&config)?);
    options.welcome = Some(std::sync::Arc::new(
        Welcome::load(&config).context("cannot load the welcome email")?,
    ));
    if !config.admin.emails.is_empty() {
        server::console::Pages::load(&config).context("cannot load the operator console")?;
    }
    let site = args.site.clone().unwrap_or_else(|| root.join("public"));
    options.manifest = Some(site.join("_gated").join("manifest.json"));
    let url = args.db.url(root);

    let root = root.to_path_buf();
    runtime()?.block_on(async move {
        // The SMTP pool spawns onto the runtime, so it is made inside it.
        let mailer = Mailer::new(&root, smtp_url.as_deref())?;
        let store = Store::open(&url).await?;
        let listener = tokio::net::TcpListener::bind(args.bind)
            .await
            .with_context(|| format!("cannot listen on {}", args.bind))?;
        let metrics_listener = match args.metrics_bind {
            Some(address) => Some(
                tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen on {address} (--metrics-bind)"))?,
            ),
            None => None,
        };
        let local = listener.local_addr()?;
        tracing::info!(
            address = %local,
            database = %redact_url(&url),
            mail = %mailer.describe(),
            admin = options.admin_token.is_some(),
            stripe = !options.stripe_secrets.0.is_empty(),
            push_endpoints = config.notify.len(),
            epoch = config.epoch,
            "gatehouse edge is listening"
        );
        println!(
            "gatehouse edge listening on http://{local}{}",
            server::base_path(&config.edge_url)
        );
        if !config.admin.emails.is_empty() {
            // Not `println!`: a supervisor that reads only the first line and closes the pipe
            // must not make the edge panic on a closed stdout.
            use std::io::Write;
            let _ = writeln!(
                std::io::stdout(),
                "operator console: http://{local}{}/admin/ ({} operator{})",
                server::base_path(&config.edge_url),
                config.admin.emails.len(),
                if config.admin.emails.len() == 1 { "" } else { "s" }
            );
        }
        // Someone taken off `[admin] emails` loses the console at this restart, not later.
        store
            .delete_operator_sessions_except(&config.admin.emails)
            .await?;
        let state = AppState::new(config, secret, store.clone(), mailer, options);
        if state.options.stripe_secrets.0.is_empty() && !state.config.products.is_empty() {
            tracing::warn!(
                "GATEHOUSE_STRIPE_WEBHOOK_SECRET is not set: Stripe webhooks are answered 503 (Stripe retries them for three days)"
            );
        }
        if let Some(metrics_listener) = metrics_listener {
            tracing::info!(address = %metrics_listener.local_addr()?, "metrics listening");
            let app = server::metrics_app(state.clone());
            tokio::spawn(async move {
                if let Err(error) = axum::serve(metrics_listener, app).await {
                    tracing::error!(%error, "the metrics listener stopped");
                }
            });
        }
        spawn_purger(store.clone());
        let workers = server::spawn_workers(state.clone(), server::WorkerTimes::default());
        server::serve(listener, state, shutdown_signal()).await?;
        // Stopped before the store closes under them. A round cut here is picked up as after a
        // crash: an unapplied event is applied at the next start, a claimed delivery once its
        // lease runs out.
        workers.abort();
        let _ = workers.await;
        store.close().await;
        tracing::info!("gatehouse edge stopped");
        anyhow::Ok(())
    })
}

/// `GATEHOUSE_STRIPE_WEBHOOK_SECRET`: the endpoint's signing secret, or several separated by
/// commas while one is being replaced.
fn stripe_secrets() -> Vec<String> {
    std::env::var("GATEHOUSE_STRIPE_WEBHOOK_SECRET")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The signing secret of every `[[notify]]` endpoint, read from the environment variable it
/// names; a missing one stops the start, since its notifications could never be sent.
fn notify_secrets(
    config: &config::SiteConfig,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut secrets = std::collections::BTreeMap::new();
    for endpoint in &config.notify {
        match std::env::var(&endpoint.secret_env) {
            Ok(secret) if secret.trim().len() >= 16 => {
                secrets.insert(endpoint.secret_env.clone(), secret.trim().to_owned());
            }
            Ok(_) => anyhow::bail!(
                "{} is too short to sign push notifications to {}: use at least 16 random characters (e.g. `openssl rand -hex 32`)",
                endpoint.secret_env,
                server::origin_of(&endpoint.url).unwrap_or_default()
            ),
            Err(_) => anyhow::bail!(
                "site.toml sends push notifications to {}, signed with the secret in {}, which is not set",
                server::origin_of(&endpoint.url).unwrap_or_default(),
                endpoint.secret_env
            ),
        }
    }
    Ok(secrets)
}

pub(super) fn admin_token() -> anyhow::Result<Option<String>> {
    match std::env::var("GATEHOUSE_ADMIN_TOKEN") {
        Ok(token) if token.trim().len() >= MIN_ADMIN_TOKEN => Ok(Some(token.trim().to_owned())),
        Ok(token) if token.trim().is_empty() => Ok(None),
        Ok(_) => anyhow::bail!(
            "GATEHOUSE_ADMIN_TOKEN is too short: use at least {MIN_ADMIN_TOKEN} random characters \
             (e.g. `openssl rand -base64 32`)"
        ),
        Err(_) => Ok(None),
    }
}

/// Removes expired sessions and links once an hour.
fn spawn_purger(store: Store) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            if let Err(error) = store.purge_expired(jiff::Timestamp::now()).await {
                tracing::warn!(%error, "could not purge expired sessions");
            }
        }
    });
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Logs to stderr; `RUST_LOG` refines the default of `info` (sqlx's per-query lines off).
pub(super) fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
