//! Cooperations and their members.

use crate::db::Timestamp;
use crate::models::external_refs::{self, ExternalRef, ExternalRefs, RefFilter};
use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub mod members;

use crate::auth::{Caller, Role};
use crate::changes::{self, Op, Resource};
use crate::db::AnyConnection;
use crate::db::keyset::{After, paginate, parse_timestamp_key, timestamp_key};
use crate::db::schema::{cooperation_members, cooperations, partners};
use crate::domain;
use crate::error::AppError;
use crate::models::ids::{CooperationId, PartnerId};
use crate::models::input::Normalize;
use crate::models::record::{IfMatch, Patch, changed_meanwhile, not_found};
use crate::{keyset, per_backend};
use validator::Validate;

/// Where a cooperation stands.
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
pub enum CooperationStatus {
    /// Partners are exploring whether and what to do together.
    Exploring,
    /// The cooperation works.
    Active,
    /// Paused for now.
    Paused,
    /// Ended.
    Ended,
}

/// A partner's role in a cooperation.
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
pub enum MemberRole {
    /// Leads the cooperation (organisation lead).
    Lead,
    /// Ordinary member.
    Member,
    /// Advises, e.g. the moderating consultancy.
    Advisor,
    /// Funds it, e.g. a state programme.
    Funder,
    /// Supports it without being a member, e.g. the district.
    Supporter,
}

crate::stored_enum!(CooperationStatus, MemberRole);

/// A stored cooperation.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = cooperations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Cooperation {
    pub id: i64,
    pub name: String,
    pub name_folded: String,
    pub description: Option<String>,
    #[diesel(deserialize_as = String)]
    pub status: CooperationStatus,
    pub started_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    pub funding_programme: Option<String>,
    pub funding_amount_eur: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[diesel(deserialize_as = String)]
    pub external_refs: ExternalRefs,
    pub requires_council_approval: bool,
}

/// The writable columns of a cooperation.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = cooperations, treat_none_as_null = true)]
pub struct CooperationData {
    pub name: String,
    pub name_folded: String,
    pub description: Option<String>,
    pub status: String,
    pub started_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    pub funding_programme: Option<String>,
    pub funding_amount_eur: Option<i64>,
    pub external_refs: String,
    pub requires_council_approval: bool,
}

/// A stored membership, with the partner's name.
#[derive(Debug, Clone, Queryable)]
pub struct Member {
    pub id: i64,
    pub cooperation_id: i64,
    pub partner_id: i64,
    #[diesel(deserialize_as = String)]
    pub role: MemberRole,
    pub joined_on: Option<NaiveDate>,
    pub left_on: Option<NaiveDate>,
    pub created_at: Timestamp,
    pub partner_name: String,
}

/// A new membership.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = cooperation_members)]
pub struct NewMember {
    pub cooperation_id: i64,
    pub partner_id: i64,
    pub role: String,
    pub joined_on: Option<NaiveDate>,
    pub left_on: Option<NaiveDate>,
    pub created_at: Timestamp,
}

/// Filters of the cooperation list.
#[derive(Debug, Default, Clone)]
pub struct CooperationFilter {
    pub status: Option<CooperationStatus>,
    /// Only cooperations this partner currently belongs to.
    pub partner_id: Option<i64>,
    /// LIKE pattern on the folded name.
    pub name_pattern: Option<String>,
    /// Only cooperations changed at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// Only cooperations holding this external reference.
    pub external_ref: Option<RefFilter>,
}

/// Orders of the cooperation list.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, strum::IntoStaticStr)]
pub enum CooperationSort {
    /// Name A–Z.
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
    /// Least recently changed first.
    #[serde(rename = "updated_at")]
    #[strum(serialize = "updated_at")]
    UpdatedAt,
    /// Most recently changed first.
    #[serde(rename = "-updated_at")]
    #[strum(serialize = "-updated_at")]
    UpdatedAtDesc,
}

impl CooperationSort {
    /// The value clients send.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The keyset position after a row.
    pub fn after(self, row: &Cooperation) -> After {
        let key = match self {
            Self::Name | Self::NameDesc => row.name_folded.clone(),
            Self::CreatedAt => timestamp_key(row.created_at),
            Self::UpdatedAt | Self::UpdatedAtDesc => timestamp_key(row.updated_at),
        };
        After { key, id: row.id }
    }
}

/// Creates a cooperation (its members are added afterwards).
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: CreateCooperation,
    now: Timestamp,
) -> Result<Cooperation, AppError> {
    check_create(conn, &input)?;
    let refs = input.external_refs.clone();
    let cooperation = insert(conn, &input.into_data(), now)?;
    external_refs::store_new(conn, Resource::Cooperations, cooperation.id, &refs)?;
    changes::changed(conn, caller, Resource::Cooperations, cooperation.id, Op::Created, cooperation.updated_at)?;
    Ok(cooperation)
}

/// What [`create`] checks before it writes, reading only (an import checks a whole file this
/// way before it takes the writer): the external references must be free.
pub fn check_create(conn: &mut AnyConnection, input: &CreateCooperation) -> Result<(), AppError> {
    external_refs::ensure_free(conn, Resource::Cooperations, None, &input.external_refs)
}

/// One cooperation, or 404.
pub fn get(conn: &mut AnyConnection, id: i64) -> Result<Cooperation, AppError> {
    find(conn, id)?.ok_or_else(|| not_found("cooperation", id))
}

/// One page of cooperations, with the cursor of the next page.
pub fn page(
    conn: &mut AnyConnection,
    filter: &CooperationFilter,
    sort: CooperationSort,
    after: Option<After>,
    limit: i64,
) -> Result<(Vec<Cooperation>, Option<String>), AppError> {
    let rows = list(conn, filter, sort, after, limit)?;
    Ok(paginate(rows, limit, sort.as_str(), |c| sort.after(c)))
}

/// Locks a cooperation for a change and checks that the caller may make it (admin, or editor of
/// a member); `action` completes "you may …".
pub fn lock_for_change(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    action: &str,
) -> Result<Cooperation, AppError> {
    // The role first: whether the record exists is nobody's business without one.
    caller.require(Role::Editor, action)?;
    crate::db::lock_row(conn, crate::db::Locked::Cooperations, id)?;
    allowed_change(conn, caller, id, action)
}

/// The cooperation, if the caller may change it (admin, or editor of a current member). Reads only.
fn allowed_change(conn: &mut AnyConnection, caller: &Caller, id: i64, action: &str) -> Result<Cooperation, AppError> {
    caller.require(Role::Editor, action)?;
    let cooperation = get(conn, id)?;
    if !caller.is_admin() {
        caller.require_member(&current_member_ids(conn, id)?, action)?;
    }
    Ok(cooperation)
}

/// Applies a merge patch to the locked cooperation (admins, or editors of a member).
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<Cooperation, AppError> {
    let current = lock_for_change(conn, caller, id, "change cooperations")?;
    let input = patch.apply::<CreateCooperation>(&CreateCooperation::from_stored(&current))?;
    if_match.check_version(current.updated_at)?;
    replace(conn, caller, current, input, now)
}

/// What [`update`] checks before it writes, reading only: `true` when the patch changes the
/// cooperation.
pub fn check_update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
) -> Result<bool, AppError> {
    let current = allowed_change(conn, caller, id, "change cooperations")?;
    let input = patch.apply::<CreateCooperation>(&CreateCooperation::from_stored(&current))?;
    if_match.check_version(current.updated_at)?;
    check_replace(conn, &current, &input)
}

/// Whether `input` changes `current`, and if so whether it may: its external references must
/// stay free. Reads only.
fn check_replace(conn: &mut AnyConnection, current: &Cooperation, input: &CreateCooperation) -> Result<bool, AppError> {
    if *input == CreateCooperation::from_stored(current) {
        return Ok(false);
    }
    external_refs::ensure_free(conn, Resource::Cooperations, Some(current.id), &input.external_refs)?;
    Ok(true)
}

/// Stores `input` as the new state of the locked cooperation `current`; an input equal to what
/// is stored changes nothing.
fn replace(
    conn: &mut AnyConnection,
    caller: &Caller,
    current: Cooperation,
    input: CreateCooperation,
    now: Timestamp,
) -> Result<Cooperation, AppError> {
    if !check_replace(conn, &current, &input)? {
        return Ok(current);
    }
    let id = current.id;
    let refs = (input.external_refs != current.external_refs.0).then(|| input.external_refs.clone());
    let cooperation = update_row(conn, id, &input.into_data(), current.updated_at, now)?
        .ok_or_else(|| changed_meanwhile("cooperation"))?;
    if let Some(refs) = refs {
        external_refs::store(conn, Resource::Cooperations, id, &refs)?;
    }
    changes::changed(conn, caller, Resource::Cooperations, id, Op::Updated, cooperation.updated_at)?;
    Ok(cooperation)
}

/// Creates the cooperation holding the external reference `source:ref_id` (`true`; admins), or
/// replaces it with `input`, a full representation (admins, or editors of a member); the
/// reference stays in the cooperation's list. Members are not part of the representation.
pub fn put_by_ref(
    conn: &mut AnyConnection,
    caller: &Caller,
    (source, ref_id): (&str, &str),
    mut input: CreateCooperation,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(Cooperation, bool), AppError> {
    let named = external_refs::include(&mut input.external_refs, source, ref_id)?;
    match external_refs::holder(conn, Resource::Cooperations, &named.source, &named.id)? {
        None => {
            if_match.check_absent()?;
            caller.require(Role::Admin, "create cooperations")?;
            create(conn, caller, input, now).map(|c| (c, true))
        }
        Some(id) => {
            let current = lock_for_change(conn, caller, id, "change cooperations")?;
            if_match.check_version(current.updated_at)?;
            replace(conn, caller, current, input, now).map(|c| (c, false))
        }
    }
}

/// Gives a cooperation a new version after a change of its members (which are part of it), and
/// records the change.
fn touch(conn: &mut AnyConnection, caller: &Caller, id: i64, now: Timestamp) -> Result<(), AppError> {
    diesel::update(cooperations::table.find(id)).set(cooperations::updated_at.eq(now)).execute(conn)?;
    changes::changed(conn, caller, Resource::Cooperations, id, Op::Updated, now)?;
    Ok(())
}

/// Deletes a cooperation with its memberships; refused while it has measures.
pub fn delete(conn: &mut AnyConnection, caller: &Caller, id: i64, if_match: &IfMatch) -> Result<(), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Cooperations, id)?;
    let cooperation = get(conn, id)?;
    if_match.check_version(cooperation.updated_at)?;
    crate::models::usage::ensure_cooperation_unused(conn, &cooperation)?;
    delete_row(conn, id)?;
    external_refs::remove(conn, Resource::Cooperations, id)?;
    changes::deleted(conn, caller, Resource::Cooperations, id, Timestamp::now())?;
    Ok(())
}

/// Inserts a cooperation.
fn insert(conn: &mut AnyConnection, data: &CooperationData, now: Timestamp) -> QueryResult<Cooperation> {
    let values = (data, cooperations::created_at.eq(now), cooperations::updated_at.eq(now));
    per_backend!(conn, |c| diesel::insert_into(cooperations::table)
        .values(values)
        .returning(Cooperation::as_returning())
        .get_result(c))
}

/// Loads one cooperation.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Cooperation>> {
    per_backend!(conn, |c| cooperations::table.find(id).select(Cooperation::as_select()).first(c).optional())
}

/// Replaces a cooperation's columns if it is still at version `seen`.
fn update_row(
    conn: &mut AnyConnection,
    id: i64,
    data: &CooperationData,
    seen: Timestamp,
    now: Timestamp,
) -> QueryResult<Option<Cooperation>> {
    let target = cooperations::table.find(id).filter(cooperations::updated_at.eq(seen));
    let changed = diesel::update(target).set((data, cooperations::updated_at.eq(now))).execute(conn)?;
    if changed == 0 { Ok(None) } else { find(conn, id) }
}

/// Deletes a cooperation and its memberships.
fn delete_row(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(cooperations::table.find(id)).execute(conn)? > 0)
}

/// One page of cooperations (`limit + 1` rows).
pub fn list(
    conn: &mut AnyConnection,
    filter: &CooperationFilter,
    sort: CooperationSort,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<Cooperation>, AppError> {
    let mut query = cooperations::table.select(Cooperation::as_select()).into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(cooperations::status.eq(<&str>::from(status)));
    }
    if let Some(partner_id) = filter.partner_id {
        let member_of = cooperation_members::table
            .filter(cooperation_members::partner_id.eq(partner_id))
            .filter(cooperation_members::left_on.is_null())
            .select(cooperation_members::cooperation_id);
        query = query.filter(cooperations::id.eq_any(member_of));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(cooperations::updated_at.ge(since));
    }
    if let Some(pattern) = &filter.name_pattern {
        query = query.filter(cooperations::name_folded.like(pattern.clone()).escape('\\'));
    }
    if let Some(holding) = &filter.external_ref {
        query = crate::holding_ref!(query, cooperations::id, Resource::Cooperations, holding);
    }
    let id = cooperations::id;
    let desc = matches!(sort, CooperationSort::NameDesc | CooperationSort::UpdatedAtDesc);
    let query = match sort {
        CooperationSort::Name | CooperationSort::NameDesc => {
            keyset!(query, cooperations::name_folded, id, desc, after.map(|a| (a.key, a.id)))
        }
        CooperationSort::CreatedAt => {
            let after = after.map(|a| parse_timestamp_key(&a.key).map(|k| (k, a.id))).transpose()?;
            keyset!(query, cooperations::created_at, id, desc, after)
        }
        CooperationSort::UpdatedAt | CooperationSort::UpdatedAtDesc => {
            let after = after.map(|a| parse_timestamp_key(&a.key).map(|k| (k, a.id))).transpose()?;
            keyset!(query, cooperations::updated_at, id, desc, after)
        }
    };
    Ok(query.limit(limit + 1).load(conn)?)
}

/// The partners that currently belong to a cooperation.
pub fn current_member_ids(conn: &mut AnyConnection, cooperation_id: i64) -> QueryResult<Vec<i64>> {
    per_backend!(conn, |c| cooperation_members::table
        .filter(cooperation_members::cooperation_id.eq(cooperation_id))
        .filter(cooperation_members::left_on.is_null())
        .select(cooperation_members::partner_id)
        .order(cooperation_members::partner_id)
        .load(c))
}

fn member_columns() -> (
    cooperation_members::id,
    cooperation_members::cooperation_id,
    cooperation_members::partner_id,
    cooperation_members::role,
    cooperation_members::joined_on,
    cooperation_members::left_on,
    cooperation_members::created_at,
    partners::name,
) {
    (
        cooperation_members::id,
        cooperation_members::cooperation_id,
        cooperation_members::partner_id,
        cooperation_members::role,
        cooperation_members::joined_on,
        cooperation_members::left_on,
        cooperation_members::created_at,
        partners::name,
    )
}

/// Adds a membership.
pub fn insert_member(conn: &mut AnyConnection, member: &NewMember) -> QueryResult<Member> {
    let id: i64 = per_backend!(&mut *conn, |c| diesel::insert_into(cooperation_members::table)
        .values(member)
        .returning(cooperation_members::id)
        .get_result(c))?;
    cooperation_members::table
        .inner_join(partners::table)
        .filter(cooperation_members::id.eq(id))
        .select(member_columns())
        .first(conn)
}

/// One page of a cooperation's memberships by id (`limit + 1` rows).
pub fn list_members(
    conn: &mut AnyConnection,
    cooperation_id: i64,
    after_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Member>> {
    let mut query = cooperation_members::table
        .inner_join(partners::table)
        .filter(cooperation_members::cooperation_id.eq(cooperation_id))
        .select(member_columns())
        .order(cooperation_members::id)
        .into_boxed();
    if let Some(id) = after_id {
        query = query.filter(cooperation_members::id.gt(id));
    }
    query.limit(limit + 1).load(conn)
}

/// Removes every membership of a partner in a cooperation; returns how many there were.
pub fn delete_member(
    conn: &mut AnyConnection,
    CooperationId(cooperation_id): CooperationId,
    PartnerId(partner_id): PartnerId,
) -> QueryResult<usize> {
    diesel::delete(
        cooperation_members::table
            .filter(cooperation_members::cooperation_id.eq(cooperation_id))
            .filter(cooperation_members::partner_id.eq(partner_id)),
    )
    .execute(conn)
}

/// Names of the cooperations a partner is or was a member of (for explaining a refusal).
pub fn cooperations_of_partner(conn: &mut AnyConnection, partner_id: i64) -> QueryResult<Vec<String>> {
    cooperation_members::table
        .inner_join(cooperations::table)
        .filter(cooperation_members::partner_id.eq(partner_id))
        .select(cooperations::name)
        .distinct()
        .load(conn)
}

/// A new cooperation (a PATCH takes any subset of the same fields; `null` clears optional ones).
#[derive(Debug, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "dates_in_order", skip_on_field_errors = false))]
pub struct CreateCooperation {
    /// Name, 1–200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "IKZ Westlausitz", min_length = 1, max_length = 200)]
    pub name: String,
    /// What the partners do together (markdown), up to 20,000 characters.
    #[validate(length(max = 20000, message = "must be at most 20000 characters"))]
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// Where it stands (default `exploring`).
    #[serde(default = "exploring")]
    #[schema(default = "exploring")]
    pub status: CooperationStatus,
    /// Start date.
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    #[schema(example = "2025-03-01")]
    pub started_on: Option<NaiveDate>,
    /// End date, not before `started_on`.
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    pub ended_on: Option<NaiveDate>,
    /// Funding programme, up to 500 characters.
    #[validate(length(max = 500, message = "must be at most 500 characters"))]
    #[serde(default)]
    #[schema(max_length = 500)]
    pub funding_programme: Option<String>,
    /// Funding amount in whole euros, 0 or more.
    #[validate(range(min = 0, message = "must not be negative"))]
    #[serde(default)]
    #[schema(minimum = 0)]
    pub funding_amount_eur: Option<i64>,
    /// The cooperation's ids in other systems, each unique among cooperations.
    #[serde(default)]
    #[validate(skip)]
    pub external_refs: Vec<ExternalRef>,
    /// `true`: a measure becomes `approved` only when the council of each of its partners (lead
    /// and participating) has approved it (see the measure's `council_decisions`); otherwise
    /// the transition answers 409 naming the councils still missing. Default `false`.
    #[serde(default)]
    pub requires_council_approval: bool,
}

fn exploring() -> CooperationStatus {
    CooperationStatus::Exploring
}

fn dates_in_order(c: &CreateCooperation) -> Result<(), validator::ValidationError> {
    domain::validate_date_order(c.started_on, c.ended_on, "ended_on")
}

impl Normalize for CreateCooperation {
    const NOT_NULL: &'static [&'static str] = &["status", "requires_council_approval"];

    fn normalize(&mut self) {
        domain::trim(&mut self.name);
        domain::trim_opt(&mut self.description);
        domain::trim_opt(&mut self.funding_programme);
        external_refs::normalize(&mut self.external_refs);
    }

    fn check(&self) -> Vec<crate::error::FieldError> {
        external_refs::check(&self.external_refs)
    }
}

impl CreateCooperation {
    /// The columns to store, with the folded name.
    pub fn into_data(self) -> CooperationData {
        CooperationData {
            name_folded: domain::fold(&self.name),
            name: self.name,
            description: self.description,
            status: <&str>::from(self.status).to_owned(),
            started_on: self.started_on,
            ended_on: self.ended_on,
            funding_programme: self.funding_programme,
            funding_amount_eur: self.funding_amount_eur,
            external_refs: external_refs::column(&self.external_refs),
            requires_council_approval: self.requires_council_approval,
        }
    }

    pub fn from_stored(c: &Cooperation) -> Self {
        Self {
            name: c.name.clone(),
            description: c.description.clone(),
            status: c.status,
            started_on: c.started_on,
            ended_on: c.ended_on,
            funding_programme: c.funding_programme.clone(),
            funding_amount_eur: c.funding_amount_eur,
            external_refs: c.external_refs.0.clone(),
            requires_council_approval: c.requires_council_approval,
        }
    }
}

/// A partner joining a cooperation (or, with `left_on`, a past membership).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "member_dates_in_order", skip_on_field_errors = false))]
pub struct CreateMember {
    /// The partner.
    #[schema(example = 1)]
    pub partner_id: i64,
    /// Role in the cooperation.
    pub role: MemberRole,
    /// Joined on.
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    #[schema(example = "2025-03-01")]
    pub joined_on: Option<NaiveDate>,
    /// Left on (not before `joined_on`); omit for a current member.
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    pub left_on: Option<NaiveDate>,
}

fn member_dates_in_order(m: &CreateMember) -> Result<(), validator::ValidationError> {
    domain::validate_date_order(m.joined_on, m.left_on, "left_on")
}

impl Normalize for CreateMember {
    fn normalize(&mut self) {}
}
