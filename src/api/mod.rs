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

use std::sync::Arc;

use parking_lot::{FairMutex, FairMutexGuard};

use actix_web::web;
use chrono::NaiveDateTime;

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
    /// Serialises write transactions on SQLite, which has one writer at a time anyway: waiting
    /// here is free and first come, first served, where SQLite's busy handler would sleep, retry
    /// and let late writers overtake early ones.
    pub sqlite_writer: Arc<FairMutex<()>>,
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
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let writer = self.writer();
        web::block(move || {
            let _turn = writer.as_deref().map(take_turn);
            let mut conn = pool.get()?;
            db::write(&mut conn, f)
        })
        .await?
    }

    /// The lock writers queue on, on SQLite; `None` on PostgreSQL, which handles concurrent writers.
    pub fn writer(&self) -> Option<Arc<FairMutex<()>>> {
        (self.backend == Backend::Sqlite).then(|| self.sqlite_writer.clone())
    }
}

/// Waits for the writer lock, in arrival order.
pub fn take_turn(lock: &FairMutex<()>) -> FairMutexGuard<'_, ()> {
    lock.lock()
}

/// The entity tag of a row version: its `updated_at` in microseconds since the epoch.
pub fn etag(updated_at: NaiveDateTime) -> String {
    format!("\"{}\"", updated_at.and_utc().timestamp_micros())
}

/// Registers every API route; the OpenAPI document is collected from the same calls.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(utoipa_actix_web::scope("/health").configure(health::configure));
    cfg.service(
        utoipa_actix_web::scope("/api/v1")
            .configure(auth::configure)
            .configure(partners::configure)
            .configure(fields::configure)
            .configure(cooperations::configure)
            .configure(members::configure)
            .configure(contacts::configure)
            .configure(measures::configure)
            .configure(measure_workflow::configure)
            .configure(users::configure)
            .configure(service_tokens::configure),
    );
}
