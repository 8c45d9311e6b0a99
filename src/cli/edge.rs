//! `gatehouse edge`: the member server.

use std::path::Path;

use super::db::DbArgs;

#[derive(Debug, clap::Args)]
pub struct EdgeArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(_root: &Path, _args: EdgeArgs) -> anyhow::Result<()> {
    anyhow::bail!("`gatehouse edge` is not built yet")
}
