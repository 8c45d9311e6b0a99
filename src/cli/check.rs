//! `gatehouse check`

use std::path::Path;

use anyhow::Context;

use crate::build::{BuildOptions, build};

use super::build::{gates_text, print_warnings, thousands};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Also check pages marked `draft: true`.
    #[arg(long)]
    pub drafts: bool,
}

pub fn run(root: &Path, args: CheckArgs) -> anyhow::Result<()> {
    let options = BuildOptions {
        base_url: None,
        dev_secret: None,
        root: root.to_path_buf(),
        out: None,
        drafts: args.drafts,
        check_only: true,
        progress: false,
    };
    let report = build(&options).context("check failed")?;
    print_warnings(&report);
    println!(
        "OK: {} pages{}, site.toml and templates are valid; nothing was written",
        thousands(report.documents),
        gates_text(&report),
    );
    Ok(())
}
