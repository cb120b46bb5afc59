//! Contacts: people at partners. Personal data: readable only with a role, and erasable.

use crate::db::Timestamp;
use crate::models::external_refs::{self, ExternalRef, ExternalRefs, RefFilter};
use diesel::prelude::*;

use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::AnyConnection;
use crate::db::keyset::{After, paginate};
use crate::db::schema::{contact_fields, contacts};
use crate::domain;
use crate::error::{AppError, FieldError};
use crate::models::input::Normalize;
use crate::models::record::{IfMatch, Patch, changed_meanwhile, not_found};
use crate::{keyset, per_backend};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

/// A stored contact.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = contacts, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Contact {
    pub id: i64,
    pub partner_id: i64,
    pub name: String,
    pub name_folded: String,
    pub function: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub notes: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[diesel(deserialize_as = String)]
    pub external_refs: ExternalRefs,
}

/// The writable columns of a contact.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_null = true)]
pub struct ContactData {
    pub partner_id: i64,
    pub name: String,
    pub name_folded: String,
    pub function: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub phone_normalized: Option<String>,
    pub notes: Option<String>,
    pub external_refs: String,
}

/// Filters of the contact list.
#[derive(Debug, Default, Clone)]
pub struct ContactFilter {
    pub partner_id: Option<i64>,
    pub field_id: Option<i64>,
    /// LIKE pattern on the folded name.
    pub name_pattern: Option<String>,
    /// Only contacts changed at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// Only contacts holding this external reference.
    pub external_ref: Option<RefFilter>,
}

/// A contact with the fields of action the person is responsible for, as answered.
#[derive(Debug, Clone)]
pub struct ContactRecord {
    pub contact: Contact,
    pub field_ids: Vec<i64>,
}

/// Creates a contact (admins, or editors acting for its partner).
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: CreateContact,
    now: Timestamp,
) -> Result<ContactRecord, AppError> {
    check_create(conn, caller, &input)?;
    let refs = input.external_refs.clone();
    let (data, field_ids) = input.into_data();
    let contact = insert(conn, &data, &field_ids, now)?;
    external_refs::store_new(conn, Resource::Contacts, contact.id, &refs)?;
    changes::changed(conn, caller, Resource::Contacts, contact.id, Op::Created, contact.updated_at)?;
    Ok(ContactRecord { contact, field_ids })
}

/// What [`create`] checks before it writes, reading only (an import checks a whole file this
/// way before it takes the writer): the caller's rights, the references, the external references.
pub fn check_create(conn: &mut AnyConnection, caller: &Caller, input: &CreateContact) -> Result<(), AppError> {
    caller.require_partner(input.partner_id, "add contacts")?;
    check_references(conn, input)?;
    external_refs::ensure_free(conn, Resource::Contacts, None, &input.external_refs)
}

/// One contact with its fields, or 404.
pub fn get(conn: &mut AnyConnection, id: i64) -> Result<ContactRecord, AppError> {
    let contact = find(conn, id)?.ok_or_else(|| not_found("contact", id))?;
    with_fields(conn, contact)
}

/// One contact with its fields, if there is one.
pub fn find_record(conn: &mut AnyConnection, id: i64) -> Result<Option<ContactRecord>, AppError> {
    find(conn, id)?.map(|c| with_fields(conn, c)).transpose()
}

fn with_fields(conn: &mut AnyConnection, contact: Contact) -> Result<ContactRecord, AppError> {
    let field_ids = field_ids(conn, contact.id)?;
    Ok(ContactRecord { contact, field_ids })
}

/// One page of contacts by name, with the cursor of the next page.
pub fn page(
    conn: &mut AnyConnection,
    filter: &ContactFilter,
    after: Option<After>,
    limit: i64,
) -> Result<(Vec<ContactRecord>, Option<String>), AppError> {
    let rows = list(conn, filter, after, limit)?;
    let (rows, next) = paginate(rows, limit, "name", |c| After { key: c.name_folded.clone(), id: c.id });
    let records = rows.into_iter().map(|c| with_fields(conn, c)).collect::<Result<_, _>>()?;
    Ok((records, next))
}

/// The contacts of a partner with their fields, by name (for `?include=contacts`).
pub fn records_of_partner(conn: &mut AnyConnection, partner_id: i64) -> Result<Vec<ContactRecord>, AppError> {
    of_partner(conn, partner_id)?.into_iter().map(|c| with_fields(conn, c)).collect()
}

/// Applies a merge patch to the locked contact (admins, or editors acting for its partner, before
/// and after the change).
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<ContactRecord, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Contacts, id)?;
    let (current, base, input) = patched(conn, caller, id, patch, if_match)?;
    replace(conn, caller, current, base, input, now)
}

/// What [`update`] checks before it writes, reading only: `true` when the patch changes the
/// contact.
pub fn check_update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
) -> Result<bool, AppError> {
    let (current, base, input) = patched(conn, caller, id, patch, if_match)?;
    check_replace(conn, caller, &current, &base, &input)
}

/// The stored contact, its writable fields and what the patch makes of them, if the caller
/// may change it and `if_match` allows the change.
fn patched(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
) -> Result<(Contact, CreateContact, CreateContact), AppError> {
    let current = find(conn, id)?.ok_or_else(|| not_found("contact", id))?;
    caller.require_partner(current.partner_id, "change contacts")?;
    let base = CreateContact::from_stored(&current, field_ids(conn, id)?);
    let input: CreateContact = patch.apply(&base)?;
    if_match.check_version(current.updated_at)?;
    Ok((current, base, input))
}

/// Whether `input` changes `current` (whose writable fields are `base`), and if so whether it
/// may: the caller acts for the new partner, the references exist, the external references are
/// free. Reads only.
fn check_replace(
    conn: &mut AnyConnection,
    caller: &Caller,
    current: &Contact,
    base: &CreateContact,
    input: &CreateContact,
) -> Result<bool, AppError> {
    if input == base {
        return Ok(false);
    }
    caller.require_partner(input.partner_id, "move contacts to this partner")?;
    check_references(conn, input)?;
    external_refs::ensure_free(conn, Resource::Contacts, Some(current.id), &input.external_refs)?;
    Ok(true)
}

/// Stores `input` as the new state of the locked contact `current` (whose writable fields are
/// `base`); an input equal to them changes nothing.
fn replace(
    conn: &mut AnyConnection,
    caller: &Caller,
    current: Contact,
    base: CreateContact,
    input: CreateContact,
    now: Timestamp,
) -> Result<ContactRecord, AppError> {
    if !check_replace(conn, caller, &current, &base, &input)? {
        return Ok(ContactRecord { contact: current, field_ids: base.field_ids });
    }
    let id = current.id;
    let refs = (input.external_refs != current.external_refs.0).then(|| input.external_refs.clone());
    let (data, field_ids) = input.into_data();
    let contact = update_row(conn, id, &data, &field_ids, current.updated_at, now)?
        .ok_or_else(|| changed_meanwhile("contact"))?;
    if let Some(refs) = refs {
        external_refs::store(conn, Resource::Contacts, id, &refs)?;
    }
    changes::changed(conn, caller, Resource::Contacts, id, Op::Updated, contact.updated_at)?;
    Ok(ContactRecord { contact, field_ids })
}

/// Creates the contact holding the external reference `source:ref_id` (`true`), or replaces it
/// with `input`, a full representation (admins, or editors acting for its partner); the
/// reference stays in the contact's list.
pub fn put_by_ref(
    conn: &mut AnyConnection,
    caller: &Caller,
    (source, ref_id): (&str, &str),
    mut input: CreateContact,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(ContactRecord, bool), AppError> {
    let named = external_refs::include(&mut input.external_refs, source, ref_id)?;
    match external_refs::holder(conn, Resource::Contacts, &named.source, &named.id)? {
        None => {
            if_match.check_absent()?;
            create(conn, caller, input, now).map(|c| (c, true))
        }
        Some(id) => {
            crate::db::lock_row(conn, crate::db::Locked::Contacts, id)?;
            let current = find(conn, id)?.ok_or_else(|| not_found("contact", id))?;
            caller.require_partner(current.partner_id, "change contacts")?;
            if_match.check_version(current.updated_at)?;
            let base = CreateContact::from_stored(&current, field_ids(conn, id)?);
            replace(conn, caller, current, base, input, now).map(|c| (c, false))
        }
    }
}

/// Erases a contact for good; measures that named the person keep working (see `usage`).
pub fn delete(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Contacts, id)?;
    let current = find(conn, id)?.ok_or_else(|| not_found("contact", id))?;
    caller.require_partner(current.partner_id, "erase contacts")?;
    if_match.check_version(current.updated_at)?;
    super::usage::before_erasing_contact(conn, caller, id, now)?;
    delete_row(conn, id)?;
    external_refs::remove(conn, Resource::Contacts, id)?;
    changes::deleted(conn, caller, Resource::Contacts, id, now)?;
    Ok(())
}

/// Checks the references of a contact: the partner and every field must exist.
fn check_references(conn: &mut AnyConnection, input: &CreateContact) -> Result<(), AppError> {
    let mut errors: Vec<FieldError> = Vec::new();
    if super::partners::find(conn, input.partner_id)?.is_none() {
        errors.push(FieldError::new(
            "partner_id",
            "unknown_partner",
            format!("there is no partner {}", input.partner_id),
        ));
    }
    let missing = super::fields::missing_ids(conn, &input.field_ids)?;
    errors.extend(
        input.field_ids.iter().enumerate().filter(|(_, id)| missing.contains(id)).map(|(i, id)| {
            FieldError::new(format!("field_ids[{i}]"), "unknown_field", format!("there is no field {id}"))
        }),
    );
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// Inserts a contact with its fields.
pub fn insert(conn: &mut AnyConnection, data: &ContactData, field_ids: &[i64], now: Timestamp) -> QueryResult<Contact> {
    let values = (data, contacts::created_at.eq(now), contacts::updated_at.eq(now));
    let contact = per_backend!(&mut *conn, |c| diesel::insert_into(contacts::table)
        .values(values)
        .returning(Contact::as_returning())
        .get_result(c))?;
    set_fields(conn, contact.id, field_ids)?;
    Ok(contact)
}

/// Loads one contact.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Contact>> {
    per_backend!(conn, |c| contacts::table.find(id).select(Contact::as_select()).first(c).optional())
}

/// The fields a contact is responsible for, ascending.
pub fn field_ids(conn: &mut AnyConnection, contact_id: i64) -> QueryResult<Vec<i64>> {
    contact_fields::table
        .filter(contact_fields::contact_id.eq(contact_id))
        .select(contact_fields::field_id)
        .order(contact_fields::field_id)
        .load(conn)
}

/// Replaces a contact's fields.
pub fn set_fields(conn: &mut AnyConnection, contact_id: i64, field_ids: &[i64]) -> QueryResult<()> {
    diesel::delete(contact_fields::table.filter(contact_fields::contact_id.eq(contact_id))).execute(conn)?;
    for field_id in field_ids {
        diesel::insert_into(contact_fields::table)
            .values((contact_fields::contact_id.eq(contact_id), contact_fields::field_id.eq(field_id)))
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces a contact's columns and fields if it is still at version `seen`.
fn update_row(
    conn: &mut AnyConnection,
    id: i64,
    data: &ContactData,
    field_ids: &[i64],
    seen: Timestamp,
    now: Timestamp,
) -> QueryResult<Option<Contact>> {
    let target = contacts::table.find(id).filter(contacts::updated_at.eq(seen));
    if diesel::update(target).set((data, contacts::updated_at.eq(now))).execute(conn)? == 0 {
        return Ok(None);
    }
    set_fields(conn, id, field_ids)?;
    find(conn, id)
}

/// Erases a contact; returns whether one was removed.
fn delete_row(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(contacts::table.find(id)).execute(conn)? > 0)
}

/// One page of contacts by name (`limit + 1` rows).
pub fn list(
    conn: &mut AnyConnection,
    filter: &ContactFilter,
    after: Option<After>,
    limit: i64,
) -> QueryResult<Vec<Contact>> {
    let mut query = contacts::table.select(Contact::as_select()).into_boxed();
    if let Some(partner_id) = filter.partner_id {
        query = query.filter(contacts::partner_id.eq(partner_id));
    }
    if let Some(field_id) = filter.field_id {
        let responsible =
            contact_fields::table.filter(contact_fields::field_id.eq(field_id)).select(contact_fields::contact_id);
        query = query.filter(contacts::id.eq_any(responsible));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(contacts::updated_at.ge(since));
    }
    if let Some(pattern) = &filter.name_pattern {
        query = query.filter(contacts::name_folded.like(pattern.clone()).escape('\\'));
    }
    if let Some(holding) = &filter.external_ref {
        query = crate::holding_ref!(query, contacts::id, Resource::Contacts, holding);
    }
    let query = keyset!(query, contacts::name_folded, contacts::id, false, after.map(|a| (a.key, a.id)));
    query.limit(limit + 1).load(conn)
}

/// All contacts of one partner, by name (for `?include=contacts`).
pub fn of_partner(conn: &mut AnyConnection, partner_id: i64) -> QueryResult<Vec<Contact>> {
    contacts::table
        .filter(contacts::partner_id.eq(partner_id))
        .select(Contact::as_select())
        .order((contacts::name_folded, contacts::id))
        .load(conn)
}

/// How many contacts a partner has, and how many contacts are responsible for a field.
pub fn count_of_partner(conn: &mut AnyConnection, partner_id: i64) -> QueryResult<i64> {
    contacts::table.filter(contacts::partner_id.eq(partner_id)).count().get_result(conn)
}

/// How many contacts name a field.
pub fn count_with_field(conn: &mut AnyConnection, field_id: i64) -> QueryResult<i64> {
    contact_fields::table.filter(contact_fields::field_id.eq(field_id)).count().get_result(conn)
}

/// A new contact (a PATCH takes any subset of the same fields; `null` clears optional ones).
#[derive(Debug, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    /// The partner the person works for.
    pub partner_id: i64,
    /// Name, 1–200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "Maria Mustermann", min_length = 1, max_length = 200)]
    pub name: String,
    /// Function, up to 200 characters.
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[serde(default)]
    #[schema(example = "Bürgermeisterin", max_length = 200)]
    pub function: Option<String>,
    /// E-mail address.
    #[validate(email(message = "must be an e-mail address"))]
    #[validate(length(max = 254, message = "must be at most 254 characters"))]
    #[serde(default)]
    #[schema(format = Email, max_length = 254, example = "m.mustermann@koenigsbrueck.example.org")]
    pub email: Option<String>,
    /// Telephone number.
    #[validate(custom(function = "domain::validate_phone"))]
    #[serde(default)]
    #[schema(example = "035795 / 123-10", max_length = 40)]
    pub phone: Option<String>,
    /// Fields of action the person is responsible for.
    #[serde(default)]
    pub field_ids: Vec<i64>,
    /// Notes, up to 5,000 characters.
    #[validate(length(max = 5000, message = "must be at most 5000 characters"))]
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub notes: Option<String>,
    /// The person's ids in other systems, each unique among contacts (erased with the contact).
    #[serde(default)]
    #[validate(skip)]
    pub external_refs: Vec<ExternalRef>,
}

impl Normalize for CreateContact {
    fn normalize(&mut self) {
        domain::trim(&mut self.name);
        for field in [&mut self.function, &mut self.email, &mut self.phone, &mut self.notes] {
            domain::trim_opt(field);
        }
        self.field_ids.sort_unstable();
        self.field_ids.dedup();
        external_refs::normalize(&mut self.external_refs);
    }

    fn check(&self) -> Vec<FieldError> {
        external_refs::check(&self.external_refs)
    }
}

impl CreateContact {
    /// The columns to store, with the normalised phone, and the field ids.
    pub fn into_data(self) -> (ContactData, Vec<i64>) {
        let data = ContactData {
            partner_id: self.partner_id,
            name_folded: domain::fold(&self.name),
            name: self.name,
            function: self.function,
            email: self.email,
            phone_normalized: self.phone.as_deref().map(domain::normalize_phone),
            phone: self.phone,
            notes: self.notes,
            external_refs: external_refs::column(&self.external_refs),
        };
        (data, self.field_ids)
    }

    pub fn from_stored(c: &Contact, field_ids: Vec<i64>) -> Self {
        Self {
            partner_id: c.partner_id,
            name: c.name.clone(),
            function: c.function.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            field_ids,
            notes: c.notes.clone(),
            external_refs: c.external_refs.0.clone(),
        }
    }
}
