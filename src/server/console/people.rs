//! The members list: search by email prefix, filters (level, bundle, status, joined and
//! last-seen ranges), sorting, keyset pages of 50 with counts at the top, and the whole
//! filtered list as CSV (`export`). The store reads it from the member projection.

mod export;
mod params;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::{ConsoleError, Operator, render};
use crate::config::SiteConfig;
use crate::server::AppState;
use crate::store::{PeopleCounts, PeoplePage, PeopleSort, PersonRow};
pub use params::{List, ListQuery, STATUSES};

/// Members on a page.
const PAGE: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/people", get(page))
        .route("/admin/people.csv", get(export::csv))
}

/// The query string, or why it cannot be read (a malformed or repeated key).
fn query_of(query: Result<Query<ListQuery>, QueryRejection>) -> Result<ListQuery, String> {
    query
        .map(|Query(query)| query)
        .map_err(|_| "This address's filters cannot be read: start again from the form.".into())
}

async fn page(
    State(state): State<AppState>,
    operator: Operator,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ConsoleError> {
    let query = query_of(query);
    let list = query
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|query| query.read(&state.config));
    let query = query.unwrap_or_default();
    let list = match list {
        Ok(list) => list,
        Err(message) => {
            // The form again, with what to fix, and no members.
            let mut values = frame(&state.config, &query);
            values["error"] = json!(message);
            let mut response = render(&state, Some(&operator), "admin/people.html", &values)?;
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return Ok(response);
        }
    };
    let counts = state.store.people_counts(&list.filter).await?;
    let page = state
        .store
        .people_page(&list.filter, list.order, list.at, counts.matching, PAGE)
        .await?;
    let mut values = frame(&state.config, &query);
    values["counts"] = counts_json(&query, &counts);
    values["rows"] = page
        .rows
        .iter()
        .map(|row| row_json(&state.config, row))
        .collect();
    values["pager"] = pager_json(&query, &page);
    values["sorted"] = json!({
        "by": match list.order.sort {
            PeopleSort::Email => "email",
            PeopleSort::Joined => "joined",
            PeopleSort::LastSeen => "seen",
        },
        "descending": list.order.descending,
    });
    values["sort_links"] = sort_links(&query, list.order.sort, list.order.descending);
    render(&state, Some(&operator), "admin/people.html", &values)
}

/// What every state of the page shows: the form with what was asked, and its choices.
fn frame(config: &SiteConfig, query: &ListQuery) -> Value {
    let text = |value: &Option<String>| value.as_deref().unwrap_or("").trim().to_owned();
    json!({
        "section": "people",
        "form": {
            "q": text(&query.q),
            "level": text(&query.level),
            "bundle": text(&query.bundle),
            "status": text(&query.status),
            "joined_from": text(&query.joined_from),
            "joined_to": text(&query.joined_to),
            "seen_from": text(&query.seen_from),
            "seen_to": text(&query.seen_to),
            "sort": text(&query.sort),
            "dir": text(&query.dir),
        },
        "levels": config.levels.iter().map(|l| json!({"id": l.id, "name": l.name})).collect::<Vec<_>>(),
        "bundles": config.bundles.iter().map(|b| json!({"id": b.id, "name": b.name})).collect::<Vec<_>>(),
        "statuses": STATUSES,
        "csv": format!("/people.csv{}", query.link(&[])),
        "clear": "/people",
    })
}

fn counts_json(query: &ListQuery, counts: &PeopleCounts) -> Value {
    let all: i64 = counts.by_status.iter().map(|(_, n)| n).sum();
    let statuses: Vec<Value> = counts
        .by_status
        .iter()
        .map(|(status, n)| match status {
            Some(status) => json!({
                "status": status,
                "n": n,
                "href": format!("/people{}", query.link(&[("status", status)])),
            }),
            // Members with no level yet (no event, or not checked since they were added).
            None => json!({ "status": Value::Null, "n": n }),
        })
        .collect();
    json!({
        "matching": counts.matching,
        "all": all,
        "all_href": format!("/people{}", query.link(&[("status", "")])),
        "statuses": statuses,
    })
}

fn row_json(config: &SiteConfig, row: &PersonRow) -> Value {
    let bundles: Vec<Value> = row
        .bundles
        .iter()
        .map(|(id, status)| {
            let name = config
                .bundles
                .iter()
                .find(|b| &b.id == id)
                .map_or(id.as_str(), |b| b.name.as_str());
            json!({ "id": id, "name": name, "status": status })
        })
        .collect();
    json!({
        "id": row.id,
        "email": row.email,
        "level": row.level,
        "level_name": row.level.as_deref().map(|id| config.level(id).map_or(id, |l| l.name.as_str())),
        "level_status": row.level_status,
        "bundles": bundles,
        "joined_at": row.joined_at,
        "last_seen": row.last_seen,
    })
}

fn pager_json(query: &ListQuery, page: &PeoplePage) -> Value {
    let previous = page
        .rows
        .first()
        .filter(|_| page.more_before)
        .map(|row| format!("/people{}", query.link(&[("before", &row.id.to_string())])));
    let next = page
        .rows
        .last()
        .filter(|_| page.more_after)
        .map(|row| format!("/people{}", query.link(&[("after", &row.id.to_string())])));
    json!({ "previous": previous, "next": next })
}

/// Each column's header link: sorts by it, or turns the order round when it is the sort.
fn sort_links(query: &ListQuery, sort: PeopleSort, descending: bool) -> Value {
    let link = |name: &str, this: PeopleSort| {
        let dir = match (this == sort, descending) {
            (true, true) => "asc",
            (true, false) => "desc",
            (false, _) if this == PeopleSort::Email => "asc",
            (false, _) => "desc",
        };
        format!("/people{}", query.link(&[("sort", name), ("dir", dir)]))
    };
    json!({
        "email": link("email", PeopleSort::Email),
        "joined": link("joined", PeopleSort::Joined),
        "seen": link("seen", PeopleSort::LastSeen),
    })
}
