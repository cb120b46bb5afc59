//! Keyset pagination: the position after a page's last row, and the opaque cursor that carries it.
//!
//! A cursor is base64url JSON `{"s": sort, "k": key of the last row, "i": id of the last row}`.
//! It is only valid with the sort it was made for; a tampered or foreign cursor is a 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Position after the last row of a page: its sort key (as text) and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The sort column's value of the last row, as text.
    pub key: String,
    /// The last row's id (tie-breaker).
    pub id: i64,
}

#[derive(Serialize, Deserialize)]
struct CursorData {
    s: String,
    k: String,
    i: i64,
}

/// Makes the opaque cursor pointing after a row.
pub fn encode_cursor(sort: &str, after: &After) -> String {
    let data = CursorData { s: sort.to_owned(), k: after.key.clone(), i: after.id };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).unwrap_or_default())
}

/// Reads a cursor made for `sort`.
pub fn decode_cursor(cursor: Option<&str>, sort: &str) -> Result<Option<After>, AppError> {
    // An empty cursor (`?cursor=`, as URL templates produce) means the first page.
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else { return Ok(None) };
    let invalid = |why: &str| AppError::BadRequest {
        slug: "invalid-cursor",
        detail: format!("the cursor is not valid: {why}; use `next_cursor` of the previous page unchanged"),
        errors: vec![crate::error::FieldError::new("cursor", "invalid_cursor", why)],
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).map_err(|_| invalid("not base64url"))?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| invalid("unreadable"))?;
    if data.k.contains('\0') {
        return Err(invalid("unreadable"));
    }
    if data.s != sort {
        return Err(invalid(&format!("it was made for sort `{}`, not `{sort}`", data.s)));
    }
    Ok(Some(After { key: data.k, id: data.i }))
}

/// Timestamp in the cursor's text form (microseconds, as stored).
pub fn timestamp_key(ts: super::Timestamp) -> String {
    ts.naive().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Reads a timestamp key back; a key that does not parse is a bad cursor.
pub fn parse_timestamp_key(key: &str) -> Result<super::Timestamp, AppError> {
    NaiveDateTime::parse_from_str(key, "%Y-%m-%dT%H:%M:%S%.6f").map(super::Timestamp::from).map_err(|_| {
        AppError::BadRequest {
            slug: "invalid-cursor",
            detail: "the cursor is not valid: bad position; use `next_cursor` of the previous page unchanged".into(),
            errors: vec![crate::error::FieldError::new("cursor", "invalid_cursor", "bad position")],
        }
    })
}

/// Splits one extra fetched row off: returns the page and, when more rows exist, the next cursor.
pub fn paginate<R>(
    mut rows: Vec<R>,
    limit: i64,
    sort: &str,
    after_of: impl Fn(&R) -> After,
) -> (Vec<R>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() <= limit {
        return (rows, None);
    }
    rows.truncate(limit);
    let next = rows.last().map(|last| encode_cursor(sort, &after_of(last)));
    (rows, next)
}

/// Applies keyset order and the "after" condition for one sort column, ascending or descending.
#[macro_export]
macro_rules! keyset {
    ($query:expr, $column:expr, $id:expr, $desc:expr, $after:expr) => {{
        let query = $query;
        let desc: bool = $desc;
        let query =
            if desc { query.order(($column.desc(), $id.desc())) } else { query.order(($column.asc(), $id.asc())) };
        match $after {
            None => query,
            Some((key, last_id)) if desc => {
                query.filter($column.lt(key.clone()).or($column.eq(key).and($id.lt(last_id))))
            }
            Some((key, last_id)) => query.filter($column.gt(key.clone()).or($column.eq(key).and($id.gt(last_id)))),
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_is_bound_to_its_sort() {
        let after = After { key: "königsbrück".into(), id: 42 };
        let cursor = encode_cursor("name", &after);
        assert_eq!(decode_cursor(Some(&cursor), "name").unwrap(), Some(after));
        assert!(decode_cursor(Some(&cursor), "-name").is_err());
        assert!(decode_cursor(Some("not a cursor!"), "name").is_err());
        assert!(decode_cursor(Some("e30"), "name").is_err());
    }

    #[test]
    fn paginate_keeps_limit_rows_and_points_after_the_last() {
        let (rows, next) = paginate(vec![1, 2, 3], 2, "id", |r| After { key: String::new(), id: *r });
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(decode_cursor(next.as_deref(), "id").unwrap().unwrap().id, 2);
        let (rows, next) = paginate(vec![1, 2], 2, "id", |r| After { key: String::new(), id: *r });
        assert_eq!((rows.len(), next), (2, None));
    }
}
