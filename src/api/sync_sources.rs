//! `/api/v1/sync-sources`: the council information systems (OParl) the service copies from,
//! their health and their runs (admins).

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{JsonBody, Query};
use super::pagination::{self, Limit, decode_cursor};
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::db::{Db, Timestamp};
use crate::error::{AppError, Problem};
use crate::models::now;
use crate::models::record::{IfMatch, Patch, etag};
use crate::models::sync_sources::{
    self as model, CreateSyncSource, RunCounts, RunState, SyncRun, SyncSource, SyncState, Trigger,
};
use crate::outbound;
use crate::progress::Progress;
use crate::sync::oparl::{self, RunError, SyncSettings};

/// How a source's sync is doing: the first thing to look at when council data seems old.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncHealth {
    /// Where it stands.
    pub state: SyncState,
    /// When the last run started (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_run_at: Option<Timestamp>,
    /// When the last run completed (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_success_at: Option<Timestamp>,
    /// The newest `modified` the council system sent (its own clock); incremental runs ask
    /// for what changed since this minus the overlap (`IKZ_SYNC_OVERLAP_HOURS`).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub watermark: Option<Timestamp>,
    /// `true` when the last success is older than `IKZ_SYNC_STALE_HOURS` (or there was none
    /// that long): the copy may be out of date.
    pub stale: bool,
    /// Why the last run failed; `null` after a success.
    pub last_error: Option<String>,
    /// What the last run counted.
    pub counts: RunCounts,
}

/// A sync source.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncSourceResponse {
    /// Server-assigned id.
    pub id: i64,
    /// The OParl system's URL.
    #[schema(example = "https://ris.koenigsbrueck.example/oparl/v1/system")]
    pub system_url: String,
    /// The partners whose councils it serves (the sync adds each body's partner).
    pub partner_ids: Vec<i64>,
    /// Minutes between the runs the service starts by itself.
    pub interval_minutes: i32,
    /// Whether the service runs it on its interval.
    pub active: bool,
    /// How its sync is doing.
    pub health: SyncHealth,
    /// When the service runs it next, if active (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub next_run_at: Timestamp,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed by an admin (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl SyncSourceResponse {
    fn new(s: SyncSource, stale_after: chrono::Duration) -> Self {
        let now = Timestamp::now();
        let stale = s.stale(stale_after, now);
        let (state, last_error) = s.state_now(now);
        Self {
            partner_ids: s.partner_id_list(),
            health: SyncHealth {
                state,
                last_run_at: s.last_run_at,
                last_success_at: s.last_success_at,
                watermark: s.watermark,
                stale,
                last_error,
                counts: s.count_list(),
            },
            id: s.id,
            system_url: s.system_url,
            interval_minutes: s.interval_minutes,
            active: s.active,
            next_run_at: s.next_run_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

impl Versioned for SyncSourceResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of sync sources.
pub type SyncSourcePage = respond::Page<SyncSourceResponse>;

impl Listed for SyncSourceResponse {
    const PAGE: &'static str = "SyncSourcePage";
    const PLURAL: &'static str = "sync sources";
    const ITEMS: &'static str = "The sources of this page, by id.";
}

/// One run of a source.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncRunResponse {
    /// Server-assigned id.
    pub id: i64,
    /// The source it ran.
    pub source_id: i64,
    /// Whether it read everything (`true`) or what changed since the watermark.
    pub full: bool,
    /// What started it.
    pub trigger: Trigger,
    /// Where it stands.
    pub state: RunState,
    /// Whether it went on from the list positions of a run that did not finish.
    pub resumed: bool,
    /// Started (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    /// Ended (UTC); `null` while running.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
    /// Why it failed.
    pub error: Option<String>,
    /// What it counted (so far, while running).
    pub counts: RunCounts,
}

impl From<SyncRun> for SyncRunResponse {
    fn from(r: SyncRun) -> Self {
        let counts = r.count_list();
        Self {
            id: r.id,
            source_id: r.source_id,
            full: r.full_run,
            trigger: r.trigger_kind,
            state: r.state,
            resumed: r.resumed,
            started_at: r.started_at,
            finished_at: r.finished_at,
            error: r.error,
            counts,
        }
    }
}

/// A page of runs.
pub type SyncRunPage = respond::Page<SyncRunResponse>;

impl Listed for SyncRunResponse {
    const PAGE: &'static str = "SyncRunPage";
    const PLURAL: &'static str = "sync runs";
    const ITEMS: &'static str = "The runs of this page, newest first.";
}

/// The query of `POST …/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StartRunQuery {
    /// `true`: read everything, not only what changed since the watermark.
    pub full: Option<bool>,
}

/// The query of the run list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunListQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
}

const MANAGE: &str = "manage sync sources";

/// List sync sources (admins)
#[utoipa::path(tag = "sync", params(pagination::PageQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page of sources, with their health", body = SyncSourcePage)))]
#[get("")]
pub async fn list_sync_sources(
    req: HttpRequest,
    db: web::Data<Db>,
    settings: web::Data<SyncSettings>,
    caller: Caller,
    query: Query<pagination::PageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let (limit, after) = query.0.by_id()?;
    let (rows, next) = db.read(move |conn| model::page(conn, after, limit)).await?;
    let stale_after = settings.stale_after;
    Ok(respond::page(&req, rows.into_iter().map(|s| SyncSourceResponse::new(s, stale_after)).collect(), next))
}

/// Create a sync source (admins)
///
/// The service runs it on its interval from now on (the first run soon). The URL must pass the
/// outbound policy (public hosts, or those the operator named in `IKZ_OUTBOUND_ALLOW`).
#[utoipa::path(tag = "sync", request_body = CreateSyncSource, security(("bearer" = [])), responses(
    (status = 201, description = "Created", body = SyncSourceResponse,
     headers(("Location" = String, description = "URL of the new source"))),
    (status = 409, description = "A source for this URL exists", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields, or a URL the outbound policy refuses", body = Problem, content_type = "application/problem+json"),
))]
#[post("")]
pub async fn create_sync_source(
    db: web::Data<Db>,
    client: web::Data<outbound::Client>,
    settings: web::Data<SyncSettings>,
    caller: Caller,
    body: JsonBody<CreateSyncSource>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let input = body.decode()?;
    let policy = client.policy().clone();
    let source = db.write(move |conn| model::create(conn, Some(&policy), input, now())).await?;
    let created = SyncSourceResponse::new(source, settings.stale_after);
    Ok(respond::created(format!("/api/v1/sync-sources/{}", created.id), &created))
}

/// Get a sync source with its health (admins)
#[utoipa::path(tag = "sync", params(("id" = i64, Path, description = "Source id")), security(("bearer" = [])), responses(
    (status = 200, description = "The source", body = SyncSourceResponse),
    (status = 404, description = "No such source", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_sync_source(
    db: web::Data<Db>,
    settings: web::Data<SyncSettings>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    let source = db.read(move |conn| model::get(conn, id)).await?;
    Ok(respond::record(&SyncSourceResponse::new(source, settings.stale_after)))
}

/// Update a sync source (JSON Merge Patch; admins)
#[utoipa::path(tag = "sync",
    params(("id" = i64, Path, description = "Source id")),
    request_body(content = CreateSyncSource, content_type = "application/merge-patch+json", description = "Any subset of the fields"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Updated", body = SyncSourceResponse),
    (status = 404, description = "No such source", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_sync_source(
    db: web::Data<Db>,
    client: web::Data<outbound::Client>,
    settings: web::Data<SyncSettings>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    let policy = client.policy().clone();
    let source = db.write(move |conn| model::update(conn, &policy, id, patch, &if_match, now())).await?;
    Ok(respond::record(&SyncSourceResponse::new(source, settings.stale_after)))
}

/// Delete a sync source with everything it copied (admins)
///
/// Its runs, bodies, organisations, meetings and papers go with it; partners it created stay.
#[utoipa::path(tag = "sync", params(("id" = i64, Path, description = "Source id")), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such source", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "A run is going on", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn delete_sync_source(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    db.write(move |conn| model::delete(conn, id, &if_match)).await?;
    Ok(respond::deleted())
}

/// Start a run (admins)
///
/// Answers at once with the run (`202`); follow it at `Location`. 409 while another run of
/// the source is going on (in this or another instance, or from the command line).
#[utoipa::path(tag = "sync", params(("id" = i64, Path, description = "Source id"), StartRunQuery), security(("bearer" = [])), responses(
    (status = 202, description = "Started", body = SyncRunResponse,
     headers(("Location" = String, description = "URL of the run"))),
    (status = 404, description = "No such source", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "A run of this source is going on", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/runs")]
pub async fn start_sync_run(
    db: web::Data<Db>,
    client: web::Data<outbound::Client>,
    settings: web::Data<SyncSettings>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<StartRunQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    let full = query.0.full.unwrap_or(false);
    let started = match oparl::start(&db, &settings, id, Trigger::Api, full).await {
        Ok(started) => started,
        Err(RunError::Busy(busy)) => return Err(AppError::Conflict(RunError::Busy(busy).to_string())),
        Err(RunError::Database(e)) => return Err(e),
        Err(RunError::Failed { message, .. }) => return Err(AppError::Internal(message)),
    };
    let run = SyncRunResponse::from(started.claimed.run.clone());
    let (db, client, settings) = (db.get_ref().clone(), client.get_ref().clone(), settings.get_ref().clone());
    tokio::spawn(async move {
        if let Err(e) = oparl::execute(&db, client, &settings, started, Progress::none()).await {
            log::warn!("sync source {id}: {e}");
        }
    });
    let location = format!("/api/v1/sync-sources/{id}/runs/{}", run.id);
    Ok(respond::json(HttpResponse::Accepted().insert_header(("Location", location)).take(), &run))
}

/// List a source's runs (admins)
#[utoipa::path(tag = "sync", params(("id" = i64, Path, description = "Source id"), RunListQuery), security(("bearer" = [])), responses(
    (status = 200, description = "One page of runs, newest first", body = SyncRunPage),
    (status = 404, description = "No such source", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/runs")]
pub async fn list_sync_runs(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<RunListQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    let before = decode_cursor(query.0.cursor.as_deref(), "-id")?.map(|a| a.id);
    let limit = query.0.limit.unwrap_or_default().0;
    let (rows, next) = db.read(move |conn| model::runs_page(conn, id, before, limit)).await?;
    Ok(respond::page(&req, rows.into_iter().map(SyncRunResponse::from).collect(), next))
}

/// Get a run (admins)
#[utoipa::path(tag = "sync",
    params(("id" = i64, Path, description = "Source id"), ("run_id" = i64, Path, description = "Run id")),
    security(("bearer" = [])), responses(
    (status = 200, description = "The run", body = SyncRunResponse),
    (status = 404, description = "No such source or run", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/runs/{run_id}")]
pub async fn get_sync_run(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let (id, run_id) = path.into_inner();
    let run = db.read(move |conn| model::get_run(conn, id, run_id)).await?;
    Ok(respond::json(HttpResponse::Ok(), &SyncRunResponse::from(run)))
}

/// Registers the sync-source routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_sync_sources)
        .service(create_sync_source)
        .service(get_sync_source)
        .service(update_sync_source)
        .service(delete_sync_source)
        .service(start_sync_run)
        .service(list_sync_runs)
        .service(get_sync_run);
}
