//! The dashboard: the console's home page.

use axum::response::Response;
use serde_json::json;

use super::{ConsoleError, Operator, render};
use crate::server::AppState;

pub async fn page(state: &AppState, operator: &Operator) -> Result<Response, ConsoleError> {
    render(
        state,
        Some(operator),
        "admin/dashboard.html",
        &json!({ "section": "dashboard" }),
    )
}
