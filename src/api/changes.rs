//! `/api/v1/changes`: the change feed, for clients that keep a copy of the data current.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::contacts::ContactResponse;
use super::cooperations::CooperationResponse;
use super::extract::Query;
use super::fields::FieldResponse;
use super::measures::MeasureResponse;
use super::partners::PartnerResponse;
use super::respond;
use super::service_tokens::ServiceTokenResponse;
use super::users::UserResponse;
use super::webhooks::WebhookResponse;
use crate::auth::{Authenticator, Caller};
use crate::changes::waiting::{self, Heads};
use crate::changes::{self, ALL_RESOURCES, Item as ChangeResponse, Resource};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::feed::{self, Current};

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
    #[param(inline)]
    /// `record`: each item carries the record as `GET` on it answers now (`null` once deleted).
    pub include: Option<ChangeInclude>,
    /// Seconds to wait, 0–60, when no change has come yet: the answer comes as soon as one does
    /// (within a second when it was made on another instance), or empty after that time.
    #[param(minimum = 0, maximum = 60, default = 0)]
    pub wait: Option<u64>,
}

/// What `include` may add to the feed's items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeInclude {
    Record,
}

/// Longest `wait`, in seconds.
const MAX_WAIT: u64 = 60;

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
/// `include=record` adds each record as it is now; `wait=N` holds the request up to N seconds
/// until a change comes (long polling), instead of polling in a loop.
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
    heads: web::Data<Heads>,
    caller: Caller,
    req: HttpRequest,
    query: Query<ChangeQuery>,
) -> Result<HttpResponse, AppError> {
    // An empty `wait=` or `limit=` would read as absent; they are numbers, so it is an error.
    if let Some((name, _)) = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(name, value)| matches!(name.as_ref(), "wait" | "limit") && value.is_empty())
    {
        return Err(AppError::bad_parameter(&name, "must be a whole number, not empty"));
    }
    let ChangeQuery { cursor, resource, limit, include, wait } = query.0;
    let limit = limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AppError::bad_parameter("limit", format!("must be between 1 and {MAX_LIMIT}")));
    }
    let wait = wait.unwrap_or(0);
    if wait > MAX_WAIT {
        return Err(AppError::bad_parameter("wait", format!("must be between 0 and {MAX_WAIT} seconds")));
    }
    let resources = std::sync::Arc::new(readable(&caller, resource)?);
    let keys = authenticator.tokens.cursors();
    let mut after = cursor.as_deref().map(|c| keys.read(c)).transpose()?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
    // Subscribed before the first read, so that a change committed right after it is noticed.
    let mut head = heads.subscribe();
    let with_records = include == Some(ChangeInclude::Record);
    loop {
        head.borrow_and_update();
        let asked = resources.clone();
        let (next, rows, has_more) =
            db.read(move |conn| feed::page_with_records(conn, after, &asked, limit, with_records)).await?;
        if rows.is_empty() && waiting::moved_past(&mut head, next, deadline).await {
            after = Some(next);
            continue;
        }
        let show_actor = caller.role.is_some();
        let items = rows
            .into_iter()
            .map(|(change, record)| {
                let mut item = ChangeResponse::new(change, keys, show_actor);
                item.record = record.map(|r| r.map_or(Ok(Value::Null), answer)).transpose()?;
                Ok(item)
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        let page = ChangeFeedResponse { items, next_cursor: keys.sign(next), has_more };
        return Ok(respond::json(HttpResponse::Ok(), &page));
    }
}

/// A record as `GET` on it answers.
fn answer(record: Current) -> Result<Value, AppError> {
    let value = match record {
        Current::Partner(r) => serde_json::to_value(PartnerResponse::from(r)),
        Current::Field(r) => serde_json::to_value(FieldResponse::from(r)),
        Current::Cooperation(r) => serde_json::to_value(CooperationResponse::from(r)),
        Current::Measure(r) => serde_json::to_value(MeasureResponse::new(*r)),
        Current::Contact(r) => serde_json::to_value(ContactResponse::new(r)),
        Current::User(r) => serde_json::to_value(UserResponse::new(r)),
        Current::ServiceToken(r) => serde_json::to_value(ServiceTokenResponse::new(r)),
        Current::Webhook(r) => serde_json::to_value(WebhookResponse::from(r)),
        Current::CouncilPaper(r) => serde_json::to_value(super::council::CouncilPaperResponse::from(*r)),
        Current::CouncilMeeting(r) => serde_json::to_value(super::council::CouncilMeetingResponse::from(*r)),
        Current::CouncilDecision(r) => {
            serde_json::to_value(super::council_decisions::CouncilDecisionResponse::from(*r))
        }
        Current::WorkingGroup(r) => serde_json::to_value(super::working_groups::WorkingGroupResponse::from(*r)),
        Current::Event(r) => serde_json::to_value(super::events::EventResponse::from(*r)),
    };
    value.map_err(|e| AppError::Internal(e.to_string()))
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
