//! Reading what the target holds, and carrying out a plan: phases one after another, uploads
//! within a phase in parallel, the deploy manifest written at each point where the truth
//! changes, deletions last.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

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

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Executed {
    pub uploaded: usize,
    pub bytes: u64,
    pub deleted: usize,
}

/// Carries out `plan`. `stop` is raised by Ctrl-C: uploads under way finish, none start, and
/// nothing is deleted.
pub async fn execute<T: Target>(
    target: &T,
    plan: &Plan,
    local: &[LocalFile],
    concurrency: usize,
    reporter: &Reporter,
    stop: &AtomicBool,
) -> Result<Executed, DeployError> {
    let mut done = Executed::default();
    if plan.is_noop() {
        return Ok(done);
    }
    let files: HashMap<&str, &LocalFile> = local.iter().map(|f| (f.key.as_str(), f)).collect();
    if !plan.uploads.is_empty() {
        write_state(target, &plan.state_while_uploading()).await?;
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
        let bytes = uploads.iter().map(|u| u.size).sum();
        reporter.phase(step, phases, phase.describe(), uploads.len(), bytes);
        futures_util::stream::iter(uploads)
            .map(|upload| async {
                if stop.load(Ordering::SeqCst) {
                    return Err(DeployError::Interrupted);
                }
                let file = files
                    .get(upload.key.as_str())
                    .ok_or_else(|| changed_under_us(&upload.key))?;
                let body = std::fs::read(&file.path).map_err(|source| DeployError::Read {
                    path: file.path.clone(),
                    source,
                })?;
                // The manifest will vouch for these bytes: they must be the ones planned.
                if sha256_hex(&body) != file.sha256 {
                    return Err(changed_under_us(&upload.key));
                }
                target
                    .put(&upload.key, body, &file.headers)
                    .await
                    .map_err(|source| upload_error(&upload.key, source))?;
                reporter.advance();
                Ok(upload.size)
            })
            .buffer_unordered(concurrency.max(1))
            .try_for_each(|size| {
                done.uploaded += 1;
                done.bytes += size;
                futures_util::future::ready(Ok(()))
            })
            .await?;
        if stop.load(Ordering::SeqCst) {
            return Err(DeployError::Interrupted);
        }
    }
    if plan.deletes.is_empty() {
        write_state(target, &plan.after).await?;
        return Ok(done);
    }
    write_state(target, &plan.state_while_deleting()).await?;
    reporter.deleting(plan.deletes.len());
    let failures: Vec<(String, TargetError)> = futures_util::stream::iter(&plan.deletes)
        .map(|delete| async move {
            let result = target.delete(&delete.key).await;
            reporter.advance();
            result.err().map(|e| (delete.key.clone(), e))
        })
        .buffer_unordered(concurrency.max(1))
        .filter_map(futures_util::future::ready)
        .collect()
        .await;
    done.deleted = plan.deletes.len() - failures.len();
    let mut last = plan.after.clone();
    last.unknown
        .extend(failures.iter().map(|(key, _)| key.clone()));
    write_state(target, &last).await?;
    let count = failures.len();
    match failures.into_iter().next() {
        Some((key, source)) => Err(DeployError::Delete {
            count,
            key,
            source: Box::new(source),
        }),
        None => Ok(done),
    }
}

async fn write_state<T: Target>(target: &T, state: &DeployState) -> Result<(), DeployError> {
    let headers = Headers {
        content_type: "application/json".to_owned(),
        cache_control: "no-store".to_owned(),
    };
    target
        .put(STATE_KEY, state.to_bytes(), &headers)
        .await
        .map_err(|source| upload_error(STATE_KEY, source))
}

fn upload_error(key: &str, source: TargetError) -> DeployError {
    match source {
        // Whole-target problems say so plainly: no one file is to blame.
        TargetError::Credentials { .. }
        | TargetError::NoBucket { .. }
        | TargetError::WrongRegion { .. } => DeployError::from(source),
        source => DeployError::Upload {
            key: key.to_owned(),
            source: Box::new(source),
        },
    }
}

fn changed_under_us(key: &str) -> DeployError {
    DeployError::Upload {
        key: key.to_owned(),
        source: Box::new(TargetError::Io {
            path: key.into(),
            source: std::io::Error::other(
                "the build changed while it was being deployed (was `gatehouse build` running?)",
            ),
        }),
    }
}
