//! The `--db` option shared by `edge` and `members`, and the async runtime they run on.

use std::path::Path;

use anyhow::Context;

/// The member database (DESIGN §7).
#[derive(Debug, Clone, clap::Args)]
pub struct DbArgs {
    /// Member database URL: `sqlite://PATH` (relative paths are inside the site's folder) or
    /// `postgres://USER:PASSWORD@HOST/DB` for several edge replicas.
    #[arg(
        long,
        env = "GATEHOUSE_DB",
        default_value = DEFAULT_DB,
        value_name = "URL",
        hide_env_values = true
    )]
    pub db: String,
}

pub const DEFAULT_DB: &str = "sqlite://.gatehouse/members.db";

impl DbArgs {
    /// The URL with a relative SQLite path placed inside the site's folder, so `--root` works
    /// from anywhere.
    pub fn url(&self, root: &Path) -> String {
        let Some(path) = self.db.strip_prefix("sqlite://") else {
            return self.db.clone();
        };
        if path.starts_with('/') || path.starts_with(":memory:") {
            return self.db.clone();
        }
        format!("sqlite://{}", root.join(path).display())
    }
}

/// A multi-threaded tokio runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")
}
