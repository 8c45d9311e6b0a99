//! `aliases:` (redirect pages for old URLs) and internal `@/` links (issue 16): what they
//! write, and every way they fail, with the file and line of the mistake.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Site, gatehouse, live_options, open_all, text};
use gatehouse::build::{LiveSite, Update};

const BASE: &str = "https://links.example.com";

fn fixture() -> Site {
    Site::fixture("aliases_links")
}

/// The build's error text, which must name every problem.
fn build_error(site: &Site) -> String {
    match site.build() {
        Ok(_) => panic!("the build must fail"),
        Err(error) => error.to_string(),
    }
}

fn assert_redirects_to(html: &str, url: &str) {
    for needle in [
        format!("<meta http-equiv=\"refresh\" content=\"0; url={url}\">"),
        format!("<link rel=\"canonical\" href=\"{url}\">"),
        "<meta name=\"robots\" content=\"noindex\">".to_owned(),
        format!("<a href=\"{url}\">"),
    ] {
        assert!(html.contains(&needle), "{needle} missing from:\n{html}");
    }
}

// ---------------------------------------------------------------- aliases

#[test]
fn aliases_become_redirect_pages_to_the_absolute_url() {
    let site = fixture();
    site.build().unwrap();
    let hello = format!("{BASE}/blog/hello/");
    assert_redirects_to(&site.read("old/hello/index.html"), &hello);
    assert_redirects_to(&site.read("2019/01/hello.html"), &hello);
    // TOML front matter, and a bundle whose slug makes its URL.
    assert_redirects_to(&site.read("about-us/index.html"), &format!("{BASE}/about/"));
    assert_redirects_to(
        &site.read("old/bundle/index.html"),
        &format!("{BASE}/course/the-bundle/"),
    );
    let sitemap = site.read("sitemap.xml");
    assert!(sitemap.contains("/blog/hello/"), "{sitemap}");
    for alias in ["/old/", "2019/01", "about-us"] {
        assert!(
            !sitemap.contains(alias),
            "{alias} is in the sitemap:\n{sitemap}"
        );
    }
}

#[test]
fn a_gated_pages_alias_reveals_only_its_url() {
    let site = fixture();
    site.build().unwrap();
    let html = site.read("old/lesson-3/index.html");
    assert_redirects_to(&html, &format!("{BASE}/course/lesson-3/"));
    for private in ["GATEDBODYMARKER", "GATEDVAULTMARKER", "Platinum", "pricing"] {
        assert!(
            !html.contains(private),
            "{private} in the redirect:\n{html}"
        );
    }
    assert!(
        !html.contains("data-src"),
        "no envelope is referenced:\n{html}"
    );
}

#[test]
fn an_alias_at_a_pages_url_names_both_files() {
    let site = fixture();
    site.edit(
        "content/about.md",
        "aliases = [\"/about-us/\"]",
        "aliases = [\"/about-us/\", \"/blog/\"]",
    );
    let error = build_error(&site);
    assert!(
        error.contains(
            "content/about.md:3: alias `/blog/` is the URL of the section content/blog/_index.md"
        ),
        "{error}"
    );
    assert!(error.contains("remove the alias"), "{error}");
}

#[test]
fn an_alias_at_an_html_pages_file_collides_too() {
    let site = fixture();
    // `/about/index.html` is the file that the page `/about/` is written to.
    site.edit(
        "content/blog/hello.md",
        "\"/2019/01/hello.html\"",
        "\"/about/index.html\"",
    );
    let error = build_error(&site);
    assert!(
        error.contains("content/blog/hello.md:4: alias `/about/index.html` is the URL of the page content/about.md"),
        "{error}"
    );
}

#[test]
fn two_pages_with_one_alias_name_both_files_and_lines() {
    let site = fixture();
    site.edit(
        "content/course/lesson-3.md",
        "  - /old/lesson-3/",
        "  - /old/lesson-3/\n  - /old/hello",
    );
    let error = build_error(&site);
    // Whichever file is met second names the first, with its line.
    let one = "content/course/lesson-3.md:6: alias `/old/hello` is also an alias of content/blog/hello.md:4";
    let other = "content/blog/hello.md:4: alias `/old/hello/` is also an alias of content/course/lesson-3.md:6";
    assert!(error.contains(one) || error.contains(other), "{error}");
    assert!(error.contains("keep it on one page only"), "{error}");
}

#[test]
fn an_alias_at_a_generated_page_is_refused_with_its_line() {
    let site = fixture();
    site.edit(
        "content/about.md",
        "aliases = [\"/about-us/\"]",
        "aliases = [\"/account/\"]",
    );
    let error = build_error(&site);
    assert!(
        error.contains(
            "content/about.md:3: alias `/account/` is the path of a file the build makes"
        ),
        "{error}"
    );
}

#[test]
fn bad_alias_paths_are_refused_in_yaml_with_the_line_and_fix() {
    let cases = [
        ("old/url/", "is not a root-relative path"),
        ("https://old.example.com/a/", "is a full URL"),
        ("/a/../b/", "contains `..`"),
        ("/a/?page=2", "has a query or fragment"),
        ("/a/#top", "has a query or fragment"),
        (
            "/a b/",
            "has the segment `a b`, which would make an unsafe file name",
        ),
        ("/_gated/abc/x.bin", "points into `/_gated/`"),
    ];
    for (alias, expected) in cases {
        let site = fixture();
        site.write(
            "content/blog/moved.md",
            &format!("---\ntitle: Moved\ndate: 2026-01-01\naliases:\n  - /fine/\n  - \"{alias}\"\n---\nBody.\n"),
        );
        let error = build_error(&site);
        let wanted = format!("content/blog/moved.md:6: alias `{alias}` {expected}");
        assert!(
            error.contains(&wanted),
            "{alias}: {wanted} not in:\n{error}"
        );
    }
}

#[test]
fn bad_alias_paths_are_refused_in_toml_with_the_line_and_fix() {
    let cases = [
        ("old/url/", "is not a root-relative path"),
        ("/a/../b/", "contains `..`"),
        ("/a/?page=2", "has a query or fragment"),
        (
            "/a/<b>/",
            "has the segment `<b>`, which would make an unsafe file name",
        ),
        ("/_gated/manifest.json", "points into `/_gated/`"),
    ];
    for (alias, expected) in cases {
        let site = fixture();
        site.write(
            "content/blog/moved.md",
            &format!("+++\ntitle = \"Moved\"\naliases = [\n  \"/fine/\",\n  \"{alias}\",\n]\n+++\nBody.\n"),
        );
        let error = build_error(&site);
        let wanted = format!("content/blog/moved.md:5: alias `{alias}` {expected}");
        assert!(
            error.contains(&wanted),
            "{alias}: {wanted} not in:\n{error}"
        );
    }
}

#[test]
fn an_alias_that_is_not_text_is_a_front_matter_error() {
    let site = fixture();
    site.write(
        "content/blog/moved.md",
        "+++\ntitle = \"Moved\"\naliases = [1]\n+++\nBody.\n",
    );
    let error = build_error(&site);
    assert!(
        error.contains("content/blog/moved.md:3: front matter"),
        "{error}"
    );
}

// ---------------------------------------------------------------- links

#[test]
fn links_resolve_to_pages_sections_bundles_and_anchors() {
    let site = fixture();
    site.build().unwrap();
    let hello = site.read("blog/hello/index.html");
    for href in [
        "href=\"/course/lesson-3/#pricing\"",
        "href=\"/blog/\"",
        "href=\"/course/the-bundle/\"",
        "href=\"/\"",
    ] {
        assert!(hello.contains(href), "{href} missing from:\n{hello}");
    }
    assert!(!hello.contains("href=\"@/"), "{hello}");
    // Inside code, `@/` is text and stays as written.
    assert!(hello.contains("@/nowhere.md"), "{hello}");
    assert!(hello.contains("@/nowhere-either.md"), "{hello}");
    let home = site.read("index.html");
    assert!(home.contains("href=\"/blog/hello/\""), "{home}");
}

#[test]
fn a_gated_body_links_to_a_public_page() {
    let site = fixture();
    site.build().unwrap();
    let opened = open_all(&site.out());
    let lesson = &opened["/course/lesson-3/"];
    assert!(lesson.contains("GATEDBODYMARKER"), "{lesson}");
    assert!(lesson.contains("href=\"/blog/hello/#welcome\""), "{lesson}");
    assert!(!lesson.contains("@/"), "{lesson}");
}

#[test]
fn a_link_to_a_missing_page_names_the_line_and_a_near_file() {
    let site = fixture();
    site.edit(
        "content/blog/hello.md",
        "[the blog](@/blog/_index.md)",
        "[the blog](@/blog/_index.md)\n[typo](@/blog/helo.md)",
    );
    let error = build_error(&site);
    assert!(
        error.contains(
            "content/blog/hello.md:9: link to `@/blog/helo.md`: there is no `content/blog/helo.md` (did you mean `@/blog/hello.md`?)"
        ),
        "{error}"
    );
}

#[test]
fn a_link_from_a_gated_page_to_a_missing_page_names_its_line() {
    let site = fixture();
    site.edit(
        "content/course/lesson-3.md",
        "## Platinum Vault Numbers\n",
        "## Platinum Vault Numbers\n\nSee [lesson 4](@/course/lesson-4.md).\n",
    );
    let error = build_error(&site);
    assert!(
        error
            .contains("content/course/lesson-3.md:15: link to `@/course/lesson-4.md`: there is no"),
        "{error}"
    );
}

#[test]
fn a_missing_public_anchor_suggests_a_public_heading() {
    let site = fixture();
    site.edit(
        "content/course/lesson-3.md",
        "(@/blog/hello.md#welcome)",
        "(@/blog/hello.md#welcom)",
    );
    let error = build_error(&site);
    assert!(
        error.contains(
            "content/course/lesson-3.md:11: link to `@/blog/hello.md#welcom`: no heading `#welcom` on that page (did you mean `#welcome`?)"
        ),
        "{error}"
    );
}

/// The error text reaches `gatehouse serve`'s overlay: a gated page's headings must never be
/// in it, not even as a did-you-mean for a link that nearly names one.
#[test]
fn a_missing_anchor_on_a_gated_page_names_none_of_its_headings() {
    let site = fixture();
    site.edit(
        "content/blog/hello.md",
        "(@/course/lesson-3.md#pricing)",
        "(@/course/lesson-3.md#platinum-vault-number)",
    );
    let error = build_error(&site);
    assert!(
        error.contains(
            "content/blog/hello.md:8: link to `@/course/lesson-3.md#platinum-vault-number`: no heading `#platinum-vault-number` on that page (its headings are members-only, so none is suggested)"
        ),
        "{error}"
    );
    for private in [
        "platinum-vault-numbers",
        "Platinum Vault Numbers",
        "pricing",
    ] {
        assert!(
            !error.contains(private),
            "the gated heading {private} leaked:\n{error}"
        );
    }
    // The same through the CLI, whose output `serve` shows.
    let output = gatehouse(&["build"], site.root());
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("members-only"), "{stderr}");
    for private in [
        "platinum-vault-numbers",
        "Platinum Vault Numbers",
        "pricing",
    ] {
        assert!(
            !stdout.contains(private) && !stderr.contains(private),
            "{stderr}"
        );
    }
}

#[test]
fn a_gated_pages_headings_are_valid_targets() {
    let site = fixture();
    site.edit(
        "content/blog/hello.md",
        "(@/course/lesson-3.md#pricing)",
        "(@/course/lesson-3.md#platinum-vault-numbers)",
    );
    site.build().unwrap();
    let hello = site.read("blog/hello/index.html");
    assert!(
        hello.contains("href=\"/course/lesson-3/#platinum-vault-numbers\""),
        "{hello}"
    );
}

#[test]
fn a_link_to_a_draft_fails_unless_drafts_are_built() {
    let site = fixture();
    site.write(
        "content/blog/coming.md",
        "---\ntitle: Coming\ndraft: true\n---\nSoon.\n",
    );
    site.edit(
        "content/about.md",
        "About us.",
        "About us.\n\nNext: [coming](@/blog/coming.md).",
    );
    let error = build_error(&site);
    assert!(
        error.contains("content/about.md:7: link to `@/blog/coming.md`: that page is a draft"),
        "{error}"
    );
    assert!(error.contains("--drafts"), "{error}");
    let out = site.root().join("with-drafts");
    site.build_with_drafts(&out).unwrap();
    let about = std::fs::read_to_string(out.join("about/index.html")).unwrap();
    assert!(about.contains("href=\"/blog/coming/\""), "{about}");
}

#[test]
fn every_bad_link_is_reported_once() {
    let site = fixture();
    // The teaser above `<!-- more -->` repeats the body's links: one report each.
    site.write(
        "content/blog/two.md",
        "---\ntitle: Two\n---\n[a](@/missing-a.md) and [b](@/missing-b.md)\n\n<!-- more -->\n\nRest.\n",
    );
    let error = build_error(&site);
    assert_eq!(error.matches("`@/missing-a.md`").count(), 1, "{error}");
    assert_eq!(error.matches("`@/missing-b.md`").count(), 1, "{error}");
    assert!(
        error.contains("content/blog/two.md:4: link to `@/missing-a.md`"),
        "{error}"
    );
}

// ---------------------------------------------------------------- serve

#[test]
fn serve_replaces_redirects_when_aliases_change() {
    let site = fixture();
    let (mut live, _) = LiveSite::build(live_options(&site)).unwrap();
    let out = live.out_dir();
    assert!(out.join("about-us/index.html").is_file());
    site.edit(
        "content/about.md",
        "aliases = [\"/about-us/\"]",
        "aliases = [\"/who-we-are/\"]",
    );
    let update = live
        .update(&[std::path::PathBuf::from("content/about.md")], |_| {})
        .unwrap();
    assert!(matches!(update, Update::Full(_)), "{update:?}");
    assert!(
        !out.join("about-us/index.html").exists(),
        "a stale redirect"
    );
    let html = std::fs::read_to_string(out.join("who-we-are/index.html")).unwrap();
    assert_redirects_to(&html, "http://127.0.0.1:4000/about/");
}

#[test]
fn serve_resolves_links_in_a_body_edit_and_refuses_a_bad_one() {
    let site = fixture();
    let (mut live, _) = LiveSite::build(live_options(&site)).unwrap();
    let out = live.out_dir();
    let about = std::path::PathBuf::from("content/about.md");
    site.edit(
        "content/about.md",
        "About us.",
        "About [the blog](@/blog/_index.md).",
    );
    let update = live.update(std::slice::from_ref(&about), |_| {}).unwrap();
    assert!(matches!(update, Update::Pages { .. }), "{update:?}");
    let html = std::fs::read_to_string(out.join("about/index.html")).unwrap();
    assert!(html.contains("href=\"/blog/\""), "{html}");

    site.edit(
        "content/about.md",
        "(@/blog/_index.md)",
        "(@/blog/_indx.md)",
    );
    let error = live
        .update(std::slice::from_ref(&about), |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("content/about.md:5: link to `@/blog/_indx.md`"),
        "{error}"
    );
    assert!(
        error.contains("did you mean `@/blog/_index.md`?"),
        "{error}"
    );
    let html = std::fs::read_to_string(out.join("about/index.html")).unwrap();
    assert!(
        html.contains("href=\"/blog/\""),
        "the last good page stays:\n{html}"
    );
}

// ---------------------------------------------------------------- members blocks

const MEMBERS_POST: &str = "---\ntitle: Members post\n---\n## Open Part\n\n{% members(level=\"gold\") %}\n## Secret Block Heading\n\nBLOCKMARKER, [home](@/_index.md).\n{% else %}\nUpgrade: [see the course](@/course/_index.md).\n{% end %}\n";

#[test]
fn links_resolve_inside_members_blocks_and_their_else_parts() {
    let site = fixture();
    site.write("content/blog/members.md", MEMBERS_POST);
    site.edit(
        "content/about.md",
        "About us.",
        "About [the block](@/blog/members.md#secret-block-heading).",
    );
    site.build().unwrap();
    let about = site.read("about/index.html");
    assert!(
        about.contains("href=\"/blog/members/#secret-block-heading\""),
        "a block's heading is a valid target:\n{about}"
    );
    let post = site.read("blog/members/index.html");
    assert!(post.contains("href=\"/course/\""), "the else part:\n{post}");
    assert!(!post.contains("@/"), "{post}");
    let opened = open_all(&site.out());
    // DESIGN §4: a block's envelope has the page's path and `#n`.
    let block = &opened["/blog/members/#1"];
    assert!(block.contains("BLOCKMARKER"), "{block}");
    assert!(block.contains("href=\"/\""), "{block}");
    assert!(!block.contains("@/"), "{block}");
}

#[test]
fn a_missing_anchor_never_suggests_a_members_blocks_heading() {
    let site = fixture();
    site.write("content/blog/members.md", MEMBERS_POST);
    site.edit(
        "content/about.md",
        "About us.",
        "About [the block](@/blog/members.md#secret-block-headin).",
    );
    let error = build_error(&site);
    assert!(
        error.contains("content/about.md:5: link to `@/blog/members.md#secret-block-headin`: no heading `#secret-block-headin` on that page (its headings: #open-part)"),
        "{error}"
    );
    assert!(
        !error.contains("secret-block-heading"),
        "a block's heading leaked:\n{error}"
    );
    assert!(!error.contains("Secret Block Heading"), "{error}");
}

#[test]
fn an_at_link_to_a_file_that_is_not_a_page_says_how_to_link_it() {
    let site = fixture();
    std::fs::write(site.path("content/blog/chart.svg"), "<svg/>").unwrap();
    site.edit(
        "content/about.md",
        "About us.",
        "About [the chart](@/blog/chart.svg).",
    );
    let error = build_error(&site);
    assert!(
        error.contains(
            "content/about.md:5: link to `@/blog/chart.svg`: `@/` links name Markdown pages"
        ),
        "{error}"
    );
}
