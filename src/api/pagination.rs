//! Pages over HTTP: the `limit` and `cursor` parameters, `next_cursor` and the `Link` header.
//! The keyset positions and cursors themselves are `db::keyset`'s.

use serde::Deserialize;

use crate::db::Timestamp;
pub use crate::db::keyset::decode_cursor;
use crate::error::AppError;

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
pub const MAX_LIMIT: i64 = 200;

/// The query of lists ordered by id that have no filters: page size and cursor only.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size and the id after which the page starts.
    pub fn by_id(&self) -> Result<(i64, Option<i64>), AppError> {
        let after = decode_cursor(self.cursor.as_deref(), "id")?.map(|a| a.id);
        Ok((self.limit.unwrap_or_default().0, after))
    }
}

/// The query of lists ordered by id whose records have versions: page size, cursor and
/// `updated_since`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangedPageQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only records changed at or after this instant (RFC 3339, e.g. the newest `updated_at`
    /// of the previous sync). Deletions are not listed: the change feed tells of them.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<Timestamp>,
}

impl ChangedPageQuery {
    /// The page size, the id after which the page starts, and `updated_since`.
    pub fn by_id(&self) -> Result<(i64, Option<i64>, Option<Timestamp>), AppError> {
        let after = decode_cursor(self.cursor.as_deref(), "id")?.map(|a| a.id);
        Ok((self.limit.unwrap_or_default().0, after, self.updated_since))
    }
}

/// The `limit` query parameter: 1 to 200, default 50; out of range fails while parsing, so that
/// it is reported together with any other bad parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(pub i64);

impl Default for Limit {
    fn default() -> Self {
        Self(DEFAULT_LIMIT)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(deserializer)?;
        if (1..=MAX_LIMIT).contains(&n) {
            Ok(Self(n))
        } else {
            Err(serde::de::Error::custom(format!("must be between 1 and {MAX_LIMIT}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_must_be_1_to_200() {
        let parse = |v: i64| serde_json::from_value::<Limit>(serde_json::json!(v));
        assert_eq!(Limit::default(), Limit(50));
        assert_eq!(parse(1).unwrap(), Limit(1));
        assert_eq!(parse(200).unwrap(), Limit(200));
        for bad in [0, 201, -1] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
    }
}
