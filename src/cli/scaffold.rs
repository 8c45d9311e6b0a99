//! The files `gatehouse init` writes: a starter site, and the default theme compiled into the
//! binary so a new site works without a copy of this repository.

/// The starter site: a public page, a gated section with a drip lesson, and a .gitignore that
/// keeps the output and the master secret out of version control.
pub const STARTER_FILES: &[(&str, &str)] = &[
    (".gitignore", "/public/\n/.gatehouse/\n"),
    ("site.toml", include_str!("starter/site.toml")),
    (
        "content/_index.md",
        include_str!("starter/content/_index.md"),
    ),
    ("content/about.md", include_str!("starter/content/about.md")),
    (
        "content/course/_index.md",
        include_str!("starter/content/course/_index.md"),
    ),
    (
        "content/course/lesson-1.md",
        include_str!("starter/content/course/lesson-1.md"),
    ),
    (
        "content/course/lesson-2.md",
        include_str!("starter/content/course/lesson-2.md"),
    ),
];

/// Every file of `themes/default/`, relative to it (regenerate with scripts/sync-theme-list;
/// a test keeps it complete).
pub const THEME_FILES: &[(&str, &[u8])] = &[
    (
        "static/account.css",
        include_bytes!("../../themes/default/static/account.css"),
    ),
    (
        "static/favicon.svg",
        include_bytes!("../../themes/default/static/favicon.svg"),
    ),
    (
        "static/gate.js",
        include_bytes!("../../themes/default/static/gate.js"),
    ),
    (
        "static/gatehouse-sw.js",
        include_bytes!("../../themes/default/static/gatehouse-sw.js"),
    ),
    (
        "static/ghf2.js",
        include_bytes!("../../themes/default/static/ghf2.js"),
    ),
    (
        "static/search.js",
        include_bytes!("../../themes/default/static/search.js"),
    ),
    (
        "static/style.css",
        include_bytes!("../../themes/default/static/style.css"),
    ),
    (
        "templates/404.html",
        include_bytes!("../../themes/default/templates/404.html"),
    ),
    (
        "templates/account.html",
        include_bytes!("../../themes/default/templates/account.html"),
    ),
    (
        "templates/admin/audit.html",
        include_bytes!("../../themes/default/templates/admin/audit.html"),
    ),
    (
        "templates/admin/base.html",
        include_bytes!("../../themes/default/templates/admin/base.html"),
    ),
    (
        "templates/admin/console.css",
        include_bytes!("../../themes/default/templates/admin/console.css"),
    ),
    (
        "templates/admin/dashboard.html",
        include_bytes!("../../themes/default/templates/admin/dashboard.html"),
    ),
    (
        "templates/admin/login.html",
        include_bytes!("../../themes/default/templates/admin/login.html"),
    ),
    (
        "templates/admin/member.html",
        include_bytes!("../../themes/default/templates/admin/member.html"),
    ),
    (
        "templates/admin/message.html",
        include_bytes!("../../themes/default/templates/admin/message.html"),
    ),
    (
        "templates/admin/payments.html",
        include_bytes!("../../themes/default/templates/admin/payments.html"),
    ),
    (
        "templates/admin/people.html",
        include_bytes!("../../themes/default/templates/admin/people.html"),
    ),
    (
        "templates/base.html",
        include_bytes!("../../themes/default/templates/base.html"),
    ),
    (
        "templates/email/welcome.txt",
        include_bytes!("../../themes/default/templates/email/welcome.txt"),
    ),
    (
        "templates/index.html",
        include_bytes!("../../themes/default/templates/index.html"),
    ),
    (
        "templates/page.html",
        include_bytes!("../../themes/default/templates/page.html"),
    ),
    (
        "templates/partials/breadcrumb.html",
        include_bytes!("../../themes/default/templates/partials/breadcrumb.html"),
    ),
    (
        "templates/partials/card.html",
        include_bytes!("../../themes/default/templates/partials/card.html"),
    ),
    (
        "templates/partials/components.html",
        include_bytes!("../../themes/default/templates/partials/components.html"),
    ),
    (
        "templates/partials/footer.html",
        include_bytes!("../../themes/default/templates/partials/footer.html"),
    ),
    (
        "templates/partials/header.html",
        include_bytes!("../../themes/default/templates/partials/header.html"),
    ),
    (
        "templates/partials/toc.html",
        include_bytes!("../../themes/default/templates/partials/toc.html"),
    ),
    (
        "templates/section.html",
        include_bytes!("../../themes/default/templates/section.html"),
    ),
    (
        "templates/shortcodes/audio.html",
        include_bytes!("../../themes/default/templates/shortcodes/audio.html"),
    ),
    (
        "templates/shortcodes/callout.html",
        include_bytes!("../../themes/default/templates/shortcodes/callout.html"),
    ),
    (
        "templates/shortcodes/download.html",
        include_bytes!("../../themes/default/templates/shortcodes/download.html"),
    ),
    (
        "templates/shortcodes/figure.html",
        include_bytes!("../../themes/default/templates/shortcodes/figure.html"),
    ),
    (
        "templates/shortcodes/video.html",
        include_bytes!("../../themes/default/templates/shortcodes/video.html"),
    ),
    (
        "templates/taxonomy_list.html",
        include_bytes!("../../themes/default/templates/taxonomy_list.html"),
    ),
    (
        "templates/taxonomy_single.html",
        include_bytes!("../../themes/default/templates/taxonomy_single.html"),
    ),
];

#[cfg(test)]
mod tests {
    use super::THEME_FILES;

    #[test]
    fn embedded_theme_lists_every_file_of_the_default_theme() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default");
        let mut on_disk: Vec<String> = walkdir::WalkDir::new(&dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                e.path()
                    .strip_prefix(&dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = THEME_FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "update THEME_FILES in src/cli/scaffold.rs"
        );
        for (path, bytes) in THEME_FILES {
            assert_eq!(
                std::fs::read(dir.join(path)).unwrap(),
                *bytes,
                "{path} differs"
            );
        }
    }
}
