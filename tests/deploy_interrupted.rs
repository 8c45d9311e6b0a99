//! A deploy killed at any point leaves the live site whole (DESIGN §9): the real binary is
//! SIGKILLed in each phase of a large redeploy (every gated lesson rewritten, lessons added,
//! posts removed), and after every kill each page of the old site, and each new page already
//! out, still opens: its HTML is there, and the envelope it points at is there and decrypts.
//! Every list that is live points only at what is there: each envelope the gated manifest
//! names, each gate's bundle, each page of the sitemap. A last run then finishes the job.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::deploy::{
    Live, LiveBucket, LiveFolder, add_lessons, assert_live_matches, deploy_manifest, deploy_ok,
    open_page, pages,
};
use common::garage::Garage;
use common::{SECRET_B64, Site, copy_dir};

const LESSONS: usize = 120;

/// Where to kill: after the deploy prints the line holding the marker, wait this long.
const KILLS: [(&str, u64); 6] = [
    ("[1/3]", 0),
    ("[1/3]", 15),
    ("[2/3]", 0),
    ("[2/3]", 15),
    ("[3/3]", 0),
    ("deleting", 0),
];

/// Starts a deploy and SIGKILLs it `delay` after `marker` shows on stderr. Whether the process
/// was still running when killed.
fn kill_during(site: &Site, env: &[(&str, String)], marker: &str, delay: u64) -> bool {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .arg("--root")
        .arg(site.root())
        .arg("deploy")
        .env("GATEHOUSE_SECRET", SECRET_B64)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let seen = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.contains(marker));
    if !seen {
        let _ = child.wait();
        return false;
    }
    std::thread::sleep(Duration::from_millis(delay));
    let running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    let _ = child.wait();
    running
}

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

    let mut mid_upload = 0;
    for (marker, delay) in KILLS {
        let moment = format!("{delay} ms into `{marker}`");
        let running = kill_during(site, env, marker, delay);
        assert_site_whole(live, old.path(), &site.out(), &moment);
        assert_lists_whole(live, &moment);
        // A kill that landed before the last manifest write leaves paths marked unknown. (One
        // that came a moment late, as the deploy was finishing, does not; that is fine too.)
        let manifest = deploy_manifest(live);
        if running && !manifest["unknown"].as_array().unwrap().is_empty() {
            mid_upload += 1;
        }
    }
    assert!(mid_upload >= 3, "only {mid_upload} kills landed mid-upload");

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
