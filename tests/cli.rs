//! The real `gatehouse` binary, as authors use it.

#![allow(clippy::unwrap_used)]

mod common;

use common::{gatehouse, text};

#[test]
fn help_describes_every_command_and_its_options() {
    let (out, _) = text(&gatehouse(&["--help"], std::path::Path::new(".")));
    for command in ["init", "build", "check"] {
        assert!(out.contains(command), "--help lists {command}:\n{out}");
    }
    assert!(out.contains("--root"));
    let (out, _) = text(&gatehouse(&["build", "--help"], std::path::Path::new(".")));
    for option in ["--out", "--drafts", "--quiet", "--root"] {
        assert!(out.contains(option), "build --help lists {option}:\n{out}");
    }
    let (out, _) = text(&gatehouse(&["check", "--help"], std::path::Path::new(".")));
    assert!(out.contains("--drafts"));
    let (out, _) = text(&gatehouse(&["init", "--help"], std::path::Path::new(".")));
    assert!(out.contains("<DIR>"));
}

#[test]
fn init_then_build_gives_a_working_site() {
    let tmp = tempfile::tempdir().unwrap();
    let init = gatehouse(&["init", "mysite"], tmp.path());
    assert!(init.status.success(), "{:?}", text(&init));
    let site = tmp.path().join("mysite");
    assert!(
        std::fs::read_to_string(site.join(".gitignore"))
            .unwrap()
            .contains("/.gatehouse/")
    );

    let build = gatehouse(&["build"], &site);
    let (stdout, stderr) = text(&build);
    assert!(build.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("Built 5 pages (3 gated in 2 gates) in "),
        "{stdout}"
    );
    assert!(stderr.contains("created the master secret"), "{stderr}");
    assert!(site.join("public/index.html").is_file());
    assert!(site.join("public/course/lesson-2/index.html").is_file());
    let manifest = std::fs::read_to_string(site.join("public/_gated/manifest.json")).unwrap();
    assert!(
        manifest.contains("drip=604800"),
        "the drip lesson is gated: {manifest}"
    );
    let lesson = std::fs::read_to_string(site.join("public/course/lesson-1/index.html")).unwrap();
    assert!(
        !lesson.contains("Welcome, member!"),
        "the gated body is not in the page"
    );

    let again = gatehouse(&["build", "--quiet"], &site);
    assert!(again.status.success());
    assert_eq!(
        text(&again),
        (String::new(), String::new()),
        "--quiet prints nothing"
    );
}

#[test]
fn init_refuses_a_folder_with_files() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let init = gatehouse(&["init", "."], tmp.path());
    assert!(!init.status.success());
    assert!(text(&init).1.contains("not empty"), "{:?}", text(&init));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn check_validates_without_writing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(gatehouse(&["init", "site"], tmp.path()).status.success());
    let site = tmp.path().join("site");
    let check = gatehouse(&["check"], &site);
    let (stdout, stderr) = text(&check);
    assert!(check.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("OK: 5 pages (3 gated in 2 gates)"),
        "{stdout}"
    );
    assert!(!site.join("public").exists(), "check wrote output");
    assert!(!site.join(".gatehouse").exists(), "check created a secret");

    std::fs::write(
        site.join("content/course/lesson-1.md"),
        "---\ntitle: x\naccess: {level: gld}\n---\n",
    )
    .unwrap();
    let check = gatehouse(&["check"], &site);
    let (_, stderr) = text(&check);
    assert!(!check.status.success());
    assert!(
        stderr.contains("content/course/lesson-1.md:3: access.level: unknown level `gld`"),
        "{stderr}"
    );
}

#[test]
fn a_failed_build_exits_non_zero_and_says_the_old_output_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(gatehouse(&["init", "site"], tmp.path()).status.success());
    let site = tmp.path().join("site");
    assert!(gatehouse(&["build", "--quiet"], &site).status.success());
    std::fs::write(
        site.join("content/about.md"),
        "---\ntitle: [unclosed\n---\n",
    )
    .unwrap();
    let build = gatehouse(&["build"], &site);
    let (_, stderr) = text(&build);
    assert!(!build.status.success());
    assert!(
        stderr.contains("previous output was left as it was"),
        "{stderr}"
    );
    assert!(stderr.contains("content/about.md:"), "{stderr}");
    assert!(site.join("public/about/index.html").is_file());
}

#[test]
fn a_bad_secret_in_the_environment_is_named_but_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(gatehouse(&["init", "site"], tmp.path()).status.success());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["--root", "site", "build"])
        .current_dir(tmp.path())
        .env("GATEHOUSE_SECRET", "hunter2-not-a-key")
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("GATEHOUSE_SECRET"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
