//! Who is in a working group: contacts of the cooperation's partners, as `chair` or `member`.
//! Personal data, as the contacts themselves. The group counts its members (`member_count`,
//! public) and gets a new version with every change of them.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::{allowed, get};
use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::schema::{contacts, working_group_members, working_groups};
use crate::db::{AnyConnection, Timestamp};
use crate::error::AppError;
use crate::models::input::Normalize;

/// A member's part in a group.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum WorkingGroupRole {
    /// Leads the group's meetings.
    Chair,
    /// Takes part.
    Member,
}

crate::stored_enum!(WorkingGroupRole);

/// A stored membership with the contact's name, function and partner.
#[derive(Debug, Clone, Queryable)]
pub struct GroupMember {
    pub contact_id: i64,
    pub role: String,
    pub created_at: Timestamp,
    pub name: String,
    pub function: Option<String>,
    pub partner_id: i64,
}

/// A contact joining a working group.
#[derive(Debug, Clone, Deserialize, Serialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupMember {
    /// The contact (a person at a partner of the cooperation).
    pub contact_id: i64,
    /// `chair` or `member` (the default).
    #[serde(default = "member")]
    #[schema(default = "member")]
    pub role: WorkingGroupRole,
}

fn member() -> WorkingGroupRole {
    WorkingGroupRole::Member
}

impl Normalize for CreateGroupMember {
    const NOT_NULL: &'static [&'static str] = &["role"];
    fn normalize(&mut self) {}
}

/// The members of a group, by name (viewers and above; the caller checks), or 404.
pub fn list(conn: &mut AnyConnection, cooperation_id: i64, id: i64) -> Result<Vec<GroupMember>, AppError> {
    get(conn, cooperation_id, id)?;
    Ok(working_group_members::table
        .inner_join(contacts::table.on(contacts::id.eq(working_group_members::contact_id)))
        .filter(working_group_members::working_group_id.eq(id))
        .select((
            working_group_members::contact_id,
            working_group_members::role,
            working_group_members::created_at,
            contacts::name,
            contacts::function,
            contacts::partner_id,
        ))
        .order((contacts::name_folded, contacts::id))
        .load(conn)?)
}

/// Adds a contact to a group (admins, or editors of a member of the cooperation); the contact
/// must work for a current member, and be in the group once.
pub fn add(
    conn: &mut AnyConnection,
    caller: &Caller,
    (cooperation_id, id): (i64, i64),
    input: CreateGroupMember,
    now: Timestamp,
) -> Result<GroupMember, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::WorkingGroups, id)?;
    get(conn, cooperation_id, id)?;
    let members = allowed(conn, caller, cooperation_id, "change working groups")?;
    let partner: Option<i64> =
        contacts::table.find(input.contact_id).select(contacts::partner_id).first(conn).optional()?;
    match partner {
        None => {
            return Err(AppError::invalid_field(
                "contact_id",
                "unknown_contact",
                format!("there is no contact {}", input.contact_id),
            ));
        }
        Some(p) if !members.contains(&p) => {
            return Err(AppError::invalid_field(
                "contact_id",
                "not_a_member",
                format!("contact {} works for partner {p}, which is not a member of the cooperation", input.contact_id),
            ));
        }
        Some(_) => {}
    }
    let present = working_group_members::table
        .find((id, input.contact_id))
        .select(working_group_members::contact_id)
        .first::<i64>(conn)
        .optional()?;
    if present.is_some() {
        return Err(AppError::Conflict(format!(
            "contact {} is in working group {id} already; remove it first to change its role",
            input.contact_id
        )));
    }
    let row = (
        working_group_members::working_group_id.eq(id),
        working_group_members::contact_id.eq(input.contact_id),
        working_group_members::role.eq(<&str>::from(input.role)),
        working_group_members::created_at.eq(now),
    );
    diesel::insert_into(working_group_members::table).values(row).execute(conn)?;
    recount(conn, caller, id, now)?;
    list(conn, cooperation_id, id)?
        .into_iter()
        .find(|m| m.contact_id == input.contact_id)
        .ok_or_else(|| AppError::Internal("the new member is missing".into()))
}

/// Removes a contact from a group (admins, or editors of a member of the cooperation).
pub fn remove(
    conn: &mut AnyConnection,
    caller: &Caller,
    (cooperation_id, id): (i64, i64),
    contact_id: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::WorkingGroups, id)?;
    get(conn, cooperation_id, id)?;
    allowed(conn, caller, cooperation_id, "change working groups")?;
    let gone = diesel::delete(working_group_members::table.find((id, contact_id))).execute(conn)?;
    if gone == 0 {
        return Err(AppError::NotFound(format!("contact {contact_id} is not in working group {id}")));
    }
    recount(conn, caller, id, now)
}

/// Stores the group's member count with a new version and records the change.
fn recount(conn: &mut AnyConnection, caller: &Caller, id: i64, now: Timestamp) -> Result<(), AppError> {
    let count: i64 =
        working_group_members::table.filter(working_group_members::working_group_id.eq(id)).count().get_result(conn)?;
    diesel::update(working_groups::table.find(id))
        .set((working_groups::member_count.eq(count as i32), working_groups::updated_at.eq(now)))
        .execute(conn)?;
    changes::changed(conn, caller, Resource::WorkingGroups, id, Op::Updated, now)?;
    Ok(())
}

/// Before a contact is erased: takes it out of every group (each with a new version).
pub fn forget_contact(
    conn: &mut AnyConnection,
    caller: &Caller,
    contact_id: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    let groups: Vec<i64> = working_group_members::table
        .filter(working_group_members::contact_id.eq(contact_id))
        .select(working_group_members::working_group_id)
        .load(conn)?;
    diesel::delete(working_group_members::table.filter(working_group_members::contact_id.eq(contact_id)))
        .execute(conn)?;
    for id in groups {
        recount(conn, caller, id, now)?;
    }
    Ok(())
}
