//! Idempotent writes: a POST sent with `Idempotency-Key` is answered once; the same caller sending
//! the same key and the same request again within 24 hours gets the first answer again.
//!
//! Invariants: the stored answer is inserted in the transaction of the write itself (a key never
//! exists without its write, nor the other way round); a key is scoped to its caller (account,
//! service token or external subject); on PostgreSQL a second request with a key whose first is
//! still running is refused (409) instead of waiting for it. Only successful writes are kept: a
//! refused one rolled back and may be sent again.

use diesel::prelude::*;

use crate::db::schema::idempotency_keys;
use crate::db::{AnyConnection, Timestamp};
use crate::error::AppError;

/// How long a key and its answer are kept.
pub const KEPT_HOURS: i64 = 24;

/// At most this many characters in a key.
pub const MAX_KEY_CHARS: usize = 255;

/// A request's key: who sent it, the key, and a digest of the request (method, path, body).
#[derive(Debug, Clone)]
pub struct Key {
    pub scope: String,
    pub key: String,
    pub request_hash: String,
}

/// The answer of a write, as sent and as replayed.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Answer {
    pub status: i32,
    pub body: String,
    pub location: Option<String>,
    pub etag: Option<String>,
}

/// What [`once`] did.
#[derive(Debug)]
pub enum Once<T> {
    /// Written without a key: the caller renders the answer (after the transaction, so that
    /// the SQLite writer thread does not spend its time on JSON).
    Written(T),
    /// Written under a key, its answer rendered and kept (`false`), or the answer kept for an
    /// earlier request with the key (`true`, a replay).
    Answered(Answer, bool),
}

impl<T> Once<T> {
    /// The answer and whether it is a replay, rendering a result written without a key.
    pub fn answer(self, render: impl FnOnce(T) -> Answer) -> (Answer, bool) {
        match self {
            Self::Written(written) => (render(written), false),
            Self::Answered(answer, replayed) => (answer, replayed),
        }
    }
}

/// Runs `write` and keeps its answer under `key`, or gives the kept answer again. `answer`
/// renders the write's result as it is sent (here only when it must be kept).
pub fn once<T>(
    conn: &mut AnyConnection,
    key: Option<&Key>,
    now: Timestamp,
    write: impl FnOnce(&mut AnyConnection) -> Result<T, AppError>,
    answer: impl FnOnce(T) -> Answer,
) -> Result<Once<T>, AppError> {
    let Some(key) = key else {
        return write(conn).map(Once::Written);
    };
    if !crate::db::statements::try_lock_idempotency_key(conn, &format!("{}\n{}", key.scope, key.key))? {
        return Err(AppError::IdempotencyKeyInProgress(
            "a request with this Idempotency-Key is still being processed; retry once it has finished".into(),
        ));
    }
    match kept(conn, key, now)? {
        Kept::Expired => forget(conn, key)?,
        Kept::Answer(answer) => return Ok(Once::Answered(answer, true)),
        Kept::Nothing => {}
    }
    let written = write(conn)?;
    let sent = answer(written);
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::caller.eq(&key.scope),
            idempotency_keys::key.eq(&key.key),
            idempotency_keys::request_hash.eq(&key.request_hash),
            idempotency_keys::status.eq(sent.status),
            idempotency_keys::body.eq(&sent.body),
            idempotency_keys::location.eq(&sent.location),
            idempotency_keys::etag.eq(&sent.etag),
            idempotency_keys::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(Once::Answered(sent, false))
}

/// The answer kept for an earlier request with `key`, for a long write that checks its request
/// before it takes the writer: a request sent again is answered, not checked again. Reads only;
/// 422 when the key came with another request. [`once`] looks again under the key's lock.
pub fn replay(conn: &mut AnyConnection, key: &Key, now: Timestamp) -> Result<Option<Answer>, AppError> {
    Ok(match kept(conn, key, now)? {
        Kept::Answer(answer) => Some(answer),
        Kept::Expired | Kept::Nothing => None,
    })
}

/// What is kept under a key.
enum Kept {
    Nothing,
    /// Kept longer than [`KEPT_HOURS`]: as good as nothing, to be forgotten.
    Expired,
    Answer(Answer),
}

fn kept(conn: &mut AnyConnection, key: &Key, now: Timestamp) -> Result<Kept, AppError> {
    let kept = idempotency_keys::table
        .filter(idempotency_keys::caller.eq(&key.scope))
        .filter(idempotency_keys::key.eq(&key.key))
        .select((idempotency_keys::request_hash, idempotency_keys::created_at))
        .first::<(String, Timestamp)>(conn)
        .optional()?;
    match kept {
        None => Ok(Kept::Nothing),
        Some((_, at)) if at < now - chrono::Duration::hours(KEPT_HOURS) => Ok(Kept::Expired),
        Some((hash, _)) if hash != key.request_hash => Err(AppError::IdempotencyKeyReused(
            "this Idempotency-Key was sent with another request; use a new key for a new request".into(),
        )),
        Some(_) => Ok(Kept::Answer(kept_answer(conn, key)?)),
    }
}

fn kept_answer(conn: &mut AnyConnection, key: &Key) -> QueryResult<Answer> {
    idempotency_keys::table
        .filter(idempotency_keys::caller.eq(&key.scope))
        .filter(idempotency_keys::key.eq(&key.key))
        .select((idempotency_keys::status, idempotency_keys::body, idempotency_keys::location, idempotency_keys::etag))
        .first(conn)
}

fn forget(conn: &mut AnyConnection, key: &Key) -> QueryResult<()> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::caller.eq(&key.scope))
            .filter(idempotency_keys::key.eq(&key.key)),
    )
    .execute(conn)
    .map(|_| ())
}

/// Forgets the keys older than their 24 hours.
pub fn prune(conn: &mut AnyConnection, now: Timestamp) -> QueryResult<usize> {
    diesel::delete(
        idempotency_keys::table.filter(idempotency_keys::created_at.lt(now - chrono::Duration::hours(KEPT_HOURS))),
    )
    .execute(conn)
}
