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

/// Runs `write` and keeps its answer under `key`, or gives the kept answer again (`true`).
/// `answer` renders the write's result as it is sent.
pub fn once<T>(
    conn: &mut AnyConnection,
    key: Option<&Key>,
    now: Timestamp,
    write: impl FnOnce(&mut AnyConnection) -> Result<T, AppError>,
    answer: impl FnOnce(T) -> Answer,
) -> Result<(Answer, bool), AppError> {
    let Some(key) = key else {
        return write(conn).map(|written| (answer(written), false));
    };
    if !crate::db::statements::try_lock_idempotency_key(conn, &format!("{}\n{}", key.scope, key.key))? {
        return Err(AppError::IdempotencyKeyInProgress(
            "a request with this Idempotency-Key is still being processed; retry once it has finished".into(),
        ));
    }
    let kept = idempotency_keys::table
        .filter(idempotency_keys::caller.eq(&key.scope))
        .filter(idempotency_keys::key.eq(&key.key))
        .select((idempotency_keys::request_hash, idempotency_keys::created_at))
        .first::<(String, Timestamp)>(conn)
        .optional()?;
    match kept {
        Some((_, at)) if at < now - chrono::Duration::hours(KEPT_HOURS) => forget(conn, key)?,
        Some((hash, _)) if hash != key.request_hash => {
            return Err(AppError::IdempotencyKeyReused(
                "this Idempotency-Key was sent with another request; use a new key for a new request".into(),
            ));
        }
        Some(_) => return Ok((kept_answer(conn, key)?, true)),
        None => {}
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
    Ok((sent, false))
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
