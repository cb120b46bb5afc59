//! `/api/v1/fields`: the fields of action (Öffentlichkeitsarbeit, Bauhof, Feuerwehr, …).

use crate::db::Timestamp;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::export::{self, CsvDelimiter, ListFormat};
use super::extract::{ByRef, IdempotencyKey, JsonBody, Query};
use super::pagination;
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::external_refs::{ExternalRef, RefFilter};
use crate::models::fields::CreateField;
use crate::models::fields::{self as model, Field};
use crate::models::record::{IfMatch, Patch, etag};
use crate::models::{idempotency, now};

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
    /// The field's ids in other systems.
    pub external_refs: Vec<ExternalRef>,
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
            external_refs: f.external_refs.0,
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

/// Query parameters of the field list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FieldListQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<pagination::Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only records changed at or after this instant (RFC 3339, e.g. the newest `updated_at`
    /// of the previous sync). Deletions are not listed: the change feed tells of them.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<Timestamp>,
    /// Only fields with an external reference from this system.
    pub ref_source: Option<String>,
    /// With `ref_source`: only the field with this id there.
    pub ref_id: Option<String>,
    /// `csv`: the whole list, every page, as one CSV file (as with `Accept: text/csv`); `xlsx`: as
    /// one Excel workbook.
    #[param(inline)]
    pub format: Option<ListFormat>,
    /// With CSV: `semicolon` separates the cells with `;`, as German Excel expects.
    #[param(inline)]
    pub delimiter: Option<CsvDelimiter>,
    /// With `.xlsx`: the language of the column titles (`de`, the default, or `en`).
    #[param(inline)]
    pub lang: Option<crate::exchange::titles::Lang>,
}

/// List fields of action
#[utoipa::path(tag = "fields", params(FieldListQuery), security((), ("bearer" = [])),
    responses((status = 200, description = "One page of fields", body = FieldPage)))]
#[get("")]
pub async fn list_fields(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<FieldListQuery>,
) -> Result<HttpResponse, AppError> {
    let answer = export::Answer::of(&req, query.0.format, query.0.delimiter, query.0.lang);
    fields(&db, &caller, query.0, answer).await
}

/// The fields `query` selects, as one page of JSON or as a file of every page: the answer of
/// `GET /api/v1/fields`, and what `ikz-api export fields` writes.
pub async fn fields(
    db: &Db,
    caller: &Caller,
    query: FieldListQuery,
    answer: export::Answer<'_>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let first = query.cursor.clone();
    let after = pagination::decode_cursor(query.cursor.as_deref(), "id")?.map(|a| a.id);
    let (limit, since) = (query.limit.unwrap_or_default().0, query.updated_since);
    let holding = RefFilter::from_query(query.ref_source, query.ref_id)?;
    let req = match answer {
        export::Answer::Page(req) => req,
        export::Answer::File(file) => {
            let (db, holding) = (db.clone(), std::sync::Arc::new(holding));
            return export::stream(file, "fields", first, move |cursor| {
                let (db, holding) = (db.clone(), holding.clone());
                async move {
                    let after = pagination::decode_cursor(cursor.as_deref(), "id")?.map(|a| a.id);
                    let limit = export::PAGE;
                    let (rows, next) =
                        db.read(move |conn| model::page(conn, after, limit, since, holding.as_ref().as_ref())).await?;
                    Ok((rows.into_iter().map(FieldResponse::from).collect::<Vec<_>>(), next))
                }
            })
            .await;
        }
    };
    let (rows, next_cursor) = db.read(move |conn| model::page(conn, after, limit, since, holding.as_ref())).await?;
    Ok(respond::page(req, rows.into_iter().map(FieldResponse::from).collect(), next_cursor))
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
    key: IdempotencyKey,
    body: JsonBody<CreateField>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "create fields")?;
    let key = key.for_body(&caller, &body)?;
    let input = body.decode()?;
    let render = move |field: model::Field| {
        respond::created_answer(format!("/api/v1/fields/{}", field.id), &FieldResponse::from(field))
    };
    let outcome = db
        .write(move |conn| {
            idempotency::once(conn, key.as_ref(), now(), |c| model::create(c, &caller, input, now()), render)
        })
        .await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
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

/// Create or replace the field with an external reference (admins)
///
/// A full representation, as for `POST /api/v1/fields`: no field holds `{source}:{id}` → 201,
/// created with the reference; one does and the body equals it → 200 and nothing changes; it
/// differs → 200, replaced (its `key` cannot change). Each of `source` and `id` is one
/// percent-encoded path segment.
#[utoipa::path(tag = "fields",
    params(
        ("source" = String, Path, description = "The other system"),
        ("id" = String, Path, description = "The field's id there, percent-encoded"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this replacement is based on"),
    ),
    request_body = CreateField, security(("bearer" = [])), responses(
    (status = 200, description = "Replaced, or identical and unchanged", body = FieldResponse, headers(("ETag" = String, description = "Version for `If-Match`"))),
    (status = 201, description = "Created with the reference", body = FieldResponse,
     headers(("Location" = String, description = "URL of the new field"), ("ETag" = String, description = "Version for `If-Match`"))),
    (status = 409, description = "The key or another external reference is taken", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version, or no field holds the reference yet", body = Problem, content_type = "application/problem+json"),
))]
#[put("/by-ref/{source}/{id}")]
pub async fn put_field_by_ref(
    db: web::Data<Db>,
    caller: Caller,
    by_ref: ByRef,
    if_match: IfMatch,
    body: JsonBody<CreateField>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "create or replace fields")?;
    let input = body.decode()?;
    let (field, created) = db
        .write(move |conn| model::put_by_ref(conn, &caller, (&by_ref.source, &by_ref.id), input, &if_match, now()))
        .await?;
    Ok(respond::put(created, format!("/api/v1/fields/{}", field.id), &FieldResponse::from(field)))
}

/// Registers the field routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_fields)
        .service(create_field)
        .service(put_field_by_ref)
        .service(get_field)
        .service(update_field)
        .service(delete_field);
}
