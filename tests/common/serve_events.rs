//! The live-reload events `gatehouse serve` announces on `/_gatehouse/events` (server-sent
//! events), read the way the dev script reads them.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::serve::{EVENT_TIMEOUT, Serve};

/// An event on `/_gatehouse/events`, as the dev script reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DevEvent {
    Reload { paths: Vec<String> },
    Error { message: String },
}

/// The start and end of the dev script tag `serve` puts into every HTML page it sends, around
/// the page's mark (this run's id and the count of announcements before the page was read).
const DEV_SCRIPT_START: &str = r#"<script src="/_gatehouse/dev.js" data-build=""#;
const DEV_SCRIPT_END: &str = r#"" defer></script>"#;

/// The whole dev script tags in `html`, each with its mark: eight hex digits, a dot, a count.
pub fn dev_scripts(html: &str) -> Vec<(String, String)> {
    html.match_indices(DEV_SCRIPT_START)
        .filter_map(|(at, _)| {
            let rest = &html[at + DEV_SCRIPT_START.len()..];
            let mark = &rest[..rest.find(DEV_SCRIPT_END)?];
            let (run, count) = mark.split_once('.')?;
            let well_formed = run.len() == 8
                && run.bytes().all(|b| b.is_ascii_hexdigit())
                && count.parse::<u64>().is_ok();
            well_formed.then(|| {
                let tag = format!("{DEV_SCRIPT_START}{mark}{DEV_SCRIPT_END}");
                (tag, mark.to_owned())
            })
        })
        .collect()
}

/// The mark of the one dev script in `html`.
pub fn served_mark(html: &str) -> String {
    let mut found = dev_scripts(html);
    assert_eq!(found.len(), 1, "one dev script: {html}");
    found.remove(0).1
}

/// An open connection to `/_gatehouse/events`.
pub struct Events {
    response: reqwest::Response,
    /// Received text not yet parsed into events.
    pending: String,
}

impl Events {
    /// Connects; once this returns, the server has subscribed this page to announcements.
    pub async fn connect(serve: &Serve) -> Events {
        Events::open(serve, "/_gatehouse/events").await
    }

    /// Connects as the dev script of a page served with `mark` (its `data-build`) does.
    pub async fn connect_since(serve: &Serve, mark: &str) -> Events {
        Events::open(serve, &format!("/_gatehouse/events?since={mark}")).await
    }

    async fn open(serve: &Serve, path: &str) -> Events {
        let response = reqwest::get(serve.at(path))
            .await
            .expect("the event stream answers");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let kind = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        assert_eq!(kind.as_deref(), Some("text/event-stream"));
        Events {
            response,
            pending: String::new(),
        }
    }

    /// The next `gatehouse` event within `within`, or `None`.
    pub async fn next_within(&mut self, within: Duration) -> Option<DevEvent> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(event) = self.parse_one() {
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.pending.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) => panic!("the event stream ended"),
                Ok(Err(error)) => panic!("the event stream failed: {error}"),
                Err(_) => return None,
            }
        }
    }

    /// The next `gatehouse` event; panics naming `what` was awaited if none comes in time.
    pub async fn next(&mut self, serve: &Serve, what: &str) -> DevEvent {
        match self.next_within(EVENT_TIMEOUT).await {
            Some(event) => event,
            None => panic!(
                "no event within {EVENT_TIMEOUT:?} after {what}; serve's log:\n{}",
                serve.log()
            ),
        }
    }

    /// Takes one complete `gatehouse` event off the received text, skipping keep-alives.
    fn parse_one(&mut self) -> Option<DevEvent> {
        loop {
            let normalized = self.pending.replace("\r\n", "\n");
            let end = normalized.find("\n\n")?;
            let frame = normalized[..end].to_owned();
            self.pending = normalized[end + 2..].to_owned();
            let mut name = "message";
            let mut data = Vec::new();
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if name == "gatehouse" {
                let data = data.join("\n");
                return Some(
                    serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("bad event data {data:?}: {e}")),
                );
            }
        }
    }
}
