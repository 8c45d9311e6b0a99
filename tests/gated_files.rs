//! Gated files at build time (DESIGN §3 and §4 "Files"): a public reference to one fails with
//! the file, the line and the fix; `check` says the same; unchanged media is neither read nor
//! written again; a key rotation changes no sealed file; `public_files` globs are checked; an
//! MP4 that cannot start playing early is warned about.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{Site, gatehouse, snapshot, text};

const LESSON: &str = "content/course/media-lesson";

fn sealed(out: &Path) -> BTreeMap<String, Vec<u8>> {
    snapshot(out)
        .into_iter()
        .filter(|(path, _)| path.starts_with("_gated/files/"))
        .collect()
}

#[test]
fn a_public_page_that_shows_a_gated_file_fails_with_its_line_and_the_fix() {
    let site = Site::fixture("leak");
    site.write(
        "content/blog/open-post-2.md",
        "---\ntitle: Open\n---\n\nSome text.\n\n![d](/course/media-lesson/zqxfile-diagram.png)\n",
    );
    let error = site.build().unwrap_err().to_string();
    assert!(
        error.contains("content/blog/open-post-2.md:7: refers to the members-only file content/course/media-lesson/zqxfile-diagram.png"),
        "{error}"
    );
    assert!(
        error.contains("public_files: [\"zqxfile-diagram.png\"]")
            && error.contains("content/course/media-lesson/index.md"),
        "the fix names the owner: {error}"
    );
    assert!(!site.out().exists(), "nothing was published");

    // `gatehouse check` reports the same problem and fails.
    let output = gatehouse(&["check"], site.root());
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("content/blog/open-post-2.md:7:"),
        "{stderr}"
    );
}

#[test]
fn a_teaser_that_shows_a_gated_file_fails_but_the_body_may() {
    let site = Site::fixture("leak");
    site.write(
        "content/course/teaser-leak.md",
        "---\ntitle: T\n---\n\n[the roster](../media-lesson/zqxfile-roster.csv) above the fold\n\n\
         <!-- more -->\n\nBelow: [roster](../media-lesson/zqxfile-roster.csv)\n",
    );
    let error = site.build().unwrap_err().to_string();
    assert!(
        error.contains("content/course/teaser-leak.md:5: refers to the members-only file content/course/media-lesson/zqxfile-roster.csv"),
        "{error}"
    );
    site.write(
        "content/course/teaser-leak.md",
        "---\ntitle: T\n---\n\nAbove the fold\n\n<!-- more -->\n\nBelow: [roster](../media-lesson/zqxfile-roster.csv)\n",
    );
    site.build().unwrap();
}

#[test]
fn a_template_that_shows_a_gated_file_fails_and_names_the_page() {
    let site = Site::fixture("leak");
    site.write(
        "templates/404.html",
        "{% extends \"base.html\" %}{% block main %}<img src=\"/course/media-lesson/zqxfile-diagram.png\">{% endblock main %}",
    );
    let error = site.build().unwrap_err().to_string();
    assert!(
        error.contains("public/404.html: (written from a template) refers to the members-only file content/course/media-lesson/zqxfile-diagram.png"),
        "{error}"
    );
}

#[test]
fn a_rebuild_with_unchanged_media_reads_and_writes_no_media_bytes() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let first = sealed(&site.out());
    let inode = |path: &Path| std::fs::metadata(path).unwrap().ino();
    let clip = site.path(&format!("{LESSON}/zqxfile-clip.webm"));
    let object_of_clip = {
        let index = std::fs::read_to_string(site.path(".gatehouse/files/index.json")).unwrap();
        let index: serde_json::Value = serde_json::from_str(&index).unwrap();
        let salt = index["files"]["course/media-lesson/zqxfile-clip.webm"]["salt"]
            .as_str()
            .unwrap()
            .to_owned();
        format!("_gated/files/{salt}.bin")
    };
    let cached_inode = inode(&site.path(&format!(
        ".gatehouse/{}",
        object_of_clip.replace("_gated/", "")
    )));

    // Same size, same modification time, other bytes: a rebuild that read the file would seal
    // the new bytes. It must not read it at all.
    let modified = std::fs::metadata(&clip).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&clip).unwrap();
    bytes[1000] ^= 0xFF;
    std::fs::write(&clip, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&clip)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    site.build().unwrap();
    assert_eq!(sealed(&site.out()), first, "no sealed file changed");
    assert_eq!(
        inode(&site.out().join(&object_of_clip)),
        cached_inode,
        "the output links the cached object: not one byte written"
    );

    // A real edit (the modification time moves) seals it again.
    bytes[2000] ^= 0xFF;
    std::fs::write(&clip, &bytes).unwrap();
    site.build().unwrap();
    let second = sealed(&site.out());
    assert!(
        !second.contains_key(&object_of_clip),
        "the edited clip has a new object"
    );
    assert_eq!(second.len(), first.len());
}

#[test]
fn a_key_rotation_changes_no_sealed_file() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let before = sealed(&site.out());
    assert_eq!(before.len(), 5);
    let toml = std::fs::read_to_string(site.path("site.toml")).unwrap();
    let rotated = if toml.contains("epoch = 1") {
        toml.replace("epoch = 1", "epoch = 2")
    } else {
        format!("{toml}\n[keys]\nepoch = 2\n")
    };
    site.write("site.toml", &rotated);
    site.build().unwrap();
    assert_eq!(common::manifest(&site.out()).epoch, 2);
    assert_eq!(
        sealed(&site.out()),
        before,
        "files are sealed independently of the epoch"
    );
}

#[test]
fn a_bad_public_files_glob_is_an_error_on_its_line() {
    let site = Site::fixture("leak");
    site.write(
        &format!("{LESSON}/index.md"),
        "---\ntitle: M\npublic_files: [\"{a,b\"]\n---\n\nBody.\n",
    );
    let error = site.build().unwrap_err().to_string();
    assert!(
        error.contains("content/course/media-lesson/index.md:3: public_files: `{a,b`"),
        "{error}"
    );
}

#[test]
fn an_mp4_with_its_index_at_the_end_is_warned_about() {
    let site = Site::fixture("leak");
    let atom = |kind: &[u8; 4], body: usize| {
        let mut out = ((body + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend(std::iter::repeat_n(0u8, body));
        out
    };
    let late = [atom(b"ftyp", 16), atom(b"mdat", 5000), atom(b"moov", 64)].concat();
    let early = [atom(b"ftyp", 16), atom(b"moov", 64), atom(b"mdat", 5000)].concat();
    std::fs::write(site.path(&format!("{LESSON}/late.mp4")), late).unwrap();
    std::fs::write(site.path(&format!("{LESSON}/early.mp4")), early).unwrap();
    let output = gatehouse(&["check"], site.root());
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(
        all.contains("content/course/media-lesson/late.mp4: this MP4's index (the `moov` atom) comes after its media"),
        "{all}"
    );
    assert!(all.contains("-movflags +faststart"), "{all}");
    assert!(!all.contains("early.mp4: this MP4"), "{all}");
}
