//! Live reload: the rebuild thread announces each result, and every open page hears it over
//! server-sent events (`/_gatehouse/events`). A page that connects while the build is broken
//! hears the error at once.
//!
//! The dev script connects when the browser is first idle, not as soon as the page is there, so
//! a rebuild can end before it listens. Each page therefore carries the mark of the last
//! announcement before it was read (`data-build` on the dev script: this run's id and a count)
//! and connects with `?since=<mark>`; the stream then opens with what that page missed: the
//! pages rebuilt since (one `reload`), or every page when the mark is from another run of
//! `serve`, malformed, or older than the last `KEPT` reloads, which are kept.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::broadcast;

/// What open pages are told.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DevEvent {
    /// Reload: `paths` names the pages that changed; empty means every page.
    Reload { paths: Vec<String> },
    /// The last build failed; the previous one is still served.
    Error { message: String },
}

/// Reloads kept for pages that connect late; a page further behind reloads whole.
const KEPT: usize = 64;

#[derive(Clone)]
pub struct Reloader {
    sender: broadcast::Sender<DevEvent>,
    log: Arc<Mutex<Log>>,
    /// Tells this run's marks from another's: counts start again at 0 with every run.
    run: Arc<str>,
}

#[derive(Default)]
struct Log {
    /// Announcements so far.
    count: u64,
    /// The error of the last build, if it failed, for pages that connect afterwards.
    failing: Option<String>,
    /// The last `KEPT` reloads' paths, by their count.
    recent: VecDeque<(u64, Arc<[String]>)>,
    /// The count of the last reload no longer kept (0: none).
    forgotten: u64,
}

impl Default for Reloader {
    fn default() -> Self {
        Reloader {
            sender: broadcast::channel(64).0,
            log: Arc::default(),
            run: run_id().into(),
        }
    }
}

impl Reloader {
    pub fn announce(&self, event: DevEvent) {
        // Counted, kept and sent under one lock: a stream that subscribes while it is held
        // sees either all of it (through its opening) or none (live), never half.
        let mut log = self.lock();
        log.count += 1;
        let count = log.count;
        match &event {
            DevEvent::Error { message } => log.failing = Some(message.clone()),
            DevEvent::Reload { paths } => {
                log.failing = None;
                log.recent.push_back((count, paths.as_slice().into()));
                if log.recent.len() > KEPT
                    && let Some((gone, _)) = log.recent.pop_front()
                {
                    log.forgotten = gone;
                }
            }
        }
        // No open page is not an error.
        let _ = self.sender.send(event);
    }

    /// The mark to serve a page with. Taken before the page is read: a build that lands in
    /// between then costs one reload too many, never one too few.
    pub fn mark(&self) -> String {
        format!("{}.{}", self.run, self.lock().count)
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        // A panic while holding the lock leaves a whole log: still usable.
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What a page served at `since` missed: every page when the mark is unknown (another
    /// run, malformed, ahead of this run, or older than the reloads kept), the paths of the
    /// reloads since, or nothing. Only handles are taken here, under the lock.
    fn missed(&self, log: &Log, since: &str) -> Missed {
        let count = since
            .split_once('.')
            .filter(|(run, _)| *run == &*self.run)
            .and_then(|(_, count)| count.parse::<u64>().ok())
            .filter(|count| *count <= log.count);
        // The page has seen announcement `count` and those before; it missed a forgotten one.
        match count {
            Some(count) if count >= log.forgotten => Missed::Paths(
                log.recent
                    .iter()
                    .filter(|(n, _)| *n > count)
                    .map(|(_, paths)| Arc::clone(paths))
                    .collect(),
            ),
            _ => Missed::Everything,
        }
    }

    /// The events a newly connected page should hear: what it missed since `since` (its
    /// mark), the standing error, then every event.
    fn stream(&self, since: Option<&str>) -> impl Stream<Item = DevEvent> + use<> {
        let log = self.lock();
        let receiver = self.sender.subscribe();
        let missed = since.map(|since| self.missed(&log, since));
        let failing = log.failing.clone();
        drop(log);
        let mut first: Vec<DevEvent> = missed.and_then(Missed::into_event).into_iter().collect();
        first.extend(failing.map(|message| DevEvent::Error { message }));
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

/// What a late page missed, as taken under the lock.
enum Missed {
    Everything,
    /// The paths of each reload since its mark (an empty list: every page).
    Paths(Vec<Arc<[String]>>),
}

impl Missed {
    /// One reload for all of it, or nothing.
    fn into_event(self) -> Option<DevEvent> {
        let every_page = Some(DevEvent::Reload { paths: Vec::new() });
        let Missed::Paths(reloads) = self else {
            return every_page;
        };
        if reloads.iter().any(|paths| paths.is_empty()) {
            return every_page;
        }
        let mut paths: Vec<String> = reloads.iter().flat_map(|p| p.iter().cloned()).collect();
        paths.sort();
        paths.dedup();
        (!paths.is_empty()).then_some(DevEvent::Reload { paths })
    }
}

/// Eight hex digits, different for every run of `serve` (random, else the clock's).
fn run_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 4];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        bytes = nanos.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `/_gatehouse/events`: one server-sent event named `gatehouse` per announcement.
pub fn events(
    reloader: &Reloader,
    since: Option<&str>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    use futures_util::StreamExt;
    let stream = reloader.stream(since).map(|event| {
        let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".to_owned());
        Ok(Event::default().event("gatehouse").data(data))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn reload(paths: &[&str]) -> DevEvent {
        DevEvent::Reload {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    async fn first_event(reloader: &Reloader, since: Option<&str>) -> Option<DevEvent> {
        let stream = reloader.stream(since);
        futures_util::pin_mut!(stream);
        tokio::time::timeout(Duration::from_millis(50), stream.next())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn a_page_current_at_connection_hears_nothing_first() {
        let reloader = Reloader::default();
        reloader.announce(reload(&["/a/"]));
        let mark = reloader.mark();
        assert_eq!(first_event(&reloader, Some(&mark)).await, None);
    }

    #[tokio::test]
    async fn a_page_behind_hears_the_pages_rebuilt_since_its_mark_once_each() {
        let reloader = Reloader::default();
        let mark = reloader.mark();
        reloader.announce(reload(&["/b/", "/a/"]));
        reloader.announce(DevEvent::Error {
            message: "broken".into(),
        });
        reloader.announce(reload(&["/a/"]));
        assert_eq!(
            first_event(&reloader, Some(&mark)).await,
            Some(reload(&["/a/", "/b/"]))
        );
    }

    #[tokio::test]
    async fn a_whole_site_rebuild_since_the_mark_reloads_every_page() {
        let reloader = Reloader::default();
        let mark = reloader.mark();
        reloader.announce(reload(&["/a/"]));
        reloader.announce(reload(&[]));
        assert_eq!(first_event(&reloader, Some(&mark)).await, Some(reload(&[])));
    }

    #[tokio::test]
    async fn a_mark_of_another_run_a_future_count_or_garbage_reloads_every_page() {
        let reloader = Reloader::default();
        reloader.announce(reload(&["/a/"]));
        for mark in ["00000000.0", "zz", "", &format!("{}.99", reloader.run)] {
            assert_eq!(
                first_event(&reloader, Some(mark)).await,
                Some(reload(&[])),
                "{mark:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_mark_older_than_what_is_kept_reloads_every_page() {
        let reloader = Reloader::default();
        let mark = reloader.mark();
        for _ in 0..=KEPT {
            reloader.announce(reload(&["/a/"]));
        }
        assert_eq!(first_event(&reloader, Some(&mark)).await, Some(reload(&[])));
        // One step inside what is kept: only what changed.
        let reloader = Reloader::default();
        let mark = reloader.mark();
        for _ in 0..KEPT {
            reloader.announce(reload(&["/a/"]));
        }
        assert_eq!(
            first_event(&reloader, Some(&mark)).await,
            Some(reload(&["/a/"]))
        );
    }

    #[tokio::test]
    async fn a_page_served_while_the_build_is_broken_hears_only_the_error() {
        let reloader = Reloader::default();
        reloader.announce(DevEvent::Error {
            message: "broken".into(),
        });
        let mark = reloader.mark();
        assert_eq!(
            first_event(&reloader, Some(&mark)).await,
            Some(DevEvent::Error {
                message: "broken".into()
            })
        );
    }
}
