//! The previous build, kept in `.gatehouse/spare` and written over by the next build instead
//! of being deleted. Creating a fresh folder for every page and then deleting the
//! previous build's files took about a fifth of a 10,000-page build's CPU; writing over files
//! that are already there costs about a third of that.
//!
//! The spare is never served (it sits beside the secret, not beside the output, so a web
//! server whose root holds the output does not reach it either): the next build moves it to
//! its staging folder, writes every
//! output over it, removes whatever it held that this build did not write, and only then
//! swaps it in, so the published folder still holds exactly one build's files. A spare that
//! holds anything but folders and plain files (a symbolic link, a device) is deleted instead
//! of reused, and files with other hard links (sealed files linked from the cache) are
//! removed before any write, so that no write goes through to another file.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::output::{BUILD_MARKER, remove_tree};

/// Moves `spare` to `staging` and lists what it holds (files as `a/b`, folders as `a/b/`, the
/// way `Output` records what it writes); `None` when there is no spare or it cannot be
/// trusted, which is then deleted.
pub(super) fn take(spare: &Path, staging: &Path) -> Option<Vec<String>> {
    spare.symlink_metadata().ok()?;
    // The owner of `.gatehouse/` owns every build kept in it.
    let owner = spare.parent()?.symlink_metadata().ok()?.uid();
    if std::fs::rename(spare, staging).is_err() {
        // Not movable (another file system, no permission): deleted, or it would stay for
        // good with whatever pages it had in the clear then.
        discard(spare);
        return None;
    }
    // Checked after the rename, on the name only this build uses: a link swapped in for the
    // spare before the rename is seen here and never written through.
    let listed = (trusted(staging, owner) && names_are_exact(staging))
        .then(|| list(staging, owner))
        .and_then(Result::ok);
    if listed.is_none() {
        discard(staging);
    }
    listed
}

/// Removes `path` without following it if it is a link.
fn discard(path: &Path) {
    match path.symlink_metadata() {
        Ok(meta) if meta.is_dir() => remove_tree(path),
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// A folder or file of a spare is used only if it is what a build of `owner` leaves: a folder
/// or plain file of theirs that no other user may write to, and a folder they can write in
/// (a build could not write into one they cannot, and a failed build's folder comes back as
/// the spare: one such folder would fail every build after it).
fn trusted(path: &Path, owner: u32) -> bool {
    path.symlink_metadata()
        .is_ok_and(|meta| (meta.is_dir() || meta.is_file()) && acceptable(&meta, owner))
}

fn acceptable(meta: &std::fs::Metadata, owner: u32) -> bool {
    let writable_folder = !meta.is_dir() || meta.mode() & 0o300 == 0o300;
    meta.uid() == owner && meta.mode() & 0o002 == 0 && writable_folder
}

/// Whether the file system tells names apart byte by byte. Where it folds case or Unicode
/// normalisation (macOS's default), a page renamed by case only would be written over its
/// old name and then removed with the leftovers: such a spare is not reused.
fn names_are_exact(staging: &Path) -> bool {
    let probes = [
        (".gatehouse-case-probe", ".GATEHOUSE-CASE-PROBE"),
        (".gatehouse-\u{e9}-probe", ".gatehouse-e\u{301}-probe"),
    ];
    probes.iter().all(|(name, variant)| {
        let path = staging.join(name);
        if std::fs::write(&path, b"").is_err() {
            return false;
        }
        let folded = staging.join(variant).symlink_metadata().is_ok();
        std::fs::remove_file(&path).is_ok() && !folded
    })
}

/// Lists `staging`, each top-level folder on its own thread: a spare of 10,000 pages is some
/// 23,000 entries, each looked at (`lstat`) for its owner, mode and links.
fn list(staging: &Path, owner: u32) -> io::Result<Vec<String>> {
    use rayon::prelude::*;
    let tops: Vec<std::path::PathBuf> = std::fs::read_dir(staging)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<io::Result<_>>()?;
    let lists = tops
        .par_iter()
        .map(|top| list_below(staging, top, owner))
        .collect::<io::Result<Vec<Vec<String>>>>()?;
    Ok(lists.concat())
}

/// `top` and everything below it, folders before what they hold.
fn list_below(staging: &Path, top: &Path, owner: u32) -> io::Result<Vec<String>> {
    let mut before = Vec::new();
    for entry in walkdir::WalkDir::new(top) {
        let entry = entry.map_err(io::Error::other)?;
        let relative = entry
            .path()
            .strip_prefix(staging)
            .map_err(io::Error::other)?
            .to_str()
            .ok_or_else(|| io::Error::other("a name that is not UTF-8"))?
            .to_owned();
        let meta = entry.metadata().map_err(io::Error::other)?;
        if !acceptable(&meta, owner) {
            return Err(io::Error::other("another user's, or writable by anyone"));
        }
        let kind = entry.file_type();
        if kind.is_dir() && relative != BUILD_MARKER {
            before.push(format!("{relative}/"));
        } else if kind.is_file() {
            if meta.nlink() > 1 {
                std::fs::remove_file(entry.path())?;
            } else {
                before.push(relative);
            }
        } else {
            return Err(io::Error::other("neither a folder nor a plain file"));
        }
    }
    Ok(before)
}

/// Removes from `staging` everything `before` listed that this build did not write.
pub(super) fn remove_leftovers(
    staging: &Path,
    before: &[String],
    written: &HashSet<String>,
) -> io::Result<()> {
    // Folders come before what they hold (the walk's order): a folder this build wrote
    // nothing into goes whole, and what was in it is skipped.
    let mut gone: Option<&str> = None;
    for relative in before {
        if gone.is_some_and(|folder| relative.starts_with(folder)) {
            continue;
        }
        if written.contains(relative) || relative == BUILD_MARKER {
            continue;
        }
        let folder = relative.strip_suffix('/');
        // A file where this build made a folder, or a folder where it wrote a file: `Output`
        // cleared the way before writing, so it is gone already.
        let replaced = match folder {
            Some(folder) => written.contains(folder),
            None => written.contains(&format!("{relative}/")),
        };
        if folder.is_some() {
            gone = Some(relative);
        }
        if replaced {
            continue;
        }
        let path = staging.join(relative);
        let removed = match folder {
            Some(_) => std::fs::remove_dir_all(&path),
            None => std::fs::remove_file(&path),
        };
        match removed {
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

/// Keeps `old` (the build just replaced) as the next build's spare; deletes it when it cannot
/// be kept: another build made a spare meanwhile, or `.gatehouse/` is on another file system
/// than the output.
pub(super) fn keep(old: &Path, spare: &Path) {
    let kept = spare.symlink_metadata().is_err()
        && spare
            .parent()
            .is_some_and(|dir| crate::secret::make_ignored_dir(dir).is_ok())
        && std::fs::rename(old, spare).is_ok();
    if !kept {
        remove_tree(old);
    }
}

/// Clears the way for an output at `relative` in a reused folder: a file where a folder of
/// its path must be, or a folder where it must be, from an earlier build.
pub(super) fn clear_way(staging: &Path, relative: &str) -> io::Result<()> {
    let mut at = staging.to_path_buf();
    let mut parts = relative.split('/').peekable();
    while let Some(part) = parts.next() {
        at.push(part);
        let Ok(meta) = at.symlink_metadata() else {
            return Ok(());
        };
        match (parts.peek().is_some(), meta.is_dir()) {
            (true, false) => std::fs::remove_file(&at)?,
            (false, true) => std::fs::remove_dir_all(&at)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary folder")
    }

    fn put(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_spare_is_listed_folders_before_what_they_hold() {
        let dir = folder();
        let spare = dir.path().join(".public.spare");
        put(&spare, "a/index.html", "a");
        put(&spare, "b.xml", "b");
        let staging = dir.path().join(".public.staging-1");
        let mut before = take(&spare, &staging).expect("taken");
        assert!(!spare.exists() && staging.is_dir());
        let folder_at = before.iter().position(|p| p == "a/").unwrap();
        let file_at = before.iter().position(|p| p == "a/index.html").unwrap();
        assert!(folder_at < file_at);
        before.sort();
        assert_eq!(before, ["a/", "a/index.html", "b.xml"]);
    }

    #[test]
    fn a_spare_holding_a_symbolic_link_is_deleted_not_reused() {
        let dir = folder();
        let spare = dir.path().join(".public.spare");
        put(&spare, "a/index.html", "a");
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, spare.join("b")).unwrap();
        let staging = dir.path().join(".public.staging-1");
        assert_eq!(take(&spare, &staging), None);
        assert!(!staging.exists() && !spare.exists());
        assert!(outside.is_dir(), "what the link pointed at is left alone");
    }

    #[test]
    fn a_spare_with_a_folder_its_owner_cannot_write_in_is_deleted_not_reused() {
        // A failed build's folder comes back as the spare: one unwritable folder in it would
        // otherwise fail every build after it (mode bits, so this holds for root too).
        use std::os::unix::fs::PermissionsExt;
        let dir = folder();
        let spare = dir.path().join(".public.spare");
        put(&spare, "blog/index.html", "b");
        std::fs::set_permissions(spare.join("blog"), std::fs::Permissions::from_mode(0o555))
            .unwrap();
        let staging = dir.path().join(".public.staging-1");
        assert_eq!(take(&spare, &staging), None);
        assert!(!staging.exists() && !spare.exists());
    }

    #[test]
    fn a_hard_linked_file_is_removed_so_no_write_reaches_its_twin() {
        let dir = folder();
        let spare = dir.path().join(".public.spare");
        put(&spare, "keep.html", "k");
        let cached = dir.path().join("cached-object");
        std::fs::write(&cached, "sealed").unwrap();
        std::fs::hard_link(&cached, spare.join("file.bin")).unwrap();
        let staging = dir.path().join(".public.staging-1");
        let before = take(&spare, &staging).expect("taken");
        assert_eq!(before, ["keep.html"]);
        assert!(!staging.join("file.bin").exists());
        assert_eq!(std::fs::read_to_string(&cached).unwrap(), "sealed");
    }

    #[test]
    fn leftovers_go_and_what_was_written_stays() {
        let dir = folder();
        let staging = dir.path().join("s");
        put(&staging, BUILD_MARKER, "m");
        put(&staging, "kept/index.html", "new");
        put(&staging, "kept/old.png", "stale");
        put(&staging, "gone/index.html", "stale");
        put(&staging, "gone/deep/x.txt", "stale");
        put(&staging, "top.xml", "stale");
        let owner = staging.metadata().unwrap().uid();
        let before = list(&staging, owner).unwrap();
        let written: HashSet<String> = ["kept/", "kept/index.html"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        remove_leftovers(&staging, &before, &written).unwrap();
        let mut left = list(&staging, owner).unwrap();
        left.sort();
        assert_eq!(left, [BUILD_MARKER, "kept/", "kept/index.html"]);
    }

    #[test]
    fn the_way_is_cleared_of_a_file_where_a_folder_goes_and_a_folder_where_a_file_goes() {
        let dir = folder();
        let staging = dir.path();
        put(staging, "a", "was a file");
        put(staging, "b/c/index.html", "was a folder");
        clear_way(staging, "a/index.html").unwrap();
        assert!(!staging.join("a").exists());
        clear_way(staging, "b/c").unwrap();
        assert!(!staging.join("b/c").exists());
        assert!(staging.join("b").is_dir(), "only what was in the way");
    }
}
