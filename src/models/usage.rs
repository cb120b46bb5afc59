//! Checks that a record is no longer referenced before it is deleted, so that the 409 can say
//! what still uses it. The foreign keys enforce the same rules underneath.

use crate::db::AnyConnection;
use crate::error::AppError;
use crate::models::fields::Field;

/// Refuses to delete a field that measures or contacts still use.
pub fn ensure_field_unused(_conn: &mut AnyConnection, _field: &Field) -> Result<(), AppError> {
    // Nothing refers to fields until measures and contacts exist (next migrations).
    Ok(())
}
