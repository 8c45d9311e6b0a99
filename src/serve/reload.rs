//! Live reload: the rebuild thread announces each result, and every open page hears it over
//! server-sent events (`/_gatehouse/events`). A page that connects while the build is broken
//! hears the error at once. Each announcement counts as a build; a page is served with the
//! count it was read at (`data-build` on the dev script) and the stream opens with the count
//! now, so a page that connects after a rebuild it never heard of reloads.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::broadcast;

/// What open pages are told.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DevEvent {
    /// The first event of every stream: how many builds were announced so far.
    Hello { build: u64 },
    /// Reload: `paths` names the pages that changed; empty means every page.
    Reload { paths: Vec<String> },
    /// The last build failed; the previous one is still served.
    Error { message: String },
}

#[derive(Clone)]
pub struct Reloader {
    sender: broadcast::Sender<DevEvent>,
    /// The error of the last build, if it failed, for pages that connect afterwards.
    failing: Arc<Mutex<Option<String>>>,
    /// Announcements so far.
    builds: Arc<AtomicU64>,
}

impl Default for Reloader {
    fn default() -> Self {
        Reloader {
            sender: broadcast::channel(64).0,
            failing: Arc::new(Mutex::new(None)),
            builds: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Reloader {
    pub fn announce(&self, event: DevEvent) {
        let mut failing = match self.failing.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *failing = match &event {
            DevEvent::Error { message } => Some(message.clone()),
            DevEvent::Reload { .. } | DevEvent::Hello { .. } => None,
        };
        // Counted before anyone hears it: a page read after the new build went live carries
        // at least this count, so it never reloads for a build it already shows.
        self.builds.fetch_add(1, Ordering::SeqCst);
        // No open page is not an error.
        let _ = self.sender.send(event);
    }

    /// The count to serve a page with. Read it before reading the page: a build that lands
    /// in between then costs one reload too many, never one too few.
    pub fn build(&self) -> u64 {
        self.builds.load(Ordering::SeqCst)
    }

    fn current_error(&self) -> Option<String> {
        match self.failing.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The events a newly connected page should hear: the build count, the standing error,
    /// then every event.
    fn stream(&self) -> impl Stream<Item = DevEvent> + use<> {
        // Subscribed first: an announcement after the count is read is then heard as well.
        let receiver = self.sender.subscribe();
        let mut first = vec![DevEvent::Hello {
            build: self.build(),
        }];
        first.extend(
            self.current_error()
                .map(|message| DevEvent::Error { message }),
        );
        first.reverse();
        futures_util::stream::unfold((first, receiver), |(mut first, mut receiver)| async move {
            if let Some(event) = first.pop() {
                return Some((event, (first, receiver)));
            }
            match receiver.recv().await {
                Ok(event) => Some((event, (first, receiver))),
                // A page too slow to keep up just reloads everything.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Some((DevEvent::Reload { paths: Vec::new() }, (first, receiver)))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
    }
}

/// `/_gatehouse/events`: one server-sent event named `gatehouse` per announcement.
pub fn events(reloader: &Reloader) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    use futures_util::StreamExt;
    let stream = reloader.stream().map(|event| {
        let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".to_owned());
        Ok(Event::default().event("gatehouse").data(data))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
