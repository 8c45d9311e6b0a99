//! The audit log: every operator's logins, logouts and actions, newest first, a page at a time.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{ConsoleError, Operator, render};
use crate::server::AppState;

const PAGE: i64 = 100;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    /// Show entries older than this id (the previous page's last).
    before: Option<i64>,
}

pub async fn page(
    State(state): State<AppState>,
    operator: Operator,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ConsoleError> {
    let entries = state
        .store
        .audit_entries(None, query.before, PAGE + 1)
        .await?;
    let more = entries.len() as i64 > PAGE;
    let entries: Vec<_> = entries.into_iter().take(PAGE as usize).collect();
    let next = more.then(|| entries.last().map(|e| e.id)).flatten();
    render(
        &state,
        Some(&operator),
        "admin/audit.html",
        &json!({ "section": "audit", "entries": entries, "older": next }),
    )
}
