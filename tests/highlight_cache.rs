//! The highlight cache (`.gatehouse/highlight.cache`): a rebuild takes unchanged code blocks
//! from it, and the site it writes is the same, byte for byte, as one built without it.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{Site, live_options, snapshot};
use gatehouse::build::{LiveSite, Update};

const CACHE: &str = ".gatehouse/highlight.cache";

/// Four highlighted blocks beside the fixture's own: one on a public page, three on a gated
/// one (whose code is in the cache in plaintext, and must never be in the output so).
fn site() -> Site {
    let site = Site::fixture("leak");
    site.write(
        "content/blog/code.md",
        "---\ntitle: Code\n---\n\n```rust\nfn open_zqxcode1() -> u8 { 1 }\n```\n",
    );
    site.write(
        "content/course/code.md",
        "---\ntitle: Gated code\n---\n\n\
         ```python\ndef zqxcode2():\n    return 2\n```\n\n\
         ```toml\nzqxcode3 = 3\n```\n\n\
         ```bash\necho zqxcode4\n```\n",
    );
    site
}

/// Builds the site into `out` and returns the blocks (from the cache, highlighted now) and
/// every file written.
fn build(site: &Site, out: &Path) -> ((usize, usize), BTreeMap<String, Vec<u8>>) {
    let report = site.build_into(out).unwrap();
    (report.code_blocks, snapshot(out))
}

fn out(site: &Site, name: &str) -> PathBuf {
    site.root().join(name)
}

#[test]
fn a_rebuild_takes_every_block_from_the_cache_and_writes_the_same_site() {
    let site = site();
    let (first, cold) = build(&site, &out(&site, "one"));
    assert_eq!(first.0, 0, "nothing is cached before the first build");
    assert!(first.1 >= 4, "{first:?}");
    assert!(site.path(CACHE).is_file());

    let (second, warm) = build(&site, &out(&site, "two"));
    assert_eq!(second, (first.1, 0), "every block comes from the cache");
    assert!(cold == warm, "the cached build writes other bytes");
}

#[test]
fn a_changed_block_is_highlighted_again_and_matches_a_build_without_the_cache() {
    let site = site();
    let (first, _) = build(&site, &out(&site, "one"));
    site.edit("content/course/code.md", "zqxcode3 = 3", "zqxcode3 = 33");
    let (second, cached) = build(&site, &out(&site, "two"));
    assert_eq!(second, (first.1 - 1, 1));

    std::fs::remove_file(site.path(CACHE)).unwrap();
    let (third, uncached) = build(&site, &out(&site, "three"));
    assert_eq!(third, (0, first.1));
    assert!(cached == uncached, "the cache changed the output");
}

#[test]
fn a_damaged_cache_is_ignored_and_replaced() {
    let site = site();
    let (first, cold) = build(&site, &out(&site, "one"));
    let bytes = std::fs::read(site.path(CACHE)).unwrap();
    std::fs::write(site.path(CACHE), &bytes[..bytes.len() / 2]).unwrap();

    let (second, rebuilt) = build(&site, &out(&site, "two"));
    assert_eq!(second, (0, first.1), "a truncated cache is not used");
    assert!(cold == rebuilt);
    let (third, _) = build(&site, &out(&site, "three"));
    assert_eq!(third, (first.1, 0), "and the build wrote a whole one again");
}

#[test]
fn the_cache_is_private_and_its_gated_code_stays_out_of_the_output() {
    let site = site();
    let (_, files) = build(&site, &site.out());
    let cache = std::fs::read(site.path(CACHE)).unwrap();
    let marker = b"zqxcode2";
    assert!(cache.windows(marker.len()).any(|w| w == marker));
    for (path, bytes) in &files {
        assert!(
            !bytes.windows(marker.len()).any(|w| w == marker),
            "gated code in the clear in {path}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(site.path(CACHE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn check_reads_the_cache_but_does_not_write_it() {
    let site = site();
    let mut options = live_options(&site);
    options.check_only = true;
    let report = gatehouse::build::build(&options).unwrap();
    assert!(report.code_blocks.1 >= 4);
    assert!(!site.path(CACHE).exists(), "`check` writes nothing");
}

#[test]
fn serve_starts_from_the_cache_and_keeps_it_across_full_rebuilds() {
    let site = site();
    let (first, _) = build(&site, &out(&site, "one"));
    let (mut live, report) = LiveSite::build(live_options(&site)).unwrap();
    assert_eq!(report.code_blocks, (first.1, 0));

    // A new title is a full rebuild; a changed site.toml parses every page again.
    site.edit("site.toml", "Leak Test Academy", "Leak Test Academy 2");
    site.edit("content/blog/code.md", "{ 1 }", "{ 2 }");
    let update = live
        .update(
            &[
                PathBuf::from("site.toml"),
                PathBuf::from("content/blog/code.md"),
            ],
            |_| {},
        )
        .unwrap();
    let Update::Full(report) = update else {
        panic!("a site.toml edit rebuilds everything: {update:?}");
    };
    assert_eq!(report.code_blocks, (first.1 - 1, 1));
}
