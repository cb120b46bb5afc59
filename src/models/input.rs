//! Input checking shared by every way data comes in (the API, the CLI, the seed, later imports):
//! a JSON value becomes a typed, normalised and validated input, or one 422 that names every
//! offending field at once. Linear in the size of the input.

use serde::de::DeserializeOwned;
use serde_json::Value;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::{AppError, FieldError};

/// Request bodies that tidy themselves before validation (trim text, blank → absent).
pub trait Normalize {
    /// Fields that have a default but cannot be cleared: `null` for them in a merge patch is a
    /// 422, not a silent reset to the default.
    const NOT_NULL: &'static [&'static str] = &[];

    /// Lists that `null` sets back to their default in a merge patch (other lists are emptied
    /// with `[]`, and `null` for them is a 422).
    const NULLABLE_LISTS: &'static [&'static str] = &[];

    /// Fields the answer carries but a body may not set, with where they are changed instead:
    /// sending one is a 422 `read_only` (not `unknown_field`).
    const READ_ONLY: &'static [(&'static str, &'static str)] = &[];

    /// Trims and canonicalises fields in place.
    fn normalize(&mut self);

    /// Rules the validator derive cannot express per item (e.g. each entry of a list), reported
    /// together with the derive's own errors.
    fn check(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

/// Deserializes, normalises and validates a JSON value, reporting every offending field at once.
pub fn decode<T: DeserializeOwned + Validate + Normalize>(value: Value) -> Result<T, AppError> {
    let (parsed, mut errors) = deserialize_collecting::<T>(value);
    if let Some(mut input) = parsed {
        input.normalize();
        let extra = input.check();
        if let Err(invalid) = input.validate() {
            let reported: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
            let top = |f: &str| f.split(['.', '[']).next().unwrap_or_default().to_owned();
            let reported: Vec<String> = reported.iter().map(|f| top(f)).collect();
            errors.extend(flatten(&invalid, "").into_iter().filter(|e| !reported.contains(&top(&e.field))));
        }
        errors.extend(extra);
        if errors.is_empty() {
            return Ok(input);
        }
    }
    Err(AppError::Validation(errors))
}

/// At most this many unknown fields are named one by one; the rest are counted in one entry.
pub const MAX_UNKNOWN_REPORTED: usize = 50;

/// serde stops at the first error; this records it, puts a stand-in value of the right type in
/// place of the offending top-level field (or removes an unknown one) and tries again, so that
/// one answer names every unknown, missing, mistyped and rule-breaking field at once.
///
/// Linear in the size of the body: unknown fields are found and removed in one pass against the
/// struct's field list (not one deserialisation per unknown field), so that the retries below
/// only ever see the struct's own fields, a number fixed by the type.
fn deserialize_collecting<T: DeserializeOwned + Normalize>(value: Value) -> (Option<T>, Vec<FieldError>) {
    let Value::Object(mut map) = value else {
        return (None, vec![FieldError::new("body", "invalid_type", "must be a JSON object")]);
    };
    let mut errors: Vec<FieldError> = Vec::new();
    // Per field, the stand-ins already tried; a stand-in only has to pass serde, never validation.
    let mut tried: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for _ in 0..(4 * map.len() + 8) {
        let err = match serde_path_to_error::deserialize::<_, T>(Value::Object(map.clone())) {
            Ok(parsed) => return (Some(parsed), errors),
            Err(err) => err,
        };
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        if let Some(field) = quoted_after(&message, "missing field `") {
            if !errors.iter().any(|e| e.field == field) {
                errors.push(FieldError::new(field, "required", "is required"));
            }
            return (None, errors);
        }
        if quoted_after(&message, "unknown field `").is_some() {
            // The type denies unknown fields: take every one of them out at once.
            let known: &[&str] = serde_aux::serde_introspection::serde_introspect::<T>();
            let expected = expected_fields(known);
            let (kept, unknown): (serde_json::Map<String, Value>, serde_json::Map<String, Value>) =
                std::mem::take(&mut map).into_iter().partition(|(key, _)| known.contains(&key.as_str()));
            let count = unknown.len();
            errors.extend(unknown.into_iter().take(MAX_UNKNOWN_REPORTED).map(|(field, _)| {
                match T::READ_ONLY.iter().find(|(name, _)| *name == field) {
                    Some((_, instead)) => FieldError::new(field, "read_only", format!("cannot be set here; {instead}")),
                    None => {
                        FieldError::new(field, "unknown_field", format!("is not a known field (expected {expected})"))
                    }
                }
            }));
            if count > MAX_UNKNOWN_REPORTED {
                let more = count - MAX_UNKNOWN_REPORTED;
                errors.push(FieldError::new("body", "unknown_field", format!("{more} more unknown fields")));
            }
            if count == 0 {
                // serde named a field the introspection does not know: report it as it is.
                return (None, vec![FieldError::new("body", "unknown_field", message)]);
            }
            map = kept;
            continue;
        }
        let field = if path == "." { "body".to_owned() } else { path };
        let top = field.split(['.', '[']).next().unwrap_or_default().to_owned();
        let attempt = tried.entry(top.clone()).or_insert(0);
        if *attempt == 0 {
            let code = if message.starts_with("unknown variant") { "invalid_value" } else { "invalid_type" };
            errors.push(FieldError::new(field, code, message.clone()));
        }
        let stand_in = stand_in(&message, *attempt);
        *attempt += 1;
        match stand_in {
            Some(v) if map.contains_key(&top) => {
                map.insert(top, v);
            }
            _ => {
                if map.remove(&top).is_none() {
                    return (None, errors);
                }
            }
        }
    }
    (None, errors)
}

/// The field list as serde words it: "one of `a`, `b`", "`a` or `b`", "`a`".
fn expected_fields(known: &[&str]) -> String {
    let quoted: Vec<String> = known.iter().map(|f| format!("`{f}`")).collect();
    match quoted.as_slice() {
        [] => "no fields".to_owned(),
        [one] => one.clone(),
        [a, b] => format!("{a} or {b}"),
        many => format!("one of {}", many.join(", ")),
    }
}

/// A value that may deserialize where the rejected one did not: the first variant serde names
/// for an enum, else one of each JSON type in turn.
fn stand_in(message: &str, attempt: usize) -> Option<Value> {
    if message.starts_with("unknown variant") && attempt == 0 {
        if let Some(variant) = message.split_once("expected one of `").and_then(|(_, r)| r.split('`').next()) {
            return Some(Value::String(variant.to_owned()));
        }
        if let Some(variant) = message.split_once("expected `").and_then(|(_, r)| r.split('`').next()) {
            return Some(Value::String(variant.to_owned()));
        }
    }
    let candidates = [Value::from(0), Value::from(""), Value::from(false), Value::Array(vec![]), Value::Null];
    candidates.into_iter().nth(attempt.saturating_sub(usize::from(message.starts_with("unknown variant"))))
}

fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

/// Turns validator's nested errors into a flat list with paths such as `council_refs[2]`.
pub fn flatten(errors: &ValidationErrors, prefix: &str) -> Vec<FieldError> {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    for (name, kind) in fields {
        let path = if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") };
        match kind {
            ValidationErrorsKind::Field(list) => out.extend(list.iter().map(|e| {
                let message = e.message.as_deref().map_or_else(|| format!("fails rule `{}`", e.code), str::to_owned);
                // Rules across fields (`#[validate(schema(…))]`) name the field they blame in a param.
                let path = match e.params.get("field").and_then(|f| f.as_str()) {
                    Some(field) if name == "__all__" => field.to_owned(),
                    _ => path.clone(),
                };
                FieldError::new(path, e.code.to_string(), message)
            })),
            ValidationErrorsKind::Struct(inner) => out.extend(flatten(inner, &path)),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    out.extend(flatten(inner, &format!("{path}[{index}]")));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Demo {
        name: String,
        count: Option<u32>,
        flag: Option<bool>,
    }

    impl Normalize for Demo {
        fn normalize(&mut self) {}
    }

    #[test]
    fn collects_unknown_and_mistyped_fields_in_one_pass() {
        let value = serde_json::json!({"name": "x", "count": "many", "flag": 3, "colour": "red"});
        let (_, errors) = deserialize_collecting::<Demo>(value);
        let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(fields.len(), 3, "{errors:?}");
        assert!(fields.contains(&("count", "invalid_type")));
        assert!(fields.contains(&("flag", "invalid_type")));
        assert!(fields.contains(&("colour", "unknown_field")));
    }

    #[test]
    fn unknown_fields_are_taken_out_in_one_pass_not_one_retry_each() {
        use std::cell::Cell;
        thread_local! { static READS: Cell<usize> = const { Cell::new(0) }; }
        /// A field that counts how often serde reads it: once per deserialisation attempt.
        #[derive(Debug)]
        struct Counted;
        impl<'de> serde::Deserialize<'de> for Counted {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                READS.with(|r| r.set(r.get() + 1));
                serde::de::IgnoredAny::deserialize(d).map(|_| Counted)
            }
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Login {
            first: Counted,
            name: String,
        }
        impl Normalize for Login {
            fn normalize(&mut self) {}
        }
        let mut body = serde_json::Map::new();
        body.insert("first".into(), Value::from(1));
        for i in 0..2_000 {
            body.insert(format!("k{i}"), Value::from(i));
        }
        body.insert("name".into(), Value::from("x"));
        let (parsed, errors) = deserialize_collecting::<Login>(Value::Object(body));
        assert!(parsed.is_some());
        assert_eq!(errors.len(), MAX_UNKNOWN_REPORTED + 1);
        assert_eq!(errors.last().unwrap().message, "1950 more unknown fields");
        assert!(READS.with(Cell::get) <= 2, "{} attempts for 2,000 unknown fields", READS.with(Cell::get));
    }

    #[test]
    fn a_bad_required_field_does_not_hide_the_others() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct WithEnum {
            kind: Kind,
            count: u32,
        }
        impl Normalize for WithEnum {
            fn normalize(&mut self) {}
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        enum Kind {
            Town,
            District,
        }
        let (parsed, errors) = deserialize_collecting::<WithEnum>(serde_json::json!({"kind": "castle", "count": "x"}));
        assert!(parsed.is_some(), "stand-ins should let the struct build: {errors:?}");
        let mut fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        fields.sort();
        assert_eq!(fields, [("count", "invalid_type"), ("kind", "invalid_value")]);
    }

    #[test]
    fn missing_required_field_is_named() {
        let (_, errors) = deserialize_collecting::<Demo>(serde_json::json!({}));
        assert_eq!(errors, vec![FieldError::new("name", "required", "is required")]);
    }
}
