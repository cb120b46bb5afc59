//! `/api/v1/service-tokens`: long-lived, named tokens for sync jobs (admins only).

use crate::db::Timestamp;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, Query};
use super::{pagination, respond};
use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::accounts::CreateServiceToken;
use crate::models::now;
use crate::models::service_tokens::{self as model, ServiceTokenRecord};

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
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Expiry (UTC), if any.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    /// Revocation time (UTC); a revoked token is refused from the next request on.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
    /// The token value: present only in the answer to its creation. Store it now.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "ikz_st_3q2-7wAAAAB…", nullable = false)]
    pub token: Option<String>,
}

impl ServiceTokenResponse {
    pub(crate) fn new(record: ServiceTokenRecord) -> Self {
        let ServiceTokenRecord { token, partner_ids, value } = record;
        Self {
            id: token.id,
            name: token.name,
            role: token.role,
            partner_ids,
            created_by: token.created_by,
            created_at: token.created_at,
            expires_at: token.expires_at,
            revoked_at: token.revoked_at,
            token: value,
        }
    }
}

/// A page of this list, documented under the schema name clients were generated with.
pub type ServiceTokenPage = respond::Page<ServiceTokenResponse>;

impl respond::Listed for ServiceTokenResponse {
    const PAGE: &'static str = "ServiceTokenPage";
    const PLURAL: &'static str = "service tokens";
    const ITEMS: &'static str = "The tokens of this page, by id (without values).";
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
    let (records, next_cursor) = db.read(move |conn| model::page(conn, after, limit)).await?;
    Ok(respond::page(&req, records.into_iter().map(ServiceTokenResponse::new).collect(), next_cursor))
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
    let input = body.decode()?;
    let record = db.write(move |conn| model::create(conn, &caller, input, now())).await?;
    let created = ServiceTokenResponse::new(record);
    let mut builder = HttpResponse::Created();
    builder
        .insert_header((header::LOCATION, format!("/api/v1/service-tokens/{}", created.id)))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(respond::json(builder, &created))
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
    let record = db.read(move |conn| model::get(conn, id)).await?;
    Ok(respond::json(HttpResponse::Ok(), &ServiceTokenResponse::new(record)))
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
    db.write(move |conn| model::revoke(conn, &caller, id, now())).await?;
    Ok(respond::deleted())
}

/// Registers the service token routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_service_tokens)
        .service(create_service_token)
        .service(get_service_token)
        .service(revoke_service_token);
}
