//! `AppError`: every failure a handler can return, rendered as RFC 9457 `application/problem+json`.
//!
//! Invariants: each kind has a stable `type` URI (`/problems/<slug>`) that clients may switch on;
//! a 500 never reveals its cause to the client (it is logged with the request path instead);
//! `instance` is filled with the request path by `startup::problem_instance`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use serde::Serialize;
use utoipa::ToSchema;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// RFC 9457 problem details, the body of every error response.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/problems/validation",
    "title": "Validation failed",
    "status": 422,
    "detail": "2 fields are invalid",
    "instance": "/api/v1/partners",
    "errors": [
        {"field": "ags", "code": "ags", "message": "must be exactly 8 digits (Amtlicher Gemeindeschlüssel)"},
        {"field": "website", "code": "url", "message": "must be an http or https URL"}
    ]
}))]
pub struct Problem {
    /// Stable identifier of the problem kind, e.g. `/problems/validation`; switch on this.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short human summary of the problem kind.
    pub title: String,
    /// HTTP status code, repeated for convenience.
    pub status: u16,
    /// Human explanation of this occurrence.
    pub detail: String,
    /// Path of the request that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request's `X-Request-Id`, to quote when asking for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub request_id: Option<String>,
    /// For validation problems: every offending field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldError>,
}

/// One offending field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// For imports: the row of the file (CSV: the header is row 1, as a spreadsheet counts;
    /// NDJSON: the line).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    pub row: Option<usize>,
    /// Field name or path, e.g. `name` or `council_refs[2]`; a query parameter's name for 400s;
    /// `row` for an import row as a whole.
    pub field: String,
    /// Machine-readable rule that failed, e.g. `length`, `required`, `unknown_field`, `invalid_type`.
    pub code: String,
    /// Human explanation.
    pub message: String,
}

impl FieldError {
    /// Builds a field error from its three parts.
    pub fn new(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { row: None, field: field.into(), code: code.into(), message: message.into() }
    }

    /// The same error, found in row `row` of an import.
    pub fn in_row(mut self, row: usize) -> Self {
        self.row = Some(row);
        self
    }
}

/// Every error a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the request cannot be read (malformed JSON, bad query parameter, bad cursor).
    #[error("{detail}")]
    BadRequest { slug: &'static str, detail: String, errors: Vec<FieldError> },
    /// 422: the request was read but its content breaks the rules; lists every offending field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// 401: no, or no valid, credentials; answered with `WWW-Authenticate: Bearer`.
    #[error("{detail}")]
    Unauthorized { detail: String, invalid_token: bool },
    /// 403: authenticated, but without the right for this action; the detail names the right.
    #[error("{0}")]
    Forbidden(String),
    /// 429: too many failed attempts; retry after the given number of seconds.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: i64 },
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with stored data (duplicate key, referenced row).
    #[error("{0}")]
    Conflict(String),
    /// 409 that also names the fields behind the conflict (e.g. scores missing for a transition).
    #[error("{detail}")]
    ConflictFields { detail: String, errors: Vec<FieldError> },
    /// 410: a change-feed cursor from before the oldest change kept.
    #[error("{0}")]
    CursorExpired(String),
    /// 422: an `Idempotency-Key` sent again with another request.
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// 422: an import with invalid rows (nothing was imported); lists every offending row and cell.
    #[error("{detail}")]
    ImportInvalid { detail: String, errors: Vec<FieldError> },
    /// 409: the first request with this `Idempotency-Key` is still running.
    #[error("{0}")]
    IdempotencyKeyInProgress(String),
    /// 412: `If-Match` did not match the current version.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: the body is larger than `IKZ_MAX_BODY_BYTES`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 503: the database is busy or unreachable; the client may retry.
    #[error("{0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected failure; the cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// 405: the path exists, the method does not; `Allow` lists the methods that do.
    #[error("{method} is not supported here; allowed: {allowed}")]
    MethodNotAllowed { method: String, allowed: String },
    /// Any other status (405, …) produced by the framework, with its own detail.
    #[error("{detail}")]
    Other { status: StatusCode, detail: String },
}

impl AppError {
    /// 400 for a query parameter (or other non-body input) that cannot be used.
    pub fn bad_parameter(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::BadRequest {
            slug: "invalid-parameter",
            detail: format!("query parameter `{field}` {message}"),
            errors: vec![FieldError::new(field, "invalid_parameter", message)],
        }
    }

    /// 422 for a single field.
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    fn slug_title(&self) -> (&'static str, &'static str) {
        match self {
            Self::BadRequest { slug, .. } => (slug, "Bad request"),
            Self::Validation(_) => ("validation", "Validation failed"),
            Self::Unauthorized { .. } => ("unauthorized", "Unauthorized"),
            Self::Forbidden(_) => ("forbidden", "Forbidden"),
            Self::TooManyRequests { .. } => ("too-many-requests", "Too many requests"),
            Self::NotFound(_) => ("not-found", "Not found"),
            Self::Conflict(_) | Self::ConflictFields { .. } => ("conflict", "Conflict"),
            Self::CursorExpired(_) => ("cursor-expired", "Cursor expired"),
            Self::IdempotencyKeyReused(_) => ("idempotency-key-reused", "Idempotency key reused"),
            Self::IdempotencyKeyInProgress(_) => ("idempotency-key-in-progress", "Idempotency key in progress"),
            Self::ImportInvalid { .. } => ("import-invalid", "Import invalid"),
            Self::PreconditionFailed(_) => ("precondition-failed", "Precondition failed"),
            Self::PayloadTooLarge(_) => ("payload-too-large", "Payload too large"),
            Self::UnsupportedMediaType(_) => ("unsupported-media-type", "Unsupported media type"),
            Self::Unavailable(_) => ("unavailable", "Service unavailable"),
            Self::Internal(_) => ("internal", "Internal server error"),
            Self::MethodNotAllowed { .. } => ("method-not-allowed", "Method not allowed"),
            Self::Other { status, .. } => match *status {
                StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
                StatusCode::NOT_ACCEPTABLE => ("not-acceptable", "Not acceptable"),
                _ => ("http", "HTTP error"),
            },
        }
    }

    /// The problem body for this error, without `instance`.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.slug_title();
        let status = self.status_code();
        let (detail, errors) = match self {
            Self::BadRequest { detail, errors, .. }
            | Self::ConflictFields { detail, errors }
            | Self::ImportInvalid { detail, errors } => (detail.clone(), errors.clone()),
            Self::Validation(errors) => {
                let detail = match errors.as_slice() {
                    [one] => format!("`{}` {}", one.field, one.message),
                    many => format!("{} fields are invalid", many.len()),
                };
                (detail, errors.clone())
            }
            Self::Internal(_) => ("The server failed to handle the request; the cause is logged.".into(), vec![]),
            other => (other.to_string(), vec![]),
        };
        Problem {
            problem_type: format!("/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            instance: None,
            request_id: None,
            errors,
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) | Self::ConflictFields { .. } => StatusCode::CONFLICT,
            Self::CursorExpired(_) => StatusCode::GONE,
            Self::IdempotencyKeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::IdempotencyKeyInProgress(_) => StatusCode::CONFLICT,
            Self::ImportInvalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Other { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = problem_response(&self.problem());
        let extra = match self {
            Self::Unauthorized { invalid_token: false, .. } => {
                Some((header::WWW_AUTHENTICATE, r#"Bearer realm="ikz-api""#.to_owned()))
            }
            Self::Unauthorized { invalid_token: true, detail } => Some((
                header::WWW_AUTHENTICATE,
                format!(
                    r#"Bearer realm="ikz-api", error="invalid_token", error_description="{}""#,
                    detail.replace('"', "'")
                ),
            )),
            Self::TooManyRequests { retry_after, .. } => Some((header::RETRY_AFTER, retry_after.to_string())),
            Self::MethodNotAllowed { allowed, .. } => Some((header::ALLOW, allowed.clone())),
            _ => None,
        };
        if let Some((name, value)) = extra
            && let Ok(value) = header::HeaderValue::from_str(&value)
        {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// Renders a problem as an HTTP response with the problem+json media type.
pub fn problem_response(problem: &Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    builder.content_type(PROBLEM_JSON);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        builder.insert_header((header::RETRY_AFTER, "1"));
    }
    builder.body(serde_json::to_string(problem).unwrap_or_default())
}

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => Self::NotFound("no such resource".into()),
            DieselError::DatabaseError(kind, info) => match kind {
                DatabaseErrorKind::UniqueViolation => {
                    Self::Conflict("the request conflicts with an existing record (duplicate value)".into())
                }
                DatabaseErrorKind::ForeignKeyViolation => Self::Conflict(
                    "the request conflicts with related records (a referenced record is missing or still in use)"
                        .into(),
                ),
                DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
                    Self::Validation(vec![FieldError::new(
                        info.column_name().unwrap_or("body"),
                        "constraint",
                        format!("violates a database rule: {}", info.message()),
                    )])
                }
                DatabaseErrorKind::SerializationFailure => {
                    Self::Unavailable("a concurrent change interfered; retry the request".into())
                }
                _ if is_busy(info.message()) => Self::Unavailable("the database is busy; retry the request".into()),
                _ => Self::Internal(format!("database error: {}", info.message())),
            },
            other => Self::Internal(format!("database error: {other}")),
        }
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

impl From<r2d2::Error> for AppError {
    fn from(err: r2d2::Error) -> Self {
        log::warn!("database pool: {err}");
        Self::Unavailable("no database connection available; retry the request".into())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::Internal(format!("blocking task failed: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problem_has_pinned_json() {
        let err = AppError::Validation(vec![
            FieldError::new("name", "length", "must be 1 to 200 characters"),
            FieldError::new("ags", "ags", "must be exactly 8 digits"),
        ]);
        let json = serde_json::to_value(err.problem()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "/problems/validation",
                "title": "Validation failed",
                "status": 422,
                "detail": "2 fields are invalid",
                "errors": [
                    {"field": "name", "code": "length", "message": "must be 1 to 200 characters"},
                    {"field": "ags", "code": "ags", "message": "must be exactly 8 digits"}
                ]
            })
        );
    }

    #[test]
    fn internal_problem_hides_its_cause() {
        let json = serde_json::to_value(AppError::Internal("secret password in url".into()).problem()).unwrap();
        assert_eq!(json["status"], 500);
        assert_eq!(json["type"], "/problems/internal");
        assert!(!json.to_string().contains("secret"));
    }

    #[test]
    fn each_kind_has_its_status_and_type() {
        let cases = [
            (AppError::bad_parameter("limit", "must be 1 to 200"), 400, "/problems/invalid-parameter"),
            (AppError::Unauthorized { detail: "x".into(), invalid_token: true }, 401, "/problems/unauthorized"),
            (AppError::Forbidden("x".into()), 403, "/problems/forbidden"),
            (AppError::TooManyRequests { detail: "x".into(), retry_after: 9 }, 429, "/problems/too-many-requests"),
            (AppError::NotFound("no partner 7".into()), 404, "/problems/not-found"),
            (AppError::Conflict("dup".into()), 409, "/problems/conflict"),
            (AppError::PreconditionFailed("etag".into()), 412, "/problems/precondition-failed"),
            (AppError::PayloadTooLarge("big".into()), 413, "/problems/payload-too-large"),
            (AppError::UnsupportedMediaType("xml".into()), 415, "/problems/unsupported-media-type"),
            (AppError::Unavailable("busy".into()), 503, "/problems/unavailable"),
        ];
        for (err, status, ty) in cases {
            let p = err.problem();
            assert_eq!((p.status, p.problem_type.as_str()), (status, ty));
        }
    }

    #[test]
    fn unauthorized_and_throttled_answers_carry_their_headers() {
        let missing = AppError::Unauthorized { detail: "no token".into(), invalid_token: false }.error_response();
        assert_eq!(missing.headers().get(header::WWW_AUTHENTICATE).unwrap(), r#"Bearer realm="ikz-api""#);
        let bad =
            AppError::Unauthorized { detail: "the token has expired".into(), invalid_token: true }.error_response();
        assert!(
            bad.headers().get(header::WWW_AUTHENTICATE).unwrap().to_str().unwrap().contains(r#"error="invalid_token""#)
        );
        let throttled = AppError::TooManyRequests { detail: "wait".into(), retry_after: 42 }.error_response();
        assert_eq!(throttled.headers().get(header::RETRY_AFTER).unwrap(), "42");
    }

    #[test]
    fn sqlite_busy_maps_to_503_not_500() {
        assert!(is_busy("database is locked"));
        assert!(!is_busy("no such table: partners"));
    }
}
