//! Big files as S3 multipart uploads (DESIGN §9 "Large files go up in multipart uploads"): a
//! sealed course video may be 4 GB, and one PUT takes at most 5 GiB and must be held whole.
//!
//! CreateMultipartUpload (`POST ?uploads`, with the object's Content-Type and Cache-Control),
//! then each part in turn (`PUT ?partNumber=N&uploadId=…`), read from the file just before it
//! is sent, so one file holds one part in memory; then CompleteMultipartUpload (`POST
//! ?uploadId=…` with the parts' ETags), which makes the object appear whole, at once. Any
//! failure, a Ctrl-C between parts, or bytes that no longer hash as planned, ends in
//! AbortMultipartUpload (`DELETE ?uploadId=…`): the parts are dropped and the old object, if
//! any, stays as it was. Each request is retried like any other ([`super::send`]).

use axum::body::Bytes;
use axum::http::Method;
use tokio::io::AsyncReadExt;

use super::send::Call;
use super::{S3Target, xml};
use crate::deploy::headers::Headers;
use crate::deploy::target::{Source, TargetError};

const MIB: u64 = 1024 * 1024;
/// Files above this go up in parts of this size (or larger, see [`part_size`]).
pub const DEFAULT_PART: u64 = 64 * MIB;
/// The most parts one upload may have (S3's limit).
const MAX_PARTS: u64 = 10_000;
/// The largest object S3 holds.
pub const MAX_OBJECT: u64 = 5 * 1024 * 1024 * MIB;

/// The part size for a file of `size`, given the smallest part size `smallest`: that, or, for
/// a file that many parts of it would not hold, the size that 10,000 parts need, rounded up to
/// a whole MiB (525 MiB for a 5 TiB file).
pub fn part_size(size: u64, smallest: u64) -> u64 {
    let needed = size.div_ceil(MAX_PARTS);
    if needed <= smallest {
        smallest.max(1)
    } else {
        needed.next_multiple_of(MIB)
    }
}

/// The body of CompleteMultipartUpload: each part's number and ETag, in order.
fn completion(etags: &[String]) -> String {
    let mut xml = String::from(
        r#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#,
    );
    for (index, etag) in etags.iter().enumerate() {
        xml.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
            index + 1,
            xml::escape(etag)
        ));
    }
    xml.push_str("</CompleteMultipartUpload>");
    xml
}

impl S3Target {
    pub(super) async fn put_multipart(
        &self,
        key: &str,
        source: &Source<'_>,
        headers: &Headers,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<(), TargetError> {
        let object = self.object(key);
        let upload = self.create_upload(&object, key, headers).await?;
        let result = match self.send_parts(&object, key, &upload, source, stop).await {
            Ok(etags) => self.complete_upload(&object, key, &upload, &etags).await,
            Err(error) => Err(error),
        };
        if result.is_err() {
            // Best effort: an upload left behind holds parts the bucket bills for until a
            // lifecycle rule drops it, but it is never visible as an object.
            self.abort_upload(&object, key, &upload).await;
        }
        result
    }

    async fn create_upload(
        &self,
        object: &str,
        key: &str,
        headers: &Headers,
    ) -> Result<String, TargetError> {
        let what = format!("POST {key}?uploads (starting a multipart upload)");
        let headers = [
            ("cache-control", headers.cache_control.as_str()),
            ("content-type", headers.content_type.as_str()),
        ];
        let answer = self
            .send(Call {
                query: &[("uploads", "")],
                headers: &headers,
                ..Call::new(Method::POST, Some(object), &what)
            })
            .await?;
        if !answer.ok() {
            return Err(self.refusal(&answer, &what));
        }
        xml::first(&answer.text(), "UploadId")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| TargetError::Protocol {
                endpoint: self.endpoint(),
                detail: format!("its answer to {what} has no UploadId"),
            })
    }

    /// Sends the file's parts one after the other, each read just before it goes; returns
    /// their ETags once the whole file has hashed as planned.
    async fn send_parts(
        &self,
        object: &str,
        key: &str,
        upload: &str,
        source: &Source<'_>,
        stop: &std::sync::atomic::AtomicBool,
    ) -> Result<Vec<String>, TargetError> {
        let io = |cause| TargetError::Io {
            path: source.path.to_path_buf(),
            cause,
        };
        let part = part_size(source.size, self.part_size);
        let count = source.size.div_ceil(part);
        let mut file = tokio::fs::File::open(source.path).await.map_err(io)?;
        let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
        let mut etags = Vec::new();
        for number in 1..=count {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(TargetError::Interrupted);
            }
            let length = part.min(source.size - (number - 1) * part);
            let length = usize::try_from(length).map_err(|_| io(too_big()))?;
            let mut body = vec![0; length];
            match file.read_exact(&mut body).await {
                Ok(_) => {}
                // Shorter than when it was planned.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(TargetError::changed(source.path));
                }
                Err(e) => return Err(io(e)),
            }
            digest.update(&body);
            let what = format!("PUT {key} (part {number} of {count})");
            etags.push(
                self.upload_part(object, upload, number, Bytes::from(body), &what)
                    .await?,
            );
        }
        if crate::gate::to_hex(digest.finish().as_ref()) != source.sha256 {
            return Err(TargetError::changed(source.path));
        }
        Ok(etags)
    }

    async fn upload_part(
        &self,
        object: &str,
        upload: &str,
        number: u64,
        body: Bytes,
        what: &str,
    ) -> Result<String, TargetError> {
        let number = number.to_string();
        let answer = self
            .send(Call {
                query: &[("partNumber", &number), ("uploadId", upload)],
                body,
                ..Call::new(Method::PUT, Some(object), what)
            })
            .await?;
        if !answer.ok() {
            return Err(self.refusal(&answer, what));
        }
        answer
            .headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .filter(|etag| !etag.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| TargetError::Protocol {
                endpoint: self.endpoint(),
                detail: format!("its answer to {what} has no ETag"),
            })
    }

    async fn complete_upload(
        &self,
        object: &str,
        key: &str,
        upload: &str,
        etags: &[String],
    ) -> Result<(), TargetError> {
        let what = format!("POST {key}?uploadId (completing a multipart upload)");
        let answer = self
            .send(Call {
                query: &[("uploadId", upload)],
                body: Bytes::from(completion(etags)),
                // S3 assembles the parts before it answers: a minute per 1,000 parts, at least 5.
                server_time: std::time::Duration::from_secs(300 + 60 * etags.len() as u64 / 1000),
                ..Call::new(Method::POST, Some(object), &what)
            })
            .await?;
        // S3 may answer 200 and still have failed: the error is then in the body.
        if answer.ok() && xml::first(&answer.text(), "Code").is_none() {
            Ok(())
        } else {
            Err(self.refusal(&answer, &what))
        }
    }

    async fn abort_upload(&self, object: &str, key: &str, upload: &str) {
        let what = format!("DELETE {key}?uploadId (abandoning a multipart upload)");
        let _ = self
            .send(Call {
                query: &[("uploadId", upload)],
                ..Call::new(Method::DELETE, Some(object), &what)
            })
            .await;
    }
}

fn too_big() -> std::io::Error {
    std::io::Error::other("a part does not fit in memory on this machine")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_64_mib_until_10000_of_them_would_not_hold_the_file() {
        assert_eq!(part_size(100 * MIB, DEFAULT_PART), DEFAULT_PART);
        assert_eq!(part_size(10_000 * DEFAULT_PART, DEFAULT_PART), DEFAULT_PART);
        let past = 10_000 * DEFAULT_PART + 1;
        assert_eq!(part_size(past, DEFAULT_PART), DEFAULT_PART + MIB);
        let part = part_size(MAX_OBJECT, DEFAULT_PART);
        assert_eq!(part, 525 * MIB);
        assert!(MAX_OBJECT.div_ceil(part) <= MAX_PARTS);
        for size in [1, 5 * MIB, 640 * 1024 * MIB + 7, MAX_OBJECT - 1] {
            assert!(size.div_ceil(part_size(size, DEFAULT_PART)) <= MAX_PARTS);
        }
    }

    #[test]
    fn the_completion_lists_each_part_in_order_with_its_etag_escaped() {
        let xml = completion(&["\"a1\"".into(), "\"b&2\"".into()]);
        assert!(xml.contains(
            "<Part><PartNumber>1</PartNumber><ETag>\"a1\"</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>\"b&amp;2\"</ETag></Part>"
        ));
    }
}
