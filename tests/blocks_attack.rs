//! Attacks on members blocks (DESIGN §3, Leak rule): honest author mistakes and tricky
//! Markdown that once let a block's text reach public output. Each test is named after what
//! broke.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Site, gatehouse, open_all, snapshot, text};

/// `gatehouse check` on the site: (success, stderr).
fn check(site: &Site) -> (bool, String) {
    let output = gatehouse(&["check"], site.root());
    let (_, stderr) = text(&output);
    (output.status.success(), stderr)
}

/// Every output file outside `_gated/` that holds `marker`.
fn public_files_holding(site: &Site, marker: &str) -> Vec<String> {
    snapshot(&site.out())
        .into_iter()
        .filter(|(path, _)| !path.starts_with("_gated/"))
        .filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains(marker))
        .map(|(path, _)| path)
        .collect()
}

fn post(site: &Site, body: &str) {
    site.write(
        "content/blog/post.md",
        &format!("---\ntitle: Post\ndate: 2026-05-03\n---\n\n{body}"),
    );
}

/// pulldown-cmark read footnotes (and tables) when rendering but not when looking for code:
/// a block in a footnote's indented continuation was taken for an indented code block, left
/// in the page, and rendered as the footnote's text.
#[test]
fn a_block_inside_a_footnote_is_sealed_not_shown_as_footnote_text() {
    let site = Site::fixture("blocks");
    post(
        &site,
        "Text[^1].\n\n[^1]: Note.\n\n    {% members(level=\"gold\") %}\n    zqxfootnote secret\n    {% end %}\n",
    );
    site.build().unwrap();
    assert_eq!(
        public_files_holding(&site, "zqxfootnote"),
        Vec::<String>::new()
    );
    let opened = open_all(&site.out());
    assert!(opened["/blog/post/#1"].contains("zqxfootnote"));
}

/// The same mismatch with a table: a code span that the table's cell borders split.
#[test]
fn a_block_in_a_table_cell_between_backticks_is_sealed() {
    let site = Site::fixture("blocks");
    post(
        &site,
        "| a | b | c |\n|---|---|---|\n| `x | {% members(level=\"gold\") %}zqxcell{% end %} | y` |\n",
    );
    site.build().unwrap();
    assert_eq!(public_files_holding(&site, "zqxcell"), Vec::<String>::new());
}

/// A members block indented four spaces (under a list, or pasted) is an indented code block:
/// it was published as code, body and all. It must stop the build instead.
#[test]
fn a_members_block_indented_into_a_code_block_is_refused_not_published() {
    let site = Site::fixture("blocks");
    post(
        &site,
        "- Step one\n- Step two\n\n        {% members(level=\"gold\") %}\n        zqxindent secret\n        {% end %}\n",
    );
    let (ok, stderr) = check(&site);
    assert!(!ok, "check passed");
    assert!(stderr.contains("content/blog/post.md:9"), "{stderr}");
    assert!(stderr.contains("indented"), "{stderr}");
    assert!(site.build().is_err());
    // Shown as code on purpose, in a fence, it is still fine.
    post(
        &site,
        "```\n{% members(level=\"gold\") %}\nzqxfence\n{% end %}\n```\n",
    );
    site.build().unwrap();
    assert!(site.read("blog/post/index.html").contains("zqxfence"));
}

/// Cutting a block out changes how the Markdown around it reads: here the first block's
/// `{% end %}` sits in a heading, so the four-space lines after it were code when tags were
/// looked for, but once the block was cut they continued the paragraph above, and the second
/// block's text was published as prose.
#[test]
fn a_block_that_reads_as_code_only_beside_another_block_is_never_published() {
    let site = Site::fixture("blocks");
    post(
        &site,
        "Intro {% members(level=\"gold\") %}gold\n\n# {% end %}\n    {% members(level=\"gold\") %}\n    zqxsecond secret\n    {% end %}\n",
    );
    if site.build().is_ok() {
        assert_eq!(
            public_files_holding(&site, "zqxsecond"),
            Vec::<String>::new()
        );
    }
}

/// A stray backtick before a block pairs with the next backtick of the paragraph: the block,
/// its tags and its text became one code span, published. Refused now; a one-line code span
/// that shows the tag (documentation) is still fine.
#[test]
fn a_stray_backtick_that_swallows_a_block_into_a_code_span_is_refused() {
    let site = Site::fixture("blocks");
    post(
        &site,
        "Price is 5` a month.\n{% members(level=\"gold\") %}\nzqxtick coupon\n{% end %}\nRun `npm i` next.\n",
    );
    let (ok, stderr) = check(&site);
    assert!(!ok, "check passed");
    assert!(stderr.contains("content/blog/post.md:7"), "{stderr}");
    assert!(stderr.contains("stray"), "{stderr}");
    assert!(site.build().is_err());
    post(
        &site,
        "Write `{% members(level=\"gold\") %}` zqxdoc to start a block.\n",
    );
    site.build().unwrap();
    assert!(site.read("blog/post/index.html").contains("zqxdoc"));
}

/// Each tag was checked against every code span of the page: 40,000 code spans and
/// shortcodes took half a minute to load. The scan is one pass now.
#[test]
fn many_code_spans_and_shortcodes_on_one_page_build() {
    // Once quadratic (every tag checked against every code span: 48 s for 40,000); the
    // time is measured by benchmarks, not asserted here.
    let site = Site::fixture("blocks");
    let mut body = String::new();
    for i in 0..20_000 {
        body.push_str(&format!("`c{i}` {{{{ figure(src=\"a.png\") }}}}\n"));
    }
    post(&site, &body);
    let (ok, stderr) = check(&site);
    assert!(ok, "{stderr}");
}

/// A members block in another generator's syntax was not a tag at all: Hugo's
/// `{{< members >}}…{{< /members >}}`, a `{%-` trim mark with Jinja's `{% endmembers %}`, or
/// Jinja's `{% members level="gold" %}` published their whole body as text.
#[test]
fn a_members_block_in_hugo_or_jinja_syntax_is_refused_not_published() {
    let cases = [
        "{{< members level=\"gold\" >}}\nzqxhugo\n{{< /members >}}\n",
        "{%- members(level=\"gold\") -%}\nzqxtrim\n{% endmembers %}\n",
        "{% members level=\"gold\" %}\nzqxjinja\n{% endmembers %}\n",
    ];
    for body in cases {
        let site = Site::fixture("blocks");
        post(&site, body);
        let (ok, stderr) = check(&site);
        assert!(!ok, "check passed: {body}");
        assert!(stderr.contains("content/blog/post.md:6"), "{stderr}");
        assert!(stderr.contains("not a members block tag"), "{stderr}");
        assert!(site.build().is_err(), "{body}");
    }
    // Prose that merely mentions members in braces-free text is fine.
    let site = Site::fixture("blocks");
    post(&site, "For members {{ only }} and {% raw %} zqxprose.\n");
    site.build().unwrap();
    assert!(site.read("blog/post/index.html").contains("zqxprose"));
}
