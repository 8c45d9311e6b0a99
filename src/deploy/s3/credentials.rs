//! S3 credentials, found where every S3 tool looks: `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, else the shared credentials file
//! (`AWS_SHARED_CREDENTIALS_FILE`, or `~/.aws/credentials`) under profile `AWS_PROFILE` or
//! `default`. Never from site.toml, which is committed.

use std::fmt;
use std::path::PathBuf;

pub struct Credentials {
    pub access_key_id: String,
    secret_access_key: String,
    pub(super) session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl Credentials {
    pub fn new(access_key_id: String, secret: String, session_token: Option<String>) -> Self {
        Credentials {
            access_key_id,
            secret_access_key: secret,
            session_token,
        }
    }

    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// From the environment, else the shared credentials file. The error says where it
    /// looked.
    pub fn find() -> Result<Credentials, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => {
                return Ok(Credentials::new(
                    id.trim().to_owned(),
                    secret.trim().to_owned(),
                    var("AWS_SESSION_TOKEN").map(|token| token.trim().to_owned()),
                ));
            }
            (Some(_), None) => {
                return Err("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".into());
            }
            (None, Some(_)) => {
                return Err("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".into());
            }
            (None, None) => {}
        }
        let profile = var("AWS_PROFILE").unwrap_or_else(|| "default".to_owned());
        let file = var("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".aws/credentials")));
        let missing = || {
            format!(
                "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile \
                 `{profile}` to {}",
                file.as_ref()
                    .map_or("~/.aws/credentials".to_owned(), |f| f.display().to_string())
            )
        };
        let Some(text) = file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()) else {
            return Err(missing());
        };
        from_profile(&text, &profile).ok_or_else(missing)
    }
}

/// The keys of `[profile]` in a shared credentials file (INI).
fn from_profile(text: &str, profile: &str) -> Option<Credentials> {
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            in_profile = name == profile || name.strip_prefix("profile ") == Some(profile);
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().to_owned();
            match key.trim() {
                "aws_access_key_id" => id = Some(value),
                "aws_secret_access_key" => secret = Some(value),
                "aws_session_token" => token = Some(value),
                // Other keys (region, output, sso_*) are not credentials.
                _ => {}
            }
        }
    }
    Some(Credentials::new(id?, secret?, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_profile_is_read_from_the_shared_file() {
        let text = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n\
                    [staging]\n# a comment\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=E\n";
        let staging = from_profile(text, "staging").expect("profile");
        assert_eq!(staging.access_key_id, "C");
        assert_eq!(staging.secret_access_key(), "D");
        assert_eq!(staging.session_token.as_deref(), Some("E"));
        assert_eq!(
            from_profile(text, "default").map(|c| c.access_key_id),
            Some("A".into())
        );
        assert!(from_profile(text, "missing").is_none());
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let credentials =
            Credentials::new("AKID".into(), "s3cr3t-value".into(), Some("tok".into()));
        let shown = format!("{credentials:?}");
        assert!(
            !shown.contains("s3cr3t-value") && !shown.contains("tok\""),
            "{shown}"
        );
        assert!(shown.contains("AKID"));
    }
}
