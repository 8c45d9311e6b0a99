//! `gatehouse members add|list|show|grant|revoke|cancel`: manage members in the database.

use std::path::Path;

use super::db::DbArgs;

#[derive(Debug, clap::Args)]
pub struct MembersArgs {
    #[command(flatten)]
    pub db: DbArgs,
}

pub fn run(_root: &Path, _args: MembersArgs) -> anyhow::Result<()> {
    anyhow::bail!("`gatehouse members` is not built yet")
}
