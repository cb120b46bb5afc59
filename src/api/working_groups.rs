//! `/api/v1/cooperations/{id}/working-groups`: the working groups of a cooperation and, for
//! callers with a role, who is in them.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::export::{self, CsvDelimiter, ListFormat};
use super::extract::{IdempotencyKey, JsonBody, Query};
use super::pagination::{self, Limit};
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::db::{Db, Timestamp};
use crate::error::{AppError, Problem};
use crate::models::record::{IfMatch, Patch, etag};
use crate::models::working_groups::members::{self, CreateGroupMember, GroupMember, WorkingGroupRole};
use crate::models::working_groups::{
    self as model, CreateWorkingGroup, WorkingGroupFilter, WorkingGroupRecord, WorkingGroupStatus,
};
use crate::models::{idempotency, now};

/// A working group of a cooperation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkingGroupResponse {
    /// Server-assigned id.
    pub id: i64,
    /// The cooperation.
    pub cooperation_id: i64,
    /// Name.
    #[schema(example = "IT & E-Government")]
    pub name: String,
    /// Its fields of action.
    pub field_ids: Vec<i64>,
    /// The partner moderating it.
    pub moderator_partner_id: Option<i64>,
    /// `active` or `closed`.
    pub status: WorkingGroupStatus,
    /// How many people are in it (who: `…/members`, for callers with a role).
    pub member_count: i32,
    /// The measures that name it as the group that examined them.
    pub measure_ids: Vec<i64>,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC), members included.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<WorkingGroupRecord> for WorkingGroupResponse {
    fn from(r: WorkingGroupRecord) -> Self {
        let WorkingGroupRecord { group: g, field_ids, measure_ids } = r;
        Self {
            id: g.id,
            cooperation_id: g.cooperation_id,
            name: g.name,
            field_ids,
            moderator_partner_id: g.moderator_partner_id,
            status: g.status,
            member_count: g.member_count,
            measure_ids,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

impl Versioned for WorkingGroupResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of working groups.
pub type WorkingGroupPage = respond::Page<WorkingGroupResponse>;

impl Listed for WorkingGroupResponse {
    const PAGE: &'static str = "WorkingGroupPage";
    const PLURAL: &'static str = "working groups";
    const ITEMS: &'static str = "The groups of this page, by id.";
}

/// A person in a working group.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupMemberResponse {
    /// The contact.
    pub contact_id: i64,
    /// The contact's name.
    #[schema(example = "Kai Test")]
    pub name: String,
    /// The contact's function.
    #[schema(example = "IT-Beauftragter")]
    pub function: Option<String>,
    /// The partner the person works for.
    pub partner_id: i64,
    /// `chair` or `member`.
    pub role: WorkingGroupRole,
    /// Since (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl TryFrom<GroupMember> for GroupMemberResponse {
    type Error = AppError;
    fn try_from(m: GroupMember) -> Result<Self, AppError> {
        let role = m.role.parse().map_err(|_| AppError::Internal(format!("unreadable role {:?}", m.role)))?;
        Ok(Self {
            contact_id: m.contact_id,
            name: m.name,
            function: m.function,
            partner_id: m.partner_id,
            role,
            created_at: m.created_at,
        })
    }
}

/// The members of a working group.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GroupMemberList {
    /// By name.
    pub items: Vec<GroupMemberResponse>,
}

/// Query parameters of the group list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkingGroupQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only groups in this status.
    #[param(inline)]
    pub status: Option<WorkingGroupStatus>,
    /// Only groups working in this field of action.
    pub field_id: Option<i64>,
    /// Only groups changed at or after this instant (RFC 3339). Deletions: the change feed.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<Timestamp>,
    /// `csv`: the whole list as one CSV file (as with `Accept: text/csv`); `xlsx`: as a workbook.
    #[param(inline)]
    pub format: Option<ListFormat>,
    /// With CSV: `semicolon` separates the cells with `;`, as German Excel expects.
    #[param(inline)]
    pub delimiter: Option<CsvDelimiter>,
    /// With `.xlsx`: the language of the column titles (`de`, the default, or `en`).
    #[param(inline)]
    pub lang: Option<crate::exchange::titles::Lang>,
}

/// List the working groups of a cooperation
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id"), WorkingGroupQuery),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "One page of groups", body = WorkingGroupPage),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/working-groups")]
pub async fn list_working_groups(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<WorkingGroupQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let (id, q) = (id.into_inner(), query.0);
    let answer = export::Answer::of(&req, q.format, q.delimiter, q.lang);
    let limit = q.limit.unwrap_or_default().0;
    let after = pagination::decode_cursor(q.cursor.as_deref(), "id")?.map(|a| a.id);
    let filter = WorkingGroupFilter { status: q.status, field_id: q.field_id, updated_since: q.updated_since };
    let req = match answer {
        export::Answer::Page(req) => req,
        export::Answer::File(file) => {
            let (db, filter) = (db.get_ref().clone(), std::sync::Arc::new(filter));
            return export::stream(file, "working-groups", q.cursor, move |cursor| {
                let (db, filter) = (db.clone(), filter.clone());
                async move {
                    let after = pagination::decode_cursor(cursor.as_deref(), "id")?.map(|a| a.id);
                    let (rows, next) = db.read(move |c| model::page(c, id, &filter, after, export::PAGE)).await?;
                    Ok((rows.into_iter().map(WorkingGroupResponse::from).collect::<Vec<_>>(), next))
                }
            })
            .await;
        }
    };
    let (rows, next) = db.read(move |conn| model::page(conn, id, &filter, after, limit)).await?;
    Ok(respond::page(req, rows.into_iter().map(WorkingGroupResponse::from).collect(), next))
}

/// Form a working group (admins, or editors of a member of the cooperation)
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id")), request_body = CreateWorkingGroup,
    security(("bearer" = [])), responses(
    (status = 201, description = "Formed", body = WorkingGroupResponse,
     headers(("Location" = String, description = "URL of the group"), ("ETag" = String, description = "Version for `If-Match`"))),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields, unknown fields of action, or a moderator outside the cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/working-groups")]
pub async fn create_working_group(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    key: IdempotencyKey,
    body: JsonBody<CreateWorkingGroup>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "form working groups")?;
    let key = key.for_body(&caller, &body)?;
    let (id, input) = (id.into_inner(), body.decode()?);
    let write = move |c: &mut _| model::create(c, &caller, id, input, now());
    let render = move |record| {
        let group = WorkingGroupResponse::from(record);
        respond::created_answer(format!("/api/v1/cooperations/{id}/working-groups/{}", group.id), &group)
    };
    let outcome = db.write(move |conn| idempotency::once(conn, key.as_ref(), now(), write, render)).await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// Get a working group
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("working_group_id" = i64, Path, description = "Group id")),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "The group, with its measures", body = WorkingGroupResponse),
    (status = 404, description = "No such cooperation or group", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/working-groups/{working_group_id}")]
pub async fn get_working_group(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let (id, group) = path.into_inner();
    let record = db.read(move |conn| model::get(conn, id, group)).await?;
    Ok(respond::record(&WorkingGroupResponse::from(record)))
}

/// Change a working group (JSON Merge Patch; admins, or editors of a member)
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("working_group_id" = i64, Path, description = "Group id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on")),
    request_body(content = CreateWorkingGroup, content_type = "application/merge-patch+json", description = "Any subset of the fields"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Changed", body = WorkingGroupResponse),
    (status = 404, description = "No such cooperation or group", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}/working-groups/{working_group_id}")]
pub async fn update_working_group(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "change working groups")?;
    let (id, group) = path.into_inner();
    let record = db.write(move |conn| model::update(conn, &caller, id, group, patch, &if_match, now())).await?;
    Ok(respond::record(&WorkingGroupResponse::from(record)))
}

/// Delete a working group (admins, or editors of a member)
///
/// Refused (409) while measures name it.
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("working_group_id" = i64, Path, description = "Group id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this deletion is based on")),
    security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such cooperation or group", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "Measures still name the group", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}/working-groups/{working_group_id}")]
pub async fn delete_working_group(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "delete working groups")?;
    let (id, group) = path.into_inner();
    db.write(move |conn| model::delete(conn, &caller, id, group, &if_match, now())).await?;
    Ok(respond::deleted())
}

/// List who is in a working group (viewers and above: personal data)
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("working_group_id" = i64, Path, description = "Group id")),
    security(("bearer" = [])), responses(
    (status = 200, description = "The members, by name", body = GroupMemberList),
    (status = 404, description = "No such cooperation or group", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/working-groups/{working_group_id}/members")]
pub async fn list_group_members(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Viewer, "see who is in working groups (personal data)")?;
    let (id, group) = path.into_inner();
    let rows = db.read(move |conn| members::list(conn, id, group)).await?;
    let items = rows.into_iter().map(GroupMemberResponse::try_from).collect::<Result<_, _>>()?;
    Ok(respond::json(HttpResponse::Ok(), &GroupMemberList { items }))
}

/// Add a person to a working group (admins, or editors of a member)
///
/// The contact must work for a member of the cooperation; once per group.
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("working_group_id" = i64, Path, description = "Group id")),
    request_body = CreateGroupMember, security(("bearer" = [])), responses(
    (status = 201, description = "Added", body = GroupMemberResponse, headers(("Location" = String, description = "URL of the member list"))),
    (status = 404, description = "No such cooperation or group", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The contact is in the group already", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "An unknown contact, or one of a partner outside the cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/working-groups/{working_group_id}/members")]
pub async fn add_group_member(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    body: JsonBody<CreateGroupMember>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "change working groups")?;
    let ((id, group), input) = (path.into_inner(), body.decode()?);
    let member = db.write(move |conn| members::add(conn, &caller, (id, group), input, now())).await?;
    let location = format!("/api/v1/cooperations/{id}/working-groups/{group}/members");
    let answer = respond::created_unversioned_answer(location, &GroupMemberResponse::try_from(member)?);
    Ok(respond::answer(answer, false))
}

/// Take a person out of a working group (admins, or editors of a member)
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("working_group_id" = i64, Path, description = "Group id"),
        ("contact_id" = i64, Path, description = "Contact id")),
    security(("bearer" = [])), responses(
    (status = 204, description = "Taken out"),
    (status = 404, description = "No such cooperation, group or member", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}/working-groups/{working_group_id}/members/{contact_id}")]
pub async fn remove_group_member(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64, i64)>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "change working groups")?;
    let (id, group, contact) = path.into_inner();
    db.write(move |conn| members::remove(conn, &caller, (id, group), contact, now())).await?;
    Ok(respond::deleted())
}

/// Registers the routes under `/cooperations`.
pub fn configure_in_cooperations(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_working_groups)
        .service(create_working_group)
        .service(get_working_group)
        .service(update_working_group)
        .service(delete_working_group)
        .service(list_group_members)
        .service(add_group_member)
        .service(remove_group_member);
}
