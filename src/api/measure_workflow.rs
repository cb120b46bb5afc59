//! The life of a measure: status transitions, their history, and the cooperation's portfolio.

use crate::db::Timestamp;
use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{IdempotencyKey, JsonBody, Query};
use super::measures::MeasureResponse;
use super::{pagination, respond};
use crate::auth::Caller;
use crate::db::Db;
use crate::domain::measures::{ALL_STATUSES, MeasureStatus};
use crate::error::{AppError, Problem};
use crate::models::measures::{self as model, CreateTransition, HistoryRecord};
use crate::models::{idempotency, now};

/// Change a measure's status
///
/// The workflow: `idea` → `assessed` → `planned` (project description written) → `approved`
/// (councils agreed) → `in_progress` → `completed`; from every open state also `on_hold` or
/// `rejected`, and from those back to the state before. Any other move is a 409 naming the
/// allowed ones. `assessed` needs benefit, cost and effort (409 listing the missing ones).
/// `completed` sets progress to 100. Every transition is recorded in the history.
#[utoipa::path(tag = "measures", params(("id" = i64, Path, description = "Measure id")), request_body = CreateTransition,
    security(("bearer" = [])), responses(
    (status = 200, description = "Moved; the measure as it is now", body = MeasureResponse),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The workflow does not allow this move now", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/transitions")]
pub async fn create_transition(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    key: IdempotencyKey,
    body: JsonBody<CreateTransition>,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "change the status of measures")?;
    let key = key.for_body(&caller, &body)?;
    let (id, input) = (id.into_inner(), body.decode()?);
    let render = move |record| respond::record_answer(&MeasureResponse::new(record));
    let outcome = db
        .write(move |conn| {
            idempotency::once(conn, key.as_ref(), now(), |c| model::transition(c, &caller, id, input, now()), render)
        })
        .await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// One event in a measure's life.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntryResponse {
    /// Server-assigned id, ascending in time.
    pub id: i64,
    /// `created`, `transition`, or `contact_erased` (the responsible contact was erased).
    #[schema(example = "transition")]
    pub event: String,
    /// Status before (`null` for `created`).
    pub from: Option<MeasureStatus>,
    /// Status after.
    pub to: MeasureStatus,
    /// Comment given with the transition.
    pub comment: Option<String>,
    /// Who did it (`user:3 (m.mustermann)`, `service_token:2 (…)`); `null` for anonymous readers.
    pub by: Option<String>,
    /// When (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A page of this list, documented under the schema name clients were generated with.
pub type HistoryPage = respond::Page<HistoryEntryResponse>;

impl respond::Listed for HistoryEntryResponse {
    const PAGE: &'static str = "HistoryPage";
    const PLURAL: &'static str = "history";
    const ITEMS: &'static str = "Events, oldest first.";
}

/// A measure's history
#[utoipa::path(tag = "measures", params(("id" = i64, Path, description = "Measure id"), pagination::PageQuery),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "Events, oldest first", body = HistoryPage),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/history")]
pub async fn list_history(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<pagination::PageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let show_actor = caller.role.is_some();
    let id = id.into_inner();
    let (limit, after) = query.0.by_id()?;
    let (records, next_cursor) = db.read(move |conn| model::history_page(conn, id, after, limit)).await?;
    let items = records
        .into_iter()
        .map(|HistoryRecord { entry: h, from }| HistoryEntryResponse {
            id: h.id,
            event: h.event,
            from,
            to: h.to_status,
            comment: h.comment,
            by: show_actor.then_some(h.actor),
            at: h.created_at,
        })
        .collect();
    Ok(respond::page(&req, items, next_cursor))
}

/// What a steering group looks at: the portfolio of one cooperation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SummaryResponse {
    /// Number of measures.
    pub measures_total: i64,
    /// Measures per status (every status listed, 0 included).
    pub by_status: BTreeMap<String, i64>,
    /// Measures per field key (fields without measures left out).
    pub by_field: BTreeMap<String, i64>,
    /// Measures with benefit, cost and effort assessed.
    pub assessed_total: i64,
    /// Measures with a signed project description.
    pub signed_total: i64,
    /// Sum of the estimated costs in whole euros.
    pub estimated_cost_eur_total: i64,
    /// The five measures with the highest priority score.
    pub top_measures: Vec<MeasureResponse>,
    /// Per partner with any: its `planned` measures whose approval waits for its council (no
    /// decision, `pending` or `deferred`), and those its council rejected; by partner id.
    pub waiting_for_councils: Vec<CouncilsWaiting>,
    /// Per field key: the mean progress (percent, rounded down) of the measures not rejected
    /// and not sub-measures of another (whose progress their parents count).
    pub progress_by_field: BTreeMap<String, i64>,
    /// Sum of the annual savings (`savings_eur`) of the measures not rejected, in whole euros.
    pub annual_savings_eur_total: i64,
    /// The measures whose `savings_percent` is at least `savings_min_percent` (every measure
    /// with a known share without it), highest share first: the evidence state funding asks
    /// for (e.g. at least 15 % for at least five years).
    pub savings_measures: Vec<MeasureSavings>,
}

/// The savings of one measure.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeasureSavings {
    /// The measure.
    pub id: i64,
    /// Its title.
    pub title: String,
    /// Annual savings in whole euros.
    pub savings_eur: Option<i64>,
    /// Annual savings in percent of the cost before, one decimal.
    #[schema(example = 15.0)]
    pub savings_percent: f64,
    /// For how many years the partners commit to it.
    pub commitment_years: Option<i32>,
}

/// Query parameters of the portfolio summary.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// Only measures saving at least this share (percent, −1000 to 100, e.g. `15`) in
    /// `savings_measures`.
    #[param(minimum = -1000, maximum = 100, example = 15)]
    pub savings_min_percent: Option<f64>,
}

/// How many planned measures of a cooperation wait for one partner's council.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CouncilsWaiting {
    /// The partner.
    pub partner_id: i64,
    /// Planned measures its council has not approved yet.
    pub measures_waiting: i64,
    /// Planned measures its council rejected.
    pub measures_rejected: i64,
}

/// The portfolio of a cooperation
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id"), SummaryQuery),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "Counts, totals and the top measures", body = SummaryResponse),
    (status = 400, description = "Unknown or unusable query parameter", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/summary")]
pub async fn get_summary(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<SummaryQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let id = id.into_inner();
    let min = match query.0.savings_min_percent {
        Some(p) if p.is_finite() && (-1000.0..=100.0).contains(&p) => Some((p * 10.0).ceil() as i32),
        Some(_) => return Err(AppError::bad_parameter("savings_min_percent", "must be a number from -1000 to 100")),
        None => None,
    };
    let (totals, top, waiting) = db.read(move |conn| model::portfolio(conn, id, min)).await?;
    let mut by_status: BTreeMap<String, i64> = ALL_STATUSES.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    by_status.extend(totals.by_status);
    let summary = SummaryResponse {
        measures_total: by_status.values().sum(),
        by_status,
        by_field: totals.by_field.into_iter().collect(),
        assessed_total: totals.assessed,
        signed_total: totals.signed,
        estimated_cost_eur_total: totals.estimated_cost_eur,
        top_measures: top.into_iter().map(MeasureResponse::new).collect(),
        waiting_for_councils: waiting
            .into_iter()
            .map(|w| CouncilsWaiting {
                partner_id: w.partner_id,
                measures_waiting: w.waiting,
                measures_rejected: w.rejected,
            })
            .collect(),
        annual_savings_eur_total: totals.annual_savings_eur,
        progress_by_field: totals.progress_by_field.into_iter().collect(),
        savings_measures: totals
            .saving
            .into_iter()
            .map(|s| MeasureSavings {
                id: s.id,
                title: s.title,
                savings_eur: s.savings_eur,
                savings_percent: f64::from(s.savings_percent_tenths.unwrap_or_default()) / 10.0,
                commitment_years: s.commitment_years,
            })
            .collect(),
    };
    Ok(respond::json(HttpResponse::Ok(), &summary))
}

/// Registers the workflow routes under `/measures`.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_transition).service(list_history);
}

/// Registers the portfolio summary under `/cooperations`.
pub fn configure_in_cooperations(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_summary);
}
