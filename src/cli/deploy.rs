//! `gatehouse deploy [--dry-run]` (DESIGN §7, §9): publish the built site to `[deploy] target`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};

use super::build::thousands;
use super::deploy_plan::{counts, kept_note, print_plan};
use crate::build::{holds_site_files, resolved};
use crate::config::{self, DEFAULT_CONCURRENCY, DEFAULT_MAX_DELETES, DeployConfig, DeployTarget};
use crate::deploy::{
    self, Credentials, DeployError, DirTarget, Execution, LEGACY_STATE_KEY, LocalFile, ManifestKey,
    Plan, Remote, RemoteSource, Reporter, S3Settings, S3Target, STATE_KEY, Settings, Target,
    UploadReason, human_bytes,
};
use crate::gate::MasterSecret;
use crate::secret;

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Print what would be uploaded, replaced and deleted, and change nothing. Exits non-zero
    /// when the deploy itself would be refused.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow more deletions than `[deploy] max_deletes` (default 256), and deleting files that
    /// no gatehouse deploy put in the target.
    #[arg(long)]
    pub force: bool,
    /// The built site to deploy (default: public/ in the site's folder).
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Deploy here instead of `[deploy] target`: s3://bucket/prefix, file:///path or a folder.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// List every file of the plan, not only the first 20 of each kind.
    #[arg(long, short)]
    pub verbose: bool,
    /// Print only errors and the final summary.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(root: &Path, args: DeployArgs) -> anyhow::Result<()> {
    let config = config::load(root).context("cannot deploy")?;
    let settings = settings(root, &config, &args)?;
    let from = args.from.clone().unwrap_or_else(|| root.join("public"));
    if let DeployTarget::Dir(folder) = &settings.target {
        check_folder(root, &from, folder)?;
    }
    let key = manifest_key(root, &from)?;
    let local = deploy::scan(&from, &settings.headers)?;
    deploy::check_epoch(&from, &local, config.epoch)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let job = Job {
        root,
        args: &args,
        settings: &settings,
        local: &local,
        key: &key,
        keep: settings.keep_envelopes.unwrap_or(config.grace),
        base_url: &config.base_url,
    };
    runtime.block_on(async {
        match &settings.target {
            DeployTarget::Dir(path) => {
                let target = DirTarget::new(path.clone());
                job.run(&target, settings.target.to_string()).await
            }
            DeployTarget::S3 { bucket, prefix } => {
                let fail = |e: String| anyhow::anyhow!("cannot deploy to {}: {e}", settings.target);
                let credentials = Credentials::find().map_err(fail)?;
                let s3 = S3Settings {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    endpoint: settings.endpoint.clone(),
                    region: settings.region.clone(),
                    path_style: settings.path_style,
                };
                let target = S3Target::new(&s3, credentials).map_err(fail)?;
                let name = format!("{} at {}", settings.target, target.endpoint());
                job.run(&target, name).await
            }
        }
    })
}

/// The key that seals the deploy manifest (DESIGN §9: the bookkeeping names no file a visitor
/// could not find), from the site's master secret. A deploy never makes a secret: one made here
/// would not be the build's, and the next deploy elsewhere would find the manifest sealed with
/// another. A site with nothing gated has no secret and nothing to hide: every file it
/// publishes is public, so its manifest is sealed with the same all-zero secret its build uses.
fn manifest_key(root: &Path, from: &Path) -> anyhow::Result<ManifestKey> {
    let have_secret =
        std::env::var_os(secret::SECRET_ENV).is_some() || secret::secret_path(root).exists();
    if !have_secret {
        if holds_gated_output(from) {
            bail!(
                "no master secret ({} or {}): the deploy seals its manifest with it; set {} as \
                 for `gatehouse build`",
                secret::SECRET_ENV,
                secret::secret_path(root).display(),
                secret::SECRET_ENV
            );
        }
        return Ok(ManifestKey::derive(&MasterSecret::from_bytes([0; 32])));
    }
    let (secret, _) = secret::load_or_create(root).context("cannot deploy")?;
    Ok(ManifestKey::derive(&secret))
}

/// Whether the build holds anything gated: an envelope or a sealed file under `_gated/`.
fn holds_gated_output(from: &Path) -> bool {
    walkdir::WalkDir::new(from.join("_gated"))
        .into_iter()
        .filter_map(Result::ok)
        .any(|entry| {
            entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "bin")
        })
}

/// `[deploy]`, with `--target` in place of its target (or alone, when site.toml has none).
fn settings(
    root: &Path,
    config: &config::SiteConfig,
    args: &DeployArgs,
) -> anyhow::Result<DeployConfig> {
    let override_target = match &args.target {
        Some(text) => {
            Some(DeployTarget::parse(text, root).map_err(|e| anyhow::anyhow!("--target: {e}"))?)
        }
        None => None,
    };
    match (config.deploy.clone(), override_target) {
        (Some(settings), None) => Ok(settings),
        (Some(settings), Some(target)) => Ok(DeployConfig { target, ..settings }),
        (None, Some(target)) => Ok(DeployConfig {
            target,
            endpoint: None,
            region: None,
            path_style: None,
            after: None,
            after_line: None,
            max_deletes: DEFAULT_MAX_DELETES,
            concurrency: DEFAULT_CONCURRENCY,
            keep_envelopes: None,
            headers: Vec::new(),
        }),
        (None, None) => bail!(
            "site.toml has no [deploy] section: add one with `target = \"s3://bucket/prefix\"` \
             (and `endpoint`, `region` for stores other than AWS) or `target = \"file:///var/www/site\"`, \
             or pass --target"
        ),
    }
}

/// A folder target must be a folder of its own: deploying into the site (or above it, or into
/// the build) would delete the site's sources, its master secret, or the build itself.
fn check_folder(root: &Path, from: &Path, folder: &Path) -> Result<(), DeployError> {
    let target = resolved(folder);
    let from = resolved(from);
    let why = if holds_site_files(root, &target) {
        Some("it holds the site's own files (site.toml, content/, the master secret)")
    } else if target.starts_with(&from) || from.starts_with(&target) {
        Some("it overlaps the build being deployed")
    } else {
        None
    };
    match why {
        Some(why) => Err(DeployError::UnsafeTarget { target, why }),
        None => Ok(()),
    }
}

struct Job<'a> {
    root: &'a Path,
    args: &'a DeployArgs,
    settings: &'a DeployConfig,
    local: &'a [LocalFile],
    key: &'a ManifestKey,
    keep: u64,
    base_url: &'a str,
}

impl Job<'_> {
    async fn run<T: Target>(&self, target: &T, name: String) -> anyhow::Result<()> {
        let started = Instant::now();
        if let Some(max) = target.max_file_size()
            && let Some(big) = self.local.iter().find(|f| f.size > max)
        {
            return Err(DeployError::TooLarge {
                key: big.key.clone(),
                size: big.size,
                max,
            }
            .into());
        }
        let remote = deploy::read_remote(target, self.key).await?;
        let settings = Settings {
            keep: self.keep,
            purge: self.settings.after.is_some(),
        };
        let now = jiff::Timestamp::now().as_second();
        let plan = deploy::plan(self.local, &remote.state, now, settings);
        if let RemoteSource::Listing { why } = &remote.source
            && !self.args.quiet
            && !remote.state.unknown.is_empty()
        {
            eprintln!(
                "note: {name}: {why}; every file there is uploaded again, and the manifest written \
                 for next time"
            );
        }
        if remote.state.legacy_manifest && !self.args.quiet {
            eprintln!(
                "note: {name}: replacing the plain deploy manifest of an older gatehouse \
                 ({LEGACY_STATE_KEY}), which names every file, with a sealed one ({STATE_KEY})"
            );
        }
        let refusal = self.refusal(&plan, &remote, &name);
        if self.args.dry_run {
            print_plan(&plan, &name, self.args.verbose);
            if let Some(refusal) = refusal {
                return Err(anyhow::Error::new(refusal).context("the deploy would be refused"));
            }
            println!("Dry run: nothing was changed.");
            return Ok(());
        }
        if let Some(refusal) = refusal {
            return Err(refusal.into());
        }
        let hook_due = self.settings.after.is_some() && !plan.purge_paths().is_empty();
        if plan.is_noop() && !hook_due {
            println!(
                "Nothing to deploy: {name} already holds this build ({} files).",
                thousands(plan.unchanged)
            );
            return Ok(());
        }
        self.warn_immutable_changes(&plan);
        let mut lock = deploy::acquire(target, &name).await?;
        let result = self.publish(target, &plan, &name, started, &mut lock).await;
        // The lease is given back however the deploy ended; one left behind lapses by itself.
        if let Err(error) = lock.release(target).await {
            eprintln!("warning: could not remove the deploy lock: {error}");
        }
        result
    }

    /// Why the deploy must not go ahead without `--force`, if it must not.
    fn refusal(&self, plan: &Plan, remote: &Remote, name: &str) -> Option<DeployError> {
        let removed = plan.capped_deletes();
        if self.args.force || removed == 0 {
            return None;
        }
        if matches!(remote.source, RemoteSource::Listing { .. }) {
            let examples: Vec<String> = plan
                .deletes
                .iter()
                .take(5)
                .map(|d| format!("/{}", d.key))
                .collect();
            let more = if removed > 5 { ", …" } else { "" };
            return Some(DeployError::Unmanaged {
                target: name.to_owned(),
                count: removed,
                examples: format!("{}{more}", examples.join(", ")),
            });
        }
        (removed > self.settings.max_deletes).then_some(DeployError::TooManyDeletes {
            count: removed,
            max: self.settings.max_deletes,
        })
    }

    /// A file served as immutable whose bytes changed under the same name: readers may keep the
    /// old copy for a year, and no purge reaches their browsers.
    fn warn_immutable_changes(&self, plan: &Plan) {
        for upload in &plan.uploads {
            let was_immutable = plan
                .before
                .files
                .get(&upload.key)
                .is_some_and(|old| old.headers.cache_control.contains("immutable"));
            if upload.reason == UploadReason::Changed && was_immutable {
                eprintln!(
                    "warning: /{} was served as immutable, yet its bytes changed under the same name: \
                     browsers may keep the old copy for a year. Give changed files new names, or a \
                     [[deploy.headers]] rule without `immutable`",
                    upload.key
                );
            }
        }
    }

    async fn publish<T: Target>(
        &self,
        target: &T,
        plan: &Plan,
        name: &str,
        started: Instant,
        lock: &mut deploy::Lock,
    ) -> anyhow::Result<()> {
        if !self.args.quiet && !plan.changes_nothing() {
            eprintln!("Deploying to {name}: {}", counts(plan));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let listener = tokio::spawn(interrupts(Arc::clone(&stop)));
        let reporter = Reporter::new(!self.args.quiet, plan.uploads.len() + plan.deletes.len());
        let concurrency = self.settings.concurrency;
        let how = Execution {
            concurrency,
            reporter: &reporter,
            stop: &stop,
            key: self.key,
        };
        let result = tokio::select! {
            result = deploy::execute(target, plan, self.local, &how) => result,
            () = deploy::keep_renewed(lock, target) => unreachable!("renewal never ends"),
        };
        reporter.finish();
        listener.abort();
        let done = result?;
        if plan.changes_nothing() {
            // Only bookkeeping was written: the manifest sealed, or a purge still owed.
            println!(
                "Nothing to deploy: {name} already holds this build ({} files).",
                thousands(plan.unchanged)
            );
        } else {
            println!(
                "Deployed to {name} in {:.1} s: {} new, {} replaced, {} deleted ({} uploaded); {} unchanged{}.",
                started.elapsed().as_secs_f64(),
                plan.new_count(),
                plan.uploads.len() - plan.new_count(),
                done.deleted,
                human_bytes(done.bytes),
                thousands(plan.unchanged),
                kept_note(plan),
            );
        }
        // The new pages are live even when an old file could not be deleted: purge first.
        self.after(target, plan, &done.state).await?;
        let count = done.failed_deletes.len();
        match done.failed_deletes.into_iter().next() {
            Some((key, cause)) => Err(DeployError::Delete {
                count,
                key,
                cause: Box::new(cause),
            }
            .into()),
            None => Ok(()),
        }
    }

    async fn after<T: Target>(
        &self,
        target: &T,
        plan: &Plan,
        left: &deploy::DeployState,
    ) -> anyhow::Result<()> {
        let Some(command) = &self.settings.after else {
            return Ok(());
        };
        let paths = plan.purge_paths();
        if paths.is_empty() {
            return Ok(());
        }
        let report = deploy::run_after(
            command,
            self.settings.after_line,
            self.root,
            &paths,
            &self.settings.target.to_string(),
            self.base_url,
        )?;
        deploy::mark_purged(target, self.key, left).await?;
        if !self.args.quiet {
            let earlier = paths.len() - plan.changed_paths().len().min(paths.len());
            let note = if earlier > 0 {
                format!(" ({earlier} left from an earlier deploy whose hook failed)")
            } else {
                String::new()
            };
            println!(
                "Ran the after hook with {} changed paths{note}.",
                paths.len()
            );
            for line in report.output.lines() {
                println!("  | {line}");
            }
        }
        Ok(())
    }
}

/// The first Ctrl-C stops new uploads (the manifest already marks what is under way); a
/// second one ends the process at once, which leaves the live site just as whole.
async fn interrupts(stop: Arc<AtomicBool>) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    stop.store(true, Ordering::SeqCst);
    eprintln!("\nstopping: no new upload starts (Ctrl-C again to quit at once)");
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("quit: run `gatehouse deploy` again to finish");
        std::process::exit(130);
    }
}
