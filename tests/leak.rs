//! The leak rule (DESIGN §4): no text that only a gated body holds may appear in any other
//! output file. The fixture marks every such text with `zqxleak`; public text with
//! `publicmark`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Site, open_all, snapshot};

const SECRET_MARK: &str = "zqxleak";

#[test]
fn gated_text_appears_only_inside_envelopes() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let files = snapshot(&site.out());
    assert!(
        files.len() > 10,
        "the build wrote only {} files",
        files.len()
    );
    let mut scanned = 0;
    for (path, bytes) in &files {
        if path.starts_with("_gated/") && path.ends_with(".bin") {
            continue;
        }
        let text = String::from_utf8_lossy(bytes).to_lowercase();
        assert!(!text.contains(SECRET_MARK), "{path} leaks gated text");
        scanned += 1;
    }
    assert!(scanned > 10);
}

#[test]
fn every_gated_marker_is_sealed_not_dropped() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let opened: String = open_all(&site.out())
        .into_values()
        .collect::<Vec<_>>()
        .join("\n");
    // Markers 01 (description) and 02 (extra) live in front matter, which is private and not
    // part of the body; every other marker is body text and must be inside some envelope.
    for n in 3..=29 {
        let marker = format!("{SECRET_MARK}{n:02}");
        assert!(
            opened.contains(&marker),
            "{marker} is in no envelope: content was lost"
        );
    }
}

#[test]
fn public_text_is_published() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let post = site.read("blog/gated-post/index.html");
    assert!(post.contains("publicmark-gatedtitle"), "title is public");
    assert!(
        post.contains("publicmark-gatedsummary"),
        "summary is public"
    );
    assert!(post.contains("publicmark-tag"), "tags are public");
    let lesson = site.read("course/lesson-1/index.html");
    assert!(
        lesson.contains("publicmark-lesson1teaser"),
        "text above <!-- more --> is the teaser"
    );
    let syllabus = site.read("course/syllabus/index.html");
    assert!(
        syllabus.contains("publicmark-syllabus"),
        "access: public overrides the section"
    );
    assert!(!syllabus.contains("data-gate"));
}

#[test]
fn drafts_are_left_out_unless_asked_for() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let all: String = snapshot(&site.out())
        .into_values()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect();
    assert!(!all.contains("draftmark"));
    assert!(!all.contains("publicmark-drafttitle"));
    let report = site
        .build_with_drafts(&site.root().join("with-drafts"))
        .unwrap();
    assert!(report.documents > 0);
    let draft = std::fs::read_to_string(site.root().join("with-drafts/draft/index.html")).unwrap();
    assert!(draft.contains("draftmark-body"));
}

#[test]
fn updated_date_of_a_gated_page_stays_private() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    for (path, bytes) in snapshot(&site.out()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("2031-07-09"),
            "{path} shows the gated page's `updated` date"
        );
    }
}

#[test]
fn a_draft_section_hides_its_pages_instead_of_publishing_them() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    for (path, bytes) in snapshot(&site.out()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("draftmark"),
            "{path} shows a draft section's page"
        );
    }
    let drafts_out = site.root().join("with-drafts");
    site.build_with_drafts(&drafts_out).unwrap();
    let manifest = common::manifest(&drafts_out);
    let page = manifest
        .pages
        .iter()
        .find(|p| p.path == "/secret-draft/page/");
    assert_eq!(
        page.map(|p| p.rule.as_str()),
        Some("level=gold;bundles=-;drip=0"),
        "with --drafts it is gated"
    );
}

#[test]
fn backups_of_markdown_files_are_not_published() {
    let site = Site::fixture("leak");
    let report = site.build().unwrap();
    assert!(!site.out().join("course/lesson-2.md~").exists());
    let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("content/course/lesson-2.md~: not published")),
        "{warnings:?}"
    );
}

#[test]
fn link_references_below_the_marker_do_not_reach_the_teaser() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let html = site.read("course/advanced/deep/index.html");
    assert!(
        html.contains("See the [guide][ref] for details."),
        "the teaser renders on its own"
    );
}

/// Marks every byte that only a gated file holds (PNG text chunk, PDF text, CSV rows, windows
/// of a video's bytes, an unlinked file); `zqxfile-` starts every gated file's name.
const FILE_MARK: &[u8] = b"zqxfilemark";
const FILE_NAME_MARK: &[u8] = b"zqxfile-";
const MEDIA: &str = "content/course/media-lesson";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let lower = haystack.to_ascii_lowercase();
    lower.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn gated_files_and_their_names_appear_only_sealed() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let files = snapshot(&site.out());
    let mut sealed = 0;
    for (path, bytes) in &files {
        let is_ciphertext = path.starts_with("_gated/") && path.ends_with(".bin");
        sealed += usize::from(path.starts_with("_gated/files/"));
        if is_ciphertext {
            continue;
        }
        assert!(
            !contains(path.as_bytes(), FILE_NAME_MARK),
            "an output is named {path}"
        );
        assert!(
            !contains(bytes, FILE_MARK),
            "{path} holds a gated file's bytes"
        );
        assert!(
            !contains(bytes, FILE_NAME_MARK),
            "{path} names a gated file"
        );
    }
    assert_eq!(
        sealed, 5,
        "every gated file is sealed, the unlinked one too"
    );
    // The opened bodies point at sealed objects, never at the files' own names.
    for (path, body) in open_all(&site.out()) {
        assert!(
            !body.contains("zqxfile-"),
            "the body of {path} names a gated file"
        );
    }
}

#[test]
fn sealed_files_open_to_their_sources_and_bodies_carry_their_keys() {
    use gatehouse::gate::MasterSecret;
    use gatehouse::gate::file::{FileSalt, FilesRoot, open_object};

    let site = Site::fixture("leak");
    site.build().unwrap();
    let root = FilesRoot::derive(&MasterSecret::from_base64url(common::SECRET_B64).unwrap());
    let mut opened = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(site.out().join("_gated/files")).unwrap() {
        let path = entry.unwrap().path();
        let hex = path.file_stem().unwrap().to_string_lossy().into_owned();
        let salt: [u8; 16] = gatehouse::gate::from_hex(&hex).unwrap().try_into().unwrap();
        let key = root.file_key(&FileSalt::from_bytes(salt));
        let file = open_object(&key, &hex, &std::fs::read(&path).unwrap()).unwrap();
        let meta: serde_json::Value = serde_json::from_str(&file.meta).unwrap();
        let name = meta["name"].as_str().unwrap().to_owned();
        assert_eq!(
            file.content,
            std::fs::read(site.path(&format!("{MEDIA}/{name}"))).unwrap(),
            "{name} opens to its source"
        );
        opened.insert(hex, (name, key.to_base64url()));
    }
    let body = &open_all(&site.out())["/course/media-lesson/"];
    let list = body
        .split("<script type=\"application/json\" data-gh-files>")
        .nth(1)
        .and_then(|rest| rest.strip_suffix("</script>"))
        .unwrap_or_else(|| panic!("the body ends with its key list: {body}"));
    let keys: std::collections::BTreeMap<String, String> = serde_json::from_str(list).unwrap();
    let mut named: Vec<&str> = keys.keys().map(|hex| opened[hex].0.as_str()).collect();
    named.sort_unstable();
    assert_eq!(
        named,
        [
            "zqxfile-clip.webm",
            "zqxfile-diagram.png",
            "zqxfile-roster.csv",
            "zqxfile-worksheet.pdf"
        ],
        "each referenced file once; the unlinked one is in no body"
    );
    for (hex, key) in &keys {
        assert_eq!(key, &opened[hex].1, "the listed key opens {hex}");
        assert!(body.contains(&format!("/_gated/files/{hex}.bin")));
    }
}

#[test]
fn public_files_stay_byte_identical() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    for (source, output) in [
        (
            format!("{MEDIA}/cover-publicmark.svg"),
            "course/media-lesson/cover-publicmark.svg",
        ),
        (
            "content/blog/open-bundle/publicmark-chart.svg".to_owned(),
            "blog/open-bundle/publicmark-chart.svg",
        ),
    ] {
        assert_eq!(
            std::fs::read(site.path(&source)).unwrap(),
            std::fs::read(site.out().join(output)).unwrap(),
            "{output}"
        );
    }
    let teaser = site.read("course/media-lesson/index.html");
    assert!(
        teaser.contains("cover-publicmark.svg"),
        "a public file may be shown in the teaser"
    );
}

#[test]
fn a_page_gated_in_toml_front_matter_is_sealed_and_opens() {
    let site = Site::fixture("leak");
    site.write(
        "content/toml-lesson.md",
        "+++\ntitle = \"A lesson in TOML\"\ndate = 2026-10-01\n\n[access]\nlevel = \"gold\"\n+++\n\nzqxleak written under TOML front matter.\n",
    );
    site.build().unwrap();
    for (path, bytes) in snapshot(&site.out()) {
        if path.starts_with("_gated/") && path.ends_with(".bin") {
            continue;
        }
        assert!(
            !contains(&bytes, SECRET_MARK.as_bytes()),
            "{path} leaks gated text"
        );
    }
    let opened = open_all(&site.out());
    let body = opened
        .iter()
        .find(|(path, _)| path.contains("toml-lesson"))
        .map(|(_, body)| body.clone())
        .unwrap_or_else(|| panic!("no envelope for the TOML lesson: {:?}", opened.keys()));
    assert!(body.contains("zqxleak written under TOML front matter"));
}

#[test]
fn members_blocks_are_sealed_apart_and_only_their_else_parts_are_public() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&site.read("_gated/manifest.json")).unwrap();
    let paths: Vec<&str> = manifest["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    for block in [
        "/blog/block-post/#1",
        "/blog/block-post/#2",
        "/blog/block-post/#3",
        "/course/lesson-1/#1",
    ] {
        assert!(
            paths.contains(&block),
            "{block} is not in the manifest: {paths:?}"
        );
    }
    assert!(
        !paths.contains(&"/blog/block-post/"),
        "the post itself is public"
    );

    let post = site.read("blog/block-post/index.html");
    for public in [
        "publicmark-blockopening",
        "publicmark-blockelse1",
        "publicmark-blockmiddle",
        "publicmark-blockelse3",
        "publicmark-blockclosing",
    ] {
        assert!(post.contains(public), "{public} is missing from the post");
    }
    for n in 1..=3 {
        assert!(
            post.contains(&format!("data-path=\"/blog/block-post/#{n}\"")),
            "block {n} has no slot"
        );
    }
    assert_eq!(post.matches("data-block").count(), 3);
    assert!(
        !post.contains("gh:block"),
        "no placeholder is left in the page"
    );
    // The table of contents and reading time are the public text's alone.
    assert!(
        !post.contains("secret-heading"),
        "a block's heading is in the page's toc"
    );

    // The teaser above `<!-- more -->` shows block 1's else part, in lists and feeds.
    let blog = site.read("blog/index.html");
    assert!(
        blog.contains("publicmark-blockelse1"),
        "the teaser lost the else part"
    );
    let feed = site.read("atom.xml");
    assert!(
        feed.contains("publicmark-blockelse3"),
        "the feed shows the else parts"
    );
    assert!(
        !feed.contains("gh:block"),
        "no placeholder is left in the feed"
    );

    // Each block's text is in its gate's member search bundle.
    let opened = open_all(&site.out());
    let bundles: String = opened
        .iter()
        .filter(|(path, _)| path.ends_with("/bundle"))
        .map(|(_, text)| text.as_str())
        .collect();
    for marker in ["zqxleak25", "zqxleak27", "zqxleak28", "zqxleak29"] {
        assert!(bundles.contains(marker), "{marker} is in no search bundle");
    }
    // The gated lesson's sealed body holds its block's slot, not the block's text.
    let lesson = &opened["/course/lesson-1/"];
    assert!(
        lesson.contains("data-path=\"/course/lesson-1/#1\""),
        "{lesson}"
    );
    assert!(
        !lesson.contains("zqxleak29"),
        "the lesson's block is sealed apart"
    );
    assert!(opened["/course/lesson-1/#1"].contains("zqxleak29"));
    assert!(
        opened["/blog/block-post/#1"].contains("zqxleak26"),
        "a shortcode in a block"
    );
}

#[test]
fn the_leak_scan_covers_aliases_taxonomies_pagers_and_links() {
    // The outputs of every authoring feature exist, so `gated_text_appears_only_inside_envelopes`
    // reads them too.
    let site = Site::fixture("leak");
    site.build().unwrap();
    for file in [
        "2019/gated-post/index.html",
        "gated-post.html",
        "categories/index.html",
        "categories/publicmark-category/index.html",
        "categories/publicmark-category/atom.xml",
        "blog/page/2/index.html",
        "blog/page/1/index.html",
    ] {
        assert!(site.out().join(file).is_file(), "{file} was not written");
    }
    let alias = site.read("gated-post.html");
    assert!(
        alias.contains("https://leak.example.com/blog/gated-post/"),
        "{alias}"
    );
    let category = site.read("categories/publicmark-category/index.html");
    assert!(
        category.contains("publicmark-gatedtitle"),
        "a gated page is listed by title"
    );
    assert!(category.contains("publicmark-blocktitle"));
    // `@/` links resolve, in a public page and inside a sealed body.
    let post = site.read("blog/block-post/index.html");
    assert!(post.contains("href=\"/course/lesson-1/\""), "{post}");
    let opened = open_all(&site.out());
    assert!(
        opened["/blog/gated-post/"]
            .contains("href=\"/blog/open-post/#public-heading-publicmark-openheading\""),
        "{}",
        opened["/blog/gated-post/"]
    );
}
