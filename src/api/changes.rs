//! `/api/v1/changes`: the change feed, for clients that keep a copy of the data current.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Query;
use super::respond;
use crate::auth::{Authenticator, Caller};
use crate::changes::{self, ALL_RESOURCES, Item as ChangeResponse, Resource};
use crate::db::Db;
use crate::error::{AppError, Problem};

/// Largest page of the feed.
const MAX_LIMIT: i64 = 1000;

/// One page of the feed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeFeedResponse {
    /// Changes in commit order.
    pub items: Vec<ChangeResponse>,
    /// Where to continue; the same cursor again when nothing new has come yet.
    pub next_cursor: String,
    /// Whether more changes follow right away (fetch `next_cursor` at once).
    pub has_more: bool,
}

/// The feed's current head.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeCursorResponse {
    /// A cursor after every change committed so far.
    pub cursor: String,
}

/// Query parameters of the feed.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangeQuery {
    /// `next_cursor` of the previous page, or `GET /api/v1/changes/cursor`; without one the
    /// feed starts at its oldest kept change.
    pub cursor: Option<String>,
    /// Only changes of these resources (repeat for several); default: every resource the caller
    /// may read.
    #[serde(default)]
    #[param(inline)]
    pub resource: Vec<Resource>,
    /// Page size, 1–1000.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: Option<i64>,
}

/// The resources a caller asked for, each of which they may read (401/403 otherwise).
fn readable(caller: &Caller, asked: Vec<Resource>) -> Result<Vec<Resource>, AppError> {
    if asked.is_empty() {
        caller.may_read_public()?;
        return Ok(ALL_RESOURCES.into_iter().filter(|r| r.visible_to(caller)).collect());
    }
    for resource in &asked {
        if !resource.visible_to(caller) {
            let what = format!("read the changes of {}", resource.as_str());
            return Err(match caller.role {
                None => AppError::Unauthorized {
                    detail: format!("authentication required to {what}: send `Authorization: Bearer <token>`"),
                    invalid_token: false,
                },
                Some(_) => AppError::Forbidden(format!("your role may not {what}")),
            });
        }
    }
    Ok(asked)
}

/// Follow the change feed
///
/// Every committed change of every record, once each, in commit order: creates, changes
/// (patches, status transitions, memberships of a cooperation, side effects such as an erased
/// contact's measures) and deletions. Only what the caller may read: anonymous callers never see
/// contacts or accounts. No record bodies are kept; read the record itself (its `ETag` tells
/// whether you have it already). To start a copy: take `GET /api/v1/changes/cursor`, read the
/// lists, then follow the feed from that cursor (a change seen twice is harmless to apply).
#[utoipa::path(
    tag = "changes",
    params(ChangeQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "One page of changes", body = ChangeFeedResponse),
        (status = 400, description = "Unknown or unusable query parameter, or a cursor this service did not issue", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The changes after this cursor were pruned; start a copy again", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_changes(
    db: web::Data<Db>,
    authenticator: web::Data<Authenticator>,
    caller: Caller,
    query: Query<ChangeQuery>,
) -> Result<HttpResponse, AppError> {
    let ChangeQuery { cursor, resource, limit } = query.0;
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::bad_parameter("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let resources = readable(&caller, resource)?;
    let keys = authenticator.tokens.cursors();
    let after = cursor.as_deref().map(|c| keys.read(c)).transpose()?;
    let (after, rows, has_more) = db.read(move |conn| changes::page(conn, after, &resources, limit)).await?;
    let show_actor = caller.role.is_some();
    let next = rows.last().map_or(after, |c| c.id);
    let items = rows.into_iter().map(|change| ChangeResponse::new(change, keys, show_actor)).collect();
    Ok(respond::json(HttpResponse::Ok(), &ChangeFeedResponse { items, next_cursor: keys.sign(next), has_more }))
}

/// The feed's current head
///
/// A cursor after every change committed so far: where a new copy starts following the feed.
#[utoipa::path(
    tag = "changes",
    security((), ("bearer" = [])),
    responses((status = 200, description = "The current head", body = ChangeCursorResponse))
)]
#[get("/cursor")]
pub async fn get_change_cursor(
    db: web::Data<Db>,
    authenticator: web::Data<Authenticator>,
    caller: Caller,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let head = db.read(|conn| Ok(changes::head(conn)?)).await?;
    Ok(respond::json(HttpResponse::Ok(), &ChangeCursorResponse { cursor: authenticator.tokens.cursors().sign(head) }))
}

/// Registers the feed's routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_change_cursor).service(list_changes);
}
