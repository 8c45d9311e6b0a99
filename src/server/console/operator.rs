//! Who is at the console: the operator of the request's console session, and the form
//! extractor that refuses any console POST without that session's CSRF token.
//!
//! The console's cookie is its own: named `gh_admin` (`__Host-`/`__Secure-` as members'
//! cookie is, over https), scoped to `<edge path>/admin`, `SameSite=Strict` and shorter-lived
//! (`[admin] session_hours`). A member's session never reaches a console page, and an
//! operator's cookie never rides along with a member's request to the API.

use axum::extract::{Form, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use ring::hmac;
use serde::de::DeserializeOwned;

use super::ConsoleError;
use crate::gate::derive_purpose_key;
use crate::server::token::{new_token, token_hash};
use crate::server::{AppState, secrets_equal, session};

/// How the console's cookie is named and scoped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleCookie {
    pub name: &'static str,
    pub path: String,
    pub secure: bool,
}

impl ConsoleCookie {
    pub fn new(api_url: &str, base_path: &str) -> ConsoleCookie {
        let secure = api_url.starts_with("https://");
        ConsoleCookie {
            // `__Host-` requires `Path=/`, which the console's cookie never has.
            name: if secure {
                "__Secure-gh_admin"
            } else {
                "gh_admin"
            },
            path: format!("{base_path}/admin"),
            secure,
        }
    }

    pub fn header(&self, value: &str, max_age: i64) -> Result<HeaderValue, ConsoleError> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{}={value}; Path={}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
            self.name, self.path
        ))
        .map_err(|_| ConsoleError::Internal("could not write the console cookie".into()))
    }
}

/// An operator with a live console session.
#[derive(Debug, Clone)]
pub struct Operator {
    pub email: String,
    /// The session's CSRF token: every console form carries it.
    pub csrf: String,
    /// The session token's hash, to end this session.
    pub session_hash: String,
}

impl Operator {
    /// Starts a console session for `email`; returns its cookie.
    pub async fn start(state: &AppState, email: &str) -> Result<HeaderValue, ConsoleError> {
        let token =
            new_token(&state.rng).ok_or_else(|| ConsoleError::Internal("no randomness".into()))?;
        let now = Timestamp::now();
        let lifetime = state.config.admin.session_hours * 3600;
        let expires = Timestamp::from_second(now.as_second() + lifetime).unwrap_or(now);
        state
            .store
            .create_operator_session(&token_hash(&token), email, now, expires)
            .await?;
        state.console_cookie().header(&token, lifetime)
    }

    /// Checks a form's CSRF token against this session's, in constant time.
    pub fn check_csrf(&self, given: &str) -> Result<(), ConsoleError> {
        if !given.is_empty() && secrets_equal(given, &self.csrf) {
            Ok(())
        } else {
            Err(ConsoleError::Csrf)
        }
    }
}

/// The CSRF token of a console session: a keyed hash of the session token's hash, so it is
/// stored nowhere and cannot be computed without the site's secret.
pub fn csrf_token(state: &AppState, session_hash: &str) -> String {
    let key = hmac::Key::new(
        hmac::HMAC_SHA256,
        &derive_purpose_key(&state.secret, "console-csrf"),
    );
    crate::gate::to_hex(&hmac::sign(&key, session_hash.as_bytes()).as_ref()[..16])
}

/// The operator of the request's console session, if it is live and its email is still one
/// of site.toml's `[admin] emails`.
pub async fn current(state: &AppState, parts: &Parts) -> Result<Option<Operator>, ConsoleError> {
    let cookie = state.console_cookie();
    let now = Timestamp::now();
    for token in session::cookie_values(&parts.headers, cookie.name) {
        let hash = token_hash(&token);
        if let Some(email) = state.store.operator_session(&hash, now).await?
            && state.config.admin.is_operator(&email)
        {
            return Ok(Some(Operator {
                email,
                csrf: csrf_token(state, &hash),
                session_hash: hash,
            }));
        }
    }
    Ok(None)
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if state.config.admin.emails.is_empty() {
            return Err(ConsoleError::Off.into_response());
        }
        match current(state, parts).await {
            Ok(Some(operator)) => Ok(operator),
            // A page asked for without a session goes to the login form; anything else is
            // refused outright.
            Ok(None) if parts.method == Method::GET => {
                Err(super::redirect(&format!("{}/admin/", state.base_path())))
            }
            Ok(None) => Err(ConsoleError::LoginRequired.into_response()),
            Err(error) => Err(error.into_response()),
        }
    }
}

/// A console form: the fields of `T`, accepted only from an operator's session and with that
/// session's CSRF token. Every state-changing console route takes one, so none can forget.
pub struct ConsoleForm<T> {
    pub operator: Operator,
    pub form: T,
}

/// A form that carries the CSRF token in its `csrf` field.
pub trait CsrfField {
    fn csrf(&self) -> &str;
}

impl<T> FromRequest<AppState> for ConsoleForm<T>
where
    T: DeserializeOwned + CsrfField + Send,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let operator = Operator::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let Form(form) = Form::<T>::from_request(request, state)
            .await
            .map_err(|rejection| ConsoleError::BadForm(rejection.body_text()).into_response())?;
        operator
            .check_csrf(form.csrf())
            .map_err(IntoResponse::into_response)?;
        Ok(ConsoleForm { operator, form })
    }
}
