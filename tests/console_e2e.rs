//! End to end: the operator console on real `gatehouse edge` processes (issue 17). The login
//! link goes out through a real SMTP server, and two replicas on one PostgreSQL database share
//! operators' sessions, as they share members'.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::console::{OPERATOR, csrf};
use common::edge_process::Edge;
use common::servers::{SmtpSink, postgres_database};
use reqwest::StatusCode;

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The console link in a mail (quoted-printable may fold it).
fn console_link(mail: &str) -> String {
    let unfolded = mail
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = unfolded.find("http").expect("a link");
    unfolded[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_operator_logs_in_by_smtp_and_replicas_on_postgres_share_the_session() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let Some(db) = postgres_database().await else {
        return;
    };
    let site = common::console::site();
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let env = [("GATEHOUSE_SMTP_URL", smtp.as_str())];
    let first = Edge::start(site.root(), &db, &env);
    let second = Edge::start(site.root(), &db, &env);
    let operator = browser();

    let login = operator.get(first.url("/admin/")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login.text().await.unwrap().contains("Send me a login link"));
    let asked = operator
        .post(first.url("/admin/login"))
        .form(&[("email", OPERATOR)])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
    let mail = sink.wait_for_message(Duration::from_secs(60));
    assert!(
        mail.contains(&format!("X-Envelope-To: {OPERATOR}")),
        "{mail}"
    );
    assert!(mail.contains("Subject: Your console login link"), "{mail}");
    let link = console_link(&mail);
    assert!(link.contains("/_gate/admin/auth?token="), "{link}");
    let token = link.split("token=").nth(1).unwrap();

    // The link, asked for from one replica, is used on the other.
    let page = operator
        .get(second.url(&format!("/admin/auth?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let used = operator
        .post(second.url("/admin/auth"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), StatusCode::SEE_OTHER);
    let home = operator.get(first.url("/admin/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.unwrap();
    assert!(
        html.contains(OPERATOR),
        "the first replica knows the session"
    );
    let audit = operator
        .get(second.url("/admin/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        audit.contains(">login<") && audit.contains(OPERATOR),
        "{audit}"
    );

    // Logging out on one replica ends the session on both.
    let out = operator
        .post(second.url("/admin/logout"))
        .form(&[("csrf", csrf(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = operator
        .get(first.url("/admin/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        after.status(),
        StatusCode::SEE_OTHER,
        "logged out everywhere"
    );
    for edge in [first, second] {
        let log = edge.log_text();
        assert!(!log.contains(token), "no link token in the log");
        assert!(!log.contains(OPERATOR), "no operator email in the log");
        edge.stop();
    }
}
