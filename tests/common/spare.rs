//! Helpers for the tests of a build writing over the build it replaced (`.gatehouse/spare`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Site, snapshot};

pub const SPARE: &str = ".gatehouse/spare";

/// The leak fixture built twice, so that the next build finds a spare (the first build's
/// output).
pub fn site_with_a_spare() -> Site {
    let site = Site::fixture("leak");
    site.build().unwrap();
    site.build().unwrap();
    assert!(site.path(SPARE).is_dir(), "the replaced build is kept");
    site
}

/// A build into a folder that really is fresh: the spare is set aside first (and put back),
/// so this build cannot take it.
pub fn truly_fresh(site: &Site, name: &str) -> PathBuf {
    let fresh = site.root().join(name);
    let _ = std::fs::remove_dir_all(&fresh);
    let spare = site.path(SPARE);
    let aside = site.root().join("spare-aside");
    let had = spare.exists();
    if had {
        std::fs::rename(&spare, &aside).unwrap();
    }
    site.build_into(&fresh).unwrap();
    // The fresh build replaced nothing, so it kept no spare.
    assert!(!spare.exists());
    if had {
        std::fs::rename(&aside, &spare).unwrap();
    }
    fresh
}

/// The next build of `site` into public/ and into a fresh folder give the same files.
pub fn assert_same_as_a_fresh_build(site: &Site) {
    let fresh = truly_fresh(site, "fresh");
    let reused = snapshot(&site.out());
    let expected = snapshot(&fresh);
    assert_eq!(names(&reused), names(&expected));
    assert!(reused == expected, "same names, different bytes");
}

/// Writes a leftover marked `publicmark-planted-leftover` at each of `paths` in `spare`.
pub fn plant(spare: &Path, paths: &[&str]) {
    for planted in paths {
        let path = spare.join(planted);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "publicmark-planted-leftover").unwrap();
    }
}

/// The names of the files of a snapshot.
pub fn names(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    files.keys().cloned().collect()
}

/// Every file below `dir` as text, run together: for looking for a marker anywhere.
pub fn all_text(dir: &Path) -> String {
    snapshot(dir)
        .into_values()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect()
}
