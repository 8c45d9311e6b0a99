//! `gatehouse import hugo|zola SRC`: the real binary on fixture sites in the shapes Hugo's and
//! Zola's example sites use (tests/fixtures/import/), imported into a fresh gatehouse site.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{copy_dir, gatehouse, repo, snapshot, text};

/// A fresh site (from `gatehouse init`, with the repository's current theme) and a copy of a
/// fixture to import from, in one temp folder.
struct Trial {
    tmp: tempfile::TempDir,
}

impl Trial {
    fn new(fixture: &str) -> Trial {
        let tmp = tempfile::tempdir().unwrap();
        let init = gatehouse(&["init", "site"], tmp.path());
        assert!(init.status.success(), "{:?}", text(&init));
        // The starter pages would collide with the imported home page.
        std::fs::remove_dir_all(tmp.path().join("site/content")).unwrap();
        // The theme as it is in this tree, shortcodes included.
        std::fs::remove_dir_all(tmp.path().join("site/themes/default")).unwrap();
        copy_dir(
            &repo().join("themes/default"),
            &tmp.path().join("site/themes/default"),
        );
        copy_dir(
            &repo().join("tests/fixtures/import").join(fixture),
            &tmp.path().join("src"),
        );
        Trial { tmp }
    }

    fn site(&self) -> PathBuf {
        self.tmp.path().join("site")
    }

    fn src(&self) -> PathBuf {
        self.tmp.path().join("src")
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--root", "site"];
        all.extend_from_slice(args);
        gatehouse(&all, self.tmp.path())
    }

    /// Imports and returns the report, asserting success.
    fn import(&self, tool: &str) -> String {
        let output = self.run(&["import", tool, "src"]);
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{stdout}\n{stderr}");
        stdout
    }

    fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.site().join("content").join(relative))
            .unwrap_or_else(|error| panic!("content/{relative}: {error}"))
    }

    /// The `[taxonomies]` lines the report says to add, appended to site.toml.
    fn add_site_toml_lines(&self, report: &str) {
        let start = report
            .find("\n[taxonomies]\n")
            .unwrap_or_else(|| panic!("the report names site.toml lines:\n{report}"));
        let block = &report[start..];
        let end = block[1..].find("\n\n").map_or(block.len(), |end| end + 1);
        let mut config = std::fs::read_to_string(self.site().join("site.toml")).unwrap();
        config.push_str(&block[..end]);
        config.push('\n');
        std::fs::write(self.site().join("site.toml"), config).unwrap();
    }

    fn check(&self) -> (bool, String) {
        let output = self.run(&["check"]);
        let (stdout, stderr) = text(&output);
        (output.status.success(), format!("{stdout}{stderr}"))
    }
}

/// The front matter of a written file, fences included.
fn front_matter(file: &str) -> &str {
    let fence = &file[..3];
    let end = file[4..].find(fence).unwrap() + 4 + fence.len();
    &file[..end]
}

/// The 1-based line of the last occurrence of `needle` in `text` (shortcodes that also appear
/// in a code block earlier are listed at their real, later, place).
fn last_line_of(text: &str, needle: &str) -> usize {
    let at = text
        .rfind(needle)
        .unwrap_or_else(|| panic!("{needle:?} in\n{text}"));
    text[..at].matches('\n').count() + 1
}

#[test]
fn hugo_front_matter_keeps_renames_files_and_moves_keys() {
    let trial = Trial::new("hugo");
    let before = snapshot(&trial.src());
    trial.import("hugo");
    assert_eq!(
        snapshot(&trial.src()),
        before,
        "the source is never changed"
    );

    assert_eq!(
        front_matter(&trial.read("posts/markdown-syntax.md")),
        "+++\n\
         title = \"Markdown Syntax Guide\"\n\
         description = \"Sample article showcasing basic Markdown syntax and formatting for HTML elements.\"\n\
         date = 2019-03-11\n\
         updated = 2019-03-15T10:00:00Z\n\
         weight = 2\n\
         tags = [\"markdown\", \"css\", \"html\"]\n\
         aliases = [\"/posts/old-markdown-syntax/\", \"/posts/migrate-from-jekyll/\"]\n\
         \n\
         [taxonomies]\n\
         categories = [\"themes\", \"syntax\"]\n\
         series = [\"Themes Guide\"]\n\
         \n\
         [extra]\n\
         author = \"Hugo Authors\"\n\
         type = \"post\"\n\
         +++",
        "TOML stays TOML: lastmod → updated, categories and series → taxonomies, \
         author and type → extra, a relative alias made root-relative"
    );
    assert_eq!(
        front_matter(&trial.read("posts/yaml-page.md")),
        "---\n\
         title: Getting Started With YAML\n\
         date: 2020-01-05T09:30:00+01:00\n\
         updated: 2020-02-01\n\
         draft: false\n\
         weight: 3\n\
         slug: yaml-start\n\
         taxonomies:\n  categories: [guides]\n  series: [Themes Guide]\n\
         extra:\n  math: true\n  images: [post-cover.png]\n  publishDate: 2020-01-05\n  \
         expiryDate: 2030-01-01\n  keywords: [yaml, front matter]\n\
         ---",
        "YAML stays YAML; params merge into extra"
    );
    let json = trial.read("posts/json-page.md");
    assert_eq!(
        front_matter(&json),
        "---\n\
         title: A JSON Front Matter Page\n\
         date: 2021-06-01\n\
         draft: false\n\
         tags: [json]\n\
         taxonomies:\n  categories: [formats]\n\
         extra:\n  layout: wide\n  url: /legacy/json-page.html\n\
         ---",
        "JSON front matter becomes YAML; url moves to extra"
    );
    assert!(json.ends_with(
        "---\n\nHugo also reads front matter written as JSON.\n\n{{< vimeo 146022717 >}}\n"
    ));

    // Headless bundles: no gatehouse equivalent, so drafts whose files are still copied.
    assert!(trial.read("headless/index.md").contains("\ndraft: true\n"));
    assert!(trial.read("snippets/index.md").contains("\ndraft = true\n"));
    assert!(trial.read("snippets/index.md").contains("[extra.build]\n"));
    for image in ["headless/logo.png", "posts/bundle-post/cover.png"] {
        assert_eq!(
            std::fs::read(trial.site().join("content").join(image)).unwrap(),
            std::fs::read(trial.src().join("content").join(image)).unwrap(),
            "{image} is copied as it is"
        );
    }
    // A missing title comes from the file name.
    assert!(
        trial
            .read("about.md")
            .starts_with("---\ntitle: About\nextra:\n  type: page\n")
    );
    assert!(
        trial
            .read("posts/_index.md")
            .starts_with("+++\ntitle = \"Posts\"\n")
    );
    // Config and templates are not content.
    assert!(!trial.site().join("content/hugo.toml").exists());
}

#[test]
fn hugo_shortcodes_are_mapped_outside_code_and_code_is_left_alone() {
    let trial = Trial::new("hugo");
    trial.import("hugo");
    let page = trial.read("posts/markdown-syntax.md");
    let source =
        std::fs::read_to_string(trial.src().join("content/posts/markdown-syntax.md")).unwrap();
    for mapped in [
        "{{ figure(src=\"/posts/bundle-post/cover.png\", alt=\"An orange square\", caption=\"Cover — The bundle's cover\", width=300) }}",
        "[the bundle](@/posts/bundle-post/index.md)",
        "[the YAML page](@/posts/yaml-page.md#setup)",
        "```go\npackage main\n\nfunc main() {}\n```\n",
        "basic Markdown syntax.\n<!-- more -->\n",
    ] {
        assert!(page.contains(mapped), "{mapped:?} in\n{page}");
    }
    let code_block = &source[source.find("```markdown").unwrap()..];
    let code_block = &code_block[..code_block[3..].find("```").unwrap() + 6];
    assert!(code_block.contains("{{< figure src=\"example.png\""));
    assert!(
        page.contains(code_block),
        "the code block is unchanged:\n{page}"
    );
    assert!(page.contains("Inline, `{{< tweet user=\"x\" id=\"1\" >}}` stays too."));
    assert!(
        trial
            .read("posts/bundle-post/index.md")
            .contains("\n{{ figure(src=\"cover.png\", alt=\"An orange square\") }}\n")
    );
    assert!(
        trial
            .read("posts/yaml-page.md")
            .contains("\n{{< figure src=\"shown-as-text.png\" >}} is how")
    );
}

#[test]
fn hugo_report_lists_each_unmapped_shortcode_at_its_file_and_line() {
    let trial = Trial::new("hugo");
    let report = trial.import("hugo");
    // The report names files as the output was given: --root site, so site/content.
    let content = Path::new("site/content");
    let expected = [
        ("posts/json-page.md", "{{< vimeo 146022717 >}}", 13),
        (
            "posts/markdown-syntax.md",
            "{{< youtube w7Ft2ymGmfc >}}",
            24,
        ),
        ("posts/markdown-syntax.md", "{{< gist spf13 7896402 >}}", 44),
        ("posts/yaml-page.md", "{{% notice warning %}}", 22),
    ];
    for (file, shortcode, source_line) in expected {
        let line = last_line_of(&trial.read(file), shortcode);
        let listed = format!(
            "{}:{line}: {shortcode} ({file}:{source_line} in the source)",
            content.join(file).display()
        );
        assert!(report.contains(&listed), "{listed}\nin\n{report}");
    }
    let listed = report
        .lines()
        .filter(|line| line.contains(" in the source)"))
        .count();
    assert_eq!(
        listed,
        expected.len(),
        "nothing in code is listed:\n{report}"
    );
    assert!(
        report.contains("layouts/shortcodes/notice.html"),
        "{report}"
    );
    assert!(report.contains("renamed: lastmod → updated"), "{report}");
    assert!(report.contains("moved to extra: author, type"), "{report}");
    assert!(
        report.contains("figure (line 20: title joined to the caption; dropped class=\"center\")"),
        "{report}"
    );
    assert!(
        report.contains("`headless` hides this page in Hugo"),
        "{report}"
    );
    assert!(
        report.contains("`publishDate`: Hugo holds the page back"),
        "{report}"
    );
    assert!(
        report.contains("[taxonomies]\nnames = [\"tags\", \"categories\", \"series\"]\n"),
        "{report}"
    );
}

#[test]
fn zola_front_matter_and_shortcodes_are_kept_in_gatehouse_form() {
    let trial = Trial::new("zola");
    let before = snapshot(&trial.src());
    let report = trial.import("zola");
    assert_eq!(
        snapshot(&trial.src()),
        before,
        "the source is never changed"
    );

    let post = trial.read("blog/first-post.md");
    assert_eq!(
        front_matter(&post),
        "+++\n\
         title = \"First post\"\n\
         description = \"The first post, in the shape Zola's docs use.\"\n\
         date = 2024-01-10\n\
         updated = 2024-01-12T08:00:00Z\n\
         tags = [\"zola\", \"migration\"]\n\
         aliases = [\"/old/first-post\", \"/2024/01/first.html\"]\n\
         \n\
         [taxonomies]\n\
         categories = [\"news\"]\n\
         series = [\"Getting started\"]\n\
         \n\
         [extra]\n\
         toc = true\n\
         image = \"cover.png\"\n\
         authors = [\"Ann Example\"]\n\
         +++"
    );
    let source = std::fs::read_to_string(trial.src().join("content/blog/first-post.md")).unwrap();
    let body = |text: &str| text[text[4..].find("+++").unwrap() + 8..].to_owned();
    assert_eq!(body(&post), body(&source), "the body is unchanged");

    let section = trial.read("blog/_index.md");
    assert!(section.contains("\npaginate_by = 2\n"), "{section}");
    assert!(section.contains("[extra]\nsort_by = \"date\"\ninsert_anchor_links = \"right\"\ntemplate = \"blog.html\"\n"), "{section}");
    let bundle = trial.read("blog/second-post/index.md");
    assert_eq!(
        front_matter(&bundle),
        "---\ntitle: Second post\ndate: 2024-02-01\ndraft: false\ntags: [zola]\n\
         taxonomies:\n  categories: [news, howto]\nextra:\n  author: Ann Example\n  featured: true\n---"
    );
    assert!(bundle.contains(
        "{{ figure(src=\"photo.png\", alt=\"A green square\", caption=\"From the bundle\") }}"
    ));
    assert!(
        trial
            .site()
            .join("content/blog/second-post/photo.png")
            .is_file()
    );
    assert!(
        trial
            .read("drafts/unrendered.md")
            .contains("\ndraft = true\n")
    );

    let content = Path::new("site/content");
    for (shortcode, source_line) in [
        ("{{ youtube(id=\"dQw4w9WgXcQ\", autoplay=true) }}", 25),
        ("{% quote(author=\"A reader\") %}", 27),
    ] {
        let line = last_line_of(&post, shortcode);
        let listed = format!(
            "{}:{line}: {shortcode} (blog/first-post.md:{source_line} in the source)",
            content.join("blog/first-post.md").display()
        );
        assert!(report.contains(&listed), "{listed}\nin\n{report}");
    }
    let listed = report
        .lines()
        .filter(|line| line.contains(" in the source)"))
        .count();
    assert_eq!(
        listed, 2,
        "figure is ours; code is not looked at:\n{report}"
    );
    assert!(
        report.contains("copy templates/shortcodes/quote.html from the Zola site"),
        "{report}"
    );
    assert!(
        report.contains("renamed: taxonomies.tags → tags"),
        "{report}"
    );
    assert!(
        report.contains("`path`: Zola's `path` sets the page's address"),
        "{report}"
    );
}

#[test]
fn imported_hugo_site_passes_check_once_site_toml_lists_its_taxonomies() {
    let trial = Trial::new("hugo");
    let report = trial.import("hugo");
    let (ok, output) = trial.check();
    assert!(
        !ok,
        "the build stays strict: categories are not in site.toml yet\n{output}"
    );
    assert!(output.contains("categories"), "{output}");
    trial.add_site_toml_lines(&report);
    let (ok, output) = trial.check();
    assert!(ok, "{output}");
}

#[test]
fn imported_zola_site_passes_check_once_site_toml_and_its_shortcodes_are_added() {
    let trial = Trial::new("zola");
    let report = trial.import("zola");
    trial.add_site_toml_lines(&report);
    // What the report asks for: the site's own shortcode copied, the missing one written.
    let shortcodes = trial.site().join("templates/shortcodes");
    std::fs::create_dir_all(&shortcodes).unwrap();
    std::fs::copy(
        trial.src().join("templates/shortcodes/quote.html"),
        shortcodes.join("quote.html"),
    )
    .unwrap();
    std::fs::write(
        shortcodes.join("youtube.html"),
        "<iframe src=\"https://www.youtube-nocookie.com/embed/{{ id }}\"></iframe>\n",
    )
    .unwrap();
    let (ok, output) = trial.check();
    assert!(ok, "{output}");
}

#[test]
fn unreadable_front_matter_fails_naming_file_and_line_and_writes_nothing() {
    let trial = Trial::new("hugo");
    let posts = trial.src().join("content/posts");
    std::fs::write(
        posts.join("broken-toml.md"),
        "+++\ntitle = \"Broken\"\ndate = \n+++\nbody\n",
    )
    .unwrap();
    std::fs::write(
        posts.join("broken-yaml.md"),
        "---\ntitle: Broken\ntags: [a, b\ncategories: [c]\n---\nbody\n",
    )
    .unwrap();
    let output = trial.run(&["import", "hugo", "src"]);
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{stdout}");
    let toml_file = Path::new("src/content/posts/broken-toml.md");
    assert!(
        stderr.contains(&format!("{}:3: TOML front matter", toml_file.display())),
        "{stderr}"
    );
    assert!(stderr.contains("broken-yaml.md:"), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!trial.site().join("content").exists(), "nothing is written");
}

#[test]
fn existing_output_is_refused_without_force_and_replaced_with_it() {
    let trial = Trial::new("hugo");
    let mine = trial.site().join("content/posts/markdown-syntax.md");
    std::fs::create_dir_all(mine.parent().unwrap()).unwrap();
    std::fs::write(&mine, "mine").unwrap();
    let before = snapshot(&trial.site().join("content"));

    let output = trial.run(&["import", "hugo", "src"]);
    let (stdout, stderr) = text(&output);
    assert!(!output.status.success(), "{stdout}");
    assert!(stderr.contains("already exist"), "{stderr}");
    assert!(stderr.contains("posts/markdown-syntax.md"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        snapshot(&trial.site().join("content")),
        before,
        "nothing is written"
    );

    let output = trial.run(&["import", "hugo", "src", "--force"]);
    assert!(output.status.success(), "{:?}", text(&output));
    assert!(
        std::fs::read_to_string(&mine)
            .unwrap()
            .starts_with("+++\ntitle = \"Markdown Syntax Guide\"")
    );
}

#[test]
fn output_inside_the_source_is_refused() {
    let trial = Trial::new("zola");
    let before = snapshot(&trial.src());
    let output = trial.run(&["import", "zola", "src", "--out", "src/content/imported"]);
    let (_, stderr) = text(&output);
    assert!(!output.status.success());
    assert!(stderr.contains("overlaps the source"), "{stderr}");
    assert_eq!(snapshot(&trial.src()), before);
}

#[test]
fn out_option_writes_elsewhere_and_a_content_folder_is_a_source_too() {
    let trial = Trial::new("zola");
    let output = trial.run(&["import", "zola", "src/content", "--out", "elsewhere"]);
    assert!(output.status.success(), "{:?}", text(&output));
    assert!(
        trial
            .tmp
            .path()
            .join("elsewhere/blog/first-post.md")
            .is_file()
    );
    assert!(!trial.site().join("content").exists());
}

#[test]
fn import_help_names_the_tools_and_options() {
    let (out, _) = text(&gatehouse(&["import", "--help"], Path::new(".")));
    for word in ["hugo", "zola", "<SRC>", "--out", "--force", "--root"] {
        assert!(out.contains(word), "import --help lists {word}:\n{out}");
    }
    let (out, _) = text(&gatehouse(&["--help"], Path::new(".")));
    assert!(out.contains("import"), "{out}");
}
