//! The built site, served from the dev output folder. HTML gets the dev script (live reload,
//! error overlay, "view as") injected here, on the way out: it never reaches `build` output.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The dev script's tag, with the mark of the last announcement before the page was read.
pub fn dev_script(mark: &str) -> String {
    format!("<script src=\"/_gatehouse/dev.js\" data-build=\"{mark}\" defer></script>")
}

#[derive(Clone)]
pub struct Files {
    pub dir: Arc<PathBuf>,
    /// Marks each page with the last announcement before it was read.
    pub reloader: super::reload::Reloader,
}

pub async fn serve(State(files): State<Files>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(relative) = safe_relative(uri.path()) else {
        return (StatusCode::BAD_REQUEST, "bad path").into_response();
    };
    // Before the page is read: see `Reloader::mark`.
    let build = files.reloader.mark();
    let mut path = files.dir.join(&relative);
    if uri.path().ends_with('/') {
        path.push("index.html");
    } else if tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_dir()) {
        return Redirect::permanent(&format!("{}/", uri.path())).into_response();
    }
    if !is_html(&path) && tokio::fs::metadata(&path).await.is_ok_and(|m| m.is_file()) {
        return super::range::respond_file(&path, &headers, StatusCode::OK).await;
    }
    match tokio::fs::read(&path).await {
        Ok(bytes) => respond(StatusCode::OK, &path, bytes, &build),
        Err(_) => {
            let missing = files.dir.join("404.html");
            match tokio::fs::read(&missing).await {
                Ok(bytes) => respond(StatusCode::NOT_FOUND, &missing, bytes, &build),
                // No 404.html (or none for the moment: a full rebuild swaps the folder in
                // two renames): still a page with the dev script, which reloads it once the
                // rebuild is announced.
                Err(_) => respond(
                    StatusCode::NOT_FOUND,
                    Path::new("404.html"),
                    b"<!doctype html><title>Not found</title><p>Not found.</p>".to_vec(),
                    &build,
                ),
            }
        }
    }
}

fn is_html(path: &Path) -> bool {
    crate::media_type::for_path(&path.to_string_lossy()).starts_with("text/html")
}

fn respond(status: StatusCode, path: &Path, bytes: Vec<u8>, build: &str) -> Response {
    let kind = crate::media_type::for_path(&path.to_string_lossy());
    let body = if kind.starts_with("text/html") {
        Body::from(inject(bytes, build))
    } else {
        Body::from(bytes)
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // Every rebuild must be seen at once; nothing is cached while writing.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Adds the dev script before `</head>` (or at the end of a fragment without one).
/// A page saved from `serve` (into `static/`, say) already holds a tag, with a mark of its own:
/// that one goes, or the page would reload for ever.
pub fn inject(html: Vec<u8>, build: &str) -> Vec<u8> {
    let html = without_dev_script(html);
    let at = find(&html, b"</head>").unwrap_or(html.len());
    let script = dev_script(build);
    let mut out = Vec::with_capacity(html.len() + script.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(script.as_bytes());
    out.extend_from_slice(&html[at..]);
    out
}

/// Removes each whole dev script tag `inject` wrote: `<script src="/_gatehouse/dev.js" …>`, up
/// to its `>`, then `</script>` at once. Anything else that starts the same way (text in a
/// textarea, a tag closed otherwise) stays as it is. A copy saved by a browser's "save page"
/// has another src; its script does nothing (dev.js checks its own address).
fn without_dev_script(html: Vec<u8>) -> Vec<u8> {
    const START: &[u8] = b"<script src=\"/_gatehouse/dev.js\"";
    const END: &[u8] = b"</script>";
    let mut out = Vec::with_capacity(html.len());
    let mut rest = &html[..];
    while let Some(start) = find(rest, START) {
        let after = &rest[start + START.len()..];
        let tag_end = after.iter().position(|&b| b == b'>');
        let whole = tag_end.filter(|&end| {
            let closing = after[end + 1..].trim_ascii_start();
            !after[..end].contains(&b'<') && closing.starts_with(END)
        });
        let Some(end) = whole else {
            out.extend_from_slice(&rest[..start + START.len()]);
            rest = after;
            continue;
        };
        out.extend_from_slice(&rest[..start]);
        let closing = after[end + 1..].trim_ascii_start();
        rest = &closing[END.len()..];
    }
    out.extend_from_slice(rest);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The URL path as a path below the output folder, or `None` if it tries to leave it.
fn safe_relative(url_path: &str) -> Option<PathBuf> {
    let decoded = crate::percent::decode(url_path)?;
    let mut out = PathBuf::new();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_the_output_folder() {
        assert_eq!(safe_relative("/a/b/"), Some(PathBuf::from("a/b")));
        assert_eq!(safe_relative("/a/%2e%2e/%2e%2e/etc"), None);
        assert_eq!(safe_relative("/../etc/passwd"), None);
        assert_eq!(safe_relative("/caf%C3%A9/"), Some(PathBuf::from("café")));
        assert_eq!(safe_relative("/bad%zz"), None);
        assert_eq!(safe_relative("/bad%+1"), None);
    }

    #[test]
    fn the_dev_script_goes_before_the_end_of_head() {
        let html = b"<html><head><title>x</title></head><body></body></html>".to_vec();
        let out = String::from_utf8(inject(html, "ab12cd34.7")).expect("utf-8");
        let script = r#"<script src="/_gatehouse/dev.js" data-build="ab12cd34.7" defer></script>"#;
        assert!(out.contains(&format!("{script}</head>")), "{out}");
        let fragment =
            String::from_utf8(inject(b"<p>hi</p>".to_vec(), "ab12cd34.7")).expect("utf-8");
        assert!(fragment.ends_with(script));
    }

    #[test]
    fn only_whole_dev_script_tags_are_removed() {
        for kept in [
            r#"<textarea><script src="/_gatehouse/dev.js" data-build="x"> is the tag</textarea><script>a()</script><p>after</p>"#,
            r#"<script src="/_gatehouse/dev.js" defer/><main>body</main><script>b()</script>"#,
            r#"<script src="/_gatehouse/dev.js""#,
        ] {
            let out = without_dev_script(kept.as_bytes().to_vec());
            assert_eq!(String::from_utf8(out).unwrap(), kept);
        }
        let out = without_dev_script(
            br#"<p>a</p><script src="/_gatehouse/dev.js" data-build="0f0f0f0f.1" defer>
</script><p>b</p>"#
                .to_vec(),
        );
        assert_eq!(String::from_utf8(out).unwrap(), "<p>a</p><p>b</p>");
    }

    #[tokio::test]
    async fn a_missing_page_without_404_html_is_still_a_page_with_the_dev_script() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files {
            dir: Arc::new(dir.path().to_path_buf()),
            reloader: super::super::reload::Reloader::default(),
        };
        let response = serve(State(files), "/gone/".parse().unwrap(), HeaderMap::new()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.contains(r#"<script src="/_gatehouse/dev.js" data-build=""#),
            "{body}"
        );
    }

    #[test]
    fn a_page_saved_from_serve_keeps_only_the_new_dev_script() {
        let saved = r#"<html><head><script src="/_gatehouse/dev.js" data-build="0f0f0f0f.3" defer></script></head><body><script src="/_gatehouse/dev.js" defer></script></body></html>"#;
        let out =
            String::from_utf8(inject(saved.as_bytes().to_vec(), "ab12cd34.9")).expect("utf-8");
        assert_eq!(out.matches("/_gatehouse/dev.js").count(), 1, "{out}");
        assert!(out.contains(r#"data-build="ab12cd34.9""#), "{out}");
        assert!(out.ends_with("<body></body></html>"), "{out}");
    }
}
