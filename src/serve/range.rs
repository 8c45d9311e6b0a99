//! HTTP Range for `gatehouse serve`, as every CDN answers it: a `<video>` asks for the bytes it
//! needs and seeks without downloading the whole file, and gated media's service worker fetches
//! only the records it opens.

use std::io::SeekFrom;
use std::path::Path;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Wanted {
    /// No header, or one this server answers with the whole file (several ranges, another
    /// unit, or a malformed header, as RFC 9110 allows).
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A range that starts past the end: 416.
    Unsatisfiable,
}

pub fn wanted(headers: &HeaderMap, len: u64) -> Wanted {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Wanted::Whole;
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |text: &str| text.parse::<u64>().ok();
    if first.is_empty() {
        // `bytes=-n`: the last n bytes.
        return match number(last) {
            Some(0) => Wanted::Unsatisfiable,
            Some(_) if len == 0 => Wanted::Unsatisfiable,
            Some(suffix) => Wanted::Part {
                start: len.saturating_sub(suffix),
                end: len - 1,
            },
            None => Wanted::Whole,
        };
    }
    let Some(start) = number(first) else {
        return Wanted::Whole;
    };
    if start >= len {
        return Wanted::Unsatisfiable;
    }
    let end = if last.is_empty() {
        len - 1
    } else {
        match number(last) {
            Some(last) if last >= start => last.min(len - 1),
            _ => return Wanted::Whole,
        }
    };
    Wanted::Part { start, end }
}

/// Answers for the file at `path` (not HTML: that is rewritten, so it is always sent whole),
/// streaming from disk so a 4 GB video costs no memory.
pub async fn respond_file(path: &Path, headers: &HeaderMap, status: StatusCode) -> Response {
    let Ok(mut file) = tokio::fs::File::open(path).await else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let len = match file.metadata().await {
        Ok(meta) => meta.len(),
        Err(_) => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    let kind = crate::media_type::for_path(&path.to_string_lossy());
    // A 404 page is always whole.
    let wanted = if status == StatusCode::OK {
        wanted(headers, len)
    } else {
        Wanted::Whole
    };
    let (status, start, count, content_range) = match wanted {
        Wanted::Whole => (status, 0, len, None),
        Wanted::Part { start, end } => (
            StatusCode::PARTIAL_CONTENT,
            start,
            end - start + 1,
            Some(format!("bytes {start}-{end}/{len}")),
        ),
        Wanted::Unsatisfiable => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
    };
    if start > 0 && file.seek(SeekFrom::Start(start)).await.is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let chunks = stream::unfold((file, count), |(mut file, left)| async move {
        if left == 0 {
            return None;
        }
        let mut buffer = vec![0u8; left.min(256 * 1024) as usize];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok::<_, std::io::Error>(buffer), (file, left - read as u64)))
            }
            Err(error) => Some((Err(error), (file, 0))),
        }
    });
    let mut response = (status, Body::from_stream(chunks)).into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Some(range) = content_range.and_then(|r| HeaderValue::from_str(&r).ok()) {
        out.insert(header::CONTENT_RANGE, range);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(range: &str, len: u64) -> Wanted {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(range).expect("ascii"));
        wanted(&headers, len)
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(ask("bytes=0-9", 100), Wanted::Part { start: 0, end: 9 });
        assert_eq!(ask("bytes=90-", 100), Wanted::Part { start: 90, end: 99 });
        assert_eq!(
            ask("bytes=90-500", 100),
            Wanted::Part { start: 90, end: 99 }
        );
        assert_eq!(ask("bytes=-10", 100), Wanted::Part { start: 90, end: 99 });
        assert_eq!(ask("bytes=-500", 100), Wanted::Part { start: 0, end: 99 });
        assert_eq!(ask("bytes=100-", 100), Wanted::Unsatisfiable);
        assert_eq!(ask("bytes=-0", 100), Wanted::Unsatisfiable);
        assert_eq!(ask("bytes=0-1,5-6", 100), Wanted::Whole);
        assert_eq!(ask("items=0-1", 100), Wanted::Whole);
        assert_eq!(ask("bytes=5-2", 100), Wanted::Whole);
        assert_eq!(ask("bytes=x-2", 100), Wanted::Whole);
        assert_eq!(wanted(&HeaderMap::new(), 100), Wanted::Whole);
    }
}
