//! `/api/v1/users`: local accounts (admins only). Passwords are write-only.

use crate::db::Timestamp;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, Query};
use super::pagination;
use super::respond::{self, Listed, Versioned};
use crate::auth::{self, Caller, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::record::{IfMatch, Patch, etag};
use crate::models::users::{self, CreateUser, HashedAhead, UserRecord};

/// An account (never with its password).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserResponse {
    /// Server-assigned id.
    pub id: i64,
    /// Login name.
    #[schema(example = "m.mustermann")]
    pub username: String,
    /// Name shown to people.
    #[schema(example = "Maria Mustermann")]
    pub display_name: Option<String>,
    /// E-mail address.
    #[schema(example = "m.mustermann@koenigsbrueck.example.org")]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// Partners this account acts for (what an editor may write).
    pub partner_ids: Vec<i64>,
    /// Deactivated accounts cannot log in, and their tokens stop working at once.
    pub active: bool,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// Only in the answer to a `PATCH` in which an account changed its own password: a new token
    /// for the caller, since the change ended every token issued before it (the one just used too).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(nullable = false)]
    pub access_token: Option<super::auth::TokenResponse>,
}

impl UserResponse {
    pub(crate) fn new(record: UserRecord) -> Self {
        let UserRecord { user, partner_ids } = record;
        Self {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            email: user.email,
            role: user.role,
            partner_ids,
            active: user.active,
            created_at: user.created_at,
            updated_at: user.updated_at,
            access_token: None,
        }
    }
}

impl Versioned for UserResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of this list, documented under the schema name clients were generated with.
pub type UserPage = respond::Page<UserResponse>;

impl Listed for UserResponse {
    const PAGE: &'static str = "UserPage";
    const PLURAL: &'static str = "accounts";
    const ITEMS: &'static str = "The accounts of this page, by id.";
}

/// Hashes `password`, if any, on a blocking thread.
pub async fn hash_ahead(password: Option<String>) -> Result<Option<HashedAhead>, AppError> {
    let Some(plain) = password else { return Ok(None) };
    web::block(move || Ok(Some(HashedAhead { hash: auth::hash_password(&plain)?, plain }))).await?
}

/// List users
#[utoipa::path(tag = "users", params(pagination::ChangedPageQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page of users", body = UserPage)))]
#[get("")]
pub async fn list_users(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<pagination::ChangedPageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "manage users")?;
    let (limit, after, since) = query.0.by_id()?;
    let (records, next_cursor) = db.read(move |conn| users::page(conn, after, limit, since)).await?;
    Ok(respond::page(&req, records.into_iter().map(UserResponse::new).collect(), next_cursor))
}

/// Create a user
#[utoipa::path(tag = "users", request_body = CreateUser, security(("bearer" = [])), responses(
    (status = 201, description = "Created", body = UserResponse, headers(("Location" = String, description = "URL of the new user"))),
    (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
))]
#[post("")]
pub async fn create_user(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<CreateUser>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "manage users")?;
    let input = body.decode()?;
    let ahead = hash_ahead(input.password.clone()).await?;
    let record = db.write(move |conn| users::create(conn, &caller, input, ahead)).await?;
    let user = UserResponse::new(record);
    Ok(respond::created(format!("/api/v1/users/{}", user.id), &user))
}

/// Get a user
#[utoipa::path(tag = "users", params(("id" = i64, Path, description = "User id")), security(("bearer" = [])), responses(
    (status = 200, description = "The user", body = UserResponse),
    (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_user(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    if !users::is_own(&caller, id) {
        caller.require(Role::Admin, "see other users")?;
    }
    let record = db.read(move |conn| users::get(conn, id)).await?;
    Ok(respond::record(&UserResponse::new(record)))
}

/// Update a user (JSON Merge Patch)
///
/// Admins change any account; every account may change its own `password`, `display_name` and
/// `email`. `password` sets a new password and ends every token issued before it; when the
/// caller changed their own password, the answer carries a fresh `access_token`. `partner_ids`
/// replaces the scope. Refused (409) if no active admin would remain, or if an admin would
/// demote or deactivate their own account.
#[utoipa::path(tag = "users", params(("id" = i64, Path, description = "User id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on")),
    request_body(content = CreateUser, content_type = "application/merge-patch+json",
        description = "Any subset of the fields; `null` clears `display_name` or `email`"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Updated", body = UserResponse),
    (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Username taken, no active admin would remain, or an admin would lock themselves out", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_user(
    db: web::Data<Db>,
    authenticator: web::Data<crate::auth::Authenticator>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    users::may_change(&caller, id, &patch)?;
    let new_password = patch.0.get("password").and_then(|p| p.as_str()).map(str::to_owned);
    let fresh_token = users::is_own(&caller, id) && new_password.is_some();
    let ahead = hash_ahead(new_password).await?;
    let record = db.write(move |conn| users::update(conn, &caller, id, patch, &if_match, ahead)).await?;
    // The stored row, with its new credentials version, is what a fresh token is issued for.
    let stored = fresh_token.then(|| record.user.clone());
    let mut user = UserResponse::new(record);
    let Some(stored) = stored else { return Ok(respond::record(&user)) };
    user.access_token = Some(super::auth::TokenResponse {
        access_token: authenticator.tokens.issue(&stored, user.partner_ids.clone())?,
        token_type: "Bearer".into(),
        expires_in: authenticator.tokens.ttl_seconds(),
    });
    let mut response = respond::record(&user);
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Delete a user
#[utoipa::path(tag = "users", params(("id" = i64, Path, description = "User id")), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "No active admin would remain, or it is the caller's own account", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn delete_user(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "manage users")?;
    let id = id.into_inner();
    db.write(move |conn| users::delete(conn, &caller, id, &if_match)).await?;
    Ok(respond::deleted())
}

/// Registers the user routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_users).service(create_user).service(get_user).service(update_user).service(delete_user);
}
