//! `gatehouse deploy` (DESIGN §9): publish the built site to a folder or an S3-compatible
//! bucket, uploading only what changed, in an order that never leaves the live site pointing
//! at a file that is not there, with deletions last and capped.
//!
//! The stages are plain functions: [`local::scan`] the build, [`read_remote`] the target's
//! deploy manifest (or list the target), [`plan::plan`] the difference, then [`execute`] it.
//! The manifest is stored sealed ([`sealed`]) with a key derived from the master secret.

mod crash;
mod dir;
mod headers;
mod hook;
mod local;
mod lock;
mod plan;
mod progress;
mod run;
pub mod s3;
mod sealed;
mod state;
mod target;

use std::path::PathBuf;

pub use dir::DirTarget;
pub use headers::{ASSET, Headers, IMMUTABLE, SHORT, default_cache_control, headers_for};
pub use hook::{HookReport, run_after};
pub use local::{LocalFile, check_epoch, hash_file, scan, sha256_hex};
pub use lock::{LOCK_KEY, Lock, acquire, keep_renewed};
pub use plan::{Delete, DeleteReason, Phase, Plan, Settings, Upload, UploadReason, plan};
pub use progress::{Reporter, human_bytes};
pub use run::{
    Executed, Execution, Remote, RemoteSource, Stage, execute, mark_purged, read_remote,
};
pub use s3::{Credentials, S3Settings, S3Target};
pub use sealed::{ManifestKey, Unsealed};
pub use state::{DeployState, LEGACY_STATE_KEY, STATE_KEY};
pub use target::{Source, Target, TargetError};

use crate::build::BUILD_MARKER;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(
        "{0} is not a gatehouse build (it has no {BUILD_MARKER} file): run `gatehouse build` first, or point --from at the build's folder"
    )]
    NotABuild(PathBuf),
    #[error(
        "cannot deploy {0}: its name is not valid UTF-8 or has a `\\`, `.` or `..` part; rename it"
    )]
    BadName(PathBuf),
    #[error(
        "cannot deploy {0}: it is not a regular file (a symbolic link?); a build writes only files"
    )]
    NotAFile(PathBuf),
    #[error("cannot read {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "the build in {dir} was sealed with keys epoch {built}, but site.toml says epoch {configured}: run `gatehouse build` before deploying"
    )]
    StaleEpoch {
        dir: PathBuf,
        built: u64,
        configured: u32,
    },
    #[error(
        "this deploy would delete {count} files, more than max_deletes ({max}): check that the build is complete (`gatehouse deploy --dry-run` lists them), then run again with --force or raise [deploy] max_deletes"
    )]
    TooManyDeletes { count: usize, max: usize },
    #[error(
        "{target} holds {} that {} not in this build ({examples}), and no deploy manifest ({STATE_KEY}) says gatehouse put {} there: deploying would delete {}. Check the target (`gatehouse deploy --dry-run --verbose` lists them all), then run again with --force", files(*.count), if *.count == 1 { "is" } else { "are" }, them(*.count), them(*.count)
    )]
    Unmanaged {
        target: String,
        count: usize,
        /// The first few, for the message.
        examples: String,
    },
    #[error("refusing to deploy into {target}: {why}; choose a folder of its own")]
    UnsafeTarget { target: PathBuf, why: &'static str },
    #[error(
        "{key} is {size} bytes, more than the target can hold in one file ({max} bytes); leave it out of the build or serve it from elsewhere"
    )]
    TooLarge { key: String, size: u64, max: u64 },
    #[error("{0}")]
    Locked(String),
    #[error(transparent)]
    Target(Box<TargetError>),
    #[error(
        "could not upload {key}: {cause}. Nothing was deleted and the live site is whole: its pages point only at files that are there. Run `gatehouse deploy` again to finish"
    )]
    Upload {
        key: String,
        cause: Box<TargetError>,
    },
    #[error("could not write the deploy manifest ({STATE_KEY}): {cause}; {}", .stage.consequence())]
    Manifest {
        stage: Stage,
        cause: Box<TargetError>,
    },
    #[error(
        "interrupted before the deploy finished. The live site is whole: its pages point only at files that are there. Run `gatehouse deploy` again to finish"
    )]
    Interrupted,
    #[error(
        "the new site is live, but {} could not be deleted (first {key}: {cause}); the next deploy tries again", old_files(*.count)
    )]
    Delete {
        count: usize,
        key: String,
        cause: Box<TargetError>,
    },
    #[error("the after hook {0}")]
    Hook(String),
}

fn files(count: usize) -> String {
    if count == 1 {
        "1 file".to_owned()
    } else {
        format!("{count} files")
    }
}

fn them(count: usize) -> &'static str {
    if count == 1 { "it" } else { "them" }
}

fn old_files(count: usize) -> String {
    if count == 1 {
        "1 old file".to_owned()
    } else {
        format!("{count} old files")
    }
}

impl From<TargetError> for DeployError {
    fn from(error: TargetError) -> DeployError {
        DeployError::Target(Box::new(error))
    }
}

/// A key is a relative `/`-separated path with no empty, `.` or `..` parts and no control
/// characters: it can name nothing outside the target, whatever the target is.
pub fn is_safe_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::is_safe_key;

    #[test]
    fn keys_cannot_leave_the_target() {
        for good in [
            "index.html",
            "_gated/a/b.bin",
            ".well-known/security.txt",
            "a..b",
        ] {
            assert!(is_safe_key(good), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "a/./b",
            "a\\b",
            "a\nb",
        ] {
            assert!(!is_safe_key(bad), "{bad:?}");
        }
    }
}
