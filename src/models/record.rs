//! What every stored record shares: its version (the entity tag), the precondition a write is
//! checked against (`If-Match`), the "no such record" error and the merge of a patch (RFC 7396)
//! into the stored record. The HTTP floor reads these from requests; the rules apply them
//! inside the write's transaction, after the row is locked.

use serde::de::DeserializeOwned;
use serde_json::Value;
use validator::Validate;

use super::input::{Normalize, decode};
use crate::db::Timestamp;
use crate::error::{AppError, FieldError};

/// The entity tag of a row version: its `updated_at` in microseconds since the epoch.
pub fn etag(updated_at: Timestamp) -> String {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(updated_at.micros());
    let mut tag = String::with_capacity(digits.len() + 2);
    tag.push('"');
    tag.push_str(digits);
    tag.push('"');
    tag
}

/// The entity tag of a record answered together with embedded records (`?include=…`): the
/// record's own tag, extended by a digest of each embedded record's id and version, so that a
/// change, addition or erasure of an embedded record changes the tag too (and no 304 hides it).
pub fn etag_with_embedded(updated_at: Timestamp, embedded: impl IntoIterator<Item = (i64, Timestamp)>) -> String {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    for (id, version) in embedded {
        digest.update(id.to_le_bytes());
        digest.update(version.micros().to_le_bytes());
    }
    let digest = digest.finalize();
    let own = etag(updated_at);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}+{hex}\"", &own[..own.len() - 1])
}

/// 404 for a record that does not exist, e.g. `not_found("partner", 7)`.
pub fn not_found(what: &str, id: i64) -> AppError {
    AppError::NotFound(format!("there is no {what} with id {id}"))
}

/// 412 for a row that changed between its lock and its update (which the lock rules out; kept
/// so that a broken lock can never overwrite silently).
pub fn changed_meanwhile(what: &str) -> AppError {
    AppError::PreconditionFailed(format!("the {what} changed during the update; retry"))
}

/// The precondition of a write (`If-Match`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IfMatch {
    /// No precondition: write unconditionally.
    #[default]
    Absent,
    /// `*`: the record must exist.
    Any,
    /// The listed entity tags; the current one must be among them.
    Tags(Vec<String>),
}

impl IfMatch {
    /// The precondition of a header's values (each a comma-separated list).
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let tags: Vec<String> = values.into_iter().flat_map(|v| v.split(',')).map(|t| t.trim().to_owned()).collect();
        if tags.is_empty() {
            Self::Absent
        } else if tags.iter().any(|t| t == "*") {
            Self::Any
        } else {
            Self::Tags(tags)
        }
    }

    /// Fails with 412 when the current entity tag does not satisfy the precondition.
    pub fn check(&self, current_etag: &str) -> Result<(), AppError> {
        match self {
            Self::Tags(tags) if !tags.iter().any(|t| t == current_etag) => Err(AppError::PreconditionFailed(format!(
                "the resource has changed: its current ETag is {current_etag}; fetch it again and retry"
            ))),
            _ => Ok(()),
        }
    }

    /// Fails with 412 when a precondition names a version, for a record that does not exist
    /// (RFC 9110: `If-Match` is false without a current representation).
    pub fn check_absent(&self) -> Result<(), AppError> {
        match self {
            Self::Absent => Ok(()),
            Self::Any | Self::Tags(_) => Err(AppError::PreconditionFailed(
                "no record holds this reference yet, so no version can match; send the request without If-Match".into(),
            )),
        }
    }

    /// [`IfMatch::check`] against the version of a row.
    pub fn check_version(&self, updated_at: Timestamp) -> Result<(), AppError> {
        match self {
            Self::Absent | Self::Any => Ok(()),
            Self::Tags(_) => self.check(&etag(updated_at)),
        }
    }
}

/// The JSON object of a merge-patch request (RFC 7396), not yet applied.
#[derive(Debug, Clone, Default)]
pub struct Patch(pub serde_json::Map<String, Value>);

impl Patch {
    /// Applies the patch to `base`, the writable fields of the stored record, and checks the
    /// result with exactly the rules of a new record.
    pub fn apply<T: DeserializeOwned + Validate + Normalize>(
        self,
        base: &impl serde::Serialize,
    ) -> Result<T, AppError> {
        let mut merged = serde_json::to_value(base)
            .map_err(|e| AppError::Internal(format!("cannot serialise the stored record: {e}")))?;
        // `null` removes a member (RFC 7396); a list is emptied with `[]`, not removed.
        let refused_nulls: Vec<FieldError> = self
            .0
            .iter()
            .filter(|(_, value)| value.is_null())
            .filter_map(|(key, _)| {
                let list = merged.get(key.as_str()).is_some_and(Value::is_array);
                if list && !T::NULLABLE_LISTS.contains(&key.as_str()) {
                    Some(FieldError::new(key.as_str(), "invalid_type", "must be a list; send [] to empty it"))
                } else if T::NOT_NULL.contains(&key.as_str()) {
                    Some(FieldError::new(key.as_str(), "invalid_type", "cannot be null"))
                } else {
                    None
                }
            })
            .collect();
        if !refused_nulls.is_empty() {
            return Err(AppError::Validation(refused_nulls));
        }
        json_patch::merge(&mut merged, &Value::Object(self.0));
        decode(merged)
    }

    /// Takes a member out of the patch (for fields that another operation owns).
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etag_is_the_quoted_microseconds_since_the_epoch() {
        let at = |s: &str| Timestamp::from(chrono::NaiveDateTime::parse_from_str(s, "%F %T%.f").unwrap());
        assert_eq!(etag(at("2026-11-21 19:10:47.597437")), "\"1795288247597437\"");
        assert_eq!(etag(at("1970-01-01 00:00:00")), "\"0\"");
        assert_eq!(etag(at("1969-12-31 23:59:59.999999")), "\"-1\"");
    }

    #[test]
    fn if_match_compares_entity_tags() {
        let tags = IfMatch::from_values(["\"1\", \"2\""]);
        assert_eq!(tags, IfMatch::Tags(vec!["\"1\"".into(), "\"2\"".into()]));
        assert!(tags.check("\"2\"").is_ok());
        assert!(matches!(tags.check("\"3\""), Err(AppError::PreconditionFailed(_))));
        assert_eq!(IfMatch::from_values(["\"1\"", "*"]), IfMatch::Any);
        assert!(IfMatch::Any.check("\"3\"").is_ok());
        assert_eq!(IfMatch::from_values([]), IfMatch::Absent);
        assert!(IfMatch::Absent.check("\"3\"").is_ok());
    }
}
