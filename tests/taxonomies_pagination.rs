//! Taxonomies beyond tags and pagination (issue 16), on the `taxonomies` fixture: categories
//! and series get their own pages and feeds, sections and terms are paginated with Zola's
//! `paginator`, `page/1/` redirects, bad input names its file and line, and no gated body
//! reaches a taxonomy page, a pager or a feed.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Site, open_all, snapshot};

const BASE: &str = "https://tax.example.com";

fn built() -> Site {
    let site = Site::fixture("taxonomies");
    site.build().unwrap();
    site
}

/// The paths of the page cards of a default-theme list page, in order.
fn card_paths(html: &str) -> Vec<String> {
    html.split("class=\"card-title\"><a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// `key=value` lines printed by the fixture's `paged.html`.
fn fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {fields:?}"))
}

fn build_error(site: &Site) -> String {
    let error = site.build().expect_err("the build must fail");
    format!("{error:#}")
}

#[test]
fn categories_and_series_have_list_and_term_pages_with_the_right_pages() {
    let site = built();
    let categories = site.read("categories/index.html");
    assert!(categories.contains("<h1 class=\"section-title\">Categories</h1>"));
    for path in [
        "/categories/pricing/",
        "/categories/growth/",
        "/categories/members-only/",
    ] {
        assert!(categories.contains(&format!("href=\"{path}\"")), "{path}");
    }
    assert!(
        !categories.contains("#Pricing"),
        "only tags are written with #"
    );

    // Four pricing pages, two per term page: newest first.
    let first = card_paths(&site.read("categories/pricing/index.html"));
    let second = card_paths(&site.read("categories/pricing/page/2/index.html"));
    assert_eq!(first, ["/blog/post-5/", "/blog/post-3/"]);
    assert_eq!(second, ["/blog/post-2/", "/blog/post-1/"]);
    assert_eq!(
        card_paths(&site.read("categories/growth/index.html")),
        ["/blog/post-4/"],
        "TOML front matter's [taxonomies] table"
    );

    let series = site.read("series/index.html");
    assert!(series.contains("<h1 class=\"section-title\">Series</h1>"));
    assert_eq!(
        card_paths(&site.read("series/launch/index.html")),
        ["/members/lesson-2/", "/members/lesson-1/"]
    );
    assert_eq!(
        card_paths(&site.read("series/launch/page/2/index.html")),
        ["/blog/post-5/"]
    );

    // Tags keep their pages, and TOML `[taxonomies] tags` merges into them.
    assert!(
        site.read("tags/index.html")
            .contains("<span class=\"term-name\">#toml-tag</span>")
    );
    assert!(site.out().join("tags/toml-tag/index.html").is_file());
}

#[test]
fn pages_show_their_categories_and_series() {
    let site = built();
    let post = site.read("blog/post-5/index.html");
    assert!(post.contains("Categories:</span>"), "{post}");
    assert!(post.contains("<a class=\"term-link\" href=\"/categories/pricing/\">Pricing</a>"));
    assert!(post.contains("Series:</span>"));
    assert!(post.contains("href=\"/series/launch/\">Launch</a>"));
    assert!(post.contains("href=\"/tags/rust-members/\">#rust-members</a>"));
    let plain = site.read("blog/post-4/index.html");
    assert!(!plain.contains("Series:"), "no empty taxonomy is shown");
}

#[test]
fn every_term_has_an_atom_feed_with_teasers_only_for_gated_pages() {
    let site = built();
    let feed = site.read("categories/pricing/atom.xml");
    assert!(feed.contains(&format!(
        "<link rel=\"self\" type=\"application/atom+xml\" href=\"{BASE}/categories/pricing/atom.xml\"/>"
    )));
    assert!(feed.contains("<title>Taxonomy Academy · Categories: Pricing</title>"));
    for n in [1, 2, 3, 5] {
        assert!(feed.contains(&format!("{BASE}/blog/post-{n}/")), "post {n}");
    }
    assert!(!feed.contains("/blog/post-4/"));
    assert!(
        feed.contains("publicmark-post1"),
        "public entries carry their body"
    );
    assert!(feed.contains("publicmark-gatedsummary"));
    assert!(
        feed.contains(
            "<category term=\"Pricing\" scheme=\"https://tax.example.com/categories/\"/>"
        )
    );
    let series = site.read("series/launch/atom.xml");
    assert!(series.contains("/members/lesson-1/") && series.contains("/blog/post-5/"));
    assert!(site.out().join("tags/rust/atom.xml").is_file());
    let term = site.read("categories/pricing/index.html");
    assert!(term.contains("href=\"/categories/pricing/atom.xml\""));
}

#[test]
fn feeds_can_be_turned_off() {
    let site = Site::fixture("taxonomies");
    site.edit(
        "site.toml",
        "paginate_by = 2",
        "paginate_by = 2\nfeeds = false",
    );
    site.build().unwrap();
    assert!(site.out().join("categories/pricing/index.html").is_file());
    assert!(!site.out().join("categories/pricing/atom.xml").exists());
    assert!(!site.out().join("tags/rust/atom.xml").exists());
}

#[test]
fn the_sitemap_lists_taxonomy_pages_and_later_pagers_but_not_redirects() {
    let site = built();
    let sitemap = site.read("sitemap.xml");
    for path in [
        "/categories/",
        "/categories/pricing/",
        "/categories/pricing/page/2/",
        "/series/launch/",
        "/tags/rust/page/2/",
        "/blog/page/2/",
        "/blog/page/3/",
        "/members/page/2/",
    ] {
        assert!(
            sitemap.contains(&format!("<loc>{BASE}{path}</loc>")),
            "{path} in {sitemap}"
        );
    }
    assert!(!sitemap.contains("/page/1/"));
    assert!(!sitemap.contains("/blog/page/4/"));
}

#[test]
fn a_section_paginated_by_two_has_three_pagers_with_zolas_paginator() {
    let site = built();
    let one = fields(&site.read("news/index.html"));
    let two = fields(&site.read("news/page/2/index.html"));
    let three = fields(&site.read("news/page/3/index.html"));
    assert!(!site.out().join("news/page/4/index.html").exists());
    for (pager, index, previous, next) in [
        (&one, "1", "none", "https://tax.example.com/news/page/2/"),
        (
            &two,
            "2",
            "https://tax.example.com/news/",
            "https://tax.example.com/news/page/3/",
        ),
        (&three, "3", "https://tax.example.com/news/page/2/", "none"),
    ] {
        assert_eq!(field(pager, "current_index"), index);
        assert_eq!(field(pager, "number_pagers"), "3");
        assert_eq!(field(pager, "paginate_by"), "2");
        assert_eq!(field(pager, "total_pages"), "5");
        assert_eq!(field(pager, "first"), "https://tax.example.com/news/");
        assert_eq!(field(pager, "last"), "https://tax.example.com/news/page/3/");
        assert_eq!(field(pager, "previous"), previous);
        assert_eq!(field(pager, "next"), next);
        assert_eq!(
            field(pager, "base_url"),
            "https://tax.example.com/news/page/"
        );
    }
    assert_eq!(field(&two, "current_path"), "/news/page/2/");
    let items = |pager: &[(String, String)]| -> Vec<String> {
        pager
            .iter()
            .filter(|(k, _)| k == "item")
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(items(&one), ["/news/item-5/", "/news/item-4/"]);
    assert_eq!(items(&two), ["/news/item-3/", "/news/item-2/"]);
    assert_eq!(items(&three), ["/news/item-1/"]);
}

#[test]
fn page_one_redirects_to_the_section() {
    let site = built();
    for (redirect, target) in [
        ("news/page/1/index.html", "/news/"),
        ("blog/page/1/index.html", "/blog/"),
        ("tags/rust/page/1/index.html", "/tags/rust/"),
        (
            "categories/pricing/page/1/index.html",
            "/categories/pricing/",
        ),
    ] {
        let html = site.read(redirect);
        assert!(
            html.contains(&format!(
                "<meta http-equiv=\"refresh\" content=\"0; url={BASE}{target}\">"
            )),
            "{redirect}: {html}"
        );
        assert!(
            html.contains(&format!("<link rel=\"canonical\" href=\"{BASE}{target}\">")),
            "{redirect}"
        );
    }
}

#[test]
fn the_default_theme_paginates_sections_with_previous_next_and_page_x_of_y() {
    let site = built();
    let first = site.read("blog/index.html");
    assert_eq!(card_paths(&first), ["/blog/post-5/", "/blog/post-4/"]);
    assert!(first.contains("Page 1 of 3"));
    assert!(first.contains(&format!("href=\"{BASE}/blog/page/2/\" rel=\"next\"")));
    assert!(!first.contains("rel=\"prev\""));
    assert!(first.contains("5 pages"), "the heading counts every page");
    let last = site.read("blog/page/3/index.html");
    assert_eq!(card_paths(&last), ["/blog/post-1/"]);
    assert!(last.contains("Page 3 of 3"));
    assert!(last.contains(&format!("href=\"{BASE}/blog/page/2/\" rel=\"prev\"")));
    assert!(!last.contains("rel=\"next\""));
    assert!(last.contains(&format!(
        "<link rel=\"canonical\" href=\"{BASE}/blog/page/3/\">"
    )));
}

#[test]
fn tag_term_pages_are_paginated_too() {
    let site = built();
    let first = site.read("tags/rust/index.html");
    assert_eq!(card_paths(&first), ["/blog/post-3/", "/blog/post-2/"]);
    assert!(first.contains("Page 1 of 2"));
    assert!(first.contains("3 pages"));
    let second = site.read("tags/rust/page/2/index.html");
    assert_eq!(card_paths(&second), ["/blog/post-1/"]);
    assert!(second.contains("Page 2 of 2"));
    assert!(second.contains(&format!("href=\"{BASE}/tags/rust/\" rel=\"prev\"")));
    assert!(!site.out().join("tags/rust/page/3/index.html").exists());
}

#[test]
fn a_gated_section_reveals_on_every_pager_only_what_its_first_page_does() {
    let site = built();
    let first = site.read("members/index.html");
    let second = site.read("members/page/2/index.html");
    for html in [&first, &second] {
        assert!(html.contains("publicmark-membersteaser"), "the teaser");
        assert!(
            html.contains("data-path=\"/members/\""),
            "the section's slot"
        );
    }
    assert_eq!(card_paths(&first), ["/members/lesson-2/"]);
    assert_eq!(card_paths(&second), ["/members/lesson-1/"]);
    assert!(
        second.contains("publicmark-lesson1"),
        "a summary, as on page 1"
    );
}

#[test]
fn no_gated_body_reaches_a_taxonomy_page_a_pager_or_a_feed() {
    let site = built();
    let files = snapshot(&site.out());
    let mut scanned = 0;
    for (path, bytes) in &files {
        if path.starts_with("_gated/") && path.ends_with(".bin") {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("zqxleak"), "{path} leaks a gated body");
        scanned += 1;
    }
    for path in [
        "categories/pricing/index.html",
        "categories/pricing/atom.xml",
        "series/launch/page/2/index.html",
        "members/page/2/index.html",
        "blog/index.html",
    ] {
        assert!(files.contains_key(path), "{path} was written and scanned");
    }
    assert!(scanned > 30, "{scanned}");
    // The markers are sealed, not dropped.
    let opened = open_all(&site.out()).into_values().collect::<String>();
    for marker in [
        "zqxleak-post5",
        "zqxleak-section",
        "zqxleak-lesson1",
        "zqxleak-lesson2",
    ] {
        assert!(opened.contains(marker), "{marker} is in no envelope");
    }
}

#[test]
fn an_undeclared_taxonomy_in_yaml_front_matter_names_file_line_and_fix() {
    let site = Site::fixture("taxonomies");
    site.write(
        "content/blog/typo.md",
        "---\ntitle: Typo\ntaxonomies:\n  catgories: [x]\n---\nbody\n",
    );
    let shown = build_error(&site);
    assert!(shown.contains("content/blog/typo.md:4:"), "{shown}");
    assert!(shown.contains("taxonomy `catgories`"), "{shown}");
    assert!(shown.contains("did you mean `categories`?"), "{shown}");
    assert!(
        shown.contains("add it to `[taxonomies] names` in site.toml"),
        "{shown}"
    );
}

#[test]
fn an_undeclared_taxonomy_in_toml_front_matter_names_file_line_and_fix() {
    let site = Site::fixture("taxonomies");
    site.write(
        "content/blog/typo.md",
        "+++\ntitle = \"Typo\"\n\n[taxonomies]\nserie = [\"x\"]\n+++\nbody\n",
    );
    let shown = build_error(&site);
    assert!(shown.contains("content/blog/typo.md:5:"), "{shown}");
    assert!(shown.contains("did you mean `series`?"), "{shown}");
    assert!(shown.contains("[taxonomies] names"), "{shown}");
}

#[test]
fn tags_are_refused_when_site_toml_drops_the_tags_taxonomy() {
    let site = Site::fixture("taxonomies");
    site.edit(
        "site.toml",
        "names = [\"tags\", \"categories\", \"series\"]",
        "names = [\"categories\", \"series\"]",
    );
    let shown = build_error(&site);
    assert!(
        shown.contains("content/blog/post-1.md:4: taxonomy `tags`"),
        "{shown}"
    );
}

#[test]
fn an_unknown_key_in_the_taxonomies_table_is_an_error_with_its_line() {
    let site = Site::fixture("taxonomies");
    site.edit(
        "site.toml",
        "paginate_by = 2",
        "paginate_by = 2\nfeed = true",
    );
    let shown = build_error(&site);
    assert!(shown.contains("site.toml:16:"), "{shown}");
    assert!(shown.contains("did you mean `feeds`?"), "{shown}");
}

#[test]
fn a_page_where_a_pager_goes_is_an_error_naming_both_files() {
    let site = Site::fixture("taxonomies");
    site.write(
        "content/blog/archive.md",
        "---\ntitle: Archive\nslug: page\n---\nbody\n",
    );
    let shown = build_error(&site);
    assert!(shown.contains("content/blog/archive.md"), "{shown}");
    assert!(shown.contains("content/blog/_index.md"), "{shown}");
    assert!(shown.contains("/blog/page/"), "{shown}");
    assert!(shown.contains("paginate_path"), "{shown}");
}

#[test]
fn a_section_under_a_taxonomys_path_is_an_error_naming_it() {
    let site = Site::fixture("taxonomies");
    site.write("content/series/_index.md", "---\ntitle: Series\n---\n");
    let shown = build_error(&site);
    assert!(shown.contains("content/series/_index.md"), "{shown}");
    assert!(shown.contains("taxonomy `series`"), "{shown}");
}

#[test]
fn paginate_by_on_a_page_is_an_error_on_its_line() {
    let site = Site::fixture("taxonomies");
    site.write(
        "content/blog/lonely.md",
        "---\ntitle: Lonely\npaginate_by: 3\n---\nbody\n",
    );
    let shown = build_error(&site);
    assert!(
        shown.contains("content/blog/lonely.md:3: paginate_by is for sections"),
        "{shown}"
    );
}

#[test]
fn a_site_without_taxonomies_config_keeps_tags_as_before() {
    let site = Site::fixture("leak");
    // The leak fixture declares categories too: back to a site.toml without `[taxonomies]`.
    site.edit(
        "site.toml",
        "[taxonomies]\nnames = [\"tags\", \"categories\"]\n",
        "",
    );
    for post in ["content/blog/gated-post.md", "content/blog/block-post.md"] {
        site.edit(
            post,
            "taxonomies:\n  categories: [publicmark-category]\n",
            "",
        );
    }
    site.build().unwrap();
    let tags = site.read("tags/index.html");
    assert!(
        tags.contains("<title>Tags · Leak Test Academy</title>"),
        "{tags}"
    );
    let term = site.read("tags/shared-tag/index.html");
    assert!(term.contains("<a href=\"/tags/\">Tags</a>"));
    assert!(term.contains("<span aria-current=\"page\">#shared-tag</span>"));
    assert!(term.contains("<p class=\"more-link\"><a href=\"/tags/\">All tags</a></p>"));
    assert!(!term.contains("Page 1 of"), "not paginated by default");
    assert!(!site.out().join("categories").exists());
}
