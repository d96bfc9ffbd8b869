//! One table maps every API error to an HTTP status, a stable code and a message (naming the
//! field when the input is at fault).
//!
//! | code | status | when |
//! |---|---|---|
//! | `invalid` | 400 | a field is missing or out of range (`field` names it) |
//! | `unauthorized` | 401 | no credentials, or they are not valid |
//! | `forbidden` | 403 | the role does not allow it |
//! | `not_found` | 404 | no such object |
//! | `locked` | 423 | too many failed logins: wait `SERVER_LOGIN_FAILED_DISABLE_TIME` |
//! | `internal` | 500 | the database or the host failed |

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API error: status, stable code, message, and the field at fault.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    /// HTTP status.
    #[serde(skip)]
    pub status: StatusCode,
    /// Stable machine-readable code (see the table above).
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem, when there are several (e.g. a provisioning set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<serde_json::Value>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            details: Vec::new(),
        }
    }

    /// 400: `field` is wrong.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.to_owned()),
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid", message)
        }
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 423.
    pub fn locked(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::LOCKED, "locked", message)
    }

    /// 500.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<tollswitch_storage::StorageError> for ApiError {
    fn from(e: tollswitch_storage::StorageError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self)).into_response()
    }
}
