//! Checks that a record is no longer referenced before it is deleted, so that the 409 can say
//! what still uses it. The foreign keys enforce the same rules underneath.

use crate::db::AnyConnection;
use crate::error::AppError;
use crate::models::contacts;
use crate::models::cooperations::{self, Cooperation};
use crate::models::fields::Field;

/// Refuses to delete a field that measures or contacts still use.
pub fn ensure_field_unused(conn: &mut AnyConnection, field: &Field) -> Result<(), AppError> {
    let contacts = contacts::count_with_field(conn, field.id)?;
    if contacts > 0 {
        return Err(AppError::Conflict(format!(
            "field `{}` is in use: {contacts} contact(s) are responsible for it",
            field.key
        )));
    }
    Ok(())
}

/// Prepares the erasure of a contact: nothing refers to contacts yet but their fields (cascaded).
pub fn before_erasing_contact(_conn: &mut AnyConnection, _contact_id: i64) -> Result<(), AppError> {
    // Measures, which name a responsible contact, arrive with a later migration.
    Ok(())
}

/// Refuses to delete a cooperation that still has measures.
pub fn ensure_cooperation_unused(_conn: &mut AnyConnection, _cooperation: &Cooperation) -> Result<(), AppError> {
    // Measures, the only records that refer to cooperations, arrive with a later migration.
    Ok(())
}

/// Refuses to remove a member that still leads or takes part in measures of the cooperation.
pub fn ensure_member_unused(_conn: &mut AnyConnection, _cooperation_id: i64, _partner_id: i64) -> Result<(), AppError> {
    // Measures arrive with a later migration.
    Ok(())
}

/// Refuses to delete a partner that cooperations (or, later, measures and contacts) refer to.
pub fn ensure_partner_unused(conn: &mut AnyConnection, partner_id: i64) -> Result<(), AppError> {
    let cooperations = cooperations::cooperations_of_partner(conn, partner_id)?;
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

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
}
