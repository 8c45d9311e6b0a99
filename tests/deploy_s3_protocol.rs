//! The S3 client's behaviour on the wire, against a scripted HTTP server on a real socket that
//! answers what each test says and records every request: what is sent (Content-Length on an
//! empty PUT, the session token signed), what is retried (5xx, 429, SlowDown) and what is not
//! (refusals), and how each failure is named. Garage (tests/deploy_s3.rs) checks signatures;
//! this checks what Garage is too lenient or too healthy to show.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse::deploy::s3::Retry;
use gatehouse::deploy::{Credentials, Headers, S3Settings, S3Target, Target, TargetError};

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A server that answers the scripted responses in order (repeating the last), one per
/// connection, and keeps what it was sent.
struct Scripted {
    endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn respond(status: u16, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}

fn error_xml(code: &str, message: &str) -> String {
    format!("<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>")
}

impl Scripted {
    fn start(responses: Vec<String>) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap();
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                }
                let length = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                record.lock().unwrap().push(Seen {
                    line: line.trim_end().to_owned(),
                    headers,
                    body,
                });
                let answer = &responses[n.min(responses.len() - 1)];
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Scripted { endpoint, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn target(&self, token: Option<&str>) -> S3Target {
        let settings = S3Settings {
            bucket: "site".into(),
            prefix: "www".into(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("test-1".into()),
            path_style: None,
        };
        let credentials = Credentials::new(
            "AKIDTEST".into(),
            "s3cr3t-access-key".into(),
            token.map(str::to_owned),
        );
        S3Target::new(&settings, credentials)
            .unwrap()
            .with_retry(Retry {
                attempts: 4,
                first_delay: Duration::from_millis(40),
            })
    }
}

fn html() -> Headers {
    Headers {
        content_type: "text/html; charset=utf-8".into(),
        cache_control: "public, max-age=60".into(),
    }
}

#[tokio::test]
async fn an_empty_file_is_sent_with_a_content_length_and_its_headers() {
    let server = Scripted::start(vec![respond(200, "", "")]);
    server
        .target(None)
        .put("empty.txt", Vec::new(), None, &html())
        .await
        .unwrap();
    let seen = server.seen();
    assert_eq!(seen[0].line, "PUT /site/www/empty.txt HTTP/1.1");
    assert_eq!(
        seen[0].header("content-length"),
        Some("0"),
        "AWS answers 411 without it"
    );
    assert_eq!(seen[0].header("cache-control"), Some("public, max-age=60"));
    assert_eq!(
        seen[0].header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        seen[0].header("x-amz-content-sha256"),
        Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    let authorization = seen[0].header("authorization").unwrap();
    assert!(
        authorization.contains(
            "SignedHeaders=cache-control;content-type;host;x-amz-content-sha256;x-amz-date"
        ),
        "{authorization}"
    );
    assert!(!authorization.contains("s3cr3t"), "{authorization}");
}

#[tokio::test]
async fn a_session_token_is_sent_and_signed() {
    let server = Scripted::start(vec![respond(200, "", "")]);
    server
        .target(Some("session-token-value"))
        .put("a.html", b"<p>".to_vec(), None, &html())
        .await
        .unwrap();
    let seen = &server.seen()[0];
    assert_eq!(
        seen.header("x-amz-security-token"),
        Some("session-token-value")
    );
    assert!(
        seen.header("authorization")
            .unwrap()
            .contains("x-amz-security-token")
    );
    assert_eq!(seen.body, b"<p>");
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff_until_one_succeeds() {
    let server = Scripted::start(vec![
        respond(
            503,
            "",
            &error_xml("SlowDown", "Please reduce your request rate."),
        ),
        respond(500, "", &error_xml("InternalError", "oops")),
        respond(200, "", ""),
    ]);
    let started = Instant::now();
    server
        .target(None)
        .put("a.html", b"x".to_vec(), None, &html())
        .await
        .unwrap();
    assert_eq!(server.seen().len(), 3, "two failures, then the success");
    assert!(
        started.elapsed() >= Duration::from_millis(40 + 80),
        "waited between attempts: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_failure_that_persists_says_how_often_it_was_tried() {
    let server = Scripted::start(vec![respond(
        503,
        "",
        &error_xml("SlowDown", "Please reduce your request rate."),
    )]);
    let error = server
        .target(None)
        .put("a.html", b"x".to_vec(), None, &html())
        .await
        .unwrap_err();
    assert_eq!(server.seen().len(), 4);
    let message = error.to_string();
    assert!(
        message.contains("answered 503 for PUT a.html (SlowDown"),
        "{message}"
    );
    assert!(message.contains("4 times"), "{message}");
}

#[tokio::test]
async fn refusals_are_not_retried_and_say_what_to_fix() {
    let cases = [
        (403, "InvalidAccessKeyId", "refused the credentials"),
        (
            403,
            "SignatureDoesNotMatch",
            "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
        (404, "NoSuchBucket", "bucket `site` does not exist"),
        (403, "RequestTimeTooSkewed", "clock is wrong"),
        (400, "AuthorizationHeaderMalformed", "answered 400"),
    ];
    for (status, code, expected) in cases {
        let server = Scripted::start(vec![respond(status, "", &error_xml(code, "no"))]);
        let error = server
            .target(None)
            .put("a.html", b"x".to_vec(), None, &html())
            .await
            .unwrap_err();
        assert_eq!(server.seen().len(), 1, "{code} is not retried");
        assert!(error.to_string().contains(expected), "{code}: {error}");
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
    }
}

#[tokio::test]
async fn a_wrong_region_and_a_redirect_elsewhere_are_told_apart() {
    let server = Scripted::start(vec![respond(
        301,
        "x-amz-bucket-region: eu-west-3\r\n",
        &error_xml("PermanentRedirect", "use the right endpoint"),
    )]);
    let error = server.target(None).get("index.html").await.unwrap_err();
    assert!(
        matches!(&error, TargetError::WrongRegion { region: Some(r), .. } if r == "eu-west-3"),
        "{error}"
    );
    let proxy = Scripted::start(vec![respond(
        301,
        "location: https://s3.example.com/site/www/index.html\r\n",
        "",
    )]);
    let error = proxy.target(None).get("index.html").await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("redirects to https://s3.example.com/"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_object_is_none_and_a_deleted_one_is_fine() {
    let server = Scripted::start(vec![
        respond(404, "", &error_xml("NoSuchKey", "gone")),
        respond(204, "", ""),
    ]);
    let target = server.target(None);
    assert_eq!(target.get(".gatehouse-deploy.json").await.unwrap(), None);
    target.delete("old.html").await.unwrap();
    assert_eq!(server.seen()[1].line, "DELETE /site/www/old.html HTTP/1.1");
}

#[tokio::test]
async fn listings_follow_continuation_tokens_and_refuse_a_loop() {
    let page = |keys: &[&str], token: Option<&str>| {
        let contents: String = keys
            .iter()
            .map(|k| format!("<Contents><Key>www/{k}</Key></Contents>"))
            .collect();
        let tail = match token {
            Some(t) => format!(
                "<IsTruncated>true</IsTruncated><NextContinuationToken>{t}</NextContinuationToken>"
            ),
            None => "<IsTruncated>false</IsTruncated>".to_owned(),
        };
        respond(
            200,
            "",
            &format!("<ListBucketResult>{contents}{tail}</ListBucketResult>"),
        )
    };
    let server = Scripted::start(vec![
        page(&["a.html", "b c.html"], Some("t1")),
        page(&["d.html"], None),
    ]);
    let keys = server.target(None).list().await.unwrap();
    assert_eq!(keys, ["a.html", "b c.html", "d.html"]);
    let seen = server.seen();
    assert!(
        seen[0]
            .line
            .starts_with("GET /site?list-type=2&prefix=www%2F HTTP/1.1"),
        "{}",
        seen[0].line
    );
    assert!(
        seen[1].line.contains("continuation-token=t1"),
        "{}",
        seen[1].line
    );

    let looping = Scripted::start(vec![page(&["a.html"], Some("same"))]);
    let error = looping.target(None).list().await.unwrap_err();
    assert!(error.to_string().contains("repeats a page"), "{error}");
}

#[tokio::test]
async fn an_endpoint_with_credentials_in_it_is_refused_without_quoting_them() {
    let settings = S3Settings {
        bucket: "site".into(),
        endpoint: Some("https://user:hunter2@s3.example.com".into()),
        ..S3Settings::default()
    };
    let error = S3Target::new(&settings, Credentials::new("A".into(), "B".into(), None))
        .err()
        .unwrap();
    assert!(error.contains("must not hold credentials"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

/// A file of `size` bytes (each byte its offset's low bits) in a fresh folder, and its hash.
fn big_file(size: usize) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &bytes).unwrap();
    let (sha256, _) = gatehouse::deploy::hash_file(&path).unwrap();
    (dir, path, sha256)
}

const UPLOAD_ID: &str = "UP/1+x";
const UPLOAD_ID_QUERY: &str = "UP%2F1%2Bx";
const MIB: usize = 1024 * 1024;

fn started() -> String {
    respond(
        200,
        "",
        &format!(
            "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>site</Bucket>\
             <Key>www/big.bin</Key><UploadId>{}</UploadId></InitiateMultipartUploadResult>",
            UPLOAD_ID.replace('+', "&#43;")
        ),
    )
}

fn part_taken(n: usize) -> String {
    respond(200, &format!("etag: \"etag-{n}\"\r\n"), "")
}

fn completed() -> String {
    respond(
        200,
        "",
        "<CompleteMultipartUploadResult><ETag>\"x-3\"</ETag></CompleteMultipartUploadResult>",
    )
}

fn video() -> Headers {
    Headers {
        content_type: "application/octet-stream".into(),
        cache_control: "public, max-age=31536000, immutable".into(),
    }
}

async fn put_big(
    server: &Scripted,
    path: &std::path::Path,
    sha256: &str,
    stop: bool,
) -> Result<(), TargetError> {
    let size = std::fs::metadata(path).unwrap().len();
    let source = gatehouse::deploy::Source { path, size, sha256 };
    server
        .target(None)
        .with_part_size(MIB as u64)
        .put_file(
            "big.bin",
            &source,
            &video(),
            &std::sync::atomic::AtomicBool::new(stop),
        )
        .await
}

fn lines(seen: &[Seen]) -> Vec<String> {
    seen.iter().map(|s| s.line.clone()).collect()
}

#[tokio::test]
async fn a_big_file_goes_up_in_parts_read_in_turn_and_is_completed_with_their_etags() {
    let (_dir, path, sha256) = big_file(5 * MIB / 2);
    let server = Scripted::start(vec![
        started(),
        part_taken(1),
        part_taken(2),
        part_taken(3),
        completed(),
    ]);
    put_big(&server, &path, &sha256, false).await.unwrap();
    let seen = server.seen();
    let part = |n: usize| {
        format!("PUT /site/www/big.bin?partNumber={n}&uploadId={UPLOAD_ID_QUERY} HTTP/1.1")
    };
    assert_eq!(
        lines(&seen),
        [
            "POST /site/www/big.bin?uploads= HTTP/1.1".to_owned(),
            part(1),
            part(2),
            part(3),
            format!("POST /site/www/big.bin?uploadId={UPLOAD_ID_QUERY} HTTP/1.1"),
        ]
    );
    // The object's headers go with the start, and are signed.
    let start = &seen[0];
    assert_eq!(
        start.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        start.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(start.header("content-length"), Some("0"));
    assert!(
        start
            .header("authorization")
            .unwrap()
            .contains("SignedHeaders=cache-control;content-type;host;"),
        "{:?}",
        start.header("authorization")
    );
    // Each part carries its own bytes and their hash; together they are the file.
    let mut joined = Vec::new();
    for (n, request) in seen[1..4].iter().enumerate() {
        assert_eq!(request.body.len(), if n < 2 { MIB } else { MIB / 2 });
        assert_eq!(
            request.header("x-amz-content-sha256"),
            Some(gatehouse::deploy::sha256_hex(&request.body).as_str())
        );
        assert_eq!(request.header("cache-control"), None);
        joined.extend_from_slice(&request.body);
    }
    assert_eq!(joined, std::fs::read(&path).unwrap());
    let completion = String::from_utf8(seen[4].body.clone()).unwrap();
    assert!(
        completion.contains(
            "<Part><PartNumber>1</PartNumber><ETag>\"etag-1\"</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>\"etag-2\"</ETag></Part>\
             <Part><PartNumber>3</PartNumber><ETag>\"etag-3\"</ETag></Part>"
        ),
        "{completion}"
    );
}

#[tokio::test]
async fn a_part_that_fails_for_a_moment_is_sent_again_with_the_same_bytes() {
    let (_dir, path, sha256) = big_file(5 * MIB / 2);
    let server = Scripted::start(vec![
        started(),
        respond(
            503,
            "",
            &error_xml("SlowDown", "Please reduce your request rate."),
        ),
        part_taken(1),
        part_taken(2),
        part_taken(3),
        completed(),
    ]);
    put_big(&server, &path, &sha256, false).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[1].line, seen[2].line, "part 1 twice");
    assert!(seen[1].line.contains("partNumber=1&"), "{}", seen[1].line);
    assert_eq!(seen[1].body, seen[2].body);
    assert!(seen[5].line.starts_with("POST "), "then completed");
}

#[tokio::test]
async fn a_part_that_is_refused_aborts_the_upload() {
    let (_dir, path, sha256) = big_file(5 * MIB / 2);
    let server = Scripted::start(vec![
        started(),
        part_taken(1),
        respond(400, "", &error_xml("InvalidArgument", "no")),
        respond(204, "", ""),
    ]);
    let error = put_big(&server, &path, &sha256, false).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("answered 400 for PUT big.bin (part 2 of 3) (InvalidArgument: no)"),
        "{error}"
    );
    let seen = server.seen();
    assert_eq!(
        seen.len(),
        4,
        "not retried, not completed: {:?}",
        lines(&seen)
    );
    assert_eq!(
        seen[3].line,
        format!("DELETE /site/www/big.bin?uploadId={UPLOAD_ID_QUERY} HTTP/1.1")
    );
}

#[tokio::test]
async fn ctrl_c_between_parts_and_bytes_changed_since_the_plan_abort_the_upload() {
    let (_dir, path, sha256) = big_file(5 * MIB / 2);
    let server = Scripted::start(vec![started(), respond(204, "", "")]);
    let error = put_big(&server, &path, &sha256, true).await.unwrap_err();
    assert!(matches!(error, TargetError::Interrupted), "{error}");
    let seen = lines(&server.seen());
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[1].starts_with("DELETE /site/www/big.bin?uploadId="),
        "{seen:?}"
    );

    let server = Scripted::start(vec![
        started(),
        part_taken(1),
        part_taken(2),
        part_taken(3),
        respond(204, "", ""),
    ]);
    let planned = "0".repeat(64);
    let error = put_big(&server, &path, &planned, false).await.unwrap_err();
    assert!(matches!(error, TargetError::Changed { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("changed while it was being deployed")
    );
    let seen = lines(&server.seen());
    assert!(
        seen[4].starts_with("DELETE "),
        "aborted, never completed: {seen:?}"
    );
}

#[tokio::test]
async fn a_completion_answered_200_with_an_error_inside_is_a_failure() {
    let (_dir, path, sha256) = big_file(3 * MIB / 2);
    let server = Scripted::start(vec![
        started(),
        part_taken(1),
        part_taken(2),
        respond(
            200,
            "",
            &error_xml("InvalidPart", "one of the parts was not found"),
        ),
        respond(204, "", ""),
    ]);
    let error = put_big(&server, &path, &sha256, false).await.unwrap_err();
    assert!(error.to_string().contains("InvalidPart"), "{error}");
    let seen = lines(&server.seen());
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen[4].starts_with("DELETE "), "{seen:?}");
}
