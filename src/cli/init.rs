//! `gatehouse init DIR`

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::scaffold::{STARTER_FILES, THEME_FILES};

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Folder to create the site in (it must not exist yet, or be empty).
    pub dir: PathBuf,
}

pub fn run(root: &Path, args: InitArgs) -> anyhow::Result<()> {
    let dir = if args.dir.is_absolute() {
        args.dir.clone()
    } else {
        root.join(&args.dir)
    };
    if dir.exists() {
        let empty = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{} already exists and is not empty; choose a new folder so nothing is overwritten",
                dir.display()
            );
        }
    }
    let theme = THEME_FILES
        .iter()
        .map(|(path, bytes)| (format!("themes/default/{path}"), *bytes));
    let starter = STARTER_FILES
        .iter()
        .map(|(path, text)| ((*path).to_owned(), text.as_bytes()));
    for (path, bytes) in starter.chain(theme) {
        let target = dir.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&target, bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    println!("Created a new gatehouse site in {}", dir.display());
    println!("Next: cd {} && gatehouse build", args.dir.display());
    Ok(())
}
