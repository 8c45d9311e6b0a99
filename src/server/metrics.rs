//! Counters for `/metrics`, in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::entitle::Reason;

#[derive(Debug, Default)]
pub struct Metrics {
    pub requests: AtomicU64,
    pub server_errors: AtomicU64,
    pub keys_issued: AtomicU64,
    pub locked: [AtomicU64; 7],
    pub login_requests: AtomicU64,
    pub login_requests_dropped: AtomicU64,
    pub login_errors: AtomicU64,
    pub login_links_sent: AtomicU64,
    pub login_links_withheld: AtomicU64,
    pub logins: AtomicU64,
    pub login_failures: AtomicU64,
    pub rate_limited: AtomicU64,
    pub mail_failures: AtomicU64,
    pub webhooks_received: AtomicU64,
    pub webhooks_refused: AtomicU64,
    pub webhooks_duplicate: AtomicU64,
    pub notices_delivered: AtomicU64,
    pub notice_failures: AtomicU64,
}

const REASONS: [&str; 7] = [
    "drip",
    "overdue",
    "cancelled",
    "expired",
    "level",
    "bundle",
    "login",
];

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn locked_for(&self, reason: Reason) {
        let index = REASONS
            .iter()
            .position(|r| *r == reason.code())
            .unwrap_or(0);
        Metrics::add(&self.locked[index], 1);
    }

    /// The counters, then the gauges given as (name, help, value).
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        let mut counter = |name: &str, help: &str, value: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        };
        counter(
            "gatehouse_requests_total",
            "HTTP requests answered.",
            &self.requests,
        );
        counter(
            "gatehouse_server_errors_total",
            "Requests that failed with a 5xx.",
            &self.server_errors,
        );
        counter(
            "gatehouse_keys_issued_total",
            "Gate keys handed to members.",
            &self.keys_issued,
        );
        counter(
            "gatehouse_login_requests_total",
            "Magic links asked for (members or not).",
            &self.login_requests,
        );
        counter(
            "gatehouse_login_requests_dropped_total",
            "Magic link requests whose background work was dropped: too many were waiting.",
            &self.login_requests_dropped,
        );
        counter(
            "gatehouse_login_errors_total",
            "Magic link requests whose background work failed (see the log).",
            &self.login_errors,
        );
        counter(
            "gatehouse_login_links_sent_total",
            "Magic links sent.",
            &self.login_links_sent,
        );
        counter(
            "gatehouse_login_links_withheld_total",
            "Magic links not sent: the member's link budget was spent.",
            &self.login_links_withheld,
        );
        counter("gatehouse_logins_total", "Sessions started.", &self.logins);
        counter(
            "gatehouse_login_failures_total",
            "Refused logins (bad password or link).",
            &self.login_failures,
        );
        counter(
            "gatehouse_rate_limited_total",
            "Requests refused by a rate limit.",
            &self.rate_limited,
        );
        counter(
            "gatehouse_mail_failures_total",
            "Emails that could not be sent.",
            &self.mail_failures,
        );
        counter(
            "gatehouse_webhooks_received_total",
            "Stripe events verified and stored.",
            &self.webhooks_received,
        );
        counter(
            "gatehouse_webhooks_refused_total",
            "Stripe webhook requests refused (bad or missing signature, not an event).",
            &self.webhooks_refused,
        );
        counter(
            "gatehouse_webhooks_duplicate_total",
            "Stripe events delivered again after they were stored.",
            &self.webhooks_duplicate,
        );
        counter(
            "gatehouse_notices_delivered_total",
            "Push notifications and welcome emails delivered.",
            &self.notices_delivered,
        );
        counter(
            "gatehouse_notice_failures_total",
            "Failed delivery attempts of push notifications and welcome emails.",
            &self.notice_failures,
        );
        let _ = writeln!(
            out,
            "# HELP gatehouse_gates_locked_total Gates answered locked, by reason.\n# TYPE gatehouse_gates_locked_total counter"
        );
        for (reason, value) in REASONS.iter().zip(&self.locked) {
            let _ = writeln!(
                out,
                "gatehouse_gates_locked_total{{reason=\"{reason}\"}} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}
