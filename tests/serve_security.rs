//! End to end: `gatehouse serve` cannot open the deployed site (issue 15). It seals and hands
//! out keys from its own development secret (the site's only with `--site-secret`), listens
//! only on loopback, answers only requests addressed to this machine (no DNS rebinding), and
//! takes "view as" and logins only from its own pages.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::serve::{Launch, Serve, rule_of, served_dir, start_demo};
use common::serve_events::{DevEvent, Events};
use common::serve_http::{client, keys, raw_request};
use common::{SECRET_B64, Site, manifest};
use gatehouse::gate::file::{FileSalt, FilesRoot, open_object};
use gatehouse::gate::{MasterSecret, Rule, derive_key, open};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A gated lesson of the demo site, with sealed files.
const PAGE: &str = "/course/tiers-and-anchors/";
const PICTURE: &str = "course/tiers-and-anchors/tiers.png";
/// "View as" a gold member of ten years: every level gate opens.
const GOLD: &str = "level:gold@3650";
/// How long a refused `--interface` may take to end the process (it is refused before any build).
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(30);

fn site_secret() -> MasterSecret {
    MasterSecret::from_base64url(SECRET_B64).unwrap()
}

/// The rule of [`PAGE`], the epoch serve answers for, and the key it hands a gold preview.
async fn gold_key(serve: &Serve) -> (Rule, u32, String) {
    let browser = client();
    let answer = browser
        .post(serve.at("/_gatehouse/view-as"))
        .json(&json!({ "as": GOLD }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    let text = rule_of(serve.root(), PAGE);
    let answer = keys(&browser, &serve.at("/_gate/keys"), &[&text]).await;
    let rule = Rule::parse(&text).unwrap();
    let key = answer["keys"][rule.gate_id().as_str()]
        .as_str()
        .unwrap_or_else(|| panic!("a gold preview gets no key for {PAGE}: {answer}"))
        .to_owned();
    let epoch = u32::try_from(answer["epoch"].as_u64().unwrap()).unwrap();
    (rule, epoch, key)
}

/// Whether `secret` opens what serve wrote for [`PAGE`]: its envelope and a sealed file.
fn opens_serves_output(serve: &Serve, secret: &MasterSecret, epoch: u32, rule: &Rule) -> bool {
    let envelope = std::fs::read(serve.envelope_of(PAGE)).unwrap();
    let key = derive_key(secret, epoch, rule);
    let page = open(&key, &rule.gate_id(), PAGE, &envelope).is_ok();
    let object = serve.sealed_file_of(PICTURE);
    let hex = object.file_stem().unwrap().to_string_lossy().into_owned();
    let salt: [u8; 16] = gatehouse::gate::from_hex(&hex).unwrap().try_into().unwrap();
    let file_key = FilesRoot::derive(secret).file_key(&FileSalt::from_bytes(salt));
    let file = open_object(&file_key, &hex, &std::fs::read(&object).unwrap()).is_ok();
    assert_eq!(
        page, file,
        "the page and its file are sealed under different secrets"
    );
    page
}

#[tokio::test]
async fn serve_hands_out_development_keys_not_the_sites() {
    let (_site, serve) = start_demo();
    let (rule, epoch, key) = gold_key(&serve).await;
    let dev = serve.dev_secret();
    assert_ne!(
        key,
        derive_key(&site_secret(), epoch, &rule).to_base64url(),
        "serve handed out the site's own key for {rule:?}: it opens the deployed site"
    );
    assert_eq!(key, derive_key(&dev, epoch, &rule).to_base64url());
    assert!(opens_serves_output(&serve, &dev, epoch, &rule));
    assert!(!opens_serves_output(&serve, &site_secret(), epoch, &rule));
}

#[tokio::test]
async fn serve_with_site_secret_hands_out_the_sites_keys() {
    let site = Site::demo();
    let serve = Serve::launch(
        site.root(),
        Launch {
            args: &["--site-secret"],
            ..Launch::default()
        },
    );
    let (rule, epoch, key) = gold_key(&serve).await;
    assert_eq!(key, derive_key(&site_secret(), epoch, &rule).to_base64url());
    assert!(opens_serves_output(&serve, &site_secret(), epoch, &rule));
}

/// A request as written, with `Host: host`, and a JSON body when there is one.
fn request(method: &str, path: &str, host: &str, headers: &[&str], body: &str) -> String {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for header in headers {
        text.push_str(&format!("{header}\r\n"));
    }
    if !body.is_empty() {
        text.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text
}

fn sets_a_cookie(answer: &str) -> bool {
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    head.lines()
        .any(|line| line.to_ascii_lowercase().starts_with("set-cookie:"))
}

#[tokio::test]
async fn a_foreign_host_is_refused_before_view_as() {
    let (site, serve) = start_demo();
    let port = serve.url.rsplit(':').next().unwrap().to_owned();
    let rule = rule_of(site.root(), PAGE);
    let gate = Rule::parse(&rule).unwrap().gate_id().as_str().to_owned();
    let view_as = json!({ "as": GOLD }).to_string();
    let ask_keys = json!({ "rules": [rule] }).to_string();
    let link = serve.demo_members()[0].link.clone();
    let login = link.trim_start_matches(&serve.url).to_owned();
    let preview = format!("Cookie: gh_view_as={GOLD}");

    // A page of evil.example whose name now points at 127.0.0.1 sends its own name.
    for host in [
        "evil.example:1111".to_owned(),
        format!("evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
    ] {
        for (method, path, headers, body) in [
            ("GET", "/", &[][..], ""),
            ("GET", "/course/", &[], ""),
            ("POST", "/_gatehouse/view-as", &[], view_as.as_str()),
            ("GET", "/_gatehouse/options", &[], ""),
            ("GET", login.as_str(), &[], ""),
            (
                "POST",
                "/_gate/keys",
                &[preview.as_str()],
                ask_keys.as_str(),
            ),
        ] {
            let sent = request(method, path, &host, headers, body);
            let (status, answer) = raw_request(&serve, &sent).await;
            assert_eq!(status, 403, "{method} {path} for Host {host}:\n{answer}");
            assert!(
                !sets_a_cookie(&answer),
                "{method} {path} for Host {host}:\n{answer}"
            );
            assert!(!answer.contains(&gate), "{path} for Host {host}: {answer}");
        }
    }

    // This machine's names, and site.toml's own host, are served.
    let epoch = manifest(&served_dir(site.root())).epoch;
    let key = derive_key(&serve.dev_secret(), epoch, &Rule::parse(&rule).unwrap()).to_base64url();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "academy.example.com".to_owned(),
    ] {
        let (status, answer) = raw_request(&serve, &request("GET", "/", &host, &[], "")).await;
        assert_eq!(status, 200, "GET / for Host {host}:\n{answer}");
        let sent = request("POST", "/_gatehouse/view-as", &host, &[], &view_as);
        let (status, answer) = raw_request(&serve, &sent).await;
        assert_eq!(status, 204, "view-as for Host {host}:\n{answer}");
        assert!(sets_a_cookie(&answer), "view-as for Host {host}:\n{answer}");
        let sent = request("POST", "/_gate/keys", &host, &[&preview], &ask_keys);
        let (status, answer) = raw_request(&serve, &sent).await;
        assert_eq!(status, 200, "keys for Host {host}:\n{answer}");
        assert!(answer.contains(&key), "keys for Host {host}:\n{answer}");
    }
}

#[tokio::test]
async fn serve_refuses_to_listen_beyond_loopback() {
    let site = Site::demo();
    for interface in ["0.0.0.0", "::", "192.0.2.1"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .arg("--root")
            .arg(site.root())
            .args(["serve", "--port", "0", "--interface", interface])
            .env("GATEHOUSE_SECRET", SECRET_B64)
            .env_remove("GATEHOUSE_ADMIN_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + REFUSAL_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`serve --interface {interface}` was still running after {REFUSAL_TIMEOUT:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "--interface {interface}: {stderr}");
        assert!(
            stderr.contains("loopback"),
            "--interface {interface}: {stderr}"
        );
    }
    assert!(
        !site.path(".gatehouse/serve").exists(),
        "serve built the site before refusing the address"
    );

    // The library refuses a listener beyond loopback too, whoever made it.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let options = gatehouse::serve::ServeOptions {
        root: site.root().to_path_buf(),
        drafts: false,
        admin_token: None,
        site_secret: false,
    };
    let result = gatehouse::serve::run(options, listener, |_| {}, std::future::pending()).await;
    let error = format!("{:#}", result.expect_err("serve::run took 0.0.0.0"));
    assert!(error.contains("loopback"), "{error}");
}

#[tokio::test]
async fn the_production_secret_is_never_created_or_read_by_serve() {
    // No secret anywhere: serve does not make one.
    let site = Site::demo();
    let secret_file = site.path(".gatehouse/secret");
    std::fs::remove_file(&secret_file).unwrap();
    let serve = Serve::launch(
        site.root(),
        Launch {
            site_secret_env: None,
            ..Launch::default()
        },
    );
    let (rule, epoch, key) = gold_key(&serve).await;
    assert_eq!(
        key,
        derive_key(&serve.dev_secret(), epoch, &rule).to_base64url()
    );
    let mut events = Events::connect(&serve).await;
    serve.append_to_content("course/tiers-and-anchors/index.md", "\n\nOne more line.\n");
    let event = events.next(&serve, "a gated page was saved").await;
    assert!(matches!(event, DevEvent::Reload { .. }), "{event:?}");
    assert!(
        !secret_file.exists(),
        "serve created the site's master secret {}",
        secret_file.display()
    );
    drop(serve);

    // A secret serve cannot read, in the environment and in the file: serve never looks.
    let site = Site::demo();
    std::fs::write(site.path(".gatehouse/secret"), "not a secret\n").unwrap();
    let serve = Serve::launch(
        site.root(),
        Launch {
            site_secret_env: Some("not a secret either"),
            ..Launch::default()
        },
    );
    let (rule, epoch, key) = gold_key(&serve).await;
    assert_eq!(
        key,
        derive_key(&serve.dev_secret(), epoch, &rule).to_base64url()
    );
    assert_eq!(
        std::fs::read_to_string(site.path(".gatehouse/secret")).unwrap(),
        "not a secret\n"
    );
}

/// A POST as a page of `origin` sends it, with `Sec-Fetch-Site` as the browser would.
async fn post_from(
    serve: &Serve,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (StatusCode, bool, String) {
    let mut request = reqwest::Client::new().post(serve.at(path)).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    let cookie = answer.headers().contains_key("set-cookie");
    (status, cookie, answer.text().await.unwrap())
}

#[tokio::test]
async fn a_cross_site_page_cannot_use_view_as_or_log_in() {
    let (_site, serve) = start_demo();
    let gold = json!({ "as": GOLD });
    let login = json!({ "email": "gold@demo.test" });
    let password = json!({ "email": "gold@demo.test", "password": "not the password" });
    let cross_site: [&[(&str, &str)]; 4] = [
        &[("origin", "http://evil.example")],
        &[
            ("origin", "http://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
    ];
    for headers in cross_site {
        for (path, body) in [
            ("/_gatehouse/view-as", &gold),
            ("/_gate/login", &login),
            ("/_gate/login/password", &password),
        ] {
            let (status, cookie, answer) = post_from(&serve, path, headers, body.clone()).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{path} {headers:?}: {answer}"
            );
            assert!(!cookie, "{path} {headers:?} set a cookie");
            let error: Value = serde_json::from_str(&answer).unwrap();
            assert_eq!(error["error"], "cross_site", "{path} {headers:?}: {answer}");
        }
    }

    // Serve's own pages may.
    let own: [&[(&str, &str)]; 2] = [
        &[
            ("origin", serve.url.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        &[("sec-fetch-site", "same-origin")],
    ];
    for headers in own {
        let (status, cookie, answer) =
            post_from(&serve, "/_gatehouse/view-as", headers, gold.clone()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{headers:?}: {answer}");
        assert!(cookie, "{headers:?}: no preview cookie");
        let (status, _, answer) = post_from(&serve, "/_gate/login", headers, login.clone()).await;
        assert!(status.is_success(), "{headers:?}: {status} {answer}");
    }
}

#[tokio::test]
async fn serve_is_its_own_api_when_site_toml_names_a_production_edge() {
    // Pages built by serve must ask serve for keys: a production edge's keys cannot open what
    // serve sealed, and its "View as" would be ignored.
    let site = Site::demo();
    site.edit(
        "site.toml",
        "edge_url = \"/_gate\"",
        "edge_url = \"https://edge.academy.example.com\"",
    );
    let serve = Serve::start(site.root());
    let page = std::fs::read_to_string(
        served_dir(serve.root()).join("course/tiers-and-anchors/index.html"),
    )
    .unwrap();
    assert!(
        page.contains("data-edge=\"/_gate\"") && !page.contains("edge.academy.example.com"),
        "serve's pages call the production edge"
    );
    let (rule, epoch, key) = gold_key(&serve).await;
    assert_eq!(
        key,
        derive_key(&serve.dev_secret(), epoch, &rule).to_base64url()
    );
}
