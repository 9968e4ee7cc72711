//! Errors as the API answers them: a status and `{"error": message}`, and
//! the reusable error responses of the OpenAPI document.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

use crate::error::{Error, ErrorKind};
use crate::ticket::TransitionError;

/// An error as the API answers it: a status and `{"error": message}`.
/// Internal errors are logged and answered with a generic message.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        ApiError(e)
    }
}

impl From<TransitionError> for ApiError {
    fn from(e: TransitionError) -> ApiError {
        ApiError(match e {
            TransitionError::Forbidden(m) => Error::forbidden(m),
            TransitionError::Invalid(m) => Error::conflict(m),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self.0.kind {
            ErrorKind::BadRequest => (StatusCode::BAD_REQUEST, self.0.message),
            ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, self.0.message),
            ErrorKind::Forbidden => (StatusCode::FORBIDDEN, self.0.message),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, self.0.message),
            ErrorKind::Conflict => (StatusCode::CONFLICT, self.0.message),
            ErrorKind::Transient => (StatusCode::SERVICE_UNAVAILABLE, self.0.message),
            ErrorKind::Internal => {
                crate::service::log(&format!("internal error: {}", self.0.message));
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error (the service log has the details)".to_string(),
                )
            }
        };
        (status, Json(ErrorBody { error: message })).into_response()
    }
}

/// What a handler returns: a response, or an error answered as JSON.
pub(super) type ApiResult<T = Response> = std::result::Result<T, ApiError>;

/// The body of every error answer (4xx or 5xx).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error, example = json!({"error": "a submitter cannot approve tickets"}))]
pub(super) struct ErrorBody {
    /// What went wrong, for people.
    pub(super) error: String,
}

/// Bad request: malformed JSON, an unknown field, a bad value, an unknown app.
#[derive(ToResponse)]
#[allow(dead_code)] // documentation only
pub(super) struct BadRequest(ErrorBody);

/// No token, or a token that matches no user.
#[derive(ToResponse)]
#[allow(dead_code)] // documentation only
pub(super) struct Unauthorized(ErrorBody);

/// Not allowed for this user.
#[derive(ToResponse)]
#[allow(dead_code)] // documentation only
pub(super) struct Forbidden(ErrorBody);

/// No such ticket, app, user, report file or endpoint.
#[derive(ToResponse)]
#[allow(dead_code)] // documentation only
pub(super) struct NotFound(ErrorBody);

/// Not possible in this state, a name already taken, or an idempotency key
/// reused with other parameters.
#[derive(ToResponse)]
#[allow(dead_code)] // documentation only
pub(super) struct Conflict(ErrorBody);

/// A node or the store cannot be reached now; trying again later may work.
#[derive(ToResponse)]
#[allow(dead_code)] // documentation only
pub(super) struct Unavailable(ErrorBody);

/// Internal error (the service log has the details).
#[derive(ToResponse)]
#[allow(dead_code)] // documentation only
pub(super) struct Internal(ErrorBody);
