//! `/api/v1/measures` (and `/api/v1/cooperations/{id}/measures`): ideas and projects of a
//! cooperation. Status changes go through `measure_workflow`.

use crate::db::Timestamp;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contacts::ContactResponse;
use super::council_decisions::CouncilDecisionResponse;
use super::export::{self, CsvDelimiter, ListFormat};
use super::extract::{ByRef, IdempotencyKey, JsonBody, Query, search_pattern};
use super::pagination::{self, Limit};
use super::respond::{self, Listed, Versioned};
use crate::auth::Caller;
use crate::db::Db;
use crate::domain::measures::{Horizon, MeasureStatus};
use crate::error::{AppError, Problem};
use crate::models::external_refs::{ExternalRef, RefFilter};
use crate::models::measures::{self as model, CreateMeasure, MeasureFilter, MeasureRecord, MeasureSort};
use crate::models::record::{IfMatch, Patch, etag, etag_with_embedded};
use crate::models::{idempotency, now};

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
    /// Annual personnel and material costs of all partners together before the measure (whole euros).
    #[schema(example = 200000)]
    pub annual_cost_before_eur: Option<i64>,
    /// The same after the measure (whole euros).
    #[schema(example = 170000)]
    pub annual_cost_after_eur: Option<i64>,
    /// For how many years the partners commit to it.
    #[schema(example = 5)]
    pub commitment_years: Option<i32>,
    /// Derived: `annual_cost_before_eur − annual_cost_after_eur` (whole euros); `null` unless both are set.
    #[schema(example = 30000)]
    pub savings_eur: Option<i64>,
    /// Derived: `round(100 × savings_eur / annual_cost_before_eur, 1)`; `null` when the cost
    /// before is 0 or not set.
    #[schema(example = 15.0)]
    pub savings_percent: Option<f64>,
    /// Planned start.
    pub planned_start: Option<NaiveDate>,
    /// Planned end (not before the start).
    pub planned_end: Option<NaiveDate>,
    /// Derived: the date the last required partner signed the project description (see
    /// `sign_offs`); `null` until every one has. Read only: `POST …/sign-offs` per partner.
    pub description_signed_on: Option<NaiveDate>,
    /// The partners who must sign the project description: the measure's own list, or (while
    /// it has none) its lead and participating partners.
    pub required_signatory_partner_ids: Vec<i64>,
    /// Which partners signed, and when (who signed: `GET /api/v1/measures/{id}/sign-offs`).
    pub sign_offs: Vec<SignedBy>,
    /// Progress in percent: set by hand, or (`progress_derived`) derived from the sub-measures.
    pub progress: i32,
    /// `true` when `progress` is derived from the sub-measures (it was not set by hand, or
    /// `progress: null` returned it to the derived value).
    pub progress_derived: bool,
    /// Parent measure, for sub-measures.
    pub parent_id: Option<i64>,
    /// The working group that examined it (`/api/v1/cooperations/{cooperation_id}/working-groups/{id}`).
    pub working_group_id: Option<i64>,
    /// URLs of council papers (e.g. OParl papers). A paper the OParl sync copied is linked by
    /// its `oparl_id` or `web_url`; its consultations then yield the partners' decisions.
    pub council_refs: Vec<String>,
    /// Each partner's council decision, by partner (`/api/v1/measures/{id}/council-decisions`).
    pub council_decisions: Vec<CouncilDecisionResponse>,
    /// Derived: the council of every partner of the measure (lead and participating) has
    /// approved it; `false` for a measure without partners.
    pub councils_agreed: bool,
    /// The measure's ids in other systems.
    pub external_refs: Vec<ExternalRef>,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl MeasureResponse {
    /// The answer for a stored measure, its partners and (if read) its responsible contact.
    pub fn new(record: MeasureRecord) -> Self {
        let MeasureRecord { measure: m, partner_ids, horizon, council_refs, contact, decisions, sign_offs } = record;
        let required_signatory_partner_ids = crate::models::measures::sign_offs::required(&m, &partner_ids);
        Self {
            required_signatory_partner_ids,
            sign_offs: sign_offs
                .into_iter()
                .map(|s| SignedBy { partner_id: s.partner_id, signed_on: s.signed_on, migrated: s.migrated })
                .collect(),
            id: m.id,
            cooperation_id: m.cooperation_id,
            field_id: m.field_id,
            title: m.title,
            summary: m.summary,
            description: m.description,
            status: m.status,
            horizon,
            benefit: m.benefit,
            cost: m.cost,
            effort: m.effort,
            estimated_cost_eur: m.estimated_cost_eur,
            priority_score: m.priority_score,
            lead_partner_id: m.lead_partner_id,
            partner_ids,
            responsible_partner_id: m.responsible_partner_id,
            responsible_contact_id: m.responsible_contact_id,
            responsible_contact: contact.map(ContactResponse::new),
            annual_cost_before_eur: m.annual_cost_before_eur,
            annual_cost_after_eur: m.annual_cost_after_eur,
            commitment_years: m.commitment_years,
            savings_eur: m.savings_eur,
            savings_percent: m.savings_percent_tenths.map(|t| f64::from(t) / 10.0),
            planned_start: m.planned_start,
            planned_end: m.planned_end,
            description_signed_on: m.description_signed_on,
            progress: m.progress,
            progress_derived: !m.progress_manual,
            parent_id: m.parent_id,
            working_group_id: m.working_group_id,
            council_refs,
            council_decisions: decisions.into_iter().map(CouncilDecisionResponse::from).collect(),
            councils_agreed: m.councils_agreed,
            external_refs: m.external_refs.0,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl Versioned for MeasureResponse {
    /// Covers the embedded contact, if any.
    fn etag(&self) -> String {
        let version = self.updated_at;
        match &self.responsible_contact {
            Some(contact) => etag_with_embedded(version, [(contact.id, contact.updated_at)]),
            None => etag(version),
        }
    }
}

/// A partner's signature under a measure's project description, as every caller sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedBy {
    /// The partner.
    pub partner_id: i64,
    /// When it signed.
    pub signed_on: NaiveDate,
    /// Made from a `description_signed_on` entered before sign-offs existed.
    pub migrated: bool,
}

/// A page of this list, documented under the schema name clients were generated with.
pub type MeasurePage = respond::Page<MeasureResponse>;

impl Listed for MeasureResponse {
    const PAGE: &'static str = "MeasurePage";
    const PLURAL: &'static str = "measures";
    const ITEMS: &'static str = "The measures of this page.";
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
    /// Only records changed at or after this instant (RFC 3339, e.g. the newest `updated_at`
    /// of the previous sync). Deletions are not listed: the change feed tells of them.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<Timestamp>,
    /// Only measures this working group examined.
    pub working_group_id: Option<i64>,
    /// Only measures with an external reference from this system.
    pub ref_source: Option<String>,
    /// With `ref_source`: only the measure with this id there.
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

/// The measures `query` selects (`within` one cooperation), as one page of JSON or as a file of
/// every page: the answer of `GET /api/v1/measures`, and what `ikz-api export measures` writes.
pub async fn measures(
    db: &Db,
    caller: &Caller,
    within: Option<i64>,
    query: MeasureListQuery,
    answer: export::Answer<'_>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let with_contacts = query.include == Some(MeasureInclude::Contacts);
    if with_contacts {
        caller.require(crate::auth::Role::Viewer, "include contacts (personal data)")?;
    }
    let limit = query.limit.unwrap_or_default().0;
    let sort = query.sort.unwrap_or_default();
    let after = pagination::decode_cursor(query.cursor.as_deref(), sort.as_str())?;
    let first = query.cursor.clone();
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
        updated_since: query.updated_since,
        external_ref: RefFilter::from_query(query.ref_source, query.ref_id)?,
        working_group_id: query.working_group_id,
    };
    let req = match answer {
        export::Answer::Page(req) => req,
        export::Answer::File(file) => {
            let (db, filter) = (db.clone(), std::sync::Arc::new(filter));
            return export::stream(file, "measures", first, move |cursor| {
                let (db, filter) = (db.clone(), filter.clone());
                async move {
                    let after = pagination::decode_cursor(cursor.as_deref(), sort.as_str())?;
                    let limit = export::PAGE;
                    db.read(move |conn| {
                        model::page(conn, within, &filter, sort, after, limit, with_contacts, MeasureResponse::new)
                    })
                    .await
                }
            })
            .await;
        }
    };
    let (items, next_cursor) = db
        .read(move |conn| model::page(conn, within, &filter, sort, after, limit, with_contacts, MeasureResponse::new))
        .await?;
    Ok(respond::page(req, items, next_cursor))
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
    let answer = export::Answer::of(&req, query.0.format, query.0.delimiter, query.0.lang);
    measures(&db, &caller, None, query.0, answer).await
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
    let answer = export::Answer::of(&req, query.format, query.delimiter, query.lang);
    measures(&db, &caller, Some(id), query, answer).await
}

/// Create a measure (admins, or editors of a member of its cooperation)
#[utoipa::path(tag = "measures", request_body = CreateMeasure, security(("bearer" = [])), responses(
    (status = 201, description = "Created as `idea`", body = MeasureResponse, headers(("Location" = String, description = "URL of the new measure"))),
))]
#[post("")]
pub async fn create_measure(
    db: web::Data<Db>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<CreateMeasure>,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "create measures")?;
    let key = key.for_body(&caller, &body)?;
    let input = body.decode()?;
    let render = move |record| {
        let measure = MeasureResponse::new(record);
        respond::created_answer(format!("/api/v1/measures/{}", measure.id), &measure)
    };
    let outcome = db
        .write(move |conn| {
            idempotency::once(conn, key.as_ref(), now(), |c| model::create(c, &caller, input, now()), render)
        })
        .await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// Create or replace the measure with an external reference (admins, or editors of a member of its cooperation)
///
/// A full representation, as for `POST /api/v1/measures` (the status moves only by
/// transitions): no measure holds `{source}:{id}` → 201, created as `idea` with the reference;
/// one does and the body equals it → 200 and nothing changes; it differs → 200, replaced. Each
/// of `source` and `id` is one percent-encoded path segment.
#[utoipa::path(tag = "measures",
    params(
        ("source" = String, Path, description = "The other system"),
        ("id" = String, Path, description = "The measure's id there, percent-encoded"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this replacement is based on"),
    ),
    request_body = CreateMeasure, security(("bearer" = [])), responses(
    (status = 200, description = "Replaced, or identical and unchanged", body = MeasureResponse, headers(("ETag" = String, description = "Version for `If-Match`"))),
    (status = 201, description = "Created with the reference", body = MeasureResponse,
     headers(("Location" = String, description = "URL of the new measure"), ("ETag" = String, description = "Version for `If-Match`"))),
    (status = 409, description = "Another external reference is held by another measure", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version, or no measure holds the reference yet", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields or references; `cooperation_id` cannot change", body = Problem, content_type = "application/problem+json"),
))]
#[put("/by-ref/{source}/{id}")]
pub async fn put_measure_by_ref(
    db: web::Data<Db>,
    caller: Caller,
    by_ref: ByRef,
    if_match: IfMatch,
    body: JsonBody<CreateMeasure>,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "create or replace measures")?;
    let input = body.decode()?;
    let (record, created) = db
        .write(move |conn| model::put_by_ref(conn, &caller, (&by_ref.source, &by_ref.id), input, &if_match, now()))
        .await?;
    let measure = MeasureResponse::new(record);
    Ok(respond::put(created, format!("/api/v1/measures/{}", measure.id), &measure))
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
    let record = db.read(move |conn| model::get(conn, id, with_contacts)).await?;
    Ok(respond::record(&MeasureResponse::new(record)))
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
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "change measures")?;
    let id = id.into_inner();
    let record = db.write(move |conn| model::update(conn, &caller, id, patch, &if_match, now())).await?;
    Ok(respond::record(&MeasureResponse::new(record)))
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
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "delete measures")?;
    let id = id.into_inner();
    db.write(move |conn| model::delete(conn, &caller, id, &if_match, now())).await?;
    Ok(respond::deleted())
}

/// Registers the measure routes (under `/measures`).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_measures)
        .service(create_measure)
        .service(put_measure_by_ref)
        .service(get_measure)
        .service(update_measure)
        .service(delete_measure);
}

/// Registers the routes under `/cooperations` that list measures.
pub fn configure_in_cooperations(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_cooperation_measures);
}
