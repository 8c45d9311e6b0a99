//! A deploy killed at any point leaves the live site whole (DESIGN §9): the real binary is cut
//! off, as by SIGKILL, at exact points in each phase of a large redeploy (every gated lesson
//! rewritten, lessons added, posts removed), and after every cut each page of the old site, and
//! each new page already out, still opens: its HTML is there, and the envelope it points at is there and decrypts.
//! Every list that is live points only at what is there: each envelope the gated manifest
//! names, each gate's bundle, each page of the sitemap. A last run then finishes the job.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

use common::deploy::{
    Live, LiveBucket, LiveFolder, add_lessons, assert_live_matches, deploy_manifest, deploy_ok,
    open_page, pages,
};
use common::garage::Garage;
use common::{SECRET_B64, Site, copy_dir};

const LESSONS: usize = 120;

/// Where to cut the deploy off: right after the n-th write of a stage. The debug binary
/// SIGKILLs itself there (`GATEHOUSE_DEPLOY_CRASH_AFTER`, src/deploy/crash.rs), with its other
/// writes still in flight, so every cut lands where it is meant to however busy the machine.
const CUTS: [(&str, usize); 8] = [
    // Right after the manifest that marks every path about to change as unknown.
    ("manifest", 1),
    ("assets", 1),
    ("assets", 60),
    ("pages", 1),
    ("pages", 60),
    ("lists", 1),
    // Right after the manifest's second write: the one before deleting, or, when a phase ran
    // long on a busy machine, the checkpoint after it. Either leaves paths marked unknown.
    ("manifest", 2),
    ("deletes", 1),
];

/// Runs a deploy that ends itself after the `n`-th write of `stage`; panics if it finished
/// instead (the stage had fewer writes) or failed some other way.
fn cut_off(site: &Site, env: &[(&str, String)], stage: &str, n: usize) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .arg("--root")
        .arg(site.root())
        .arg("deploy")
        .env("GATEHOUSE_SECRET", SECRET_B64)
        .env("GATEHOUSE_DEPLOY_CRASH_AFTER", format!("{stage}:{n}"));
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.signal(),
        Some(SIGKILL),
        "the deploy was to end itself after write {n} of {stage}: {}\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains(&format!("crashing on purpose after write {n} of {stage}")),
        "{stderr}"
    );
}

/// SIGKILL, on Linux.
const SIGKILL: i32 = 9;

/// Every page of the old build that the new one keeps is live and opens; a page only one of
/// the builds has may be missing (not out yet, or deleted already), but opens if it is live.
fn assert_site_whole(live: &dyn Live, old: &Path, new: &Path, moment: &str) {
    let (old_pages, new_pages) = (pages(old), pages(new));
    for path in old_pages.union(&new_pages) {
        let in_both = old_pages.contains(path) && new_pages.contains(path);
        if !in_both && live.fetch(path).is_none() {
            continue;
        }
        // Panics, naming the page and what is missing, if anything is.
        let (_, body) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open_page(live, path)))
                .unwrap_or_else(|_| panic!("after a kill {moment}, {path} does not open"));
        if path.starts_with("/course/bulk-") {
            assert!(body.is_some(), "{path} is gated");
        }
    }
}

/// The live gated manifest, gates list and sitemap point only at files that are live.
fn assert_lists_whole(live: &dyn Live, moment: &str) {
    let json = |path: &str| -> serde_json::Value {
        serde_json::from_slice(
            &live
                .fetch(path)
                .unwrap_or_else(|| panic!("{path} is missing")),
        )
        .unwrap()
    };
    for page in json("/_gated/manifest.json")["pages"].as_array().unwrap() {
        let src = page["src"].as_str().unwrap();
        assert!(
            live.fetch(src).is_some(),
            "after a kill {moment}, the manifest names {src}, which is missing"
        );
    }
    for gate in json("/_gated/gates.json")["gates"].as_array().unwrap() {
        let bundle = gate["bundle"].as_str().unwrap();
        assert!(
            live.fetch(bundle).is_some(),
            "after a kill {moment}, {bundle} is missing"
        );
    }
    let sitemap = String::from_utf8(live.fetch("/sitemap.xml").unwrap()).unwrap();
    for loc in sitemap.split("<loc>").skip(1) {
        let url = loc.split("</loc>").next().unwrap();
        let path = &url[url.find("://").map_or(0, |i| i + 3)..];
        let path = &path[path.find('/').unwrap_or(path.len())..];
        assert!(
            live.fetch(path).is_some(),
            "after a kill {moment}, the sitemap lists {path}, which is missing"
        );
    }
}

fn killed_deploys_never_break_the_live_site(site: &Site, live: &dyn Live, env: &[(&str, String)]) {
    add_lessons(site, LESSONS, "one");
    site.build().unwrap();
    deploy_ok(site, &[], env);
    let old = tempfile::tempdir().unwrap();
    copy_dir(&site.out(), old.path());

    add_lessons(site, LESSONS, "two");
    for n in 0..20 {
        site.write(
            &format!("content/course/added-{n:02}.md"),
            &format!(
                "---\ntitle: \"Added lesson {n}\"\nweight: {}\n---\n\nA new lesson, number {n}.\n",
                500 + n
            ),
        );
    }
    for n in 0..10 {
        std::fs::remove_file(site.path(&format!("content/blog/bulk-{n:03}.md"))).unwrap();
    }
    site.build().unwrap();

    for (stage, n) in CUTS {
        let moment = format!("after write {n} of {stage}");
        cut_off(site, env, stage, n);
        assert_site_whole(live, old.path(), &site.out(), &moment);
        assert_lists_whole(live, &moment);
        // The manifest written before the cut says what may be half done.
        let manifest = deploy_manifest(live);
        assert!(
            !manifest["unknown"].as_array().unwrap().is_empty(),
            "{moment}: the deploy manifest marks the paths it was changing as unknown"
        );
    }

    let out = deploy_ok(site, &[], env);
    assert!(out.contains("Deployed to"), "{out}");
    assert_live_matches(live, &site.out());
    assert!(
        live.fetch("/blog/bulk-000/").is_none(),
        "removed pages are gone once a deploy finishes"
    );
    let manifest = deploy_manifest(live);
    assert!(manifest["unknown"].as_array().unwrap().is_empty());
    let again = deploy_ok(site, &[], env);
    assert!(again.contains("Nothing to deploy"), "{again}");
}

fn with_deploy_table(site: &Site, table: &str) {
    let toml = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write("site.toml", &format!("{toml}{table}max_deletes = 1000\n"));
}

#[test]
fn a_folder_deploy_killed_in_any_phase_leaves_every_page_opening() {
    let site = Site::demo();
    with_deploy_table(&site, "\n[deploy]\ntarget = \"live\"\n");
    let live = LiveFolder(site.path("live"));
    killed_deploys_never_break_the_live_site(&site, &live, &[]);
}

#[test]
fn a_bucket_deploy_killed_in_any_phase_leaves_every_page_opening() {
    let Some(garage) = Garage::start() else {
        return;
    };
    let site = Site::demo();
    with_deploy_table(&site, &garage.deploy_table("www"));
    let live = LiveBucket {
        garage: &garage,
        prefix: "www",
    };
    killed_deploys_never_break_the_live_site(&site, &live, &garage.env());
}
