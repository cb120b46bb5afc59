//! `/api/v1/fields`: the fields of action (Öffentlichkeitsarbeit, Bauhof, Feuerwehr, …).

use crate::db::Timestamp;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, Query};
use super::pagination;
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::fields::CreateField;
use crate::models::fields::{self as model, Field};
use crate::models::now;
use crate::models::record::{IfMatch, Patch, etag};

/// A field of action.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FieldResponse {
    /// Server-assigned id.
    #[schema(example = 4)]
    pub id: i64,
    /// Stable key for clients, e.g. `bauhof`; never changes.
    #[schema(example = "bauhof")]
    pub key: String,
    /// German name.
    #[schema(example = "Bauhof")]
    pub name_de: String,
    /// English name.
    #[schema(example = "Municipal building yard")]
    pub name_en: String,
    /// What the field covers.
    pub description: Option<String>,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<Field> for FieldResponse {
    fn from(f: Field) -> Self {
        Self {
            id: f.id,
            key: f.key,
            name_de: f.name_de,
            name_en: f.name_en,
            description: f.description,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

impl Versioned for FieldResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of this list, documented under the schema name clients were generated with.
pub type FieldPage = respond::Page<FieldResponse>;

impl Listed for FieldResponse {
    const PAGE: &'static str = "FieldPage";
    const PLURAL: &'static str = "fields";
    const ITEMS: &'static str = "The fields of this page, by id.";
}

/// List fields of action
#[utoipa::path(tag = "fields", params(pagination::ChangedPageQuery), security((), ("bearer" = [])),
    responses((status = 200, description = "One page of fields", body = FieldPage)))]
#[get("")]
pub async fn list_fields(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<pagination::ChangedPageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let (limit, after, since) = query.0.by_id()?;
    let (rows, next_cursor) = db.read(move |conn| model::page(conn, after, limit, since)).await?;
    Ok(respond::page(&req, rows.into_iter().map(FieldResponse::from).collect(), next_cursor))
}

/// Create a field of action (admins)
#[utoipa::path(tag = "fields", request_body = CreateField, security(("bearer" = [])), responses(
    (status = 201, description = "Created", body = FieldResponse, headers(("Location" = String, description = "URL of the new field"))),
    (status = 409, description = "The key is taken", body = Problem, content_type = "application/problem+json"),
))]
#[post("")]
pub async fn create_field(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<CreateField>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "create fields")?;
    let input = body.decode()?;
    let field = db.write(move |conn| model::create(conn, &caller, input, now())).await?;
    Ok(respond::created(format!("/api/v1/fields/{}", field.id), &FieldResponse::from(field)))
}

/// Get a field of action
#[utoipa::path(tag = "fields", params(("id" = i64, Path, description = "Field id")), security((), ("bearer" = [])), responses(
    (status = 200, description = "The field", body = FieldResponse),
    (status = 404, description = "No such field", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_field(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let id = id.into_inner();
    let field = db.read(move |conn| model::get(conn, id)).await?;
    Ok(respond::record(&FieldResponse::from(field)))
}

/// Update a field of action (JSON Merge Patch; admins)
#[utoipa::path(tag = "fields",
    params(("id" = i64, Path, description = "Field id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on")),
    request_body(content = CreateField, content_type = "application/merge-patch+json", description = "Any subset of the fields; `key` must stay as it is"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Updated", body = FieldResponse),
    (status = 404, description = "No such field", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_field(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "change fields")?;
    let id = id.into_inner();
    let field = db.write(move |conn| model::update(conn, &caller, id, patch, &if_match, now())).await?;
    Ok(respond::record(&FieldResponse::from(field)))
}

/// Delete a field of action (admins; only while unused)
#[utoipa::path(tag = "fields", params(("id" = i64, Path, description = "Field id")), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such field", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Measures or contacts still use the field", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn delete_field(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "delete fields")?;
    let id = id.into_inner();
    db.write(move |conn| model::delete(conn, &caller, id, &if_match)).await?;
    Ok(respond::deleted())
}

/// Registers the field routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_fields).service(create_field).service(get_field).service(update_field).service(delete_field);
}
