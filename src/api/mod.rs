//! HTTP handlers, one module per resource, plus the extractors and helpers they share.

pub mod auth;
pub mod contacts;
pub mod cooperations;
pub mod extract;
pub mod fields;
pub mod health;
pub mod measure_workflow;
pub mod measures;
pub mod members;
pub mod pagination;
pub mod partners;
pub mod service_tokens;
pub mod users;

use actix_web::web;
use chrono::NaiveDateTime;

use crate::db::group_commit::GroupCommitWriter;
use crate::db::{self, AnyConnection, Backend, DbPool};
use crate::error::AppError;

/// Shared by all workers: the pool and what start-up computed once.
pub struct AppState {
    /// Connection pool of the configured backend.
    pub pool: DbPool,
    /// Which backend the pool talks to.
    pub backend: Backend,
    /// The OpenAPI document, serialised once (served byte-identical to `openapi/openapi.json`).
    pub openapi_json: String,
    /// Token keys and rules.
    pub tokens: crate::auth::TokenKeys,
    /// `IKZ_PUBLIC_READ`.
    pub public_read: bool,
    /// `IKZ_TRUST_FORWARDED_FOR`.
    pub trust_forwarded_for: bool,
    /// On SQLite, the one thread that runs writes, committing them in groups (`None` on PostgreSQL,
    /// which takes concurrent writers).
    pub sqlite_writer: Option<GroupCommitWriter>,
}

impl AppState {
    /// Runs `f` on a pooled connection in the blocking thread pool.
    ///
    /// On SQLite the read runs right here on the worker: a local read takes microseconds, less
    /// than the hand-over to a blocking thread and back (see benches/RESULTS.md). The pool keeps a
    /// connection per worker for this (`startup`), so it never waits for one.
    pub async fn read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        if self.backend == Backend::Sqlite {
            let mut conn = self.pool.get()?;
            return f(&mut conn);
        }
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Runs `f` in one write transaction (see [`db::write`]): all of it or nothing.
    ///
    /// On SQLite the write goes to the writer thread, which runs it in a savepoint of a group
    /// transaction and answers after the group's COMMIT ([`GroupCommitWriter`]).
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        if let Some(writer) = &self.sqlite_writer {
            return writer.write(f).await;
        }
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            db::write(&mut conn, f)
        })
        .await?
    }
}

/// The entity tag of a row version: its `updated_at` in microseconds since the epoch.
pub fn etag(updated_at: NaiveDateTime) -> String {
    format!("\"{}\"", updated_at.and_utc().timestamp_micros())
}

/// Registers every API route; the OpenAPI document is collected from the same calls.
///
/// Each resource has its own scope: the router compares a scope's static prefix before it tries
/// the patterns inside, so a request is matched against its resource's few routes instead of
/// every route of the API (callgrind: ~15,000 instructions per `GET /measures/{id}` before).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    use utoipa_actix_web::scope;
    cfg.service(scope("/health").configure(health::configure));
    cfg.service(
        scope("/api/v1")
            .service(scope("/measures").configure(measures::configure).configure(measure_workflow::configure))
            .service(
                scope("/cooperations")
                    .configure(cooperations::configure)
                    .configure(members::configure)
                    .configure(measures::configure_in_cooperations)
                    .configure(measure_workflow::configure_in_cooperations),
            )
            .service(scope("/partners").configure(partners::configure))
            .service(scope("/contacts").configure(contacts::configure))
            .service(scope("/fields").configure(fields::configure))
            .service(scope("/auth").configure(auth::configure))
            .service(scope("/users").configure(users::configure))
            .service(scope("/service-tokens").configure(service_tokens::configure)),
    );
}

/// Serialises a timestamp exactly as chrono's `Serialize` does (RFC 3339, `Z`, 0/3/6/9 fraction
/// digits), but formatted into one string first: chrono hands serde_json the text in a dozen
/// small pieces, each run through the JSON escaper (~2,500 instructions per timestamp, a tenth of
/// a measure's JSON). Use with `#[serde(serialize_with = "super::rfc3339")]`.
pub fn rfc3339<S: serde::Serializer>(at: &chrono::DateTime<chrono::Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    #[derive(serde::Serialize)]
    struct Ours(#[serde(serialize_with = "super::rfc3339")] DateTime<Utc>);

    #[test]
    fn timestamps_serialise_byte_identical_to_chrono() {
        let base = Utc.with_ymd_and_hms(2026, 11, 21, 14, 3, 22).unwrap();
        for nanos in [0, 120_000_000, 123_000_000, 123_456_000, 123_456_789, 1] {
            let at = base + chrono::Duration::nanoseconds(nanos);
            assert_eq!(serde_json::to_string(&Ours(at)).unwrap(), serde_json::to_string(&at).unwrap(), "{nanos}");
        }
    }
}
