//! `/api/v1/contacts`: people at partners. Personal data: never readable anonymously, never
//! listed in other resources unless asked for (`?include=contacts`), and erasable at any time.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::etag;
use super::extract::{IfMatch, JsonBody, MergePatch, Query, search_pattern};
use super::pagination::{self, After, Limit};
use crate::auth::{Caller, Role};
use crate::db::AnyConnection;
use crate::db::Db;
use crate::error::{AppError, FieldError, Problem};
use crate::models::contacts::{self as model, Contact, ContactFilter, CreateContact};

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
    /// Created (UTC).
    #[serde(serialize_with = "super::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    #[serde(serialize_with = "super::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl ContactResponse {
    /// The answer for a stored contact and its fields.
    pub fn new(c: Contact, field_ids: Vec<i64>) -> Self {
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
            created_at: c.created_at.and_utc(),
            updated_at: c.updated_at.and_utc(),
        }
    }
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
}

/// One page of contacts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContactPage {
    /// The contacts of this page, by name.
    pub items: Vec<ContactResponse>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn not_found(id: i64) -> AppError {
    AppError::NotFound(format!("there is no contact with id {id}"))
}

/// Checks the references of a contact: the partner and every field must exist.
fn check_references(conn: &mut AnyConnection, input: &CreateContact) -> Result<(), AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    if crate::models::partners::find(conn, input.partner_id)?.is_none() {
        errors.push(FieldError::new(
            "partner_id",
            "unknown_partner",
            format!("there is no partner {}", input.partner_id),
        ));
    }
    let missing = crate::models::fields::missing_ids(conn, &input.field_ids)?;
    errors.extend(
        input.field_ids.iter().enumerate().filter(|(_, id)| missing.contains(id)).map(|(i, id)| {
            FieldError::new(format!("field_ids[{i}]"), "unknown_field", format!("there is no field {id}"))
        }),
    );
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// A contact and its fields, as answered.
pub fn load(conn: &mut AnyConnection, contact: Contact) -> Result<ContactResponse, AppError> {
    let field_ids = model::field_ids(conn, contact.id)?;
    Ok(ContactResponse::new(contact, field_ids))
}

fn respond(mut builder: actix_web::HttpResponseBuilder, contact: ContactResponse) -> HttpResponse {
    builder.insert_header((header::ETAG, etag(contact.updated_at.naive_utc())));
    super::json_response(builder, &contact)
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
    caller.require(Role::Viewer, "read contacts (personal data)")?;
    let query = query.0;
    let limit = query.limit.unwrap_or_default().0;
    let after = pagination::decode_cursor(query.cursor.as_deref(), "name")?;
    let filter = ContactFilter {
        partner_id: query.partner_id,
        field_id: query.field_id,
        name_pattern: search_pattern("q", query.q.as_deref())?,
    };
    let (items, next_cursor) = db
        .read(move |conn| {
            let rows = model::list(conn, &filter, after, limit)?;
            let (rows, next) =
                pagination::paginate(rows, limit, "name", |c| After { key: c.name_folded.clone(), id: c.id });
            let items = rows.into_iter().map(|c| load(conn, c)).collect::<Result<Vec<_>, _>>()?;
            Ok((items, next))
        })
        .await?;
    Ok(pagination::page_response(
        &req,
        next_cursor.as_deref(),
        &ContactPage { items, next_cursor: next_cursor.clone() },
    ))
}

/// Create a contact (admins, or editors acting for its partner)
#[utoipa::path(tag = "contacts", request_body = CreateContact, security(("bearer" = [])), responses(
    (status = 201, description = "Created", body = ContactResponse, headers(("Location" = String, description = "URL of the new contact"))),
))]
#[post("")]
pub async fn create_contact(
    db: web::Data<Db>,
    caller: Caller,
    body: JsonBody<CreateContact>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "add contacts")?;
    let input = body.decode()?;
    caller.require_partner(input.partner_id, "add contacts")?;
    let contact = db
        .write(move |conn| {
            check_references(conn, &input)?;
            let (data, field_ids) = input.into_data();
            let contact = model::insert(conn, &data, &field_ids, crate::models::now())?;
            Ok(ContactResponse::new(contact, field_ids))
        })
        .await?;
    let mut response = HttpResponse::Created();
    response.insert_header((header::LOCATION, format!("/api/v1/contacts/{}", contact.id)));
    Ok(respond(response, contact))
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
    let contact = db
        .read(move |conn| {
            let contact = model::find(conn, id)?.ok_or_else(|| not_found(id))?;
            load(conn, contact)
        })
        .await?;
    Ok(respond(HttpResponse::Ok(), contact))
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
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    patch: MergePatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "change contacts")?;
    let (id, if_match) = (id.into_inner(), IfMatch::from_request(&req));
    let contact = db
        .write(move |conn| {
            crate::db::lock_row(conn, crate::db::Locked::Contacts, id)?;
            let current = model::find(conn, id)?.ok_or_else(|| not_found(id))?;
            caller.require_partner(current.partner_id, "change contacts")?;
            let base = CreateContact::from_stored(&current, model::field_ids(conn, id)?);
            let input: CreateContact = patch.apply(&base)?;
            if_match.check(&etag(current.updated_at))?;
            caller.require_partner(input.partner_id, "move contacts to this partner")?;
            check_references(conn, &input)?;
            let (data, field_ids) = input.into_data();
            let stored = model::update(conn, id, &data, &field_ids, current.updated_at, crate::models::now())?
                .ok_or_else(|| AppError::PreconditionFailed("the contact changed during the update; retry".into()))?;
            Ok(ContactResponse::new(stored, field_ids))
        })
        .await?;
    Ok(respond(HttpResponse::Ok(), contact))
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
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "erase contacts")?;
    let (id, if_match) = (id.into_inner(), IfMatch::from_request(&req));
    db.write(move |conn| {
        crate::db::lock_row(conn, crate::db::Locked::Contacts, id)?;
        let current = model::find(conn, id)?.ok_or_else(|| not_found(id))?;
        caller.require_partner(current.partner_id, "erase contacts")?;
        if_match.check(&etag(current.updated_at))?;
        crate::models::usage::before_erasing_contact(conn, id, &super::measures::actor(&caller))?;
        model::delete(conn, id)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Registers the contact routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_contacts)
        .service(create_contact)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact);
}
