//! Members blocks and shortcodes (DESIGN §3): what the build makes of them, and every bad
//! input as an error that names the file and the line.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Site, gatehouse, open_all, snapshot, text};

/// `gatehouse check` on the site: (success, stderr).
fn check(site: &Site) -> (bool, String) {
    let output = gatehouse(&["check"], site.root());
    let (_, stderr) = text(&output);
    (output.status.success(), stderr)
}

fn assert_refused(site: &Site, expected: &[&str]) {
    let (ok, stderr) = check(site);
    assert!(!ok, "check passed, expected {expected:?}");
    for part in expected {
        assert!(stderr.contains(part), "no `{part}` in:\n{stderr}");
    }
}

#[test]
fn a_block_may_show_a_gated_file_that_its_page_may_not() {
    let site = Site::fixture("blocks");
    site.build().unwrap();
    let files = snapshot(&site.out());
    for (path, bytes) in &files {
        if path.starts_with("_gated/") {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("zqxblock"), "{path} leaks the block's text");
        assert!(!text.contains("zqxfile"), "{path} leaks the gated file");
        assert!(!text.contains("intro.mp4"), "{path} names the gated file");
    }
    let post = site.read("blog/launch/index.html");
    assert!(post.contains("publicmark-else"));
    let opened = open_all(&site.out());
    let block = &opened["/blog/launch/#1"];
    assert!(block.contains("zqxblock1"), "{block}");
    assert!(
        block.contains("_gated/files/"),
        "the video points at its sealed object"
    );
    assert!(
        block.contains("data-gh-files"),
        "the block carries the video's key"
    );
    // The theme's `video` shortcode in a gated page plays the page's own sealed file.
    let lesson = &opened["/course/lesson-1/"];
    assert!(lesson.contains("<video"), "{lesson}");
    assert!(lesson.contains("src=\"/_gated/files/"), "{lesson}");
    assert!(lesson.contains("data-gh-files"), "{lesson}");
}

#[test]
fn a_gated_file_in_an_else_part_is_refused_on_its_line() {
    let site = Site::fixture("blocks");
    site.write(
        "content/blog/launch.md",
        "---\ntitle: Launch\n---\n\n{% members(level=\"gold\") %}\nGold.\n{% else %}\n\
         {{ video(src=\"/course/lesson-1/intro.mp4\") }}\n{% end %}\n",
    );
    assert_refused(
        &site,
        &[
            "content/blog/launch.md:8",
            "members-only file content/course/lesson-1/intro.mp4",
        ],
    );
}

#[test]
fn a_block_that_opens_for_more_members_than_its_file_is_refused() {
    let site = Site::fixture("blocks");
    site.edit(
        "content/blog/launch.md",
        "level=\"gold\"",
        "level=\"silver\"",
    );
    assert_refused(
        &site,
        &[
            "content/blog/launch.md:",
            "which opens for gold, in a page that opens for silver",
        ],
    );
}

#[test]
fn bad_blocks_and_shortcodes_name_file_and_line() {
    let cases: &[(&str, &[&str])] = &[
        (
            "Text.\n\n{% members(level=\"glod\") %}\nx\n{% end %}\n",
            &[
                "content/blog/post.md:7",
                "unknown level `glod`",
                "did you mean `gold`",
            ],
        ),
        (
            "{% members(bundles=[\"bta\"]) %}\nx\n{% end %}\n",
            &["content/blog/post.md:5", "bta", "did you mean `beta`"],
        ),
        (
            "{% members(level=\"gold\", drip=\"7x\") %}\nx\n{% end %}\n",
            &["content/blog/post.md:5", "drip"],
        ),
        (
            "{% members() %}\nx\n{% end %}\n",
            &["content/blog/post.md:5", "needs a `level` or `bundles`"],
        ),
        (
            "{% members(level=\"gold\") %}\n{% members(level=\"silver\") %}\nx\n{% end %}\n{% end %}\n",
            &[
                "content/blog/post.md:6",
                "cannot be inside the members block of line 5",
            ],
        ),
        (
            "{% members(level=\"gold\") %}\nnever closed\n",
            &["content/blog/post.md:5", "not closed"],
        ),
        (
            "One.\n\nTwo {{ figur(src=\"a.png\") }}\n",
            &[
                "content/blog/post.md:7",
                "unknown shortcode `figur`",
                "did you mean `figure`",
            ],
        ),
        (
            "{{ figure(src=\"a.png\", captoin=\"x\") }}\n",
            &[
                "content/blog/post.md:5",
                "no argument `captoin`",
                "did you mean `caption`",
            ],
        ),
        (
            "{{ figure(src=640) }}\n",
            &["content/blog/post.md:5", "must be a string, not a number"],
        ),
        (
            "{{ figure() }}\n",
            &["content/blog/post.md:5", "needs the argument `src`"],
        ),
        (
            "{{ figure(src=\"a.png\" }}\n",
            &["content/blog/post.md:5", "expected `,` or `)`"],
        ),
        (
            "x\n{% end %}\n",
            &["content/blog/post.md:6", "without an opening"],
        ),
    ];
    for (body, expected) in cases {
        let site = Site::fixture("blocks");
        site.write(
            "content/blog/post.md",
            &format!("---\ntitle: Post\n---\n\n{body}"),
        );
        assert_refused(&site, expected);
    }
}

#[test]
fn a_bad_block_in_a_draft_still_stops_the_build() {
    let site = Site::fixture("blocks");
    site.write(
        "content/blog/draft.md",
        "---\ntitle: Draft\ndraft: true\n---\n\n{% members(level=\"glod\") %}\nx\n{% end %}\n",
    );
    assert_refused(&site, &["content/blog/draft.md:6", "unknown level `glod`"]);
}

#[test]
fn blocks_work_in_toml_front_matter_pages_and_errors_keep_their_lines() {
    let site = Site::fixture("blocks");
    site.write(
        "content/blog/toml.md",
        "+++\ntitle = \"T\"\n+++\n\nPublic.\n\n{% members(level=\"gold\") %}\nGold zqxtoml.\n{% end %}\n",
    );
    site.build().unwrap();
    assert!(open_all(&site.out())["/blog/toml/#1"].contains("zqxtoml"));
    site.write(
        "content/blog/toml.md",
        "+++\ntitle = \"T\"\n+++\n\nPublic.\n\n{% members(level=\"glod\") %}\nx\n{% end %}\n",
    );
    assert_refused(&site, &["content/blog/toml.md:7", "glod"]);
}

#[test]
fn a_site_shortcode_overrides_the_themes_and_code_keeps_tags_as_written() {
    let site = Site::fixture("blocks");
    site.write(
        "templates/shortcodes/callout.html",
        "{#- args: kind: string -#}<div class=\"mine\">{{ body | markdown | safe }}</div>",
    );
    site.write(
        "content/blog/post.md",
        "---\ntitle: Post\n---\n\n{% callout() %}\nOurs *here*.\n{% end %}\n\n\
         `{{ figure(src=\"x\") }}` and\n\n```\n{% members(level=\"gold\") %}\n```\n\n\
         {{/* figure(src=\"y\") */}}\n",
    );
    site.build().unwrap();
    let post = site.read("blog/post/index.html");
    assert!(
        post.contains("<div class=\"mine\"><p>Ours <em>here</em>.</p>"),
        "{post}"
    );
    assert!(
        post.contains("<code>{{ figure(src=\"x\") }}</code>"),
        "{post}"
    );
    assert!(
        post.contains("{% members(level=&quot;gold&quot;) %}"),
        "{post}"
    );
    // An escaped tag is printed as a tag (as prose, so its quotes turn typographic).
    assert!(post.contains("<p>{{ figure(src=“y”) }}</p>"), "{post}");
}

#[test]
fn a_broken_shortcode_template_names_its_file() {
    let site = Site::fixture("blocks");
    site.write("templates/shortcodes/broken.html", "{% if %}");
    assert_refused(&site, &["templates/shortcodes/broken.html"]);
    site.write("templates/shortcodes/broken.html", "{# args: a: strng #}");
    assert_refused(
        &site,
        &["templates/shortcodes/broken.html", "did you mean `string`"],
    );
}

#[test]
fn block_text_reaches_no_search_index_feed_or_reading_time() {
    let site = Site::fixture("blocks");
    let long_secret = "zqxblockword ".repeat(2000);
    site.write(
        "content/blog/long.md",
        &format!(
            "---\ntitle: Long\ndate: 2026-05-02\n---\n\nShort public text.\n\n\
             {{% members(level=\"gold\") %}}\n## Hidden heading zqxblockhead\n\n{long_secret}\n{{% end %}}\n"
        ),
    );
    site.build().unwrap();
    for file in [
        "search.json",
        "atom.xml",
        "blog/long/index.html",
        "blog/index.html",
        "sitemap.xml",
    ] {
        let text = site.read(file);
        assert!(!text.contains("zqxblock"), "{file} holds the block's text");
    }
    let page = site.read("blog/long/index.html");
    assert!(
        !page.contains("10 min"),
        "the reading time counts the block"
    );
}

#[test]
fn check_and_build_print_each_problem_once() {
    let site = Site::fixture("blocks");
    site.write(
        "content/blog/bad.md",
        "---\ntitle: X\n---\n\n{% members(level=\"glod\") %}\nx\n{% end %}\n",
    );
    site.write(
        "content/blog/bad2.md",
        "---\ntitle: Y\n---\n\n{{ figur() }}\n",
    );
    for command in ["check", "build"] {
        let output = gatehouse(&[command], site.root());
        let (stdout, stderr) = text(&output);
        assert!(!output.status.success());
        let all = format!("{stdout}{stderr}");
        assert_eq!(
            all.matches("unknown level `glod`").count(),
            1,
            "{command}:\n{all}"
        );
        assert_eq!(
            all.matches("unknown shortcode `figur`").count(),
            1,
            "{command}:\n{all}"
        );
        assert!(all.contains("found 2 problems"), "{command}:\n{all}");
    }
}

#[test]
fn a_block_heading_never_takes_an_id_the_page_uses() {
    let site = Site::fixture("blocks");
    site.write(
        "content/blog/ids.md",
        "---\ntitle: Ids\n---\n\n## Pricing\n\nPublic.\n\n{% members(level=\"gold\") %}\n## Pricing\n\nGold.\n{% end %}\n",
    );
    site.build().unwrap();
    let page = site.read("blog/ids/index.html");
    assert!(page.contains("<h2 id=\"pricing\">"), "{page}");
    let block = &open_all(&site.out())["/blog/ids/#1"];
    assert!(block.contains("<h2 id=\"pricing-1\">"), "{block}");
}
