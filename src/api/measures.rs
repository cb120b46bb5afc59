//! `/api/v1/measures` (and `/api/v1/cooperations/{id}/measures`): ideas and projects of a
//! cooperation. Status changes go through `measure_workflow`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contacts::ContactResponse;
use super::etag;
use super::extract::{IfMatch, JsonBody, MergePatch, Query, search_pattern};
use super::pagination::{self, Limit};
use crate::auth::{Caller, Principal};
use crate::db::AnyConnection;
use crate::db::Db;
use crate::domain::measures::{Horizon, MeasureStatus};
use crate::error::{AppError, FieldError, Problem};
use crate::models::measures::{self as model, CreateMeasure, Measure, MeasureFilter, MeasureRow, MeasureSort};
use crate::models::{contacts, cooperations, fields, partners};

/// A measure: an idea or project of a cooperation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeasureResponse {
    /// Server-assigned id.
    pub id: i64,
    /// The cooperation.
    pub cooperation_id: i64,
    /// The field of action.
    pub field_id: i64,
    /// Title.
    #[schema(example = "Gemeinsame Beschaffung von Streusalz")]
    pub title: String,
    /// Short summary.
    pub summary: Option<String>,
    /// Project description (markdown).
    pub description: Option<String>,
    /// Workflow status; changed only by `POST /api/v1/measures/{id}/transitions`.
    pub status: MeasureStatus,
    /// How soon it can be carried out.
    pub horizon: Option<Horizon>,
    /// Benefit, 1 (low) – 5 (high).
    pub benefit: Option<i32>,
    /// Cost, 1 (low) – 5 (high).
    pub cost: Option<i32>,
    /// Effort, 1 (low) – 5 (high).
    pub effort: Option<i32>,
    /// Estimated cost in whole euros.
    #[schema(example = 25000)]
    pub estimated_cost_eur: Option<i64>,
    /// `(2·benefit − cost − effort + 8) × 100 / 16`, rounded down: 0–100, higher is better
    /// (more benefit, less cost and effort). `null` until benefit, cost and effort are all set.
    #[schema(example = 68, minimum = 0, maximum = 100)]
    pub priority_score: Option<i32>,
    /// The partner leading it (a member of the cooperation).
    pub lead_partner_id: Option<i64>,
    /// Partners taking part (members of the cooperation).
    pub partner_ids: Vec<i64>,
    /// Partner responsible, also from outside the cooperation (e.g. a ministry).
    pub responsible_partner_id: Option<i64>,
    /// Person responsible; `null` after that contact was erased.
    pub responsible_contact_id: Option<i64>,
    /// The responsible person, only with `?include=contacts` (needs a role).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(nullable = false)]
    pub responsible_contact: Option<ContactResponse>,
    /// Planned start.
    pub planned_start: Option<NaiveDate>,
    /// Planned end (not before the start).
    pub planned_end: Option<NaiveDate>,
    /// Date the project description was signed.
    pub description_signed_on: Option<NaiveDate>,
    /// Progress in percent.
    pub progress: i32,
    /// Parent measure, for sub-measures.
    pub parent_id: Option<i64>,
    /// URLs of council papers (e.g. OParl papers).
    pub council_refs: Vec<String>,
    /// Created (UTC).
    #[serde(serialize_with = "super::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    #[serde(serialize_with = "super::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl MeasureResponse {
    /// The answer for a stored measure and its participating partners.
    pub fn new(m: Measure, partner_ids: Vec<i64>) -> Self {
        Self {
            id: m.id,
            cooperation_id: m.cooperation_id,
            field_id: m.field_id,
            title: m.title,
            summary: m.summary,
            description: m.description,
            status: m.status.parse().unwrap_or(MeasureStatus::Idea),
            horizon: m.horizon.and_then(|h| h.parse().ok()),
            benefit: m.benefit,
            cost: m.cost,
            effort: m.effort,
            estimated_cost_eur: m.estimated_cost_eur,
            priority_score: m.priority_score,
            lead_partner_id: m.lead_partner_id,
            partner_ids,
            responsible_partner_id: m.responsible_partner_id,
            responsible_contact_id: m.responsible_contact_id,
            responsible_contact: None,
            planned_start: m.planned_start,
            planned_end: m.planned_end,
            description_signed_on: m.description_signed_on,
            progress: m.progress,
            parent_id: m.parent_id,
            council_refs: serde_json::from_str(&m.council_refs).unwrap_or_default(),
            created_at: m.created_at.and_utc(),
            updated_at: m.updated_at.and_utc(),
        }
    }
}

/// Checks every reference of a measure against the database and reports all problems at once;
/// `members` are the current members of `input.cooperation_id`.
fn check_references(
    conn: &mut AnyConnection,
    input: &CreateMeasure,
    members: &[i64],
    id: Option<i64>,
) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let unknown = |field: &str, what: &str, value: i64| {
        FieldError::new(field, format!("unknown_{what}"), format!("there is no {what} {value}"))
    };
    if cooperations::find(conn, input.cooperation_id)?.is_none() {
        errors.push(unknown("cooperation_id", "cooperation", input.cooperation_id));
    }
    if fields::find(conn, input.field_id)?.is_none() {
        errors.push(unknown("field_id", "field", input.field_id));
    }
    let cooperation_id = input.cooperation_id;
    let not_member = |field: String, p: i64| {
        FieldError::new(field, "not_a_member", format!("partner {p} is not a member of cooperation {cooperation_id}"))
    };
    if let Some(lead) = input.lead_partner_id.filter(|p| !members.contains(p)) {
        errors.push(not_member("lead_partner_id".into(), lead));
    }
    for (i, p) in input.partner_ids.iter().enumerate().filter(|(_, p)| !members.contains(p)) {
        errors.push(not_member(format!("partner_ids[{i}]"), *p));
    }
    if let Some(p) = input.responsible_partner_id.filter(|p| partners::find(conn, *p).ok().flatten().is_none()) {
        errors.push(unknown("responsible_partner_id", "partner", p));
    }
    if let Some(c) = input.responsible_contact_id.filter(|c| contacts::find(conn, *c).ok().flatten().is_none()) {
        errors.push(unknown("responsible_contact_id", "contact", c));
    }
    if let Some(parent) = input.parent_id
        && let Some(problem) = parent_problem(conn, parent, input.cooperation_id, id)?
    {
        errors.push(FieldError::new("parent_id", "invalid_parent", problem));
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// Why `parent` cannot be the parent of measure `id` in `cooperation_id`, if it cannot.
fn parent_problem(
    conn: &mut AnyConnection,
    parent: i64,
    cooperation_id: i64,
    id: Option<i64>,
) -> Result<Option<String>, AppError> {
    let mut cursor = Some(parent);
    for _ in 0..100 {
        let Some(current) = cursor else { return Ok(None) };
        if Some(current) == id {
            return Ok(Some("would make the measure its own ancestor".into()));
        }
        let Some(m) = model::find(conn, current)? else {
            return Ok(Some(format!("there is no measure {current}")));
        };
        if current == parent && m.cooperation_id != cooperation_id {
            return Ok(Some("must belong to the same cooperation".into()));
        }
        cursor = m.parent_id;
    }
    Ok(Some("the chain of parents is too deep".into()))
}

/// Who did something, as recorded in the history.
pub fn actor(caller: &Caller) -> String {
    match &caller.principal {
        Principal::Anonymous => "anonymous".into(),
        Principal::User { id, username } => format!("user:{id} ({username})"),
        Principal::ServiceToken { id, name } => format!("service_token:{id} ({name})"),
        Principal::External { subject } => format!("external:{subject}"),
    }
}

/// A measure with its partners (and, if asked for, its responsible contact).
pub fn load(conn: &mut AnyConnection, measure: Measure, with_contact: bool) -> Result<MeasureResponse, AppError> {
    let partner_ids = model::partner_ids(conn, measure.id)?;
    with_contact_if_asked(conn, MeasureResponse::new(measure, partner_ids), with_contact)
}

/// Adds the responsible contact when asked for and there is one.
fn with_contact_if_asked(
    conn: &mut AnyConnection,
    mut response: MeasureResponse,
    with_contact: bool,
) -> Result<MeasureResponse, AppError> {
    if let (true, Some(contact_id)) = (with_contact, response.responsible_contact_id)
        && let Some(contact) = contacts::find(conn, contact_id)?
    {
        response.responsible_contact = Some(super::contacts::load(conn, contact)?);
    }
    Ok(response)
}

/// Measures read with their partners (and contacts, if asked for), as answered.
pub fn load_page(
    conn: &mut AnyConnection,
    rows: Vec<MeasureRow>,
    with_contacts: bool,
) -> Result<Vec<MeasureResponse>, AppError> {
    rows.into_iter()
        .map(|row| {
            let (measure, partner_ids) = row.into_parts();
            with_contact_if_asked(conn, MeasureResponse::new(measure, partner_ids), with_contacts)
        })
        .collect()
}

/// 404 for an unknown measure.
pub fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("there is no measure with id {id}"))
}

/// Loads a measure and checks that the caller may change it (admin, or editor of a member).
pub fn load_for_write(conn: &mut AnyConnection, caller: &Caller, id: i64, action: &str) -> Result<Measure, AppError> {
    load_for_write_with_members(conn, caller, id, action).map(|(measure, _)| measure)
}

/// [`load_for_write`], also returning the current members of the measure's cooperation.
fn load_for_write_with_members(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    action: &str,
) -> Result<(Measure, Vec<i64>), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Measures, id)?;
    let measure = model::find(conn, id)?.ok_or_else(|| not_found(id))?;
    let members = cooperations::current_member_ids(conn, measure.cooperation_id)?;
    if !caller.is_admin() {
        caller.require_member(&members, action)?;
    }
    Ok((measure, members))
}

/// Answers with the measure and its `ETag` (covering the embedded contact, if any).
pub fn respond(mut builder: actix_web::HttpResponseBuilder, measure: MeasureResponse) -> HttpResponse {
    let version = measure.updated_at.naive_utc();
    let tag = match &measure.responsible_contact {
        Some(contact) => super::etag_with_embedded(version, [(contact.id, contact.updated_at.naive_utc())]),
        None => etag(version),
    };
    builder.insert_header((header::ETAG, tag));
    super::json_response(builder, &measure)
}

/// What may be embedded in measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeasureInclude {
    /// The responsible contact (personal data; needs a role).
    Contacts,
}

/// Query parameters of the measure lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MeasureListQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only measures of this cooperation.
    pub cooperation_id: Option<i64>,
    /// Only measures in this field (by id).
    pub field_id: Option<i64>,
    /// Only measures in this field (by key, e.g. `bauhof`).
    #[param(example = "bauhof")]
    pub field: Option<String>,
    /// Only measures in these statuses (repeat the parameter for several).
    #[serde(default)]
    #[param(inline)]
    pub status: Vec<MeasureStatus>,
    /// Only measures with this horizon.
    #[param(inline)]
    pub horizon: Option<Horizon>,
    /// Only measures this partner leads, takes part in or is responsible for.
    pub partner_id: Option<i64>,
    /// Case-insensitive substring of the title.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only measures with at least this priority score (0–100; excludes unassessed ones).
    #[param(minimum = 0, maximum = 100)]
    pub min_priority: Option<i32>,
    /// Order; `-` means descending (default `-priority_score`).
    #[param(inline)]
    pub sort: Option<MeasureSort>,
    /// `contacts` embeds the responsible contact (needs a role).
    #[param(inline)]
    pub include: Option<MeasureInclude>,
}

/// One page of measures.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeasurePage {
    /// The measures of this page.
    pub items: Vec<MeasureResponse>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

async fn list(req: &HttpRequest, db: &Db, caller: &Caller, query: MeasureListQuery) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let with_contacts = query.include == Some(MeasureInclude::Contacts);
    if with_contacts {
        caller.require(crate::auth::Role::Viewer, "include contacts (personal data)")?;
    }
    let limit = query.limit.unwrap_or_default().0;
    let sort = query.sort.unwrap_or_default();
    let after = pagination::decode_cursor(query.cursor.as_deref(), sort.as_str())?;
    if query.min_priority.is_some_and(|p| !(0..=100).contains(&p)) {
        return Err(AppError::bad_parameter("min_priority", "must be between 0 and 100"));
    }
    let filter = MeasureFilter {
        cooperation_id: query.cooperation_id,
        field_id: query.field_id,
        field_key: query.field,
        statuses: query.status.iter().map(|s| s.as_str().to_owned()).collect(),
        horizon: query.horizon.map(|h| <&str>::from(h).to_owned()),
        partner_id: query.partner_id,
        title_pattern: search_pattern("q", query.q.as_deref())?,
        min_priority: query.min_priority,
    };
    let (items, next_cursor) = db
        .read(move |conn| {
            let rows = model::list(conn, &filter, sort, after, limit)?;
            let (rows, next) = pagination::paginate(rows, limit, sort.as_str(), |row| sort.after(&row.measure));
            Ok((load_page(conn, rows, with_contacts)?, next))
        })
        .await?;
    Ok(pagination::page_response(req, next_cursor.as_deref(), &MeasurePage { items, next_cursor: next_cursor.clone() }))
}

/// List measures
///
/// Filter by cooperation, field, status (repeatable), horizon, partner, title and minimum
/// priority; sort by priority, change, title or planned end.
#[utoipa::path(tag = "measures", params(MeasureListQuery), security((), ("bearer" = [])),
    responses((status = 200, description = "One page of measures", body = MeasurePage)))]
#[get("")]
pub async fn list_measures(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<MeasureListQuery>,
) -> Result<HttpResponse, AppError> {
    list(&req, &db, &caller, query.0).await
}

/// List the measures of a cooperation
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id"), MeasureListQuery),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "One page of the cooperation's measures", body = MeasurePage),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/measures")]
pub async fn list_cooperation_measures(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<MeasureListQuery>,
) -> Result<HttpResponse, AppError> {
    // Before the lookup: without public read, an anonymous caller must not learn which ids exist.
    caller.may_read_public()?;
    let id = id.into_inner();
    let mut query = query.0;
    // Filters combine with AND: a different cooperation in the query matches nothing (no
    // cooperation has id -1), after the same checks as every other request.
    query.cooperation_id = match query.cooperation_id {
        Some(other) if other != id => Some(-1),
        _ => Some(id),
    };
    db.read(move |conn| cooperations::find(conn, id)?.ok_or_else(|| super::cooperations::not_found(id))).await?;
    list(&req, &db, &caller, query).await
}

/// Create a measure (admins, or editors of a member of its cooperation)
#[utoipa::path(tag = "measures", request_body = CreateMeasure, security(("bearer" = [])), responses(
    (status = 201, description = "Created as `idea`", body = MeasureResponse, headers(("Location" = String, description = "URL of the new measure"))),
))]
#[post("")]
pub async fn create_measure(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<CreateMeasure>,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "create measures")?;
    let input = body.decode()?;
    let measure = db
        .write(move |conn| {
            let members = cooperations::current_member_ids(conn, input.cooperation_id)?;
            if !caller.is_admin() {
                caller.require_member(&members, "create measures")?;
            }
            check_references(conn, &input, &members, None)?;
            let (data, partner_ids) = input.into_data(MeasureStatus::Idea, None);
            let now = crate::models::now();
            let measure = model::insert(conn, &data, &partner_ids, now)?;
            model::record(conn, measure.id, "created", None, "idea", None, &actor(&caller), now)?;
            load(conn, measure, false)
        })
        .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/measures/{}", measure.id)));
    Ok(respond(response, measure))
}

/// Query parameters of a single measure.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MeasureGetQuery {
    /// `contacts` embeds the responsible contact (needs a role).
    #[param(inline)]
    pub include: Option<MeasureInclude>,
}

/// Get a measure
#[utoipa::path(tag = "measures", params(("id" = i64, Path, description = "Measure id"), MeasureGetQuery),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "The measure", body = MeasureResponse),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_measure(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<MeasureGetQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let with_contacts = query.0.include == Some(MeasureInclude::Contacts);
    if with_contacts {
        caller.require(crate::auth::Role::Viewer, "include contacts (personal data)")?;
    }
    let id = id.into_inner();
    let measure = db
        .read(move |conn| {
            let row = model::find_row(conn, id)?.ok_or_else(|| not_found(id))?;
            let (measure, partner_ids) = row.into_parts();
            with_contact_if_asked(conn, MeasureResponse::new(measure, partner_ids), with_contacts)
        })
        .await?;
    Ok(respond(HttpResponse::Ok(), measure))
}

/// Update a measure (JSON Merge Patch; admins, or editors of a member of its cooperation)
///
/// `status` is read-only here: use `POST /api/v1/measures/{id}/transitions`.
#[utoipa::path(tag = "measures",
    params(("id" = i64, Path, description = "Measure id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on")),
    request_body(content = CreateMeasure, content_type = "application/merge-patch+json", description = "Any subset of the fields"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Updated", body = MeasureResponse),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_measure(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    patch: MergePatch,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "change measures")?;
    let (id, if_match, mut patch) = (id.into_inner(), IfMatch::from_request(&req), patch.0);
    let measure = db
        .write(move |conn| {
            let (current, members) = load_for_write_with_members(conn, &caller, id, "change measures")?;
            if let Some(status) = patch.remove("status").filter(|s| s.as_str() != Some(current.status.as_str())) {
                return Err(AppError::invalid_field(
                    "status",
                    "read_only",
                    format!("cannot be set to {status} here; use POST /api/v1/measures/{id}/transitions"),
                ));
            }
            let status: MeasureStatus = current.status.parse().map_err(|_| {
                AppError::Internal(format!("measure {id} has the unreadable status {:?}", current.status))
            })?;
            let resume = current.resume_status.clone();
            let seen = current.updated_at;
            let cooperation_id = current.cooperation_id;
            let base = CreateMeasure::from_stored(&current, model::partner_ids(conn, id)?)?;
            let input: CreateMeasure = MergePatch(patch).apply(&base)?;
            if_match.check(&etag(seen))?;
            if input.cooperation_id != cooperation_id {
                return Err(AppError::invalid_field(
                    "cooperation_id",
                    "immutable",
                    "cannot be changed; create the measure anew",
                ));
            }
            check_references(conn, &input, &members, Some(id))?;
            let (data, partner_ids) = input.into_data(status, resume.and_then(|r| r.parse().ok()));
            let stored = model::update(conn, id, &data, seen, crate::models::now())?
                .ok_or_else(|| AppError::PreconditionFailed("the measure changed during the update; retry".into()))?;
            model::change_partners(conn, id, &base.partner_ids, &partner_ids)?;
            load(conn, stored, false)
        })
        .await?;
    Ok(respond(HttpResponse::Ok(), measure))
}

/// Delete a measure (admins, or editors of a member of its cooperation)
///
/// Its sub-measures remain, without parent; its history goes with it.
#[utoipa::path(tag = "measures", params(("id" = i64, Path, description = "Measure id")), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn delete_measure(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "delete measures")?;
    let (id, if_match) = (id.into_inner(), IfMatch::from_request(&req));
    db.write(move |conn| {
        let current = load_for_write(conn, &caller, id, "delete measures")?;
        if_match.check(&etag(current.updated_at))?;
        model::delete(conn, id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the measure routes (under `/measures`).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_measures)
        .service(create_measure)
        .service(get_measure)
        .service(update_measure)
        .service(delete_measure);
}

/// Registers the routes under `/cooperations` that list measures.
pub fn configure_in_cooperations(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_cooperation_measures);
}
