//! Checks that a record is no longer referenced before it is deleted, so that the 409 can say
//! what still uses it. The foreign keys enforce the same rules underneath.

use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::{AnyConnection, Timestamp};
use crate::error::AppError;
use crate::models::contacts;
use crate::models::cooperations::{self, Cooperation};
use crate::models::fields::Field;
use crate::models::ids::{CooperationId, PartnerId};
use crate::models::measures;

/// Refuses to delete a field that measures or contacts still use.
pub fn ensure_field_unused(conn: &mut AnyConnection, field: &Field) -> Result<(), AppError> {
    let measures = measures::count_in_field(conn, field.id)?;
    let contacts = contacts::count_with_field(conn, field.id)?;
    if measures + contacts > 0 {
        return Err(AppError::Conflict(format!(
            "field `{}` is in use by {measures} measure(s) and {contacts} contact(s); move them to another field first",
            field.key
        )));
    }
    Ok(())
}

/// Prepares the erasure of a contact: measures that named it keep working without it, and their
/// history notes the erasure (without the person's name).
pub fn before_erasing_contact(
    conn: &mut AnyConnection,
    caller: &Caller,
    contact_id: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    for measure in measures::forget_contact(conn, contact_id, &caller.actor(), now)? {
        changes::changed(conn, caller, Resource::Measures, measure, Op::Updated, now)?;
    }
    super::working_groups::members::forget_contact(conn, caller, contact_id, now)
}

/// Refuses to delete a cooperation that still has measures.
pub fn ensure_cooperation_unused(conn: &mut AnyConnection, cooperation: &Cooperation) -> Result<(), AppError> {
    let count = measures::count_in_cooperation(conn, cooperation.id)?;
    if count > 0 {
        return Err(AppError::Conflict(format!(
            "cooperation \"{}\" still has {count} measure(s); delete them first",
            cooperation.name
        )));
    }
    Ok(())
}

/// Refuses to remove a member that still leads or takes part in measures of the cooperation.
pub fn ensure_member_unused(
    conn: &mut AnyConnection,
    cooperation: CooperationId,
    partner_id: PartnerId,
) -> Result<(), AppError> {
    let ids = measures::referring_to_partner(conn, partner_id, Some(cooperation))?;
    if !ids.is_empty() {
        return Err(AppError::Conflict(format!(
            "partner {partner_id} still leads, takes part in or is responsible for measure(s) {} of this cooperation",
            joined(&ids)
        )));
    }
    Ok(())
}

/// Refuses to delete a partner that measures, contacts or cooperations refer to.
pub fn ensure_partner_unused(conn: &mut AnyConnection, partner_id: i64) -> Result<(), AppError> {
    let cooperations = cooperations::cooperations_of_partner(conn, partner_id)?;
    let ids = measures::referring_to_partner(conn, PartnerId(partner_id), None)?;
    if !ids.is_empty() {
        return Err(AppError::Conflict(format!(
            "partner {partner_id} still leads, takes part in or is responsible for measure(s) {}",
            joined(&ids)
        )));
    }
    let decided = measures::decisions::measures_decided_by(conn, partner_id)?;
    if !decided.is_empty() {
        return Err(AppError::Conflict(format!(
            "partner {partner_id}'s council has decisions on measure(s) {}: delete them first \
             (DELETE /api/v1/measures/{{id}}/council-decisions/{{decision_id}})",
            joined(&decided)
        )));
    }
    let contacts = contacts::count_of_partner(conn, partner_id)?;
    if contacts > 0 {
        return Err(AppError::Conflict(format!(
            "partner {partner_id} still has {contacts} contact(s): erase or move them first"
        )));
    }
    if !cooperations.is_empty() {
        return Err(AppError::Conflict(format!(
            "partner {partner_id} is or was a member of {}: remove the membership first (DELETE \
             /api/v1/cooperations/{{id}}/members/{partner_id})",
            quoted(&cooperations)
        )));
    }
    Ok(())
}

fn joined(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}
