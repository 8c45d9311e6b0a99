//! Where a deploy writes: a trait with two implementations, a folder and an S3-compatible
//! bucket. Keys are paths below the site root (`course/a/index.html`); each target maps them
//! to its own files or objects.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use super::headers::Headers;

/// A file of the build to upload. Targets read it as they send it, never whole when it is big,
/// and check that its bytes still hash to `sha256`: the deploy manifest will vouch for them.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub path: &'a Path,
    pub size: u64,
    /// Lowercase hex SHA-256 of the bytes, as the plan was made with.
    pub sha256: &'a str,
}

/// One place a site can be deployed to.
// Used only through generics inside one task, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Target {
    /// The file at `key`, or `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError>;
    /// Every key in the target.
    async fn list(&self) -> Result<Vec<String>, TargetError>;
    /// Writes `body` at `key` as a whole: a reader sees the old bytes or the new, never part.
    /// `sha256` is the body's hash when the caller already knows it.
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: Option<&str>,
        headers: &Headers,
    ) -> Result<(), TargetError>;
    /// Writes the file `source` at `key`, as [`Target::put`] does, reading it as it goes.
    /// A long upload checks `stop` (Ctrl-C) between its parts, and gives up cleanly when it is
    /// raised. Fails with [`TargetError::changed`] when the bytes no longer match the hash.
    async fn put_file(
        &self,
        key: &str,
        source: &Source<'_>,
        headers: &Headers,
        stop: &AtomicBool,
    ) -> Result<(), TargetError>;
    /// Removes `key`; a key that is already gone is not an error.
    async fn delete(&self, key: &str) -> Result<(), TargetError>;
    /// The largest file the target can hold, if it has a limit.
    fn max_file_size(&self) -> Option<u64> {
        None
    }
    /// How many bytes of a file of `size` an upload holds in memory at once: the deploy keeps
    /// the sum over the uploads in flight bounded.
    fn memory_for(&self, _size: u64) -> u64 {
        0
    }
}

/// Why the target refused or could not be reached. Messages say what to fix and never hold a
/// credential.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(
        "{endpoint} refused the credentials ({code}: {message}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that the key may read and write bucket `{bucket}`"
    )]
    Credentials {
        endpoint: String,
        bucket: String,
        code: String,
        message: String,
    },
    #[error(
        "bucket `{bucket}` does not exist at {endpoint}: create it, or fix [deploy] target in site.toml"
    )]
    NoBucket { bucket: String, endpoint: String },
    #[error("bucket `{bucket}` is in another region{}: set [deploy] region in site.toml", .region.as_ref().map(|r| format!(" (`{r}`)")).unwrap_or_default())]
    WrongRegion {
        bucket: String,
        region: Option<String>,
    },
    #[error(
        "{endpoint} says this machine's clock is wrong ({message}): requests are signed with the time, so set the clock (NTP) and run again"
    )]
    Clock { endpoint: String, message: String },
    #[error("{endpoint} redirects to {location}: set [deploy] endpoint to where the store answers")]
    Redirect { endpoint: String, location: String },
    #[error("{endpoint} answered something gatehouse cannot use: {detail}")]
    Protocol { endpoint: String, detail: String },
    #[error("cannot build a request for {what}: {detail}")]
    Request { what: String, detail: String },
    #[error(
        "cannot reach {endpoint} ({detail}; tried {attempts} {}): check [deploy] endpoint and the network", if *.attempts == 1 { "time" } else { "times" }
    )]
    Unreachable {
        endpoint: String,
        detail: String,
        attempts: u32,
    },
    #[error("{endpoint} answered {status} for {what}{}{}", describe_code(.code, .message), tries(*.attempts))]
    Server {
        endpoint: String,
        what: String,
        status: u16,
        code: String,
        message: String,
        /// How many times the request was sent (transient failures are retried).
        attempts: u32,
    },
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{path} changed while it was being deployed (was `gatehouse build` running?): build, then deploy again"
    )]
    Changed { path: PathBuf },
    #[error("interrupted")]
    Interrupted,
}

impl TargetError {
    /// The file at `path` no longer has the bytes the plan was made with.
    pub fn changed(path: &Path) -> TargetError {
        TargetError::Changed {
            path: path.to_path_buf(),
        }
    }

    /// Whether the failure is about the whole target (credentials, bucket, region, clock)
    /// rather than one file: the message then names the target alone.
    pub fn concerns_whole_target(&self) -> bool {
        matches!(
            self,
            TargetError::Credentials { .. }
                | TargetError::NoBucket { .. }
                | TargetError::WrongRegion { .. }
                | TargetError::Clock { .. }
        )
    }
}

fn tries(attempts: u32) -> String {
    if attempts > 1 {
        format!(", {attempts} times")
    } else {
        String::new()
    }
}

fn describe_code(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({code})"),
        (true, false) => format!(" ({message})"),
        (false, false) => format!(" ({code}: {message})"),
    }
}
