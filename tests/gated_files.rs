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
    let first_report = site.build().unwrap();
    assert_eq!(first_report.gated_files, 5);
    assert_eq!(
        first_report.sealed_now.0, 5,
        "a first build seals every file"
    );
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
        format!("{salt}.bin")
    };
    let cached_inode = inode(&site.path(&format!(".gatehouse/files/{object_of_clip}")));

    let again = site.build().unwrap();
    assert_eq!(again.sealed_now, (0, 0), "no media byte read again");
    assert_eq!(sealed(&site.out()), first, "no sealed file changed");
    assert_eq!(
        inode(&site.out().join(format!("_gated/files/{object_of_clip}"))),
        cached_inode,
        "the output links the cached object: not one byte written"
    );

    // Copied over with its times kept (`cp -p`, `rsync -t`): other bytes, same size and
    // modification time. The change time and inode tell, so it is sealed again.
    let modified = std::fs::metadata(&clip).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&clip).unwrap();
    bytes[1000] ^= 0xFF;
    site.write(&format!("{LESSON}/zqxfile-clip.webm"), "");
    std::fs::write(&clip, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&clip)
        .unwrap()
        .set_modified(modified)
        .unwrap();
    let copied = site.build().unwrap();
    assert_eq!(copied.sealed_now, (1, bytes.len() as u64));
    let second = sealed(&site.out());
    assert!(
        !second.contains_key(&format!("_gated/files/{object_of_clip}")),
        "the changed clip has a new object"
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

#[test]
fn a_draft_page_bundle_takes_its_files_with_it() {
    let site = Site::fixture("leak");
    // A draft gold bundle inside the public blog, one with a folder name no URL may have.
    site.write(
        "content/blog/upcoming/index.md",
        "---\ntitle: U\ndraft: true\naccess:\n  level: gold\n---\n\n![b](bonus-zqxdraft.png)\n",
    );
    std::fs::write(
        site.path("content/blog/upcoming/bonus-zqxdraft.png"),
        b"PNG zqxdraft",
    )
    .unwrap();
    site.write(
        "content/blog/Secret Plan/index.md",
        "---\ntitle: S\ndraft: true\naccess:\n  level: gold\n---\n\n[p](plan-zqxdraft.pdf)\n",
    );
    std::fs::write(
        site.path("content/blog/Secret Plan/plan-zqxdraft.pdf"),
        b"%PDF zqxdraft",
    )
    .unwrap();
    site.build().unwrap();
    for (path, bytes) in snapshot(&site.out()) {
        assert!(!path.contains("zqxdraft"), "{path} was published");
        assert!(
            !String::from_utf8_lossy(&bytes).contains("zqxdraft"),
            "{path} holds a draft's file"
        );
    }
}

#[test]
fn a_renamed_backed_up_or_hidden_folder_page_stops_the_build() {
    let cases = [
        // A gated section's page renamed away: its lessons would lose their access.
        ("content/course/_index.md", "content/course/_index.md.off"),
        ("content/course/_index.md", "content/course/._index.md"),
        // Renamed to a name that is not Markdown at all: it still holds the page.
        ("content/course/_index.md", "content/course/_index.old"),
        // A gated bundle's page renamed: its files would go to the section above.
        (
            "content/course/media-lesson/index.md",
            "content/course/media-lesson/index.md~",
        ),
    ];
    for (from, to) in cases {
        let site = Site::fixture("leak");
        std::fs::rename(site.path(from), site.path(to)).unwrap();
        let error = site.build().unwrap_err().to_string();
        assert!(
            error.contains(&format!("{to}: `")) && error.contains("Rename it back, delete it"),
            "{to}: {error}"
        );
        assert!(!site.out().exists(), "{to}: nothing published");
    }
}

#[test]
fn an_index_named_file_without_front_matter_is_an_ordinary_file() {
    let site = Site::fixture("leak");
    site.write(
        "content/blog/open-bundle/index.json",
        "{\"publicmark\": 1}\n",
    );
    site.build().unwrap();
    assert_eq!(
        site.read("blog/open-bundle/index.json"),
        "{\"publicmark\": 1}\n"
    );
}

#[test]
fn two_pages_claiming_one_folder_stop_the_build() {
    let site = Site::fixture("leak");
    site.write(
        "content/course/l9/_index.md",
        "---\ntitle: L9\naccess:\n  level: gold\n---\n",
    );
    site.write(
        "content/course/l9/index.md",
        "---\ntitle: Free intro\nslug: free-intro\naccess: public\n---\n",
    );
    std::fs::write(site.path("content/course/l9/answers.txt"), b"zqxanswers").unwrap();
    let error = site.build().unwrap_err().to_string();
    assert!(error.contains("owns this folder too"), "{error}");
}

#[test]
fn sections_and_bundles_written_as_markdown_or_in_capitals_own_their_files() {
    let site = Site::fixture("leak");
    site.write(
        "content/vault/_index.markdown",
        "---\ntitle: V\naccess:\n  level: gold\n---\n\n[s](vault-zqxcaps.pdf)\n",
    );
    std::fs::write(
        site.path("content/vault/vault-zqxcaps.pdf"),
        b"%PDF zqxcaps",
    )
    .unwrap();
    site.write(
        "content/blog/goldpost/index.markdown",
        "---\ntitle: G\naccess:\n  level: gold\n---\n\n![g](gold-zqxcaps.png)\n",
    );
    std::fs::write(
        site.path("content/blog/goldpost/gold-zqxcaps.png"),
        b"PNG zqxcaps",
    )
    .unwrap();
    site.write(
        "content/vault3/_Index.md",
        "---\ntitle: V3\naccess:\n  level: gold\n---\n",
    );
    site.write(
        "content/vault3/lesson.md",
        "---\ntitle: L\n---\n\nzqxcaps lesson body\n",
    );
    site.write(
        "content/vault2/_index.MD",
        "---\ntitle: V2\naccess:\n  level: gold\n---\n\n[n](notes-zqxcaps.txt)\n",
    );
    std::fs::write(site.path("content/vault2/notes-zqxcaps.txt"), b"zqxcaps").unwrap();
    let report = site.build().unwrap();
    assert_eq!(report.gated_files, 5 + 3, "all three are sealed");
    let lesson = site.read("vault3/lesson/index.html");
    assert!(
        lesson.contains("data-gate"),
        "`_Index.md` is the section page: its access cascades"
    );
    for (path, bytes) in snapshot(&site.out()) {
        let sealed = path.starts_with("_gated/") && path.ends_with(".bin");
        assert!(
            !path.contains("zqxcaps"),
            "{path} was published in the clear"
        );
        if !sealed {
            assert!(
                !String::from_utf8_lossy(&bytes).contains("zqxcaps"),
                "{path}"
            );
        }
    }
}

#[test]
fn a_page_that_opens_for_more_members_than_a_file_cannot_hand_out_its_key() {
    let site = Site::fixture("leak");
    // The bundle-only course (bundle alpha) shows the gold lesson's diagram: alpha buyers who
    // are not gold would get its key.
    site.write(
        "content/bundle-only/preview.md",
        "---\ntitle: P\n---\n\nA peek:\n\n![d](/course/media-lesson/zqxfile-diagram.png)\n",
    );
    let error = site.build().unwrap_err().to_string();
    assert!(
        error.contains("content/bundle-only/preview.md:7: shows the members-only file content/course/media-lesson/zqxfile-diagram.png"),
        "{error}"
    );
    assert!(
        error.contains("its key would reach members who may not open it"),
        "{error}"
    );

    // A page that opens for fewer members (gold with a drip) may show a gold file.
    std::fs::remove_file(site.path("content/bundle-only/preview.md")).unwrap();
    site.write(
        "content/course/later.md",
        "---\ntitle: L\naccess:\n  level: gold\n  drip: 7d\n---\n\n![d](media-lesson/zqxfile-diagram.png)\n",
    );
    site.build().unwrap();

    // The gold section page may not show a file of a lesson that drips: it opens earlier.
    site.write(
        "content/course/drip-lesson/index.md",
        "---\ntitle: D\naccess:\n  level: gold\n  drip: 14d\n---\n\n![w](week-two.png)\n",
    );
    std::fs::write(site.path("content/course/drip-lesson/week-two.png"), b"PNG").unwrap();
    let section = std::fs::read_to_string(site.path("content/course/_index.md")).unwrap();
    site.write(
        "content/course/_index.md",
        &format!("{section}\n\nNext: ![w](drip-lesson/week-two.png)\n"),
    );
    let error = site.build().unwrap_err().to_string();
    assert!(
        error.contains("content/course/_index.md:") && error.contains("drip-lesson/week-two.png"),
        "{error}"
    );
}

#[test]
fn a_gated_page_that_shows_a_public_file_is_warned_about() {
    let site = Site::fixture("leak");
    std::fs::write(site.path("content/blog/gated-post-slides.pdf"), b"%PDF").unwrap();
    let post = std::fs::read_to_string(site.path("content/blog/gated-post.md")).unwrap();
    site.write(
        "content/blog/gated-post.md",
        &format!("{post}\n\n[slides](../gated-post-slides.pdf)\n"),
    );
    let report = site.build().unwrap();
    assert!(
        site.out().join("blog/gated-post-slides.pdf").is_file(),
        "it is public"
    );
    let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings.iter().any(|w| w.starts_with("content/blog/gated-post-slides.pdf: published in the clear, yet the members-only page /blog/gated-post/ shows it")),
        "{warnings:?}"
    );
}
