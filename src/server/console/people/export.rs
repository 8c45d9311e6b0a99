//! `people.csv`: the whole filtered member list as CSV, streamed a batch at a time (one
//! query per batch, by keyset, never the whole list in memory), and recorded in the audit
//! log with its filters.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use jiff::Timestamp;
use serde_json::json;

use super::{List, ListQuery, query_of};
use crate::server::AppState;
use crate::server::console::{ConsoleError, Operator};
use crate::store::{PersonRow, StoreError};

/// Members per query.
const BATCH: i64 = 1000;

pub async fn csv(
    State(state): State<AppState>,
    operator: Operator,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let List { filter, order, .. } = query_of(query)
        .and_then(|query| query.read(&state.config))
        .map_err(ConsoleError::BadForm)?;
    let counts = state.store.people_counts(&filter).await?;
    let now = Timestamp::now();
    state
        .store
        .audit(
            &operator.email,
            "export",
            None,
            &json!({
                "what": "members.csv",
                "filters": filter,
                "sort": order.sort,
                "descending": order.descending,
                "rows": counts.matching,
            }),
            now,
        )
        .await?;
    let store = state.store.clone();
    // (rows written so far: the last one, or None before the first batch; whether done)
    let batches = stream::try_unfold(
        (None::<PersonRow>, false),
        move |(last, done): (Option<PersonRow>, bool)| {
            let store = store.clone();
            let filter = filter.clone();
            async move {
                if done {
                    return Ok::<_, StoreError>(None);
                }
                let rows = store
                    .people_after(&filter, order, last.as_ref(), counts.matching, BATCH)
                    .await
                    .inspect_err(|error| {
                        tracing::error!(error = error.kind(), "the member export failed");
                    })?;
                let mut text = if last.is_none() {
                    "email,level,level_status,bundles,joined,last_seen\n".to_owned()
                } else {
                    String::new()
                };
                for row in &rows {
                    text.push_str(&line(row));
                }
                let done = (rows.len() as i64) < BATCH;
                let last = rows.into_iter().last().or(last);
                Ok(Some((Bytes::from(text), (last, done))))
            }
        },
    );
    let name = format!(
        "attachment; filename=\"members-{}.csv\"",
        now.to_zoned(jiff::tz::TimeZone::UTC).date()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        Body::from_stream(batches),
    )
        .into_response())
}

/// One member as a CSV line.
fn line(row: &PersonRow) -> String {
    let bundles: Vec<String> = row
        .bundles
        .iter()
        .map(|(bundle, status)| format!("{bundle}:{status}"))
        .collect();
    let cells = [
        row.email.clone(),
        row.level.clone().unwrap_or_default(),
        row.level_status.clone().unwrap_or_default(),
        bundles.join(" "),
        row.joined_at.map(day).unwrap_or_default(),
        row.last_seen.map(day).unwrap_or_default(),
    ];
    let cells: Vec<String> = cells.iter().map(|cell| cell_text(cell)).collect();
    format!("{}\n", cells.join(","))
}

fn day(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|at| at.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

/// A CSV cell: quoted when it holds a comma, quote or line break; and one that a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@`; an email may start so) starts with `'`.
fn cell_text(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_are_defused() {
        assert_eq!(cell_text("ann@example.com"), "ann@example.com");
        assert_eq!(cell_text("=cmd()@x.com"), "'=cmd()@x.com");
        assert_eq!(cell_text("+1@x.com"), "'+1@x.com");
        assert_eq!(cell_text("a,\"b\""), "\"a,\"\"b\"\"\"");
    }

    #[test]
    fn a_line_holds_every_column() {
        let row = PersonRow {
            id: 1,
            email: "ann@example.com".into(),
            level: Some("gold".into()),
            level_status: Some("pending-cancel".into()),
            bundles: vec![("course".into(), "active".into())],
            joined_at: Some(1_798_761_600),
            last_seen: None,
        };
        assert_eq!(
            line(&row),
            "ann@example.com,gold,pending-cancel,course:active,2027-01-01,\n"
        );
    }
}
