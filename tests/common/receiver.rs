//! A push-notification receiver on a real socket: it records every POST it accepts, and can be
//! stopped and started again on the same port, as an endpoint that is down for a while (its
//! port stays bound while it is down, so connections are refused and no other test can take
//! it). A receiver started with a `Rule` may answer some notices slowly or refuse them, and
//! keeps a timeline of every arrival and answer, to tell what was sent before what was answered.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use tokio::net::{TcpListener, TcpSocket};

/// One POST as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

/// How the receiver answers one notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    /// Accept, after this long.
    AcceptAfter(Duration),
    /// Answer 503.
    Refuse,
}

/// Decides the answer to each notice from its JSON body.
pub type Rule = Arc<dyn Fn(&Value) -> Answer + Send + Sync>;

#[derive(Clone)]
struct Shared {
    got: Log,
    rule: Rule,
    timeline: Arc<Mutex<Vec<String>>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub got: Log,
    rule: Rule,
    timeline: Arc<Mutex<Vec<String>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// `member.joined ann@example.com`: what the timeline calls a notice.
fn label(body: &Value) -> String {
    format!(
        "{} {}",
        body["type"].as_str().unwrap_or("?"),
        body["member"]["email"].as_str().unwrap_or("?")
    )
}

async fn record(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let body = String::from_utf8_lossy(&body).into_owned();
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let name = label(&json);
    let note = |what: &str| {
        shared
            .timeline
            .lock()
            .unwrap()
            .push(format!("{what} {name}"))
    };
    note("arrived");
    let answer = (shared.rule)(&json);
    if let Answer::AcceptAfter(wait) = answer {
        tokio::time::sleep(wait).await;
    }
    if answer == Answer::Refuse {
        note("refused");
        return (StatusCode::SERVICE_UNAVAILABLE, "not now");
    }
    // Recorded before the answer leaves, so whatever arrives after the sender read it is later
    // in the timeline.
    note("accepted");
    shared.got.lock().unwrap().push(Received { headers, body });
    (StatusCode::OK, "ok")
}

/// A receiver that is down: its port bound but not listening, so a sender is refused.
pub struct Stopped {
    socket: TcpSocket,
    got: Log,
    rule: Rule,
}

impl Stopped {
    /// Listens again on the same port, with the same log and rule.
    pub async fn start(self) -> Receiver {
        let addr = self.socket.local_addr().unwrap();
        let listener = self.socket.listen(1024).unwrap();
        Receiver::serve(listener, addr, self.got, self.rule)
    }
}

/// A socket on `addr` that others can share while it does not listen: SO_REUSEPORT lets a
/// stopping receiver's port be held before its listener closes.
fn socket(addr: SocketAddr) -> TcpSocket {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.set_reuseport(true).unwrap();
    socket.bind(addr).unwrap();
    socket
}

impl Receiver {
    /// Listens on a free loopback port, accepting everything.
    pub async fn start() -> Receiver {
        Receiver::start_with(Arc::new(|_| Answer::Accept)).await
    }

    /// Listens on a free loopback port, answering each notice as `rule` says.
    pub async fn start_with(rule: Rule) -> Receiver {
        let socket = socket("127.0.0.1:0".parse().unwrap());
        let addr = socket.local_addr().unwrap();
        let listener = socket.listen(1024).unwrap();
        Receiver::serve(listener, addr, Log::default(), rule)
    }

    fn serve(listener: TcpListener, addr: SocketAddr, got: Log, rule: Rule) -> Receiver {
        let timeline = Arc::new(Mutex::new(Vec::new()));
        let shared = Shared {
            got: got.clone(),
            rule: rule.clone(),
            timeline: timeline.clone(),
        };
        let app = Router::new()
            .route("/hook", post(record))
            .with_state(shared);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Receiver {
            addr,
            got,
            rule,
            timeline,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Stops listening; the port stays held, refusing connections, until `Stopped::start`.
    pub async fn stop(mut self) -> Stopped {
        let held = socket(self.addr);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        Stopped {
            socket: held,
            got: self.got.clone(),
            rule: self.rule.clone(),
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Every arrival and answer so far, in order: `arrived|accepted|refused <type> <email>`.
    pub fn timeline(&self) -> Vec<String> {
        self.timeline.lock().unwrap().clone()
    }

    /// Waits until `count` POSTs have been accepted.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} notification(s) received, expected {count}: {:?}",
                got.len(),
                got.iter().map(|r| r.body.clone()).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
