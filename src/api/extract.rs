//! Request extractors that turn every client mistake into a precise problem, never a 500.
//!
//! - [`JsonBody<T>`]: `application/json` (or any `+json` type) up to `IKZ_MAX_BODY_BYTES`;
//!   malformed JSON → 400, wrong media type → 415, too large → 413 while extracting; then, once
//!   the handler has checked who is calling, [`JsonBody::decode`] → one 422 listing every unknown,
//!   mistyped or invalid field (so an unauthenticated caller learns nothing about the rules).
//! - [`Patch`]: the raw JSON object of an RFC 7396 merge patch, same media types and limits;
//!   [`IfMatch`]: the `If-Match` header. Both are applied by the model, inside the write.
//! - [`Query<T>`]: query parameters; unknown or unparsable ones → one 400 naming each.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use validator::Validate;

use crate::error::{AppError, FieldError};
use crate::models::idempotency::{Key, MAX_KEY_CHARS};
use crate::models::input::MAX_UNKNOWN_REPORTED;
use crate::models::input::{Normalize, decode};
use crate::models::record::{IfMatch, Patch};

/// Largest body accepted, shared with the extractors through app data.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

/// A JSON request body: read and parsed on extraction, checked against `T` by [`JsonBody::decode`].
pub struct JsonBody<T> {
    value: Value,
    target: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Validate + Normalize> JsonBody<T> {
    /// Deserializes, normalises and validates the body (call it after authorization).
    pub fn decode(self) -> Result<T, AppError> {
        decode(self.value)
    }
}

impl<T> JsonBody<T> {
    /// A digest of the parsed body (its members in the order sent), for idempotency keys.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let bytes = serde_json::to_vec(&self.value).unwrap_or_default();
        sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The `Idempotency-Key` header of a POST (at most 255 visible ASCII characters), with the
/// request's method and path; [`IdempotencyKey::for_body`] completes it with the caller and body.
/// A malformed header is reported there, after the caller's rights are checked (so that an
/// anonymous request is a 401 whatever it sends).
pub struct IdempotencyKey(Result<Option<(String, String)>, ()>);

impl IdempotencyKey {
    /// The key of this caller for this request, if one was sent; 400 for a malformed one.
    pub fn for_body<T>(&self, caller: &crate::auth::Caller, body: &JsonBody<T>) -> Result<Option<Key>, AppError> {
        self.for_digest(caller, || body.digest())
    }

    /// [`IdempotencyKey::for_body`] for a body that is not JSON (an import file), by its bytes.
    pub fn for_bytes(&self, caller: &crate::auth::Caller, bytes: &[u8]) -> Result<Option<Key>, AppError> {
        use sha2::Digest;
        self.for_digest(caller, || sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect())
    }

    fn for_digest(
        &self,
        caller: &crate::auth::Caller,
        digest: impl FnOnce() -> String,
    ) -> Result<Option<Key>, AppError> {
        let Some((key, target)) = self.0.as_ref().map_err(|()| malformed_key())? else { return Ok(None) };
        Ok(caller.idempotency_scope().map(|scope| Key {
            scope,
            key: key.clone(),
            request_hash: format!("{target} {}", digest()),
        }))
    }
}

fn malformed_key() -> AppError {
    AppError::BadRequest {
        slug: "invalid-header",
        detail: format!("the Idempotency-Key header must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
        errors: vec![FieldError::new("Idempotency-Key", "invalid_header", "must be 1 to 255 visible ASCII characters")],
    }
}

impl FromRequest for IdempotencyKey {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(value) = req.headers().get("idempotency-key") else {
            return std::future::ready(Ok(Self(Ok(None))));
        };
        let key =
            value.to_str().ok().map(str::trim).filter(|k| {
                (1..=MAX_KEY_CHARS).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
            });
        let target = format!("{} {}", req.method(), req.uri());
        std::future::ready(Ok(Self(key.map(|k| Some((k.to_owned(), target))).ok_or(()))))
    }
}

impl<T: 'static> FromRequest for JsonBody<T> {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload);
        Box::pin(async move { Ok(JsonBody { value: body.await?, target: std::marker::PhantomData }) })
    }
}

/// The merge-patch body (RFC 7396): a JSON object, applied by the model to the locked row.
impl FromRequest for Patch {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_json(req, payload);
        Box::pin(async move {
            match body.await? {
                Value::Object(map) => Ok(Patch(map)),
                _ => Err(AppError::invalid_field("body", "invalid_type", "must be a JSON object")),
            }
        })
    }
}

/// The `If-Match` header of a write, checked by the model once the row is locked.
impl FromRequest for IfMatch {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let values = req.headers().get_all(header::IF_MATCH).filter_map(|v| v.to_str().ok());
        std::future::ready(Ok(IfMatch::from_values(values)))
    }
}

/// The `{source}/{id}` of a `…/by-ref/{source}/{id}` path, each one percent-encoded segment
/// (an OParl id is a URL: `https%3A%2F%2Fris.example.de%2Foparl%2Fbody%2F1`). The router leaves
/// `%2F`, `%25` and `%2B` encoded in what it matched, so decoding the matched text once gives the
/// exact value.
#[derive(Debug, Clone)]
pub struct ByRef {
    /// The other system.
    pub source: String,
    /// The record's id there.
    pub id: String,
}

impl FromRequest for ByRef {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let segment = |name: &str| {
            let raw = req.match_info().get(name).unwrap_or_default();
            percent_encoding::percent_decode_str(raw).decode_utf8().map(|text| text.into_owned()).map_err(|_| {
                AppError::BadRequest {
                    slug: "invalid-parameter",
                    detail: format!("the path segment `{name}` is not percent-encoded UTF-8"),
                    errors: vec![FieldError::new(name, "invalid_parameter", "is not percent-encoded UTF-8")],
                }
            })
        };
        std::future::ready(segment("source").and_then(|source| Ok(Self { source, id: segment("id")? })))
    }
}

/// Checks the media type, reads at most the configured number of bytes and parses JSON.
fn read_json(req: &HttpRequest, payload: &mut Payload) -> impl Future<Output = Result<Value, AppError>> + use<> {
    let limit = req.app_data::<BodyLimit>().map_or(crate::config::DEFAULT_MAX_BODY_BYTES, |l| l.0);
    let media_type = check_media_type(req);
    let declared_len =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        media_type?;
        let body = read_limited(&mut payload, declared_len, limit).await?;
        let mut value: Value = serde_json::from_slice(&body).map_err(|e| AppError::BadRequest {
            slug: "malformed-json",
            detail: format!("the request body is not valid JSON: {e}"),
            errors: vec![],
        })?;
        // JSON can carry U+0000 only as the escape `\u0000`: without it in the bytes, no walk.
        if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
            refuse_nul(&value)?;
        }
        integral_numbers(&mut value);
        Ok(value)
    }
}

/// Reads a whole body of at most `limit` bytes (413 beyond, without reading on when the declared
/// length says so).
async fn read_limited(
    payload: &mut Payload,
    declared_len: Option<usize>,
    limit: usize,
) -> Result<web::BytesMut, AppError> {
    let too_large = || AppError::PayloadTooLarge(format!("the request body exceeds the limit of {limit} bytes"));
    if declared_len.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest {
            slug: "malformed-body",
            detail: format!("the request body could not be read: {e}"),
            errors: vec![],
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Largest import file accepted (`IKZ_MAX_IMPORT_BYTES`), shared through app data.
#[derive(Clone, Copy, Debug)]
pub struct ImportLimit(pub usize);

/// The body of an import, `text/csv` or `application/x-ndjson`, not yet read: the handler reads
/// it ([`ImportBody::read`]) after the caller's rights are checked, so that nobody without them
/// can make the service take in a large file.
pub struct ImportBody {
    format: Result<crate::exchange::import::Format, AppError>,
    payload: Payload,
    declared_len: Option<usize>,
    limit: usize,
}

impl ImportBody {
    /// The file's layout and its bytes (415 for another media type, 413 past the limit).
    pub async fn read(mut self) -> Result<(crate::exchange::import::Format, web::BytesMut), AppError> {
        let format = self.format?;
        Ok((format, read_limited(&mut self.payload, self.declared_len, self.limit).await?))
    }
}

impl FromRequest for ImportBody {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        use crate::exchange::import::Format;
        let value = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let format = match essence.as_str() {
            "text/csv" => Ok(Format::Csv),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(Format::Ndjson),
            other => {
                let got = if other.is_empty() { "no Content-Type".to_owned() } else { format!("`{other}`") };
                Err(AppError::UnsupportedMediaType(format!("expected text/csv or application/x-ndjson, got {got}")))
            }
        };
        let declared_len =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let limit = req.app_data::<ImportLimit>().map_or(crate::config::DEFAULT_MAX_IMPORT_BYTES, |l| l.0);
        std::future::ready(Ok(Self { format, payload: payload.take(), declared_len, limit }))
    }
}

/// JSON Schema counts `3186.0` as an integer, so the API must too: numbers without a fraction
/// become integers before the body meets serde, which reads an `i64` only from an integer.
fn integral_numbers(value: &mut Value) {
    /// Integers a double holds exactly (±2^53).
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(members) => members.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// 422 naming every string (or member name) of a body that holds U+0000: one rule for both
/// backends, as PostgreSQL cannot store the character in text.
fn refuse_nul(value: &Value) -> Result<(), AppError> {
    fn walk(value: &Value, path: &str, out: &mut Vec<FieldError>) {
        if out.len() > MAX_UNKNOWN_REPORTED {
            return;
        }
        match value {
            Value::String(text) if text.contains('\0') => {
                let field = if path.is_empty() { "body" } else { path };
                out.push(FieldError::new(field, "nul_character", "must not contain the NUL character (U+0000)"));
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), out);
                }
            }
            Value::Object(members) => {
                for (name, member) in members {
                    let inner = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                    if name.contains('\0') {
                        out.push(FieldError::new(
                            inner.replace('\0', "\\u0000"),
                            "nul_character",
                            "a member name must not contain the NUL character (U+0000)",
                        ));
                    } else {
                        walk(member, &inner, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(value, "", &mut found);
    if found.is_empty() { Ok(()) } else { Err(AppError::Validation(found)) }
}

fn check_media_type(req: &HttpRequest) -> Result<(), AppError> {
    let value = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let is_json = essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"));
    if is_json {
        Ok(())
    } else {
        let got = if essence.is_empty() { "no Content-Type".to_owned() } else { format!("`{essence}`") };
        Err(AppError::UnsupportedMediaType(format!(
            "expected application/json (or application/merge-patch+json for PATCH), got {got}"
        )))
    }
}

/// Query parameters, all optional; anything unknown or unparsable is a 400 naming each parameter.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = AppError;
    type Future = std::future::Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

/// Parses a query string; on failure finds each offending parameter by trying it alone.
///
/// Linear in the length of the query: the pairs are grouped by name once, and each name is
/// tried with its own pairs only. A NUL character (`%00`) is refused before anything else, on
/// both backends alike (PostgreSQL cannot store it in text).
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    if query.contains("%00") {
        let with_nul: Vec<FieldError> = unique_names(query)
            .into_iter()
            .filter(|(name, pairs)| name.contains('\0') || pairs.iter().any(|(_, v)| v.contains('\0')))
            .map(|(name, _)| FieldError::new(name, "invalid_parameter", "must not contain the NUL character"))
            .collect();
        if !with_nul.is_empty() {
            let detail = format!("query parameter `{}` must not contain the NUL character (%00)", with_nul[0].field);
            return Err(AppError::BadRequest { slug: "invalid-parameter", detail, errors: with_nul });
        }
    }
    // An empty value would read as an absent parameter (`?partner_id=` listing everything); only
    // `cursor` (the first page) and `q` (no search) mean something when empty.
    let empty: Vec<FieldError> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(name, value)| value.is_empty() && !matches!(name.as_ref(), "cursor" | "q"))
        .map(|(name, _)| FieldError::new(name.as_ref(), "invalid_parameter", "must not be empty; leave it out instead"))
        .take(MAX_UNKNOWN_REPORTED)
        .collect();
    if let Some(first) = empty.first() {
        let detail = format!("query parameter `{}` must not be empty; leave it out instead", first.field);
        return Err(AppError::BadRequest { slug: "invalid-parameter", detail, errors: empty });
    }
    let whole_error = match serde_html_form::from_str::<T>(query) {
        Ok(parsed) => return Ok(parsed),
        Err(err) => err.to_string(),
    };
    let mut errors = Vec::new();
    for (key, pairs) in unique_names(query) {
        let alone: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&pairs).finish();
        if let Err(err) = serde_html_form::from_str::<T>(&alone) {
            let message = err.to_string();
            let message = if message.starts_with("unknown field") {
                "is not a known parameter".to_owned()
            } else {
                format!("has an unusable value: {message}")
            };
            errors.push(FieldError::new(key, "invalid_parameter", message));
            if errors.len() > MAX_UNKNOWN_REPORTED {
                break;
            }
        }
    }
    let detail = match errors.as_slice() {
        [] => format!("the query string cannot be used: {whole_error}"),
        [one] => format!("query parameter `{}` {}", one.field, one.message),
        many => format!("{} query parameters cannot be used", many.len()),
    };
    Err(AppError::BadRequest { slug: "invalid-parameter", detail, errors })
}

/// The decoded pairs of a query string grouped by name, names in order of first appearance.
fn unique_names(query: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut groups: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()).into_owned() {
        let at = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key.clone(), Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push((key, value));
    }
    groups
}

/// The LIKE pattern for a `q`-style search parameter: `None` when blank, 400 when over 200 characters.
pub fn search_pattern(parameter: &str, value: Option<&str>) -> Result<Option<String>, AppError> {
    match value.map(str::trim) {
        Some(q) if q.chars().count() > 200 => Err(AppError::bad_parameter(parameter, "must be at most 200 characters")),
        Some(q) if !q.is_empty() => Ok(Some(crate::domain::contains_pattern(q))),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_without_a_fraction_count_as_integers() {
        let mut value = serde_json::json!({"a": 3186.0, "b": [1.5, 2.0, -0.0], "c": 1e300, "d": {"e": 7.0}});
        integral_numbers(&mut value);
        assert_eq!(value, serde_json::json!({"a": 3186, "b": [1.5, 2, 0], "c": 1e300, "d": {"e": 7}}));
    }

    #[test]
    fn nul_characters_are_found_in_nested_strings_and_member_names() {
        let value = serde_json::json!({"a": "ok", "b": ["x", "y\u{0}"], "c": {"d\u{0}": 1}});
        let Err(AppError::Validation(errors)) = refuse_nul(&value) else { panic!("expected a 422") };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["b[1]", "c.d\\u0000"]);
        assert!(refuse_nul(&serde_json::json!({"a": "no nul here", "n": 0})).is_ok());
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct DemoQuery {
        limit: Option<u32>,
        q: Option<String>,
    }

    #[test]
    fn query_errors_name_every_bad_parameter() {
        let Err(AppError::BadRequest { errors, .. }) = parse_query::<DemoQuery>("limit=abc&q=x&colour=red") else {
            panic!("expected a 400");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "colour"]);
    }
}
