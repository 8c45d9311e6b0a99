//! `[deploy]` (DESIGN §9): where `gatehouse deploy` publishes the built site, the headers it
//! sets, and the hook it runs afterwards. Credentials never live here: they come from the
//! usual `AWS_*` environment variables.

use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{RawDeploy, RawHeaderRule};
use super::validate::Checker;
use crate::diagnostic::line_of;
use crate::glob::Glob;

/// More deletions than this in one deploy need `--force`: an incomplete build must not empty
/// the live site.
pub const DEFAULT_MAX_DELETES: usize = 256;
/// Uploads in flight at once.
pub const DEFAULT_CONCURRENCY: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployConfig {
    pub target: DeployTarget,
    /// A custom S3 endpoint such as `https://<account>.r2.cloudflarestorage.com`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Address buckets as `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub path_style: Option<bool>,
    /// The shell command run after a deploy that changed something (a CDN purge).
    pub after: Option<String>,
    /// The site.toml line of `after`: errors name it there, never quoting the command, which
    /// may carry a token.
    pub after_line: Option<usize>,
    pub max_deletes: usize,
    pub concurrency: usize,
    /// How long a replaced envelope stays in the target; `None` means `[keys] grace`.
    pub keep_envelopes: Option<u64>,
    pub headers: Vec<HeaderRule>,
}

/// Where the site goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeployTarget {
    /// A folder served by a web server (`file:///var/www/site`).
    Dir(PathBuf),
    /// A bucket of an S3-compatible store, and the key prefix inside it (no slashes at either
    /// end; empty for the bucket's root).
    S3 { bucket: String, prefix: String },
}

/// Headers for the files whose URL path matches `path`; the first matching rule wins, and each
/// header it leaves out keeps its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRule {
    pub path: Glob,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
}

impl DeployTarget {
    /// Reads `s3://bucket/prefix`, `file:///abs/dir`, or a folder path (relative to `root`).
    pub fn parse(text: &str, root: &Path) -> Result<DeployTarget, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            check_bucket(bucket)?;
            let prefix = prefix.trim_matches('/');
            if prefix.split('/').any(|part| part == ".." || part == ".") || prefix.contains("//") {
                return Err(format!(
                    "target `{text}`: the prefix may not hold `.`, `..` or empty parts"
                ));
            }
            return Ok(DeployTarget::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if let Some(path) = text.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "target `{text}`: a file:// URL needs an absolute path, e.g. `file:///var/www/site`"
                ));
            }
            return Ok(DeployTarget::Dir(PathBuf::from(path)));
        }
        if text.is_empty() || text.contains("://") {
            return Err(format!(
                "target `{text}` must be `s3://bucket/prefix`, `file:///path` or a folder"
            ));
        }
        Ok(DeployTarget::Dir(root.join(text)))
    }
}

impl std::fmt::Display for DeployTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeployTarget::Dir(path) => write!(f, "file://{}", path.display()),
            DeployTarget::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            DeployTarget::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// S3's bucket naming rules, so a typo is caught here rather than as a signature error.
fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bucket `{bucket}` is not a valid name: 3 to 63 lowercase letters, digits, `-` and `.`"
        ))
    }
}

pub(super) fn check_deploy(
    check: &mut Checker<'_>,
    root: &Path,
    raw: &RawDeploy,
) -> Option<DeployConfig> {
    let before = check.problems.len();
    let target = DeployTarget::parse(raw.target.get_ref(), root)
        .map_err(|message| check.at(&raw.target, format!("[deploy] {message}")))
        .ok();
    let endpoint = raw.endpoint.as_ref().and_then(|endpoint| {
        let text = endpoint.get_ref().trim().trim_end_matches('/').to_owned();
        check_endpoint(&text)
            .map_err(|message| check.at(endpoint, format!("[deploy] endpoint {message}")))
            .ok()
            .map(|()| text)
    });
    if endpoint.is_some() && matches!(target, Some(DeployTarget::Dir(_))) {
        check.at(
            raw.endpoint.as_ref()?,
            "[deploy] endpoint is for s3:// targets; a folder target has none",
        );
    }
    let region = raw.region.as_ref().and_then(|region| {
        let text = region.get_ref().trim();
        let ok = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            check.at(
                region,
                format!("[deploy] region `{text}` may use only letters, digits, `-` and `_`"),
            );
        }
        ok.then(|| text.to_owned())
    });
    let max_deletes = count(check, &raw.max_deletes, "max_deletes", 0, u32::MAX as i64)
        .unwrap_or(DEFAULT_MAX_DELETES);
    let concurrency =
        count(check, &raw.concurrency, "concurrency", 1, 64).unwrap_or(DEFAULT_CONCURRENCY);
    let keep_envelopes = check.duration(&raw.keep_envelopes, "[deploy] keep_envelopes");
    let after = raw.after.as_ref().and_then(|after| {
        let command = after.get_ref().trim();
        if command.is_empty() {
            check.at(
                after,
                "[deploy] after is empty: remove it or give a command",
            );
            return None;
        }
        Some(command.to_owned())
    });
    let after_line = raw
        .after
        .as_ref()
        .map(|after| line_of(check.text, after.span().start));
    let headers = raw
        .headers
        .iter()
        .filter_map(|rule| check_rule(check, rule))
        .collect();
    if check.problems.len() > before {
        return None;
    }
    Some(DeployConfig {
        target: target?,
        endpoint,
        region,
        path_style: raw.path_style,
        after,
        after_line,
        max_deletes,
        concurrency,
        keep_envelopes,
        headers,
    })
}

fn count(
    check: &mut Checker<'_>,
    value: &Option<Spanned<i64>>,
    what: &str,
    low: i64,
    high: i64,
) -> Option<usize> {
    let value = value.as_ref()?;
    let n = *value.get_ref();
    if !(low..=high).contains(&n) {
        check.at(
            value,
            format!("[deploy] {what} must be between {low} and {high}"),
        );
        return None;
    }
    usize::try_from(n).ok()
}

/// `scheme://host[:port]`, nothing after: requests are signed for the bucket's own paths.
fn check_endpoint(text: &str) -> Result<(), String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("`{text}` must be an http(s) URL, e.g. `https://s3.example.com`"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "`{text}` must be only `scheme://host[:port]`, without a path or credentials"
        ));
    }
    Ok(())
}

fn check_rule(check: &mut Checker<'_>, raw: &RawHeaderRule) -> Option<HeaderRule> {
    let path = Glob::new(raw.path.get_ref())
        .map_err(|message| check.at(&raw.path, format!("[[deploy.headers]] path: {message}")))
        .ok();
    let cache_control = header_value(check, &raw.cache_control, "cache_control");
    let content_type = header_value(check, &raw.content_type, "content_type");
    if raw.cache_control.is_none() && raw.content_type.is_none() {
        check.at(
            &raw.path,
            "[[deploy.headers]] sets nothing: give cache_control, content_type or both",
        );
        return None;
    }
    Some(HeaderRule {
        path: path?,
        cache_control: cache_control.ok()?,
        content_type: content_type.ok()?,
    })
}

/// A header value: printable ASCII, so it cannot split into a second header.
fn header_value(
    check: &mut Checker<'_>,
    value: &Option<Spanned<String>>,
    what: &str,
) -> Result<Option<String>, ()> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = value.get_ref().trim();
    if text.is_empty() || !text.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        check.at(
            value,
            format!("[[deploy.headers]] {what} must be printable ASCII on one line"),
        );
        return Err(());
    }
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::DeployTarget;

    #[test]
    fn targets_are_s3_urls_file_urls_or_folders() {
        let root = Path::new("/site");
        assert_eq!(
            DeployTarget::parse("s3://my-site/www/", root),
            Ok(DeployTarget::S3 {
                bucket: "my-site".into(),
                prefix: "www".into()
            })
        );
        assert_eq!(
            DeployTarget::parse("s3://my-site", root),
            Ok(DeployTarget::S3 {
                bucket: "my-site".into(),
                prefix: String::new()
            })
        );
        assert_eq!(
            DeployTarget::parse("file:///var/www/site", root),
            Ok(DeployTarget::Dir(PathBuf::from("/var/www/site")))
        );
        assert_eq!(
            DeployTarget::parse("out/live", root),
            Ok(DeployTarget::Dir(PathBuf::from("/site/out/live")))
        );
        assert!(DeployTarget::parse("s3://My_Bucket/x", root).is_err());
        assert!(DeployTarget::parse("s3://ok-bucket/a/../b", root).is_err());
        assert!(DeployTarget::parse("file://relative", root).is_err());
        assert!(DeployTarget::parse("gs://bucket", root).is_err());
    }

    #[test]
    fn targets_display_as_urls() {
        let target = DeployTarget::S3 {
            bucket: "b".repeat(3),
            prefix: "p/q".into(),
        };
        assert_eq!(target.to_string(), "s3://bbb/p/q");
    }
}
