//! Where a deploy writes: a trait with two implementations, a folder and an S3-compatible
//! bucket. Keys are paths below the site root (`course/a/index.html`); each target maps them
//! to its own files or objects.

use std::path::PathBuf;

use super::headers::Headers;

/// One place a site can be deployed to.
// Used only through generics inside one task, so the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Target {
    /// The file at `key`, or `None` when there is none.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError>;
    /// Every key in the target.
    async fn list(&self) -> Result<Vec<String>, TargetError>;
    /// Writes `body` at `key` as a whole: a reader sees the old bytes or the new, never part.
    async fn put(&self, key: &str, body: Vec<u8>, headers: &Headers) -> Result<(), TargetError>;
    /// Removes `key`; a key that is already gone is not an error.
    async fn delete(&self, key: &str) -> Result<(), TargetError>;
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
        "cannot reach {endpoint} ({detail}; tried {attempts} times): check [deploy] endpoint and the network"
    )]
    Unreachable {
        endpoint: String,
        detail: String,
        attempts: u32,
    },
    #[error("{endpoint} answered {status} for {what}{}", describe_code(.code, .message))]
    Server {
        endpoint: String,
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn describe_code(code: &str, message: &str) -> String {
    match (code.is_empty(), message.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({code})"),
        (true, false) => format!(" ({message})"),
        (false, false) => format!(" ({code}: {message})"),
    }
}
