//! `/api/v1/cooperations/{id}/members`: the partners of a cooperation and their roles.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cooperations::{load_for_write, not_found};
use super::extract::{JsonBody, Query};
use super::pagination::{self, After};
use crate::auth::Caller;
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::cooperations::CreateMember;
use crate::models::cooperations::{self as model, Member, MemberRole, NewMember};
use crate::models::partners as partner_model;

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
    #[serde(serialize_with = "super::rfc3339")]
    pub created_at: DateTime<Utc>,
}

impl From<Member> for MemberResponse {
    fn from(m: Member) -> Self {
        Self {
            cooperation_id: m.cooperation_id,
            partner_id: m.partner_id,
            partner_name: m.partner_name,
            role: m.role.parse().unwrap_or(MemberRole::Member),
            joined_on: m.joined_on,
            left_on: m.left_on,
            created_at: m.created_at.and_utc(),
        }
    }
}

/// One page of memberships.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberPage {
    /// The memberships of this page, in the order they were recorded.
    pub items: Vec<MemberResponse>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
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
    let rows = db
        .read(move |conn| {
            model::find(conn, id)?.ok_or_else(|| not_found(id))?;
            Ok(model::list_members(conn, id, after, limit)?)
        })
        .await?;
    let (rows, next_cursor) = pagination::paginate(rows, limit, "id", |m| After { key: String::new(), id: m.id });
    let items = rows.into_iter().map(MemberResponse::from).collect();
    Ok(pagination::page_response(&req, next_cursor.as_deref(), &MemberPage { items, next_cursor: next_cursor.clone() }))
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
    body: JsonBody<CreateMember>,
) -> Result<HttpResponse, AppError> {
    caller.require(crate::auth::Role::Editor, "add members")?;
    let (id, input) = (id.into_inner(), body.decode()?);
    let member = db
        .write(move |conn| {
            load_for_write(conn, &caller, id, "add members")?;
            if partner_model::find(conn, input.partner_id)?.is_none() {
                return Err(AppError::invalid_field(
                    "partner_id",
                    "unknown_partner",
                    format!("there is no partner {}", input.partner_id),
                ));
            }
            if input.left_on.is_none() && model::current_member_ids(conn, id)?.contains(&input.partner_id) {
                return Err(AppError::Conflict(format!(
                    "partner {} already belongs to cooperation {id}; remove it first to change its role",
                    input.partner_id
                )));
            }
            let new = NewMember {
                cooperation_id: id,
                partner_id: input.partner_id,
                role: <&str>::from(input.role).to_owned(),
                joined_on: input.joined_on,
                left_on: input.left_on,
                created_at: crate::models::now(),
            };
            Ok(model::insert_member(conn, &new)?)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/cooperations/{id}/members")))
        .json(MemberResponse::from(member)))
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
    db.write(move |conn| {
        load_for_write(conn, &caller, id, "remove members")?;
        crate::models::usage::ensure_member_unused(conn, id, partner_id)?;
        if model::delete_member(conn, id, partner_id)? == 0 {
            return Err(AppError::NotFound(format!("partner {partner_id} is not a member of cooperation {id}")));
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the member routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_members).service(add_member).service(remove_member);
}
