//! Reading what the target holds, and carrying out a plan: phases one after another, uploads
//! within a phase in parallel (within a memory budget), the deploy manifest sealed and written
//! at each point where the truth changes, deletions last.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::Semaphore;

use super::DeployError;
use super::headers::Headers;
use super::local::LocalFile;
use super::plan::{Phase, Plan};
use super::progress::Reporter;
use super::sealed::ManifestKey;
use super::state::{DeployState, LEGACY_STATE_KEY, STATE_KEY};
use super::target::{Source, Target, TargetError};

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

/// What the target holds, from its sealed deploy manifest, else from the plain one an older
/// gatehouse left, else from a listing. A manifest that does not open (sealed with another
/// master secret, or damaged) is not an error: the target is listed, and the note says why.
pub async fn read_remote<T: Target>(target: &T, key: &ManifestKey) -> Result<Remote, DeployError> {
    // Looked for on every deploy, so one whose deletion failed is deleted by the next.
    let legacy = target.get(LEGACY_STATE_KEY).await?;
    let found = |mut state: DeployState| {
        state.legacy_manifest = legacy.is_some();
        Ok(Remote {
            state,
            source: RemoteSource::Manifest,
        })
    };
    let why = match (target.get(STATE_KEY).await?, &legacy) {
        (Some(bytes), _) => match DeployState::open(key, &bytes) {
            Ok(state) => return found(state),
            Err(problem) => format!("its deploy manifest {STATE_KEY} {problem}"),
        },
        (None, Some(bytes)) => match DeployState::parse(bytes) {
            Ok(state) => return found(state),
            Err(problem) => format!(
                "the deploy manifest an older gatehouse left ({LEGACY_STATE_KEY}) is unreadable: {problem}"
            ),
        },
        (None, None) => format!("it has no deploy manifest ({STATE_KEY}) yet"),
    };
    let mut state = DeployState::from_listing(target.list().await?);
    state.legacy_manifest = legacy.is_some();
    Ok(Remote {
        state,
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

/// At most this many MiB of the build's files are held in memory at once, over all uploads in
/// flight: a small file whole while it uploads, a big one a part at a time (64 MiB). So eight
/// uploads of 60 MiB files, or four big videos, do not add up to gigabytes.
const MEMORY_BUDGET_MIB: u32 = 256;
const MIB: u64 = 1024 * 1024;

/// How a deploy is carried out.
pub struct Execution<'a> {
    /// Uploads (and deletions) in flight at once.
    pub concurrency: usize,
    pub reporter: &'a Reporter,
    /// Raised by Ctrl-C: no upload starts after it, a multipart upload stops between its
    /// parts, and nothing is deleted.
    pub stop: &'a AtomicBool,
    /// Seals the deploy manifest.
    pub key: &'a ManifestKey,
}

/// Carries out `plan`.
pub async fn execute<T: Target>(
    target: &T,
    plan: &Plan,
    local: &[LocalFile],
    how: &Execution<'_>,
) -> Result<Executed, DeployError> {
    let Execution {
        concurrency,
        reporter,
        stop,
        key,
    } = *how;
    let mut done = Executed {
        state: plan.after.clone(),
        ..Executed::default()
    };
    if plan.is_noop() {
        return Ok(done);
    }
    let files: HashMap<&str, &LocalFile> = local.iter().map(|f| (f.key.as_str(), f)).collect();
    if !plan.uploads.is_empty() {
        write_state(
            target,
            key,
            &plan.state_while_uploading(),
            Stage::BeforeUploads,
        )
        .await?;
    }
    let phases = Phase::ALL
        .iter()
        .filter(|phase| plan.uploads_in(**phase).next().is_some())
        .count();
    let budget = Semaphore::new(MEMORY_BUDGET_MIB as usize);
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
                let file = *files
                    .get(upload.key.as_str())
                    .ok_or_else(|| changed_under_us(&upload.key))?;
                let mib = target.memory_for(file.size).div_ceil(MIB);
                let _held = budget
                    .acquire_many(
                        u32::try_from(mib)
                            .unwrap_or(u32::MAX)
                            .min(MEMORY_BUDGET_MIB),
                    )
                    .await
                    .expect("the budget is never closed");
                if stop.load(Ordering::SeqCst) {
                    return Err(DeployError::Interrupted);
                }
                let source = Source {
                    path: &file.path,
                    size: file.size,
                    sha256: &file.sha256,
                };
                target
                    .put_file(&upload.key, &source, &file.headers, stop)
                    .await
                    .map_err(|cause| upload_error(&upload.key, cause))?;
                super::crash::wrote(phase.name());
                reporter.advance();
                Ok(upload.size)
            })
            .buffer_unordered(concurrency.max(1))
            // On the first failure the others are told to stop, and each finishes or abandons
            // its upload (a multipart one is aborted, so the bucket keeps no stray parts),
            // rather than being dropped halfway.
            .fold(Ok(()), |outcome: Result<(), DeployError>, result| {
                let outcome = match (outcome, result) {
                    (Ok(()), Ok(size)) => {
                        done.bytes += size;
                        Ok(())
                    }
                    (Ok(()), Err(error)) => {
                        stop.store(true, Ordering::SeqCst);
                        Err(error)
                    }
                    (Err(first), Ok(size)) => {
                        done.bytes += size;
                        Err(first)
                    }
                    (Err(first), Err(_)) => Err(first),
                };
                futures_util::future::ready(outcome)
            })
            .await?;
        if stop.load(Ordering::SeqCst) {
            return Err(DeployError::Interrupted);
        }
        if started.elapsed() >= CHECKPOINT_AFTER && step < phases {
            write_state(
                target,
                key,
                &plan.state_after_phase(phase),
                Stage::Checkpoint,
            )
            .await?;
        }
    }
    if !plan.deletes.is_empty() {
        if stop.load(Ordering::SeqCst) {
            return Err(DeployError::Interrupted);
        }
        write_state(
            target,
            key,
            &plan.state_while_deleting(),
            Stage::BeforeDeletes,
        )
        .await?;
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
    }
    write_state(target, key, &done.state, Stage::Finish).await?;
    // Only now that the sealed manifest says everything the plain one did: every deploy looks
    // for the plain one, so if this fails the next deploy deletes it.
    if plan.before.legacy_manifest
        && let Err(error) = target.delete(LEGACY_STATE_KEY).await
    {
        done.failed_deletes
            .push((LEGACY_STATE_KEY.to_owned(), error));
    }
    Ok(done)
}

/// Records, in the manifest a deploy left, that the after hook has purged every changed path.
pub async fn mark_purged<T: Target>(
    target: &T,
    key: &ManifestKey,
    left: &DeployState,
) -> Result<(), DeployError> {
    let mut state = left.clone();
    state.unpurged.clear();
    write_state(target, key, &state, Stage::Purged).await
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
    key: &ManifestKey,
    state: &DeployState,
    stage: Stage,
) -> Result<(), DeployError> {
    let headers = Headers {
        content_type: "application/octet-stream".to_owned(),
        cache_control: "no-store".to_owned(),
    };
    let sealed = state.seal(key).map_err(|_| DeployError::Manifest {
        stage,
        cause: Box::new(TargetError::Request {
            what: "the deploy manifest".to_owned(),
            detail: "the system's random source failed while sealing it".to_owned(),
        }),
    })?;
    let written = target.put(STATE_KEY, sealed, None, &headers).await;
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
    match cause {
        TargetError::Interrupted => DeployError::Interrupted,
        // A whole-target problem is said plainly: no one file is to blame.
        cause if cause.concerns_whole_target() => DeployError::from(cause),
        cause => DeployError::Upload {
            key: key.to_owned(),
            cause: Box::new(cause),
        },
    }
}

fn changed_under_us(key: &str) -> DeployError {
    DeployError::Upload {
        key: key.to_owned(),
        cause: Box::new(TargetError::changed(std::path::Path::new(key))),
    }
}
