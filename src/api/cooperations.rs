//! `/api/v1/cooperations`: who cooperates, since when, with which funding.

use crate::db::Timestamp;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::export::{self, CsvDelimiter, ListFormat};
use super::extract::{ByRef, IdempotencyKey, JsonBody, Query};
use super::pagination::{self, Limit};
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::cooperations::{
    self as model, Cooperation, CooperationFilter, CooperationSort, CooperationStatus, CreateCooperation,
};
use crate::models::external_refs::{ExternalRef, RefFilter};
use crate::models::record::{IfMatch, Patch, etag};
use crate::models::{idempotency, now};

/// A cooperation of several partners.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CooperationResponse {
    /// Server-assigned id.
    #[schema(example = 1)]
    pub id: i64,
    /// Name.
    #[schema(example = "IKZ Westlausitz")]
    pub name: String,
    /// What the partners do together (markdown).
    pub description: Option<String>,
    /// Where it stands.
    pub status: CooperationStatus,
    /// Start date.
    pub started_on: Option<NaiveDate>,
    /// End date (not before the start).
    pub ended_on: Option<NaiveDate>,
    /// Funding programme, e.g. a state programme for inter-municipal cooperation.
    #[schema(example = "Förderrichtlinie Interkommunale Zusammenarbeit")]
    pub funding_programme: Option<String>,
    /// Funding amount in whole euros.
    #[schema(example = 150000)]
    pub funding_amount_eur: Option<i64>,
    /// The cooperation's ids in other systems.
    pub external_refs: Vec<ExternalRef>,
    /// Whether a measure becomes `approved` only when the councils of all its partners approved it.
    pub requires_council_approval: bool,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<Cooperation> for CooperationResponse {
    fn from(c: Cooperation) -> Self {
        Self {
            id: c.id,
            name: c.name,
            description: c.description,
            status: c.status,
            started_on: c.started_on,
            ended_on: c.ended_on,
            funding_programme: c.funding_programme,
            funding_amount_eur: c.funding_amount_eur,
            external_refs: c.external_refs.0,
            requires_council_approval: c.requires_council_approval,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Query parameters of the cooperation list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CooperationListQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only cooperations in this state.
    pub status: Option<CooperationStatus>,
    /// Only cooperations this partner currently belongs to.
    pub partner_id: Option<i64>,
    /// Case-insensitive substring of the name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Order; `-` means descending.
    #[param(inline)]
    pub sort: Option<CooperationSort>,
    /// Only records changed at or after this instant (RFC 3339, e.g. the newest `updated_at`
    /// of the previous sync). Deletions are not listed: the change feed tells of them.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<Timestamp>,
    /// Only cooperations with an external reference from this system.
    pub ref_source: Option<String>,
    /// With `ref_source`: only the cooperation with this id there.
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

impl Versioned for CooperationResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of this list, documented under the schema name clients were generated with.
pub type CooperationPage = respond::Page<CooperationResponse>;

impl Listed for CooperationResponse {
    const PAGE: &'static str = "CooperationPage";
    const PLURAL: &'static str = "cooperations";
    const ITEMS: &'static str = "The cooperations of this page.";
}

/// List cooperations
#[utoipa::path(tag = "cooperations", params(CooperationListQuery), security((), ("bearer" = [])),
    responses((status = 200, description = "One page of cooperations", body = CooperationPage)))]
#[get("")]
pub async fn list_cooperations(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<CooperationListQuery>,
) -> Result<HttpResponse, AppError> {
    let answer = export::Answer::of(&req, query.0.format, query.0.delimiter, query.0.lang);
    cooperations(&db, &caller, query.0, answer).await
}

/// The cooperations `query` selects, as one page of JSON or as a file of every page: the answer of
/// `GET /api/v1/cooperations`, and what `ikz-api export cooperations` writes.
pub async fn cooperations(
    db: &Db,
    caller: &Caller,
    query: CooperationListQuery,
    answer: export::Answer<'_>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let limit = query.limit.unwrap_or_default().0;
    let sort = query.sort.unwrap_or_default();
    let after = pagination::decode_cursor(query.cursor.as_deref(), sort.as_str())?;
    let first = query.cursor.clone();
    let filter = CooperationFilter {
        status: query.status,
        partner_id: query.partner_id,
        name_pattern: super::extract::search_pattern("q", query.q.as_deref())?,
        updated_since: query.updated_since,
        external_ref: RefFilter::from_query(query.ref_source, query.ref_id)?,
    };
    let req = match answer {
        export::Answer::Page(req) => req,
        export::Answer::File(file) => {
            let (db, filter) = (db.clone(), std::sync::Arc::new(filter));
            return export::stream(file, "cooperations", first, move |cursor| {
                let (db, filter) = (db.clone(), filter.clone());
                async move {
                    let after = pagination::decode_cursor(cursor.as_deref(), sort.as_str())?;
                    let limit = export::PAGE;
                    let (rows, next) = db.read(move |conn| model::page(conn, &filter, sort, after, limit)).await?;
                    Ok((rows.into_iter().map(CooperationResponse::from).collect::<Vec<_>>(), next))
                }
            })
            .await;
        }
    };
    let (rows, next_cursor) = db.read(move |conn| model::page(conn, &filter, sort, after, limit)).await?;
    Ok(respond::page(req, rows.into_iter().map(CooperationResponse::from).collect(), next_cursor))
}

/// Create a cooperation (admins)
///
/// Add the partners afterwards with `POST /api/v1/cooperations/{id}/members`.
#[utoipa::path(tag = "cooperations", request_body = CreateCooperation, security(("bearer" = [])), responses(
    (status = 201, description = "Created", body = CooperationResponse, headers(("Location" = String, description = "URL of the new cooperation"))),
))]
#[post("")]
pub async fn create_cooperation(
    db: web::Data<Db>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<CreateCooperation>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "create cooperations")?;
    let key = key.for_body(&caller, &body)?;
    let input = body.decode()?;
    let render = move |coop: model::Cooperation| {
        respond::created_answer(format!("/api/v1/cooperations/{}", coop.id), &CooperationResponse::from(coop))
    };
    let outcome = db
        .write(move |conn| {
            idempotency::once(conn, key.as_ref(), now(), |c| model::create(c, &caller, input, now()), render)
        })
        .await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// Get a cooperation
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id")), security((), ("bearer" = [])), responses(
    (status = 200, description = "The cooperation", body = CooperationResponse),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_cooperation(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let id = id.into_inner();
    let cooperation = db.read(move |conn| model::get(conn, id)).await?;
    Ok(respond::record(&CooperationResponse::from(cooperation)))
}

/// Update a cooperation (JSON Merge Patch; admins, or editors of a member)
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on")),
    request_body(content = CreateCooperation, content_type = "application/merge-patch+json", description = "Any subset of the fields"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Updated", body = CooperationResponse),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_cooperation(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let cooperation = db.write(move |conn| model::update(conn, &caller, id, patch, &if_match, now())).await?;
    Ok(respond::record(&CooperationResponse::from(cooperation)))
}

/// Delete a cooperation (admins)
///
/// Removes its memberships too; refused (409) while it still has measures.
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id")), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "It still has measures", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn delete_cooperation(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "delete cooperations")?;
    let id = id.into_inner();
    db.write(move |conn| model::delete(conn, &caller, id, &if_match)).await?;
    Ok(respond::deleted())
}

/// Create or replace the cooperation with an external reference (admins create; editors of a member replace)
///
/// A full representation, as for `POST /api/v1/cooperations` (members are managed under
/// `…/members`): no cooperation holds `{source}:{id}` → 201, created with the reference; one does
/// and the body equals it → 200 and nothing changes; it differs → 200, replaced. Each of
/// `source` and `id` is one percent-encoded path segment.
#[utoipa::path(tag = "cooperations",
    params(
        ("source" = String, Path, description = "The other system"),
        ("id" = String, Path, description = "The cooperation's id there, percent-encoded"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this replacement is based on"),
    ),
    request_body = CreateCooperation, security(("bearer" = [])), responses(
    (status = 200, description = "Replaced, or identical and unchanged", body = CooperationResponse, headers(("ETag" = String, description = "Version for `If-Match`"))),
    (status = 201, description = "Created with the reference", body = CooperationResponse,
     headers(("Location" = String, description = "URL of the new cooperation"), ("ETag" = String, description = "Version for `If-Match`"))),
    (status = 409, description = "Another external reference is held by another cooperation", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version, or no cooperation holds the reference yet", body = Problem, content_type = "application/problem+json"),
))]
#[put("/by-ref/{source}/{id}")]
pub async fn put_cooperation_by_ref(
    db: web::Data<Db>,
    caller: Caller,
    by_ref: ByRef,
    if_match: IfMatch,
    body: JsonBody<CreateCooperation>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "create or replace cooperations")?;
    let input = body.decode()?;
    let (cooperation, created) = db
        .write(move |conn| model::put_by_ref(conn, &caller, (&by_ref.source, &by_ref.id), input, &if_match, now()))
        .await?;
    let location = format!("/api/v1/cooperations/{}", cooperation.id);
    Ok(respond::put(created, location, &CooperationResponse::from(cooperation)))
}

/// Registers the cooperation routes (members and measures have their own modules).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_cooperations)
        .service(create_cooperation)
        .service(put_cooperation_by_ref)
        .service(get_cooperation)
        .service(update_cooperation)
        .service(delete_cooperation);
}
