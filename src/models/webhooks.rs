//! Webhooks: an admin's subscription to the change feed, delivered by `changes::delivery`.
//!
//! Rules: the URL must pass the outbound policy when it is set (a refusal is a 422), and again
//! at every call; the signing secret is shown once, at creation and at each rotation; a rotation
//! keeps the previous secret signing for [`ROTATION_OVERLAP_HOURS`]; a new webhook receives the
//! changes committed after its creation; setting `active` to `true` resumes a webhook that the
//! service paused for failing, with the deliveries that failed first.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::Caller;
use crate::changes::{self, Op, Resource, delivery, signing};
use crate::db::keyset::{After, paginate};
use crate::db::schema::webhooks;
use crate::db::{AnyConnection, Timestamp};
use crate::domain;
use crate::error::AppError;
use crate::models::input::Normalize;
use crate::models::record::{IfMatch, Patch, changed_meanwhile, not_found};
use crate::outbound::Policy;
use crate::per_backend;

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// A stored webhook (without its secrets).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub description: Option<String>,
    /// Comma-separated resource names.
    pub resources: String,
    pub active: bool,
    pub paused_reason: Option<String>,
    pub previous_secret_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Webhook {
    /// The resources whose changes it receives (names the service cannot read are skipped).
    pub fn resource_list(&self) -> Vec<Resource> {
        changes::parse_resources(&self.resources)
    }
}

/// The resources of a stored comma-separated list.
pub fn parse_resources(stored: &str) -> Vec<Resource> {
    stored.split(',').filter_map(|r| r.parse().ok()).collect()
}

fn join_resources(resources: &[Resource]) -> String {
    resources.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",")
}

/// A webhook and, right after creation or rotation only, its secret (`whsec_…`).
#[derive(Debug, Clone)]
pub struct WebhookRecord {
    pub webhook: Webhook,
    pub secret: Option<String>,
}

/// A new webhook (a PATCH takes any subset of the same fields).
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: `https://` (or `http://`) and a public host; private or
    /// loopback hosts only if the operator named them in `IKZ_OUTBOUND_ALLOW`.
    #[validate(length(min = 1, max = 2000, message = "must be 1 to 2000 characters"))]
    #[schema(example = "https://sync.landkreis-bautzen.example/ikz/hooks", format = Uri, max_length = 2000)]
    pub url: String,
    /// What the webhook is for.
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// The resources whose changes it receives (at least one).
    #[validate(length(min = 1, message = "name at least one resource"))]
    #[schema(example = json!(["measures", "cooperations"]), min_items = 1)]
    pub resources: Vec<Resource>,
    /// Whether deliveries are sent; `false` pauses them (they queue), `true` resumes, also a
    /// webhook that the service paused for failing.
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl Normalize for CreateWebhook {
    const NOT_NULL: &'static [&'static str] = &["active"];

    fn normalize(&mut self) {
        domain::trim(&mut self.url);
        domain::trim_opt(&mut self.description);
        let mut seen = Vec::new();
        self.resources.retain(|r| {
            let new = !seen.contains(r);
            seen.push(*r);
            new
        });
    }
}

impl CreateWebhook {
    fn from_stored(w: &Webhook) -> Self {
        Self { url: w.url.clone(), description: w.description.clone(), resources: w.resource_list(), active: w.active }
    }
}

fn check_url(policy: &Policy, url: &str) -> Result<(), AppError> {
    match policy.field_error("url", url) {
        Some(error) => Err(AppError::Validation(vec![error])),
        None => Ok(()),
    }
}

/// Creates a webhook that receives the changes committed from now on.
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    policy: &Policy,
    input: CreateWebhook,
    now: Timestamp,
) -> Result<WebhookRecord, AppError> {
    check_url(policy, &input.url)?;
    let secret = signing::new_secret();
    let values = (
        webhooks::url.eq(&input.url),
        webhooks::description.eq(&input.description),
        webhooks::resources.eq(join_resources(&input.resources)),
        webhooks::active.eq(input.active),
        webhooks::secret.eq(&secret),
        webhooks::position.eq(changes::head(conn)?),
        webhooks::next_run_at.eq(now),
        webhooks::created_at.eq(now),
        webhooks::updated_at.eq(now),
    );
    let webhook = per_backend!(conn, |c| diesel::insert_into(webhooks::table)
        .values(values)
        .returning(Webhook::as_returning())
        .get_result(c))?;
    changes::changed(conn, caller, Resource::Webhooks, webhook.id, Op::Created, webhook.updated_at)?;
    Ok(WebhookRecord { webhook, secret: Some(signing::shown(&secret)) })
}

/// One webhook, or 404.
pub fn get(conn: &mut AnyConnection, id: i64) -> Result<Webhook, AppError> {
    find(conn, id)?.ok_or_else(|| not_found("webhook", id))
}

fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Webhook>> {
    webhooks::table.find(id).select(Webhook::as_select()).first(conn).optional()
}

/// One page of webhooks by id, with the cursor of the next page.
pub fn page(
    conn: &mut AnyConnection,
    after: Option<i64>,
    limit: i64,
    updated_since: Option<Timestamp>,
) -> Result<(Vec<Webhook>, Option<String>), AppError> {
    let mut query = webhooks::table.select(Webhook::as_select()).order(webhooks::id).into_boxed();
    if let Some(id) = after {
        query = query.filter(webhooks::id.gt(id));
    }
    if let Some(since) = updated_since {
        query = query.filter(webhooks::updated_at.ge(since));
    }
    let rows = query.limit(limit + 1).load(conn)?;
    Ok(paginate(rows, limit, "id", |w| After { key: String::new(), id: w.id }))
}

/// Applies a merge patch to the locked webhook; `active: true` resumes a paused one.
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    policy: &Policy,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<Webhook, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Webhooks, id)?;
    let current = get(conn, id)?;
    let input = patch.apply::<CreateWebhook>(&CreateWebhook::from_stored(&current))?;
    if_match.check_version(current.updated_at)?;
    if input.url != current.url {
        check_url(policy, &input.url)?;
    }
    let resumed = input.active && !current.active;
    let target = webhooks::table.find(id).filter(webhooks::updated_at.eq(current.updated_at));
    let changed = diesel::update(target)
        .set((
            webhooks::url.eq(&input.url),
            webhooks::description.eq(&input.description),
            webhooks::resources.eq(join_resources(&input.resources)),
            webhooks::active.eq(input.active),
            webhooks::paused_reason.eq(if input.active { None } else { current.paused_reason.clone() }),
            webhooks::next_run_at.eq(now),
            webhooks::updated_at.eq(now),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(changed_meanwhile("webhook"));
    }
    if resumed {
        delivery::retry_failed(conn, id, now)?;
    }
    changes::changed(conn, caller, Resource::Webhooks, id, Op::Updated, now)?;
    get(conn, id)
}

/// Replaces the signing secret; the previous one signs as well for [`ROTATION_OVERLAP_HOURS`].
pub fn rotate_secret(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<WebhookRecord, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Webhooks, id)?;
    let current = get(conn, id)?;
    if_match.check_version(current.updated_at)?;
    let old: String = webhooks::table.find(id).select(webhooks::secret).first(conn)?;
    let secret = signing::new_secret();
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::secret.eq(&secret),
            webhooks::previous_secret.eq(Some(old)),
            webhooks::previous_secret_until.eq(Some(now + chrono::Duration::hours(ROTATION_OVERLAP_HOURS))),
            webhooks::updated_at.eq(now),
        ))
        .execute(conn)?;
    changes::changed(conn, caller, Resource::Webhooks, id, Op::Updated, now)?;
    Ok(WebhookRecord { webhook: get(conn, id)?, secret: Some(signing::shown(&secret)) })
}

/// Deletes a webhook with its deliveries.
pub fn delete(conn: &mut AnyConnection, caller: &Caller, id: i64, if_match: &IfMatch) -> Result<(), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Webhooks, id)?;
    let webhook = get(conn, id)?;
    if_match.check_version(webhook.updated_at)?;
    delivery::forget(conn, id)?;
    diesel::delete(webhooks::table.find(id)).execute(conn)?;
    changes::deleted(conn, caller, Resource::Webhooks, id, Timestamp::now())?;
    Ok(())
}

/// The deliveries of a webhook, newest first, optionally of one status.
pub fn deliveries(
    conn: &mut AnyConnection,
    webhook_id: i64,
    status: Option<delivery::Status>,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<delivery::Delivery>, Option<String>), AppError> {
    get(conn, webhook_id)?;
    let rows = delivery::page(conn, webhook_id, status, before, limit)?;
    Ok(paginate(rows, limit, "-id", |d| After { key: String::new(), id: d.id }))
}

/// Queues a delivery to be sent again, at once (and ahead of later ones: deliveries go in feed
/// order).
pub fn resend(
    conn: &mut AnyConnection,
    webhook_id: i64,
    delivery_id: i64,
    now: Timestamp,
) -> Result<delivery::Delivery, AppError> {
    get(conn, webhook_id)?;
    delivery::resend(conn, webhook_id, delivery_id, now)?
        .ok_or_else(|| AppError::NotFound(format!("webhook {webhook_id} has no delivery with id {delivery_id}")))
}
