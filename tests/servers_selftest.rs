//! The real-server helpers of tests/common/servers.rs work: a fresh PostgreSQL database per
//! call, and an SMTP sink that keeps what lettre sends it.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::servers::{self, SmtpSink, postgres_database};
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn postgres_database_is_fresh_and_usable() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let mut db = PgConnection::connect(&url).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(one, 1);
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(
        version.starts_with("15"),
        "PostgreSQL 15 expected, got {version}"
    );
    let name: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert!(name.starts_with("gh_test_"), "{name}");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(tables, 0, "a fresh database has no tables");

    sqlx::query("CREATE TABLE members (id BIGSERIAL PRIMARY KEY, email TEXT NOT NULL UNIQUE)")
        .execute(&mut db)
        .await
        .unwrap();
    for email in ["ada@example.test", "grace@example.test"] {
        sqlx::query("INSERT INTO members (email) VALUES ($1)")
            .bind(email)
            .execute(&mut db)
            .await
            .unwrap();
    }
    let emails: Vec<String> = sqlx::query_scalar("SELECT email FROM members ORDER BY id")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(emails, ["ada@example.test", "grace@example.test"]);
    let duplicate = sqlx::query("INSERT INTO members (email) VALUES ($1)")
        .bind("ada@example.test")
        .execute(&mut db)
        .await;
    assert!(duplicate.is_err(), "the UNIQUE constraint holds");
    db.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_databases_made_in_parallel_are_distinct() {
    let Some(a) = postgres_database().await else {
        return;
    };
    let (b, c, d) = tokio::join!(
        postgres_database(),
        postgres_database(),
        postgres_database()
    );
    let (b, c, d) = (b.unwrap(), c.unwrap(), d.unwrap());
    let mut names = vec![&a, &b, &c, &d];
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 4, "{a} {b} {c} {d}");
    // What one database holds, another does not see.
    let mut first = PgConnection::connect(&a).await.unwrap();
    sqlx::query("CREATE TABLE only_here (x INT)")
        .execute(&mut first)
        .await
        .unwrap();
    let mut second = PgConnection::connect(&b).await.unwrap();
    let seen: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_here'",
    )
    .fetch_one(&mut second)
    .await
    .unwrap();
    assert_eq!(seen, 0);
}

#[test]
fn database_urls_keep_everything_but_the_database() {
    assert_eq!(
        servers::with_database("postgres://u:p@127.0.0.1:5432/postgres", "x"),
        "postgres://u:p@127.0.0.1:5432/x"
    );
    assert_eq!(
        servers::with_database("postgres://u:p@h/postgres?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        servers::with_database("postgres://h", "x"),
        "postgres://h/x"
    );
    assert_eq!(
        servers::redact("postgres://u:secret@h:1/db"),
        "postgres://u:***@h:1/db"
    );
}

#[tokio::test]
async fn smtp_sink_receives_what_lettre_sends() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    assert!(sink.messages().is_empty());
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(sink.port)
        .build();
    let message = Message::builder()
        .from("Gatehouse <noreply@gatehouse.test>".parse().unwrap())
        .to("Ada <ada@example.test>".parse().unwrap())
        .subject("Your sign-in link")
        .header(ContentType::TEXT_PLAIN)
        .body(String::from(
            "Open https://example.test/login/abc123 to sign in.\n",
        ))
        .unwrap();
    mailer.send(message).await.unwrap();

    let received = sink.wait_for_message(Duration::from_secs(10));
    assert!(
        received.contains("X-Envelope-From: noreply@gatehouse.test"),
        "{received}"
    );
    assert!(
        received.contains("X-Envelope-To: ada@example.test"),
        "{received}"
    );
    assert!(
        received.contains("Subject: Your sign-in link"),
        "{received}"
    );
    assert!(
        received.contains("Open https://example.test/login/abc123 to sign in."),
        "{received}"
    );

    let second = Message::builder()
        .from("noreply@gatehouse.test".parse().unwrap())
        .to("grace@example.test".parse().unwrap())
        .subject("Second")
        .body(String::from("two\n"))
        .unwrap();
    mailer.send(second).await.unwrap();
    let all = sink.wait_for_messages(2, Duration::from_secs(10));
    assert_eq!(all.len(), 2);
    assert!(all[0].contains("Subject: Your sign-in link"));
    assert!(all[1].contains("Subject: Second"), "{}", all[1]);
}
