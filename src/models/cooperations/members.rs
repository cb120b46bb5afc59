//! The members of a cooperation: which partners take part, in which role, since when.

use super::{CreateMember, Member, NewMember, current_member_ids, delete_member, insert_member, list_members};
use crate::auth::Caller;
use crate::db::AnyConnection;
use crate::db::Timestamp;
use crate::db::keyset::{After, paginate};
use crate::error::AppError;
use crate::models::ids::{CooperationId, PartnerId};

/// One page of a cooperation's memberships (past ones included) by id, or 404 for an unknown
/// cooperation.
pub fn page(
    conn: &mut AnyConnection,
    CooperationId(cooperation_id): CooperationId,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<Member>, Option<String>), AppError> {
    super::get(conn, cooperation_id)?;
    let rows = list_members(conn, cooperation_id, after, limit)?;
    Ok(paginate(rows, limit, "id", |m| After { key: String::new(), id: m.id }))
}

/// Adds a partner to a cooperation (admins, or editors of a member). A partner belongs to a
/// cooperation at most once at a time.
pub fn add(
    conn: &mut AnyConnection,
    caller: &Caller,
    CooperationId(cooperation_id): CooperationId,
    input: CreateMember,
    now: Timestamp,
) -> Result<Member, AppError> {
    super::lock_for_change(conn, caller, cooperation_id, "add members")?;
    if crate::models::partners::find(conn, input.partner_id)?.is_none() {
        return Err(AppError::invalid_field(
            "partner_id",
            "unknown_partner",
            format!("there is no partner {}", input.partner_id),
        ));
    }
    if input.left_on.is_none() && current_member_ids(conn, cooperation_id)?.contains(&input.partner_id) {
        return Err(AppError::Conflict(format!(
            "partner {} already belongs to cooperation {cooperation_id}; remove it first to change its role",
            input.partner_id
        )));
    }
    let new = NewMember {
        cooperation_id,
        partner_id: input.partner_id,
        role: <&str>::from(input.role).to_owned(),
        joined_on: input.joined_on,
        left_on: input.left_on,
        created_at: now,
    };
    let member = insert_member(conn, &new)?;
    super::touch(conn, caller, cooperation_id, now)?;
    Ok(member)
}

/// Removes every membership record of a partner in a cooperation; refused while the partner
/// leads or takes part in measures of the cooperation.
pub fn remove(
    conn: &mut AnyConnection,
    caller: &Caller,
    cooperation: CooperationId,
    partner: PartnerId,
    now: Timestamp,
) -> Result<(), AppError> {
    super::lock_for_change(conn, caller, cooperation.0, "remove members")?;
    crate::models::usage::ensure_member_unused(conn, cooperation, partner)?;
    if delete_member(conn, cooperation, partner)? == 0 {
        let (partner_id, cooperation_id) = (partner, cooperation);
        return Err(AppError::NotFound(format!(
            "partner {partner_id} is not a member of cooperation {cooperation_id}"
        )));
    }
    super::touch(conn, caller, cooperation.0, now)
}
