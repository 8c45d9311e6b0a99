//! Attacker review of `gatehouse build` writing over the build it replaced
//! (`.gatehouse/spare`, issue 18): each test is a way a spare could put an earlier build's
//! files, or another user's, into the live site, or be written through, and checks it cannot.
//! As root, some tests chown or mount a tmpfs; where that cannot be done they say so and pass,
//! except under `CI=true`, where they fail (CI runs as root). The link race tries 40 builds
//! (before the fix, it hit within 4).

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::spare::{
    SPARE, all_text, assert_same_as_a_fresh_build, names, plant, site_with_a_spare, truly_fresh,
};
use common::{Site, snapshot};
use gatehouse::build::{BuildOptions, LiveSite, SERVE_DIR};

/// Adds enough pages that rendering takes a while after the spare has been listed.
fn add_bulk_pages(site: &Site, count: usize) {
    for i in 0..count {
        site.write(
            &format!("content/bulk/p{i}.md"),
            &format!(
                "---\ntitle: Bulk {i}\n---\n\nbulk body {i}\n\n```rust\nfn f{i}() {{}}\n```\n"
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------
// 1. The oracle of tests/output_reuse.rs is not a fresh build.
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// 2. Owner and mode of spare entries survive into the live site.
// ---------------------------------------------------------------------------------------

/// A fresh build makes every file and folder with the builder's owner and umask. Over a
/// spare, files and folders keep whatever owner and mode the spare's entries had: whoever
/// owned an entry of the spare (a planted `.gatehouse/spare` on a shared volume, a CI cache)
/// can rewrite the live page, or add files to the live folder, after the build.
#[test]
fn a_spare_of_another_owner_or_writable_by_anyone_is_not_reused() {
    let site = site_with_a_spare();
    let spare = site.path(SPARE);
    let root = is_root();
    let stranger = 65534;
    std::fs::set_permissions(spare.join("index.html"), PermissionsExt::from_mode(0o666)).unwrap();
    std::fs::set_permissions(spare.join("blog"), PermissionsExt::from_mode(0o777)).unwrap();
    if root {
        std::os::unix::fs::chown(spare.join("index.html"), Some(stranger), Some(stranger)).unwrap();
        std::os::unix::fs::chown(spare.join("blog"), Some(stranger), Some(stranger)).unwrap();
    }
    site.build().unwrap();
    let fresh = truly_fresh(&site, "fresh");
    let live_page = std::fs::metadata(site.out().join("index.html")).unwrap();
    let live_blog = std::fs::metadata(site.out().join("blog")).unwrap();
    let fresh_page = std::fs::metadata(fresh.join("index.html")).unwrap();
    let fresh_blog = std::fs::metadata(fresh.join("blog")).unwrap();
    eprintln!(
        "live index.html uid {} mode {:o}; live blog/ uid {} mode {:o}; fresh: {:o} {:o}",
        live_page.uid(),
        live_page.mode() & 0o7777,
        live_blog.uid(),
        live_blog.mode() & 0o7777,
        fresh_page.mode() & 0o7777,
        fresh_blog.mode() & 0o7777
    );
    assert_eq!(
        (live_page.uid(), live_page.mode() & 0o7777),
        (fresh_page.uid(), fresh_page.mode() & 0o7777),
        "the live index.html keeps the spare entry's owner/mode"
    );
    assert_eq!(
        (live_blog.uid(), live_blog.mode() & 0o7777),
        (fresh_blog.uid(), fresh_blog.mode() & 0o7777),
        "the live blog/ keeps the spare entry's owner/mode"
    );
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------
// 4. Suspected holes in remove_leftovers that hold.
// ---------------------------------------------------------------------------------------

/// The `gone` prefix ends in `/`, so a sibling `a-b/`, `ab` or `a.b` of a removed folder `a/`
/// is still removed; and a folder the build writes into keeps no planted sibling either.
#[test]
fn siblings_of_a_removed_folder_are_removed_too() {
    let site = site_with_a_spare();
    let spare = site.path(SPARE);
    plant(
        &spare,
        &[
            "a/x.html",
            "a-b/x.html",
            "ab",
            "a.b",
            "a/b/c/d.html",
            "blog-old/leak.html",
            "blogx",
            "blog/open-post-old/index.html",
            "blog/open-post/extra.html",
            "course/media-lesson/zqxfile-roster.csv",
            "_gated/files/00000000000000000000000000000000.bin",
            ".gatehouse-build.bak",
        ],
    );
    site.build().unwrap();
    assert!(!all_text(&site.out()).contains("publicmark-planted-leftover"));
    assert_same_as_a_fresh_build(&site);
}

/// A name that is not UTF-8 makes the listing fail; the spare is then deleted and the build
/// starts from a fresh folder: nothing of the spare survives.
#[test]
fn a_name_that_is_not_utf8_discards_the_spare() {
    use std::os::unix::ffi::OsStrExt;
    let site = site_with_a_spare();
    let spare = site.path(SPARE);
    let odd = std::ffi::OsStr::from_bytes(b"caf\xe9.html");
    std::fs::write(spare.join("blog").join(odd), "publicmark-planted-leftover").unwrap();
    std::fs::write(
        spare.join("zz-leftover.html"),
        "publicmark-planted-leftover",
    )
    .unwrap();
    site.build().unwrap();
    assert!(!all_text(&site.out()).contains("publicmark-planted-leftover"));
    assert_same_as_a_fresh_build(&site);
}

/// Names that differ from the build's only by case or Unicode normalisation are other files
/// on this (case-sensitive, byte-exact) file system, and are removed.
#[test]
fn case_and_normalisation_variants_are_removed_on_a_byte_exact_file_system() {
    let site = site_with_a_spare();
    let spare = site.path(SPARE);
    plant(
        &spare,
        &[
            "Index.html",
            "BLOG/open-post/index.html",
            "blog/Open-Post/index.html",
            "blog/open-post/INDEX.HTML",
            "cafe\u{301}/index.html",
        ],
    );
    site.build().unwrap();
    assert!(!all_text(&site.out()).contains("publicmark-planted-leftover"));
}

// ---------------------------------------------------------------------------------------
// 5. serve and build share the spare.
// ---------------------------------------------------------------------------------------

fn serve_options(site: &Site) -> BuildOptions {
    BuildOptions {
        root: site.root().to_path_buf(),
        out: Some(site.root().join(SERVE_DIR)),
        drafts: true,
        check_only: false,
        progress: false,
        base_url: Some("http://127.0.0.1:4000".to_owned()),
        dev_secret: Some(gatehouse::secret::load_or_create_dev(site.root()).unwrap()),
    }
}

/// serve's output (development secret, drafts, local URLs) becomes the spare that the next
/// production build writes over, and the other way round: neither leaks into the other.
#[test]
fn serve_and_build_do_not_leak_into_each_other_through_the_spare() {
    let site = Site::fixture("leak");
    // serve twice: its first output becomes the spare.
    LiveSite::build(serve_options(&site)).unwrap();
    LiveSite::build(serve_options(&site)).unwrap();
    assert!(site.path(SPARE).is_dir());
    let serve_text = all_text(&site.path(SERVE_DIR));
    assert!(serve_text.contains("127.0.0.1:4000"));
    // The production build takes serve's spare.
    site.build().unwrap();
    assert_same_as_a_fresh_build(&site);
    assert!(!all_text(&site.out()).contains("127.0.0.1:4000"));
    // A second production build makes a production spare; serve then takes it.
    site.build().unwrap();
    assert!(site.path(SPARE).is_dir());
    LiveSite::build(serve_options(&site)).unwrap();
    let served = snapshot(&site.path(SERVE_DIR));
    // A fresh serve build, the spare set aside, into a folder of its own.
    let aside = site.root().join("spare-aside");
    std::fs::rename(site.path(SPARE), &aside).unwrap();
    let mut options = serve_options(&site);
    options.out = Some(site.root().join("serve-fresh"));
    LiveSite::build(options).unwrap();
    let fresh = snapshot(&site.root().join("serve-fresh"));
    assert_eq!(names(&served), names(&fresh));
    assert!(served == fresh);
}

// ---------------------------------------------------------------------------------------
// 6. --out on another file system.
// ---------------------------------------------------------------------------------------

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

fn tmpfs(at: &Path) -> Option<Mount> {
    std::fs::create_dir_all(at).ok()?;
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(at)
        .status()
        .ok()?
        .success();
    ok.then(|| Mount(at.to_path_buf()))
}

/// With --out on another file system the spare can be neither taken (rename fails) nor
/// replaced (`keep` refuses while one exists), and `take` does not delete it: the spare
/// stays frozen in `.gatehouse/` for good, with the public copy of a page since made
/// members-only and of pages since removed.
#[test]
fn a_spare_that_cannot_be_taken_is_deleted() {
    let site = site_with_a_spare();
    let Some(mount) = tmpfs(&site.root().join("elsewhere")) else {
        skipped("cannot mount tmpfs here");
        return;
    };
    let out = mount.0.join("public");
    site.edit(
        "content/blog/open-post.md",
        "tags: [shared-tag]\n",
        "tags: [shared-tag]\naccess:\n  level: gold\n",
    );
    for _ in 0..3 {
        site.build_into(&out).unwrap();
    }
    assert!(!all_text(&out).contains("publicmark-openbody"));
    assert!(
        !site.path(SPARE).exists() || !all_text(&site.path(SPARE)).contains("publicmark-openbody"),
        "three builds later, .gatehouse/spare still holds the public copy of a page since gated"
    );
}

// ---------------------------------------------------------------------------------------
// 7. Two builds of the same site at once (two processes).
// ---------------------------------------------------------------------------------------

/// Two `gatehouse build` processes of one site at once, several rounds: each round's live
/// folder must equal a fresh build.
#[test]
fn two_builds_at_once_leave_a_whole_build() {
    let site = site_with_a_spare();
    add_bulk_pages(&site, 300);
    let fresh = snapshot(&truly_fresh(&site, "fresh"));
    let mut failures = Vec::new();
    for round in 0..6 {
        let spawn = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
                .arg("--root")
                .arg(site.root())
                .arg("build")
                .env("GATEHOUSE_SECRET", common::SECRET_B64)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            if !out.status.success() {
                failures.push(format!(
                    "round {round}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        let live = snapshot(&site.out());
        assert_eq!(names(&live), names(&fresh), "round {round}");
        assert!(live == fresh, "round {round}: same names, other bytes");
    }
    eprintln!("failed builds: {failures:?}");
}

// ---------------------------------------------------------------------------------------
// 8. take(): the spare checked by lstat, then renamed by name.
// ---------------------------------------------------------------------------------------

/// `take` checks that `.gatehouse/spare` is a real folder (`symlink_metadata`) and then
/// renames it by name: whoever can write `.gatehouse/` (the shared volume or CI cache that
/// docs/security.md already counts with) swaps a symbolic link in between (here with
/// `renameat2(RENAME_EXCHANGE)` in a loop). The link becomes the staging folder: the build
/// writes the whole site into the folder it points at, and the swap publishes the link.
#[test]
fn a_link_swapped_in_for_the_spare_before_the_rename_is_never_written_through() {
    let site = site_with_a_spare();
    let evil = site.root().join("evil-target");
    std::fs::create_dir_all(&evil).unwrap();
    let link = site.path(".gatehouse/evil-link");
    std::os::unix::fs::symlink(&evil, &link).unwrap();
    let script = format!(
        "import ctypes,time\nlibc=ctypes.CDLL(None)\nend=time.time()+120\n\
         while time.time()<end:\n    libc.renameat2(-100,b{a:?},-100,b{b:?},2)\n",
        a = site.path(SPARE).to_str().unwrap(),
        b = link.to_str().unwrap()
    );
    let Ok(mut swapper) = std::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .spawn()
    else {
        skipped("no python3");
        return;
    };
    let mut tries = 0;
    let mut caught = false;
    while tries < 40 {
        tries += 1;
        let _ = site.build();
        if site.out().is_symlink() || evil.join("index.html").exists() {
            caught = true;
            break;
        }
    }
    let _ = swapper.kill();
    let _ = swapper.wait();
    eprintln!(
        "after {tries} builds: public/ is a link: {}; the build wrote {} entries into evil-target/",
        site.out().is_symlink(),
        std::fs::read_dir(&evil).unwrap().count()
    );
    assert!(
        !caught,
        "a link swapped in for the spare became the staging folder (after {tries} builds)"
    );
}

/// A spare whose `.gatehouse-build` is a folder: `stage` fails writing the marker (the
/// listing accepted it), instead of discarding the spare and building fresh.
#[test]
fn a_spare_with_a_marker_folder_is_discarded_not_fatal() {
    let site = site_with_a_spare();
    let marker = site.path(SPARE).join(gatehouse::build::BUILD_MARKER);
    std::fs::remove_file(&marker).unwrap();
    std::fs::create_dir(&marker).unwrap();
    let first = site.build();
    eprintln!(
        "first build: {:?}",
        first.as_ref().map(|_| ()).map_err(|e| e.to_string())
    );
    let leftovers: Vec<_> = std::fs::read_dir(site.root())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging"))
        .collect();
    eprintln!("staging folders left: {leftovers:?}");
    assert!(first.is_ok(), "a spare it cannot use failed the build");
}

/// A test that cannot run here says so; under `CI=true` nothing may be skipped.
fn skipped(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "cannot run under CI: {why}"
    );
    eprintln!("skipped: {why}");
}
