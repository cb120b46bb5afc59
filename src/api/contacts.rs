//! `/api/v1/contacts`: people at partners. Personal data: never readable anonymously, never
//! listed in other resources unless asked for (`?include=contacts`), and erasable at any time.

use crate::db::Timestamp;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::export::{self, CsvDelimiter, ListFormat};
use super::extract::{ByRef, IdempotencyKey, JsonBody, Query, search_pattern};
use super::pagination::{self, Limit};
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::contacts::{self as model, ContactFilter, ContactRecord, CreateContact};
use crate::models::external_refs::{ExternalRef, RefFilter};
use crate::models::record::{IfMatch, Patch, etag};
use crate::models::{idempotency, now};

/// A person at a partner.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContactResponse {
    /// Server-assigned id.
    pub id: i64,
    /// The partner the person works for.
    pub partner_id: i64,
    /// Name.
    #[schema(example = "Maria Mustermann")]
    pub name: String,
    /// Function, e.g. mayor, organisation lead, head of office, IT officer, Bauhof head, fire chief.
    #[schema(example = "Bürgermeisterin")]
    pub function: Option<String>,
    /// E-mail address.
    #[schema(example = "m.mustermann@koenigsbrueck.example.org")]
    pub email: Option<String>,
    /// Telephone number as given.
    #[schema(example = "035795 / 123-10")]
    pub phone: Option<String>,
    /// The same number in international form (national numbers taken as German).
    #[schema(example = "+493579512310")]
    pub phone_normalized: Option<String>,
    /// Fields of action the person is responsible for.
    pub field_ids: Vec<i64>,
    /// Notes.
    pub notes: Option<String>,
    /// The person's ids in other systems.
    pub external_refs: Vec<ExternalRef>,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl ContactResponse {
    /// The answer for a stored contact and its fields.
    pub fn new(record: ContactRecord) -> Self {
        let ContactRecord { contact: c, field_ids } = record;
        Self {
            id: c.id,
            partner_id: c.partner_id,
            name: c.name,
            function: c.function,
            email: c.email,
            phone: c.phone,
            phone_normalized: c.phone_normalized,
            field_ids,
            notes: c.notes,
            external_refs: c.external_refs.0,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl Versioned for ContactResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of this list, documented under the schema name clients were generated with.
pub type ContactPage = respond::Page<ContactResponse>;

impl Listed for ContactResponse {
    const PAGE: &'static str = "ContactPage";
    const PLURAL: &'static str = "contacts";
    const ITEMS: &'static str = "The contacts of this page, by name.";
}

/// Query parameters of the contact list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactListQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only people at this partner.
    pub partner_id: Option<i64>,
    /// Only people responsible for this field of action.
    pub field_id: Option<i64>,
    /// Case-insensitive substring of the name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only records changed at or after this instant (RFC 3339, e.g. the newest `updated_at`
    /// of the previous sync). Deletions are not listed: the change feed tells of them.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<Timestamp>,
    /// Only contacts with an external reference from this system.
    pub ref_source: Option<String>,
    /// With `ref_source`: only the contact with this id there.
    pub ref_id: Option<String>,
    /// `csv`: the whole list, every page, as one CSV file (as with `Accept: text/csv`); `xlsx`: as
    /// one Excel workbook.
    #[param(inline)]
    pub format: Option<ListFormat>,
    /// With CSV: `semicolon` separates the cells with `;`, as German Excel expects.
    #[param(inline)]
    pub delimiter: Option<CsvDelimiter>,
    /// With `.xlsx`: the language of the column titles (`de`, the default, or `en`).
    #[param(inline)]
    pub lang: Option<crate::exchange::titles::Lang>,
}

/// List contacts (viewers and above)
#[utoipa::path(tag = "contacts", params(ContactListQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page of contacts", body = ContactPage)))]
#[get("")]
pub async fn list_contacts(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<ContactListQuery>,
) -> Result<HttpResponse, AppError> {
    let answer = export::Answer::of(&req, query.0.format, query.0.delimiter, query.0.lang);
    contacts(&db, &caller, query.0, answer).await
}

/// The contacts `query` selects, as one page of JSON or as a file of every page: the answer of
/// `GET /api/v1/contacts`, and what `ikz-api export contacts` writes.
pub async fn contacts(
    db: &Db,
    caller: &Caller,
    query: ContactListQuery,
    answer: export::Answer<'_>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Viewer, "read contacts (personal data)")?;
    let limit = query.limit.unwrap_or_default().0;
    let after = pagination::decode_cursor(query.cursor.as_deref(), "name")?;
    let first = query.cursor.clone();
    let filter = ContactFilter {
        partner_id: query.partner_id,
        field_id: query.field_id,
        name_pattern: search_pattern("q", query.q.as_deref())?,
        updated_since: query.updated_since,
        external_ref: RefFilter::from_query(query.ref_source, query.ref_id)?,
    };
    let req = match answer {
        export::Answer::Page(req) => req,
        export::Answer::File(file) => {
            let (db, filter) = (db.clone(), std::sync::Arc::new(filter));
            return export::stream(file, "contacts", first, move |cursor| {
                let (db, filter) = (db.clone(), filter.clone());
                async move {
                    let after = pagination::decode_cursor(cursor.as_deref(), "name")?;
                    let limit = export::PAGE;
                    let (records, next) = db.read(move |conn| model::page(conn, &filter, after, limit)).await?;
                    Ok((records.into_iter().map(ContactResponse::new).collect::<Vec<_>>(), next))
                }
            })
            .await;
        }
    };
    let (records, next_cursor) = db.read(move |conn| model::page(conn, &filter, after, limit)).await?;
    Ok(respond::page(req, records.into_iter().map(ContactResponse::new).collect(), next_cursor))
}

/// Create a contact (admins, or editors acting for its partner)
#[utoipa::path(tag = "contacts", request_body = CreateContact, security(("bearer" = [])), responses(
    (status = 201, description = "Created", body = ContactResponse, headers(("Location" = String, description = "URL of the new contact"))),
))]
#[post("")]
pub async fn create_contact(
    db: web::Data<Db>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<CreateContact>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "add contacts")?;
    let key = key.for_body(&caller, &body)?;
    let input = body.decode()?;
    let render = move |record| {
        let contact = ContactResponse::new(record);
        respond::created_answer(format!("/api/v1/contacts/{}", contact.id), &contact)
    };
    let outcome = db
        .write(move |conn| {
            idempotency::once(conn, key.as_ref(), now(), |c| model::create(c, &caller, input, now()), render)
        })
        .await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// Get a contact (viewers and above)
#[utoipa::path(tag = "contacts", params(("id" = i64, Path, description = "Contact id")), security(("bearer" = [])), responses(
    (status = 200, description = "The contact", body = ContactResponse),
    (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_contact(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    caller.require(Role::Viewer, "read contacts (personal data)")?;
    let id = id.into_inner();
    let record = db.read(move |conn| model::get(conn, id)).await?;
    Ok(respond::record(&ContactResponse::new(record)))
}

/// Update a contact (JSON Merge Patch; admins, or editors acting for its partner)
#[utoipa::path(tag = "contacts",
    params(("id" = i64, Path, description = "Contact id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on")),
    request_body(content = CreateContact, content_type = "application/merge-patch+json", description = "Any subset of the fields"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Updated", body = ContactResponse),
    (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}")]
pub async fn update_contact(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "change contacts")?;
    let id = id.into_inner();
    let record = db.write(move |conn| model::update(conn, &caller, id, patch, &if_match, now())).await?;
    Ok(respond::record(&ContactResponse::new(record)))
}

/// Erase a contact (admins, or editors acting for its partner)
///
/// Deletes the person's data for good. Measures that named the person as responsible keep
/// working: their reference becomes `null`, and their history notes that a contact was erased.
#[utoipa::path(tag = "contacts", params(("id" = i64, Path, description = "Contact id")), security(("bearer" = [])), responses(
    (status = 204, description = "Erased"),
    (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}")]
pub async fn delete_contact(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "erase contacts")?;
    let id = id.into_inner();
    db.write(move |conn| model::delete(conn, &caller, id, &if_match, now())).await?;
    Ok(respond::deleted())
}

/// Create or replace the contact with an external reference (admins, or editors acting for its partner)
///
/// A full representation, as for `POST /api/v1/contacts`: no contact holds `{source}:{id}` → 201,
/// created with the reference; one does and the body equals it → 200 and nothing changes; it
/// differs → 200, replaced. Each of `source` and `id` is one percent-encoded path segment.
#[utoipa::path(tag = "contacts",
    params(
        ("source" = String, Path, description = "The other system"),
        ("id" = String, Path, description = "The person's id there, percent-encoded"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this replacement is based on"),
    ),
    request_body = CreateContact, security(("bearer" = [])), responses(
    (status = 200, description = "Replaced, or identical and unchanged", body = ContactResponse, headers(("ETag" = String, description = "Version for `If-Match`"))),
    (status = 201, description = "Created with the reference", body = ContactResponse,
     headers(("Location" = String, description = "URL of the new contact"), ("ETag" = String, description = "Version for `If-Match`"))),
    (status = 409, description = "Another external reference is held by another contact", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version, or no contact holds the reference yet", body = Problem, content_type = "application/problem+json"),
))]
#[put("/by-ref/{source}/{id}")]
pub async fn put_contact_by_ref(
    db: web::Data<Db>,
    caller: Caller,
    by_ref: ByRef,
    if_match: IfMatch,
    body: JsonBody<CreateContact>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "add or replace contacts")?;
    let input = body.decode()?;
    let (record, created) = db
        .write(move |conn| model::put_by_ref(conn, &caller, (&by_ref.source, &by_ref.id), input, &if_match, now()))
        .await?;
    let contact = ContactResponse::new(record);
    Ok(respond::put(created, format!("/api/v1/contacts/{}", contact.id), &contact))
}

/// Registers the contact routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_contacts)
        .service(create_contact)
        .service(put_contact_by_ref)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact);
}
