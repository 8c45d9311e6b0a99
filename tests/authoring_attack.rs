//! Issue 16's authoring features (`@/` links, aliases, taxonomies, pagination, `import`, and
//! their `gatehouse serve` paths) attacked as an author making honest mistakes and as an
//! outsider reading the output. Each test is named after what broke.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{Site, gatehouse, live_options, text};
use gatehouse::build::LiveSite;

// ---------------------------------------------------------------- links in `gatehouse serve`

/// `serve` re-parses an edited page on its own, before the section's `access:` cascades onto
/// it: a link from a gated page to its own missing anchor must not list the page's (gated)
/// headings in the error, which serve shows in the browser.
#[test]
fn serve_link_error_on_a_gated_page_never_names_its_own_headings() {
    let site = Site::fixture("aliases_links");
    let (mut live, _) = LiveSite::build(live_options(&site)).unwrap();
    site.edit(
        "content/course/lesson-3.md",
        "GATEDVAULTMARKER",
        "GATEDVAULTMARKER, see [above](@/course/lesson-3.md#platinum-vault-number).",
    );
    let lesson = PathBuf::from("content/course/lesson-3.md");
    let error = live
        .update(std::slice::from_ref(&lesson), |_| {})
        .unwrap_err()
        .to_string();
    assert!(error.contains("members-only"), "{error}");
    for private in ["platinum-vault-numbers", "#pricing", "Platinum Vault"] {
        assert!(
            !error.contains(private),
            "the gated heading {private} is in serve's error:\n{error}"
        );
    }
    // The same with the page's own `access:` (parsed alone, it was public too).
    site.edit(
        "content/course/lesson-3.md",
        ", see [above](@/course/lesson-3.md#platinum-vault-number).",
        "",
    );
    site.write(
        "content/blog/own.md",
        "---\ntitle: Own\naccess:\n  level: gold\n---\n## Secret Own Heading\n\nBody.\n",
    );
    live.rebuild_all().unwrap();
    site.edit(
        "content/blog/own.md",
        "Body.",
        "Body [x](@/blog/own.md#secret-own-headin).",
    );
    let own = PathBuf::from("content/blog/own.md");
    let error = live
        .update(std::slice::from_ref(&own), |_| {})
        .unwrap_err()
        .to_string();
    assert!(error.contains("members-only"), "{error}");
    assert!(!error.contains("secret-own-heading"), "{error}");
}

// ---------------------------------------------------------------- aliases

fn build_error(site: &Site) -> String {
    match site.build() {
        Ok(_) => panic!("the build must fail"),
        Err(error) => error.to_string(),
    }
}

/// On a case-insensitive disk (macOS, Windows: where authors build), `/Course/` is written
/// over the gated section's own page, and `/_GATED/…` lands inside `_gated/`.
#[test]
fn an_alias_differing_only_in_case_from_a_page_or_gated_is_refused() {
    for alias in ["/Course/", "/COURSE/LESSON-3/", "/_GATED/x.html"] {
        let site = Site::fixture("aliases_links");
        site.edit(
            "content/about.md",
            "aliases = [\"/about-us/\"]",
            &format!("aliases = [\"{alias}\"]"),
        );
        let error = build_error(&site);
        assert!(error.contains("content/about.md:3"), "{alias}: {error}");
        assert!(error.contains(alias), "{alias}: {error}");
    }
}

/// `/search.json` as an alias is written as `search.json/index.html`, a folder where the
/// build writes a file: `check` must say so as `build` fails, with the alias's line.
#[test]
fn check_refuses_an_alias_where_the_build_writes_a_file() {
    for alias in ["/search.json", "/atom.xml", "/gatehouse-sw.js"] {
        let site = Site::fixture("aliases_links");
        site.edit(
            "content/about.md",
            "aliases = [\"/about-us/\"]",
            &format!("aliases = [\"{alias}\"]"),
        );
        let output = gatehouse(&["check"], site.root());
        let (stdout, stderr) = text(&output);
        assert!(!output.status.success(), "{alias}: {stdout}");
        assert!(stderr.contains(alias), "{alias}: {stderr}");
        let error = build_error(&site);
        assert!(error.contains(alias), "{alias}: {error}");
    }
}

// ---------------------------------------------------------------- import

/// A fresh gatehouse site and a Hugo site to import, in one temp folder.
struct Import {
    tmp: tempfile::TempDir,
}

impl Import {
    fn hugo(files: &[(&str, &str)]) -> Import {
        let tmp = tempfile::tempdir().unwrap();
        let init = gatehouse(&["init", "site"], tmp.path());
        assert!(init.status.success(), "{:?}", text(&init));
        std::fs::remove_dir_all(tmp.path().join("site/content")).unwrap();
        std::fs::remove_dir_all(tmp.path().join("site/themes/default")).unwrap();
        common::copy_dir(
            &common::repo().join("themes/default"),
            &tmp.path().join("site/themes/default"),
        );
        std::fs::create_dir_all(tmp.path().join("src/content")).unwrap();
        std::fs::write(tmp.path().join("src/hugo.toml"), "title = \"Old\"\n").unwrap();
        let import = Import { tmp };
        for (path, text) in files {
            import.write_src(path, text);
        }
        import
    }

    fn src(&self) -> PathBuf {
        self.tmp.path().join("src")
    }

    fn write_src(&self, relative: &str, text: &str) {
        let path = self.src().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["--root", "site"];
        all.extend_from_slice(args);
        gatehouse(&all, self.tmp.path())
    }

    /// Imports, then builds; returns the report.
    fn import_and_build(&self) -> String {
        let output = self.run(&["import", "hugo", "src"]);
        let (report, stderr) = text(&output);
        assert!(output.status.success(), "{report}\n{stderr}");
        let output = self.run(&["build"]);
        assert!(output.status.success(), "{:?}", text(&output));
        report
    }

    /// Every output file holding `marker`.
    fn published(&self, marker: &str) -> Vec<String> {
        let out = self.tmp.path().join("site/public");
        common::snapshot(&out)
            .into_iter()
            .filter(|(_, bytes)| {
                bytes
                    .windows(marker.len())
                    .any(|window| window == marker.as_bytes())
            })
            .map(|(path, _)| path)
            .collect()
    }

    fn assert_unpublished(&self, markers: &[&str]) {
        for marker in markers {
            let found = self.published(marker);
            assert!(
                found.is_empty(),
                "{marker}, hidden in Hugo, is published: {found:?}"
            );
        }
    }
}

fn content(import: &Import, relative: &str) -> String {
    std::fs::read_to_string(import.tmp.path().join("site/content").join(relative)).unwrap()
}

/// Hugo reads `draft` with `cast.ToBool`: `1` is a draft. Moved to `extra` as "not true or
/// false", the page was published.
#[test]
fn import_keeps_a_hugo_draft_not_written_as_a_bool_unpublished() {
    let import = Import::hugo(&[
        (
            "content/posts/one.md",
            "---\ntitle: One\ndraft: 1\n---\nDRAFTNUMBERMARK\n",
        ),
        (
            "content/posts/word.md",
            "---\ntitle: Word\ndraft: \"yes\"\n---\nDRAFTWORDMARK\n",
        ),
        (
            "content/posts/zero.md",
            "+++\ntitle = \"Zero\"\ndraft = 0\n+++\nPUBLICZEROMARK\n",
        ),
    ]);
    let report = import.import_and_build();
    import.assert_unpublished(&["DRAFTNUMBERMARK", "DRAFTWORDMARK"]);
    assert!(content(&import, "posts/one.md").contains("draft: true"));
    assert!(report.contains("draft: true"), "{report}");
    // `0` is Hugo's false.
    assert!(!import.published("PUBLICZEROMARK").is_empty());
}

/// Hugo does not build a page whose `expiryDate` has passed, nor one whose `publishDate` is
/// still to come; the import moved both keys to `extra` and published the page.
#[test]
fn import_keeps_expired_and_future_hugo_pages_unpublished() {
    let import = Import::hugo(&[
        (
            "content/posts/expired.md",
            "---\ntitle: Expired\nexpiryDate: 2001-01-01\n---\nEXPIREDMARK\n",
        ),
        (
            "content/posts/later.md",
            "+++\ntitle = \"Later\"\npublishDate = 2999-01-01\n+++\nFUTUREMARK\n",
        ),
        (
            "content/posts/current.md",
            "---\ntitle: Current\npublishDate: 2001-01-01\nexpiryDate: 2999-01-01\n---\nCURRENTMARK\n",
        ),
    ]);
    let report = import.import_and_build();
    import.assert_unpublished(&["EXPIREDMARK", "FUTUREMARK"]);
    assert!(report.contains("expiryDate"), "{report}");
    assert!(report.contains("publishDate"), "{report}");
    assert!(!import.published("CURRENTMARK").is_empty());
}

/// A Hugo section's `cascade` hides the pages below it (`_build: {render: never}`, `draft`):
/// the import moved `cascade` to `extra` and published every page it had hidden.
#[test]
fn import_keeps_pages_a_hugo_cascade_hides_unpublished() {
    let import = Import::hugo(&[
        (
            "content/vault/_index.md",
            "---\ntitle: Vault\ncascade:\n  _build:\n    render: never\n    list: never\n---\n",
        ),
        (
            "content/vault/plan.md",
            "---\ntitle: Plan\n---\nCASCADEBUILDMARK\n",
        ),
        (
            "content/vault/deeper/page/index.md",
            "---\ntitle: Deep\n---\nCASCADEDEEPMARK\n",
        ),
        (
            "content/notes/_index.md",
            "+++\ntitle = \"Notes\"\n[[cascade]]\ndraft = true\n+++\n",
        ),
        (
            "content/notes/n.md",
            "---\ntitle: N\n---\nCASCADEDRAFTMARK\n",
        ),
    ]);
    let report = import.import_and_build();
    import.assert_unpublished(&["CASCADEBUILDMARK", "CASCADEDEEPMARK", "CASCADEDRAFTMARK"]);
    assert!(report.contains("cascade"), "{report}");
}

/// A symbolic link in the Hugo tree was copied as the file it points at, from anywhere on
/// the disk, and published; the build itself refuses links in content/.
#[cfg(unix)]
#[test]
fn import_refuses_symbolic_links_rather_than_copying_their_targets() {
    let import = Import::hugo(&[("content/posts/p.md", "---\ntitle: P\n---\nText.\n")]);
    let outside = import.tmp.path().join("outside.txt");
    std::fs::write(&outside, "OUTSIDEBYTESMARK").unwrap();
    std::os::unix::fs::symlink(&outside, import.src().join("content/posts/notes.txt")).unwrap();
    let output = import.run(&["import", "hugo", "src"]);
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{stdout}");
    assert!(stderr.contains("posts/notes.txt"), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(
        !import.tmp.path().join("site/content").exists(),
        "nothing is written"
    );
    assert!(!Path::new(&import.tmp.path().join("site/public")).exists());
}

#[test]
fn a_term_without_a_letter_or_digit_is_refused_on_its_line() {
    let site = Site::fixture("blocks");
    site.write(
        "content/blog/terms.md",
        "---\ntitle: T\ntags: [ok, \"???\"]\n---\nx\n",
    );
    let output = common::gatehouse(&["check"], site.root());
    let (_, stderr) = common::text(&output);
    assert!(!output.status.success(), "a term that makes no URL passed");
    assert!(stderr.contains("content/blog/terms.md:3"), "{stderr}");
    assert!(stderr.contains("the term `???`"), "{stderr}");
}
