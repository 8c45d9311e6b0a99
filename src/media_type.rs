//! The Content-Type of a built file, by its name: one table for `gatehouse serve` and
//! `gatehouse deploy`, so a file is labelled the same in development and at the CDN.

/// The media type for a path such as `/atom.xml` or `course/a/index.html`.
pub fn for_path(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name {
        // Feeds are XML by extension, but readers and browsers want their own types.
        "atom.xml" => return "application/atom+xml; charset=utf-8",
        "rss.xml" => return "application/rss+xml; charset=utf-8",
        _ => {}
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "xml" => "application/xml; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "ics" => "text/calendar; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "pdf" => "application/pdf",
        "epub" => "application/epub+zip",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "ogv" => "video/ogg",
        "vtt" => "text/vtt; charset=utf-8",
        "srt" => "application/x-subrip",
        "flac" => "audio/flac",
        "opus" => "audio/opus",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::for_path;

    #[test]
    fn built_files_get_their_media_types() {
        assert_eq!(for_path("/course/a/index.html"), "text/html; charset=utf-8");
        assert_eq!(
            for_path("/_gated/0123/4567.bin"),
            "application/octet-stream"
        );
        assert_eq!(for_path("/_gated/manifest.json"), "application/json");
        assert_eq!(for_path("/atom.xml"), "application/atom+xml; charset=utf-8");
        assert_eq!(for_path("/sitemap.xml"), "application/xml; charset=utf-8");
        assert_eq!(for_path("/style.CSS"), "text/css; charset=utf-8");
        assert_eq!(for_path("/LICENSE"), "application/octet-stream");
        assert_eq!(for_path("/.well-known/x"), "application/octet-stream");
    }
}
