//! Watching the site's sources: content/, themes/, templates/, static/ and site.toml.
//! Editors save by writing a temporary file and renaming it over the old one, so any event
//! on a relevant path counts, and the events of one save arrive as one debounced batch.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify_debouncer_full::notify::event::ModifyKind;
use notify_debouncer_full::notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use crate::config::CONFIG_FILE;

/// The folders whose changes rebuild the site.
pub const WATCHED_DIRS: [&str; 4] = ["content", "themes", "templates", "static"];

/// How long the events of one save are gathered before a rebuild starts.
const DEBOUNCE: Duration = Duration::from_millis(30);

pub type Watcher = Debouncer<notify_debouncer_full::notify::RecommendedWatcher, RecommendedCache>;

/// Starts watching `root` (which must be absolute); each batch of changed paths, relative to
/// the root, arrives on the returned channel. Keep the watcher alive as long as needed.
pub fn watch(root: &Path) -> anyhow::Result<(Watcher, mpsc::Receiver<Vec<PathBuf>>)> {
    let (sender, receiver) = mpsc::channel();
    let base = root.to_path_buf();
    let mut debouncer = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
        let Ok(events) = result else { return };
        let mut paths: Vec<PathBuf> = events
            .iter()
            .filter(|event| changes_content(&event.kind))
            .flat_map(|event| event.paths.iter())
            .filter_map(|path| relevant(&base, path))
            .collect();
        paths.sort();
        paths.dedup();
        if !paths.is_empty() {
            let _ = sender.send(paths);
        }
    })?;
    // The root itself, not recursively: site.toml is replaced by rename on save, and a
    // watch on the file alone would stop at the first save.
    debouncer.watch(root, RecursiveMode::NonRecursive)?;
    for dir in WATCHED_DIRS {
        let dir = root.join(dir);
        if dir.is_dir() {
            debouncer.watch(&dir, RecursiveMode::Recursive)?;
        }
    }
    Ok((debouncer, receiver))
}

/// Reads (and the access times they touch) are events too: the build itself reads every
/// source, and counting those would rebuild forever.
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Any => true,
        EventKind::Modify(modify) => !matches!(modify, ModifyKind::Metadata(_)),
        EventKind::Access(_) | EventKind::Other => false,
    }
}

/// The path relative to the root when a change there matters to the build.
fn relevant(root: &Path, path: &Path) -> Option<PathBuf> {
    let relative = path.strip_prefix(root).ok()?;
    let name = relative.file_name()?.to_string_lossy();
    if is_editor_scratch(&name) {
        return None;
    }
    let first = relative.components().next()?.as_os_str().to_string_lossy();
    let watched = WATCHED_DIRS.contains(&first.as_ref()) && relative.components().count() > 1;
    (watched || relative == Path::new(CONFIG_FILE)).then(|| relative.to_path_buf())
}

/// Swap, backup and lock files that editors write beside the real one.
fn is_editor_scratch(name: &str) -> bool {
    name.starts_with(".#")
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name == "4913"
        || (name.starts_with('#') && name.ends_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sources_count() {
        let root = Path::new("/site");
        let rel = |p: &str| relevant(root, &root.join(p));
        assert_eq!(rel("content/a.md"), Some(PathBuf::from("content/a.md")));
        assert_eq!(rel("site.toml"), Some(PathBuf::from("site.toml")));
        assert!(rel("themes/default/templates/page.html").is_some());
        assert_eq!(rel("public/index.html"), None);
        assert_eq!(rel(".gatehouse/serve/index.html"), None);
        assert_eq!(rel("content/.a.md.swp"), None);
        assert_eq!(rel("content/a.md~"), None);
        assert_eq!(rel("content"), None);
    }
}
