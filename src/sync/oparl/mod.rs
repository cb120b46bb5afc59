//! The OParl connector: copies bodies, organisations, meetings (with agenda items) and papers
//! (with consultations) of a council information system into the service (persons are not
//! copied: not needed, and personal data).
//!
//! A run:
//! 1. takes the source's lease (one process at a time, across instances and the command line);
//! 2. reads the `System`, then its bodies, and matches each body to a partner by AGS (or makes
//!    one);
//! 3. reads each body's organisation, meeting and paper lists, page by page, asking with
//!    `modified_since` = watermark − overlap (a full run, weekly by default, asks from an early
//!    date, as OParl 1.1 lists deleted objects only then); each page is written in one
//!    transaction together with the list's next position, so a run that is killed resumes
//!    from there;
//! 4. deletes only what the server marks `deleted: true` (a missing object may just be hidden);
//! 5. ends by taking the newest `modified` the server sent (its clock, not ours) as watermark.

pub mod client;
pub mod json;
pub mod mapping;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::Caller;
use crate::db::{Db, Timestamp};
use crate::error::AppError;
use crate::models::council::store::{self, Incoming, StoredBody};
use crate::models::measures::decisions;
use crate::models::sync_sources::{self, Busy, Claimed, Outcome, RunCounts, Trigger};
use crate::outbound;
use crate::progress::Progress;
use client::{FetchError, Fetcher, Got};
use mapping::Reader;

pub use client::FetchSettings;

/// How runs are made (`IKZ_SYNC_*`, see `config.rs`).
#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// Requests: sizes, time-outs, retries, rate and concurrency.
    pub fetch: FetchSettings,
    /// Incremental runs ask for what changed since the watermark minus this.
    pub overlap: chrono::Duration,
    /// A full run when the last one is older than this.
    pub full_every: chrono::Duration,
    /// How long a run's lease lasts without news (renewed with every page).
    pub lease: chrono::Duration,
    /// A source is stale when its last success is older than this.
    pub stale_after: chrono::Duration,
    /// How often the service looks for due sources.
    pub schedule_every: Duration,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            fetch: FetchSettings::default(),
            overlap: chrono::Duration::days(1),
            full_every: chrono::Duration::days(7),
            lease: chrono::Duration::minutes(2),
            stale_after: chrono::Duration::hours(48),
            schedule_every: Duration::from_secs(30),
        }
    }
}

/// The `modified_since` of a full run: early enough for everything.
const EARLY: &str = "1970-01-01T00:00:00+00:00";

/// Why a run did not complete.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Another process runs the source now.
    #[error("another run of this source is going on ({}, lease until {})", .0.owner, .0.until.utc().to_rfc3339())]
    Busy(Busy),
    /// The run started and failed (recorded in the run and the source's health).
    #[error("{message}")]
    Failed { run_id: i64, message: String },
    /// The database failed before the run could start or be recorded.
    #[error("{0}")]
    Database(#[from] AppError),
}

/// Where each list of a run stands: saved with every page, read back by the next run when this
/// one did not finish.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Plan {
    full: bool,
    /// What lists are asked with (`None`: without `modified_since`).
    modified_since: Option<String>,
    /// The newest `modified` seen so far.
    newest: Option<Timestamp>,
    /// Per list (`paper https://…/body/1/paper`): the next page to read, or `None` when done.
    lists: BTreeMap<String, Option<String>>,
    counts: RunCounts,
}

/// A run that has its lease and its row, ready to be carried out ([`execute`]).
pub struct Started {
    pub claimed: Claimed,
    owner: String,
}

impl Started {
    /// The run's id.
    pub fn run_id(&self) -> i64 {
        self.claimed.run.id
    }
}

/// What a completed run did.
#[derive(Debug, Clone)]
pub struct Finished {
    pub run_id: i64,
    pub counts: RunCounts,
}

/// A name for this process in leases: host, process id and a random part.
fn owner() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!("{host}:{}:{:08x}", std::process::id(), rand::random::<u32>())
}

/// Takes the source's lease and starts a run.
pub async fn start(
    db: &Db,
    settings: &SyncSettings,
    source_id: i64,
    trigger: Trigger,
    full: bool,
) -> Result<Started, RunError> {
    let owner = owner();
    let (lease, full_every) = (settings.lease, settings.full_every);
    let who = owner.clone();
    let claimed = db
        .write(move |c| {
            let now = Timestamp::now();
            let claim = sync_sources::Claim { owner: &who, until: now + lease, trigger, full, full_every };
            sync_sources::claim(c, source_id, claim, now)
        })
        .await?;
    match claimed {
        Ok(claimed) => Ok(Started { claimed, owner }),
        Err(busy) => Err(RunError::Busy(busy)),
    }
}

/// Carries a started run out and records how it ended.
pub async fn execute(
    db: &Db,
    client: outbound::Client,
    settings: &SyncSettings,
    started: Started,
    progress: Progress,
) -> Result<Finished, RunError> {
    let Started { claimed: Claimed { source, run }, owner } = started;
    let plan =
        source.resume.as_deref().and_then(|saved| serde_json::from_str::<Plan>(saved).ok()).unwrap_or_else(|| Plan {
            full: run.full_run,
            modified_since: Some(match (run.full_run, source.watermark) {
                (false, Some(watermark)) => since(watermark - settings.overlap),
                _ => EARLY.to_owned(),
            }),
            ..Plan::default()
        });
    let counts = Arc::new(Mutex::new(plan.counts.clone()));
    let job = Job {
        db: db.clone(),
        fetcher: Fetcher::new(client, settings.fetch.clone(), counts.clone()),
        source_id: source.id,
        run_id: run.id,
        owner: owner.clone(),
        lease: settings.lease,
        plan: Arc::new(Mutex::new(plan)),
        counts: counts.clone(),
        seen: Arc::new(Mutex::new(HashSet::new())),
        progress,
        caller: Caller::system("oparl-sync"),
        stop: std::sync::atomic::AtomicBool::new(false),
    };
    let result = job.run(&source.system_url).await;
    let counts = job.counts.lock().map(|c| c.clone()).unwrap_or_default();
    let (outcome, answer) = match result {
        Ok(()) => {
            let plan = job.plan.lock().map(|p| p.clone()).unwrap_or_default();
            (Outcome::Succeeded { watermark: plan.newest, full: plan.full }, Ok(()))
        }
        Err(message) => (Outcome::Failed(message.clone()), Err(message)),
    };
    let (source_id, run_id, recorded) = (source.id, run.id, counts.clone());
    db.write(move |c| sync_sources::finish(c, source_id, run_id, &owner, &outcome, &recorded, Timestamp::now()))
        .await?;
    match answer {
        Ok(()) => Ok(Finished { run_id, counts }),
        Err(message) => Err(RunError::Failed { run_id, message }),
    }
}

/// Starts and carries out one run of a source.
pub async fn run(
    db: &Db,
    client: outbound::Client,
    settings: &SyncSettings,
    source_id: i64,
    trigger: Trigger,
    full: bool,
    progress: Progress,
) -> Result<Finished, RunError> {
    let started = start(db, settings, source_id, trigger, full).await?;
    execute(db, client, settings, started, progress).await
}

/// Runs the due sources, every `schedule_every`, until the process ends.
pub async fn schedule(db: Db, client: outbound::Client, settings: SyncSettings) {
    let mut tick = tokio::time::interval(settings.schedule_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let due = match db.read(|c| Ok(sync_sources::due(c, Timestamp::now())?)).await {
            Ok(due) => due,
            Err(e) => {
                log::warn!("cannot look for due sync sources: {e}");
                continue;
            }
        };
        for source_id in due {
            match run(&db, client.clone(), &settings, source_id, Trigger::Schedule, false, Progress::none()).await {
                Ok(done) => log::info!("sync source {source_id}: run {} completed", done.run_id),
                Err(RunError::Busy(_)) => {}
                Err(e) => log::warn!("sync source {source_id}: {e}"),
            }
        }
    }
}

/// `modified_since` as OParl servers expect it: a full date-time without fractional seconds.
fn since(at: Timestamp) -> String {
    at.utc().format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// `url` with `modified_since` set (URL-encoded: `+` becomes `%2B`).
fn with_since(url: &str, modified_since: Option<&str>) -> Result<String, String> {
    let Some(value) = modified_since else { return Ok(url.to_owned()) };
    let mut parsed = url::Url::parse(url).map_err(|e| format!("{url}: not a URL: {e}"))?;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != "modified_since")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed.query_pairs_mut().clear().extend_pairs(kept).append_pair("modified_since", value);
    Ok(parsed.to_string())
}

/// The kinds of list a body has, in the order they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Organization,
    Meeting,
    Paper,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::Organization => "organization",
            Self::Meeting => "meeting",
            Self::Paper => "paper",
        }
    }
}

/// One page of a list: its entries and the next page.
struct Page {
    items: Vec<Value>,
    next: Option<String>,
}

struct Job {
    db: Db,
    fetcher: Fetcher,
    source_id: i64,
    run_id: i64,
    owner: String,
    lease: chrono::Duration,
    plan: Arc<Mutex<Plan>>,
    counts: Arc<Mutex<RunCounts>>,
    /// `kind id` of every object seen in this run, to skip an entry a later page repeats.
    seen: Arc<Mutex<HashSet<String>>>,
    progress: Progress,
    caller: Caller,
    /// Set when a list failed: the others stop at their next page.
    stop: std::sync::atomic::AtomicBool,
}

impl Job {
    fn quirk(&self, name: &str) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.quirk(name);
        }
    }

    async fn run(&self, system_url: &str) -> Result<(), String> {
        let system = match self.fetcher.get(system_url).await.map_err(|e| e.to_string())? {
            Got::Found(value) if value.is_object() => value,
            Got::Found(_) => return Err(format!("{system_url}: the answer is not an OParl System object")),
            Got::NotFound(_) => {
                return Err(format!("{system_url}: the server answered HTTP 404 (no OParl System here)"));
            }
        };
        if system.get("id").and_then(Value::as_str).is_some_and(|id| id.trim() != system_url) {
            self.quirk("id_differs_from_url");
        }
        let Some(body_list) = system.get("body").and_then(Value::as_str).map(str::to_owned) else {
            return Err(format!("{system_url}: the System object names no body list (`body`)"));
        };
        let mut bodies = Vec::new();
        let mut url = Some(body_list.clone());
        let mut visited = HashSet::new();
        while let Some(current) = url.take() {
            visited.insert(current.clone());
            let page = self.page(&current, None, visited.len() == 1).await?;
            bodies.extend(page.items);
            url = page.next.filter(|n| !visited.contains(n));
        }
        let mut partner_ids = Vec::new();
        let mut stored_bodies = Vec::new();
        for value in bodies {
            let incoming = {
                let mut counts = self.counts.lock().map_err(|_| "counts poisoned".to_owned())?;
                Reader { counts: &mut counts }.body(&value)
            };
            let Some(incoming) = incoming else { continue };
            let Incoming::Live(body) = incoming else {
                self.quirk("deleted_body_kept");
                continue;
            };
            if !self.first_sighting("body", &body.oparl_id) {
                continue;
            }
            let (caller, source_id) = (self.caller.clone(), self.source_id);
            let newest = body.modified;
            let written = self
                .db
                .write(move |c| {
                    let now = Timestamp::now();
                    let partner = store::partner_for_body(c, &caller, &body, now)?;
                    let (stored, op) = store::store_body(c, source_id, &body, partner.id(), now)?;
                    if let Some(id) = partner.id() {
                        sync_sources::add_partners(c, source_id, &[id])?;
                    }
                    Ok((stored, op, partner, body))
                })
                .await
                .map_err(|e| format!("cannot store a body: {e}"))?;
            let (stored, op, partner, body) = written;
            self.note_newest(newest);
            if let Ok(mut counts) = self.counts.lock() {
                let created = u64::from(op == Some(crate::changes::Op::Created));
                let updated = u64::from(op == Some(crate::changes::Op::Updated));
                counts.tally("body", store::Tally { seen: 1, created, updated, deleted: 0 });
                if let store::PartnerMatch::Created(_) = partner {
                    counts.tally("partner", store::Tally { seen: 1, created: 1, updated: 0, deleted: 0 });
                }
            }
            if let Some(id) = partner.id() {
                partner_ids.push(id);
            }
            stored_bodies.push((stored, body));
        }
        for (stored, body) in stored_bodies {
            let lists = [
                (Kind::Organization, body.organization_list.clone()),
                (Kind::Meeting, body.meeting_list.clone()),
                (Kind::Paper, body.paper_list.clone()),
            ];
            // Side by side; when one fails the others stop at their next page, and the run
            // waits for them, so that no page is still being written when the run is ended.
            let jobs = lists.into_iter().filter_map(|(kind, url)| url.map(|u| self.list(stored, kind, u)));
            let ended = futures_util::future::join_all(jobs).await;
            if let Some(error) = ended.into_iter().find_map(Result::err) {
                return Err(error);
            }
        }
        self.derive_decisions(partner_ids).await
    }

    /// Derives the council decisions of the measures linked to these partners' papers (or
    /// holding decisions derived for them) from what the run stored, in one transaction. Run at
    /// every end, so that a meeting that has taken place since the last run counts now.
    async fn derive_decisions(&self, partner_ids: Vec<i64>) -> Result<(), String> {
        if partner_ids.is_empty() {
            return Ok(());
        }
        let caller = self.caller.clone();
        let done = self
            .db
            .write(move |c| {
                let measures = decisions::derivable(c, &partner_ids)?;
                decisions::derive(c, &caller, &measures, None, Timestamp::now())
            })
            .await
            .map_err(|e| format!("cannot derive council decisions: {e}"))?;
        if let Ok(mut counts) = self.counts.lock() {
            let tally = store::Tally {
                seen: done.created + done.updated + done.deleted,
                created: done.created,
                updated: done.updated,
                deleted: done.deleted,
            };
            counts.tally("council_decision", tally);
        }
        Ok(())
    }

    /// Whether this is the first time the run sees `kind id` (a repeat is counted as a quirk).
    fn first_sighting(&self, kind: &str, id: &str) -> bool {
        let first = self.seen.lock().map(|mut seen| seen.insert(format!("{kind} {id}"))).unwrap_or(true);
        if !first {
            self.quirk("duplicate_entries");
        }
        first
    }

    fn note_newest(&self, modified: Option<Timestamp>) {
        if let (Some(at), Ok(mut plan)) = (modified, self.plan.lock()) {
            plan.newest = Some(plan.newest.map_or(at, |n| n.max(at)));
        }
    }

    /// Reads one page of a list, with the quirks of empty lists and lone objects. A 404 is an
    /// empty list only on a list's first page: a later page that is not found ends the run with
    /// an error, as a list is never given up silently.
    async fn page(&self, url: &str, modified_since: Option<&str>, first: bool) -> Result<Page, String> {
        let got = self.fetcher.get(url).await.map_err(|e: FetchError| e.to_string())?;
        let value = match got {
            Got::Found(value) => value,
            Got::NotFound(_) if first => {
                self.quirk("not_found_for_empty_list");
                return Ok(Page { items: Vec::new(), next: None });
            }
            Got::NotFound(_) => {
                return Err(format!("{url}: the server answered HTTP 404 for a page its list linked to"));
            }
        };
        let (items, links) = match value {
            Value::Array(items) => {
                self.quirk("bare_array_list");
                (items, None)
            }
            Value::Object(mut object) => match object.remove("data") {
                Some(Value::Array(items)) => (items, object.remove("links")),
                Some(Value::Null) => (Vec::new(), object.remove("links")),
                Some(one @ Value::Object(_)) => {
                    self.quirk("object_for_array");
                    (vec![one], object.remove("links"))
                }
                Some(_) => return Err(format!("{url}: `data` is not a list")),
                None if object.contains_key("id") => {
                    self.quirk("single_object_for_list");
                    (vec![Value::Object(object)], None)
                }
                None => return Err(format!("{url}: the answer is not an OParl list (no `data`)")),
            },
            _ => return Err(format!("{url}: the answer is not an OParl list")),
        };
        let mut next = links.as_ref().and_then(|l| l.get("next")).and_then(Value::as_str).map(str::to_owned);
        if let (Some(n), Some(since)) = (&next, modified_since) {
            let kept = url::Url::parse(n).ok().is_some_and(|u| u.query_pairs().any(|(k, _)| k == "modified_since"));
            if !kept {
                self.quirk("next_link_drops_modified_since");
                next = Some(with_since(n, Some(since))?);
            }
        }
        if next.as_deref() == Some(url) {
            self.quirk("next_link_loops");
            next = None;
        }
        Ok(Page { items, next })
    }

    /// Reads a list of a body to its end, writing page by page.
    async fn list(&self, body: StoredBody, kind: Kind, list_url: String) -> Result<(), String> {
        let key = format!("{} {list_url}", kind.name());
        let (position, modified_since) = {
            let plan = self.plan.lock().map_err(|_| "plan poisoned".to_owned())?;
            (plan.lists.get(&key).cloned(), plan.modified_since.clone())
        };
        let resumed = matches!(position, Some(Some(_)));
        let mut url = match position {
            Some(None) => return Ok(()),
            Some(Some(next)) => Some(next),
            None => Some(with_since(&list_url, modified_since.as_deref())?),
        };
        let mut visited = HashSet::new();
        while let Some(current) = url.take() {
            if self.stop.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(());
            }
            visited.insert(current.clone());
            let first = visited.len() == 1 && !resumed;
            let done = match self.page(&current, modified_since.as_deref(), first).await {
                Ok(page) => {
                    let next = page.next.filter(|n| !visited.contains(n));
                    self.write_page(body, kind, &key, page.items, next.clone()).await.map(|()| next)
                }
                Err(e) => Err(e),
            };
            match done {
                Ok(next) => url = next,
                Err(e) => {
                    self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Writes one page and the list's next position in one transaction.
    async fn write_page(
        &self,
        body: StoredBody,
        kind: Kind,
        key: &str,
        items: Vec<Value>,
        next: Option<String>,
    ) -> Result<(), String> {
        enum Batch {
            Organizations(Vec<Incoming<store::OrganizationIn>>),
            Meetings(Vec<Incoming<store::MeetingIn>>),
            Papers(Vec<Incoming<store::PaperIn>>),
        }
        let count = items.len() as u64;
        let (batch, newest) = {
            let mut counts = self.counts.lock().map_err(|_| "counts poisoned".to_owned())?;
            let mut reader = Reader { counts: &mut counts };
            let id_of = |v: &Value| v.get("id").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
            let mut repeats = 0;
            let mut fresh = Vec::new();
            for item in items {
                // An entry without id is passed on (and counted as such by the reader).
                let id = id_of(&item);
                if id.is_empty()
                    || self.seen.lock().map(|mut s| s.insert(format!("{} {id}", kind.name()))).unwrap_or(true)
                {
                    fresh.push(item);
                } else {
                    repeats += 1;
                }
            }
            for _ in 0..repeats {
                reader.counts.quirk("duplicate_entries");
            }
            let mut newest: Option<Timestamp> = None;
            let mut keep = |at: Option<Timestamp>| {
                if let Some(at) = at {
                    newest = Some(newest.map_or(at, |n| n.max(at)));
                }
            };
            let batch = match kind {
                Kind::Organization => {
                    let all: Vec<_> = fresh.iter().filter_map(|v| reader.organization(v)).collect();
                    all.iter().for_each(|i| keep(mapping::modified_of(i, |t| t.modified)));
                    Batch::Organizations(all)
                }
                Kind::Meeting => {
                    let all: Vec<_> = fresh.iter().filter_map(|v| reader.meeting(v)).collect();
                    all.iter().for_each(|i| keep(mapping::modified_of(i, |t| t.modified)));
                    Batch::Meetings(all)
                }
                Kind::Paper => {
                    let all: Vec<_> = fresh.iter().filter_map(|v| reader.paper(v)).collect();
                    all.iter().for_each(|i| keep(mapping::modified_of(i, |t| t.modified)));
                    Batch::Papers(all)
                }
            };
            (batch, newest)
        };
        self.note_newest(newest);
        let (caller, source_id, run_id, owner) = (self.caller.clone(), self.source_id, self.run_id, self.owner.clone());
        let until = Timestamp::now() + self.lease;
        let (plan, counts, key) = (self.plan.clone(), self.counts.clone(), key.to_owned());
        let name = kind.name();
        self.db
            .write(move |c| {
                let now = Timestamp::now();
                let tally = match batch {
                    Batch::Organizations(items) => store::store_organizations(c, body, items, now)?,
                    Batch::Meetings(items) => store::store_meetings(c, &caller, body, items, now)?,
                    Batch::Papers(items) => store::store_papers(c, &caller, body, items, now)?,
                };
                // The plan is taken here, on the writer, so that the position saved last is
                // always the newest of every list (lists are read side by side).
                let poisoned = || AppError::Internal("the run's state is poisoned".into());
                let mut counts = counts.lock().map_err(|_| poisoned())?;
                counts.tally(name, tally);
                let mut plan = plan.lock().map_err(|_| poisoned())?;
                plan.lists.insert(key, next);
                plan.counts = counts.clone();
                let text = serde_json::to_string(&*plan).map_err(|e| AppError::Internal(e.to_string()))?;
                sync_sources::save_progress(c, source_id, run_id, &owner, until, &text, &counts)?;
                Ok(())
            })
            .await
            .map_err(|e| format!("cannot store a page of {name}s: {e}"))?;
        self.progress.add(count);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_since_is_a_whole_second_date_time_and_url_encoded() {
        let at =
            Timestamp::from(chrono::DateTime::parse_from_rfc3339("2026-11-30T12:34:56.789+01:00").unwrap().to_utc());
        assert_eq!(since(at), "2026-11-30T11:34:56+00:00");
        let url = with_since("https://ris.example/oparl/paper?page=2&modified_since=x", Some(&since(at))).unwrap();
        assert_eq!(url, "https://ris.example/oparl/paper?page=2&modified_since=2026-11-30T11%3A34%3A56%2B00%3A00");
        assert_eq!(with_since("https://ris.example/p", None).unwrap(), "https://ris.example/p");
    }
}
