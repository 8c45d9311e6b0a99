//! The built site, served from the dev output folder. HTML gets the dev script (live reload,
//! error overlay, "view as") injected here, on the way out: it never reaches `build` output.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

/// The dev script's tag, with the build count the page was read at.
pub fn dev_script(build: u64) -> String {
    format!("<script src=\"/_gatehouse/dev.js\" data-build=\"{build}\" defer></script>")
}

#[derive(Clone)]
pub struct Files {
    pub dir: Arc<PathBuf>,
    /// Counts the builds `serve` announced.
    pub reloader: super::reload::Reloader,
}

pub async fn serve(State(files): State<Files>, uri: Uri, headers: HeaderMap) -> Response {
    let Some(relative) = safe_relative(uri.path()) else {
        return (StatusCode::BAD_REQUEST, "bad path").into_response();
    };
    // Before the page is read: see `Reloader::build`.
    let build = files.reloader.build();
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
        Ok(bytes) => respond(StatusCode::OK, &path, bytes, build),
        Err(_) => {
            let missing = files.dir.join("404.html");
            match tokio::fs::read(&missing).await {
                Ok(bytes) => respond(StatusCode::NOT_FOUND, &missing, bytes, build),
                Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
            }
        }
    }
}

fn is_html(path: &Path) -> bool {
    crate::media_type::for_path(&path.to_string_lossy()).starts_with("text/html")
}

fn respond(status: StatusCode, path: &Path, bytes: Vec<u8>, build: u64) -> Response {
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
pub fn inject(html: Vec<u8>, build: u64) -> Vec<u8> {
    let at = find(&html, b"</head>").unwrap_or(html.len());
    let script = dev_script(build);
    let mut out = Vec::with_capacity(html.len() + script.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(script.as_bytes());
    out.extend_from_slice(&html[at..]);
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
        let out = String::from_utf8(inject(html, 7)).expect("utf-8");
        let script = r#"<script src="/_gatehouse/dev.js" data-build="7" defer></script>"#;
        assert!(out.contains(&format!("{script}</head>")), "{out}");
        let fragment = String::from_utf8(inject(b"<p>hi</p>".to_vec(), 7)).expect("utf-8");
        assert!(fragment.ends_with(script));
    }
}
