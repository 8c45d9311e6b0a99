//! End to end: the real `gatehouse serve` on its own copy of the demo site (DESIGN §8), serving
//! files: each with its type, the dev script only in the HTML serve sends (never in a normal
//! build), no path out of the output folder, and the theme's 404 page.

#![allow(clippy::unwrap_used)]

mod common;

use common::serve::start_demo;
use common::serve_events::dev_scripts;
use common::serve_http::{client, get, raw_get};
use common::{SECRET_B64, gatehouse_ok, snapshot};
use reqwest::StatusCode;

const HTML: &str = "text/html; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// 1. Serving files
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn files_are_served_with_their_type_and_html_gets_the_dev_script_once() {
    let (_site, serve) = start_demo();
    let browser = client();
    let cases = [
        ("/", HTML),
        ("/about/", HTML),
        ("/course/value-metric/", HTML),
        ("/blog/", HTML),
        ("/style.css", "text/css; charset=utf-8"),
        ("/gate.js", "text/javascript; charset=utf-8"),
        ("/search.json", "application/json"),
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/sitemap.xml", "application/xml; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
        ("/robots.txt", "text/plain; charset=utf-8"),
    ];
    for (path, kind) in cases {
        let page = get(&browser, &serve, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.kind, kind, "{path}");
        let wanted = usize::from(kind == HTML);
        assert_eq!(
            dev_scripts(&page.body).len(),
            wanted,
            "{path}: the dev script must appear {wanted} time(s)"
        );
        assert_eq!(
            page.body.matches("_gatehouse").count(),
            wanted,
            "{path}: nothing but the dev script may mention _gatehouse"
        );
    }

    let script = get(&browser, &serve, "/_gatehouse/dev.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(script.kind, "text/javascript; charset=utf-8");
    assert!(
        script.body.contains("/_gatehouse/events"),
        "{}",
        script.body
    );
}

#[tokio::test]
async fn a_normal_build_of_the_same_site_has_no_trace_of_serve() {
    let (site, serve) = start_demo();
    let out = tempfile::tempdir().unwrap();
    gatehouse_ok(
        site.root(),
        &["build", "--out", out.path().to_str().unwrap()],
    );
    let traces: Vec<String> = snapshot(out.path())
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(10).any(|w| w == b"_gatehouse"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        traces.is_empty(),
        "build output mentions _gatehouse: {traces:?}"
    );

    // The page serve sends is the built page plus the script, with serve's own address as the
    // base URL: the script is added on the way out and nothing else differs.
    let served = get(&client(), &serve, "/about/").await.body;
    let built = std::fs::read_to_string(out.path().join("about/index.html")).unwrap();
    let base_url = gatehouse::config::load(site.root()).unwrap().base_url;
    let (tag, _) = dev_scripts(&served).pop().expect("the dev script");
    let served_as_built = served.replacen(&tag, "", 1).replace(&serve.url, &base_url);
    assert!(
        served_as_built == built,
        "serve's /about/ is not the build's plus the dev script:\n{served}"
    );
}

#[tokio::test]
async fn paths_out_of_the_output_folder_are_refused() {
    let (site, serve) = start_demo();
    let root = site.root().display().to_string();
    let absolute = format!("/%2f{}/site.toml", root.trim_start_matches('/'));
    let attempts = [
        "/../site.toml",
        "/../../site.toml",
        "/../secret",
        "/%2e%2e/secret",
        "/../dev/secret",
        "/%2e%2e/dev/secret",
        "/%2e%2e/%2e%2e/site.toml",
        "/%2E%2E/%2E%2E/site.toml",
        "/..%2f..%2fsite.toml",
        "/%2e%2e%2f%2e%2e%2fsite.toml",
        "/course/../../../site.toml",
        "/course/%2e%2e/%2e%2e/%2e%2e/site.toml",
        "/..%5c..%5csite.toml",
        absolute.as_str(),
    ];
    let toml = std::fs::read_to_string(site.path("site.toml")).unwrap();
    let level_line = toml.lines().find(|l| l.starts_with("[[levels]]")).unwrap();
    let dev_secret = serve.dev_secret().to_base64url();
    for path in attempts {
        let (status, answer) = raw_get(&serve, path).await;
        assert!(
            status == 400 || status == 404,
            "{path} answered {status}:\n{answer}"
        );
        assert!(
            !answer.contains(SECRET_B64)
                && !answer.contains(&dev_secret)
                && !answer.contains(level_line),
            "{path} read a file outside the output:\n{answer}"
        );
    }
}

#[tokio::test]
async fn unknown_paths_get_the_themes_404_page_and_folders_redirect() {
    let (_site, serve) = start_demo();
    let browser = client();
    for path in [
        "/no-such-page/",
        "/no-such-file.css",
        "/course/no-such-lesson/",
    ] {
        let page = get(&browser, &serve, path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(page.kind, HTML, "{path}");
        assert!(
            page.body.contains("Page not found"),
            "{path}: {}",
            page.body
        );
        assert_eq!(dev_scripts(&page.body).len(), 1, "{path}");
    }
    for (path, to) in [
        ("/course", "/course/"),
        ("/course/value-metric", "/course/value-metric/"),
    ] {
        let page = get(&browser, &serve, path).await;
        assert!(page.status.is_redirection(), "{path}: {}", page.status);
        assert_eq!(page.location.as_deref(), Some(to), "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// Ranges, as a CDN answers them: media seeks, and gated media's worker reads single records
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn byte_ranges_get_206_with_content_range_and_bad_ones_416() {
    let (_site, serve) = start_demo();
    let browser = client();
    // The sealed video of the demo lesson: ciphertext, served like any file.
    let object = serve.sealed_file_of("course/tiers-and-anchors/tiers-walkthrough.webm");
    let name = object.file_name().unwrap().to_string_lossy();
    let path = format!("/_gated/files/{name}");
    let whole = std::fs::read(&object).unwrap();
    let len = whole.len();
    let ask = async |range: Option<&str>| {
        let mut request = browser.get(serve.at(&path));
        if let Some(range) = range {
            request = request.header("range", range);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status();
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (content_range, accept) = (header("content-range"), header("accept-ranges"));
        (
            status,
            content_range,
            accept,
            answer.bytes().await.unwrap().to_vec(),
        )
    };

    let (status, range, accept, body) = ask(None).await;
    assert_eq!(
        (status, range, accept.as_deref()),
        (StatusCode::OK, None, Some("bytes"))
    );
    assert_eq!(body, whole);

    let (status, range, _, body) = ask(Some("bytes=65536-131087")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(range, Some(format!("bytes 65536-131087/{len}")));
    assert_eq!(body, &whole[65536..=131087]);

    let (status, range, _, body) = ask(Some("bytes=-100")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        range,
        Some(format!("bytes {}-{}/{len}", len - 100, len - 1))
    );
    assert_eq!(body, &whole[len - 100..]);

    let (status, range, _, body) = ask(Some(&format!("bytes={len}-"))).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(range, Some(format!("bytes */{len}")));
    assert!(body.is_empty());
}
