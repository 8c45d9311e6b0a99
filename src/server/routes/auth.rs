//! Logging in: magic links (`POST /login`, then `GET`/`POST /auth`), passwords
//! (`POST /login/password`), and `POST /logout`.
//!
//! A link's GET only shows a "Continue" page; the POST behind its button uses the link. Mail
//! scanners that fetch every link therefore cannot burn it.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use serde_json::json;

use super::normalize_email;
use crate::mail::Mail;
use crate::render::escape;
use crate::server::error::ApiError;
use crate::server::extract::{ApiJson, ClientAddr};
use crate::server::limit::address_bucket;
use crate::server::metrics::Metrics;
use crate::server::token::{new_token, token_hash};
use crate::server::{AppState, password, session};

/// How long a magic link works.
pub const LINK_LIFETIME: SignedDuration = SignedDuration::from_mins(15);
/// At most this many links per member per link lifetime, counted across every replica.
const LINKS_PER_LIFETIME: i64 = 8;
/// Of those, at most this many asked for from an address the member has not used.
const STRANGER_LINKS_PER_LIFETIME: i64 = 3;
/// At most this many a day to one member from one network the member has not used.
const LINKS_PER_NETWORK_PER_DAY: i64 = 3;
/// At most this many links a day to one member, from anywhere.
const LINKS_PER_DAY: i64 = 30;
/// How far back an address the member used makes it theirs.
const KNOWN_ADDRESS_DAYS: i64 = 30;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    /// The page to return to after login.
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordLogin {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize)]
pub struct LinkParams {
    token: Option<String>,
    next: Option<String>,
}

/// Takes one attempt from the client's network (IPv4 /24, IPv6 /48), its address (IPv6 by
/// /64) and the pair (address, email). No limit counts per email alone: that would let one address lock a member out.
fn limit(state: &AppState, addr: &ClientAddr, email: &str) -> Result<(), ApiError> {
    let now = std::time::Instant::now();
    let ip = addr
        .0
        .map_or_else(|| "unknown".to_owned(), |ip| address_bucket(ip).to_string());
    let network = addr.0.map_or_else(
        || "unknown".to_owned(),
        |ip| crate::server::limit::network_of(ip).to_string(),
    );
    let refused = state
        .net_limit
        .check(&format!("net:{network}"), now)
        .and_then(|()| state.ip_limit.check(&format!("ip:{ip}"), now))
        .and_then(|()| state.pair_limit.check(&format!("pair:{ip} {email}"), now));
    refused.map_err(|retry_after| {
        Metrics::add(&state.metrics.rate_limited, 1);
        ApiError::RateLimited { retry_after }
    })
}

/// Only a path on this site: `/x`, never `//host` or `https://…`, so a link cannot send a
/// member elsewhere after login.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

pub async fn login(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let email = normalize_email(&request.email)?;
    limit(&state, &addr, &email)?;
    let next = safe_next(request.next.as_deref());
    // Whether the address is a member's decides nothing before the answer: finding the member,
    // counting their links and sending one all happen after it, in the background, so the
    // answer, its timing and the request's counters are the same for anyone.
    Metrics::add(&state.metrics.login_requests, 1);
    match state.login_work.clone().try_acquire_owned() {
        Ok(permit) => {
            let (state, email) = (state.clone(), email.clone());
            tokio::spawn(async move {
                let outcome = link_if_member(&state, &email, &next, addr.0).await;
                match &outcome {
                    Ok(Some(mail)) => {
                        deliver(&state, mail).await;
                    }
                    Ok(None) => {}
                    Err(error) => {
                        Metrics::add(&state.metrics.login_errors, 1);
                        let cause = match error {
                            ApiError::Internal(cause) => cause.clone(),
                            other => other.to_string(),
                        };
                        tracing::error!(%cause, "could not handle a login request");
                    }
                }
                drop(permit);
            });
        }
        Err(_) => {
            Metrics::add(&state.metrics.login_requests_dropped, 1);
            tracing::warn!(
                "login requests arrive faster than the member database answers: one was dropped"
            );
        }
    }
    let message = format!(
        "If {email} belongs to a member, a login link is on its way. It works once, within 15 minutes."
    );
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "status": "sent", "message": message })),
    ))
}

/// The background half of `POST /login`: sends a link if the email is a member's and the
/// member's link budget allows it. Links are counted per member in the database, across
/// replicas:
/// - at most `LINKS_PER_LIFETIME` in a link's lifetime and `LINKS_PER_DAY` a day in all;
/// - from an address the member has not used in the last `KNOWN_ADDRESS_DAYS` days (and did
///   not log in from), only `STRANGER_LINKS_PER_LIFETIME` in a link's lifetime, and
///   `LINKS_PER_NETWORK_PER_DAY` a day from one network (IPv4 /24, IPv6 /48).
///
/// A stranger therefore cannot flood a member's inbox, and can hold back the member's own
/// request from a new address for at most one link lifetime, unless they hold many networks.
/// A member's requests take turns (the count and the new link cannot interleave); other
/// members' go on meanwhile. Several replicas may each let one more through at one moment.
async fn link_if_member(
    state: &AppState,
    email: &str,
    next: &str,
    address: Option<std::net::IpAddr>,
) -> Result<Option<Mail>, ApiError> {
    let Some(member) = state.store.member_by_email(email).await? else {
        return Ok(None);
    };
    let turn = state.member_turn(member.id).lock().await;
    let now = Timestamp::now();
    let known = match address {
        Some(address) => {
            let today = now.as_second().div_euclid(86_400);
            state
                .store
                .address_known(
                    member.id,
                    &state.address_hash(address),
                    today - KNOWN_ADDRESS_DAYS,
                )
                .await?
        }
        None => false,
    };
    let source = address.map(|address| state.network_hash(address));
    let window_start = now.checked_sub(LINK_LIFETIME).unwrap_or(now);
    let day_start = now
        .checked_sub(SignedDuration::from_hours(24))
        .unwrap_or(now);
    let recent = state
        .store
        .login_links_since(member.id, window_start)
        .await?;
    let today = state.store.login_links_since(member.id, day_start).await?;
    let mut allowed = today < LINKS_PER_DAY;
    if known {
        allowed &= recent < LINKS_PER_LIFETIME;
    } else {
        allowed &= recent < STRANGER_LINKS_PER_LIFETIME;
        if let Some(source) = &source {
            allowed &= state
                .store
                .login_links_from_since(member.id, source, day_start)
                .await?
                < LINKS_PER_NETWORK_PER_DAY;
        }
    }
    if !allowed {
        Metrics::add(&state.metrics.login_links_withheld, 1);
        tracing::info!(
            known_address = known,
            "magic link not sent: the member's recent links are at the limit"
        );
        return Ok(None);
    }
    let mail = link_mail(state, member.id, email, next, now, source.as_deref()).await?;
    drop(turn);
    Ok(Some(mail))
}

/// Stores a new link for the member and writes the email that carries it.
async fn link_mail(
    state: &AppState,
    member_id: i64,
    email: &str,
    next: &str,
    now: Timestamp,
    source: Option<&str>,
) -> Result<Mail, ApiError> {
    let link = new_link(state, member_id, next, now, LINK_LIFETIME, source).await?;
    let title = &state.config.title;
    Ok(Mail {
        to: email.to_owned(),
        subject: format!("Your login link for {title}"),
        text: format!(
            "Hello,\n\nOpen this link to log in to {title}:\n\n{link}\n\n\
             It works once, within 15 minutes. If you did not ask for it, ignore this email: \
             nobody can log in without it.\n"
        ),
    })
}

/// Sends a login link's mail; whether it went.
async fn deliver(state: &AppState, mail: &Mail) -> bool {
    match state.mailer.send(&state.options.mail_from, mail).await {
        Ok(()) => {
            Metrics::add(&state.metrics.login_links_sent, 1);
            true
        }
        Err(error) => {
            Metrics::add(&state.metrics.mail_failures, 1);
            tracing::error!(%error, "could not send a login link");
            false
        }
    }
}

/// An operator's "send a login link" (the console): the member's usual link and mail, back to
/// the site's home page. It counts in the member's link budget like any other, but is not held
/// back by it: the operator asked on purpose, and the audit log says who.
pub(crate) async fn send_login_link(
    state: &AppState,
    member_id: i64,
    email: &str,
) -> Result<bool, ApiError> {
    let turn = state.member_turn(member_id).lock().await;
    let mail = link_mail(state, member_id, email, "/", Timestamp::now(), None).await?;
    drop(turn);
    Ok(deliver(state, &mail).await)
}

/// Stores a new single-use login link for a member and returns its URL.
async fn new_link(
    state: &AppState,
    member_id: i64,
    next: &str,
    now: Timestamp,
    lifetime: SignedDuration,
    source: Option<&str>,
) -> Result<String, ApiError> {
    let token = new_token(&state.rng).ok_or_else(|| ApiError::Internal("no randomness".into()))?;
    let expires = now.checked_add(lifetime).unwrap_or(now);
    state
        .store
        .create_login_link_from(&token_hash(&token), member_id, next, now, expires, source)
        .await?;
    Ok(format!(
        "{}/auth?token={token}&next={}",
        state.public_api_url(),
        percent_encode(next)
    ))
}

/// The login link of a welcome email: single-use like any other, but valid for `hours`.
pub(crate) async fn welcome_link(
    state: &AppState,
    member_id: i64,
    hours: i64,
) -> Result<String, ApiError> {
    new_link(
        state,
        member_id,
        "/",
        Timestamp::now(),
        SignedDuration::from_hours(hours),
        None,
    )
    .await
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn login_password(
    State(state): State<AppState>,
    addr: ClientAddr,
    ApiJson(request): ApiJson<PasswordLogin>,
) -> Result<Response, ApiError> {
    if !state.config.password_login {
        return Err(ApiError::NotFound(
            "password login is off on this site (`[membership] password_login`): log in with an emailed link, POST /login".into(),
        ));
    }
    let email = normalize_email(&request.email)?;
    limit(&state, &addr, &email)?;
    let member = state.store.member_by_email(&email).await?;
    let stored = member.as_ref().and_then(|m| m.password_hash.clone());
    let attempt = request.password;
    // An unknown email costs one verification too, so that it takes as long to refuse as a
    // wrong password; the gate bounds what a flood of either can cost.
    let verdict = state
        .verifications
        .run(move || match stored {
            Some(stored) => password::verify(&attempt, &stored),
            None => {
                password::verify_against_nothing(&attempt);
                false
            }
        })
        .await
        .map_err(|password::Full| {
            Metrics::add(&state.metrics.rate_limited, 1);
            ApiError::Busy { retry_after: 5 }
        })?;
    let matches = verdict.ok_or_else(|| ApiError::Internal("password check panicked".into()))?;
    let Some(member) = member.filter(|_| matches) else {
        Metrics::add(&state.metrics.login_failures, 1);
        return Err(ApiError::BadCredentials);
    };
    let cookie = session::start(&state, member.id).await?;
    Metrics::add(&state.metrics.logins, 1);
    // The address the member logs in from is theirs from now on (for link budgets).
    state.note_address(member.id, addr.0).await;
    let body = axum::Json(json!({ "status": "logged_in", "email": member.email }));
    Ok(([(header::SET_COOKIE, cookie)], body).into_response())
}

/// The page a magic link opens: one button that uses the link.
pub async fn continue_page(
    State(state): State<AppState>,
    Query(params): Query<LinkParams>,
) -> Result<Response, ApiError> {
    let token = params.token.unwrap_or_default();
    let valid = !token.is_empty()
        && state
            .store
            .login_link_is_valid(&token_hash(&token), Timestamp::now())
            .await?;
    if !valid {
        return Ok(link_failed_page(&state));
    }
    let next = safe_next(params.next.as_deref());
    let title = escape(&state.config.title);
    let body = format!(
        "<h1>Log in to {title}</h1>\
         <form method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\">\
         <button type=\"submit\">Continue</button></form>\
         <p>This link works once, within 15 minutes of being sent.</p>",
        action = escape(&format!("{}/auth", state.base_path())),
        token = escape(&token),
        next = escape(&next),
    );
    Ok(page(StatusCode::OK, &state.config.title, &body))
}

#[derive(Debug, Deserialize)]
pub struct LinkForm {
    token: String,
    next: Option<String>,
}

/// Uses a magic link: starts a session and returns the member to the page they came from.
pub async fn consume_link(
    State(state): State<AppState>,
    addr: ClientAddr,
    Form(form): Form<LinkForm>,
) -> Result<Response, ApiError> {
    let used = state
        .store
        .consume_login_link(&token_hash(&form.token), Timestamp::now())
        .await?;
    let Some((member_id, stored_next)) = used else {
        Metrics::add(&state.metrics.login_failures, 1);
        return Ok(link_failed_page(&state));
    };
    let cookie = session::start(&state, member_id).await?;
    Metrics::add(&state.metrics.logins, 1);
    state.note_address(member_id, addr.0).await;
    let next = safe_next(form.next.as_deref().or(Some(&stored_next)));
    let location = if state.config.edge_url.contains("://") {
        format!("{}{next}", state.config.base_url.trim_end_matches('/'))
    } else {
        next
    };
    let location = HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/"));
    Ok((
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie), (header::LOCATION, location)],
    )
        .into_response())
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cookies = session::end(&state, &headers).await?;
    Ok(with_cookies(
        cookies,
        axum::Json(json!({ "status": "logged_out" })),
    ))
}

/// Ends every session of the member, on every device, and clears this browser's cookie.
pub async fn logout_everywhere(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (ended, cookies) = session::end_all(&state, &headers).await?;
    Ok(with_cookies(
        cookies,
        axum::Json(json!({ "status": "logged_out", "sessions": ended })),
    ))
}

fn with_cookies(cookies: Vec<HeaderValue>, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn link_failed_page(state: &AppState) -> Response {
    let body = format!(
        "<h1>This login link no longer works</h1>\
         <p>Links work once, within 15 minutes. Ask for a new one on the page you wanted to read.</p>\
         <p><a href=\"{}\">Back to {}</a></p>",
        escape(&state.config.base_url),
        escape(&state.config.title)
    );
    page(StatusCode::GONE, &state.config.title, &body)
}

/// The look of the default theme (its colours, a card), inline: the page loads nothing.
const PAGE_STYLE: &str = "\
:root{--bg:#f6f7f9;--card:#fff;--text:#16181d;--soft:#4b5160;--line:#dfe2e8;--accent:#4338ca;--on-accent:#fff}\
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#171a21;--text:#e8eaef;--soft:#a9afbc;--line:#2a2f3a;--accent:#a5b4fc;--on-accent:#111827}}\
body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--text);\
font:17px/1.55 system-ui,-apple-system,\"Segoe UI\",sans-serif;padding:1rem}\
main{width:100%;max-width:26rem;background:var(--card);border:1px solid var(--line);border-radius:1rem;\
padding:2rem 1.75rem;box-shadow:0 6px 24px rgba(0,0,0,.06);text-align:center}\
h1{font-size:1.4rem;line-height:1.25;margin:0 0 1.25rem}p{color:var(--soft);margin:1rem 0 0}\
a{color:var(--accent)}button{font:inherit;font-weight:600;width:100%;padding:.75rem 1.4rem;border-radius:.6rem;\
border:0;background:var(--accent);color:var(--on-accent);cursor:pointer}\
button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}";

/// A minimal page that loads nothing and leaks no token through the Referer header (at most
/// its origin).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title>\
         <meta name=\"color-scheme\" content=\"light dark\"><style>{PAGE_STYLE}</style>\
         </head><body><main>{body}</main></body></html>",
        escape(title)
    );
    let headers = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        // Not `no-referrer`: its form's POST would then carry `Origin: null`, which browsers
        // without `Sec-Fetch-Site` could not prove same-origin. The origin alone leaks no token.
        (header::REFERRER_POLICY, "strict-origin"),
    ];
    (status, headers, Html(html)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/course/lesson-1/")), "/course/lesson-1/");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
