//! `/api/v1/cooperations`: who cooperates, since when, with which funding.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::etag;
use super::extract::{IfMatch, JsonBody, MergePatch, Query};
use super::pagination::{self, Limit};
use crate::auth::{Caller, Role};
use crate::db::AnyConnection;
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::cooperations::{
    self as model, Cooperation, CooperationFilter, CooperationSort, CooperationStatus, CreateCooperation,
};

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
    /// Created (UTC).
    #[serde(serialize_with = "super::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    #[serde(serialize_with = "super::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl From<Cooperation> for CooperationResponse {
    fn from(c: Cooperation) -> Self {
        Self {
            id: c.id,
            name: c.name,
            description: c.description,
            status: c.status.parse().unwrap_or(CooperationStatus::Exploring),
            started_on: c.started_on,
            ended_on: c.ended_on,
            funding_programme: c.funding_programme,
            funding_amount_eur: c.funding_amount_eur,
            created_at: c.created_at.and_utc(),
            updated_at: c.updated_at.and_utc(),
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
}

/// One page of cooperations.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CooperationPage {
    /// The cooperations of this page.
    pub items: Vec<CooperationResponse>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// 404 for an unknown cooperation.
pub fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("there is no cooperation with id {id}"))
}

/// Loads a cooperation and checks that the caller may change it (admin, or editor of a member).
pub fn load_for_write(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    action: &str,
) -> Result<Cooperation, AppError> {
    // The role first: whether the record exists is nobody's business without one.
    caller.require(Role::Editor, action)?;
    crate::db::lock_row(conn, crate::db::Locked::Cooperations, id)?;
    let cooperation = model::find(conn, id)?.ok_or_else(|| not_found(id))?;
    if !caller.is_admin() {
        caller.require_member(&model::current_member_ids(conn, id)?, action)?;
    }
    Ok(cooperation)
}

fn respond(mut builder: actix_web::HttpResponseBuilder, cooperation: Cooperation) -> HttpResponse {
    builder.insert_header((header::ETAG, etag(cooperation.updated_at)));
    super::json_response(builder, &CooperationResponse::from(cooperation))
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
    caller.may_read_public()?;
    let query = query.0;
    let limit = query.limit.unwrap_or_default().0;
    let sort = query.sort.unwrap_or_default();
    let after = pagination::decode_cursor(query.cursor.as_deref(), sort.as_str())?;
    let filter = CooperationFilter {
        status: query.status,
        partner_id: query.partner_id,
        name_pattern: super::extract::search_pattern("q", query.q.as_deref())?,
    };
    let rows = db.read(move |conn| model::list(conn, &filter, sort, after, limit)).await?;
    let (rows, next_cursor) = pagination::paginate(rows, limit, sort.as_str(), |c| sort.after(c));
    let items = rows.into_iter().map(CooperationResponse::from).collect();
    Ok(pagination::page_response(
        &req,
        next_cursor.as_deref(),
        &CooperationPage { items, next_cursor: next_cursor.clone() },
    ))
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
    body: JsonBody<CreateCooperation>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "create cooperations")?;
    let data = body.decode()?.into_data();
    let cooperation = db.write(move |conn| Ok(model::insert(conn, &data, crate::models::now())?)).await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/cooperations/{}", cooperation.id)));
    Ok(respond(response, cooperation))
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
    let cooperation = db.read(move |conn| model::find(conn, id)?.ok_or_else(|| not_found(id))).await?;
    Ok(respond(HttpResponse::Ok(), cooperation))
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
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    patch: MergePatch,
) -> Result<HttpResponse, AppError> {
    let (id, if_match) = (id.into_inner(), IfMatch::from_request(&req));
    let cooperation = db
        .write(move |conn| {
            let current = load_for_write(conn, &caller, id, "change cooperations")?;
            let data = patch.apply::<CreateCooperation>(&CreateCooperation::from_stored(&current))?.into_data();
            if_match.check(&etag(current.updated_at))?;
            model::update(conn, id, &data, current.updated_at, crate::models::now())?
                .ok_or_else(|| AppError::PreconditionFailed("the cooperation changed during the update; retry".into()))
        })
        .await?;
    Ok(respond(HttpResponse::Ok(), cooperation))
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
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "delete cooperations")?;
    let (id, if_match) = (id.into_inner(), IfMatch::from_request(&req));
    db.write(move |conn| {
        crate::db::lock_row(conn, crate::db::Locked::Cooperations, id)?;
        let cooperation = model::find(conn, id)?.ok_or_else(|| not_found(id))?;
        if_match.check(&etag(cooperation.updated_at))?;
        crate::models::usage::ensure_cooperation_unused(conn, &cooperation)?;
        model::delete(conn, id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the cooperation routes (members and measures have their own modules).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_cooperations)
        .service(create_cooperation)
        .service(get_cooperation)
        .service(update_cooperation)
        .service(delete_cooperation);
}
