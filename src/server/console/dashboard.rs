//! The dashboard, the console's home page: members per level and bundle, joins, cancels,
//! overdue and recoveries per week over the last 12 weeks, MRR and ARR from product prices,
//! and churn over the last 30 days. Each number comes from one aggregate query
//! (store::console_stats says what each counts); docs/payments.md says it for operators.

mod chart;
mod revenue;

use axum::response::Response;
use futures_util::future::try_join_all;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;

use super::{ConsoleError, Operator, render};
use crate::config::{Billing, Grant, SiteConfig};
use crate::server::AppState;
use crate::store::{
    RightCount, RightKind, Store, StoreError, WEEK_ORIGIN, WEEK_SECONDS, WeekCount,
};

/// Weeks the charts show, this one included.
const WEEKS: i64 = 12;
/// Churn's window.
const CHURN_DAYS: i64 = 30;
/// Every status a right can have, in the order the tables show them.
const STATUSES: [&str; 6] = [
    "active",
    "pending-cancel",
    "overdue",
    "cancelled",
    "expired",
    "revoked",
];
/// The four weekly series, with their charts' titles.
const SERIES: [(&str, &str); 4] = [
    ("joins", "Joins per week"),
    ("cancels", "Cancellations per week"),
    ("overdue", "Members gone overdue per week"),
    ("recoveries", "Recoveries per week"),
];

/// How long the dashboard's figures are reused. They take tens of milliseconds of aggregates
/// at 100,000 members; an operator reloading, or several operators at once, need not pay it
/// again within seconds. Any change made through this edge (an operator's action, the admin
/// API) drops them at once.
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(10);

pub async fn page(state: &AppState, operator: &Operator) -> Result<Response, ConsoleError> {
    let (as_of, numbers) = match state.dashboard.get(FRESH_FOR) {
        Some(cached) => cached,
        None => {
            let now = Timestamp::now().as_second();
            let numbers = serde_json::to_value(numbers(&state.store, &state.config, now).await?)
                .map_err(|e| ConsoleError::Internal(format!("dashboard figures: {e}")))?;
            state.dashboard.put(now, numbers.clone());
            (now, numbers)
        }
    };
    render(
        state,
        Some(operator),
        "admin/dashboard.html",
        &json!({ "section": "dashboard", "dashboard": numbers, "as_of": as_of }),
    )
}

/// The dashboard's figures as last computed, for `FRESH_FOR`.
#[derive(Debug, Default)]
pub struct Figures(std::sync::Mutex<Option<(std::time::Instant, i64, serde_json::Value)>>);

impl Figures {
    fn get(&self, fresh_for: std::time::Duration) -> Option<(i64, serde_json::Value)> {
        let guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*guard {
            Some((made, as_of, value)) if made.elapsed() < fresh_for => {
                Some((*as_of, value.clone()))
            }
            _ => None,
        }
    }

    fn put(&self, as_of: i64, value: serde_json::Value) {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = Some((std::time::Instant::now(), as_of, value));
    }

    /// Forgets the figures: a member changed.
    pub fn clear(&self) {
        let mut guard = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard = None;
    }
}

/// One level's or bundle's row: how many members hold it with each status.
#[derive(Debug, Serialize)]
struct RightRow {
    id: String,
    name: String,
    /// Active or pending-cancel: the members it opens gates for.
    with_access: i64,
    /// One count per entry of `STATUSES`, in that order.
    counts: Vec<StatusCount>,
}

#[derive(Debug, Serialize)]
struct StatusCount {
    status: &'static str,
    members: i64,
}

#[derive(Debug, Serialize)]
struct Churn {
    lost: i64,
    /// Members who held access at the window's start.
    held: i64,
    /// "2.5%", or None when nobody held access then.
    rate: Option<String>,
}

#[derive(Debug, Serialize)]
struct Numbers {
    members: i64,
    holding: i64,
    statuses: [&'static str; 6],
    levels: Vec<RightRow>,
    bundles: Vec<RightRow>,
    charts: Vec<chart::Chart>,
    revenue: revenue::RevenueReport,
    churn: Churn,
    churn_days: i64,
}

async fn numbers(store: &Store, config: &SiteConfig, now: i64) -> Result<Numbers, StoreError> {
    let this_week = (now - WEEK_ORIGIN).div_euclid(WEEK_SECONDS);
    let first_week = this_week - (WEEKS - 1);
    let from = WEEK_ORIGIN + first_week * WEEK_SECONDS;
    let since = now - CHURN_DAYS * 86_400;
    // The rights some subscription or payment plan sells: the only ones with payers to count
    // (those of a product without a price are reported as such).
    let mut sold: Vec<(RightKind, &str)> = config
        .products
        .iter()
        .filter(|p| !matches!(p.billing, Billing::Single))
        .map(|p| match &p.grants {
            Grant::Level(id) => (RightKind::Level, id.as_str()),
            Grant::Bundle(id) => (RightKind::Bundle, id.as_str()),
        })
        .collect();
    sold.sort_unstable_by_key(|(kind, id)| (*kind == RightKind::Bundle, *id));
    sold.dedup();
    // Each subscription is counted only where its member holds, active or pending-cancel, the
    // very right its product grants: one that Stripe still bills while the member's access was
    // taken back (a dispute, an operator's cancel) brings in nothing gatehouse vouches for.
    // Members without a Stripe subscription (imported, or granted by an operator) pay
    // gatehouse nothing it knows of, and a single payment recurs not at all.
    let paying = try_join_all(
        sold.iter()
            .map(|(kind, id)| store.paying_subscriptions(*kind, id)),
    );
    // Independent aggregates, run side by side (SQLite's WAL lets readers share the file).
    let (levels, bundles, activity, totals, paying) = tokio::try_join!(
        store.level_counts(),
        store.bundle_counts(),
        store.weekly_activity(from, now),
        store.member_totals(since, now),
        paying,
    )?;
    let paying = sold.iter().zip(&paying).flat_map(|((kind, id), rows)| {
        let right = match kind {
            RightKind::Level => Grant::Level((*id).to_owned()),
            RightKind::Bundle => Grant::Bundle((*id).to_owned()),
        };
        rows.iter()
            .filter(move |row| {
                config
                    .product(&row.product)
                    .is_some_and(|p| p.grants == right)
            })
            .map(|row| (row.product.as_str(), row.subscriptions))
    });
    let revenue = revenue::revenue(&config.products, paying);
    let holding = levels
        .iter()
        .filter(|c| c.status == "active" || c.status == "pending-cancel")
        .map(|c| c.members)
        .sum::<i64>()
        + totals.bundle_only;
    // Churn: of those who held access 30 days ago (who hold it now and joined before, and
    // those who lost it since), the part that lost it.
    let held = holding - totals.recent + totals.lost;
    Ok(Numbers {
        members: totals.members,
        holding,
        statuses: STATUSES,
        levels: config
            .levels
            .iter()
            .rev()
            .map(|level| right_row(&level.id, &level.name, &levels))
            .collect(),
        bundles: config
            .bundles
            .iter()
            .map(|bundle| right_row(&bundle.id, &bundle.name, &bundles))
            .collect(),
        charts: SERIES
            .iter()
            .map(|(series, title)| {
                let weeks: Vec<(i64, i64)> = (first_week..=this_week)
                    .map(|week| {
                        (
                            WEEK_ORIGIN + week * WEEK_SECONDS,
                            count_of(&activity, series, week),
                        )
                    })
                    .collect();
                chart::weekly(series, title, &weeks)
            })
            .collect(),
        revenue,
        churn: Churn {
            lost: totals.lost,
            held,
            rate: (held > 0).then(|| percent(totals.lost, held)),
        },
        churn_days: CHURN_DAYS,
    })
}

fn right_row(id: &str, name: &str, counts: &[RightCount]) -> RightRow {
    let count = |status: &str| {
        counts
            .iter()
            .filter(|c| c.id == id && c.status == status)
            .map(|c| c.members)
            .sum::<i64>()
    };
    RightRow {
        id: id.to_owned(),
        name: name.to_owned(),
        with_access: count("active") + count("pending-cancel"),
        counts: STATUSES
            .iter()
            .map(|status| StatusCount {
                status,
                members: count(status),
            })
            .collect(),
    }
}

fn count_of(activity: &[WeekCount], series: &str, week: i64) -> i64 {
    activity
        .iter()
        .filter(|c| c.series == series && c.week == week)
        .map(|c| c.members)
        .sum()
}

/// `part / whole` as a percentage with one decimal, rounded half up: "2.5%".
fn percent(part: i64, whole: i64) -> String {
    let tenths = (part * 2000 + whole) / (2 * whole);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_reads_as_a_percentage_with_one_decimal() {
        assert_eq!(percent(1, 40), "2.5%");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(0, 7), "0.0%");
        assert_eq!(percent(7, 7), "100.0%");
    }
}
