//! Cooperation fields: the fields of action (Handlungsfelder).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::fields;
use crate::per_backend;

/// A stored field of action.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = fields, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Field {
    pub id: i64,
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    pub description: Option<String>,
    #[diesel(deserialize_as = crate::db::stored_time::StoredTimestamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::stored_time::StoredTimestamp)]
    pub updated_at: NaiveDateTime,
}

/// The writable columns of a field.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = fields, treat_none_as_null = true)]
pub struct FieldData {
    pub key: String,
    pub name_de: String,
    pub name_en: String,
    pub description: Option<String>,
}

/// Inserts a field.
pub fn insert(conn: &mut AnyConnection, data: &FieldData, now: NaiveDateTime) -> QueryResult<Field> {
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
pub fn update(
    conn: &mut AnyConnection,
    id: i64,
    data: &FieldData,
    seen: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Option<Field>> {
    let target = fields::table.find(id).filter(fields::updated_at.eq(seen));
    let changed = diesel::update(target).set((data, fields::updated_at.eq(now))).execute(conn)?;
    if changed == 0 { Ok(None) } else { find(conn, id) }
}

/// Deletes a field; returns whether one was removed.
pub fn delete(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(fields::table.find(id)).execute(conn)? > 0)
}

/// One page of fields by id (`limit + 1` rows).
pub fn list(conn: &mut AnyConnection, after_id: Option<i64>, limit: i64) -> QueryResult<Vec<Field>> {
    let mut query = fields::table.select(Field::as_select()).order(fields::id).into_boxed();
    if let Some(id) = after_id {
        query = query.filter(fields::id.gt(id));
    }
    query.limit(limit + 1).load(conn)
}

/// Those of `ids` that name no field, in the given order.
pub fn missing_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    let known: Vec<i64> = fields::table.filter(fields::id.eq_any(ids)).select(fields::id).load(conn)?;
    Ok(ids.iter().copied().filter(|id| !known.contains(id)).collect())
}
