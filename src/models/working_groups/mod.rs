//! Working groups of a cooperation: by fields of action, moderated by a partner (often a
//! consultancy that is an advisor member), with contacts as members ([`members`]). Measures
//! name the group that examined them (`measures.working_group_id`). The group is public; who is
//! in it is personal data (viewers and above, as contacts).

pub mod members;

use std::collections::HashMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::keyset::{After, paginate};
use crate::db::schema::{fields, measures, working_group_fields, working_groups};
use crate::db::{AnyConnection, Timestamp};
use crate::domain;
use crate::error::{AppError, FieldError};
use crate::models::cooperations;
use crate::models::input::Normalize;
use crate::models::record::{IfMatch, Patch, changed_meanwhile};

/// Whether a group still works.
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
pub enum WorkingGroupStatus {
    /// Meets and works.
    Active,
    /// Finished its work.
    Closed,
}

crate::stored_enum!(WorkingGroupStatus);

/// A stored working group.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = working_groups, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct WorkingGroup {
    pub id: i64,
    pub cooperation_id: i64,
    pub name: String,
    pub name_folded: String,
    pub moderator_partner_id: Option<i64>,
    #[diesel(deserialize_as = String)]
    pub status: WorkingGroupStatus,
    pub member_count: i32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A group with its fields and the measures that name it.
#[derive(Debug, Clone)]
pub struct WorkingGroupRecord {
    pub group: WorkingGroup,
    pub field_ids: Vec<i64>,
    pub measure_ids: Vec<i64>,
}

/// A new working group (a PATCH takes any subset of the same fields; `null` clears optional ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkingGroup {
    /// Name, 1–200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "IT & E-Government", min_length = 1, max_length = 200)]
    pub name: String,
    /// Its fields of action.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub field_ids: Vec<i64>,
    /// The partner moderating it (a member of the cooperation, e.g. an advising consultancy).
    #[serde(default)]
    pub moderator_partner_id: Option<i64>,
    /// `active` (the default) or `closed`.
    #[serde(default = "active")]
    #[schema(default = "active")]
    pub status: WorkingGroupStatus,
}

fn active() -> WorkingGroupStatus {
    WorkingGroupStatus::Active
}

impl Normalize for CreateWorkingGroup {
    const NOT_NULL: &'static [&'static str] = &["status"];

    fn normalize(&mut self) {
        domain::trim(&mut self.name);
        self.field_ids.sort_unstable();
        self.field_ids.dedup();
    }

    fn check(&self) -> Vec<FieldError> {
        if self.field_ids.len() > 50 {
            return vec![FieldError::new("field_ids", "length", "must hold at most 50 fields")];
        }
        Vec::new()
    }
}

impl CreateWorkingGroup {
    fn from_record(r: &WorkingGroupRecord) -> Self {
        Self {
            name: r.group.name.clone(),
            field_ids: r.field_ids.clone(),
            moderator_partner_id: r.group.moderator_partner_id,
            status: r.group.status,
        }
    }
}

/// Filters of the group list.
#[derive(Debug, Default, Clone)]
pub struct WorkingGroupFilter {
    pub status: Option<WorkingGroupStatus>,
    pub field_id: Option<i64>,
    pub updated_since: Option<Timestamp>,
}

fn group_not_found(cooperation_id: i64, id: i64) -> AppError {
    AppError::NotFound(format!("cooperation {cooperation_id} has no working group {id}"))
}

fn find(conn: &mut AnyConnection, cooperation_id: i64, id: i64) -> QueryResult<Option<WorkingGroup>> {
    working_groups::table
        .find(id)
        .filter(working_groups::cooperation_id.eq(cooperation_id))
        .select(WorkingGroup::as_select())
        .first(conn)
        .optional()
}

/// The groups with their fields and measures, two queries for any number.
fn records(conn: &mut AnyConnection, groups: Vec<WorkingGroup>) -> QueryResult<Vec<WorkingGroupRecord>> {
    let ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
    let mut fields: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut named: HashMap<i64, Vec<i64>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, i64)> = working_group_fields::table
            .filter(working_group_fields::working_group_id.eq_any(chunk))
            .select((working_group_fields::working_group_id, working_group_fields::field_id))
            .order((working_group_fields::working_group_id, working_group_fields::field_id))
            .load(conn)?;
        rows.into_iter().for_each(|(g, f)| fields.entry(g).or_default().push(f));
        let rows: Vec<(Option<i64>, i64)> = measures::table
            .filter(measures::working_group_id.eq_any(chunk))
            .select((measures::working_group_id, measures::id))
            .order(measures::id)
            .load(conn)?;
        rows.into_iter().for_each(|(g, m)| named.entry(g.unwrap_or_default()).or_default().push(m));
    }
    Ok(groups
        .into_iter()
        .map(|group| WorkingGroupRecord {
            field_ids: fields.remove(&group.id).unwrap_or_default(),
            measure_ids: named.remove(&group.id).unwrap_or_default(),
            group,
        })
        .collect())
}

/// One page of a cooperation's groups by id, or 404 for an unknown cooperation.
pub fn page(
    conn: &mut AnyConnection,
    cooperation_id: i64,
    filter: &WorkingGroupFilter,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<WorkingGroupRecord>, Option<String>), AppError> {
    cooperations::get(conn, cooperation_id)?;
    let mut query = working_groups::table
        .filter(working_groups::cooperation_id.eq(cooperation_id))
        .select(WorkingGroup::as_select())
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(working_groups::status.eq(<&str>::from(status)));
    }
    if let Some(field) = filter.field_id {
        let with_field = working_group_fields::table
            .filter(working_group_fields::field_id.eq(field))
            .select(working_group_fields::working_group_id);
        query = query.filter(working_groups::id.eq_any(with_field));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(working_groups::updated_at.ge(since));
    }
    if let Some(after) = after {
        query = query.filter(working_groups::id.gt(after));
    }
    let rows = query.order(working_groups::id).limit(limit + 1).load(conn)?;
    let (rows, next) = paginate(rows, limit, "id", |g: &WorkingGroup| After { key: String::new(), id: g.id });
    Ok((records(conn, rows)?, next))
}

/// One group of a cooperation, or 404.
pub fn get(conn: &mut AnyConnection, cooperation_id: i64, id: i64) -> Result<WorkingGroupRecord, AppError> {
    let group = find(conn, cooperation_id, id)?.ok_or_else(|| group_not_found(cooperation_id, id))?;
    Ok(records(conn, vec![group])?.remove(0))
}

/// One group by its id alone (the change feed), or 404.
pub fn get_any(conn: &mut AnyConnection, id: i64) -> Result<WorkingGroupRecord, AppError> {
    let group: WorkingGroup = working_groups::table
        .find(id)
        .select(WorkingGroup::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| crate::models::record::not_found("working group", id))?;
    Ok(records(conn, vec![group])?.remove(0))
}

/// The cooperation's current members, if the caller may change its groups (admins, or editors
/// of a member).
fn allowed(conn: &mut AnyConnection, caller: &Caller, cooperation_id: i64, action: &str) -> Result<Vec<i64>, AppError> {
    cooperations::get(conn, cooperation_id)?;
    let members = cooperations::current_member_ids(conn, cooperation_id)?;
    if !caller.is_admin() {
        caller.require_member(&members, action)?;
    }
    Ok(members)
}

/// Checks the references of a group: the fields exist, the moderator is a member.
fn check_references(conn: &mut AnyConnection, input: &CreateWorkingGroup, members: &[i64]) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let known: Vec<i64> = fields::table.filter(fields::id.eq_any(&input.field_ids)).select(fields::id).load(conn)?;
    for (i, f) in input.field_ids.iter().enumerate().filter(|(_, f)| !known.contains(f)) {
        errors.push(FieldError::new(format!("field_ids[{i}]"), "unknown_field", format!("there is no field {f}")));
    }
    if let Some(p) = input.moderator_partner_id.filter(|p| !members.contains(p)) {
        errors.push(FieldError::new(
            "moderator_partner_id",
            "not_a_member",
            format!("partner {p} is not a member of the cooperation"),
        ));
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

fn set_fields(conn: &mut AnyConnection, id: i64, field_ids: &[i64]) -> QueryResult<()> {
    diesel::delete(working_group_fields::table.filter(working_group_fields::working_group_id.eq(id))).execute(conn)?;
    for f in field_ids {
        diesel::insert_into(working_group_fields::table)
            .values((working_group_fields::working_group_id.eq(id), working_group_fields::field_id.eq(f)))
            .execute(conn)?;
    }
    Ok(())
}

/// Creates a group (admins, or editors of a member of the cooperation).
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    cooperation_id: i64,
    input: CreateWorkingGroup,
    now: Timestamp,
) -> Result<WorkingGroupRecord, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Cooperations, cooperation_id)?;
    let members = allowed(conn, caller, cooperation_id, "form working groups")?;
    check_references(conn, &input, &members)?;
    let values = (
        working_groups::cooperation_id.eq(cooperation_id),
        working_groups::name_folded.eq(domain::fold(&input.name)),
        working_groups::name.eq(&input.name),
        working_groups::moderator_partner_id.eq(input.moderator_partner_id),
        working_groups::status.eq(<&str>::from(input.status)),
        working_groups::member_count.eq(0),
        working_groups::created_at.eq(now),
        working_groups::updated_at.eq(now),
    );
    let id: i64 = crate::per_backend!(&mut *conn, |c| diesel::insert_into(working_groups::table)
        .values(values)
        .returning(working_groups::id)
        .get_result(c))?;
    set_fields(conn, id, &input.field_ids)?;
    changes::changed(conn, caller, Resource::WorkingGroups, id, Op::Created, now)?;
    get(conn, cooperation_id, id)
}

/// Changes a group (JSON Merge Patch; admins, or editors of a member of the cooperation).
#[allow(clippy::too_many_arguments)]
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    cooperation_id: i64,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<WorkingGroupRecord, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::WorkingGroups, id)?;
    let current = get(conn, cooperation_id, id)?;
    let members = allowed(conn, caller, cooperation_id, "change working groups")?;
    let base = CreateWorkingGroup::from_record(&current);
    let input: CreateWorkingGroup = patch.apply(&base)?;
    if_match.check_version(current.group.updated_at)?;
    if input == base {
        return Ok(current);
    }
    check_references(conn, &input, &members)?;
    let target = working_groups::table.find(id).filter(working_groups::updated_at.eq(current.group.updated_at));
    let changed = diesel::update(target)
        .set((
            working_groups::name_folded.eq(domain::fold(&input.name)),
            working_groups::name.eq(&input.name),
            working_groups::moderator_partner_id.eq(input.moderator_partner_id),
            working_groups::status.eq(<&str>::from(input.status)),
            working_groups::updated_at.eq(now),
        ))
        .execute(conn)?;
    if changed == 0 {
        return Err(changed_meanwhile("working group"));
    }
    if input.field_ids != base.field_ids {
        set_fields(conn, id, &input.field_ids)?;
    }
    changes::changed(conn, caller, Resource::WorkingGroups, id, Op::Updated, now)?;
    get(conn, cooperation_id, id)
}

/// Deletes a group (admins, or editors of a member); refused while measures name it.
pub fn delete(
    conn: &mut AnyConnection,
    caller: &Caller,
    cooperation_id: i64,
    id: i64,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::WorkingGroups, id)?;
    let current = get(conn, cooperation_id, id)?;
    allowed(conn, caller, cooperation_id, "delete working groups")?;
    if_match.check_version(current.group.updated_at)?;
    if !current.measure_ids.is_empty() {
        let ids: Vec<String> = current.measure_ids.iter().take(20).map(i64::to_string).collect();
        return Err(AppError::Conflict(format!(
            "working group {id} is still named by measure(s) {}: set their `working_group_id` to another group or null first",
            ids.join(", ")
        )));
    }
    diesel::delete(working_groups::table.find(id)).execute(conn)?;
    changes::deleted(conn, caller, Resource::WorkingGroups, id, now)?;
    Ok(())
}

/// Whether `id` is a working group of `cooperation_id` (for the measures that name one).
pub fn belongs_to(conn: &mut AnyConnection, id: i64, cooperation_id: i64) -> QueryResult<bool> {
    Ok(find(conn, cooperation_id, id)?.is_some())
}
