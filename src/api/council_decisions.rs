//! `/api/v1/measures/{id}/council-decisions` and `/api/v1/council-decisions`: what each
//! partner's council decided on a measure, entered by hand or derived by the OParl sync.
//! Public records, read like measures.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::export::{self, CsvDelimiter, ListFormat};
use super::extract::{IdempotencyKey, JsonBody, Query};
use super::pagination::{self, Limit};
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::db::{Db, Timestamp};
use crate::domain::council::CouncilDecision;
use crate::error::{AppError, Problem};
use crate::models::measures::decisions::{
    self as model, CreateCouncilDecision, DecisionFilter, DecisionRecord, DecisionSource, Derived,
};
use crate::models::record::{IfMatch, Patch, etag};
use crate::models::{idempotency, now};

/// What the OParl sync derived from the partner's council system.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DerivedDecisionResponse {
    /// The decision the agenda item's result reads as (the table in the README).
    pub decision: CouncilDecision,
    /// The meeting's start date.
    pub decided_on: Option<NaiveDate>,
    /// The council paper (`/api/v1/council-papers/{id}`).
    pub paper_id: Option<i64>,
    /// The OParl id of the consultation that decided.
    #[schema(example = "https://ris.koenigsbrueck.example/oparl/v1/consultation/4711")]
    pub consultation_id: Option<String>,
    /// The meeting (`/api/v1/council-meetings/{id}`).
    pub meeting_id: Option<i64>,
    /// The agenda item's result, as the council system has it.
    #[schema(example = "einstimmig beschlossen")]
    pub result: Option<String>,
}

impl From<Derived> for DerivedDecisionResponse {
    fn from(d: Derived) -> Self {
        Self {
            decision: d.decision,
            decided_on: d.decided_on,
            paper_id: d.paper_id,
            consultation_id: d.consultation_id,
            meeting_id: d.meeting_id,
            result: d.result,
        }
    }
}

/// A partner's council decision on a measure.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CouncilDecisionResponse {
    /// Server-assigned id.
    pub id: i64,
    /// The measure.
    pub measure_id: i64,
    /// The partner whose council decided.
    pub partner_id: i64,
    /// The decision: the hand entry where there is one, else what the sync derived.
    pub decision: CouncilDecision,
    /// When.
    #[schema(example = "2026-11-19")]
    pub decided_on: Option<NaiveDate>,
    /// The council paper here.
    pub paper_id: Option<i64>,
    /// The paper elsewhere (hand entries only).
    pub paper_url: Option<String>,
    /// A remark (hand entries only).
    pub note: Option<String>,
    /// Where `decision` comes from: `manual` (entered; never overwritten by the sync) or
    /// `oparl` (derived; then `derived` holds the same and names the consultation).
    pub source: DecisionSource,
    /// What the sync derived, also beside a hand entry; `null` when it derived nothing.
    pub derived: Option<DerivedDecisionResponse>,
    /// `true` when a hand entry and the derived decision differ: check which is right.
    pub disagrees: bool,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<DecisionRecord> for CouncilDecisionResponse {
    fn from(r: DecisionRecord) -> Self {
        let (decided_on, paper_id) = (r.decided_on(), r.paper_id());
        let DecisionRecord { row, decision, source, derived, disagrees } = r;
        let manual = source == DecisionSource::Manual;
        Self {
            id: row.id,
            measure_id: row.measure_id,
            partner_id: row.partner_id,
            decision,
            decided_on,
            paper_id,
            paper_url: row.manual_paper_url.filter(|_| manual),
            note: row.note.filter(|_| manual),
            source,
            derived: derived.map(Into::into),
            disagrees,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl Versioned for CouncilDecisionResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of council decisions.
pub type CouncilDecisionPage = respond::Page<CouncilDecisionResponse>;

impl Listed for CouncilDecisionResponse {
    const PAGE: &'static str = "CouncilDecisionPage";
    const PLURAL: &'static str = "council decisions";
    const ITEMS: &'static str = "The decisions of this page, by id.";
}

/// Query parameters of the decision lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CouncilDecisionQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only decisions on this measure.
    pub measure_id: Option<i64>,
    /// Only decisions on measures of this cooperation.
    pub cooperation_id: Option<i64>,
    /// Only this partner's council's decisions.
    pub partner_id: Option<i64>,
    /// Only this decision (as shown).
    #[param(inline)]
    pub decision: Option<CouncilDecision>,
    /// Only entered (`manual`) or only derived (`oparl`) ones.
    #[param(inline)]
    pub source: Option<DecisionSource>,
    /// `true`: only those where a hand entry and the council system differ.
    pub disagrees: Option<bool>,
    /// Only records changed at or after this instant (RFC 3339). Deletions are not listed: the
    /// change feed tells of them.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<Timestamp>,
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

/// The decisions `query` selects, as one page of JSON or as a file of every page.
pub async fn decisions(
    db: &Db,
    caller: &Caller,
    query: CouncilDecisionQuery,
    answer: export::Answer<'_>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let limit = query.limit.unwrap_or_default().0;
    let after = pagination::decode_cursor(query.cursor.as_deref(), "id")?.map(|a| a.id);
    let first = query.cursor.clone();
    let filter = DecisionFilter {
        measure_id: query.measure_id,
        cooperation_id: query.cooperation_id,
        partner_id: query.partner_id,
        decision: query.decision,
        source: query.source,
        disagrees: query.disagrees,
        updated_since: query.updated_since,
    };
    let req = match answer {
        export::Answer::Page(req) => req,
        export::Answer::File(file) => {
            let (db, filter) = (db.clone(), std::sync::Arc::new(filter));
            return export::stream(file, "council-decisions", first, move |cursor| {
                let (db, filter) = (db.clone(), filter.clone());
                async move {
                    let after = pagination::decode_cursor(cursor.as_deref(), "id")?.map(|a| a.id);
                    let (rows, next) = db.read(move |conn| model::page(conn, &filter, after, export::PAGE)).await?;
                    Ok((rows.into_iter().map(CouncilDecisionResponse::from).collect::<Vec<_>>(), next))
                }
            })
            .await;
        }
    };
    let (rows, next) = db.read(move |conn| model::page(conn, &filter, after, limit)).await?;
    Ok(respond::page(req, rows.into_iter().map(CouncilDecisionResponse::from).collect(), next))
}

/// List council decisions
///
/// Every partner's decision on every measure, by id; filter by measure, cooperation, partner,
/// decision, source and disagreement. `?format=csv` (or `xlsx`) exports the whole list.
#[utoipa::path(tag = "council", params(CouncilDecisionQuery), security((), ("bearer" = [])), responses(
    (status = 200, description = "One page of decisions", body = CouncilDecisionPage,
     headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows"))),
    (status = 400, description = "Unknown or unusable query parameter, or a bad cursor", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such measure (with `measure_id`)", body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn list_council_decisions(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<CouncilDecisionQuery>,
) -> Result<HttpResponse, AppError> {
    let answer = export::Answer::of(&req, query.0.format, query.0.delimiter, query.0.lang);
    decisions(&db, &caller, query.0, answer).await
}

/// Get a council decision
#[utoipa::path(tag = "council", params(("id" = i64, Path, description = "Decision id")), security((), ("bearer" = [])), responses(
    (status = 200, description = "The decision", body = CouncilDecisionResponse),
    (status = 404, description = "No such decision", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_council_decision(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let id = id.into_inner();
    let record = db.read(move |conn| model::get_any(conn, id)).await?;
    Ok(respond::record(&CouncilDecisionResponse::from(record)))
}

/// List the council decisions on a measure
#[utoipa::path(tag = "measures", params(("id" = i64, Path, description = "Measure id"), pagination::PageQuery),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "One page of the measure's decisions, by id", body = CouncilDecisionPage),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/council-decisions")]
pub async fn list_measure_council_decisions(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<pagination::PageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let (limit, after) = query.0.by_id()?;
    let filter = DecisionFilter { measure_id: Some(id.into_inner()), ..DecisionFilter::default() };
    let (rows, next) = db.read(move |conn| model::page(conn, &filter, after, limit)).await?;
    Ok(respond::page(&req, rows.into_iter().map(CouncilDecisionResponse::from).collect(), next))
}

/// Enter a partner's council decision (admins, or editors acting for the partner)
///
/// One decision per measure and partner (409 when the partner has one entered already; change
/// it with `PATCH`). The partner must lead or take part in the measure. Where the sync derived
/// a decision for the partner, the hand entry goes beside it, wins, and is never overwritten;
/// `disagrees` tells when the two differ.
#[utoipa::path(tag = "measures", params(("id" = i64, Path, description = "Measure id")), request_body = CreateCouncilDecision,
    security(("bearer" = [])), responses(
    (status = 201, description = "Entered", body = CouncilDecisionResponse,
     headers(("Location" = String, description = "URL of the decision"), ("ETag" = String, description = "Version for `If-Match`"))),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The partner has a decision entered already", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields, a partner outside the measure, or an unknown paper", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/council-decisions")]
pub async fn create_council_decision(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    key: IdempotencyKey,
    body: JsonBody<CreateCouncilDecision>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "enter council decisions")?;
    let key = key.for_body(&caller, &body)?;
    let (id, input) = (id.into_inner(), body.decode()?);
    let write = move |c: &mut _| model::create(c, &caller, id, input, now());
    let render = move |record| {
        let decision = CouncilDecisionResponse::from(record);
        respond::created_answer(format!("/api/v1/measures/{id}/council-decisions/{}", decision.id), &decision)
    };
    let outcome = db.write(move |conn| idempotency::once(conn, key.as_ref(), now(), write, render)).await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// Get a council decision on a measure
#[utoipa::path(tag = "measures",
    params(("id" = i64, Path, description = "Measure id"), ("decision_id" = i64, Path, description = "Decision id")),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "The decision", body = CouncilDecisionResponse),
    (status = 404, description = "No such measure or decision", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/council-decisions/{decision_id}")]
pub async fn get_measure_council_decision(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let (measure_id, id) = path.into_inner();
    let record = db.read(move |conn| model::get(conn, measure_id, id)).await?;
    Ok(respond::record(&CouncilDecisionResponse::from(record)))
}

/// Change a council decision (JSON Merge Patch; admins, or editors acting for the partner)
///
/// Changes the hand entry. On a decision only the sync derived, the patch makes a hand entry
/// from the derived values and the changes; the derived decision stays beside it.
#[utoipa::path(tag = "measures",
    params(("id" = i64, Path, description = "Measure id"), ("decision_id" = i64, Path, description = "Decision id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on")),
    request_body(content = CreateCouncilDecision, content_type = "application/merge-patch+json", description = "Any subset of the fields but `partner_id`"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Changed", body = CouncilDecisionResponse),
    (status = 404, description = "No such measure or decision", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}/council-decisions/{decision_id}")]
pub async fn update_council_decision(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "change council decisions")?;
    let (measure_id, id) = path.into_inner();
    let record = db.write(move |conn| model::update(conn, &caller, measure_id, id, patch, &if_match, now())).await?;
    Ok(respond::record(&CouncilDecisionResponse::from(record)))
}

/// Delete a council decision's hand entry (admins, or editors acting for the partner)
///
/// What the sync derived stays and is shown from then on; a decision with nothing derived is
/// gone. A decision only the sync derived is removed until the sync derives it again.
#[utoipa::path(tag = "measures",
    params(("id" = i64, Path, description = "Measure id"), ("decision_id" = i64, Path, description = "Decision id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this deletion is based on")),
    security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such measure or decision", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}/council-decisions/{decision_id}")]
pub async fn delete_council_decision(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "delete council decisions")?;
    let (measure_id, id) = path.into_inner();
    db.write(move |conn| model::delete(conn, &caller, measure_id, id, &if_match, now())).await?;
    Ok(respond::deleted())
}

/// Registers the routes under `/measures`.
pub fn configure_in_measures(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_measure_council_decisions)
        .service(create_council_decision)
        .service(get_measure_council_decision)
        .service(update_council_decision)
        .service(delete_council_decision);
}

/// Registers `/council-decisions`.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_council_decisions).service(get_council_decision);
}
