//! `/api/v1/fields`: the fields of action (Öffentlichkeitsarbeit, Bauhof, Feuerwehr, …).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::etag;
use super::extract::{IfMatch, JsonBody, MergePatch, Query};
use super::pagination::{self, After};
use crate::auth::{Caller, Role};
use crate::db::AnyConnection;
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::fields::CreateField;
use crate::models::fields::{self as model, Field};

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
    #[serde(serialize_with = "super::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    #[serde(serialize_with = "super::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<Field> for FieldResponse {
    fn from(f: Field) -> Self {
        Self {
            id: f.id,
            key: f.key,
            name_de: f.name_de,
            name_en: f.name_en,
            description: f.description,
            created_at: f.created_at.and_utc(),
            updated_at: f.updated_at.and_utc(),
        }
    }
}

/// One page of fields.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FieldPage {
    /// The fields of this page, by id.
    pub items: Vec<FieldResponse>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("there is no field with id {id}"))
}

fn ensure_key_free(conn: &mut AnyConnection, key: &str) -> Result<(), AppError> {
    match model::find_by_key(conn, key)? {
        Some(other) => Err(AppError::Conflict(format!("the key `{key}` is already used by field {}", other.id))),
        None => Ok(()),
    }
}

fn respond(mut builder: actix_web::HttpResponseBuilder, field: Field) -> HttpResponse {
    builder.insert_header((header::ETAG, etag(field.updated_at)));
    super::json_response(builder, &FieldResponse::from(field))
}

/// List fields of action
#[utoipa::path(tag = "fields", params(pagination::PageQuery), security((), ("bearer" = [])),
    responses((status = 200, description = "One page of fields", body = FieldPage)))]
#[get("")]
pub async fn list_fields(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<pagination::PageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let (limit, after) = query.0.by_id()?;
    let rows = db.read(move |conn| Ok(model::list(conn, after, limit)?)).await?;
    let (rows, next_cursor) = pagination::paginate(rows, limit, "id", |f| After { key: String::new(), id: f.id });
    let items = rows.into_iter().map(FieldResponse::from).collect();
    Ok(pagination::page_response(&req, next_cursor.as_deref(), &FieldPage { items, next_cursor: next_cursor.clone() }))
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
    let data = body.decode()?.into_data();
    let field = db
        .write(move |conn| {
            ensure_key_free(conn, &data.key)?;
            Ok(model::insert(conn, &data, crate::models::now())?)
        })
        .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/fields/{}", field.id)));
    Ok(respond(response, field))
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
    let field = db.read(move |conn| model::find(conn, id)?.ok_or_else(|| not_found(id))).await?;
    Ok(respond(HttpResponse::Ok(), field))
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
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    patch: MergePatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "change fields")?;
    let (id, if_match) = (id.into_inner(), IfMatch::from_request(&req));
    let field = db
        .write(move |conn| {
            crate::db::lock_row(conn, crate::db::Locked::Fields, id)?;
            let current = model::find(conn, id)?.ok_or_else(|| not_found(id))?;
            let base = serde_json::json!({
                "key": current.key, "name_de": current.name_de, "name_en": current.name_en, "description": current.description,
            });
            let data = patch.apply::<CreateField>(&base)?.into_data();
            if_match.check(&etag(current.updated_at))?;
            if data.key != current.key {
                return Err(AppError::invalid_field("key", "immutable", "cannot be changed: clients rely on it"));
            }
            model::update(conn, id, &data, current.updated_at, crate::models::now())?
                .ok_or_else(|| AppError::PreconditionFailed("the field changed during the update; retry".into()))
        })
        .await?;
    Ok(respond(HttpResponse::Ok(), field))
}

/// Delete a field of action (admins; only while unused)
#[utoipa::path(tag = "fields", params(("id" = i64, Path, description = "Field id")), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such field", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Measures or contacts still use the field", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn delete_field(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "delete fields")?;
    let (id, if_match) = (id.into_inner(), IfMatch::from_request(&req));
    db.write(move |conn| {
        crate::db::lock_row(conn, crate::db::Locked::Fields, id)?;
        let field = model::find(conn, id)?.ok_or_else(|| not_found(id))?;
        if_match.check(&etag(field.updated_at))?;
        crate::models::usage::ensure_field_unused(conn, &field)?;
        model::delete(conn, id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the field routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_fields).service(create_field).service(get_field).service(update_field).service(delete_field);
}
