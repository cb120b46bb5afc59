//! `/api/v1/cooperations/{id}/members`: the partners of a cooperation and their roles.

use crate::db::Timestamp;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{IdempotencyKey, JsonBody, Query};
use super::{pagination, respond};
use crate::auth::Caller;
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::cooperations::{CreateMember, Member, MemberRole, members};
use crate::models::ids::{CooperationId, PartnerId};
use crate::models::{idempotency, now};

/// A partner's membership in a cooperation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberResponse {
    /// The cooperation.
    pub cooperation_id: i64,
    /// The partner.
    pub partner_id: i64,
    /// The partner's name, for display.
    #[schema(example = "Stadt Königsbrück")]
    pub partner_name: String,
    /// Role in the cooperation.
    pub role: MemberRole,
    /// Joined on.
    pub joined_on: Option<NaiveDate>,
    /// Left on; `null` while the partner belongs to the cooperation.
    pub left_on: Option<NaiveDate>,
    /// Recorded (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<Member> for MemberResponse {
    fn from(m: Member) -> Self {
        Self {
            cooperation_id: m.cooperation_id,
            partner_id: m.partner_id,
            partner_name: m.partner_name,
            role: m.role,
            joined_on: m.joined_on,
            left_on: m.left_on,
            created_at: m.created_at,
        }
    }
}

/// A page of this list, documented under the schema name clients were generated with.
pub type MemberPage = respond::Page<MemberResponse>;

impl respond::Listed for MemberResponse {
    const PAGE: &'static str = "MemberPage";
    const PLURAL: &'static str = "memberships";
    const ITEMS: &'static str = "The memberships of this page, in the order they were recorded.";
}

/// List the members of a cooperation
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id"), pagination::PageQuery),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "One page of memberships, past ones included", body = MemberPage),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/members")]
pub async fn list_members(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<pagination::PageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let id = id.into_inner();
    let (limit, after) = query.0.by_id()?;
    let (rows, next_cursor) = db.read(move |conn| members::page(conn, CooperationId(id), after, limit)).await?;
    Ok(respond::page(&req, rows.into_iter().map(MemberResponse::from).collect(), next_cursor))
}

/// Add a member (admins, or editors of a member)
///
/// A partner belongs to a cooperation at most once at a time (409 otherwise). An editor may add
/// partners once one of its own partners belongs to the cooperation; an admin adds the first ones.
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id")), request_body = CreateMember,
    security(("bearer" = [])), responses(
    (status = 201, description = "Added", body = MemberResponse, headers(("Location" = String, description = "URL of the member list"))),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The partner already belongs to the cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/members")]
pub async fn add_member(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    key: IdempotencyKey,
    body: JsonBody<CreateMember>,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "add members")?;
    let key = key.for_body(&caller, &body)?;
    let (id, input) = (id.into_inner(), body.decode()?);
    let add = move |c: &mut _| members::add(c, &caller, CooperationId(id), input, now());
    let render = move |member| {
        respond::created_unversioned_answer(format!("/api/v1/cooperations/{id}/members"), &MemberResponse::from(member))
    };
    let outcome = db.write(move |conn| idempotency::once(conn, key.as_ref(), now(), add, render)).await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// Remove a member (admins, or editors of a member)
///
/// Removes every membership record of the partner in this cooperation. Refused (409) while the
/// partner leads or takes part in measures of the cooperation.
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("partner_id" = i64, Path, description = "Partner id")),
    security(("bearer" = [])), responses(
    (status = 204, description = "Removed"),
    (status = 404, description = "No such cooperation or membership", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The partner still leads or takes part in measures", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}/members/{partner_id}")]
pub async fn remove_member(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, partner_id) = path.into_inner();
    db.write(move |conn| members::remove(conn, &caller, CooperationId(id), PartnerId(partner_id), now())).await?;
    Ok(respond::deleted())
}

/// Registers the member routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_members).service(add_member).service(remove_member);
}
