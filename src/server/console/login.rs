//! Operators' login: an email from site.toml's `[admin] emails` asks for a magic link at
//! `/admin/`, the link's page has one button that uses it (so mail scanners cannot), and the
//! console session starts. The answer to "send me a link" is the same page for any email, at
//! the same speed: whether an address is an operator's is decided after it, in the background.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::json;

use super::operator::{self, ConsoleForm, CsrfField, Operator};
use super::{ConsoleError, redirect, render};
use crate::mail::Mail;
use crate::server::AppState;
use crate::server::extract::ClientAddr;
use crate::server::limit::address_bucket;
use crate::server::token::{new_token, token_hash};

/// How long an operator's link works.
const LINK_LIFETIME: SignedDuration = SignedDuration::from_mins(15);
/// Links per operator per link lifetime, and per day: anyone who knows an operator's address
/// can ask, so the operator's inbox gets at most this many. Counted across replicas (each may
/// let one more through at the same moment).
const LINKS_PER_LIFETIME: i64 = 5;
const LINKS_PER_DAY: i64 = 20;

/// `/admin` → `/admin/`.
pub async fn to_home(State(state): State<AppState>) -> Response {
    redirect(&format!("{}/admin/", state.base_path()))
}

/// The dashboard for an operator, the login form for anyone else.
pub async fn home(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ConsoleError> {
    if state.config.admin.emails.is_empty() {
        return Err(ConsoleError::Off);
    }
    let (parts, _) = request.into_parts();
    match operator::current(&state, &parts).await? {
        Some(operator) => super::dashboard::page(&state, &operator).await,
        None => render(&state, None, "admin/login.html", &json!({})),
    }
}

#[derive(Debug, Deserialize)]
pub struct LinkRequest {
    email: String,
}

pub async fn ask_for_link(
    State(state): State<AppState>,
    addr: ClientAddr,
    Form(request): Form<LinkRequest>,
) -> Result<Response, ConsoleError> {
    if state.config.admin.emails.is_empty() {
        return Err(ConsoleError::Off);
    }
    let email = crate::email::normalize_email(&request.email)
        .map_err(|error| ConsoleError::BadForm(error.to_string()))?;
    let client = addr
        .0
        .map_or_else(|| "unknown".to_owned(), |ip| address_bucket(ip).to_string());
    if let Err(retry_after) = state
        .ip_limit
        .check(&format!("console:{client}"), std::time::Instant::now())
    {
        return Err(ConsoleError::Refused(format!(
            "too many login requests from this address; try again in {retry_after} s"
        )));
    }
    if state.config.admin.is_operator(&email) {
        let state = state.clone();
        let email = email.clone();
        tokio::spawn(async move {
            if let Err(error) = send_link(&state, &email).await {
                tracing::error!(error = %error, "could not send an operator's login link");
            }
        });
    }
    render(
        &state,
        None,
        "admin/message.html",
        &json!({
            "title": "Check your inbox",
            "message": format!("If {email} is an operator of this site, a login link is on its way. It works once, within 15 minutes."),
        }),
    )
}

async fn send_link(state: &AppState, email: &str) -> Result<(), ConsoleError> {
    // One request at a time per operator, so that counting the recent links and adding one
    // cannot interleave with another request's (the members' turns, keyed by the email).
    let turn = state.member_turn(turn_of(email)).lock().await;
    let now = Timestamp::now();
    let window = now.checked_sub(LINK_LIFETIME).unwrap_or(now);
    let day = now
        .checked_sub(SignedDuration::from_hours(24))
        .unwrap_or(now);
    if state.store.operator_links_since(email, window).await? >= LINKS_PER_LIFETIME
        || state.store.operator_links_since(email, day).await? >= LINKS_PER_DAY
    {
        tracing::info!("operator login link not sent: recent links are at the limit");
        return Ok(());
    }
    let token =
        new_token(&state.rng).ok_or_else(|| ConsoleError::Internal("no randomness".into()))?;
    let expires = now.checked_add(LINK_LIFETIME).unwrap_or(now);
    state
        .store
        .create_operator_link(&token_hash(&token), email, now, expires)
        .await?;
    drop(turn);
    let title = &state.config.title;
    let link = format!("{}/admin/auth?token={token}", state.public_api_url());
    let mail = Mail {
        to: email.to_owned(),
        subject: format!("Your console login link for {title}"),
        text: format!(
            "Hello,\n\nOpen this link to log in to the operator console of {title}:\n\n{link}\n\n\
             It works once, within 15 minutes. If you did not ask for it, ignore this email: \
             nobody can log in without it.\n"
        ),
    };
    state
        .mailer
        .send(&state.options.mail_from, &mail)
        .await
        .map_err(|error| ConsoleError::Internal(format!("mail: {error}")))
}

/// A turn number for an operator's email (FNV-1a): operators share the members' turns.
fn turn_of(email: &str) -> i64 {
    let hash = email.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash >> 1) as i64
}

#[derive(Debug, Deserialize)]
pub struct LinkParams {
    token: Option<String>,
}

/// The page a link opens: one button that uses it.
pub async fn continue_page(
    State(state): State<AppState>,
    Query(params): Query<LinkParams>,
) -> Result<Response, ConsoleError> {
    let token = params.token.unwrap_or_default();
    let valid = !token.is_empty()
        && state
            .store
            .operator_link_is_valid(&token_hash(&token), Timestamp::now())
            .await?;
    if !valid {
        return link_failed(&state);
    }
    render(
        &state,
        None,
        "admin/message.html",
        &json!({
            "title": "Log in to the console",
            "message": "This link works once, within 15 minutes of being sent.",
            "form": { "action": "auth", "token": token, "button": "Continue" },
        }),
    )
}

fn link_failed(state: &AppState) -> Result<Response, ConsoleError> {
    let mut response = render(
        state,
        None,
        "admin/message.html",
        &json!({
            "title": "This login link no longer works",
            "message": "Links work once, within 15 minutes. Ask for a new one below.",
            "login": true,
        }),
    )?;
    *response.status_mut() = axum::http::StatusCode::GONE;
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct UseLink {
    token: String,
}

pub async fn use_link(
    State(state): State<AppState>,
    Form(form): Form<UseLink>,
) -> Result<Response, ConsoleError> {
    let Some(email) = state
        .store
        .consume_operator_link(&token_hash(&form.token), Timestamp::now())
        .await?
    else {
        return link_failed(&state);
    };
    // Removed from site.toml since the link was sent: no session.
    if !state.config.admin.is_operator(&email) {
        return link_failed(&state);
    }
    let cookie = Operator::start(&state, &email).await?;
    state
        .store
        .audit(&email, "login", None, &json!({}), Timestamp::now())
        .await?;
    let mut response = redirect(&format!("{}/admin/", state.base_path()));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

impl CsrfField for LogoutForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn logout(
    State(state): State<AppState>,
    ConsoleForm { operator, .. }: ConsoleForm<LogoutForm>,
) -> Result<Response, ConsoleError> {
    state
        .store
        .delete_operator_session(&operator.session_hash)
        .await?;
    state
        .store
        .delete_operator_previews(&operator.email)
        .await?;
    state
        .store
        .audit(
            &operator.email,
            "logout",
            None,
            &json!({}),
            Timestamp::now(),
        )
        .await?;
    let mut response = redirect(&format!("{}/admin/", state.base_path()));
    response
        .headers_mut()
        .append(header::SET_COOKIE, state.console_cookie().header("", 0)?);
    Ok(response.into_response())
}
