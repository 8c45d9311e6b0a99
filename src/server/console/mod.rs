//! The operator console at `<edge_url>/admin/`: server-rendered pages for the operators listed
//! in site.toml's `[admin] emails`, who log in by magic link. Every page needs an operator's
//! console session (`operator`), every form also its CSRF token (`ConsoleForm`), and every
//! action is written to the audit log and, for a member, into their history as
//! `admin:<email>`.

mod audit;
pub(crate) mod dashboard;
mod format;
mod login;
mod member;
mod member_actions;
pub mod operator;
pub mod pages;
mod payments;
mod people;
pub(crate) mod preview;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use tera::Context;

pub use operator::{ConsoleCookie, ConsoleForm, CsrfField, Operator};
pub use pages::{Pages, PagesError};

use super::AppState;
use crate::store::StoreError;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/", get(login::home))
        .route("/admin", get(login::to_home))
        .route("/admin/login", post(login::ask_for_link))
        .route(
            "/admin/auth",
            get(login::continue_page).post(login::use_link),
        )
        .route("/admin/logout", post(login::logout))
        .route("/admin/audit", get(audit::page))
        .route("/admin/console.css", get(stylesheet))
        .merge(people::routes())
        .merge(member::routes())
        .merge(payments::routes())
        .layer(axum::middleware::map_response_with_state(
            state,
            themed_errors,
        ))
}

/// What went wrong in the console, as a page that says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("the operator console is off: list operators in site.toml's [admin] emails")]
    Off,
    #[error("log in to the console first")]
    LoginRequired,
    #[error(
        "this form is out of date or did not come from the console (its CSRF token is missing or wrong): reload the page and try again"
    )]
    Csrf,
    #[error(
        "this form was sent from another site's page: console forms are taken only from the console's own pages"
    )]
    CrossSite,
    #[error("{0}")]
    BadForm(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("the server failed; the cause is in its log")]
    Internal(String),
}

impl ConsoleError {
    fn status(&self) -> StatusCode {
        match self {
            ConsoleError::Off | ConsoleError::NotFound(_) => StatusCode::NOT_FOUND,
            ConsoleError::LoginRequired => StatusCode::UNAUTHORIZED,
            ConsoleError::Csrf | ConsoleError::CrossSite => StatusCode::FORBIDDEN,
            ConsoleError::BadForm(_) | ConsoleError::Refused(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ConsoleError {
    fn from(error: StoreError) -> ConsoleError {
        ConsoleError::Internal(error.to_string())
    }
}

impl From<crate::server::ApiError> for ConsoleError {
    fn from(error: crate::server::ApiError) -> ConsoleError {
        match error {
            crate::server::ApiError::Internal(cause) => ConsoleError::Internal(cause),
            crate::server::ApiError::NotFound(message) => ConsoleError::NotFound(message),
            other => ConsoleError::Refused(other.to_string()),
        }
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        if let ConsoleError::Internal(cause) = &self {
            tracing::error!(%cause, "console request failed");
        }
        let status = self.status();
        let message = self.to_string();
        // A plain page, which `themed_errors` replaces with the theme's; it stands if the
        // theme cannot render.
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
             <meta name=\"robots\" content=\"noindex\"><title>{code}</title></head>\
             <body><main><h1>{code}</h1><p>{shown}</p></main></body></html>",
            code = status.as_u16(),
            shown = crate::render::escape(&message),
        );
        let mut response = (status, secure_headers(), Html(body)).into_response();
        response.extensions_mut().insert(ErrorPage(message));
        response
    }
}

/// The message of a console error page, for `themed_errors`.
#[derive(Debug, Clone)]
struct ErrorPage(String);

/// Renders console errors with the theme's `admin/message.html`, which links back to the
/// console: the error itself knows neither the theme nor where the console lives.
async fn themed_errors(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut response: Response,
) -> Response {
    let Some(ErrorPage(message)) = response.extensions_mut().remove::<ErrorPage>() else {
        return response;
    };
    let status = response.status();
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Refused",
        StatusCode::UNAUTHORIZED => "Log in first",
        StatusCode::BAD_REQUEST => "That did not work",
        _ => "Something went wrong",
    };
    let values = serde_json::json!({ "title": title, "message": message, "back": true });
    match render(&state, None, "admin/message.html", &values) {
        Ok(mut themed) => {
            *themed.status_mut() = status;
            themed
        }
        Err(_) => response,
    }
}

/// Refuses a console POST that a page of any origin but the console's own sent: the site's
/// pages may post logins to the API, but never a console form.
pub async fn own_origin_posts(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() == axum::http::Method::POST {
        let api_url = state.public_api_url();
        let mut origins = crate::server::csrf::Origins::new([api_url.as_str()]);
        if state.options.dev_preview {
            origins = origins.and_own_host();
        }
        if !origins.allows(request.headers()) {
            return ConsoleError::CrossSite.into_response();
        }
    }
    next.run(request).await
}

/// A 303 to `location` (a path of this API).
pub fn redirect(location: &str) -> Response {
    let value = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response()
}

/// The headers of every console page: no framing, no outside scripts, no referrer with a
/// member's email in its path, and nothing cached.
fn secure_headers() -> [(header::HeaderName, &'static str); 4] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             script-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ]
}

/// The values every console page gets.
#[derive(Serialize)]
struct Frame<'a> {
    site_title: &'a str,
    site_url: &'a str,
    /// `/_gate/admin`: links and forms are written under it.
    base: String,
    operator: Option<&'a str>,
    csrf: Option<&'a str>,
    now: i64,
}

/// Renders `template` for `operator` (None: the login pages) with `values` added.
pub fn render(
    state: &AppState,
    operator: Option<&Operator>,
    template: &str,
    values: &impl Serialize,
) -> Result<Response, ConsoleError> {
    let pages = state.pages()?;
    let frame = Frame {
        site_title: &state.config.title,
        site_url: &state.config.base_url,
        base: format!("{}/admin", state.base_path()),
        operator: operator.map(|o| o.email.as_str()),
        csrf: operator.map(|o| o.csrf.as_str()),
        now: jiff::Timestamp::now().as_second(),
    };
    let mut context = Context::from_serialize(&frame)
        .map_err(|e| ConsoleError::Internal(format!("console context: {e}")))?;
    let values = Context::from_serialize(values)
        .map_err(|e| ConsoleError::Internal(format!("console context: {e}")))?;
    context.extend(values);
    let html = pages
        .render(template, &context)
        .map_err(ConsoleError::Internal)?;
    Ok((secure_headers(), Html(html)).into_response())
}

/// `console.css`: the theme's `templates/admin/console.css`, served from the API so pages load
/// nothing from elsewhere.
async fn stylesheet(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Response, ConsoleError> {
    let pages = state.pages()?;
    if !pages.has("admin/console.css") {
        return Err(ConsoleError::NotFound("no console.css in the theme".into()));
    }
    let css = pages
        .render("admin/console.css", &Context::new())
        .map_err(ConsoleError::Internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        css,
    )
        .into_response())
}

impl AppState {
    /// The console's compiled templates.
    pub(crate) fn pages(&self) -> Result<&Arc<Pages>, ConsoleError> {
        self.pages.as_ref().ok_or(ConsoleError::Off)
    }

    pub(crate) fn console_cookie(&self) -> ConsoleCookie {
        ConsoleCookie::new(&self.public_api_url(), &self.base_path())
    }
}
