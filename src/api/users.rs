//! `/api/v1/users`: local accounts (admins only). Passwords are write-only.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::etag;
use super::extract::{IfMatch, JsonBody, MergePatch, Query};
use super::pagination::{self, After};
use crate::auth::{self, Caller, Principal, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::accounts::{self, User};
use crate::models::users::{CreateUser, HashedAhead, is_active_admin, keep_an_admin, save};

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
    #[serde(serialize_with = "super::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    #[serde(serialize_with = "super::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Only in the answer to a `PATCH` in which an account changed its own password: a new token
    /// for the caller, since the change ended every token issued before it (the one just used too).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(nullable = false)]
    pub access_token: Option<super::auth::TokenResponse>,
}

impl UserResponse {
    fn new(user: User, partner_ids: Vec<i64>) -> Self {
        Self {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            email: user.email,
            role: user.role.parse().unwrap_or(Role::Viewer),
            partner_ids,
            active: user.active,
            created_at: user.created_at.and_utc(),
            updated_at: user.updated_at.and_utc(),
            access_token: None,
        }
    }
}

/// What an account may change of itself without being an admin.
const OWN_FIELDS: [&str; 3] = ["password", "display_name", "email"];

/// Whether `caller` is the account `id`.
fn is_own(caller: &Caller, id: i64) -> bool {
    matches!(caller.principal, Principal::User { id: me, .. } if me == id)
}

/// An admin cannot lock themselves out: no demotion, deactivation or deletion of one's own account.
fn refuse_self_lockout(action: &str) -> AppError {
    AppError::Conflict(format!("you cannot {action} your own account; ask another admin"))
}

/// One page of accounts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    /// The accounts of this page, by id.
    pub items: Vec<UserResponse>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("there is no user with id {id}"))
}

/// Hashes `password`, if any, on a blocking thread.
pub async fn hash_ahead(password: Option<String>) -> Result<Option<HashedAhead>, AppError> {
    let Some(plain) = password else { return Ok(None) };
    web::block(move || Ok(Some(HashedAhead { hash: auth::hash_password(&plain)?, plain }))).await?
}

fn respond(mut builder: actix_web::HttpResponseBuilder, user: UserResponse) -> HttpResponse {
    builder.insert_header((header::ETAG, etag(user.updated_at.naive_utc())));
    super::json_response(builder, &user)
}

/// List users
#[utoipa::path(tag = "users", params(pagination::PageQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page of users", body = UserPage)))]
#[get("")]
pub async fn list_users(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<pagination::PageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "manage users")?;
    let (limit, after) = query.0.by_id()?;
    let (rows, next_cursor) = db
        .read(move |conn| {
            let rows = accounts::list_users(conn, after, limit)?;
            let (rows, next) = pagination::paginate(rows, limit, "id", |u| After { key: String::new(), id: u.id });
            let mut items = Vec::with_capacity(rows.len());
            for user in rows {
                let partners = accounts::user_partner_ids(conn, user.id)?;
                items.push(UserResponse::new(user, partners));
            }
            Ok((items, next))
        })
        .await?;
    Ok(pagination::page_response(
        &req,
        next_cursor.as_deref(),
        &UserPage { items: rows, next_cursor: next_cursor.clone() },
    ))
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
    let (user, partner_ids) = db.write(move |conn| save(conn, input, None, ahead)).await?;
    let user = UserResponse::new(user, partner_ids);
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/users/{}", user.id)));
    Ok(respond(response, user))
}

/// Get a user
#[utoipa::path(tag = "users", params(("id" = i64, Path, description = "User id")), security(("bearer" = [])), responses(
    (status = 200, description = "The user", body = UserResponse),
    (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_user(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    if !is_own(&caller, id) {
        caller.require(Role::Admin, "see other users")?;
    }
    let user = db
        .read(move |conn| {
            let user = accounts::find_user(conn, id)?.ok_or_else(|| not_found(id))?;
            let partners = accounts::user_partner_ids(conn, id)?;
            Ok(UserResponse::new(user, partners))
        })
        .await?;
    Ok(respond(HttpResponse::Ok(), user))
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
    req: HttpRequest,
    db: web::Data<Db>,
    authenticator: web::Data<crate::auth::Authenticator>,
    caller: Caller,
    id: web::Path<i64>,
    patch: MergePatch,
) -> Result<HttpResponse, AppError> {
    let (id, if_match) = (id.into_inner(), IfMatch::from_request(&req));
    let own = is_own(&caller, id);
    if !(own && patch.0.keys().all(|k| OWN_FIELDS.contains(&k.as_str()))) {
        caller.require(Role::Admin, "manage users")?;
    }
    let new_password = patch.0.get("password").and_then(|p| p.as_str()).map(str::to_owned);
    let fresh_token = own && new_password.is_some();
    let ahead = hash_ahead(new_password).await?;
    let (mut user, stored) = db
        .write(move |conn| {
            crate::db::lock_row(conn, crate::db::Locked::Users, id)?;
            let current = accounts::find_user(conn, id)?.ok_or_else(|| not_found(id))?;
            let base = UserResponse::new(current.clone(), accounts::user_partner_ids(conn, id)?);
            let base = serde_json::json!({
                "username": base.username, "display_name": base.display_name, "email": base.email,
                "role": base.role, "partner_ids": base.partner_ids, "active": base.active,
            });
            let input: CreateUser = patch.apply(&base)?;
            if_match.check(&etag(current.updated_at))?;
            if own && is_active_admin(&current) {
                if input.role != Role::Admin {
                    return Err(refuse_self_lockout("demote"));
                }
                if !input.active {
                    return Err(refuse_self_lockout("deactivate"));
                }
            }
            let (saved, partner_ids) = save(conn, input, Some(&current), ahead)?;
            // The stored row, with its new credentials version, is what a fresh token is issued for.
            let stored = fresh_token.then(|| saved.clone());
            Ok((UserResponse::new(saved, partner_ids), stored))
        })
        .await?;
    if let Some(stored) = stored {
        user.access_token = Some(super::auth::TokenResponse {
            access_token: authenticator.tokens.issue(&stored, user.partner_ids.clone())?,
            token_type: "Bearer".into(),
            expires_in: authenticator.tokens.ttl_seconds(),
        });
        let mut response = HttpResponse::Ok();
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        return Ok(respond(response, user));
    }
    Ok(respond(HttpResponse::Ok(), user))
}

/// Delete a user
#[utoipa::path(tag = "users", params(("id" = i64, Path, description = "User id")), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "No active admin would remain, or it is the caller's own account", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn delete_user(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "manage users")?;
    let (id, if_match) = (id.into_inner(), IfMatch::from_request(&req));
    if is_own(&caller, id) {
        return Err(refuse_self_lockout("delete"));
    }
    db.write(move |conn| {
        crate::db::lock_row(conn, crate::db::Locked::Users, id)?;
        let user = accounts::find_user(conn, id)?.ok_or_else(|| not_found(id))?;
        if_match.check(&etag(user.updated_at))?;
        accounts::delete_user(conn, id)?;
        if is_active_admin(&user) { keep_an_admin(conn) } else { Ok(()) }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the user routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_users).service(create_user).service(get_user).service(update_user).service(delete_user);
}
