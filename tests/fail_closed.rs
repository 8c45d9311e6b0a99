//! Fail closed (issue 15): every error about a file that carries or cascades `access:` stops
//! the build (and `check`, and `serve`'s rebuilds), naming the file, the line when there is
//! one, and the fix. Nothing that would have been gated is skipped or warned about in a way
//! that publishes it without its gate; not publishing a file at all is closed, and allowed.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Site, snapshot};

/// Text that only gated bodies and files hold.
const GATED: &str = "zqxgated";

const LESSON: &str = "---\ntitle: Lesson\n---\nLesson body zqxgated.\n";

/// A site of its own: the leak fixture's site.toml and theme, with only `files` as content.
fn site_with(files: &[(&str, &str)]) -> Site {
    let site = Site::fixture("leak");
    std::fs::remove_dir_all(site.path("content")).unwrap();
    site.write("content/_index.md", "---\ntitle: Home\n---\nWelcome.\n");
    for (path, text) in files {
        site.write(path, text);
    }
    site
}

/// Every built file that shows gated text in the clear (envelopes aside).
fn leaks(site: &Site) -> Vec<String> {
    let mut found = Vec::new();
    for dir in [site.out(), site.root().join("with-drafts")] {
        if !dir.exists() {
            continue;
        }
        for (path, bytes) in snapshot(&dir) {
            if path.starts_with("_gated/") && path.ends_with(".bin") {
                continue;
            }
            if String::from_utf8_lossy(&bytes).contains(GATED) {
                found.push(format!("{}/{path}", dir.display()));
            }
        }
    }
    found
}

/// Builds (with drafts when asked), expecting a refusal; checks that nothing leaked and
/// returns the error text.
fn refused_with(site: &Site, drafts: bool) -> String {
    let result = if drafts {
        site.build_with_drafts(&site.root().join("with-drafts"))
    } else {
        site.build()
    };
    let leaked = leaks(site);
    assert!(leaked.is_empty(), "gated text in the clear: {leaked:?}");
    match result {
        Ok(report) => panic!(
            "the build must stop, but built {} documents",
            report.documents
        ),
        Err(error) => error.to_string(),
    }
}

fn refused(site: &Site) -> String {
    refused_with(site, false)
}

const DRAFT_SECTION_WITH_A_BAD_SLUG: &str =
    "---\ntitle: Course\ndraft: true\nslug: \"bad slug/..\"\naccess:\n  level: gold\n---\n";

#[test]
fn a_draft_section_with_a_bad_slug_stops_the_build() {
    let site = site_with(&[
        ("content/course/_index.md", DRAFT_SECTION_WITH_A_BAD_SLUG),
        ("content/course/lesson.md", LESSON),
    ]);
    let error = refused(&site);
    assert!(
        error.contains("content/course/_index.md:4: slug `bad slug/..` would make an unsafe URL"),
        "{error}"
    );
    assert!(error.contains("(change the slug)"), "the fix: {error}");
    let error = refused_with(&site, true);
    assert!(
        error.contains("content/course/_index.md:4: slug"),
        "{error}"
    );
}

#[test]
fn gatehouse_check_refuses_a_draft_section_with_a_bad_slug() {
    let site = site_with(&[
        ("content/course/_index.md", DRAFT_SECTION_WITH_A_BAD_SLUG),
        ("content/course/lesson.md", LESSON),
    ]);
    let output = common::gatehouse(&["check"], site.root());
    let (stdout, stderr) = common::text(&output);
    assert!(!output.status.success(), "check passed: {stdout}");
    assert!(
        stderr.contains("content/course/_index.md:4: slug"),
        "{stderr}"
    );
}

#[test]
fn a_draft_section_with_an_unknown_level_stops_the_build() {
    let site = site_with(&[
        (
            "content/course/_index.md",
            "---\ntitle: Course\ndraft: true\naccess:\n  level: glod\n---\n",
        ),
        ("content/course/lesson.md", LESSON),
    ]);
    let error = refused(&site);
    assert!(
        error.contains("content/course/_index.md:5: access.level: unknown level `glod`"),
        "{error}"
    );
    assert!(error.contains("did you mean `gold`?"), "{error}");
}

#[test]
fn an_empty_access_stops_the_build_instead_of_making_the_section_public() {
    let site = site_with(&[
        (
            "content/course/_index.md",
            "---\ntitle: Course\naccess:\n---\n",
        ),
        ("content/course/lesson.md", LESSON),
    ]);
    let error = refused(&site);
    assert!(error.contains("content/course/_index.md:3:"), "{error}");
    assert!(error.contains("access: is empty"), "{error}");
    assert!(error.contains("access: public"), "the fix: {error}");
}

#[cfg(unix)]
#[test]
fn a_symlinked_section_page_stops_the_build_instead_of_being_skipped() {
    let site = site_with(&[
        (
            "shared/gold.md",
            "---\ntitle: Course\naccess:\n  level: gold\n---\n",
        ),
        ("content/course/lesson.md", LESSON),
    ]);
    std::os::unix::fs::symlink(
        site.path("shared/gold.md"),
        site.path("content/course/_index.md"),
    )
    .unwrap();
    let error = refused(&site);
    assert!(
        error.contains("content/course/_index.md: a symbolic link"),
        "{error}"
    );
    assert!(error.contains("copy"), "the fix: {error}");
}

#[test]
fn a_renamed_section_page_in_a_folder_with_a_dot_stops_the_build() {
    // An implicit section was told from a real one by its source having an extension, and a
    // folder named `v1.0` has one: the renamed gated page went unnoticed.
    let site = site_with(&[
        (
            "content/v1.0/_index.md.off",
            "---\ntitle: Course\naccess:\n  level: gold\n---\n",
        ),
        ("content/v1.0/lesson.md", LESSON),
    ]);
    let error = refused(&site);
    assert!(
        error.contains(
            "content/v1.0/_index.md.off: `_index.md.off` looks like this folder's own page"
        ),
        "{error}"
    );
}

#[test]
fn a_section_page_named_like_a_translation_stops_the_build() {
    let site = site_with(&[
        (
            "content/course/_index.en.md",
            "---\ntitle: Course\naccess:\n  level: gold\n---\n",
        ),
        ("content/course/lesson.md", LESSON),
    ]);
    let error = refused(&site);
    assert!(
        error.contains("content/course/_index.en.md: `_index.en.md` is named like a section page"),
        "{error}"
    );
    assert!(error.contains("rename it `_index.md`"), "the fix: {error}");
}

#[test]
fn a_page_with_access_in_a_file_that_is_not_markdown_stops_the_build() {
    for name in ["secret.mkd", "secret.txt", "secret.html"] {
        let site = site_with(&[(
            &format!("content/blog/{name}"),
            "---\ntitle: Secret\naccess:\n  level: gold\n---\nBody zqxgated.\n",
        )]);
        let error = refused(&site);
        assert!(
            error.contains(&format!(
                "content/blog/{name}:3: this file has front matter"
            )),
            "{error}"
        );
        assert!(error.contains("Rename it to `.md`"), "the fix: {error}");
    }
}

#[test]
fn a_draft_sections_backup_is_withheld_with_it_not_reported_missing() {
    let site = site_with(&[
        (
            "content/course/_index.md",
            "---\ntitle: Course\ndraft: true\naccess:\n  level: gold\n---\n",
        ),
        (
            "content/course/_index.md~",
            "---\ntitle: Course\naccess:\n  level: gold\n---\n",
        ),
        ("content/course/lesson.md", LESSON),
    ]);
    site.build().unwrap();
    assert!(leaks(&site).is_empty(), "{:?}", leaks(&site));
    assert!(!site.out().join("course").exists());
}

#[test]
fn a_page_that_is_not_utf8_names_its_line_and_the_fix() {
    let site = site_with(&[(
        "content/course/_index.md",
        "---\ntitle: Course\naccess:\n  level: gold\n---\n",
    )]);
    // Latin-1 `é` on line 5.
    let bytes = b"---\ntitle: Lesson\n---\nfine\ncaf\xe9 zqxgated\nmore\n";
    std::fs::write(site.path("content/course/lesson.md"), bytes).unwrap();
    let error = refused(&site);
    assert!(
        error.contains("content/course/lesson.md:5: not UTF-8"),
        "{error}"
    );
    assert!(error.contains("save it as UTF-8"), "the fix: {error}");
}

#[test]
fn files_the_walk_skips_are_never_published() {
    // Closed already: hidden files and folders, backups and editor copies are not published
    // at all, and index pages are index pages whatever their case.
    let site = site_with(&[
        (
            "content/course/_INDEX.MD",
            "---\ntitle: Course\naccess:\n  level: gold\n---\n",
        ),
        ("content/course/lesson.md", LESSON),
        ("content/blog/.hidden.md", LESSON),
        ("content/blog/.drafts/post.md", LESSON),
        ("content/blog/post.md~", LESSON),
        ("content/blog/#post.md#", LESSON),
        ("content/blog/post.md.orig", LESSON),
        ("content/blog/open.md", "---\ntitle: Open\n---\nOpen.\n"),
    ]);
    site.build().unwrap();
    assert!(leaks(&site).is_empty(), "{:?}", leaks(&site));
    let manifest = common::manifest(&site.out());
    assert!(manifest.pages.iter().any(|p| p.path == "/course/lesson/"));
}

#[test]
fn a_page_inside_a_page_bundles_folder_stops_the_build() {
    // A bundle with its own slug leaves its folder's path free, so a page beside (or below)
    // its `index.md` took an implicit, public section as its parent: the bundle's files take
    // its access, and so must anything else in its folder.
    for other in [
        "content/course/lesson/other.md",
        "content/course/lesson/deeper/other.md",
    ] {
        let site = site_with(&[
            (
                "content/course/lesson/index.md",
                "---\ntitle: Lesson\nslug: intro\naccess:\n  level: gold\n---\nzqxgated body\n",
            ),
            (other, "---\ntitle: Other\n---\nOther body zqxgated.\n"),
        ]);
        let error = refused(&site);
        let expected = format!(
            "{other}: this page is inside the folder of the page bundle \
             content/course/lesson/index.md"
        );
        assert!(error.contains(&expected), "{error}");
        assert!(error.contains("move it out"), "the fix: {error}");
    }
}
