//! `gatehouse deploy` to a folder target (DESIGN §9), on the real binary: change detection by
//! the deploy manifest, what one edit uploads, deletions last and capped, `--dry-run`, the
//! after hook, and the refusals that keep a live site (or someone's folder) from harm.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::Site;
use common::deploy::{
    LiveFolder, add_gated_file, append_and_build, assert_live_matches, counts,
    demo_deploying_to_folder, deploy, deploy_manifest, deploy_ok, envelope_of, inodes, names_in,
    open_page, sealed_files, sealed_manifest, stderr, stdout,
};

const LESSON: &str = "content/course/value-metric.md";
const LESSON_PATH: &str = "/course/value-metric/";
/// The sealed deploy manifest of the folder target.
const MANIFEST: &str = "live/.gatehouse-deploy.sealed";

fn live(site: &Site) -> LiveFolder {
    LiveFolder(site.path("live"))
}

fn built_files(site: &Site) -> usize {
    common::snapshot(&site.out()).len() - 1 // the build marker stays home
}

#[test]
fn a_first_deploy_copies_the_build_and_every_page_opens_from_the_target() {
    let site = demo_deploying_to_folder("");
    let out = deploy_ok(&site, &[], &[]);
    assert_eq!(counts(&out), (built_files(&site), 0, 0), "{out}");
    assert_live_matches(&live(&site), &site.out());
    let (_, body) = open_page(&live(&site), LESSON_PATH);
    assert!(body.unwrap().contains("value metric"));
    assert!(
        !site.path("live/.gatehouse-build").exists(),
        "the build marker is not part of the site"
    );
    let manifest = deploy_manifest(&live(&site));
    assert_eq!(
        manifest["files"].as_object().unwrap().len(),
        built_files(&site)
    );
    assert!(manifest["unknown"].as_array().unwrap().is_empty());
}

#[test]
fn a_second_deploy_of_an_unchanged_rebuild_uploads_nothing() {
    let site = demo_deploying_to_folder("");
    deploy_ok(&site, &[], &[]);
    let before = inodes(&site.path("live"));
    site.build().unwrap();
    let out = deploy_ok(&site, &[], &[]);
    assert!(out.contains("Nothing to deploy"), "{out}");
    assert_eq!(counts(&out), (0, 0, 0));
    assert_eq!(
        inodes(&site.path("live")),
        before,
        "not one file rewritten, the manifest included"
    );
}

#[test]
fn a_one_page_edit_uploads_that_page_its_envelope_and_the_lists_that_changed() {
    let site = demo_deploying_to_folder("");
    deploy_ok(&site, &[], &[]);
    let old_src = envelope_of(&site, LESSON_PATH);
    let before = inodes(&site.path("live"));
    append_and_build(&site, LESSON, "A sentence added in an edit.");

    let out = deploy_ok(&site, &[], &[]);
    let after = inodes(&site.path("live"));
    let rewritten: BTreeSet<&str> = after
        .iter()
        .filter(|(key, inode)| before.get(*key) != Some(inode))
        .map(|(key, _)| key.as_str())
        .collect();
    let new_src = envelope_of(&site, LESSON_PATH);
    let gate = new_src.split('/').nth(2).unwrap();
    // The gate's search bundle is content-addressed: a new name, which gates.json lists.
    let bundle = common::manifest(&site.out()).bundles[gate].clone();
    let expected: BTreeSet<&str> = [
        "course/value-metric/index.html",
        new_src.trim_start_matches('/'),
        bundle.trim_start_matches('/'),
        "_gated/manifest.json",
        "_gated/gates.json",
        ".gatehouse-deploy.sealed",
    ]
    .into();
    assert_eq!(rewritten, expected, "{out}");
    assert_eq!(counts(&out), (2, 3, 0), "{out}");
    let (_, body) = open_page(&live(&site), LESSON_PATH);
    assert!(body.unwrap().contains("A sentence added in an edit."));
    assert!(
        site.path("live")
            .join(old_src.trim_start_matches('/'))
            .exists(),
        "the old envelope stays for pages cached before the edit"
    );
    assert!(out.contains("replaced files kept"), "{out}");
}

#[test]
fn removed_pages_are_deleted_last_and_more_than_max_deletes_needs_force() {
    let site = demo_deploying_to_folder("max_deletes = 2\n");
    deploy_ok(&site, &[], &[]);
    let old: BTreeSet<String> = common::snapshot(&site.out()).into_keys().collect();
    // Public posts without members blocks: a block's envelope would be kept as a replaced file.
    for post in [
        "your-first-price-is-too-low",
        "churn-is-a-pricing-problem",
        "annual-plans-and-cash-flow",
    ] {
        std::fs::remove_file(site.path(&format!("content/blog/{post}.md"))).unwrap();
    }
    site.build().unwrap();
    let new: BTreeSet<String> = common::snapshot(&site.out()).into_keys().collect();
    // The three pages, and the tag pages only they used.
    let removed = old.difference(&new).count();
    assert!(removed > 3, "{removed}");
    let before = common::snapshot(&site.path("live"));

    let refused = deploy(&site, &[], &[]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains(&format!(
            "would delete {removed} files, more than max_deletes (2)"
        )),
        "{message}"
    );
    assert!(message.contains("--force"), "{message}");
    assert_eq!(
        common::snapshot(&site.path("live")),
        before,
        "nothing changed"
    );

    // A dry run shows the plan, says the deploy would be refused, and fails like it would.
    let dry = deploy(&site, &["--dry-run"], &[]);
    assert!(!dry.status.success());
    let plan = stdout(&dry);
    assert!(
        plan.contains("delete   /blog/your-first-price-is-too-low/index.html"),
        "{plan}"
    );
    assert!(
        stderr(&dry).contains("the deploy would be refused: this deploy would delete"),
        "{}",
        stderr(&dry)
    );
    let forced = deploy_ok(&site, &["--dry-run", "--force"], &[]);
    assert!(forced.contains("Dry run: nothing was changed."), "{forced}");
    assert_eq!(
        common::snapshot(&site.path("live")),
        before,
        "a dry run changes nothing"
    );

    let out = deploy_ok(&site, &["--force"], &[]);
    assert_eq!(counts(&out).2, removed, "{out}");
    assert!(
        !site.path("live/blog/your-first-price-is-too-low").exists(),
        "the empty folder goes too"
    );
    assert_live_matches(&live(&site), &site.out());
}

#[test]
fn a_dry_run_of_a_first_deploy_lists_the_phases_and_writes_nothing() {
    let site = demo_deploying_to_folder("");
    let plan = deploy_ok(&site, &["--dry-run", "--verbose"], &[]);
    assert!(!site.path("live").exists(), "{plan}");
    let phase = |name: &str| {
        plan.find(name)
            .unwrap_or_else(|| panic!("{name} in {plan}"))
    };
    assert!(phase("[1/3] envelopes and assets") < phase("[2/3] pages"));
    assert!(phase("[2/3] pages") < phase("[3/3] manifest, feeds, sitemap and search"));
    let listed = plan
        .lines()
        .filter(|l| l.trim_start().starts_with("upload"))
        .count();
    assert_eq!(listed, built_files(&site), "--verbose lists every file");
}

#[test]
fn a_folder_that_no_deploy_wrote_is_not_emptied_without_force() {
    let site = demo_deploying_to_folder("");
    site.write("live/notes.txt", "someone's own file\n");
    let refused = deploy(&site, &[], &[]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("holds 1 file that is not in this build (/notes.txt)"),
        "{message}"
    );
    assert!(site.path("live/notes.txt").exists());
    assert!(
        !site.path("live/index.html").exists(),
        "refused before anything was written"
    );
    deploy_ok(&site, &["--force"], &[]);
    assert!(!site.path("live/notes.txt").exists());
}

#[test]
fn a_corrupt_or_hostile_deploy_manifest_is_set_aside_and_the_target_listed() {
    let site = demo_deploying_to_folder("");
    deploy_ok(&site, &[], &[]);
    site.write("outside.txt", "must survive\n");
    let hostile =
        serde_json::json!({"version":1,"headers":[],"files":{},"unknown":["../outside.txt"]});
    std::fs::write(site.path(MANIFEST), sealed_manifest(&hostile)).unwrap();
    let output = deploy(&site, &[], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("../outside.txt"),
        "{}",
        stderr(&output)
    );
    assert!(
        site.path("outside.txt").exists(),
        "nothing outside the target is touched"
    );
    assert_live_matches(&live(&site), &site.out());
    let again = deploy_ok(&site, &[], &[]);
    assert!(
        again.contains("Nothing to deploy"),
        "a fresh manifest was written: {again}"
    );
}

#[test]
fn a_folder_that_is_not_a_build_is_refused() {
    let site = demo_deploying_to_folder("");
    let output = deploy(
        &site,
        &["--from", site.path("content").to_str().unwrap()],
        &[],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("is not a gatehouse build"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("gatehouse build"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_build_sealed_before_a_key_rotation_is_refused() {
    let site = demo_deploying_to_folder("");
    site.edit("site.toml", "epoch = 1", "epoch = 2");
    let output = deploy(&site, &[], &[]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("sealed with keys epoch 1, but site.toml says epoch 2"),
        "{message}"
    );
    assert!(!site.path("live").exists());
}

#[test]
fn without_a_deploy_section_the_error_says_how_to_add_one() {
    let site = Site::demo();
    site.build().unwrap();
    let output = deploy(&site, &[], &[]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no [deploy] section"),
        "{}",
        stderr(&output)
    );
    // --target alone is enough.
    let target = site.path("elsewhere");
    deploy_ok(
        &site,
        &["--target", &format!("file://{}", target.display())],
        &[],
    );
    assert!(target.join("index.html").exists());
}

#[test]
fn bad_deploy_settings_are_reported_with_their_lines() {
    let site = Site::demo();
    let toml = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write(
        "site.toml",
        &format!(
            "{toml}\n[deploy]\ntarget = \"s3://Bad_Bucket\"\nendpoint = \"ftp://x\"\nmax_deletes = -1\n\
             after = \"  \"\n[[deploy.headers]]\npath = \"*.{{css\"\ncache_control = \"x\\ny\"\n"
        ),
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--root", site.root().to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    for expected in [
        "bucket `Bad_Bucket` is not a valid name",
        "endpoint `ftp://x` must be an http(s) URL",
        "max_deletes must be between 0",
        "after is empty",
        "path: `*.{css` has a `{` without its `}`",
        "cache_control must be printable ASCII",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
    assert!(message.matches("site.toml:").count() >= 6, "{message}");

    site.write(
        "site.toml",
        &format!("{toml}\n[deploy]\ntarget = \"live\"\ntargett = 1\n"),
    );
    let typo = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--root", site.root().to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert!(!typo.status.success());
    assert!(stderr(&typo).contains("targett"), "{}", stderr(&typo));
}

#[test]
fn the_after_hook_gets_the_changed_paths_in_a_variable_and_a_file() {
    let site = demo_deploying_to_folder(
        "after = \"printf '%s' \\\"$GATEHOUSE_DEPLOY_CHANGED\\\" > hook-env.txt; cp \\\"$GATEHOUSE_DEPLOY_CHANGED_FILE\\\" hook-file.txt; env > hook-all-env.txt; echo purged $GATEHOUSE_DEPLOY_CHANGED_COUNT\"\n",
    );
    deploy_ok(&site, &[], &[]);
    std::fs::remove_file(site.path("hook-env.txt")).unwrap();
    append_and_build(&site, LESSON, "An edit for the hook.");
    let out = deploy_ok(&site, &[], &[]);
    let from_env: Vec<String> = std::fs::read_to_string(site.path("hook-env.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let from_file: Vec<String> = std::fs::read_to_string(site.path("hook-file.txt"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(from_env, from_file);
    assert!(from_env.contains(&LESSON_PATH.to_owned()), "{from_env:?}");
    assert!(from_env.contains(&"/course/value-metric/index.html".to_owned()));
    assert!(from_env.contains(&"/_gated/manifest.json".to_owned()));
    assert_eq!(
        from_env.len(),
        6,
        "the page twice, its envelope, bundle, manifest and gate list: {from_env:?}"
    );
    assert!(
        out.contains("| purged 6"),
        "the hook's output is shown: {out}"
    );

    site.build().unwrap();
    let quiet = deploy_ok(&site, &[], &[]);
    assert!(quiet.contains("Nothing to deploy"), "{quiet}");
    assert!(!quiet.contains("purged"), "no change, no purge: {quiet}");
}

#[test]
fn a_failing_after_hook_is_reported_with_its_output_and_fails_the_deploy() {
    let site = demo_deploying_to_folder(
        "after = \"echo 'purge refused: bad zone'; echo 'on stderr' >&2; curl_token=tok_s3cr3t_in_command; exit 3\"\n",
    );
    let output = deploy(&site, &[], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("failed with exit status 3"), "{message}");
    assert!(message.contains("purge refused: bad zone"), "{message}");
    assert!(message.contains("on stderr"), "{message}");
    assert!(message.contains("site.toml line"), "{message}");
    assert!(
        !message.contains("tok_s3cr3t"),
        "the command is never quoted: {message}"
    );
    assert!(
        stdout(&output).contains("Deployed to"),
        "the files went out first"
    );
    assert_live_matches(&live(&site), &site.out());
}

#[test]
fn the_deploy_manifest_and_the_lock_name_no_file_of_the_site() {
    // The hook runs while the deploy still holds its lock: it keeps a copy of both.
    let site = demo_deploying_to_folder(
        "after = \"cp live/.gatehouse-deploy.lock lock-seen.json; cp live/.gatehouse-deploy.sealed manifest-seen.bin\"\n",
    );
    let before = sealed_files(&site.out()).len();
    add_gated_file(&site, 4096);
    site.build().unwrap();
    let sealed = sealed_files(&site.out());
    assert_eq!(sealed.len(), before + 1, "the build sealed the diagram");
    deploy_ok(&site, &[], &[]);

    let keys: Vec<String> = common::snapshot(&site.out()).into_keys().collect();
    let mut names: Vec<&str> = keys.iter().map(String::as_str).collect();
    names.extend([
        "_gated/files/",
        "index.html",
        "diagram",
        "lesson-x",
        "immutable",
    ]);
    let manifest = std::fs::read(site.path(MANIFEST)).unwrap();
    assert_eq!(
        names_in(&manifest, names.iter().copied()),
        Vec::<&str>::new(),
        "the deploy manifest is sealed"
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&manifest).is_err());
    assert!(!site.path("live/.gatehouse-deploy.json").exists());
    let state = deploy_manifest(&live(&site));
    assert!(
        state["files"][&sealed[0]].is_array(),
        "it does list them: {state}"
    );

    let lock = std::fs::read(site.path("lock-seen.json")).unwrap();
    assert_eq!(names_in(&lock, names.iter().copied()), Vec::<&str>::new());
    let lock: serde_json::Value = serde_json::from_slice(&lock).unwrap();
    let fields: Vec<&String> = lock.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        ["expires", "host", "id", "pid", "started"],
        "{lock}"
    );
    // The manifest as the hook saw it (before it recorded the purge) is sealed too.
    let seen = std::fs::read(site.path("manifest-seen.bin")).unwrap();
    assert!(seen.starts_with(b"GHDM"), "sealed");
    assert_eq!(names_in(&seen, names.iter().copied()), Vec::<&str>::new());

    site.build().unwrap();
    let again = deploy_ok(&site, &[], &[]);
    assert!(
        again.contains("Nothing to deploy"),
        "it reads its own manifest back: {again}"
    );
}

#[test]
fn a_manifest_sealed_with_another_secret_or_damaged_is_set_aside_and_the_target_listed() {
    let site = demo_deploying_to_folder("");
    deploy_ok(&site, &[], &[]);
    let other = [(
        "GATEHOUSE_SECRET",
        "_w8A_w8A_w8A_w8A_w8A_w8A_w8A_w8A_w8A_w8A_w8".to_owned(),
    )];
    let output = deploy(&site, &[], &other);
    assert!(output.status.success(), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains(
            ".gatehouse-deploy.sealed does not open: it was sealed with another master secret, or damaged"
        ),
        "{message}"
    );
    assert!(
        message.contains("every file there is uploaded again"),
        "{message}"
    );
    assert_eq!(counts(&stdout(&output)), (0, built_files(&site), 0));
    assert_live_matches(&live(&site), &site.out());

    // Now sealed with the other secret: this one cannot open it either. Then damaged.
    let back = deploy(&site, &[], &[]);
    assert!(stderr(&back).contains("another master secret, or damaged"));
    let mut bytes = std::fs::read(site.path(MANIFEST)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(site.path(MANIFEST), &bytes).unwrap();
    let damaged = deploy(&site, &[], &[]);
    assert!(damaged.status.success(), "{}", stderr(&damaged));
    assert!(
        stderr(&damaged).contains("another master secret, or damaged"),
        "{}",
        stderr(&damaged)
    );
    assert!(deploy_ok(&site, &[], &[]).contains("Nothing to deploy"));
}

#[test]
fn a_plain_manifest_from_an_older_gatehouse_is_read_once_and_replaced_by_a_sealed_one() {
    let site = demo_deploying_to_folder("");
    deploy_ok(&site, &[], &[]);
    // What gatehouse wrote before manifests were sealed: the same JSON, in the clear.
    let plain = serde_json::to_vec(&deploy_manifest(&live(&site))).unwrap();
    std::fs::remove_file(site.path(MANIFEST)).unwrap();
    std::fs::write(site.path("live/.gatehouse-deploy.json"), &plain).unwrap();
    let before = inodes(&site.path("live"));

    let dry = deploy_ok(&site, &["--dry-run"], &[]);
    assert!(dry.contains("0 new, 0 replaced"), "{dry}");
    let output = deploy(&site, &[], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("replacing the plain deploy manifest of an older gatehouse"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("Nothing to deploy"),
        "{}",
        stdout(&output)
    );
    assert!(
        !site.path("live/.gatehouse-deploy.json").exists(),
        "deleted"
    );
    let after = inodes(&site.path("live"));
    let rewritten: Vec<&String> = after
        .iter()
        .filter(|(key, inode)| before.get(*key) != Some(inode))
        .map(|(key, _)| key)
        .collect();
    assert_eq!(
        rewritten,
        [".gatehouse-deploy.sealed"],
        "the old manifest vouched for every file"
    );
    let again = deploy(&site, &[], &[]);
    assert!(stdout(&again).contains("Nothing to deploy"));
    assert!(
        !stderr(&again).contains("older gatehouse"),
        "{}",
        stderr(&again)
    );
}

/// `gatehouse deploy` with no `GATEHOUSE_SECRET` in its environment.
fn deploy_without_secret(site: &Site) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("--root")
        .arg(site.root())
        .arg("deploy")
        .env_remove("GATEHOUSE_SECRET")
        .output()
        .unwrap()
}

#[test]
fn a_site_with_nothing_gated_deploys_without_a_secret_and_a_gated_one_does_not() {
    let site = Site::demo();
    std::fs::remove_file(site.path(".gatehouse/secret")).unwrap();
    for gated in ["course", "pricing-course", "library"] {
        std::fs::remove_dir_all(site.path(&format!("content/{gated}"))).unwrap();
    }
    for file in ["pricing.md", "about.md"] {
        let text = std::fs::read_to_string(site.path(&format!("content/{file}"))).unwrap();
        assert!(!text.contains("access:"), "{file} is public");
    }
    let blog = std::fs::read_dir(site.path("content/blog")).unwrap();
    for post in blog {
        let path = post.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // A members block is gated content too.
        if text.contains("access:") || text.contains("{% members(") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let toml = std::fs::read_to_string(site.path("site.toml")).unwrap();
    site.write(
        "site.toml",
        &format!("{toml}\n[deploy]\ntarget = \"live\"\n"),
    );
    let built = common::gatehouse(&["build"], site.root());
    assert!(built.status.success(), "{}", stderr(&built));
    assert!(
        !site.path(".gatehouse/secret").exists(),
        "nothing gated: no secret made"
    );

    let first = deploy_without_secret(&site);
    assert!(first.status.success(), "{}", stderr(&first));
    let second = deploy_without_secret(&site);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("Nothing to deploy"),
        "the manifest reads back: {}",
        stdout(&second)
    );

    // With a gated page in the build, a deploy without the secret stops and says why.
    site.write(
        "content/members.md",
        "---\ntitle: M\naccess:\n  level: gold\n---\n\nMembers only.\n",
    );
    std::fs::create_dir_all(site.path(".gatehouse")).unwrap();
    std::fs::write(site.path(".gatehouse/secret"), common::SECRET_B64).unwrap();
    assert!(common::gatehouse(&["build"], site.root()).status.success());
    std::fs::remove_file(site.path(".gatehouse/secret")).unwrap();
    let refused = deploy_without_secret(&site);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("no master secret"),
        "{}",
        stderr(&refused)
    );
}
