//! The browser side's own tests (tests/js/, `node --test`): the GHF2 reader, the service
//! worker's ranges, keys and errors, gate.js's logins, fragments and account page in a fake page,
//! and all of them in headless Chromium against a small server.
//! Run from here so that `cargo test` runs every test; without node it skips loudly, except
//! under `CI=true`, where it fails.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

#[test]
fn javascript_suite_passes() {
    let node = Command::new("node").arg("--version").output();
    let Some(version) = node.ok().filter(|o| o.status.success()) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: node 20 or later is required (scripts/test installs it)"
        );
        eprintln!("\n*** SKIPPED javascript_suite_passes: node is missing; run scripts/test ***\n");
        return;
    };
    let version = String::from_utf8_lossy(&version.stdout);
    let major: u32 = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 20,
        "node {version} is too old: the suite needs node 20 or later"
    );
    let output = Command::new("node")
        .args(["--test", "tests/js/"])
        .current_dir(common::repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // A suite that ran nothing passes too: insist that it ran its tests.
    let passed = stdout
        .lines()
        .find_map(|line| line.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    assert!(
        passed >= 50,
        "only {passed} JavaScript tests passed:\n{stdout}"
    );
    if stdout.contains("SKIPPED") || stderr.contains("SKIPPED") {
        eprintln!("{stdout}\n{stderr}");
    }
}
