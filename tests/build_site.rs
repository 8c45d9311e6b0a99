//! A fixture site built into a temp folder and checked file by file.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{Site, live_options, manifest, open_all, snapshot};
use gatehouse::build::{LiveSite, Update};
use gatehouse::gate::Rule;

#[test]
fn gated_page_shell_carries_slot_attributes_and_no_body() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let manifest = manifest(&site.out());
    let entry = manifest
        .pages
        .iter()
        .find(|p| p.path == "/course/lesson-2/")
        .unwrap();
    assert_eq!(entry.rule, "level=gold;bundles=alpha,beta;drip=1209600");
    assert_eq!(
        entry.gate,
        Rule::parse(&entry.rule).unwrap().gate_id().as_str()
    );
    let html = site.read("course/lesson-2/index.html");
    assert!(html.contains(&format!("data-gate=\"{}\"", entry.gate)));
    assert!(html.contains(&format!("data-rule=\"{}\"", entry.rule)));
    assert!(html.contains(&format!("data-src=\"{}\"", entry.src)));
    assert!(html.contains("data-path=\"/course/lesson-2/\""));
    assert!(
        html.contains("\"isAccessibleForFree\":false"),
        "paywall structured data"
    );
    assert!(site.out().join(entry.src.trim_start_matches('/')).is_file());
}

#[test]
fn section_access_cascades_and_public_overrides() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let manifest = manifest(&site.out());
    let rule_of = |path: &str| {
        manifest
            .pages
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.rule.as_str())
    };
    assert_eq!(
        rule_of("/course/"),
        Some("level=gold;bundles=-;drip=0"),
        "the section body is gated"
    );
    assert_eq!(
        rule_of("/course/lesson-1/"),
        Some("level=gold;bundles=-;drip=0"),
        "inherited"
    );
    assert_eq!(
        rule_of("/bundle-only/part-1/"),
        Some("level=-;bundles=alpha;drip=0")
    );
    assert_eq!(
        rule_of("/blog/gated-post/"),
        Some("level=silver;bundles=-;drip=0")
    );
    assert_eq!(rule_of("/course/syllabus/"), None, "access: public");
    assert_eq!(rule_of("/blog/open-post/"), None);
    assert_eq!(manifest.version, 2);
    assert_eq!(manifest.epoch, 1);
}

#[test]
fn each_gate_has_one_bundle_listing_its_pages() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let manifest = manifest(&site.out());
    let opened = open_all(&site.out());
    let gold = manifest
        .pages
        .iter()
        .find(|p| p.path == "/course/lesson-1/")
        .unwrap();
    let bundle: Vec<serde_json::Value> =
        serde_json::from_str(&opened[&format!("/_gated/{}/bundle", gold.gate)]).unwrap();
    let mut paths: Vec<&str> = bundle
        .iter()
        .map(|item| item["path"].as_str().unwrap())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/blog/block-post/#1",
            "/course/",
            "/course/UPPER/",
            "/course/advanced/",
            "/course/advanced/deep/",
            "/course/lesson-1/",
            "/course/media-lesson/",
        ]
    );
    for item in &bundle {
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["path", "text", "title"],
            "exactly the contract's fields"
        );
    }
    assert!(
        bundle
            .iter()
            .any(|i| i["text"].as_str().unwrap().contains("zqxleak17"))
    );
}

#[test]
fn envelopes_hold_the_whole_body_and_teasers_are_public() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let opened = open_all(&site.out());
    let lesson = &opened["/course/lesson-1/"];
    assert!(lesson.contains("zqxleak17"));
    assert!(
        lesson.contains("publicmark-lesson1teaser"),
        "the envelope is the whole body (DESIGN §4)"
    );
    assert!(!lesson.contains("<!-- more -->"));
    let shell = site.read("course/lesson-1/index.html");
    assert!(
        shell.contains("publicmark-lesson1teaser"),
        "the text above <!-- more --> is the teaser"
    );
    assert!(
        shell.contains("data-gate-teaser"),
        "the browser can remove the teaser on unlock"
    );
    let post = &opened["/blog/gated-post/"];
    assert!(
        post.contains("zqxleak03"),
        "with a summary, the text above the marker is sealed too"
    );
    let drip = site.read("course/lesson-2/index.html");
    assert!(
        !drip.contains("zqxleak"),
        "no teaser means none is excerpted"
    );
}

#[test]
fn a_grandparent_section_gates_pages_below_a_plain_subsection() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let manifest = manifest(&site.out());
    for path in [
        "/course/advanced/",
        "/course/advanced/deep/",
        "/course/UPPER/",
    ] {
        let entry = manifest.pages.iter().find(|p| p.path == path);
        assert_eq!(
            entry.map(|p| p.rule.as_str()),
            Some("level=gold;bundles=-;drip=0"),
            "{path}"
        );
    }
}

#[test]
fn a_site_without_gates_still_has_an_empty_manifest() {
    let site = Site::fixture("leak");
    for dir in ["course", "bundle-only", "secret-draft"] {
        std::fs::remove_dir_all(site.path(&format!("content/{dir}"))).unwrap();
    }
    std::fs::remove_file(site.path("content/blog/gated-post.md")).unwrap();
    std::fs::remove_file(site.path("content/blog/block-post.md")).unwrap();
    let report = site.build().unwrap();
    assert_eq!(report.gated, 0);
    assert_eq!(
        site.read("_gated/manifest.json"),
        r#"{"version":2,"epoch":1,"pages":[],"bundles":{}}"#
    );
}

#[test]
fn public_outputs_are_written() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let sitemap = site.read("sitemap.xml");
    for path in [
        "/",
        "/blog/open-post/",
        "/course/lesson-2/",
        "/tags/",
        "/tags/shared-tag/",
    ] {
        assert!(
            sitemap.contains(&format!("<loc>https://leak.example.com{path}</loc>")),
            "{path} in sitemap"
        );
    }
    assert!(!sitemap.contains("draft"));
    let robots = site.read("robots.txt");
    assert!(robots.contains("Sitemap: https://leak.example.com/sitemap.xml"));
    assert!(robots.contains("Disallow: /_gated/"));

    let feed = site.read("atom.xml");
    assert!(
        feed.contains("publicmark-openbody"),
        "public entries carry their content"
    );
    assert!(
        feed.contains("publicmark-gatedsummary"),
        "gated entries carry their teaser"
    );
    assert!(feed.contains("<title>Gated post publicmark-gatedtitle</title>"));

    let search: Vec<serde_json::Value> = serde_json::from_str(&site.read("search.json")).unwrap();
    let paths: Vec<&str> = search.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"/blog/open-post/"));
    assert!(paths.contains(&"/course/syllabus/"));
    assert!(
        !paths.contains(&"/course/lesson-1/"),
        "gated pages stay out of the public index"
    );
    assert!(!paths.contains(&"/blog/gated-post/"));

    let tag = site.read("tags/shared-tag/index.html");
    assert!(tag.contains("/blog/open-post/") && tag.contains("/bundle-only/part-1/"));
    assert!(site.out().join("404.html").is_file());
    assert!(
        site.out().join("style.css").is_file(),
        "theme static files are copied"
    );
    assert!(site.out().join("highlight.css").is_file());
}

#[test]
fn two_builds_are_byte_identical() {
    let site = Site::fixture("leak");
    let first = site.root().join("first");
    let second = site.root().join("second");
    site.build_into(&first).unwrap();
    site.build_into(&second).unwrap();
    let (a, b) = (snapshot(&first), snapshot(&second));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(bytes == &b[path], "{path} differs between two builds");
    }
    assert!(a.keys().any(|p| p.ends_with(".bin")));
}

#[test]
fn changing_one_page_changes_only_its_envelope() {
    let site = Site::fixture("leak");
    let before_dir = site.root().join("before");
    site.build_into(&before_dir).unwrap();
    site.edit(
        "content/course/lesson-2.md",
        "Drip lesson",
        "Changed drip lesson",
    );
    let after_dir = site.root().join("after");
    site.build_into(&after_dir).unwrap();
    let (before, after) = (snapshot(&before_dir), snapshot(&after_dir));
    // Search bundles are content-addressed too: the edited page's gate gets a new one.
    let bundles: Vec<String> = manifest(&after_dir)
        .bundles
        .into_values()
        .map(|src| src.trim_start_matches('/').to_owned())
        .collect();
    let (new_bundles, new_pages): (Vec<&String>, Vec<&String>) = after
        .keys()
        .filter(|p| p.ends_with(".bin") && !before.contains_key(*p))
        .partition(|p| bundles.contains(p));
    assert_eq!(
        new_pages.len(),
        1,
        "exactly one new envelope: {new_pages:?}"
    );
    assert_eq!(
        new_bundles.len(),
        1,
        "and its gate's bundle: {new_bundles:?}"
    );
}

#[test]
fn malformed_secret_file_is_rejected_without_echoing_it() {
    let site = Site::fixture("leak");
    std::fs::write(site.path(".gatehouse/secret"), "too-short").unwrap();
    let error = site.build().unwrap_err().to_string();
    assert!(error.contains(".gatehouse/secret"), "{error}");
    assert!(
        error.contains("base64url") || error.contains("32 bytes"),
        "{error}"
    );
    assert!(
        !error.contains("too-short"),
        "the secret's text never appears in errors"
    );
}

#[test]
fn a_missing_secret_is_created_with_mode_0600_and_git_ignored() {
    let site = Site::fixture("leak");
    std::fs::remove_dir_all(site.path(".gatehouse")).unwrap();
    site.build().unwrap();
    let meta = std::fs::metadata(site.path(".gatehouse/secret")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    assert!(meta.len() >= 43);
    assert_eq!(
        std::fs::read_to_string(site.path(".gatehouse/.gitignore")).unwrap(),
        "*\n"
    );
    let secret = std::fs::read_to_string(site.path(".gatehouse/secret")).unwrap();
    let all = snapshot(&site.out());
    for (path, bytes) in all {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret.trim()),
            "{path} holds the secret"
        );
    }
}

#[test]
fn demo_site_builds_with_at_least_twelve_pages() {
    let site = Site::demo();
    let report = site.build().unwrap();
    assert!(report.documents >= 12, "{} documents", report.documents);
    assert!(report.gated >= 4);
    assert!(report.gates >= 3);
    let pages = manifest(&site.out()).pages.len();
    assert_eq!(
        pages,
        report.gated + report.blocks,
        "every gated document and members block has an envelope"
    );
    assert!(report.blocks >= 1, "the demo shows a members block");
    assert!(
        open_all(&site.out()).len() > pages,
        "each envelope and bundle opens"
    );
}

#[test]
fn site_templates_and_static_files_override_the_theme() {
    let site = Site::fixture("leak");
    site.write("static/style.css", "/* site style */");
    site.write("static/extra/logo.txt", "logo");
    site.write(
        "templates/404.html",
        "{% extends \"base.html\" %}{% block main %}<p>site-404-override</p>{% endblock main %}",
    );
    site.build().unwrap();
    assert_eq!(site.read("style.css"), "/* site style */");
    assert_eq!(site.read("extra/logo.txt"), "logo");
    assert!(
        site.out().join("search.js").is_file(),
        "other theme files are still copied"
    );
    let not_found = site.read("404.html");
    assert!(
        not_found.contains("<p>site-404-override</p>"),
        "{not_found}"
    );
    let style = theme_asset_link(&not_found, "style.", ".css");
    assert_eq!(
        site.read(&style),
        "/* site style */",
        "the override still extends the theme's base.html, which links the site's style \
         under its fingerprinted name"
    );
}

#[test]
fn assets_beside_content_are_copied_and_gated_ones_are_sealed() {
    let site = Site::fixture("leak");
    site.write("content/blog/chart.svg", "<svg/>");
    site.write("content/course/slides.pdf", "%PDF members only");
    let report = site.build().unwrap();
    assert_eq!(site.read("blog/chart.svg"), "<svg/>");
    assert!(
        !site.out().join("course/slides.pdf").exists(),
        "a gated section's file is never written in the clear"
    );
    let sealed = std::fs::read_dir(site.out().join("_gated/files"))
        .unwrap()
        .count();
    assert_eq!(
        sealed, 6,
        "the slides are sealed, beside the fixture's five"
    );
    let warnings: Vec<String> = report
        .warnings
        .iter()
        .map(ToString::to_string)
        .filter(|w| !w.contains("not published") && !w.contains("zqxfile-unlinked"))
        .collect();
    assert_eq!(warnings.len(), 1, "only the gated asset: {warnings:?}");
    assert!(
        warnings[0].starts_with("content/course/slides.pdf: "),
        "{warnings:?}"
    );
    assert!(
        warnings[0].contains("no gated page or members block refers to it"),
        "an unreferenced gated file is named: {warnings:?}"
    );
}

#[test]
fn code_is_highlighted_with_classes_and_a_stylesheet() {
    let site = Site::fixture("leak");
    site.write(
        "content/blog/code.md",
        "---\ntitle: Code\n---\n\n```rust\nfn main() { let x = 1; }\n```\n",
    );
    site.build().unwrap();
    let html = site.read("blog/code/index.html");
    assert!(html.contains("class=\"g-"), "highlighted spans use classes");
    assert!(!html.contains("style=\"color"), "no inline colours");
    assert!(site.read("highlight.css").contains(".g-"));
}

/// The path (without its leading `/`) of the stylesheet or script a page links, by the
/// fingerprinted name's prefix and extension: `style.` + `.css` finds `style.<hash>.css`.
fn theme_asset_link(html: &str, prefix: &str, extension: &str) -> String {
    let start = html
        .find(&format!("\"/{prefix}"))
        .unwrap_or_else(|| panic!("no link to /{prefix}*{extension} in {html}"));
    let rest = &html[start + 2..];
    let end = rest.find('"').unwrap();
    let path = &rest[..end];
    assert!(path.ends_with(extension), "{path}");
    path.to_owned()
}

/// The article of the card linking to `href` on a built page.
fn card_for(html: &str, href: &str) -> String {
    let link = format!("<a href=\"{href}\">");
    let at = html
        .find(&link)
        .unwrap_or_else(|| panic!("no card for {href}:\n{html}"));
    let start = html[..at].rfind("<article").unwrap();
    let end = at + html[at..].find("</article>").unwrap() + "</article>".len();
    html[start..end].to_owned()
}

#[test]
fn a_pages_card_is_the_same_on_each_list_at_its_level() {
    let site = Site::fixture("taxonomies");
    site.build().unwrap();
    let href = "/blog/post-5/";
    let section = card_for(&site.read("blog/index.html"), href);
    let home = card_for(&site.read("index.html"), href);
    let term = card_for(&site.read("tags/rust-members/index.html"), href);
    assert!(section.contains("<h3 class=\"card-title\">"), "{section}");
    assert!(
        section.contains("badge-gated"),
        "a gated page's card: {section}"
    );
    assert_eq!(section, home);
    assert!(term.contains("<h2 class=\"card-title\">"), "{term}");
    assert_eq!(
        section.replace("h3", "h2"),
        term,
        "the same card, at the term list's heading level"
    );
}

#[test]
fn serve_renders_cached_output_again_after_a_body_edit() {
    let site = Site::fixture("leak");
    // A site template keyed on the page alone, though its output holds the body.
    site.write(
        "templates/partials/body.html",
        "<div id=\"cached-body\">{{ text | safe }}</div>",
    );
    site.write(
        "templates/page.html",
        "{% extends \"base.html\" %}{% block main %}{{ cached(template=\"partials/body.html\", \
         key=current_path, text=page.content) }}{% if page.gate %}{{ page.gate.slot | safe }}\
         {% endif %}{% endblock main %}",
    );
    let (mut live, _) = LiveSite::build(live_options(&site)).unwrap();
    let page = live.out_dir().join("blog/open-post/index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("publicmark-openbody"), "{html}");
    site.edit(
        "content/blog/open-post.md",
        "publicmark-openbody",
        "edited-body-text",
    );
    let update = live
        .update(&[PathBuf::from("content/blog/open-post.md")], |_| {})
        .unwrap();
    assert!(matches!(update, Update::Pages { .. }), "{update:?}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("edited-body-text") && !html.contains("publicmark-openbody"),
        "the body edit shows, not the cached output of the build before:\n{html}"
    );
}
