//! Errors as the API answers them: a status and `{"error": message}`, and
//! the reusable error responses of the OpenAPI document.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::openapi::{self, Ref, RefOr};
use utoipa::{IntoResponses, ToResponse, ToSchema};

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

/// Declares a documented error answer: a `ToResponse` component (the
/// error body, described by its doc line) and, for the `responses(...)` of
/// a handler's `#[utoipa::path]`, an `IntoResponses` of its one status that
/// refers to that component.
macro_rules! error_response {
    ($(#[$doc:meta])* $name:ident = $status:literal) => {
        $(#[$doc])*
        #[derive(ToResponse)]
        #[allow(dead_code)] // documentation only
        pub(super) struct $name(ErrorBody);

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<openapi::Response>> {
                let name = <$name as ToResponse>::response().0;
                let answer = RefOr::Ref(Ref::from_response_name(name));
                BTreeMap::from([($status.to_string(), answer)])
            }
        }
    };
}

error_response! {
    /// Bad request: malformed JSON, an unknown field, a bad value, an unknown app.
    BadRequest = "400"
}

error_response! {
    /// No token, or a token that matches no user.
    Unauthorized = "401"
}

error_response! {
    /// Not allowed for this user.
    Forbidden = "403"
}

error_response! {
    /// No such ticket, app, user, report file or endpoint.
    NotFound = "404"
}

error_response! {
    /// Not possible in this state, a name already taken, or an idempotency key
    /// reused with other parameters.
    Conflict = "409"
}

error_response! {
    /// A node or the store cannot be reached now; trying again later may work.
    Unavailable = "503"
}

error_response! {
    /// Internal error (the service log has the details).
    Internal = "500"
}
