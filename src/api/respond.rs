//! The one way answers are written: a record with its `ETag`, a page of records with its `Link`,
//! and the JSON writer both use. (`If-None-Match` → 304 is answered for every record by
//! `startup::not_modified`, from the `ETag` set here.)

use crate::models::idempotency::Answer;
use std::borrow::Cow;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};

use crate::error::AppError;

/// An answer that is one stored record: it knows its version, covering what it embeds.
pub trait Versioned: Serialize {
    /// The entity tag of this answer.
    fn etag(&self) -> String;
}

/// An answer type that is listed in pages: names the page schema as committed.
pub trait Listed: utoipa::ToSchema + Serialize {
    /// Schema name of the page, e.g. `PartnerPage`.
    const PAGE: &'static str;
    /// What a page holds, e.g. `partners` ("One page of partners.").
    const PLURAL: &'static str;
    /// The description of `items`, e.g. "The partners of this page."
    const ITEMS: &'static str;
}

/// One page of a list: `{ "items": [...], "next_cursor": "..." | null }`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Generated documents refer to a page by its committed name (`PartnerPage`, …); the schema
/// itself is registered once under that name by [`utoipa::ToSchema::schemas`]. (utoipa composes a
/// generic type through `ComposeSchema`; implementing it here keeps one generic type and the
/// names clients were generated with.)
impl<T: Listed> utoipa::__dev::ComposeSchema for Page<T> {
    fn compose(_: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::PAGE))
    }
}

impl<T: Listed> Page<T> {
    /// The page's own schema: an object of `items` and `next_cursor`, both required.
    fn object_schema() -> RefOr<Schema> {
        let items = ArrayBuilder::new().items(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(T::name())));
        ObjectBuilder::new()
            .description(Some(format!("One page of {}.", T::PLURAL)))
            .property("items", items.description(Some(T::ITEMS)))
            .required("items")
            .property(
                "next_cursor",
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some("Cursor of the next page; `null` on the last page.")),
            )
            .required("next_cursor")
            .into()
    }
}

impl<T: Listed> utoipa::ToSchema for Page<T> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(T::PAGE)
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::PAGE.to_owned(), Self::object_schema()));
        schemas.push((T::name().into_owned(), <T as utoipa::PartialSchema>::schema()));
        T::schemas(schemas);
    }
}

/// 200 with a record and its `ETag`.
pub fn record(record: &impl Versioned) -> HttpResponse {
    with_etag(HttpResponse::Ok(), record)
}

/// 201 with the new record, its `ETag` and `Location`.
pub fn created(location: String, record: &impl Versioned) -> HttpResponse {
    let mut builder = HttpResponse::Created();
    builder.insert_header((header::LOCATION, location));
    with_etag(builder, record)
}

/// The answer of a created record as it is sent and kept for its `Idempotency-Key`.
pub fn created_answer(location: String, record: &impl Versioned) -> Answer {
    Answer {
        status: 201,
        body: serde_json::to_string(record).unwrap_or_default(),
        location: Some(location),
        etag: Some(record.etag()),
    }
}

/// The answer of a created record without a version of its own (e.g. a membership).
pub fn created_unversioned_answer(location: String, record: &impl Serialize) -> Answer {
    Answer {
        status: 201,
        body: serde_json::to_string(record).unwrap_or_default(),
        location: Some(location),
        etag: None,
    }
}

/// The answer of a versioned record (200), as it is sent and kept for its `Idempotency-Key`.
pub fn record_answer(record: &impl Versioned) -> Answer {
    Answer {
        status: 200,
        body: serde_json::to_string(record).unwrap_or_default(),
        location: None,
        etag: Some(record.etag()),
    }
}

/// A write's 200 answer that is no record (e.g. an import's report), as it is sent and kept for
/// its `Idempotency-Key`.
pub fn ok_answer(value: &impl Serialize) -> Answer {
    Answer { status: 200, body: serde_json::to_string(value).unwrap_or_default(), location: None, etag: None }
}

/// Sends a write's answer; a replayed one (the same `Idempotency-Key` and request again) says so
/// in `Idempotent-Replayed: true`.
pub fn answer(answer: Answer, replayed: bool) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(answer.status as u16).unwrap_or(actix_web::http::StatusCode::OK);
    let mut builder = HttpResponse::build(status);
    builder.content_type("application/json");
    if let Some(location) = answer.location {
        builder.insert_header((header::LOCATION, location));
    }
    if let Some(etag) = answer.etag {
        builder.insert_header((header::ETAG, etag));
    }
    if replayed {
        builder.insert_header(("Idempotent-Replayed", "true"));
    }
    builder.body(answer.body)
}

/// The answer of a `PUT` that creates (201 with `Location`) or replaces (200) a record.
pub fn put(created: bool, location: String, record: &impl Versioned) -> HttpResponse {
    if created { self::created(location, record) } else { self::record(record) }
}

/// 201 with a new record that has no version of its own (e.g. a membership).
pub fn created_unversioned(location: String, record: &impl Serialize) -> HttpResponse {
    let mut builder = HttpResponse::Created();
    builder.insert_header((header::LOCATION, location));
    json(builder, record)
}

/// The answer marked not to be stored by caches (it carries a secret shown once).
pub fn no_store(mut response: HttpResponse) -> HttpResponse {
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

/// 204 after a deletion.
pub fn deleted() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

fn with_etag(mut builder: HttpResponseBuilder, record: &impl Versioned) -> HttpResponse {
    builder.insert_header((header::ETAG, record.etag()));
    json(builder, record)
}

/// 200 with a page and, when another page follows, the `Link: rel="next"` header.
pub fn page<T: Serialize>(req: &HttpRequest, items: Vec<T>, next_cursor: Option<String>) -> HttpResponse {
    let mut builder = HttpResponse::Ok();
    if let Some(next) = next_cursor.as_deref() {
        builder.insert_header((header::LINK, next_link(req, next)));
    }
    json(builder, &Page { items, next_cursor })
}

/// The `Link: <…>; rel="next"` value: this request's path and query with the cursor replaced.
pub fn next_link(req: &HttpRequest, next_cursor: &str) -> String {
    let pairs = url::form_urlencoded::parse(req.query_string().as_bytes()).filter(|(k, _)| k != "cursor");
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .append_pair("cursor", next_cursor)
        .finish();
    format!("<{}?{}>; rel=\"next\"", req.path(), query)
}

/// A JSON response, serialised into this worker's scratch buffer and copied out once at its
/// final size (`HttpResponseBuilder::json` grows a fresh buffer from 128 bytes, reallocating and
/// copying several times for a page of measures; see benches/RESULTS.md).
pub fn json(mut builder: HttpResponseBuilder, value: &impl Serialize) -> HttpResponse {
    use std::cell::RefCell;
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096));
    }
    /// Keep at most this much per worker between responses.
    const KEEP: usize = 1 << 20;
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        let written = serde_json::to_writer(&mut *buf, value);
        let response = match written {
            Ok(()) => {
                builder.content_type(header::ContentType::json()).body(actix_web::web::Bytes::copy_from_slice(buf))
            }
            Err(err) => HttpResponse::from_error(AppError::Internal(format!("JSON serialisation: {err}"))),
        };
        if buf.capacity() > KEEP {
            *buf = Vec::with_capacity(4096);
        }
        response
    })
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn json_responses_carry_the_serialised_body_and_type() {
        #[derive(serde::Serialize)]
        struct Item {
            n: usize,
            text: String,
        }
        // Twice, so the second response reuses the worker's buffer; the big one exceeds what it keeps.
        for count in [3, 40_000, 2] {
            let items: Vec<Item> = (0..count).map(|n| Item { n, text: format!("Maßnahme \"{n}\"") }).collect();
            let response = super::json(actix_web::HttpResponse::Ok(), &items);
            assert_eq!(response.headers().get("content-type").unwrap(), "application/json");
            let body = actix_web::body::to_bytes(response.into_body()).await.unwrap();
            assert_eq!(body, serde_json::to_vec(&items).unwrap(), "{count} items");
        }
    }
}
