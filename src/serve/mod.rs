//! `gatehouse serve` (DESIGN §8): builds the site, serves it and the edge API on one origin
//! with a development member database of demo members, watches the sources, rebuilds only
//! what a change touches, and reloads open pages.

mod demo;
mod dev_routes;
mod files;
mod host;
mod range;
mod reload;
mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use tower::ServiceExt;

pub use demo::{DEMO_DOMAIN, DemoMember};
pub use files::{dev_script, inject};
pub use reload::DevEvent;

use crate::build::{BuildOptions, BuildReport, LiveSite, SERVE_DIR, Update};
use crate::config::SiteConfig;
use crate::gate::MasterSecret;
use crate::mail::Mailer;
use crate::server::{self, AppState, EdgeOptions};
use crate::store::Store;
use reload::Reloader;

/// The development member database, replaced on every start so demo members are fresh.
pub const DEV_DB: &str = ".gatehouse/dev/members.db";

pub struct ServeOptions {
    /// The site's folder, absolute.
    pub root: PathBuf,
    pub drafts: bool,
    pub admin_token: Option<String>,
    /// Seal and hand out keys with the site's own master secret instead of the development
    /// secret (`--site-secret`).
    pub site_secret: bool,
}

/// What the author is told at start-up.
pub struct Started {
    pub url: String,
    pub report: BuildReport,
    /// Each demo member and their one-click login link.
    pub demo: Vec<(DemoMember, String)>,
    /// The first operator of `[admin] emails` and a one-click console login, if any.
    pub console: Option<(String, String)>,
    pub db_path: PathBuf,
}

/// What every dev route needs.
#[derive(Clone)]
pub(crate) struct Dev {
    /// The edge API as it stands; replaced when site.toml changes.
    edge: Arc<RwLock<(AppState, Router)>>,
    reloader: Reloader,
    /// Proves a one-click login link came from this run's start-up output.
    login_key: Arc<String>,
    /// The folder the site is built into.
    out: Arc<PathBuf>,
}

impl Dev {
    pub(crate) fn state(&self) -> AppState {
        match self.edge.read() {
            Ok(guard) => guard.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    fn router(&self) -> Router {
        match self.edge.read() {
            Ok(guard) => guard.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }
}

/// Builds, seeds and serves until `shutdown`; `started` is called once the site is up.
pub async fn run(
    options: ServeOptions,
    listener: tokio::net::TcpListener,
    started: impl FnOnce(&Started),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address = listener.local_addr()?;
    if !address.ip().is_loopback() {
        anyhow::bail!(
            "gatehouse serve listens only on loopback (127.0.0.1 or ::1), not {}: its \"View as\" bar hands any gate's keys to whoever reaches it. To try the site on another device, deploy it, or forward the port over SSH (ssh -L 1111:127.0.0.1:1111 …)",
            address.ip()
        );
    }
    let url = self_url(address);
    // What serve hands out opens only what serve built, never the deployed site.
    let (secret, dev_secret) = if options.site_secret {
        (crate::secret::load_or_create(&options.root)?.0, None)
    } else {
        let dev = crate::secret::load_or_create_dev(&options.root)?;
        (dev.clone(), Some(dev))
    };
    let build_options = BuildOptions {
        root: options.root.clone(),
        out: Some(options.root.join(SERVE_DIR)),
        drafts: options.drafts,
        check_only: false,
        progress: true,
        base_url: Some(url.clone()),
        dev_secret,
    };
    let (live, report) = tokio::task::spawn_blocking(move || LiveSite::build(build_options))
        .await?
        .context(
            "the site does not build; fix the error above and start `gatehouse serve` again",
        )?;
    let config = live.config().clone();
    let hosts = host::Allowed::new(&crate::config::load(&options.root)?.base_url);

    let db_path = options.root.join(DEV_DB);
    let store = fresh_store(&db_path).await?;
    let demo = demo::seed(&store, &config, &live.rules(), jiff::Timestamp::now()).await?;
    let mailer = Mailer::new(&options.root, None)?;
    let state = edge_state(&config, &secret, &store, &mailer, &live, &options);
    let login_key = Arc::new(crate::gate::to_hex(&random_bytes()?));
    let dev = Dev {
        edge: Arc::new(RwLock::new((state.clone(), server::app(state)))),
        reloader: Reloader::default(),
        login_key: login_key.clone(),
        out: Arc::new(live.out_dir()),
    };
    let demo = demo
        .into_iter()
        .map(|member| {
            let link = dev_routes::login_link(&url, &member.email, &login_key);
            (member, link)
        })
        .collect();
    let console = config
        .admin
        .emails
        .first()
        .map(|email| (email.clone(), dev_routes::console_link(&url, &login_key)));
    started(&Started {
        url: url.clone(),
        report,
        demo,
        console,
        db_path,
    });

    tokio::spawn(check_members(dev.clone()));

    let (watcher, changes) = watch::watch(&options.root)?;
    let rebuilder = Rebuilder {
        live,
        dev: dev.clone(),
        secret,
        store,
        mailer,
        options,
        failing: false,
    };
    std::thread::Builder::new()
        .name("gatehouse-rebuild".into())
        .spawn(move || rebuilder.run(changes))?;

    let app = dev_routes::router()
        .fallback(edge_or_file)
        .with_state(dev)
        .layer(axum::middleware::from_fn_with_state(
            hosts,
            host::only_allowed,
        ));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    drop(watcher);
    Ok(())
}

/// Keeps each demo member's standing current in the dev database, as the edge's workers do:
/// the console's member list, dashboard and filters read it. Serve delivers no notices, so only
/// the checks run.
async fn check_members(dev: Dev) {
    let clock = crate::clock::Clock::default();
    loop {
        let state = dev.state();
        if let Err(error) =
            crate::notify::check_due(&state.store, &state.config, &clock, false).await
        {
            tracing::warn!(error = %error.kind(), "could not check the demo members");
        }
        tokio::select! {
            () = state.wake.notified() => {},
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {},
        }
    }
}

/// The edge API under its base path, the built files everywhere else.
async fn edge_or_file(State(dev): State<Dev>, request: Request) -> Response {
    let base = dev.state().base_path();
    let path = request.uri().path();
    let is_api = !base.is_empty() && (path == base || path.starts_with(&format!("{base}/")));
    if is_api {
        return match dev.router().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    let files = files::Files {
        dir: dev.out.clone(),
        reloader: dev.reloader.clone(),
    };
    files::serve(
        State(files),
        request.uri().clone(),
        request.headers().clone(),
    )
    .await
}

fn edge_state(
    config: &SiteConfig,
    secret: &MasterSecret,
    store: &Store,
    mailer: &Mailer,
    live: &LiveSite,
    options: &ServeOptions,
) -> AppState {
    let mut edge = EdgeOptions::new(config);
    edge.admin_token = options.admin_token.clone();
    edge.manifest = Some(live.out_dir().join("_gated").join("manifest.json"));
    edge.dev_preview = true;
    AppState::new(
        config.clone(),
        secret.clone(),
        store.clone(),
        mailer.clone(),
        edge,
    )
}

/// The site's own address, as browsers should use it.
fn self_url(address: SocketAddr) -> String {
    // Always a loopback address: `run` refuses any other.
    let host = if address.is_ipv6() {
        format!("[{}]", address.ip())
    } else {
        address.ip().to_string()
    };
    format!("http://{host}:{}", address.port())
}

async fn fresh_store(path: &std::path::Path) -> anyhow::Result<Store> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                return Err(error).with_context(|| format!("cannot reset {}", path.display()));
            }
        }
    }
    Ok(Store::open(&format!("sqlite://{}", path.display())).await?)
}

fn random_bytes() -> anyhow::Result<[u8; 16]> {
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness available"))?;
    Ok(bytes)
}

/// The thread that turns batches of changed files into rebuilds and announcements.
struct Rebuilder {
    live: LiveSite,
    dev: Dev,
    secret: MasterSecret,
    store: Store,
    mailer: Mailer,
    options: ServeOptions,
    /// The last rebuild failed: the next one must be whole, to find every error again.
    failing: bool,
}

impl Rebuilder {
    fn run(mut self, changes: std::sync::mpsc::Receiver<Vec<PathBuf>>) {
        while let Ok(mut batch) = changes.recv() {
            // Saves that arrived during the last rebuild are handled together.
            while let Ok(more) = changes.try_recv() {
                batch.extend(more);
            }
            batch.sort();
            batch.dedup();
            self.rebuild(&batch);
        }
    }

    fn rebuild(&mut self, changed: &[PathBuf]) {
        let started = Instant::now();
        let names: Vec<String> = changed.iter().map(|p| p.display().to_string()).collect();
        let reloader = self.dev.reloader.clone();
        let result = if self.failing {
            self.live.rebuild_all()
        } else {
            self.live.update(changed, |paths| {
                reloader.announce(DevEvent::Reload {
                    paths: paths.to_vec(),
                })
            })
        };
        match result {
            Ok(Update::Pages {
                paths,
                pages_elapsed,
                elapsed,
            }) => {
                self.failing = false;
                let what = match paths.len() {
                    0 => "every page".to_owned(),
                    1..=3 => paths.join(", "),
                    n => format!("{n} pages"),
                };
                eprintln!(
                    "Changed {} → rebuilt {what} in {:.1} ms (pages ready in {:.1} ms)",
                    names.join(", "),
                    elapsed.as_secs_f64() * 1000.0,
                    pages_elapsed.as_secs_f64() * 1000.0,
                );
            }
            Ok(Update::Full(report)) => {
                self.failing = false;
                // site.toml may have changed in this batch, or in one whose build failed.
                self.refresh_edge();
                reloader.announce(DevEvent::Reload { paths: Vec::new() });
                for warning in &report.warnings {
                    eprintln!("warning: {warning}");
                }
                eprintln!(
                    "Changed {} → rebuilt the whole site ({} pages) in {:.0} ms",
                    names.join(", "),
                    report.documents,
                    started.elapsed().as_secs_f64() * 1000.0
                );
            }
            Err(error) => {
                self.failing = true;
                let message = format!("{error}");
                eprintln!(
                    "error: the site does not build; still serving the last good build:\n{message}"
                );
                reloader.announce(DevEvent::Error { message });
            }
        }
    }

    /// After a whole-site build: the edge API takes the levels, bundles and epoch just built.
    fn refresh_edge(&self) {
        let state = edge_state(
            self.live.config(),
            &self.secret,
            &self.store,
            &self.mailer,
            &self.live,
            &self.options,
        );
        let router = server::app(state.clone());
        match self.dev.edge.write() {
            Ok(mut guard) => *guard = (state, router),
            Err(poisoned) => *poisoned.into_inner() = (state, router),
        }
    }
}
