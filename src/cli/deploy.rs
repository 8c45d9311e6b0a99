//! `gatehouse deploy [--dry-run]` (DESIGN §7, §9): publish the built site to `[deploy] target`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};

use super::build::thousands;
use crate::config::{self, DEFAULT_CONCURRENCY, DEFAULT_MAX_DELETES, DeployConfig, DeployTarget};
use crate::deploy::{
    self, Credentials, DeleteReason, DeployError, DirTarget, LocalFile, Phase, Plan, RemoteSource,
    Reporter, S3Settings, S3Target, Target, UploadReason, human_bytes,
};

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Print what would be uploaded, replaced and deleted, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow more deletions than `[deploy] max_deletes` (256), and deleting files that no
    /// gatehouse deploy put in the target.
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

/// How many paths of each kind a plan prints without --verbose.
const LISTED: usize = 20;

pub fn run(root: &Path, args: DeployArgs) -> anyhow::Result<()> {
    let config = config::load(root).context("cannot deploy")?;
    let settings = settings(root, &config, &args)?;
    let from = args.from.clone().unwrap_or_else(|| root.join("public"));
    let local = deploy::scan(&from, &settings.headers)?;
    check_epoch(&from, &local, config.epoch)?;
    let keep = settings.keep_envelopes.unwrap_or(config.grace);
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
        keep,
        base_url: &config.base_url,
    };
    runtime.block_on(async {
        match &settings.target {
            DeployTarget::Dir(path) => {
                job.run(&DirTarget::new(path.clone()), settings.target.to_string())
                    .await
            }
            DeployTarget::S3 { bucket, prefix } => {
                let credentials = Credentials::find()
                    .map_err(|e| anyhow::anyhow!("cannot deploy to {}: {e}", settings.target))?;
                let target = S3Target::new(
                    &S3Settings {
                        bucket: bucket.clone(),
                        prefix: prefix.clone(),
                        endpoint: settings.endpoint.clone(),
                        region: settings.region.clone(),
                        path_style: settings.path_style,
                    },
                    credentials,
                )
                .map_err(|e| anyhow::anyhow!("cannot deploy to {}: {e}", settings.target))?;
                let name = format!("{} at {}", settings.target, target.endpoint());
                job.run(&target, name).await
            }
        }
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

/// Refuses a build sealed before `keys rotate`: it would go live with keys the edge no longer
/// hands out once the grace window ends.
fn check_epoch(from: &Path, local: &[LocalFile], configured: u32) -> Result<(), DeployError> {
    if !local.iter().any(|f| f.key == "_gated/manifest.json") {
        return Ok(());
    }
    let path = from.join("_gated/manifest.json");
    let bytes = std::fs::read(&path).map_err(|source| DeployError::Read {
        path: path.clone(),
        source,
    })?;
    let built = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|manifest| manifest.get("epoch").and_then(serde_json::Value::as_u64));
    match built {
        Some(built) if built != u64::from(configured) => Err(DeployError::StaleEpoch {
            dir: from.to_path_buf(),
            built,
            configured,
        }),
        _ => Ok(()),
    }
}

struct Job<'a> {
    root: &'a Path,
    args: &'a DeployArgs,
    settings: &'a DeployConfig,
    local: &'a [LocalFile],
    keep: u64,
    base_url: &'a str,
}

impl Job<'_> {
    async fn run<T: Target>(&self, target: &T, name: String) -> anyhow::Result<()> {
        let started = Instant::now();
        let remote = deploy::read_remote(target).await?;
        let now = jiff::Timestamp::now().as_second();
        let plan = deploy::plan(self.local, &remote.state, now, self.keep);
        if let RemoteSource::Listing { why } = &remote.source
            && !self.args.quiet
            && !remote.state.unknown.is_empty()
        {
            eprintln!(
                "note: {name}: {why}; every file there is uploaded again, and the manifest written \
                 for next time"
            );
        }
        if self.args.dry_run {
            print_plan(&plan, &name, self.args.verbose);
            println!("Dry run: nothing was changed.");
            return Ok(());
        }
        let removed = plan.capped_deletes();
        if !self.args.force {
            if matches!(remote.source, RemoteSource::Listing { .. }) && removed > 0 {
                return Err(DeployError::Unmanaged {
                    target: name,
                    count: removed,
                }
                .into());
            }
            if removed > self.settings.max_deletes {
                return Err(DeployError::TooManyDeletes {
                    count: removed,
                    max: self.settings.max_deletes,
                }
                .into());
            }
        }
        if plan.is_noop() {
            println!(
                "Nothing to deploy: {name} already holds this build ({} files).",
                thousands(plan.unchanged)
            );
            return Ok(());
        }
        if !self.args.quiet {
            eprintln!("Deploying to {name}: {}", counts(&plan));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let listener = {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    stop.store(true, Ordering::SeqCst);
                    eprintln!("\nstopping: the uploads under way finish, nothing more starts");
                }
            })
        };
        let reporter = Reporter::new(!self.args.quiet, plan.uploads.len() + plan.deletes.len());
        let result = deploy::execute(
            target,
            &plan,
            self.local,
            self.settings.concurrency,
            &reporter,
            &stop,
        )
        .await;
        reporter.finish();
        listener.abort();
        let done = result?;
        println!(
            "Deployed to {name} in {:.1} s: {} new, {} replaced, {} deleted ({} uploaded); {} unchanged{}.",
            started.elapsed().as_secs_f64(),
            plan.new_count(),
            done.uploaded - plan.new_count().min(done.uploaded),
            done.deleted,
            human_bytes(done.bytes),
            thousands(plan.unchanged),
            kept_note(&plan),
        );
        self.after(&plan).await
    }

    async fn after(&self, plan: &Plan) -> anyhow::Result<()> {
        let Some(command) = &self.settings.after else {
            return Ok(());
        };
        let changed = plan.changed_paths();
        if changed.is_empty() {
            if !self.args.quiet {
                println!("No file changed, so the after hook was not run.");
            }
            return Ok(());
        }
        let report = deploy::run_after(
            command,
            self.settings.after_line,
            self.root,
            &changed,
            &self.settings.target.to_string(),
            self.base_url,
        )?;
        if !self.args.quiet {
            println!("Ran the after hook with {} changed paths.", changed.len());
            for line in report.output.lines() {
                println!("  | {line}");
            }
        }
        Ok(())
    }
}

/// `3 new, 2 replaced (45 KB), 1 to delete, 1,234 unchanged`
fn counts(plan: &Plan) -> String {
    let new = plan.new_count();
    let mut parts = vec![
        format!("{new} new"),
        format!(
            "{} replaced ({})",
            plan.uploads.len() - new,
            human_bytes(plan.upload_bytes())
        ),
        format!("{} to delete", plan.deletes.len()),
        format!("{} unchanged", thousands(plan.unchanged)),
    ];
    if !plan.kept.is_empty() {
        parts.push(format!("{} replaced envelopes kept", plan.kept.len()));
    }
    parts.join(", ")
}

fn kept_note(plan: &Plan) -> String {
    let Some(until) = plan.kept.iter().map(|(_, until)| *until).max() else {
        return String::new();
    };
    let until =
        jiff::Timestamp::from_second(until).map_or_else(|_| until.to_string(), |t| t.to_string());
    format!(
        "; {} replaced envelopes kept for cached pages (the last until {until})",
        plan.kept.len()
    )
}

fn print_plan(plan: &Plan, name: &str, verbose: bool) {
    println!("Plan for {name}: {}", counts(plan));
    let limit = if verbose { usize::MAX } else { LISTED };
    let phases: Vec<Phase> = Phase::ALL
        .into_iter()
        .filter(|phase| plan.uploads_in(*phase).next().is_some())
        .collect();
    for (i, phase) in phases.iter().enumerate() {
        println!("  [{}/{}] {}", i + 1, phases.len(), phase.describe());
        let lines = plan.uploads_in(*phase).map(|upload| {
            let (verb, why) = match upload.reason {
                UploadReason::New => ("upload ", String::new()),
                UploadReason::Changed => ("replace", String::new()),
                UploadReason::HeadersChanged => ("replace", ", headers changed".to_owned()),
                UploadReason::Unverified => ("replace", ", unverified".to_owned()),
            };
            format!(
                "{verb}  /{} ({}{why})",
                upload.key,
                human_bytes(upload.size)
            )
        });
        print_limited(lines, limit);
    }
    if !plan.deletes.is_empty() {
        println!("  then delete");
        let lines = plan.deletes.iter().map(|delete| match delete.reason {
            DeleteReason::Removed => format!("delete   /{}", delete.key),
            DeleteReason::RetiredLongEnough => {
                format!(
                    "delete   /{} (replaced envelope, kept long enough)",
                    delete.key
                )
            }
        });
        print_limited(lines, limit);
    }
    if !plan.kept.is_empty() {
        println!("  keep (replaced envelopes that cached pages may still point at)");
        let lines = plan.kept.iter().map(|(key, until)| {
            let until = jiff::Timestamp::from_second(*until)
                .map_or_else(|_| until.to_string(), |t| t.to_string());
            format!("keep     /{key} (until {until})")
        });
        print_limited(lines, limit);
    }
}

fn print_limited(lines: impl Iterator<Item = String>, limit: usize) {
    let mut shown = 0;
    let mut more = 0;
    for line in lines {
        if shown < limit {
            println!("    {line}");
            shown += 1;
        } else {
            more += 1;
        }
    }
    if more > 0 {
        println!("    … and {more} more (--verbose lists them)");
    }
}
