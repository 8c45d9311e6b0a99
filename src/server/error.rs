//! `ApiError`: every failure of the HTTP API as `{"error": code, "message": text}` with its
//! status (DESIGN §6). 4xx messages say what to fix; 5xx log the cause and say only that the
//! server failed, so no internal detail (or secret) reaches a client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("log in first")]
    LoginRequired,
    #[error("wrong email or password")]
    BadCredentials,
    #[error("this login link is used, expired or unknown; ask for a new one")]
    BadLink,
    #[error("missing or wrong admin token: send `Authorization: Bearer <GATEHOUSE_ADMIN_TOKEN>`")]
    AdminToken,
    #[error("the admin API is off: set GATEHOUSE_ADMIN_TOKEN when starting `gatehouse edge`")]
    AdminDisabled,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error(
        "this request came from another site's page: the API takes logins, logouts and changes only from the site's own pages (base_url, edge_url, --allow-origin)"
    )]
    CrossSite,
    #[error("too many logins are being checked right now; try again in {retry_after} s")]
    Busy { retry_after: u64 },
    #[error("the server failed; the cause is in its log")]
    Internal(String),
    #[error("the member database is unavailable")]
    Unavailable,
    #[error(
        "Stripe webhooks are off: set GATEHOUSE_STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_…) when starting `gatehouse edge`"
    )]
    WebhooksOff,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::LoginRequired | ApiError::BadCredentials | ApiError::AdminToken => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::BadLink => StatusCode::GONE,
            ApiError::CrossSite => StatusCode::FORBIDDEN,
            ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::AdminDisabled | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable | ApiError::WebhooksOff => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::LoginRequired => "login_required",
            ApiError::BadCredentials => "bad_credentials",
            ApiError::BadLink => "bad_link",
            ApiError::AdminToken => "admin_token",
            ApiError::AdminDisabled => "admin_disabled",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::CrossSite => "cross_site",
            ApiError::Busy { .. } => "busy",
            ApiError::Internal(_) => "internal",
            ApiError::Unavailable => "unavailable",
            ApiError::WebhooksOff => "webhooks_off",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::MemberExists(email) => {
                ApiError::Conflict(format!("a member with email {email} already exists"))
            }
            StoreError::NoMember(email) => {
                ApiError::NotFound(format!("no member with email {email}"))
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let body = Json(json!({ "error": self.code(), "message": self.to_string() }));
        let mut response = (status, body).into_response();
        if let ApiError::RateLimited { retry_after } | ApiError::Busy { retry_after } = self
            && let Ok(value) = retry_after.to_string().parse()
        {
            response.headers_mut().insert("retry-after", value);
        }
        if matches!(self, ApiError::Busy { .. }) {
            response.extensions_mut().insert(Deliberate);
        }
        response
    }
}

/// Marks a 5xx the server chose (the password gate is full), which is no failure: it is not
/// counted in `gatehouse_server_errors_total` nor logged as an error.
#[derive(Debug, Clone, Copy)]
pub struct Deliberate;
