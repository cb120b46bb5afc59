//! Liveness and readiness for load balancers and orchestrators.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::db::Db;
use crate::error::{AppError, Problem};

/// Health answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The database backend in use (`readiness` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "SQLite", nullable = false)]
    pub database: Option<&'static str>,
}

/// Is the process alive?
///
/// Answers without touching the database; use it as a liveness probe.
#[utoipa::path(tag = "health", security(()), responses((status = 200, description = "The process runs", body = Health)))]
#[get("/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok", database: None })
}

/// Can the service handle requests?
///
/// Checks that the database answers and that every migration is applied; use it as a readiness
/// probe so that a load balancer sends no traffic to an instance that cannot serve it.
#[utoipa::path(tag = "health", security(()), responses(
    (status = 200, description = "Database reachable and migrations current", body = Health),
    (status = 503, description = "Database unreachable or migrations pending", body = Problem, content_type = "application/problem+json"),
))]
#[get("/ready")]
pub async fn ready(db: web::Data<Db>) -> Result<HttpResponse, AppError> {
    let pending = db
        .read(|conn| {
            db::has_pending_migrations(conn).map_err(|e| AppError::Unavailable(format!("migration check failed: {e}")))
        })
        .await?;
    if pending {
        return Err(AppError::Unavailable("database migrations are pending; run `ikz-api migrate`".into()));
    }
    if !db.writer_running() {
        return Err(AppError::Unavailable("the database writer has stopped; restart the service".into()));
    }
    Ok(HttpResponse::Ok().json(Health { status: "ok", database: Some(db.backend.name()) }))
}

/// Registers the health routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(live).service(ready);
}
