//! `/api/v1/webhooks`: signed deliveries of the change feed to URLs of the integrators (admins).

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{JsonBody, Query};
use super::pagination::{self, Limit, decode_cursor};
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::changes::delivery::{Delivery, Status};
use crate::changes::{Item as ChangeResponse, Resource};
use crate::db::{Db, Timestamp};
use crate::error::{AppError, Problem};
use crate::models::now;
use crate::models::record::{IfMatch, Patch, etag};
use crate::models::webhooks::{self as model, CreateWebhook, Webhook, WebhookRecord};
use crate::outbound;

/// A webhook. Its signing secret is shown only in the answers to its creation and rotation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookResponse {
    /// Server-assigned id.
    pub id: i64,
    /// Where deliveries are POSTed.
    #[schema(example = "https://sync.landkreis-bautzen.example/ikz/hooks")]
    pub url: String,
    /// What the webhook is for.
    pub description: Option<String>,
    /// The resources whose changes it receives.
    pub resources: Vec<Resource>,
    /// Whether deliveries are sent; `false` while paused (deliveries queue meanwhile).
    pub active: bool,
    /// Why the service paused it: `failing` when a delivery failed for the whole retry period
    /// (`IKZ_WEBHOOK_RETRY_HOURS`); set `active` to `true` to resume. `null` otherwise.
    #[schema(example = json!(null))]
    pub paused_reason: Option<String>,
    /// Until when the previous secret also signs (after a rotation); `null` when it does not.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub previous_secret_until: Option<Timestamp>,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// The signing secret (`whsec_` + base64), only in the answer to the creation and to each
    /// rotation. Store it now: verify each delivery's `webhook-signature` with it (Standard
    /// Webhooks).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", nullable = false)]
    pub secret: Option<String>,
}

impl From<Webhook> for WebhookResponse {
    fn from(w: Webhook) -> Self {
        Self::new(WebhookRecord { webhook: w, secret: None })
    }
}

impl WebhookResponse {
    fn new(record: WebhookRecord) -> Self {
        let WebhookRecord { webhook: w, secret } = record;
        let resources = w.resource_list();
        Self {
            id: w.id,
            url: w.url,
            description: w.description,
            resources,
            active: w.active,
            paused_reason: w.paused_reason,
            previous_secret_until: w.previous_secret_until,
            created_at: w.created_at,
            updated_at: w.updated_at,
            secret,
        }
    }
}

impl Versioned for WebhookResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of this list, documented under the schema name clients were generated with.
pub type WebhookPage = respond::Page<WebhookResponse>;

impl Listed for WebhookResponse {
    const PAGE: &'static str = "WebhookPage";
    const PLURAL: &'static str = "webhooks";
    const ITEMS: &'static str = "The webhooks of this page, by id (without secrets).";
}

/// One delivery of one change to one webhook.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryResponse {
    /// Server-assigned id; the `webhook-id` header of the delivery is `msg_` + this id.
    pub id: i64,
    /// The webhook it belongs to.
    pub webhook_id: i64,
    /// Where it stands.
    pub status: Status,
    /// Attempts made so far.
    pub attempts: i32,
    /// The first failed attempt of the current retry period (UTC), if one failed.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_attempt_at: Option<Timestamp>,
    /// The last attempt (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_attempt_at: Option<Timestamp>,
    /// When it is (next) due (UTC); past for a delivered one.
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    /// The HTTP status of the last answer, if the receiver answered.
    pub last_status: Option<i32>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the receiver took it (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Timestamp>,
    /// Queued (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// The body sent: the change item, as the feed lists it.
    pub payload: ChangeResponse,
}

impl DeliveryResponse {
    fn new(d: Delivery) -> Result<Self, AppError> {
        let payload = serde_json::from_str(&d.payload)
            .map_err(|e| AppError::Internal(format!("delivery {}: unreadable payload: {e}", d.id)))?;
        Ok(Self {
            id: d.id,
            webhook_id: d.webhook_id,
            status: d.status,
            attempts: d.attempts,
            first_attempt_at: d.first_attempt_at,
            last_attempt_at: d.last_attempt_at,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
            payload,
        })
    }
}

/// A page of deliveries.
pub type DeliveryPage = respond::Page<DeliveryResponse>;

impl Listed for DeliveryResponse {
    const PAGE: &'static str = "DeliveryPage";
    const PLURAL: &'static str = "deliveries";
    const ITEMS: &'static str = "The deliveries of this page, newest first.";
}

/// The query of the deliveries list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only deliveries in this state.
    #[param(inline)]
    pub status: Option<Status>,
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
}

const MANAGE: &str = "manage webhooks";

/// List webhooks (admins)
#[utoipa::path(tag = "webhooks", params(pagination::ChangedPageQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page of webhooks", body = WebhookPage)))]
#[get("")]
pub async fn list_webhooks(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<pagination::ChangedPageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let (limit, after, since) = query.0.by_id()?;
    let (rows, next_cursor) = db.read(move |conn| model::page(conn, after, limit, since)).await?;
    Ok(respond::page(&req, rows.into_iter().map(WebhookResponse::from).collect(), next_cursor))
}

/// Create a webhook (admins)
///
/// From now on every change of the chosen resources is POSTed to `url`, one change per
/// delivery, in feed order, signed as Standard Webhooks specifies. The answer carries the
/// signing secret once. The URL must pass the outbound policy (public hosts, or those the
/// operator named in `IKZ_OUTBOUND_ALLOW`): otherwise 422.
#[utoipa::path(tag = "webhooks", request_body = CreateWebhook, security(("bearer" = [])), responses(
    (status = 201, description = "Created; `secret` holds the signing secret", body = WebhookResponse,
     headers(("Location" = String, description = "URL of the new webhook"))),
    (status = 422, description = "Invalid fields, or a URL the outbound policy refuses", body = Problem, content_type = "application/problem+json"),
))]
#[post("")]
pub async fn create_webhook(
    db: web::Data<Db>,
    client: web::Data<outbound::Client>,
    caller: Caller,
    body: JsonBody<CreateWebhook>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let input = body.decode()?;
    let policy = client.policy().clone();
    let record = db.write(move |conn| model::create(conn, &caller, &policy, input, now())).await?;
    let created = WebhookResponse::new(record);
    Ok(respond::no_store(respond::created(format!("/api/v1/webhooks/{}", created.id), &created)))
}

/// Get a webhook (admins)
#[utoipa::path(tag = "webhooks", params(("id" = i64, Path, description = "Webhook id")), security(("bearer" = [])), responses(
    (status = 200, description = "The webhook", body = WebhookResponse),
    (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_webhook(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    let webhook = db.read(move |conn| model::get(conn, id)).await?;
    Ok(respond::record(&WebhookResponse::from(webhook)))
}

/// Update a webhook (JSON Merge Patch; admins)
///
/// `active: false` pauses deliveries (they queue); `active: true` resumes them, also after the
/// service paused the webhook for failing (the failed deliveries are sent first).
#[utoipa::path(tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id")),
    request_body(content = CreateWebhook, content_type = "application/merge-patch+json", description = "Any subset of the fields"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Updated", body = WebhookResponse),
    (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields, or a URL the outbound policy refuses", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_webhook(
    db: web::Data<Db>,
    client: web::Data<outbound::Client>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    let policy = client.policy().clone();
    let webhook = db.write(move |conn| model::update(conn, &caller, &policy, id, patch, &if_match, now())).await?;
    Ok(respond::record(&WebhookResponse::from(webhook)))
}

/// Rotate a webhook's signing secret (admins)
///
/// The answer carries the new secret once. For 24 hours deliveries carry two signatures, with
/// the new and with the previous secret, so that receivers can switch without losing any.
#[utoipa::path(tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on")),
    security(("bearer" = [])), responses(
    (status = 200, description = "Rotated; `secret` holds the new secret", body = WebhookResponse),
    (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/secret")]
pub async fn rotate_webhook_secret(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    let record = db.write(move |conn| model::rotate_secret(conn, &caller, id, &if_match, now())).await?;
    Ok(respond::no_store(respond::record(&WebhookResponse::new(record))))
}

/// Delete a webhook and its deliveries (admins)
#[utoipa::path(tag = "webhooks", params(("id" = i64, Path, description = "Webhook id")), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn delete_webhook(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    db.write(move |conn| model::delete(conn, &caller, id, &if_match)).await?;
    Ok(respond::deleted())
}

/// List a webhook's deliveries (admins)
///
/// Newest first: status, attempts, the last error and when the next attempt is due.
#[utoipa::path(tag = "webhooks", params(("id" = i64, Path, description = "Webhook id"), DeliveryQuery), security(("bearer" = [])), responses(
    (status = 200, description = "One page of deliveries", body = DeliveryPage),
    (status = 404, description = "No such webhook", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/deliveries")]
pub async fn list_deliveries(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<DeliveryQuery>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let id = id.into_inner();
    let DeliveryQuery { status, limit, cursor } = query.0;
    let before = decode_cursor(cursor.as_deref(), "-id")?.map(|a| a.id);
    let limit = limit.unwrap_or_default().0;
    let (rows, next_cursor) = db.read(move |conn| model::deliveries(conn, id, status, before, limit)).await?;
    let items = rows.into_iter().map(DeliveryResponse::new).collect::<Result<_, _>>()?;
    Ok(respond::page(&req, items, next_cursor))
}

/// Send a delivery again (admins)
///
/// Queues it, due at once and ahead of later deliveries (a webhook's deliveries go in feed
/// order), with a fresh retry period. On a paused webhook it goes once the webhook is resumed.
#[utoipa::path(tag = "webhooks",
    params(("id" = i64, Path, description = "Webhook id"), ("delivery_id" = i64, Path, description = "Delivery id")),
    security(("bearer" = [])), responses(
    (status = 202, description = "Queued", body = DeliveryResponse),
    (status = 404, description = "No such webhook or delivery", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/deliveries/{delivery_id}/resend")]
pub async fn resend_delivery(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, MANAGE)?;
    let (id, delivery_id) = path.into_inner();
    let delivery = db.write(move |conn| model::resend(conn, id, delivery_id, now())).await?;
    Ok(respond::json(HttpResponse::Accepted(), &DeliveryResponse::new(delivery)?))
}

/// Registers the webhook routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_webhooks)
        .service(create_webhook)
        .service(get_webhook)
        .service(update_webhook)
        .service(rotate_webhook_secret)
        .service(delete_webhook)
        .service(list_deliveries)
        .service(resend_delivery);
}
