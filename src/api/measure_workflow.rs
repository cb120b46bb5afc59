//! The life of a measure: status transitions, their history, and the cooperation's portfolio.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{JsonBody, Query};
use super::measures::{MeasureResponse, actor, load, load_for_write, not_found, respond};
use super::pagination::{self, After};
use crate::auth::Caller;
use crate::db::Db;
use crate::domain::measures::{ALL_STATUSES, MeasureStatus};
use crate::error::{AppError, FieldError, Problem};
use crate::models::measures::CreateTransition;
use crate::models::measures::{self as model, MeasureFilter, MeasureSort};

fn list(statuses: &[MeasureStatus]) -> String {
    if statuses.is_empty() {
        "none (final)".into()
    } else {
        statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    }
}

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
    body: JsonBody<CreateTransition>,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "change the status of measures")?;
    let (id, CreateTransition { to, comment }) = (id.into_inner(), body.decode()?);
    let measure = db
        .write(move |conn| {
            let mut measure = load_for_write(conn, &caller, id, "change the status of measures")?;
            // An unreadable stored status stops the transition; it is never read as `idea`.
            let from: MeasureStatus = measure.status.parse().map_err(|_| {
                AppError::Internal(format!("measure {} has the unreadable status {:?}", measure.id, measure.status))
            })?;
            let resume = measure.resume_status.as_deref().and_then(|r| r.parse().ok());
            let allowed = from.allowed_next(resume);
            if !allowed.contains(&to) {
                return Err(AppError::Conflict(format!(
                    "a measure cannot move from `{}` to `{}`; allowed from here: {}",
                    from.as_str(),
                    to.as_str(),
                    list(&allowed)
                )));
            }
            if to == MeasureStatus::Assessed {
                let missing: Vec<FieldError> =
                    [("benefit", measure.benefit), ("cost", measure.cost), ("effort", measure.effort)]
                        .into_iter()
                        .filter(|(_, v)| v.is_none())
                        .map(|(f, _)| {
                            FieldError::new(f, "required_for_assessed", "must be set before the measure is `assessed`")
                        })
                        .collect();
                if !missing.is_empty() {
                    let names: Vec<String> = missing.iter().map(|e| e.field.clone()).collect();
                    return Err(AppError::ConflictFields {
                        detail: format!(
                            "a measure can be `assessed` only with benefit, cost and effort; missing: {}",
                            names.join(", ")
                        ),
                        errors: missing,
                    });
                }
            }
            let seen = measure.updated_at;
            measure.resume_status =
                matches!(to, MeasureStatus::OnHold | MeasureStatus::Rejected).then(|| from.as_str().to_owned());
            measure.status = to.as_str().to_owned();
            if to == MeasureStatus::Completed {
                measure.progress = 100;
            }
            let now = crate::models::now();
            let changed = model::set_status(
                conn,
                id,
                &measure.status,
                measure.resume_status.as_deref(),
                measure.progress,
                seen,
                now,
            )?;
            if !changed {
                return Err(AppError::PreconditionFailed("the measure changed meanwhile; retry".into()));
            }
            model::record(
                conn,
                id,
                "transition",
                Some(from.as_str()),
                to.as_str(),
                comment.as_deref(),
                &actor(&caller),
                now,
            )?;
            let stored = model::find(conn, id)?.ok_or_else(|| not_found(id))?;
            load(conn, stored, false)
        })
        .await?;
    Ok(respond(HttpResponse::Ok(), measure))
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
    #[serde(serialize_with = "super::rfc3339")]
    pub at: DateTime<Utc>,
}

/// One page of history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryPage {
    /// Events, oldest first.
    pub items: Vec<HistoryEntryResponse>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
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
    let rows = db
        .read(move |conn| {
            model::find(conn, id)?.ok_or_else(|| not_found(id))?;
            Ok(model::history(conn, id, after, limit)?)
        })
        .await?;
    let (rows, next_cursor) = pagination::paginate(rows, limit, "id", |h| After { key: String::new(), id: h.id });
    let items = rows
        .into_iter()
        .map(|h| HistoryEntryResponse {
            id: h.id,
            event: h.event,
            from: h.from_status.and_then(|s| s.parse().ok()),
            to: h.to_status.parse().unwrap_or(MeasureStatus::Idea),
            comment: h.comment,
            by: show_actor.then_some(h.actor),
            at: h.created_at.and_utc(),
        })
        .collect();
    Ok(pagination::page_response(
        &req,
        next_cursor.as_deref(),
        &HistoryPage { items, next_cursor: next_cursor.clone() },
    ))
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
}

/// The portfolio of a cooperation
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id")),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "Counts, totals and the top measures", body = SummaryResponse),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/summary")]
pub async fn get_summary(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let id = id.into_inner();
    let summary = db
        .read(move |conn| {
            crate::models::cooperations::find(conn, id)?.ok_or_else(|| super::cooperations::not_found(id))?;
            let totals = model::totals(conn, id)?;
            let filter = MeasureFilter { cooperation_id: Some(id), min_priority: Some(0), ..Default::default() };
            let mut top = model::list(conn, &filter, MeasureSort::PriorityDesc, None, 5)?;
            top.truncate(5);
            let top_measures = super::measures::load_page(conn, top, false)?;
            let mut by_status: BTreeMap<String, i64> =
                ALL_STATUSES.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
            by_status.extend(totals.by_status);
            Ok(SummaryResponse {
                measures_total: by_status.values().sum(),
                by_status,
                by_field: totals.by_field.into_iter().collect(),
                assessed_total: totals.assessed,
                signed_total: totals.signed,
                estimated_cost_eur_total: totals.estimated_cost_eur,
                top_measures,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(summary))
}

/// Registers the workflow routes.
/// Registers the workflow routes under `/measures`.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_transition).service(list_history);
}

/// Registers the portfolio summary under `/cooperations`.
pub fn configure_in_cooperations(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_summary);
}
