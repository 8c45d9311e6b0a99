//! Bad input gives a clear message naming the file (and line), and the previous output
//! survives untouched.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Site, snapshot};

/// Builds once, breaks the site with `break_it`, builds again, and returns the error text
/// after checking that the first build's output is unchanged.
fn failing_rebuild(break_it: impl FnOnce(&Site)) -> String {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let before = snapshot(&site.out());
    break_it(&site);
    let error = site.build().expect_err("the broken site must not build");
    let after = snapshot(&site.out());
    assert!(
        before == after,
        "the previous output was changed by a failed build"
    );
    let leftovers: Vec<_> = std::fs::read_dir(site.root())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging") || n.contains(".old-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "staging folders left behind: {leftovers:?}"
    );
    error.to_string()
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let error = failing_rebuild(|site| {
        site.edit(
            "content/course/lesson-2.md",
            "  bundles: [beta, alpha]",
            "  bundles: [beta, alpha",
        );
    });
    assert!(error.contains("content/course/lesson-2.md:"), "{error}");
    assert!(error.contains("front matter"), "{error}");
}

#[test]
fn unknown_level_is_reported_with_did_you_mean() {
    let error = failing_rebuild(|site| {
        site.edit(
            "content/blog/gated-post.md",
            "level: silver",
            "level: silvr",
        )
    });
    assert!(error.contains("content/blog/gated-post.md:"), "{error}");
    assert!(error.contains("unknown level `silvr`"), "{error}");
    assert!(error.contains("did you mean `silver`?"), "{error}");
}

#[test]
fn unknown_bundle_is_reported_with_its_line() {
    let error = failing_rebuild(|site| {
        site.edit(
            "content/course/lesson-2.md",
            "[beta, alpha]",
            "[beta, gamma]",
        )
    });
    assert!(error.contains("content/course/lesson-2.md:6:"), "{error}");
    assert!(error.contains("unknown bundle `gamma`"), "{error}");
}

#[test]
fn bad_duration_explains_the_format() {
    let error = failing_rebuild(|site| {
        site.edit("content/course/lesson-2.md", "drip: 14d", "drip: 14 days")
    });
    assert!(error.contains("content/course/lesson-2.md:7:"), "{error}");
    assert!(error.contains("e.g. `14d`"), "{error}");
}

#[test]
fn misspelt_front_matter_key_is_an_error_not_a_public_page() {
    let error =
        failing_rebuild(|site| site.edit("content/blog/gated-post.md", "access:", "acces:"));
    assert!(error.contains("content/blog/gated-post.md:"), "{error}");
    assert!(error.contains("did you mean `access`?"), "{error}");
}

#[test]
fn missing_theme_names_site_toml_and_the_folder() {
    let error = failing_rebuild(|site| {
        site.edit("site.toml", "theme = \"default\"", "theme = \"defualt\"")
    });
    assert!(error.contains("site.toml:3:"), "{error}");
    assert!(error.contains("themes/defualt/templates"), "{error}");
    assert!(error.contains("did you mean `default`?"), "{error}");
}

#[test]
fn template_syntax_error_names_the_template() {
    let error = failing_rebuild(|site| site.write("templates/page.html", "{% if %}broken"));
    assert!(error.contains("page.html"), "{error}");
}

#[test]
fn template_runtime_error_names_the_page() {
    let error =
        failing_rebuild(|site| site.write("templates/page.html", "{{ page.no_such_field }}"));
    assert!(error.contains("content/"), "{error}");
    assert!(error.contains("page.html"), "{error}");
}

#[test]
fn template_without_gate_slot_fails_instead_of_publishing_an_empty_page() {
    let error =
        failing_rebuild(|site| site.write("templates/page.html", "<h1>{{ page.title }}</h1>"));
    assert!(error.contains("gate slot"), "{error}");
    assert!(error.contains("page.gate.slot"), "{error}");
}

#[test]
fn unknown_site_toml_key_is_rejected_with_line() {
    let error = failing_rebuild(|site| site.edit("site.toml", "description =", "descripton ="));
    assert!(error.contains("site.toml:4:"), "{error}");
    assert!(error.contains("did you mean `description`?"), "{error}");
}

#[test]
fn missing_front_matter_is_explained() {
    let error = failing_rebuild(|site| site.write("content/blog/no-fm.md", "# Just markdown\n"));
    assert!(error.contains("content/blog/no-fm.md:1:"), "{error}");
    assert!(error.contains("missing front matter"), "{error}");
}

#[test]
fn two_files_for_one_url_are_reported() {
    let error = failing_rebuild(|site| {
        site.write("content/blog/open-post/index.md", "---\ntitle: Twin\n---\n")
    });
    assert!(error.contains("/blog/open-post/"), "{error}");
    assert!(error.contains("content/blog/open-post.md"), "{error}");
}

#[test]
fn all_problems_are_reported_at_once() {
    let error = failing_rebuild(|site| {
        site.edit("content/blog/gated-post.md", "level: silver", "level: nope");
        site.edit("content/course/lesson-2.md", "drip: 14d", "drip: soon");
    });
    assert!(error.contains("found 2 problems"), "{error}");
}

#[test]
fn refuses_to_replace_a_folder_that_is_not_a_build() {
    let site = Site::fixture("leak");
    let precious = site.root().join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("thesis.txt"), "years of work").unwrap();
    let error = site.build_into(&precious).unwrap_err().to_string();
    assert!(
        error.contains("does not look like a gatehouse build"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(precious.join("thesis.txt")).unwrap(),
        "years of work"
    );
    let error = site.build_into(site.root()).unwrap_err().to_string();
    assert!(error.contains("refusing"), "{error}");
}

#[test]
fn unsafe_file_names_are_refused_with_the_fix() {
    let error =
        failing_rebuild(|site| site.write("content/blog/My Post.md", "---\ntitle: x\n---\n"));
    assert!(
        error.contains("content/blog/My Post.md: file name `My Post` would make an unsafe URL"),
        "{error}"
    );
    let error = failing_rebuild(|site| {
        site.write("content/blog/x.md", "---\ntitle: x\nslug: \"a?b\"\n---\n")
    });
    assert!(error.contains("content/blog/x.md:3: slug `a?b`"), "{error}");
}

#[test]
fn a_bundle_listed_twice_is_refused() {
    let error = failing_rebuild(|site| {
        site.edit(
            "content/course/lesson-2.md",
            "[beta, alpha]",
            "[beta, alpha, beta]",
        )
    });
    assert!(
        error.contains("content/course/lesson-2.md:6: access.bundles: `beta` is listed twice"),
        "{error}"
    );
}

#[test]
fn a_bad_date_points_at_its_own_line() {
    let error = failing_rebuild(|site| {
        site.write(
            "content/blog/dated.md",
            "---\ntitle: x\nupdated: 2026-01-01\ndate: someday\n---\n",
        )
    });
    assert!(error.contains("content/blog/dated.md:4: date:"), "{error}");
}

#[test]
fn a_static_file_cannot_replace_a_generated_one() {
    let error = failing_rebuild(|site| site.write("static/sitemap.xml", "<urlset/>"));
    assert!(
        error.contains("two outputs would be written at /sitemap.xml"),
        "{error}"
    );
}

#[test]
fn an_out_path_through_dot_dot_into_the_site_is_refused() {
    let site = Site::fixture("leak");
    let sneaky = site.root().join("public/../content/out");
    let error = site.build_into(&sneaky).unwrap_err().to_string();
    assert!(
        error.contains("would replace the site's own files"),
        "{error}"
    );
    assert!(site.root().join("content/course/lesson-1.md").is_file());
}

#[test]
fn a_folder_that_merely_holds_a_sitemap_is_not_taken_for_a_build() {
    let site = Site::fixture("leak");
    let web_root = site.root().join("www");
    std::fs::create_dir_all(&web_root).unwrap();
    std::fs::write(web_root.join("sitemap.xml"), "<urlset/>").unwrap();
    std::fs::write(web_root.join("index.php"), "<?php").unwrap();
    let error = site.build_into(&web_root).unwrap_err().to_string();
    assert!(
        error.contains("does not look like a gatehouse build"),
        "{error}"
    );
    assert!(web_root.join("index.php").is_file());
}

#[cfg(unix)]
#[test]
fn a_symlinked_output_folder_is_refused_and_its_target_kept() {
    let site = Site::fixture("leak");
    let release = site.root().join("releases/42");
    site.build_into(&release).unwrap();
    let link = site.root().join("current");
    std::os::unix::fs::symlink(&release, &link).unwrap();
    let error = site.build_into(&link).unwrap_err().to_string();
    assert!(error.contains("symbolic link"), "{error}");
    assert!(release.join("index.html").is_file());
}

#[test]
fn a_swap_interrupted_between_its_renames_is_undone_by_the_next_build() {
    let site = Site::fixture("leak");
    site.build().unwrap();
    let before = snapshot(&site.out());
    // What a build killed after moving public/ aside, before moving the new one in, leaves.
    let aside = site.root().join(".public.old-4194303999");
    std::fs::rename(site.out(), &aside).unwrap();
    site.edit("content/course/lesson-2.md", "drip: 14d", "drip: soon");
    assert!(site.build().is_err());
    assert!(
        before == snapshot(&site.out()),
        "the live site is back in place"
    );
    assert!(!aside.exists());
}

#[test]
fn a_staging_folder_left_by_a_killed_build_is_never_shipped() {
    let site = Site::fixture("leak");
    let leftover = site
        .root()
        .join(format!(".public.staging-{}", std::process::id()));
    std::fs::create_dir_all(leftover.join("old-page")).unwrap();
    std::fs::write(leftover.join("old-page/index.html"), "stale").unwrap();
    site.build().unwrap();
    assert!(!site.out().join("old-page").exists());
}

#[test]
fn check_finds_the_collisions_that_build_would_hit() {
    let site = Site::fixture("leak");
    site.write("static/sitemap.xml", "<urlset/>");
    let error = gatehouse::build::build(&gatehouse::build::BuildOptions {
        base_url: None,
        dev_secret: None,
        root: site.root().to_path_buf(),
        out: None,
        drafts: false,
        check_only: true,
        progress: false,
    })
    .expect_err("check must reject what build rejects")
    .to_string();
    assert!(
        error.contains("two outputs would be written at /sitemap.xml"),
        "{error}"
    );
    assert!(!site.out().exists(), "check writes nothing");
}

#[test]
fn unknown_highlight_theme_names_its_line() {
    let error = failing_rebuild(|site| {
        let config = std::fs::read_to_string(site.path("site.toml")).unwrap();
        site.write(
            "site.toml",
            &format!("{config}\n[markdown]\nhighlight_theme = \"no-such-theme\"\n"),
        );
    });
    assert!(error.contains("highlight_theme `no-such-theme`"), "{error}");
    assert!(error.contains("site.toml:28:"), "{error}");
}
