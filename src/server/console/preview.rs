//! "View the site as this member": an operator's browser gets a preview cookie, and while it
//! lasts `/keys` and `/me` (and nothing else) answer as that member: the same decisions and
//! keys as the member's own session, read-only.
//!
//! The cookie is its own (`gh_preview`, `__Secure-` over https), scoped to the API's path so
//! the site's pages reach `/keys` with it, `SameSite=Strict` and `HttpOnly`, for 30 minutes. It
//! counts only while its row is live and its operator is still in `[admin] emails`; otherwise
//! the browser's own member session (or none) answers, as if it were not there. No member
//! action (logout, password) ever reads it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::member::{find_member, member_path};
use super::member_actions::ActionForm;
use super::{ConsoleError, ConsoleForm, Operator, redirect};
use crate::server::token::{new_token, token_hash};
use crate::server::{AppState, session};
use crate::store::{Member, StoreError};

/// How long a preview lasts.
pub const LIFETIME: SignedDuration = SignedDuration::from_mins(30);

/// How the preview cookie is named and scoped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewCookie {
    pub name: &'static str,
    pub path: String,
    pub secure: bool,
}

impl PreviewCookie {
    /// `api_url` is the API's public URL, `base_path` its path (empty at the root).
    pub fn new(api_url: &str, base_path: &str) -> PreviewCookie {
        let secure = api_url.starts_with("https://");
        PreviewCookie {
            name: if secure {
                "__Secure-gh_preview"
            } else {
                "gh_preview"
            },
            path: if base_path.is_empty() {
                "/".to_owned()
            } else {
                base_path.to_owned()
            },
            secure,
        }
    }

    pub fn header(&self, value: &str, max_age: i64) -> Result<HeaderValue, ConsoleError> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={value}; Path={}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
            self.name, self.path
        ))
        .map_err(|_| ConsoleError::Internal("could not write the preview cookie".into()))
    }
}

fn cookie(state: &AppState) -> PreviewCookie {
    PreviewCookie::new(&state.public_api_url(), &state.base_path())
}

/// A live preview the request carries: its operator, member and end.
pub struct LivePreview {
    pub operator: String,
    pub member_id: i64,
    pub expires_at: i64,
}

/// The request's live preview, if its cookie names one whose operator is still listed.
pub async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<LivePreview>, StoreError> {
    // Every `/keys` passes here: a request without the cookie costs one scan of its headers.
    let carries = headers
        .get_all(header::COOKIE)
        .iter()
        .any(|value| value.as_bytes().windows(11).any(|w| w == b"gh_preview="));
    if !carries {
        return Ok(None);
    }
    let name = cookie(state).name;
    let now = Timestamp::now();
    for token in session::cookie_values(headers, name) {
        let hash = token_hash(&token);
        if let Some(found) = state.store.preview_session(&hash, now).await?
            && state.config.admin.is_operator(&found.operator)
        {
            return Ok(Some(LivePreview {
                operator: found.operator,
                member_id: found.member_id,
                expires_at: found.expires_at,
            }));
        }
    }
    Ok(None)
}

/// The member whose view the request's preview cookie asks for (`/keys`).
pub async fn previewed_member_id(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<i64>, StoreError> {
    Ok(current(state, headers).await?.map(|live| live.member_id))
}

/// The member whose view the request's preview cookie asks for (`/me`).
pub async fn previewed_member(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Member>, StoreError> {
    match previewed_member_id(state, headers).await? {
        Some(id) => state.store.member_by_id(id).await,
        None => Ok(None),
    }
}

/// `POST /admin/people/{id}/preview`: starts a preview of this member in this browser, then
/// back to the member's page, which links to the site.
pub async fn start(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ConsoleForm { operator, .. }: ConsoleForm<ActionForm>,
) -> Result<Response, ConsoleError> {
    let member = find_member(&state, &id).await?;
    let token =
        new_token(&state.rng).ok_or_else(|| ConsoleError::Internal("no randomness".into()))?;
    let now = Timestamp::now();
    let expires = now.checked_add(LIFETIME).unwrap_or(now);
    state
        .store
        .create_preview_session(
            &token_hash(&token),
            &operator.email,
            &operator.session_hash,
            member.id,
            now,
            expires,
        )
        .await?;
    state
        .store
        .audit(
            &operator.email,
            "preview_start",
            Some(member.id),
            &json!({ "minutes": LIFETIME.as_mins() }),
            now,
        )
        .await?;
    let set = cookie(&state).header(&token, LIFETIME.as_secs())?;
    let mut response = redirect(&format!("{}?done=preview", member_path(&state, member.id)));
    response.headers_mut().append(header::SET_COOKIE, set);
    Ok(response)
}

/// `POST /admin/people/{id}/preview/end`: ends this browser's preview.
pub async fn end(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ConsoleForm { operator, .. }: ConsoleForm<ActionForm>,
) -> Result<Response, ConsoleError> {
    let member = find_member(&state, &id).await?;
    let ended = end_previews(&state, &operator, &headers).await?;
    state
        .store
        .audit(
            &operator.email,
            "preview_end",
            Some(member.id),
            &json!({ "ended": ended }),
            Timestamp::now(),
        )
        .await?;
    let clear = cookie(&state).header("", 0)?;
    Ok((
        [(header::SET_COOKIE, clear)],
        redirect(&format!(
            "{}?done=preview_end",
            member_path(&state, member.id)
        )),
    )
        .into_response())
}

/// Deletes the previews of this operator that the request's cookie names.
async fn end_previews(
    state: &AppState,
    operator: &Operator,
    headers: &HeaderMap,
) -> Result<u64, ConsoleError> {
    let mut ended = 0;
    for token in session::cookie_values(headers, cookie(state).name) {
        ended += state
            .store
            .delete_preview_session(&token_hash(&token), &operator.email)
            .await?;
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_strict_scoped_to_the_api_and_secure_over_https() {
        let secure = PreviewCookie::new("https://academy.example.com/_gate", "/_gate");
        assert_eq!(
            secure.header("abc", 1800).unwrap().to_str().unwrap(),
            "__Secure-gh_preview=abc; Path=/_gate; HttpOnly; SameSite=Strict; Max-Age=1800; Secure"
        );
        let plain = PreviewCookie::new("http://127.0.0.1:8787/_gate", "/_gate");
        assert_eq!((plain.name, plain.secure), ("gh_preview", false));
        let root = PreviewCookie::new("https://edge.example.com", "");
        assert_eq!(root.path, "/");
    }
}
