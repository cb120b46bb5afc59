//! `/api/v1/service-tokens`: long-lived, named tokens for sync jobs (admins only).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, Query};
use super::pagination::{self, After};
use crate::auth::{self, Caller, Principal, Role};
use crate::db::AnyConnection;
use crate::db::Db;
use crate::error::{AppError, FieldError, Problem};
use crate::models::accounts::CreateServiceToken;
use crate::models::accounts::{self, NewServiceToken, ServiceToken};

/// A service token as stored; its value is shown only once, when it is created.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceTokenResponse {
    /// Server-assigned id.
    pub id: i64,
    /// What the token is for.
    #[schema(example = "OParl sync Ratsinformationssystem Königsbrück")]
    pub name: String,
    /// Role the token acts with.
    pub role: Role,
    /// Partners the token acts for.
    pub partner_ids: Vec<i64>,
    /// The user who created it.
    pub created_by: Option<i64>,
    /// Created (UTC).
    #[serde(serialize_with = "super::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Expiry (UTC), if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revocation time (UTC); a revoked token is refused from the next request on.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The token value: present only in the answer to its creation. Store it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "ikz_st_3q2-7wAAAAB…", nullable = false)]
    pub token: Option<String>,
}

impl ServiceTokenResponse {
    fn new(token: ServiceToken, partner_ids: Vec<i64>, value: Option<String>) -> Self {
        Self {
            id: token.id,
            name: token.name,
            role: token.role.parse().unwrap_or(Role::Viewer),
            partner_ids,
            created_by: token.created_by,
            created_at: token.created_at.and_utc(),
            expires_at: token.expires_at.map(|t| t.and_utc()),
            revoked_at: token.revoked_at.map(|t| t.and_utc()),
            token: value,
        }
    }
}

/// One page of service tokens.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServiceTokenPage {
    /// The tokens of this page, by id (without values).
    pub items: Vec<ServiceTokenResponse>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("there is no service token with id {id}"))
}

fn check(conn: &mut AnyConnection, input: &CreateServiceToken) -> Result<(), AppError> {
    let mut errors = crate::models::partners::unknown_partner_errors(conn, "partner_ids", &input.partner_ids)?;
    if input.expires_at.is_some_and(|t| t <= Utc::now()) {
        errors.push(FieldError::new("expires_at", "in_past", "must lie in the future"));
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// List service tokens
#[utoipa::path(tag = "service-tokens", params(pagination::PageQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page of service tokens", body = ServiceTokenPage)))]
#[get("")]
pub async fn list_service_tokens(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<pagination::PageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "manage service tokens")?;
    let (limit, after) = query.0.by_id()?;
    let (items, next_cursor) = db
        .read(move |conn| {
            let rows = accounts::list_service_tokens(conn, after, limit)?;
            let (rows, next) = pagination::paginate(rows, limit, "id", |t| After { key: String::new(), id: t.id });
            let mut items = Vec::with_capacity(rows.len());
            for token in rows {
                let partners = accounts::service_token_partner_ids(conn, token.id)?;
                items.push(ServiceTokenResponse::new(token, partners, None));
            }
            Ok((items, next))
        })
        .await?;
    Ok(pagination::page_response(
        &req,
        next_cursor.as_deref(),
        &ServiceTokenPage { items, next_cursor: next_cursor.clone() },
    ))
}

/// Create a service token
///
/// The answer contains the token value (`token`) once; only a hash is stored.
#[utoipa::path(tag = "service-tokens", request_body = CreateServiceToken, security(("bearer" = [])), responses(
    (status = 201, description = "Created; `token` holds the value", body = ServiceTokenResponse,
     headers(("Location" = String, description = "URL of the new token"))),
))]
#[post("")]
pub async fn create_service_token(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<CreateServiceToken>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "manage service tokens")?;
    let created_by = match caller.principal {
        Principal::User { id, .. } => Some(id),
        _ => None,
    };
    let input = body.decode()?;
    let created = db
        .write(move |conn| {
            check(conn, &input)?;
            let (value, token_hash) = auth::new_service_token();
            let new = NewServiceToken {
                name: input.name,
                token_hash,
                role: input.role.as_str().into(),
                created_by,
                created_at: crate::models::now(),
                expires_at: input.expires_at.map(|t| t.naive_utc()),
            };
            let stored = accounts::insert_service_token(conn, &new, &input.partner_ids)?;
            Ok(ServiceTokenResponse::new(stored, input.partner_ids, Some(value)))
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/service-tokens/{}", created.id)))
        .insert_header(("Cache-Control", "no-store"))
        .json(created))
}

/// Get a service token (without its value)
#[utoipa::path(tag = "service-tokens", params(("id" = i64, Path, description = "Service token id")), security(("bearer" = [])), responses(
    (status = 200, description = "The token", body = ServiceTokenResponse),
    (status = 404, description = "No such token", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_service_token(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "manage service tokens")?;
    let id = id.into_inner();
    let token = db
        .read(move |conn| {
            let token = accounts::find_service_token(conn, id)?.ok_or_else(|| not_found(id))?;
            let partners = accounts::service_token_partner_ids(conn, id)?;
            Ok(ServiceTokenResponse::new(token, partners, None))
        })
        .await?;
    Ok(HttpResponse::Ok().json(token))
}

/// Revoke a service token
///
/// Takes effect on the next request made with it. Revoking twice is harmless. A token cannot
/// revoke itself (409): an admin job would lock itself out.
#[utoipa::path(tag = "service-tokens", params(("id" = i64, Path, description = "Service token id")), security(("bearer" = [])), responses(
    (status = 204, description = "Revoked"),
    (status = 404, description = "No such token", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "It is the token of this request", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn revoke_service_token(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "manage service tokens")?;
    let id = id.into_inner();
    if matches!(caller.principal, crate::auth::Principal::ServiceToken { id: own, .. } if own == id) {
        return Err(AppError::Conflict("a service token cannot revoke itself; revoke it with another token".into()));
    }
    db.write(move |conn| {
        accounts::find_service_token(conn, id)?.ok_or_else(|| not_found(id))?;
        accounts::revoke_service_token(conn, id, crate::models::now())?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the service token routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_service_tokens)
        .service(create_service_token)
        .service(get_service_token)
        .service(revoke_service_token);
}
