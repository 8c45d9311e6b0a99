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
    for n in 3..=23 {
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
