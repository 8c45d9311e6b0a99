//! Reading what the target holds, and carrying out a plan: phases one after another, uploads
//! within a phase in parallel, the deploy manifest written at each point where the truth
//! changes, deletions last.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};

use super::DeployError;
use super::headers::Headers;
use super::local::{LocalFile, sha256_hex};
use super::plan::{Phase, Plan};
use super::progress::Reporter;
use super::state::{DeployState, STATE_KEY};
use super::target::{Target, TargetError};

/// How the target's contents were learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteSource {
    /// From the deploy manifest a previous deploy left.
    Manifest,
    /// By listing the target, because of `why`: every file found counts as unverified.
    Listing { why: String },
}

#[derive(Debug, Clone)]
pub struct Remote {
    pub state: DeployState,
    pub source: RemoteSource,
}

/// What the target holds, from its deploy manifest, else from a listing.
pub async fn read_remote<T: Target>(target: &T) -> Result<Remote, DeployError> {
    let why = match target.get(STATE_KEY).await? {
        Some(bytes) => match DeployState::parse(&bytes) {
            Ok(state) => {
                return Ok(Remote {
                    state,
                    source: RemoteSource::Manifest,
                });
            }
            Err(problem) => format!("its deploy manifest {STATE_KEY} is unreadable: {problem}"),
        },
        None => format!("it has no deploy manifest ({STATE_KEY}) yet"),
    };
    let keys = target.list().await?;
    Ok(Remote {
        state: DeployState::from_listing(keys),
        source: RemoteSource::Listing { why },
    })
}

#[derive(Debug, Default)]
pub struct Executed {
    /// Bytes uploaded, the deploy manifest not counted.
    pub bytes: u64,
    pub deleted: usize,
    /// Old files that could not be deleted; the manifest lists them as unknown, so the next
    /// deploy tries again.
    pub failed_deletes: Vec<(String, TargetError)>,
    /// The manifest as the deploy left it.
    pub state: DeployState,
}

/// A phase that ran this long is followed by a checkpoint of the manifest, so a deploy cut off
/// later does not upload its files again. Short phases skip it: on a large site the manifest
/// is bigger than a one-page edit.
const CHECKPOINT_AFTER: Duration = Duration::from_secs(5);

/// Carries out `plan`. `stop` is raised by Ctrl-C: no upload starts after it, and nothing is
/// deleted.
pub async fn execute<T: Target>(
    target: &T,
    plan: &Plan,
    local: &[LocalFile],
    concurrency: usize,
    reporter: &Reporter,
    stop: &AtomicBool,
) -> Result<Executed, DeployError> {
    let mut done = Executed {
        state: plan.after.clone(),
        ..Executed::default()
    };
    if plan.is_noop() {
        return Ok(done);
    }
    let files: HashMap<&str, &LocalFile> = local.iter().map(|f| (f.key.as_str(), f)).collect();
    if !plan.uploads.is_empty() {
        write_state(target, &plan.state_while_uploading(), Stage::BeforeUploads).await?;
    }
    let phases = Phase::ALL
        .iter()
        .filter(|phase| plan.uploads_in(**phase).next().is_some())
        .count();
    let mut step = 0;
    for phase in Phase::ALL {
        let uploads: Vec<_> = plan.uploads_in(phase).collect();
        if uploads.is_empty() {
            continue;
        }
        step += 1;
        let started = Instant::now();
        let bytes = uploads.iter().map(|u| u.size).sum();
        reporter.phase(step, phases, phase.describe(), uploads.len(), bytes);
        futures_util::stream::iter(uploads)
            .map(|upload| async {
                if stop.load(Ordering::SeqCst) {
                    return Err(DeployError::Interrupted);
                }
                let file = *files
                    .get(upload.key.as_str())
                    .ok_or_else(|| changed_under_us(&upload.key))?;
                let path = file.path.clone();
                let body = tokio::task::spawn_blocking(move || std::fs::read(path))
                    .await
                    .map_err(|e| std::io::Error::other(e.to_string()))
                    .and_then(|read| read)
                    .map_err(|cause| DeployError::Read {
                        path: file.path.clone(),
                        cause,
                    })?;
                // The manifest will vouch for these bytes: they must be the ones planned.
                if sha256_hex(&body) != file.sha256 {
                    return Err(changed_under_us(&upload.key));
                }
                target
                    .put(&upload.key, body, Some(&file.sha256), &file.headers)
                    .await
                    .map_err(|cause| upload_error(&upload.key, cause))?;
                super::crash::wrote(phase.name());
                reporter.advance();
                Ok(upload.size)
            })
            .buffer_unordered(concurrency.max(1))
            .try_for_each(|size| {
                done.bytes += size;
                futures_util::future::ready(Ok(()))
            })
            .await?;
        if stop.load(Ordering::SeqCst) {
            return Err(DeployError::Interrupted);
        }
        if started.elapsed() >= CHECKPOINT_AFTER && step < phases {
            write_state(target, &plan.state_after_phase(phase), Stage::Checkpoint).await?;
        }
    }
    if plan.deletes.is_empty() {
        write_state(target, &plan.after, Stage::Finish).await?;
        return Ok(done);
    }
    if stop.load(Ordering::SeqCst) {
        return Err(DeployError::Interrupted);
    }
    write_state(target, &plan.state_while_deleting(), Stage::BeforeDeletes).await?;
    reporter.deleting(plan.deletes.len());
    done.failed_deletes = futures_util::stream::iter(&plan.deletes)
        .map(|delete| async move {
            let result = target.delete(&delete.key).await;
            super::crash::wrote("deletes");
            reporter.advance();
            result.err().map(|e| (delete.key.clone(), e))
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(futures_util::future::ready)
        .collect()
        .await;
    done.deleted = plan.deletes.len() - done.failed_deletes.len();
    done.state
        .unknown
        .extend(done.failed_deletes.iter().map(|(key, _)| key.clone()));
    write_state(target, &done.state, Stage::Finish).await?;
    Ok(done)
}

/// Records, in the manifest a deploy left, that the after hook has purged every changed path.
pub async fn mark_purged<T: Target>(target: &T, left: &DeployState) -> Result<(), DeployError> {
    let mut state = left.clone();
    state.unpurged.clear();
    write_state(target, &state, Stage::Purged).await
}

/// When the manifest is written, which says what a failure to write it leaves behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    BeforeUploads,
    Checkpoint,
    BeforeDeletes,
    Finish,
    Purged,
}

impl Stage {
    pub fn consequence(self) -> &'static str {
        match self {
            Stage::BeforeUploads => "nothing was changed",
            Stage::Checkpoint | Stage::BeforeDeletes => {
                "the new files are up and the live site is whole, but nothing was deleted; run \
                 `gatehouse deploy` again to finish"
            }
            Stage::Finish => {
                "the new site is live, but the target's record of it is out of date, so the next \
                 deploy checks those files again"
            }
            Stage::Purged => {
                "the after hook succeeded, but the next deploy will hand it the same paths again"
            }
        }
    }
}

async fn write_state<T: Target>(
    target: &T,
    state: &DeployState,
    stage: Stage,
) -> Result<(), DeployError> {
    let headers = Headers {
        content_type: "application/json".to_owned(),
        cache_control: "no-store".to_owned(),
    };
    let written = target
        .put(STATE_KEY, state.to_bytes(), None, &headers)
        .await;
    if written.is_ok() {
        super::crash::wrote("manifest");
    }
    written.map_err(|cause| {
        // Before the first upload nothing is half done: a whole-target problem is said
        // plainly.
        if stage == Stage::BeforeUploads && cause.concerns_whole_target() {
            DeployError::from(cause)
        } else {
            DeployError::Manifest {
                stage,
                cause: Box::new(cause),
            }
        }
    })
}

fn upload_error(key: &str, cause: TargetError) -> DeployError {
    // A whole-target problem is said plainly: no one file is to blame.
    if cause.concerns_whole_target() {
        DeployError::from(cause)
    } else {
        DeployError::Upload {
            key: key.to_owned(),
            cause: Box::new(cause),
        }
    }
}

fn changed_under_us(key: &str) -> DeployError {
    DeployError::Upload {
        key: key.to_owned(),
        cause: Box::new(TargetError::Io {
            path: key.into(),
            cause: std::io::Error::other(
                "the build changed while it was being deployed (was `gatehouse build` running?)",
            ),
        }),
    }
}
