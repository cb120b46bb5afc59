//! Sync sources: the council information systems (OParl) the service copies from, with the
//! health of their sync and the runs it made (`src/sync/oparl` runs them).
//!
//! Rules: one source per system URL; the URL must pass the outbound policy when an admin sets it
//! through the API (the command line may name any host); one process at a time runs a source,
//! by the lease in its row; a run that did not finish leaves its list positions in `resume`,
//! and the next run goes on from there.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::db::keyset::{After, paginate};
use crate::db::schema::{sync_runs, sync_sources};
use crate::db::{AnyConnection, Timestamp};
use crate::domain;
use crate::error::{AppError, FieldError};
use crate::models::council::store::Tally;
use crate::models::input::Normalize;
use crate::models::record::{IfMatch, Patch, changed_meanwhile, not_found};
use crate::outbound::Policy;
use crate::per_backend;

/// What a run counted, per object type and in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunCounts {
    /// Per OParl type (`body`, `organization`, `meeting`, `paper`): objects seen, created,
    /// updated and deleted.
    #[serde(default)]
    pub objects: BTreeMap<String, Tally>,
    /// HTTP requests made (retries included).
    #[serde(default)]
    pub requests: u64,
    /// Requests repeated after a failure (time-out, 5xx, 429).
    #[serde(default)]
    pub retries: u64,
    /// Vendor quirks met and handled, by name (`bare_array_list`, `ags_without_leading_zero`, …).
    #[serde(default)]
    pub quirks: BTreeMap<String, u64>,
}

impl RunCounts {
    /// Counts one quirk.
    pub fn quirk(&mut self, name: &str) {
        *self.quirks.entry(name.to_owned()).or_default() += 1;
    }

    /// Adds a page's tally for `kind`.
    pub fn tally(&mut self, kind: &str, tally: Tally) {
        self.objects.entry(kind.to_owned()).or_default().add(tally);
    }
}

fn counts_of(stored: &str) -> RunCounts {
    serde_json::from_str(stored).unwrap_or_default()
}

/// The state of a source's sync.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SyncState {
    /// No run yet.
    NeverRun,
    /// A run is going on.
    Running,
    /// The last run completed.
    Succeeded,
    /// The last run failed (`last_error` says why); the next one resumes where it stopped.
    Failed,
}

/// The state of one run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunState {
    Running,
    Succeeded,
    Failed,
    /// The process running it died (its lease ran out); a later run resumed its work.
    Interrupted,
}

/// What started a run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Trigger {
    /// The service, on the source's interval.
    Schedule,
    /// `POST /api/v1/sync-sources/{id}/runs`.
    Api,
    /// `ikz-api sync oparl URL`.
    Cli,
}

crate::stored_enum!(SyncState, RunState, Trigger);

/// A stored source.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sync_sources, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SyncSource {
    pub id: i64,
    pub system_url: String,
    pub partner_ids: String,
    pub interval_minutes: i32,
    pub active: bool,
    #[diesel(deserialize_as = String)]
    pub state: SyncState,
    pub last_run_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_full_at: Option<Timestamp>,
    pub watermark: Option<Timestamp>,
    pub last_error: Option<String>,
    pub counts: String,
    pub resume: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Timestamp>,
    pub next_run_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl SyncSource {
    /// The partners the source's bodies belong to.
    pub fn partner_id_list(&self) -> Vec<i64> {
        serde_json::from_str(&self.partner_ids).unwrap_or_default()
    }

    /// What the last run counted.
    pub fn count_list(&self) -> RunCounts {
        counts_of(&self.counts)
    }

    /// The state as it is now: a run whose process died (its lease ran out before it ended) is
    /// shown as failed, with why, until the next run resumes its work.
    pub fn state_now(&self, now: Timestamp) -> (SyncState, Option<String>) {
        match (self.state, self.lease_until) {
            (SyncState::Running, until) if until.is_none_or(|u| u < now) => (
                SyncState::Failed,
                Some("the process running the last run stopped before it ended (its lease ran out); the next run resumes where it stopped".into()),
            ),
            (state, _) => (state, self.last_error.clone()),
        }
    }

    /// Whether the last success is older than `stale_after` (or there was none since the
    /// source was created that long ago).
    pub fn stale(&self, stale_after: chrono::Duration, now: Timestamp) -> bool {
        self.last_success_at.unwrap_or(self.created_at) + stale_after < now
    }
}

/// A new source (a PATCH takes any subset of the same fields).
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSyncSource {
    /// The OParl system's URL (its `System` object).
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[validate(custom(function = "domain::validate_web_url"))]
    #[schema(example = "https://ris.koenigsbrueck.example/oparl/v1/system", format = Uri, max_length = 2000)]
    pub system_url: String,
    /// The partners whose councils this system serves; the sync adds each body's partner.
    #[serde(default)]
    #[schema(example = json!([1]))]
    pub partner_ids: Vec<i64>,
    /// Minutes between runs the service starts by itself, 5 to 44,640 (31 days).
    #[validate(range(min = 5, max = 44640, message = "must be 5 to 44640 minutes"))]
    #[serde(default = "default_interval")]
    #[schema(default = 60, minimum = 5, maximum = 44640)]
    pub interval_minutes: i32,
    /// Whether the service runs it on its interval (runs can always be started by hand).
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
}

fn default_interval() -> i32 {
    60
}

fn yes() -> bool {
    true
}

impl Normalize for CreateSyncSource {
    const NOT_NULL: &'static [&'static str] = &["active", "interval_minutes"];

    fn normalize(&mut self) {
        domain::trim(&mut self.system_url);
        self.partner_ids.sort_unstable();
        self.partner_ids.dedup();
    }
}

impl CreateSyncSource {
    fn from_stored(s: &SyncSource) -> Self {
        Self {
            system_url: s.system_url.clone(),
            partner_ids: s.partner_id_list(),
            interval_minutes: s.interval_minutes,
            active: s.active,
        }
    }
}

fn check(
    conn: &mut AnyConnection,
    policy: Option<&Policy>,
    input: &CreateSyncSource,
    id: Option<i64>,
) -> Result<(), AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    if let Some(error) = policy.and_then(|p| p.field_error("system_url", &input.system_url)) {
        errors.push(error);
    }
    errors.extend(super::partners::unknown_partner_errors(conn, "partner_ids", &input.partner_ids)?);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let mut taken = sync_sources::table
        .filter(sync_sources::system_url.eq(&input.system_url))
        .select(sync_sources::id)
        .into_boxed();
    if let Some(id) = id {
        taken = taken.filter(sync_sources::id.ne(id));
    }
    if let Some(other) = taken.first::<i64>(conn).optional()? {
        return Err(AppError::Conflict(format!("sync source {other} already copies from {}", input.system_url)));
    }
    Ok(())
}

/// Creates a source; `policy` checks its URL (`None`: the operator's own command, any host).
pub fn create(
    conn: &mut AnyConnection,
    policy: Option<&Policy>,
    input: CreateSyncSource,
    now: Timestamp,
) -> Result<SyncSource, AppError> {
    check(conn, policy, &input, None)?;
    let values = (
        sync_sources::system_url.eq(&input.system_url),
        sync_sources::partner_ids.eq(serde_json::to_string(&input.partner_ids).unwrap_or_else(|_| "[]".into())),
        sync_sources::interval_minutes.eq(input.interval_minutes),
        sync_sources::active.eq(input.active),
        sync_sources::state.eq(<&str>::from(SyncState::NeverRun)),
        sync_sources::next_run_at.eq(now),
        sync_sources::created_at.eq(now),
        sync_sources::updated_at.eq(now),
    );
    Ok(per_backend!(conn, |c| diesel::insert_into(sync_sources::table)
        .values(values)
        .returning(SyncSource::as_returning())
        .get_result(c))?)
}

/// The source of a system URL, created (active, hourly) when there is none.
pub fn find_or_create(conn: &mut AnyConnection, system_url: &str, now: Timestamp) -> Result<SyncSource, AppError> {
    let found = sync_sources::table
        .filter(sync_sources::system_url.eq(system_url.trim()))
        .select(SyncSource::as_select())
        .first(conn)
        .optional()?;
    match found {
        Some(source) => Ok(source),
        None => {
            let input = crate::models::input::decode(serde_json::json!({ "system_url": system_url }))?;
            create(conn, None, input, now)
        }
    }
}

/// One source, or 404.
pub fn get(conn: &mut AnyConnection, id: i64) -> Result<SyncSource, AppError> {
    sync_sources::table
        .find(id)
        .select(SyncSource::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("sync source", id))
}

/// One page of sources by id.
pub fn page(
    conn: &mut AnyConnection,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<SyncSource>, Option<String>), AppError> {
    let mut query = sync_sources::table.select(SyncSource::as_select()).order(sync_sources::id).into_boxed();
    if let Some(id) = after {
        query = query.filter(sync_sources::id.gt(id));
    }
    let rows = query.limit(limit + 1).load(conn)?;
    Ok(paginate(rows, limit, "id", |s| After { key: String::new(), id: s.id }))
}

/// Applies a merge patch to a source.
pub fn update(
    conn: &mut AnyConnection,
    policy: &Policy,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<SyncSource, AppError> {
    let current = get(conn, id)?;
    let input = patch.apply::<CreateSyncSource>(&CreateSyncSource::from_stored(&current))?;
    if_match.check_version(current.updated_at)?;
    let url_policy = (input.system_url != current.system_url).then_some(policy);
    check(conn, url_policy, &input, Some(id))?;
    let rescheduled = if input.interval_minutes != current.interval_minutes || (input.active && !current.active) {
        now
    } else {
        current.next_run_at
    };
    let changed = diesel::update(sync_sources::table.find(id).filter(sync_sources::updated_at.eq(current.updated_at)))
        .set((
            sync_sources::system_url.eq(&input.system_url),
            sync_sources::partner_ids.eq(serde_json::to_string(&input.partner_ids).unwrap_or_else(|_| "[]".into())),
            sync_sources::interval_minutes.eq(input.interval_minutes),
            sync_sources::active.eq(input.active),
            sync_sources::next_run_at.eq(rescheduled),
            sync_sources::updated_at.eq(now),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(changed_meanwhile("sync source"));
    }
    get(conn, id)
}

/// Deletes a source with its runs and everything it brought (bodies, organisations, meetings,
/// papers); partners the sync created stay.
pub fn delete(conn: &mut AnyConnection, id: i64, if_match: &IfMatch) -> Result<(), AppError> {
    let current = get(conn, id)?;
    if_match.check_version(current.updated_at)?;
    if current.lease_until.is_some_and(|until| until > Timestamp::now()) {
        return Err(AppError::Conflict("a run of this source is going on; delete it when the run has ended".into()));
    }
    diesel::delete(sync_sources::table.find(id)).execute(conn)?;
    Ok(())
}

/// Adds partners to the source's list (those its bodies belong to).
pub fn add_partners(conn: &mut AnyConnection, id: i64, partner_ids: &[i64]) -> Result<(), AppError> {
    let current = get(conn, id)?;
    let mut ids = current.partner_id_list();
    let before = ids.len();
    ids.extend_from_slice(partner_ids);
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != before {
        diesel::update(sync_sources::table.find(id))
            .set(sync_sources::partner_ids.eq(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())))
            .execute(conn)?;
    }
    Ok(())
}

/// A stored run.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sync_runs, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SyncRun {
    pub id: i64,
    pub source_id: i64,
    pub full_run: bool,
    #[diesel(deserialize_as = String)]
    pub trigger_kind: Trigger,
    #[diesel(deserialize_as = String)]
    pub state: RunState,
    pub modified_since: Option<Timestamp>,
    pub resumed: bool,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub error: Option<String>,
    pub counts: String,
}

impl SyncRun {
    /// What the run counted.
    pub fn count_list(&self) -> RunCounts {
        counts_of(&self.counts)
    }
}

/// One page of a source's runs, newest first.
pub fn runs_page(
    conn: &mut AnyConnection,
    source_id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<SyncRun>, Option<String>), AppError> {
    get(conn, source_id)?;
    let mut query = sync_runs::table
        .filter(sync_runs::source_id.eq(source_id))
        .select(SyncRun::as_select())
        .order(sync_runs::id.desc())
        .into_boxed();
    if let Some(id) = after {
        query = query.filter(sync_runs::id.lt(id));
    }
    let rows = query.limit(limit + 1).load(conn)?;
    Ok(paginate(rows, limit, "-id", |r| After { key: String::new(), id: r.id }))
}

/// One run of a source, or 404.
pub fn get_run(conn: &mut AnyConnection, source_id: i64, run_id: i64) -> Result<SyncRun, AppError> {
    sync_runs::table
        .filter(sync_runs::source_id.eq(source_id))
        .find(run_id)
        .select(SyncRun::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("sync run", run_id))
}

/// The active sources whose next run is due and that no process runs now.
pub fn due(conn: &mut AnyConnection, now: Timestamp) -> QueryResult<Vec<i64>> {
    sync_sources::table
        .filter(sync_sources::active.eq(true))
        .filter(sync_sources::next_run_at.le(now))
        .filter(sync_sources::lease_until.is_null().or(sync_sources::lease_until.lt(now)))
        .order(sync_sources::next_run_at)
        .select(sync_sources::id)
        .limit(20)
        .load(conn)
}

/// The lease is held by another process until the given time.
#[derive(Debug, Clone)]
pub struct Busy {
    pub owner: String,
    pub until: Timestamp,
}

/// A run that has its lease: the source as it was when claimed and the run's row.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub source: SyncSource,
    pub run: SyncRun,
}

/// What a process asks for when it claims a source.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    /// The process (`host:pid:random`).
    pub owner: &'a str,
    /// Until when the lease holds (renewed with every page).
    pub until: Timestamp,
    pub trigger: Trigger,
    /// A full run was asked for.
    pub full: bool,
    /// A full run anyway when the last one is older than this.
    pub full_every: chrono::Duration,
}

/// Takes the lease of a source and starts a run: a full one when asked for, when there is no
/// watermark yet, or when the last full run is older than `full_every`; a previous run that did
/// not finish (its `resume` kept) is marked interrupted. `Err(Busy)` when another process holds
/// the lease.
pub fn claim(
    conn: &mut AnyConnection,
    source_id: i64,
    claim: Claim<'_>,
    now: Timestamp,
) -> Result<Result<Claimed, Busy>, AppError> {
    let Claim { owner, until, trigger, full, full_every } = claim;
    let free = sync_sources::lease_until.is_null().or(sync_sources::lease_until.lt(now));
    let taken = diesel::update(sync_sources::table.find(source_id).filter(free))
        .set((sync_sources::lease_owner.eq(owner), sync_sources::lease_until.eq(until)))
        .execute(conn)?;
    let source = get(conn, source_id)?;
    if taken == 0 {
        return Ok(Err(Busy {
            owner: source.lease_owner.clone().unwrap_or_default(),
            until: source.lease_until.unwrap_or(now),
        }));
    }
    diesel::update(sync_runs::table.filter(sync_runs::source_id.eq(source_id)).filter(sync_runs::state.eq("running")))
        .set((sync_runs::state.eq(<&str>::from(RunState::Interrupted)), sync_runs::finished_at.eq(now)))
        .execute(conn)?;
    let full = full || source.watermark.is_none() || source.last_full_at.is_none_or(|at| at + full_every < now);
    let full = match source.resume.as_deref().and_then(|r| serde_json::from_str::<serde_json::Value>(r).ok()) {
        Some(saved) => saved["full"].as_bool().unwrap_or(full),
        None => full,
    };
    let values = (
        sync_runs::source_id.eq(source_id),
        sync_runs::full_run.eq(full),
        sync_runs::trigger_kind.eq(<&str>::from(trigger)),
        sync_runs::state.eq(<&str>::from(RunState::Running)),
        sync_runs::resumed.eq(source.resume.is_some()),
        sync_runs::started_at.eq(now),
        sync_runs::counts.eq("{}"),
    );
    let run = per_backend!(conn, |c| diesel::insert_into(sync_runs::table)
        .values(values)
        .returning(SyncRun::as_returning())
        .get_result(c))?;
    diesel::update(sync_sources::table.find(source_id))
        .set((sync_sources::state.eq(<&str>::from(SyncState::Running)), sync_sources::last_run_at.eq(now)))
        .execute(conn)?;
    Ok(Ok(Claimed { source, run }))
}

/// Keeps the lease until `until` and saves a run's positions and counts (after each page, in
/// the page's transaction). Fails when the lease was lost (another process took the source
/// over after this one stalled past its lease): the page is then not written.
pub fn save_progress(
    conn: &mut AnyConnection,
    source_id: i64,
    run_id: i64,
    owner: &str,
    until: Timestamp,
    resume: &str,
    counts: &RunCounts,
) -> Result<(), AppError> {
    let counts = serde_json::to_string(counts).unwrap_or_else(|_| "{}".into());
    let kept = diesel::update(sync_sources::table.find(source_id).filter(sync_sources::lease_owner.eq(owner)))
        .set((sync_sources::lease_until.eq(until), sync_sources::resume.eq(resume)))
        .execute(conn)?;
    if kept == 0 {
        return Err(AppError::Conflict(
            "another process took this source over (this run stalled past its lease)".into(),
        ));
    }
    diesel::update(sync_runs::table.find(run_id)).set(sync_runs::counts.eq(counts)).execute(conn)?;
    Ok(())
}

/// How a run ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Completed; the newest `modified` the server sent becomes the watermark.
    Succeeded { watermark: Option<Timestamp>, full: bool },
    /// Failed with this message; the list positions stay for the next run.
    Failed(String),
}

/// Ends a run: records its outcome and counts in the run and the source, schedules the next
/// one and gives the lease back.
pub fn finish(
    conn: &mut AnyConnection,
    source_id: i64,
    run_id: i64,
    owner: &str,
    outcome: &Outcome,
    counts: &RunCounts,
    now: Timestamp,
) -> Result<(), AppError> {
    let source = get(conn, source_id)?;
    let counts = serde_json::to_string(counts).unwrap_or_else(|_| "{}".into());
    let next = now + chrono::Duration::minutes(source.interval_minutes.into());
    let (run_state, error) = match outcome {
        Outcome::Succeeded { .. } => (RunState::Succeeded, None),
        Outcome::Failed(message) => (RunState::Failed, Some(message.clone())),
    };
    let mine = sync_sources::table.find(source_id).filter(sync_sources::lease_owner.eq(owner));
    match outcome {
        Outcome::Succeeded { watermark, full } => {
            let watermark = match (*watermark, source.watermark) {
                (Some(new), Some(old)) => Some(new.max(old)),
                (new, old) => new.or(old),
            };
            let last_full = if *full { Some(now) } else { source.last_full_at };
            diesel::update(mine)
                .set((
                    sync_sources::state.eq(<&str>::from(SyncState::Succeeded)),
                    sync_sources::last_success_at.eq(now),
                    sync_sources::last_full_at.eq(last_full),
                    sync_sources::watermark.eq(watermark),
                    sync_sources::last_error.eq(None::<String>),
                    sync_sources::counts.eq(&counts),
                    sync_sources::resume.eq(None::<String>),
                    sync_sources::next_run_at.eq(next),
                    sync_sources::lease_owner.eq(None::<String>),
                    sync_sources::lease_until.eq(None::<Timestamp>),
                ))
                .execute(conn)?;
        }
        Outcome::Failed(message) => {
            diesel::update(mine)
                .set((
                    sync_sources::state.eq(<&str>::from(SyncState::Failed)),
                    sync_sources::last_error.eq(message),
                    sync_sources::counts.eq(&counts),
                    sync_sources::next_run_at.eq(next),
                    sync_sources::lease_owner.eq(None::<String>),
                    sync_sources::lease_until.eq(None::<Timestamp>),
                ))
                .execute(conn)?;
        }
    }
    // The run's row after the source's, in the order every write of a run takes them
    // (`claim`, `save_progress`), so that two writes of one run never wait for each other.
    diesel::update(sync_runs::table.find(run_id))
        .set((
            sync_runs::state.eq(<&str>::from(run_state)),
            sync_runs::finished_at.eq(now),
            sync_runs::error.eq(&error),
            sync_runs::counts.eq(&counts),
        ))
        .execute(conn)?;
    Ok(())
}
