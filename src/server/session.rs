//! Sessions: a random token in the `gh_session` cookie (HttpOnly, SameSite=Lax, Secure except
//! on localhost; DESIGN §6), stored only as its hash, so replicas share them through the
//! database.

use axum::http::{HeaderMap, HeaderValue, header};
use jiff::{SignedDuration, Timestamp};

use super::AppState;
use super::cache::History;
use super::error::ApiError;
use super::token::{new_token, token_hash};
use crate::store::Member;

pub const COOKIE: &str = "gh_session";

/// The session token the request carries, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE)
}

/// The value of the request's cookie `wanted`, if it has a non-empty one.
pub fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Whether the request came to localhost, where browsers refuse `Secure` cookies over http.
pub fn is_localhost(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = if host.starts_with('[') {
        host.split(']')
            .next()
            .map(|h| format!("{h}]"))
            .unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default().to_owned()
    };
    matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]")
}

fn cookie(value: &str, max_age: i64, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    let secure = if is_localhost(headers) {
        ""
    } else {
        "; Secure"
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|_| ApiError::Internal("could not write the session cookie".into()))
}

/// The member of the request's live session.
pub async fn current_member(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Member>, ApiError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let now = Timestamp::now();
    match state.store.session_member(&token_hash(&token), now).await? {
        Some(id) => Ok(state.store.member_by_id(id).await?),
        None => Ok(None),
    }
}

/// The member id of the request's live session, with their history: from the one-second
/// cache, else in one query.
pub async fn current_history(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(i64, History)>, ApiError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let hash = token_hash(&token);
    let now = std::time::Instant::now();
    if let Some(hit) = state.sessions.get(&hash, now) {
        return Ok(Some(hit));
    }
    let found = state.store.session_history(&hash, Timestamp::now()).await?;
    Ok(found.map(|(member, history)| {
        let history = std::sync::Arc::new(history);
        state.sessions.put(hash, member, history.clone(), now);
        (member, history)
    }))
}

/// Starts a session for a member and returns the `Set-Cookie` value.
pub async fn start(
    state: &AppState,
    member_id: i64,
    headers: &HeaderMap,
) -> Result<HeaderValue, ApiError> {
    let token = new_token(&state.rng).ok_or_else(|| ApiError::Internal("no randomness".into()))?;
    let now = Timestamp::now();
    let lifetime = SignedDuration::from_hours(24 * state.options.session_days);
    let expires = now.checked_add(lifetime).unwrap_or(Timestamp::MAX);
    state
        .store
        .create_session(&token_hash(&token), member_id, now, expires)
        .await?;
    cookie(&token, lifetime.as_secs(), headers)
}

/// Ends the request's session (if any) and returns the `Set-Cookie` value that clears it.
pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    if let Some(token) = session_token(headers) {
        let hash = token_hash(&token);
        state.store.delete_session(&hash).await?;
        state.sessions.forget_session(&hash);
    }
    cookie("", 0, headers)
}
