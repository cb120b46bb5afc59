//! Webhook deliveries: the feed, followed per webhook and sent to its URL, at least once.
//!
//! - The queue lives in the database (`webhook_deliveries`), so deliveries survive restarts and
//!   `kill -9`. A webhook's `position` is the feed position up to which its deliveries are
//!   queued: the sender copies what came after it, in feed order, when it takes the webhook.
//! - One instance at a time sends a webhook's deliveries: it claims the webhook with a lease
//!   (`lease_owner`, `lease_until`), sends its due deliveries one after the other, in feed
//!   order, and gives the lease back. An instance that dies holding a lease is replaced once
//!   the lease runs out; only then can an attempt be sent twice.
//! - A failed attempt is retried after an exponential delay with jitter; once a delivery has
//!   failed for the retry period (`IKZ_WEBHOOK_RETRY_HOURS`), it is marked failed and its
//!   webhook paused (`paused_reason = failing`) until an admin resumes it. Later deliveries wait
//!   meanwhile: the order of a webhook's deliveries is the feed's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cursor::CursorKey;
use super::{Change, Item, Op, Resource, signing};
use crate::auth::Caller;
use crate::db::schema::{changes, webhook_deliveries as deliveries, webhooks};
use crate::db::{AnyConnection, Db, Timestamp};
use crate::error::AppError;
use crate::outbound;
use crate::per_backend;

/// Why the service paused a webhook: a delivery failed for the whole retry period.
pub const PAUSED_FAILING: &str = "failing";

/// Where a delivery stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[schema(as = DeliveryStatus)]
pub enum Status {
    /// Waiting to be sent (or to be retried at `next_attempt_at`).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Retried for the whole retry period without success; its webhook was paused.
    Failed,
}

crate::stored_enum!(Status);

/// A stored delivery.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deliveries, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Delivery {
    pub id: i64,
    pub webhook_id: i64,
    pub change_id: i64,
    /// The JSON body sent: the change item.
    pub payload: String,
    #[diesel(deserialize_as = String)]
    pub status: Status,
    pub attempts: i32,
    pub first_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub next_attempt_at: Timestamp,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A page of a webhook's deliveries, newest first (`limit + 1` rows).
pub fn page(
    conn: &mut AnyConnection,
    webhook_id: i64,
    status: Option<Status>,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    let mut query = deliveries::table
        .filter(deliveries::webhook_id.eq(webhook_id))
        .select(Delivery::as_select())
        .order(deliveries::id.desc())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(deliveries::status.eq(<&str>::from(status)));
    }
    if let Some(id) = before {
        query = query.filter(deliveries::id.lt(id));
    }
    query.limit(limit + 1).load(conn)
}

/// Puts a delivery back in the queue, due now, with a fresh retry period; `None` if the webhook
/// has no such delivery.
pub fn resend(
    conn: &mut AnyConnection,
    webhook_id: i64,
    delivery_id: i64,
    now: Timestamp,
) -> QueryResult<Option<Delivery>> {
    let target = deliveries::table.find(delivery_id).filter(deliveries::webhook_id.eq(webhook_id));
    let changed = diesel::update(target)
        .set((
            deliveries::status.eq(<&str>::from(Status::Pending)),
            deliveries::next_attempt_at.eq(now),
            deliveries::first_attempt_at.eq(None::<Timestamp>),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Ok(None);
    }
    diesel::update(webhooks::table.find(webhook_id)).set(webhooks::next_run_at.eq(now)).execute(conn)?;
    deliveries::table.find(delivery_id).select(Delivery::as_select()).first(conn).optional()
}

/// On resuming a webhook: its failed deliveries go back in the queue, due now.
pub fn retry_failed(conn: &mut AnyConnection, webhook_id: i64, now: Timestamp) -> QueryResult<usize> {
    let failed = deliveries::table
        .filter(deliveries::webhook_id.eq(webhook_id))
        .filter(deliveries::status.eq(<&str>::from(Status::Failed)));
    diesel::update(failed)
        .set((
            deliveries::status.eq(<&str>::from(Status::Pending)),
            deliveries::next_attempt_at.eq(now),
            deliveries::first_attempt_at.eq(None::<Timestamp>),
        ))
        .execute(conn)
}

/// Deletes a webhook's deliveries (before the webhook itself).
pub fn forget(conn: &mut AnyConnection, webhook_id: i64) -> QueryResult<usize> {
    diesel::delete(deliveries::table.filter(deliveries::webhook_id.eq(webhook_id))).execute(conn)
}

/// Deletes delivered deliveries older than `before` (with the feed's retention).
pub fn prune(conn: &mut AnyConnection, before: Timestamp) -> QueryResult<usize> {
    let old = deliveries::table
        .filter(deliveries::status.eq(<&str>::from(Status::Delivered)))
        .filter(deliveries::created_at.lt(before));
    diesel::delete(old).execute(conn)
}

/// How the sender works; [`Settings::new`] has the service's values.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a failing delivery is retried before its webhook is paused.
    pub retry_for: chrono::Duration,
    /// How long a claim on a webhook lasts.
    pub lease: Duration,
    /// How often the sender looks for work when nothing woke it.
    pub poll: Duration,
    /// Webhooks sent to at the same time by one instance.
    pub parallel: usize,
    /// After a commit woke the sender, how long it lets further commits gather before it looks:
    /// under a stream of writes it reads at most this often, not once per write.
    pub settle: Duration,
}

impl Settings {
    /// The service's settings with the given retry period.
    pub fn new(retry_for: chrono::Duration) -> Self {
        Self {
            retry_for,
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(500),
            parallel: 8,
            settle: Duration::from_millis(25),
        }
    }
}

/// The delay before retry number `attempts` (1 after the first failure): 5 s, doubling, at most
/// 6 h, each drawn between half and all of that ("equal jitter", so that receivers coming back
/// are not hit by every sender at the same moment).
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = attempts.clamp(1, 20) - 1;
    let full = (5_i64 << exponent).min(6 * 3600) * 1000;
    chrono::Duration::milliseconds(full / 2 + rand::random_range(0..=full / 2))
}

/// A webhook claimed for sending.
#[derive(Debug, Clone)]
struct Claimed {
    id: i64,
    url: String,
    secrets: Vec<String>,
}

/// The webhook that has waited longest among those with work (new changes to queue, or
/// deliveries due) and no live lease, with the feed's head.
fn candidate(conn: &mut AnyConnection, now: Timestamp) -> QueryResult<Option<(i64, i64)>> {
    let head = super::head(conn)?;
    let free = webhooks::lease_until.is_null().or(webhooks::lease_until.lt(now));
    let id: Option<i64> = webhooks::table
        .filter(webhooks::active.eq(true))
        .filter(free)
        .filter(webhooks::next_run_at.le(now).or(webhooks::position.lt(head)))
        .order(webhooks::next_run_at)
        .select(webhooks::id)
        .first(conn)
        .optional()?;
    Ok(id.map(|id| (id, head)))
}

/// Claims one webhook that has work (new changes to queue, or deliveries due) for `lease`, and
/// queues its new changes. `None` when no webhook has work.
fn claim(
    conn: &mut AnyConnection,
    owner: &str,
    keys: &CursorKey,
    lease: Duration,
    now: Timestamp,
) -> QueryResult<Option<Claimed>> {
    let Some((id, head)) = candidate(conn, now)? else { return Ok(None) };
    let free = webhooks::lease_until.is_null().or(webhooks::lease_until.lt(now));
    let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
    // Another instance may have claimed it since: the condition is checked again by the UPDATE
    // (on PostgreSQL after waiting for that instance's row lock).
    let taken = diesel::update(webhooks::table.find(id).filter(free))
        .set((webhooks::lease_owner.eq(owner), webhooks::lease_until.eq(until)))
        .execute(conn)?;
    if taken == 0 {
        return Ok(None);
    }
    type Row = (String, String, Option<String>, Option<Timestamp>, i64, String);
    let (url, secret, previous, previous_until, position, resources): Row = webhooks::table
        .find(id)
        .select((
            webhooks::url,
            webhooks::secret,
            webhooks::previous_secret,
            webhooks::previous_secret_until,
            webhooks::position,
            webhooks::resources,
        ))
        .first(conn)?;
    enqueue(conn, id, position, head, &super::parse_resources(&resources), keys, now)?;
    let mut secrets = vec![secret];
    secrets.extend(previous.filter(|_| previous_until.is_some_and(|until| until > now)));
    Ok(Some(Claimed { id, url, secrets }))
}

/// Most changes queued for one webhook in one claim.
const ENQUEUE_BATCH: i64 = 1000;

/// Queues the changes after `position` (up to `head`) of the webhook's resources.
fn enqueue(
    conn: &mut AnyConnection,
    webhook_id: i64,
    position: i64,
    head: i64,
    resources: &[Resource],
    keys: &CursorKey,
    now: Timestamp,
) -> QueryResult<()> {
    if position >= head {
        return Ok(());
    }
    let names: Vec<&str> = resources.iter().map(|r| r.as_str()).collect();
    // Changes up to `head` only: every number up to it is committed (the feed's order), so none
    // is passed over.
    let rows: Vec<Change> = changes::table
        .filter(changes::id.gt(position))
        .filter(changes::id.le(head))
        .filter(changes::resource.eq_any(names))
        .order(changes::id)
        .limit(ENQUEUE_BATCH)
        .select(Change::as_select())
        .load(conn)?;
    let through = if rows.len() as i64 == ENQUEUE_BATCH { rows.last().map_or(head, |c| c.id) } else { head };
    let pending = <&str>::from(Status::Pending);
    let new: Vec<_> = rows
        .into_iter()
        .map(|change| {
            let change_id = change.id;
            let payload = serde_json::to_string(&Item::new(change, keys, true)).unwrap_or_default();
            (
                deliveries::webhook_id.eq(webhook_id),
                deliveries::change_id.eq(change_id),
                deliveries::payload.eq(payload),
                deliveries::status.eq(pending),
                deliveries::attempts.eq(0),
                deliveries::next_attempt_at.eq(now),
                deliveries::created_at.eq(now),
            )
        })
        .collect();
    for chunk in new.chunks(200) {
        per_backend!(conn, |c| diesel::insert_into(deliveries::table).values(chunk).execute(c))?;
    }
    diesel::update(webhooks::table.find(webhook_id)).set(webhooks::position.eq(through)).execute(conn)?;
    Ok(())
}

/// Most deliveries sent in one claim (then the lease is given back and taken again).
const SEND_BATCH: i64 = 500;

/// The webhook's next deliveries in feed order.
fn due(conn: &mut AnyConnection, webhook_id: i64) -> QueryResult<Vec<(i64, String, Timestamp, i32)>> {
    deliveries::table
        .filter(deliveries::webhook_id.eq(webhook_id))
        .filter(deliveries::status.eq(<&str>::from(Status::Pending)))
        .order(deliveries::change_id)
        .limit(SEND_BATCH)
        .select((deliveries::id, deliveries::payload, deliveries::next_attempt_at, deliveries::attempts))
        .load(conn)
}

/// A failed attempt.
#[derive(Debug)]
struct Failure {
    delivery_id: i64,
    status: Option<i32>,
    error: String,
}

/// What one claim achieved, written back in one transaction.
#[derive(Debug, Default)]
struct Outcome {
    /// Delivered: id and the receiver's status.
    delivered: Vec<(i64, i32)>,
    failure: Option<Failure>,
    /// When the next delivery is due, if one is left.
    next_due: Option<Timestamp>,
}

/// Writes what a claim achieved and gives the lease back.
fn finish(
    conn: &mut AnyConnection,
    webhook_id: i64,
    owner: &str,
    outcome: &Outcome,
    retry_for: chrono::Duration,
    now: Timestamp,
) -> QueryResult<()> {
    let mut statuses: Vec<i32> = outcome.delivered.iter().map(|(_, s)| *s).collect();
    statuses.sort_unstable();
    statuses.dedup();
    for status in statuses {
        let ids: Vec<i64> = outcome.delivered.iter().filter(|(_, s)| *s == status).map(|(id, _)| *id).collect();
        for chunk in ids.chunks(500) {
            diesel::update(deliveries::table.filter(deliveries::id.eq_any(chunk)))
                .set((
                    deliveries::status.eq(<&str>::from(Status::Delivered)),
                    deliveries::attempts.eq(deliveries::attempts + 1),
                    deliveries::last_attempt_at.eq(now),
                    deliveries::last_status.eq(Some(status)),
                    deliveries::last_error.eq(None::<String>),
                    deliveries::delivered_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    let mut next_run = outcome.next_due.unwrap_or(now + chrono::Duration::hours(1));
    if let Some(failure) = &outcome.failure {
        let (attempts, first): (i32, Option<Timestamp>) = deliveries::table
            .find(failure.delivery_id)
            .select((deliveries::attempts, deliveries::first_attempt_at))
            .first(conn)?;
        let first = first.unwrap_or(now);
        let attempts = attempts + 1;
        let exhausted = now - first >= retry_for;
        let next_attempt = now + backoff(attempts);
        let status = if exhausted { Status::Failed } else { Status::Pending };
        diesel::update(deliveries::table.find(failure.delivery_id))
            .set((
                deliveries::status.eq(<&str>::from(status)),
                deliveries::attempts.eq(attempts),
                deliveries::first_attempt_at.eq(Some(first)),
                deliveries::last_attempt_at.eq(now),
                deliveries::last_status.eq(failure.status),
                deliveries::last_error.eq(Some(&failure.error)),
                deliveries::next_attempt_at.eq(next_attempt),
            ))
            .execute(conn)?;
        if exhausted {
            diesel::update(webhooks::table.find(webhook_id))
                .set((
                    webhooks::active.eq(false),
                    webhooks::paused_reason.eq(Some(PAUSED_FAILING)),
                    webhooks::updated_at.eq(now),
                ))
                .execute(conn)?;
            let caller = Caller::system("webhook delivery");
            super::changed(conn, &caller, Resource::Webhooks, webhook_id, Op::Updated, now)?;
            log::warn!(
                "webhook {webhook_id} paused: delivery {} failed for the whole retry period",
                failure.delivery_id
            );
        } else {
            next_run = next_attempt;
        }
    }
    diesel::update(webhooks::table.find(webhook_id).filter(webhooks::lease_owner.eq(owner)))
        .set((
            webhooks::lease_owner.eq(None::<String>),
            webhooks::lease_until.eq(None::<Timestamp>),
            webhooks::next_run_at.eq(next_run),
        ))
        .execute(conn)?;
    Ok(())
}

/// Sends one claimed webhook's due deliveries in feed order, until one fails, none is due, or
/// half the lease is used.
async fn send_due(db: &Db, client: &outbound::Client, claimed: &Claimed, lease: Duration) -> Result<Outcome, AppError> {
    let id = claimed.id;
    let queue = db.read(move |conn| Ok(due(conn, id)?)).await?;
    let started = Instant::now();
    let mut outcome = Outcome::default();
    let secrets: Vec<&str> = claimed.secrets.iter().map(String::as_str).collect();
    let full = queue.len() as i64 == SEND_BATCH;
    for (delivery_id, payload, next_attempt_at, _) in &queue {
        let now = Timestamp::now();
        if *next_attempt_at > now || started.elapsed() > lease / 2 {
            outcome.next_due = Some(*next_attempt_at);
            return Ok(outcome);
        }
        let headers =
            signing::headers(&secrets, &format!("msg_{delivery_id}"), now.micros().div_euclid(1_000_000), payload);
        match client.post_json(&claimed.url, &headers, payload.clone()).await {
            Ok(answer) if (200..300).contains(&answer.status) => {
                outcome.delivered.push((*delivery_id, i32::from(answer.status)));
            }
            Ok(answer) => {
                let body = answer.body.chars().take(200).collect::<String>();
                let error = format!("the receiver answered {}: {}", answer.status, body.trim());
                outcome.failure =
                    Some(Failure { delivery_id: *delivery_id, status: Some(answer.status.into()), error });
                return Ok(outcome);
            }
            Err(err) => {
                outcome.failure = Some(Failure { delivery_id: *delivery_id, status: None, error: err.to_string() });
                return Ok(outcome);
            }
        }
    }
    if full {
        outcome.next_due = Some(Timestamp::now());
    }
    Ok(outcome)
}

/// Sends webhook deliveries until the process ends: claims webhooks with work, several at a
/// time, and sends each one's deliveries in order. `wake` is notified after local commits.
pub async fn run(
    db: Db,
    client: outbound::Client,
    keys: CursorKey,
    settings: Settings,
    wake: Arc<tokio::sync::Notify>,
) {
    let owner = uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string();
    let slots = Arc::new(tokio::sync::Semaphore::new(settings.parallel.max(1)));
    loop {
        let permit = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        // Look before taking the writer: with nothing to do, the sender only reads.
        let work = db.read(|conn| Ok(candidate(conn, Timestamp::now())?.is_some())).await;
        let claimed = match work {
            Ok(false) => Ok(None),
            Ok(true) => {
                let (claim_owner, claim_keys, lease) = (owner.clone(), keys.clone(), settings.lease);
                db.write(move |conn| Ok(claim(conn, &claim_owner, &claim_keys, lease, Timestamp::now())?)).await
            }
            Err(err) => Err(err),
        };
        match claimed {
            Ok(Some(claimed)) => {
                let (db, client, owner, settings) = (db.clone(), client.clone(), owner.clone(), settings.clone());
                tokio::spawn(async move {
                    let outcome = match send_due(&db, &client, &claimed, settings.lease).await {
                        Ok(outcome) => outcome,
                        Err(err) => {
                            log::warn!("webhook {}: cannot read its deliveries: {err}", claimed.id);
                            Outcome {
                                next_due: Some(Timestamp::now() + chrono::Duration::seconds(5)),
                                ..Outcome::default()
                            }
                        }
                    };
                    let id = claimed.id;
                    let retry_for = settings.retry_for;
                    let written = db
                        .write(move |conn| Ok(finish(conn, id, &owner, &outcome, retry_for, Timestamp::now())?))
                        .await;
                    if let Err(err) = written {
                        log::warn!("webhook {id}: cannot record its deliveries (they will be sent again): {err}");
                    }
                    drop(permit);
                });
            }
            Ok(None) => {
                drop(permit);
                if tokio::time::timeout(settings.poll, wake.notified()).await.is_ok() {
                    tokio::time::sleep(settings.settle).await;
                }
            }
            Err(err) => {
                drop(permit);
                log::warn!("webhook sender: cannot claim work: {err}");
                tokio::time::sleep(settings.poll).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_six_hours() {
        for attempts in 1..=30 {
            let full = (5_i64 << (attempts.min(20) - 1)).min(6 * 3600) * 1000;
            for _ in 0..20 {
                let delay = backoff(attempts).num_milliseconds();
                assert!((full / 2..=full).contains(&delay), "attempt {attempts}: {delay} ms outside {full}/2..{full}");
            }
        }
    }
}
