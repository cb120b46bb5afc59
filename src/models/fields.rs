//! Cooperation fields: the fields of action (Handlungsfelder).

use crate::db::Timestamp;
use diesel::prelude::*;

use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::AnyConnection;
use crate::db::keyset::{After, paginate};
use crate::db::schema::fields;
use crate::domain;
use crate::error::{AppError, FieldError};
use crate::models::external_refs::{self, ExternalRef, ExternalRefs, RefFilter};
use crate::models::input::Normalize;
use crate::models::record::{IfMatch, Patch, changed_meanwhile, not_found};
use crate::per_backend;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

/// A stored field of action.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = fields, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Field {
    pub id: i64,
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[diesel(deserialize_as = String)]
    pub external_refs: ExternalRefs,
}

/// The writable columns of a field.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = fields, treat_none_as_null = true)]
pub struct FieldData {
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    pub description: Option<String>,
    pub external_refs: String,
}

/// Inserts a field.
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: CreateField,
    now: Timestamp,
) -> Result<Field, AppError> {
    check_create(conn, &input)?;
    let refs = input.external_refs.clone();
    let field = insert(conn, &input.into_data(), now)?;
    external_refs::store_new(conn, Resource::Fields, field.id, &refs)?;
    changes::changed(conn, caller, Resource::Fields, field.id, Op::Created, field.updated_at)?;
    Ok(field)
}

/// What [`create`] checks before it writes, reading only (an import checks a whole file this
/// way before it takes the writer): the key and the external references must be free.
pub fn check_create(conn: &mut AnyConnection, input: &CreateField) -> Result<(), AppError> {
    if let Some(other) = find_by_key(conn, &input.key)? {
        return Err(AppError::Conflict(format!("the key `{}` is already used by field {}", input.key, other.id)));
    }
    external_refs::ensure_free(conn, Resource::Fields, None, &input.external_refs)
}

/// One field, or 404.
pub fn get(conn: &mut AnyConnection, id: i64) -> Result<Field, AppError> {
    find(conn, id)?.ok_or_else(|| not_found("field", id))
}

/// One page of fields by id, with the cursor of the next page.
pub fn page(
    conn: &mut AnyConnection,
    after: Option<i64>,
    limit: i64,
    updated_since: Option<Timestamp>,
    external_ref: Option<&RefFilter>,
) -> Result<(Vec<Field>, Option<String>), AppError> {
    let rows = list(conn, after, limit, updated_since, external_ref)?;
    Ok(paginate(rows, limit, "id", |f| After { key: String::new(), id: f.id }))
}

/// Applies a merge patch to the locked field; its key cannot change (clients rely on it).
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<Field, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Fields, id)?;
    let (current, input) = patched(conn, id, patch, if_match)?;
    replace(conn, caller, current, input, now)
}

/// What [`update`] checks before it writes, reading only: `true` when the patch changes the
/// field.
pub fn check_update(conn: &mut AnyConnection, id: i64, patch: Patch, if_match: &IfMatch) -> Result<bool, AppError> {
    let (current, input) = patched(conn, id, patch, if_match)?;
    check_replace(conn, &current, &input)
}

/// The stored field and what the patch makes of it, if `if_match` allows the change.
fn patched(
    conn: &mut AnyConnection,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
) -> Result<(Field, CreateField), AppError> {
    let current = get(conn, id)?;
    let input = patch.apply::<CreateField>(&CreateField::from_stored(&current))?;
    if_match.check_version(current.updated_at)?;
    Ok((current, input))
}

/// Whether `input` changes `current`, and if so whether it may: the key stays, the external
/// references must stay free. Reads only.
fn check_replace(conn: &mut AnyConnection, current: &Field, input: &CreateField) -> Result<bool, AppError> {
    if *input == CreateField::from_stored(current) {
        return Ok(false);
    }
    if input.key != current.key {
        return Err(AppError::invalid_field("key", "immutable", "cannot be changed: clients rely on it"));
    }
    external_refs::ensure_free(conn, Resource::Fields, Some(current.id), &input.external_refs)?;
    Ok(true)
}

/// Stores `input` as the new state of the locked field `current` (its key cannot change); an
/// input equal to what is stored changes nothing.
pub fn replace(
    conn: &mut AnyConnection,
    caller: &Caller,
    current: Field,
    input: CreateField,
    now: Timestamp,
) -> Result<Field, AppError> {
    if !check_replace(conn, &current, &input)? {
        return Ok(current);
    }
    let id = current.id;
    let refs = (input.external_refs != current.external_refs.0).then(|| input.external_refs.clone());
    let data = input.into_data();
    let field = update_row(conn, id, &data, current.updated_at, now)?.ok_or_else(|| changed_meanwhile("field"))?;
    if let Some(refs) = refs {
        external_refs::store(conn, Resource::Fields, id, &refs)?;
    }
    changes::changed(conn, caller, Resource::Fields, id, Op::Updated, field.updated_at)?;
    Ok(field)
}

/// Creates the field holding the external reference `source:ref_id` (`true`), or replaces it
/// with `input`, a full representation; the reference stays in the field's list.
pub fn put_by_ref(
    conn: &mut AnyConnection,
    caller: &Caller,
    (source, ref_id): (&str, &str),
    mut input: CreateField,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(Field, bool), AppError> {
    let named = external_refs::include(&mut input.external_refs, source, ref_id)?;
    match external_refs::holder(conn, Resource::Fields, &named.source, &named.id)? {
        None => {
            if_match.check_absent()?;
            create(conn, caller, input, now).map(|f| (f, true))
        }
        Some(id) => {
            crate::db::lock_row(conn, crate::db::Locked::Fields, id)?;
            let current = get(conn, id)?;
            if_match.check_version(current.updated_at)?;
            replace(conn, caller, current, input, now).map(|f| (f, false))
        }
    }
}

/// Deletes a field that no measure or contact uses.
pub fn delete(conn: &mut AnyConnection, caller: &Caller, id: i64, if_match: &IfMatch) -> Result<(), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Fields, id)?;
    let field = get(conn, id)?;
    if_match.check_version(field.updated_at)?;
    super::usage::ensure_field_unused(conn, &field)?;
    delete_row(conn, id)?;
    external_refs::remove(conn, Resource::Fields, id)?;
    changes::deleted(conn, caller, Resource::Fields, id, Timestamp::now())?;
    Ok(())
}

fn insert(conn: &mut AnyConnection, data: &FieldData, now: Timestamp) -> QueryResult<Field> {
    let values = (data, fields::created_at.eq(now), fields::updated_at.eq(now));
    per_backend!(conn, |c| diesel::insert_into(fields::table)
        .values(values)
        .returning(Field::as_returning())
        .get_result(c))
}

/// Loads one field.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Field>> {
    per_backend!(conn, |c| fields::table.find(id).select(Field::as_select()).first(c).optional())
}

/// Loads a field by its key.
pub fn find_by_key(conn: &mut AnyConnection, key: &str) -> QueryResult<Option<Field>> {
    per_backend!(conn, |c| fields::table.filter(fields::key.eq(key)).select(Field::as_select()).first(c).optional())
}

/// Replaces a field's columns if it is still at version `seen`.
fn update_row(
    conn: &mut AnyConnection,
    id: i64,
    data: &FieldData,
    seen: Timestamp,
    now: Timestamp,
) -> QueryResult<Option<Field>> {
    let target = fields::table.find(id).filter(fields::updated_at.eq(seen));
    let changed = diesel::update(target).set((data, fields::updated_at.eq(now))).execute(conn)?;
    if changed == 0 { Ok(None) } else { find(conn, id) }
}

/// Deletes a field; returns whether one was removed.
fn delete_row(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(fields::table.find(id)).execute(conn)? > 0)
}

/// One page of fields by id (`limit + 1` rows).
pub fn list(
    conn: &mut AnyConnection,
    after_id: Option<i64>,
    limit: i64,
    updated_since: Option<Timestamp>,
    external_ref: Option<&RefFilter>,
) -> QueryResult<Vec<Field>> {
    let mut query = fields::table.select(Field::as_select()).order(fields::id).into_boxed();
    if let Some(id) = after_id {
        query = query.filter(fields::id.gt(id));
    }
    if let Some(since) = updated_since {
        query = query.filter(fields::updated_at.ge(since));
    }
    if let Some(holding) = external_ref {
        query = crate::holding_ref!(query, fields::id, Resource::Fields, holding);
    }
    query.limit(limit + 1).load(conn)
}

/// Those of `ids` that name no field, in the given order.
pub fn missing_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    let known: Vec<i64> = fields::table.filter(fields::id.eq_any(ids)).select(fields::id).load(conn)?;
    Ok(ids.iter().copied().filter(|id| !known.contains(id)).collect())
}

/// A new field of action (a PATCH takes the same fields, except that `key` cannot change).
#[derive(Debug, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateField {
    /// Stable key: lower-case words joined by `-`, 1–64 characters.
    #[validate(custom(function = "domain::validate_key"))]
    #[schema(example = "tourism", pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    pub key: String,
    /// German name, 1–200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "Tourismus", min_length = 1, max_length = 200)]
    pub name_de: String,
    /// English name, 1–200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "Tourism", min_length = 1, max_length = 200)]
    pub name_en: String,
    /// What the field covers.
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// The field's ids in other systems, each unique among fields.
    #[serde(default)]
    #[validate(skip)]
    pub external_refs: Vec<ExternalRef>,
}

impl Normalize for CreateField {
    fn normalize(&mut self) {
        domain::trim(&mut self.key);
        domain::trim(&mut self.name_de);
        domain::trim(&mut self.name_en);
        domain::trim_opt(&mut self.description);
        external_refs::normalize(&mut self.external_refs);
    }

    fn check(&self) -> Vec<FieldError> {
        external_refs::check(&self.external_refs)
    }
}

impl CreateField {
    /// The writable fields of a stored field, as the base a merge patch applies to.
    pub fn from_stored(f: &Field) -> Self {
        Self {
            key: f.key.clone(),
            name_de: f.name_de.clone(),
            name_en: f.name_en.clone(),
            description: f.description.clone(),
            external_refs: f.external_refs.0.clone(),
        }
    }

    pub fn into_data(self) -> FieldData {
        FieldData {
            external_refs: external_refs::column(&self.external_refs),
            key: self.key,
            name_de: self.name_de,
            name_en: self.name_en,
            description: self.description,
        }
    }
}
