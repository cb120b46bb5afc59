//! External references: the ids other systems give a record (a council system's OParl id, the
//! district's partner register, a spreadsheet's row key), `[{source, id}]` on partners, fields,
//! cooperations, measures and contacts.
//!
//! Invariant: a reference names at most one record of a resource (`external_refs`' primary key);
//! each record also keeps its references as a JSON copy in its own `external_refs` column, so that
//! reads need no second query. Both are written by [`store`] in the record's write transaction.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::changes::Resource;
use crate::db::AnyConnection;
use crate::db::schema::external_refs;
use crate::error::{AppError, FieldError};

/// At most this many references per record.
pub const MAX_PER_RECORD: usize = 20;

/// The record's id in another system.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalRef {
    /// The other system: 1–100 characters of `a-z`, `0-9`, `.`, `_`, `-` (e.g. `oparl`,
    /// `kreis-register`).
    #[schema(example = "oparl", pattern = "^[a-z0-9._-]{1,100}$")]
    pub source: String,
    /// The record's id there: 1–500 characters, any but control characters.
    #[schema(example = "https://ris.example.de/oparl/v1/body/1", min_length = 1, max_length = 500)]
    pub id: String,
}

/// The references of a stored record, read from its `external_refs` column
/// (`#[diesel(deserialize_as = String)]`): a column that is not such a list is an error, not an
/// empty list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalRefs(pub Vec<ExternalRef>);

impl TryFrom<String> for ExternalRefs {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        from_column(&text).map(Self).map_err(|e| e.to_string())
    }
}

/// Filters a list to the records holding a reference from `source` (with `id`, that one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefFilter {
    pub source: String,
    pub id: Option<String>,
}

impl RefFilter {
    /// The filter of the list parameters `ref_source` and `ref_id`: `ref_id` needs `ref_source`.
    pub fn from_query(source: Option<String>, id: Option<String>) -> Result<Option<Self>, AppError> {
        match (source, id) {
            (Some(source), id) => Ok(Some(Self { source, id })),
            (None, None) => Ok(None),
            (None, Some(_)) => Err(AppError::bad_parameter("ref_id", "needs ref_source (the system the id is from)")),
        }
    }
}

/// Narrows a boxed list query to the records of `$resource` that hold `$filter`'s reference:
/// `holding_ref!(query, partners::id, Resource::Partners, filter)`. A subquery on the table's
/// primary key, so a page costs what a page costs, however many records hold references.
#[macro_export]
macro_rules! holding_ref {
    ($query:expr, $id:expr, $resource:expr, $filter:expr) => {{
        use $crate::db::schema::external_refs as refs;
        let filter: &$crate::models::external_refs::RefFilter = $filter;
        let holders = refs::table
            .select(refs::record_id)
            .filter(refs::resource.eq($resource.as_str()))
            .filter(refs::source.eq(filter.source.clone()));
        match &filter.id {
            Some(ref_id) => $query.filter($id.eq_any(holders.filter(refs::ref_id.eq(ref_id.clone())))),
            None => $query.filter($id.eq_any(holders)),
        }
    }};
}

/// Trims sources and ids and lower-cases sources; the order stays the client's, so that an error
/// names the entry the client sent (`external_refs[2]`).
pub fn normalize(refs: &mut [ExternalRef]) {
    for r in refs.iter_mut() {
        crate::domain::trim(&mut r.source);
        r.source.make_ascii_lowercase();
        crate::domain::trim(&mut r.id);
    }
}

/// Adds the reference a `…/by-ref/{source}/{id}` request names to the record's list (normalised
/// and checked like the list): the record keeps the reference it is addressed by.
pub fn include(refs: &mut Vec<ExternalRef>, source: &str, id: &str) -> Result<ExternalRef, AppError> {
    let mut named = vec![ExternalRef { source: source.to_owned(), id: id.to_owned() }];
    normalize(&mut named);
    let errors = check(&named);
    if !errors.is_empty() {
        let errors = errors
            .into_iter()
            .map(|e| FieldError::new(e.field.replace("external_refs[0].", ""), e.code, e.message))
            .collect();
        return Err(AppError::Validation(errors));
    }
    let named = named.remove(0);
    if !refs.contains(&named) {
        refs.push(named.clone());
    }
    Ok(named)
}

/// The rule-breaking entries of a list (`external_refs[i].source`), after [`normalize`].
pub fn check(refs: &[ExternalRef]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if refs.len() > MAX_PER_RECORD {
        errors.push(FieldError::new(
            "external_refs",
            "too_many",
            format!("at most {MAX_PER_RECORD} references per record"),
        ));
    }
    for (i, r) in refs.iter().enumerate() {
        let source_ok = (1..=100).contains(&r.source.len())
            && r.source.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !source_ok {
            errors.push(FieldError::new(
                format!("external_refs[{i}].source"),
                "invalid_format",
                "must be 1 to 100 characters of a-z, 0-9, '.', '_' and '-'",
            ));
        }
        if r.id.is_empty() || r.id.chars().count() > 500 || r.id.chars().any(char::is_control) {
            errors.push(FieldError::new(
                format!("external_refs[{i}].id"),
                "invalid_format",
                "must be 1 to 500 characters without control characters",
            ));
        }
        if refs[..i].iter().any(|other| other.source == r.source && other.id == r.id) {
            errors.push(FieldError::new(format!("external_refs[{i}]"), "duplicate", "is listed twice"));
        }
    }
    errors
}

/// The record's own copy of its references (the `external_refs` column).
pub fn column(refs: &[ExternalRef]) -> String {
    if refs.is_empty() {
        return "[]".to_owned();
    }
    serde_json::to_string(refs).unwrap_or_else(|_| "[]".to_owned())
}

/// The references in a record's `external_refs` column.
pub fn from_column(text: &str) -> Result<Vec<ExternalRef>, AppError> {
    if text == "[]" {
        return Ok(Vec::new());
    }
    serde_json::from_str(text)
        .map_err(|e| AppError::Internal(format!("a stored external_refs column is not a list of references: {e}")))
}

/// The references of a record just inserted (which holds none yet): as [`store`], without
/// looking for rows to replace, and without a statement when there are none (most writes).
pub fn store_new(
    conn: &mut AnyConnection,
    resource: Resource,
    record_id: i64,
    refs: &[ExternalRef],
) -> Result<(), AppError> {
    if refs.is_empty() { Ok(()) } else { store(conn, resource, record_id, refs) }
}

/// Makes `refs` the references of a record (the table's rows; the caller writes the column):
/// 409 when another record of the resource holds one of them.
pub fn store(
    conn: &mut AnyConnection,
    resource: Resource,
    record_id: i64,
    refs: &[ExternalRef],
) -> Result<(), AppError> {
    ensure_free(conn, resource, Some(record_id), refs)?;
    remove(conn, resource, record_id)?;
    for r in refs {
        diesel::insert_into(external_refs::table)
            .values((
                external_refs::resource.eq(resource.as_str()),
                external_refs::source.eq(&r.source),
                external_refs::ref_id.eq(&r.id),
                external_refs::record_id.eq(record_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// 409 when a record of the resource other than `record_id` (or any, for a new record) holds
/// one of `refs`. Reads only: the check before a write, and part of [`store`].
pub fn ensure_free(
    conn: &mut AnyConnection,
    resource: Resource,
    record_id: Option<i64>,
    refs: &[ExternalRef],
) -> Result<(), AppError> {
    for r in refs {
        if let Some(other) = holder(conn, resource, &r.source, &r.id)?.filter(|other| Some(*other) != record_id) {
            return Err(AppError::Conflict(format!(
                "the external reference {}:{} already names {} {other}",
                r.source,
                r.id,
                resource.as_str()
            )));
        }
    }
    Ok(())
}

/// Removes the references of a record (when it is deleted or erased).
pub fn remove(conn: &mut AnyConnection, resource: Resource, record_id: i64) -> QueryResult<()> {
    diesel::delete(
        external_refs::table
            .filter(external_refs::resource.eq(resource.as_str()))
            .filter(external_refs::record_id.eq(record_id)),
    )
    .execute(conn)
    .map(|_| ())
}

/// The record of `resource` that holds the reference, if any.
pub fn holder(conn: &mut AnyConnection, resource: Resource, source: &str, id: &str) -> QueryResult<Option<i64>> {
    external_refs::table
        .select(external_refs::record_id)
        .filter(external_refs::resource.eq(resource.as_str()))
        .filter(external_refs::source.eq(source))
        .filter(external_refs::ref_id.eq(id))
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(source: &str, id: &str) -> ExternalRef {
        ExternalRef { source: source.into(), id: id.into() }
    }

    #[test]
    fn references_are_trimmed_sources_lower_cased_and_repetitions_named() {
        let mut refs = vec![r(" OParl ", "x"), r("ags", "03359028 "), r("oparl", "x")];
        normalize(&mut refs);
        assert_eq!(refs, [r("oparl", "x"), r("ags", "03359028"), r("oparl", "x")]);
        let errors = check(&refs);
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].field.as_str(), errors[0].code.as_str()), ("external_refs[2]", "duplicate"));
        refs.pop();
        assert_eq!(from_column(&column(&refs)).unwrap(), refs);
        assert!(include(&mut refs, "AGS", "03359028").is_ok());
        assert_eq!(refs.len(), 2, "a reference already listed is not added twice");
    }

    #[test]
    fn bad_sources_ids_and_too_many_are_named() {
        let errors = check(&[r("Mit Leer", "1"), r("ok", ""), r("ok", "a\u{7}b")]);
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["external_refs[0].source", "external_refs[1].id", "external_refs[2].id"]);
        let many: Vec<_> = (0..=MAX_PER_RECORD).map(|i| r("s", &i.to_string())).collect();
        assert_eq!(check(&many)[0].code, "too_many");
    }
}
