//! A build writes over the previous build kept in `.gatehouse/spare` instead of a fresh folder
//! (issue 18). Whatever the spare held, the published folder must hold exactly what a build
//! into a fresh folder holds: nothing of an earlier build may go live.

#![allow(clippy::unwrap_used)]

mod common;

use common::snapshot;
use common::spare::{SPARE, all_text, assert_same_as_a_fresh_build, site_with_a_spare};

#[test]
fn a_page_made_members_only_leaves_no_public_copy_when_the_spare_is_reused() {
    let site = site_with_a_spare();
    assert!(all_text(&site.out()).contains("publicmark-openbody"));
    site.edit(
        "content/blog/open-post.md",
        "tags: [shared-tag]\n",
        "tags: [shared-tag]\naccess:\n  level: gold\n",
    );
    site.build().unwrap();
    assert!(!all_text(&site.out()).contains("publicmark-openbody"));
    // The build after takes the spare that still holds the public copy.
    site.build().unwrap();
    assert!(!all_text(&site.out()).contains("publicmark-openbody"));
    assert_same_as_a_fresh_build(&site);
}

#[test]
fn a_removed_page_is_gone_from_the_reused_folder() {
    let site = site_with_a_spare();
    site.write(
        "content/blog/extra.md",
        "---\ntitle: Extra\n---\n\nextramark\n",
    );
    site.build().unwrap();
    site.build().unwrap();
    assert!(site.out().join("blog/extra/index.html").is_file());
    std::fs::remove_file(site.path("content/blog/extra.md")).unwrap();
    site.build().unwrap();
    assert!(!site.out().join("blog/extra").exists());
    site.build().unwrap();
    assert!(!site.out().join("blog/extra").exists());
    assert!(!all_text(&site.out()).contains("extramark"));
    assert_same_as_a_fresh_build(&site);
}

#[test]
fn a_file_written_over_a_longer_one_keeps_nothing_of_its_tail() {
    // Files of the spare are written over, not truncated first: the new length must be set.
    let site = site_with_a_spare();
    let long = format!("{}tailmark-end\n", "x".repeat(64 * 1024));
    site.write("static/notes.txt", &long);
    site.build().unwrap();
    site.build().unwrap();
    site.write("static/notes.txt", "short\n");
    site.build().unwrap();
    site.build().unwrap();
    let published = std::fs::read_to_string(site.out().join("notes.txt")).unwrap();
    assert_eq!(published, "short\n");
    assert!(!all_text(&site.out()).contains("tailmark-end"));
    assert_same_as_a_fresh_build(&site);
}

#[test]
fn a_file_that_becomes_a_folder_and_back_is_written_either_way() {
    let site = site_with_a_spare();
    site.write("static/notes", "a file");
    site.build().unwrap();
    site.build().unwrap();
    std::fs::remove_file(site.path("static/notes")).unwrap();
    site.write("static/notes/a.txt", "in a folder");
    site.build().unwrap();
    site.build().unwrap();
    assert_eq!(
        std::fs::read_to_string(site.out().join("notes/a.txt")).unwrap(),
        "in a folder"
    );
    std::fs::remove_dir_all(site.path("static/notes")).unwrap();
    site.write("static/notes", "a file again");
    site.build().unwrap();
    site.build().unwrap();
    assert_eq!(
        std::fs::read_to_string(site.out().join("notes")).unwrap(),
        "a file again"
    );
    assert_same_as_a_fresh_build(&site);
}

#[test]
fn a_spare_with_a_planted_link_is_not_written_through() {
    let site = site_with_a_spare();
    let outside = site.root().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("index.html"), "untouched").unwrap();
    let spare = site.path(SPARE);
    // A folder of the output replaced by a link to a folder elsewhere.
    std::fs::remove_dir_all(spare.join("blog")).unwrap();
    std::os::unix::fs::symlink(&outside, spare.join("blog")).unwrap();
    site.build().unwrap();
    assert_eq!(
        std::fs::read_to_string(outside.join("index.html")).unwrap(),
        "untouched"
    );
    assert!(
        !site.out().join("blog").is_symlink(),
        "the link is not published"
    );
    assert_same_as_a_fresh_build(&site);
}

#[test]
fn a_spare_file_hard_linked_elsewhere_is_not_written_through() {
    let site = site_with_a_spare();
    let twin = site.root().join("twin.html");
    std::fs::write(&twin, "untouched").unwrap();
    let page = site.path(SPARE).join("blog/open-post/index.html");
    std::fs::remove_file(&page).unwrap();
    std::fs::hard_link(&twin, &page).unwrap();
    site.build().unwrap();
    assert_eq!(std::fs::read_to_string(&twin).unwrap(), "untouched");
    assert!(
        std::fs::read_to_string(site.out().join("blog/open-post/index.html"))
            .unwrap()
            .contains("publicmark-openbody")
    );
}

#[test]
fn sealed_files_linked_from_the_cache_stay_whole_across_reused_builds() {
    let site = site_with_a_spare();
    let cache = snapshot(&site.path(".gatehouse/files"));
    assert!(!cache.is_empty(), "the fixture seals files");
    for _ in 0..2 {
        site.build().unwrap();
    }
    assert!(snapshot(&site.path(".gatehouse/files")) == cache);
    assert_same_as_a_fresh_build(&site);
}

#[test]
fn a_failed_build_leaves_the_live_site_alone_and_the_next_one_reuses_nothing_stale() {
    let site = site_with_a_spare();
    let before = snapshot(&site.out());
    site.edit("content/course/lesson-2.md", "drip: 14d", "drip: soon");
    assert!(site.build().is_err());
    assert!(before == snapshot(&site.out()));
    site.edit("content/course/lesson-2.md", "drip: soon", "drip: 14d");
    site.build().unwrap();
    assert_same_as_a_fresh_build(&site);
}

#[test]
fn a_build_that_fails_while_writing_hands_its_folder_back_as_the_next_spare() {
    let site = site_with_a_spare();
    let before = snapshot(&site.out());
    // A template that fails only when a page renders: the build has taken the spare by then.
    site.write(
        "templates/page.html",
        "{% extends \"base.html\" %}{% block main %}{{ nothing_here.at_all }}{% endblock main %}",
    );
    assert!(site.build().is_err());
    assert!(before == snapshot(&site.out()), "the live site changed");
    assert!(
        site.path(SPARE).is_dir(),
        "the failed build's folder was deleted, not handed back"
    );
    let parent = site.out().parent().unwrap().to_path_buf();
    let leftovers: Vec<String> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_file(site.path("templates/page.html")).unwrap();
    site.build().unwrap();
    assert_same_as_a_fresh_build(&site);
}
