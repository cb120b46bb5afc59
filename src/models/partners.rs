//! Partners: the organisations that cooperate.

use crate::db::Timestamp;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::changes::{self, Op, Resource};
use crate::db::AnyConnection;
use crate::db::keyset::{After, paginate, parse_timestamp_key};
use crate::db::schema::partners;
use crate::error::AppError;
use crate::models::contacts::ContactRecord;
use crate::models::external_refs::{self, ExternalRef, ExternalRefs, RefFilter};
use crate::{keyset, per_backend};
use validator::Validate;

use crate::domain;
use crate::error::FieldError;
use crate::models::input::Normalize;
use crate::models::record::{IfMatch, Patch, changed_meanwhile, not_found};

/// What kind of organisation a partner is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PartnerKind {
    /// Gemeinde, Stadt, Samtgemeinde, Verbandsgemeinde.
    Municipality,
    /// Landkreis.
    District,
    /// Ministry or other state authority.
    StateAgency,
    /// Zweckverband, Planungsverband, Verein.
    Association,
    /// Company, e.g. the consultancy that moderates a cooperation.
    Company,
    /// Anything else.
    Other,
}

crate::stored_enum!(PartnerKind);

/// A stored partner row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = partners, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Partner {
    pub id: i64,
    pub name: String,
    pub name_folded: String,
    #[diesel(deserialize_as = String)]
    pub kind: PartnerKind,
    pub ags: Option<String>,
    pub state: Option<String>,
    pub district: Option<String>,
    pub population: Option<i64>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[diesel(deserialize_as = String)]
    pub external_refs: ExternalRefs,
}

/// The writable columns of a partner, for insert and full update.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = partners, treat_none_as_null = true)]
pub struct PartnerData {
    pub name: String,
    pub name_folded: String,
    pub kind: String,
    pub ags: Option<String>,
    pub state: Option<String>,
    pub district: Option<String>,
    pub population: Option<i64>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    pub external_refs: String,
}

/// Filters of the partner list; all optional and combined with AND.
#[derive(Debug, Default, Clone)]
pub struct PartnerFilter {
    pub kind: Option<PartnerKind>,
    pub state: Option<String>,
    pub ags: Option<String>,
    /// LIKE pattern on the folded name (see `domain::contains_pattern`).
    pub name_pattern: Option<String>,
    /// Only partners changed at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// Only partners holding this external reference.
    pub external_ref: Option<RefFilter>,
}

/// Orders of the partner list; each is a keyset on (column, id).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, strum::IntoStaticStr)]
pub enum PartnerSort {
    /// Name A–Z (case- and umlaut-insensitive).
    #[default]
    #[serde(rename = "name")]
    #[strum(serialize = "name")]
    Name,
    /// Name Z–A.
    #[serde(rename = "-name")]
    #[strum(serialize = "-name")]
    NameDesc,
    /// Oldest first.
    #[serde(rename = "created_at")]
    #[strum(serialize = "created_at")]
    CreatedAt,
    /// Newest first.
    #[serde(rename = "-created_at")]
    #[strum(serialize = "-created_at")]
    CreatedAtDesc,
    /// Least recently changed first (what a sync job wants).
    #[serde(rename = "updated_at")]
    #[strum(serialize = "updated_at")]
    UpdatedAt,
    /// Most recently changed first.
    #[serde(rename = "-updated_at")]
    #[strum(serialize = "-updated_at")]
    UpdatedAtDesc,
}

impl PartnerSort {
    /// The value clients send, e.g. `-name`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The keyset position after a row in this order.
    pub fn after(self, row: &Partner) -> After {
        let key = match self {
            Self::Name | Self::NameDesc => row.name_folded.clone(),
            Self::CreatedAt | Self::CreatedAtDesc => crate::db::keyset::timestamp_key(row.created_at),
            Self::UpdatedAt | Self::UpdatedAtDesc => crate::db::keyset::timestamp_key(row.updated_at),
        };
        After { key, id: row.id }
    }
}

/// Creates a partner; its AGS must be free.
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: CreatePartner,
    now: Timestamp,
) -> Result<Partner, AppError> {
    check_create(conn, &input)?;
    let refs = input.external_refs.clone();
    let partner = insert(conn, &input.into_data(), now)?;
    external_refs::store_new(conn, Resource::Partners, partner.id, &refs)?;
    changes::changed(conn, caller, Resource::Partners, partner.id, Op::Created, partner.updated_at)?;
    Ok(partner)
}

/// What [`create`] checks before it writes, reading only (an import checks a whole file this
/// way before it takes the writer): the AGS and the external references must be free.
pub fn check_create(conn: &mut AnyConnection, input: &CreatePartner) -> Result<(), AppError> {
    ensure_ags_free(conn, input.ags.as_deref(), None)?;
    external_refs::ensure_free(conn, Resource::Partners, None, &input.external_refs)
}

/// One partner, or 404.
pub fn get(conn: &mut AnyConnection, id: i64) -> Result<Partner, AppError> {
    find(conn, id)?.ok_or_else(|| not_found("partner", id))
}

/// One partner and, when asked for, its contacts with their fields (by name).
pub fn get_with_contacts(
    conn: &mut AnyConnection,
    id: i64,
    with_contacts: bool,
) -> Result<(Partner, Option<Vec<ContactRecord>>), AppError> {
    let partner = get(conn, id)?;
    let contacts = if with_contacts { Some(super::contacts::records_of_partner(conn, id)?) } else { None };
    Ok((partner, contacts))
}

/// One page of partners, with the cursor of the next page.
pub fn page(
    conn: &mut AnyConnection,
    filter: &PartnerFilter,
    sort: PartnerSort,
    after: Option<After>,
    limit: i64,
) -> Result<(Vec<Partner>, Option<String>), AppError> {
    let rows = list(conn, filter, sort, after, limit)?;
    Ok(paginate(rows, limit, sort.as_str(), |p| sort.after(p)))
}

/// Applies a merge patch to the locked partner, checked like a new one (its AGS must stay free).
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<Partner, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Partners, id)?;
    let (current, input) = patched(conn, id, patch, if_match)?;
    replace(conn, caller, current, input, now)
}

/// What [`update`] checks before it writes, reading only: `true` when the patch changes the
/// partner.
pub fn check_update(conn: &mut AnyConnection, id: i64, patch: Patch, if_match: &IfMatch) -> Result<bool, AppError> {
    let (current, input) = patched(conn, id, patch, if_match)?;
    check_replace(conn, &current, &input)
}

/// The stored partner and what the patch makes of it, if `if_match` allows the change.
fn patched(
    conn: &mut AnyConnection,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
) -> Result<(Partner, CreatePartner), AppError> {
    let current = get(conn, id)?;
    let input = patch.apply::<CreatePartner>(&CreatePartner::from_stored(&current))?;
    if_match.check_version(current.updated_at)?;
    Ok((current, input))
}

/// Whether `input` changes `current`, and if so whether it may: its AGS and external
/// references must stay free. Reads only.
fn check_replace(conn: &mut AnyConnection, current: &Partner, input: &CreatePartner) -> Result<bool, AppError> {
    if *input == CreatePartner::from_stored(current) {
        return Ok(false);
    }
    ensure_ags_free(conn, input.ags.as_deref(), Some(current.id))?;
    external_refs::ensure_free(conn, Resource::Partners, Some(current.id), &input.external_refs)?;
    Ok(true)
}

/// Stores `input` as the new state of the locked partner `current` (checked like a new one:
/// its AGS must stay free); an input equal to what is stored changes nothing.
pub fn replace(
    conn: &mut AnyConnection,
    caller: &Caller,
    current: Partner,
    input: CreatePartner,
    now: Timestamp,
) -> Result<Partner, AppError> {
    if !check_replace(conn, &current, &input)? {
        return Ok(current);
    }
    let id = current.id;
    let refs = (input.external_refs != current.external_refs.0).then(|| input.external_refs.clone());
    let data = input.into_data();
    let partner = update_row(conn, id, &data, current.updated_at, now)?.ok_or_else(|| changed_meanwhile("partner"))?;
    if let Some(refs) = refs {
        external_refs::store(conn, Resource::Partners, id, &refs)?;
    }
    changes::changed(conn, caller, Resource::Partners, id, Op::Updated, partner.updated_at)?;
    Ok(partner)
}

/// Creates the partner holding the external reference `source:ref_id` (201), or replaces it
/// with `input`, a full representation (200; nothing changes when it is identical). The
/// reference stays in the partner's list whether `input` names it or not.
pub fn put_by_ref(
    conn: &mut AnyConnection,
    caller: &Caller,
    (source, ref_id): (&str, &str),
    mut input: CreatePartner,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(Partner, bool), AppError> {
    let named = external_refs::include(&mut input.external_refs, source, ref_id)?;
    match external_refs::holder(conn, Resource::Partners, &named.source, &named.id)? {
        None => {
            if_match.check_absent()?;
            caller.require(Role::Admin, "create partners")?;
            create(conn, caller, input, now).map(|p| (p, true))
        }
        Some(id) => {
            caller.require_partner(id, "change partners")?;
            crate::db::lock_row(conn, crate::db::Locked::Partners, id)?;
            let current = get(conn, id)?;
            if_match.check_version(current.updated_at)?;
            replace(conn, caller, current, input, now).map(|p| (p, false))
        }
    }
}

/// Deletes a partner that nothing refers to any more.
pub fn delete(conn: &mut AnyConnection, caller: &Caller, id: i64, if_match: &IfMatch) -> Result<(), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Partners, id)?;
    let current = get(conn, id)?;
    if_match.check_version(current.updated_at)?;
    super::usage::ensure_partner_unused(conn, id)?;
    delete_row(conn, id)?;
    external_refs::remove(conn, Resource::Partners, id)?;
    changes::deleted(conn, caller, Resource::Partners, id, Timestamp::now())?;
    Ok(())
}

fn ensure_ags_free(conn: &mut AnyConnection, ags: Option<&str>, except: Option<i64>) -> Result<(), AppError> {
    match ags.map(|a| find_by_ags(conn, a, except)).transpose()?.flatten() {
        Some(other) => {
            Err(AppError::Conflict(format!("AGS {} is already used by partner {other}", ags.unwrap_or_default())))
        }
        None => Ok(()),
    }
}

/// Inserts a partner and returns the stored row.
fn insert(conn: &mut AnyConnection, data: &PartnerData, now: Timestamp) -> QueryResult<Partner> {
    let values = (data, partners::created_at.eq(now), partners::updated_at.eq(now));
    per_backend!(conn, |c| diesel::insert_into(partners::table)
        .values(values)
        .returning(Partner::as_returning())
        .get_result(c))
}

/// Loads one partner.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Partner>> {
    per_backend!(conn, |c| partners::table.find(id).select(Partner::as_select()).first(c).optional())
}

/// Finds the partner holding an AGS, other than `except`.
pub fn find_by_ags(conn: &mut AnyConnection, ags: &str, except: Option<i64>) -> QueryResult<Option<i64>> {
    let mut query = partners::table.select(partners::id).filter(partners::ags.eq(ags)).into_boxed();
    if let Some(id) = except {
        query = query.filter(partners::id.ne(id));
    }
    query.first(conn).optional()
}

/// Those of `ids` that name no partner, in the given order.
pub fn missing_ids(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<i64>> {
    let known: Vec<i64> = partners::table.filter(partners::id.eq_any(ids)).select(partners::id).load(conn)?;
    Ok(ids.iter().copied().filter(|id| !known.contains(id)).collect())
}

/// Replaces the writable columns if the row is still at version `seen_updated_at`;
/// returns `None` when it changed or vanished in between.
fn update_row(
    conn: &mut AnyConnection,
    id: i64,
    data: &PartnerData,
    seen_updated_at: Timestamp,
    now: Timestamp,
) -> QueryResult<Option<Partner>> {
    let target = partners::table.find(id).filter(partners::updated_at.eq(seen_updated_at));
    let changed = diesel::update(target).set((data, partners::updated_at.eq(now))).execute(conn)?;
    if changed == 0 { Ok(None) } else { find(conn, id) }
}

/// Deletes a partner; returns whether a row was removed.
fn delete_row(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(partners::table.find(id)).execute(conn)? > 0)
}

/// One page of partners (`limit + 1` rows, so that the caller can tell whether more follow).
pub fn list(
    conn: &mut AnyConnection,
    filter: &PartnerFilter,
    sort: PartnerSort,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<Partner>, AppError> {
    let mut query = partners::table.select(Partner::as_select()).into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(partners::kind.eq(<&str>::from(kind)));
    }
    if let Some(state) = &filter.state {
        query = query.filter(partners::state.eq(state.clone()));
    }
    if let Some(ags) = &filter.ags {
        query = query.filter(partners::ags.eq(ags.clone()));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(partners::updated_at.ge(since));
    }
    if let Some(pattern) = &filter.name_pattern {
        query = query.filter(partners::name_folded.like(pattern.clone()).escape('\\'));
    }
    if let Some(holding) = &filter.external_ref {
        query = crate::holding_ref!(query, partners::id, Resource::Partners, holding);
    }
    let id = partners::id;
    let query = match sort {
        PartnerSort::Name | PartnerSort::NameDesc => {
            let after = after.map(|a| (a.key, a.id));
            keyset!(query, partners::name_folded, id, sort == PartnerSort::NameDesc, after)
        }
        PartnerSort::CreatedAt | PartnerSort::CreatedAtDesc => {
            let after = after.map(|a| parse_timestamp_key(&a.key).map(|k| (k, a.id))).transpose()?;
            keyset!(query, partners::created_at, id, sort == PartnerSort::CreatedAtDesc, after)
        }
        PartnerSort::UpdatedAt | PartnerSort::UpdatedAtDesc => {
            let after = after.map(|a| parse_timestamp_key(&a.key).map(|k| (k, a.id))).transpose()?;
            keyset!(query, partners::updated_at, id, sort == PartnerSort::UpdatedAtDesc, after)
        }
    };
    Ok(query.limit(limit + 1).load(conn)?)
}

/// A new partner. Text is trimmed; blank optional text counts as absent.
#[derive(Debug, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartner {
    /// Official name, 1–200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "Stadt Königsbrück", min_length = 1, max_length = 200)]
    pub name: String,
    /// Kind of organisation.
    pub kind: PartnerKind,
    /// Amtlicher Gemeindeschlüssel: exactly 8 digits, unique.
    #[validate(custom(function = "domain::validate_ags"))]
    #[serde(default)]
    #[schema(example = "14625240", pattern = "^[0-9]{8}$")]
    pub ags: Option<String>,
    /// ISO 3166-2 code, e.g. `DE-NI`, `DE-SN`, `DE-NW`.
    #[validate(custom(function = "domain::validate_state"))]
    #[serde(default)]
    #[schema(example = "DE-SN", pattern = "^[A-Z]{2}-[A-Z0-9]{1,3}$")]
    pub state: Option<String>,
    /// District (Landkreis), up to 200 characters.
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[serde(default)]
    #[schema(example = "Bautzen", max_length = 200)]
    pub district: Option<String>,
    /// Inhabitants, 0 or more.
    #[validate(range(min = 0, message = "must not be negative"))]
    #[serde(default)]
    #[schema(example = 4400, minimum = 0)]
    pub population: Option<i64>,
    /// Website, an http or https URL.
    #[validate(custom(function = "domain::validate_web_url"))]
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default)]
    #[schema(example = "https://www.koenigsbrueck.de", format = Uri, max_length = 2000)]
    pub website: Option<String>,
    /// Central e-mail address.
    #[validate(email(message = "must be an e-mail address"))]
    #[validate(length(max = 254, message = "must be at most 254 characters"))]
    #[serde(default)]
    #[schema(example = "info@koenigsbrueck.example.org", format = Email, max_length = 254)]
    pub email: Option<String>,
    /// Central telephone number.
    #[validate(custom(function = "domain::validate_phone"))]
    #[serde(default)]
    #[schema(example = "+49 35795 123-0", max_length = 40)]
    pub phone: Option<String>,
    /// Free text, up to 20,000 characters.
    #[validate(length(max = 20000, message = "must be at most 20000 characters"))]
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// The partner's ids in other systems, each unique among partners.
    #[serde(default)]
    #[validate(skip)]
    pub external_refs: Vec<ExternalRef>,
}

impl Normalize for CreatePartner {
    fn normalize(&mut self) {
        domain::trim(&mut self.name);
        for field in [
            &mut self.ags,
            &mut self.state,
            &mut self.district,
            &mut self.website,
            &mut self.email,
            &mut self.phone,
            &mut self.description,
        ] {
            domain::trim_opt(field);
        }
        external_refs::normalize(&mut self.external_refs);
    }

    fn check(&self) -> Vec<FieldError> {
        external_refs::check(&self.external_refs)
    }
}

impl CreatePartner {
    /// The columns to store, with the folded name.
    pub fn into_data(self) -> PartnerData {
        PartnerData {
            name_folded: domain::fold(&self.name),
            name: self.name,
            kind: <&str>::from(self.kind).to_owned(),
            ags: self.ags,
            state: self.state,
            district: self.district,
            population: self.population,
            website: self.website,
            email: self.email,
            phone: self.phone,
            description: self.description,
            external_refs: external_refs::column(&self.external_refs),
        }
    }

    /// The writable fields of a stored partner, as the base a merge patch applies to.
    pub fn from_stored(p: &Partner) -> Self {
        Self {
            name: p.name.clone(),
            kind: p.kind,
            ags: p.ags.clone(),
            state: p.state.clone(),
            district: p.district.clone(),
            population: p.population,
            website: p.website.clone(),
            email: p.email.clone(),
            phone: p.phone.clone(),
            description: p.description.clone(),
            external_refs: p.external_refs.0.clone(),
        }
    }
}

/// One error per entry of a `partner_ids` list that names no partner (`partner_ids[i]`).
pub fn unknown_partner_errors(conn: &mut AnyConnection, field: &str, ids: &[i64]) -> Result<Vec<FieldError>, AppError> {
    let missing = missing_ids(conn, ids)?;
    Ok(ids
        .iter()
        .enumerate()
        .filter(|(_, id)| missing.contains(id))
        .map(|(i, id)| FieldError::new(format!("{field}[{i}]"), "unknown_partner", format!("there is no partner {id}")))
        .collect())
}
