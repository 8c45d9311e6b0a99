//! Sessions: a random token in the session cookie (HttpOnly, SameSite=Lax; DESIGN §6), stored
//! only as its hash, so replicas share them through the database.
//!
//! The cookie's attributes come from site.toml, never from the request: behind a proxy that
//! forwards to 127.0.0.1, the `Host` header says nothing about how browsers reach the edge.
//! - `Secure` when the API's public URL (`edge_url`, or `base_url` + `edge_url`) is https.
//! - `Path` is the API's path (`/_gate`), so the cookie is not sent with every request for a
//!   page or an image of the site.
//! - The name is `__Host-gh_session` when secure at the root path (the browser then refuses the
//!   cookie from any other host or path), `__Secure-gh_session` when secure under a path, and
//!   `gh_session` over plain http (`gatehouse serve`, local tests).

use axum::http::{HeaderMap, HeaderValue, header};
use jiff::{SignedDuration, Timestamp};

use super::AppState;
use super::cache::History;
use super::error::ApiError;
use super::token::{new_token, token_hash};
use crate::store::Member;

/// The cookie's name over plain http.
pub const COOKIE: &str = "gh_session";

/// How the session cookie is named and scoped, from site.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookiePolicy {
    pub name: &'static str,
    pub path: String,
    pub secure: bool,
}

impl CookiePolicy {
    /// `api_url` is the API's public URL, `base_path` its path (empty at the root).
    pub fn new(api_url: &str, base_path: &str) -> CookiePolicy {
        let secure = api_url.starts_with("https://");
        let path = if base_path.is_empty() {
            "/".to_owned()
        } else {
            base_path.to_owned()
        };
        let name = match (secure, path == "/") {
            (true, true) => "__Host-gh_session",
            (true, false) => "__Secure-gh_session",
            (false, _) => COOKIE,
        };
        CookiePolicy { name, path, secure }
    }

    /// What clears the cookie: this one, and the `gh_session; Path=/` that releases before
    /// the cookie was scoped to the API set, so that it stops riding along and logs nobody in.
    pub fn clearing(&self) -> Result<Vec<HeaderValue>, ApiError> {
        let mut values = vec![self.header("", 0)?];
        if (self.name, self.path.as_str()) != (COOKIE, "/") {
            let secure = if self.secure { "; Secure" } else { "" };
            values.push(
                HeaderValue::from_str(&format!("{COOKIE}=; Path=/; Max-Age=0{secure}"))
                    .map_err(|_| ApiError::Internal("could not write the session cookie".into()))?,
            );
        }
        Ok(values)
    }

    fn header(&self, value: &str, max_age: i64) -> Result<HeaderValue, ApiError> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={value}; Path={}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.name, self.path
        ))
        .map_err(|_| ApiError::Internal("could not write the session cookie".into()))
    }
}

/// The session tokens the request carries under the cookie's name. Usually one; a sibling
/// host can plant more under the same name (a `Domain` cookie), so each is tried in turn.
pub fn session_tokens(state: &AppState, headers: &HeaderMap) -> Vec<String> {
    cookie_values(headers, state.cookie.name)
}

/// The value of the request's cookie `wanted`, if it has a non-empty one.
pub fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    cookie_values(headers, wanted).into_iter().next()
}

/// Every non-empty value of the request's cookies named `wanted`, in the order sent.
pub fn cookie_values(headers: &HeaderMap, wanted: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .take(MAX_SESSION_COOKIES)
        .collect()
}

/// Cookies of one name tried at most: each costs a lookup.
const MAX_SESSION_COOKIES: usize = 4;

/// The member of the request's live session.
pub async fn current_member(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Member>, ApiError> {
    let now = Timestamp::now();
    for token in session_tokens(state, headers) {
        if let Some(id) = state.store.session_member(&token_hash(&token), now).await? {
            return Ok(state.store.member_by_id(id).await?);
        }
    }
    Ok(None)
}

/// The member id of the request's live session, with their history: from the one-second
/// cache, else in one query.
pub async fn current_history(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(i64, History)>, ApiError> {
    for token in session_tokens(state, headers) {
        let hash = token_hash(&token);
        let now = std::time::Instant::now();
        if let Some(hit) = state.sessions.get(&hash, now) {
            return Ok(Some(hit));
        }
        // A logout that lands while the database is read must not be undone by this put.
        let generation = state.sessions.generation();
        let found = state.store.session_history(&hash, Timestamp::now()).await?;
        if let Some((member, history)) = found {
            let history = std::sync::Arc::new(history);
            state
                .sessions
                .put(hash, member, history.clone(), now, generation);
            return Ok(Some((member, history)));
        }
    }
    Ok(None)
}

/// Starts a session for a member and returns the `Set-Cookie` value.
pub async fn start(state: &AppState, member_id: i64) -> Result<HeaderValue, ApiError> {
    let token = new_token(&state.rng).ok_or_else(|| ApiError::Internal("no randomness".into()))?;
    let now = Timestamp::now();
    let lifetime = SignedDuration::from_hours(24 * state.options.session_days);
    let expires = now.checked_add(lifetime).unwrap_or(Timestamp::MAX);
    state
        .store
        .create_session(&token_hash(&token), member_id, now, expires)
        .await?;
    state.cookie.header(&token, lifetime.as_secs())
}

/// Ends the request's session (if any) and returns the `Set-Cookie` values that clear it.
pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<Vec<HeaderValue>, ApiError> {
    for token in session_tokens(state, headers) {
        let hash = token_hash(&token);
        state.store.delete_session(&hash).await?;
        state.sessions.forget_session(&hash);
    }
    state.cookie.clearing()
}

/// Ends every session of the request's member ("log out everywhere"): returns how many there
/// were and the `Set-Cookie` values that clear this browser's cookie.
pub async fn end_all(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(u64, Vec<HeaderValue>), ApiError> {
    let member = current_member(state, headers)
        .await?
        .ok_or(ApiError::LoginRequired)?;
    let ended = state.store.delete_member_sessions(member.id).await?;
    state.sessions.forget_member(member.id);
    Ok((ended, state.cookie.clearing()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_secure_and_prefixed_from_configuration() {
        let root = CookiePolicy::new("https://edge.example.com", "");
        assert_eq!(
            (root.name, root.path.as_str(), root.secure),
            ("__Host-gh_session", "/", true)
        );
        let under = CookiePolicy::new("https://academy.example.com/_gate", "/_gate");
        assert_eq!(
            (under.name, under.path.as_str(), under.secure),
            ("__Secure-gh_session", "/_gate", true)
        );
        let plain = CookiePolicy::new("http://127.0.0.1:1111/_gate", "/_gate");
        assert_eq!((plain.name, plain.secure), ("gh_session", false));
        let header = under.header("abc", 60).unwrap();
        assert_eq!(
            header.to_str().unwrap(),
            "__Secure-gh_session=abc; Path=/_gate; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
    }
}
