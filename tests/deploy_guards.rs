//! What keeps `gatehouse deploy` from doing harm or losing track (DESIGN §9), on the real
//! binary with a folder target: one deploy at a time, never into the site itself or through a
//! symbolic link, old files that cannot be deleted are tried again, a failed CDN purge is
//! handed to the next deploy, and a retired envelope goes once it has been kept long enough.

#![allow(clippy::unwrap_used)]

mod common;

use common::Site;
use common::deploy::{
    LiveFolder, append_and_build, assert_live_matches, counts, demo_deploying_to_folder, deploy,
    deploy_manifest, deploy_ok, envelope_of, sealed_manifest, stderr, stdout,
};

const LESSON: &str = "content/course/value-metric.md";
/// The sealed deploy manifest of the folder target.
const MANIFEST: &str = "live/.gatehouse-deploy.sealed";

fn edit_lesson(site: &Site, words: &str) {
    append_and_build(site, LESSON, words);
}

fn write_lock(site: &Site, host: &str, pid: u32, expires: i64) {
    site.write(
        "live/.gatehouse-deploy.lock",
        &format!(
            r#"{{"id":"other","host":"{host}","pid":{pid},"started":1800000000,"expires":{expires}}}"#
        ),
    );
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn a_deploy_waits_for_another_that_holds_the_lock_and_takes_a_lapsed_or_orphaned_one() {
    let site = demo_deploying_to_folder("");
    deploy_ok(&site, &[], &[]);
    edit_lesson(&site, "An edit while another deploy runs.");
    let far = jiff::Timestamp::now().as_second() + 3600;
    write_lock(&site, "ci-runner-7", 4242, far);
    let refused = deploy(&site, &[], &[]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("another deploy is writing to"),
        "{message}"
    );
    assert!(message.contains("ci-runner-7 (process 4242)"), "{message}");
    assert!(
        !std::fs::read_to_string(site.path("live/course/value-metric/index.html"))
            .unwrap()
            .contains("while another deploy runs"),
        "nothing was written"
    );
    let dry = deploy_ok(&site, &["--dry-run"], &[]);
    assert!(dry.contains("Plan for"), "a dry run needs no lock: {dry}");

    write_lock(&site, "ci-runner-7", 4242, 1_700_000_000);
    deploy_ok(&site, &[], &[]);
    assert!(
        !site.path("live/.gatehouse-deploy.lock").exists(),
        "a finished deploy gives its lock back"
    );

    // A deploy killed on this machine left its lock: its process is gone, so it is free.
    edit_lesson(&site, "A second edit.");
    write_lock(&site, &this_host(), u32::MAX - 7, far);
    deploy_ok(&site, &[], &[]);
    assert_live_matches(&LiveFolder(site.path("live")), &site.out());
}

#[test]
fn a_folder_target_may_not_be_the_site_its_sources_or_its_build() {
    let site = demo_deploying_to_folder("");
    for target in [".", "content", ".gatehouse", "public", "public/live", ".."] {
        let output = deploy(&site, &["--target", target], &[]);
        assert!(!output.status.success(), "{target}");
        let message = stderr(&output);
        assert!(
            message.contains("refusing to deploy into"),
            "{target}: {message}"
        );
        assert!(message.contains("choose a folder of its own"), "{message}");
    }
    assert!(site.path(".gatehouse/secret").exists());
    assert!(site.path("content/course/_index.md").exists());
}

#[test]
fn nothing_is_written_or_deleted_through_a_symbolic_link_in_the_target() {
    let site = demo_deploying_to_folder("");
    deploy_ok(&site, &[], &[]);
    site.write("outside/sub/victim.txt", "must survive\n");
    std::os::unix::fs::symlink(site.path("outside"), site.path("live/media")).unwrap();
    let mut state = deploy_manifest(&LiveFolder(site.path("live")));
    state["unknown"] = serde_json::json!(["media/sub/victim.txt"]);
    std::fs::write(site.path(MANIFEST), sealed_manifest(&state)).unwrap();

    let output = deploy(&site, &[], &[]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("1 old file could not be deleted"),
        "{message}"
    );
    assert!(message.contains("symbolic link"), "{message}");
    assert!(
        site.path("outside/sub/victim.txt").exists(),
        "outside untouched"
    );
}

#[test]
fn an_old_file_that_cannot_be_deleted_is_tried_again_and_the_purge_still_runs() {
    let site = demo_deploying_to_folder(
        "after = \"cp \\\"$GATEHOUSE_DEPLOY_CHANGED_FILE\\\" purged.txt\"\n",
    );
    deploy_ok(&site, &[], &[]);
    std::fs::remove_file(site.path("content/blog/good-better-best.md")).unwrap();
    edit_lesson(&site, "Edited together with a removal.");
    // The removed page's folder became a link (to somewhere shared): a deploy does not delete
    // through links, so its file stays.
    let folder = site.path("live/blog/good-better-best");
    let shared = site.path("shared-folder");
    std::fs::rename(&folder, &shared).unwrap();
    std::os::unix::fs::symlink(&shared, &folder).unwrap();

    let output = deploy(&site, &[], &[]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("the new site is live, but 1 old file could not be deleted"),
        "{message}"
    );
    assert!(
        message.contains("blog/good-better-best/index.html"),
        "{message}"
    );
    let purged = std::fs::read_to_string(site.path("purged.txt")).unwrap();
    assert!(
        purged.contains("/course/value-metric/"),
        "the purge ran: {purged}"
    );
    let manifest = deploy_manifest(&LiveFolder(site.path("live")));
    assert_eq!(
        manifest["unknown"],
        serde_json::json!(["blog/good-better-best/index.html"])
    );

    std::fs::remove_file(&folder).unwrap();
    let out = deploy_ok(&site, &[], &[]);
    assert_eq!(counts(&out).2, 1, "tried again: {out}");
    assert!(deploy_ok(&site, &[], &[]).contains("Nothing to deploy"));
}

#[test]
fn a_failed_purge_is_handed_to_the_next_deploy_until_it_succeeds() {
    let site = demo_deploying_to_folder(
        "after = \"cat \\\"$GATEHOUSE_DEPLOY_CHANGED_FILE\\\" >> purges.txt; echo --- >> purges.txt; test -e purge-works\"\n",
    );
    let first = deploy(&site, &[], &[]);
    assert!(!first.status.success(), "the hook fails");
    assert!(stdout(&first).contains("Deployed to"));

    // Nothing changed, but the failed purge is still owed.
    site.write("purge-works", "");
    let second = deploy_ok(&site, &[], &[]);
    assert!(second.contains("Ran the after hook"), "{second}");
    assert!(second.contains("left from an earlier deploy"), "{second}");
    let purges = std::fs::read_to_string(site.path("purges.txt")).unwrap();
    let runs: Vec<&str> = purges.split("---\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(runs.len(), 2, "{purges}");
    assert_eq!(runs[0], runs[1], "the same paths again");
    assert!(runs[1].contains("/index.html"));

    let third = deploy_ok(&site, &[], &[]);
    assert!(third.contains("Nothing to deploy"), "paid off: {third}");
}

#[test]
fn a_retired_envelope_goes_once_it_has_been_kept_long_enough() {
    let site = demo_deploying_to_folder("");
    deploy_ok(&site, &[], &[]);
    let old_src = envelope_of(&site, "/course/value-metric/");
    edit_lesson(&site, "An edit that retires the old envelope.");
    deploy_ok(&site, &[], &[]);
    let old = site.path("live").join(old_src.trim_start_matches('/'));
    assert!(old.exists());
    assert!(
        deploy_ok(&site, &[], &[]).contains("Nothing to deploy"),
        "kept, still"
    );

    // A day later (the manifest says it was retired long ago).
    let mut state = deploy_manifest(&LiveFolder(site.path("live")));
    let key = old_src.trim_start_matches('/');
    assert!(state["retired"][key].is_object(), "{state}");
    state["retired"][key]["since"] = 1_000_000_000.into();
    std::fs::write(site.path(MANIFEST), sealed_manifest(&state)).unwrap();
    let plan = deploy_ok(&site, &["--dry-run"], &[]);
    assert!(plan.contains("(replaced, kept long enough)"), "{plan}");
    let out = deploy_ok(&site, &["--quiet"], &[]);
    assert_eq!(counts(&out).2, 1, "{out}");
    assert!(!old.exists());
}

#[test]
fn a_file_that_becomes_a_folder_in_the_next_build_deploys() {
    let site = demo_deploying_to_folder("");
    site.write("static/handouts", "one file at first\n");
    site.build().unwrap();
    deploy_ok(&site, &[], &[]);
    std::fs::remove_file(site.path("static/handouts")).unwrap();
    site.write("static/handouts/week-1.txt", "now a folder of them\n");
    site.build().unwrap();
    let out = deploy_ok(&site, &[], &[]);
    assert_eq!(counts(&out), (1, 0, 1), "{out}");
    assert_eq!(
        std::fs::read_to_string(site.path("live/handouts/week-1.txt")).unwrap(),
        "now a folder of them\n"
    );
    assert_live_matches(&LiveFolder(site.path("live")), &site.out());
}
