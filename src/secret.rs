//! Where the master secret lives: `GATEHOUSE_SECRET` (base64url), else `.gatehouse/secret`,
//! created on first use with mode 0600. Errors never include the secret's text.

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::rand::{SecureRandom, SystemRandom};

use crate::gate::{MasterSecret, SecretError};

pub const SECRET_ENV: &str = "GATEHOUSE_SECRET";
pub const STATE_DIR: &str = ".gatehouse";

/// Where the secret came from, for the build summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env,
    File(PathBuf),
    Created(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum SecretLoadError {
    #[error("{SECRET_ENV}: {0}")]
    Env(SecretError),
    #[error(
        "{path}: {source}; delete the file to have a new secret made (this changes every gate key)"
    )]
    File { path: PathBuf, source: SecretError },
    #[error("cannot read or create the secret file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn secret_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("secret")
}

/// Checks the secret that a build would use, if there is one, without creating it
/// (`gatehouse check` writes nothing).
pub fn validate_existing(root: &Path) -> Result<(), SecretLoadError> {
    if std::env::var_os(SECRET_ENV).is_some() || secret_path(root).exists() {
        load_or_create(root)?;
    }
    Ok(())
}

/// Loads the site's master secret, creating `.gatehouse/secret` if there is none anywhere.
pub fn load_or_create(root: &Path) -> Result<(MasterSecret, SecretSource), SecretLoadError> {
    if let Some(value) = std::env::var_os(SECRET_ENV) {
        // A value that is not even UTF-8 is an error, never a reason to fall back to the file.
        let text = value
            .into_string()
            .map_err(|_| SecretLoadError::Env(SecretError::NotBase64))?;
        let secret = MasterSecret::from_base64url(&text).map_err(SecretLoadError::Env)?;
        return Ok((secret, SecretSource::Env));
    }
    let path = secret_path(root);
    let io = |source| SecretLoadError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret =
                MasterSecret::from_base64url(&text).map_err(|source| SecretLoadError::File {
                    path: path.clone(),
                    source,
                })?;
            Ok((secret, SecretSource::File(path)))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let secret = create(&path).map_err(io)?;
            Ok((secret, SecretSource::Created(path)))
        }
        Err(error) => Err(io(error)),
    }
}

/// Where `gatehouse serve` keeps its development secret.
pub fn dev_secret_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("dev").join("secret")
}

/// `gatehouse serve`'s development secret: made once per site folder and kept in
/// `.gatehouse/dev/secret`, apart from the site's master secret. What `serve` builds and hands
/// out with it opens only `serve`'s own output, never the deployed site.
pub fn load_or_create_dev(root: &Path) -> Result<MasterSecret, SecretLoadError> {
    let path = dev_secret_path(root);
    match std::fs::read_to_string(&path) {
        Ok(text) => MasterSecret::from_base64url(&text).or_else(|_| {
            // A damaged development secret holds nothing worth keeping: make a new one.
            std::fs::remove_file(&path).map_err(|source| SecretLoadError::Io {
                path: path.clone(),
                source,
            })?;
            create(&path).map_err(|source| SecretLoadError::Io {
                path: path.clone(),
                source,
            })
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            create(&path).map_err(|source| SecretLoadError::Io {
                path: path.clone(),
                source,
            })
        }
        Err(source) => Err(SecretLoadError::Io { path, source }),
    }
}

/// Makes `dir` (`.gatehouse/`) and keeps it out of git, even when the site was not made by
/// `gatehouse init`: it holds the secret and what builds keep for later.
pub fn make_ignored_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n")?;
    }
    Ok(())
}

fn create(path: &Path) -> std::io::Result<MasterSecret> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| std::io::Error::other("the system random source failed"))?;
    let secret = MasterSecret::from_bytes(bytes);
    make_ignored_dir(path.parent().expect("the secret path has a parent folder"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(secret.to_base64url().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(secret)
}
