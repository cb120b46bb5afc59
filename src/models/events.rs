//! Events of a cooperation: workshops, staff days, joint assemblies, steering meetings; who
//! organised them, how many took part, their theme groups and outcomes, and the measures that
//! came out of them or were presented there. Public records, read like measures.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::keyset::{After, paginate};
use crate::db::schema::{event_measures, event_organisers, events, fields, measures, partners};
use crate::db::{AnyConnection, Timestamp};
use crate::domain;
use crate::error::{AppError, FieldError};
use crate::models::cooperations;
use crate::models::input::Normalize;
use crate::models::record::{IfMatch, Patch, not_found};

/// What kind of event.
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
pub enum EventKind {
    /// A workshop, e.g. of a city and its rural neighbours.
    Workshop,
    /// A joint staff day (Mitarbeitertag) of the partners' staff.
    StaffDay,
    /// A joint assembly of the councils (Verbandsversammlung).
    Assembly,
    /// A meeting of the steering group.
    SteeringMeeting,
    /// Anything else.
    Other,
}

crate::stored_enum!(EventKind);

/// A theme group of an event (e.g. one of seven at a staff day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThemeGroup {
    /// Its name, 1–200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "Digitale Akte", min_length = 1, max_length = 200)]
    pub name: String,
    /// Its field of action.
    #[serde(default)]
    pub field_id: Option<i64>,
}

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Event {
    pub id: i64,
    pub cooperation_id: i64,
    #[diesel(deserialize_as = String)]
    pub kind: EventKind,
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub place: Option<String>,
    pub participant_count: Option<i32>,
    pub theme_groups: String,
    pub outcomes: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An event with its organisers, theme groups and measures.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub event: Event,
    pub organiser_partner_ids: Vec<i64>,
    pub theme_groups: Vec<ThemeGroup>,
    pub measure_ids: Vec<i64>,
}

/// A new event (a PATCH takes any subset of the same fields; `null` clears optional ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "dates_in_order", skip_on_field_errors = false))]
pub struct CreateEvent {
    /// What kind of event.
    pub kind: EventKind,
    /// Title, 1–300 characters.
    #[validate(length(min = 1, max = 300, message = "must be 1 to 300 characters"))]
    #[schema(example = "1. Gemeinsamer Mitarbeitertag", min_length = 1, max_length = 300)]
    pub title: String,
    /// First day.
    #[validate(custom(function = "validate_day"))]
    #[schema(example = "2026-09-24")]
    pub starts_on: NaiveDate,
    /// Last day, not before `starts_on` (none: one day).
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    /// Where, up to 300 characters.
    #[validate(length(max = 300, message = "must be at most 300 characters"))]
    #[serde(default)]
    #[schema(example = "Bürgerhaus Heidenau", max_length = 300)]
    pub place: Option<String>,
    /// The partners who organised it (any partner, e.g. a ministry).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub organiser_partner_ids: Vec<i64>,
    /// How many took part, 0 or more.
    #[validate(range(min = 0, message = "must not be negative"))]
    #[serde(default)]
    #[schema(example = 60, minimum = 0)]
    pub participant_count: Option<i32>,
    /// Its theme groups, at most 100.
    #[validate(nested)]
    #[serde(default)]
    #[schema(max_items = 100)]
    pub theme_groups: Vec<ThemeGroup>,
    /// What came out of it (markdown), up to 20,000 characters.
    #[validate(length(max = 20000, message = "must be at most 20000 characters"))]
    #[serde(default)]
    #[schema(max_length = 20000)]
    pub outcomes: Option<String>,
    /// Measures of the cooperation that came out of it or were presented there.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub measure_ids: Vec<i64>,
}

fn validate_day(date: &NaiveDate) -> Result<(), validator::ValidationError> {
    domain::validate_year(&date)
}

fn dates_in_order(e: &CreateEvent) -> Result<(), validator::ValidationError> {
    domain::validate_date_order(Some(e.starts_on), e.ends_on, "ends_on")
}

impl Normalize for CreateEvent {
    const NOT_NULL: &'static [&'static str] = &["kind", "title", "starts_on"];

    fn normalize(&mut self) {
        domain::trim(&mut self.title);
        domain::trim_opt(&mut self.place);
        domain::trim_opt(&mut self.outcomes);
        self.theme_groups.iter_mut().for_each(|t| domain::trim(&mut t.name));
        for ids in [&mut self.organiser_partner_ids, &mut self.measure_ids] {
            ids.sort_unstable();
            ids.dedup();
        }
    }

    fn check(&self) -> Vec<FieldError> {
        let too_many = |field: &str, n: usize, max: usize| {
            (n > max).then(|| FieldError::new(field, "length", format!("must hold at most {max} entries")))
        };
        [
            too_many("organiser_partner_ids", self.organiser_partner_ids.len(), 100),
            too_many("theme_groups", self.theme_groups.len(), 100),
            too_many("measure_ids", self.measure_ids.len(), 500),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl CreateEvent {
    fn from_record(r: &EventRecord) -> Self {
        let e = &r.event;
        Self {
            kind: e.kind,
            title: e.title.clone(),
            starts_on: e.starts_on,
            ends_on: e.ends_on,
            place: e.place.clone(),
            organiser_partner_ids: r.organiser_partner_ids.clone(),
            participant_count: e.participant_count,
            theme_groups: r.theme_groups.clone(),
            outcomes: e.outcomes.clone(),
            measure_ids: r.measure_ids.clone(),
        }
    }
}

/// Filters of the event list.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub kind: Option<EventKind>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub updated_since: Option<Timestamp>,
}

fn event_not_found(cooperation_id: i64, id: i64) -> AppError {
    AppError::NotFound(format!("cooperation {cooperation_id} has no event {id}"))
}

fn records(conn: &mut AnyConnection, rows: Vec<Event>) -> Result<Vec<EventRecord>, AppError> {
    let ids: Vec<i64> = rows.iter().map(|e| e.id).collect();
    let (mut organisers, mut named): (HashMap<i64, Vec<i64>>, HashMap<i64, Vec<i64>>) = Default::default();
    for chunk in ids.chunks(500) {
        let rows: Vec<(i64, i64)> = event_organisers::table
            .filter(event_organisers::event_id.eq_any(chunk))
            .select((event_organisers::event_id, event_organisers::partner_id))
            .order((event_organisers::event_id, event_organisers::partner_id))
            .load(conn)?;
        rows.into_iter().for_each(|(e, p)| organisers.entry(e).or_default().push(p));
        let rows: Vec<(i64, i64)> = event_measures::table
            .filter(event_measures::event_id.eq_any(chunk))
            .select((event_measures::event_id, event_measures::measure_id))
            .order((event_measures::event_id, event_measures::measure_id))
            .load(conn)?;
        rows.into_iter().for_each(|(e, m)| named.entry(e).or_default().push(m));
    }
    rows.into_iter()
        .map(|event| {
            let theme_groups = serde_json::from_str(&event.theme_groups)
                .map_err(|_| AppError::Internal(format!("event {} has unreadable theme groups", event.id)))?;
            Ok(EventRecord {
                organiser_partner_ids: organisers.remove(&event.id).unwrap_or_default(),
                measure_ids: named.remove(&event.id).unwrap_or_default(),
                theme_groups,
                event,
            })
        })
        .collect()
}

/// One page of a cooperation's events, earliest first (`starts_on`, then id), or 404.
pub fn page(
    conn: &mut AnyConnection,
    cooperation_id: i64,
    filter: &EventFilter,
    after: Option<After>,
    limit: i64,
) -> Result<(Vec<EventRecord>, Option<String>), AppError> {
    cooperations::get(conn, cooperation_id)?;
    let mut query =
        events::table.filter(events::cooperation_id.eq(cooperation_id)).select(Event::as_select()).into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(events::kind.eq(<&str>::from(kind)));
    }
    if let Some(from) = filter.from {
        query = query.filter(events::starts_on.ge(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(events::starts_on.le(to));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(events::updated_at.ge(since));
    }
    if let Some(After { key, id }) = after {
        let day: NaiveDate = key.parse().map_err(|_| AppError::BadRequest {
            slug: "invalid-cursor",
            detail: "the cursor is not valid: bad position; use `next_cursor` of the previous page unchanged".into(),
            errors: vec![],
        })?;
        query = query.filter(events::starts_on.gt(day).or(events::starts_on.eq(day).and(events::id.gt(id))));
    }
    let rows: Vec<Event> = query.order((events::starts_on, events::id)).limit(limit + 1).load(conn)?;
    let (rows, next) = paginate(rows, limit, "starts_on", |e| After { key: e.starts_on.to_string(), id: e.id });
    Ok((records(conn, rows)?, next))
}

/// One event of a cooperation, or 404.
pub fn get(conn: &mut AnyConnection, cooperation_id: i64, id: i64) -> Result<EventRecord, AppError> {
    let row: Event = events::table
        .find(id)
        .filter(events::cooperation_id.eq(cooperation_id))
        .select(Event::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| event_not_found(cooperation_id, id))?;
    Ok(records(conn, vec![row])?.remove(0))
}

/// One event by its id alone (the change feed), or 404.
pub fn get_any(conn: &mut AnyConnection, id: i64) -> Result<EventRecord, AppError> {
    let row: Event = events::table
        .find(id)
        .select(Event::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("event", id))?;
    Ok(records(conn, vec![row])?.remove(0))
}

/// Checks the caller's rights (admins, or editors of a member of the cooperation).
fn allowed(conn: &mut AnyConnection, caller: &Caller, cooperation_id: i64, action: &str) -> Result<(), AppError> {
    cooperations::get(conn, cooperation_id)?;
    if !caller.is_admin() {
        caller.require_member(&cooperations::current_member_ids(conn, cooperation_id)?, action)?;
    }
    Ok(())
}

/// Checks the references: organisers and theme-group fields exist, measures are the cooperation's.
fn check_references(conn: &mut AnyConnection, cooperation_id: i64, input: &CreateEvent) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let known: Vec<i64> =
        partners::table.filter(partners::id.eq_any(&input.organiser_partner_ids)).select(partners::id).load(conn)?;
    for (i, p) in input.organiser_partner_ids.iter().enumerate().filter(|(_, p)| !known.contains(p)) {
        errors.push(FieldError::new(
            format!("organiser_partner_ids[{i}]"),
            "unknown_partner",
            format!("there is no partner {p}"),
        ));
    }
    let wanted: Vec<i64> = input.theme_groups.iter().filter_map(|t| t.field_id).collect();
    let known: Vec<i64> = fields::table.filter(fields::id.eq_any(&wanted)).select(fields::id).load(conn)?;
    for (i, t) in input.theme_groups.iter().enumerate() {
        if let Some(f) = t.field_id.filter(|f| !known.contains(f)) {
            errors.push(FieldError::new(
                format!("theme_groups[{i}].field_id"),
                "unknown_field",
                format!("there is no field {f}"),
            ));
        }
    }
    let own: Vec<i64> = measures::table
        .filter(measures::id.eq_any(&input.measure_ids))
        .filter(measures::cooperation_id.eq(cooperation_id))
        .select(measures::id)
        .load(conn)?;
    for (i, m) in input.measure_ids.iter().enumerate().filter(|(_, m)| !own.contains(m)) {
        errors.push(FieldError::new(
            format!("measure_ids[{i}]"),
            "unknown_measure",
            format!("cooperation {cooperation_id} has no measure {m}"),
        ));
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// The columns of an event.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = events, treat_none_as_null = true, treat_none_as_default_value = false)]
struct EventData {
    kind: String,
    title: String,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
    place: Option<String>,
    participant_count: Option<i32>,
    theme_groups: String,
    outcomes: Option<String>,
}

fn columns(input: &CreateEvent) -> EventData {
    EventData {
        kind: <&str>::from(input.kind).to_owned(),
        title: input.title.clone(),
        starts_on: input.starts_on,
        ends_on: input.ends_on,
        place: input.place.clone(),
        participant_count: input.participant_count,
        theme_groups: serde_json::to_string(&input.theme_groups).unwrap_or_else(|_| "[]".into()),
        outcomes: input.outcomes.clone(),
    }
}

fn set_links(conn: &mut AnyConnection, id: i64, input: &CreateEvent) -> QueryResult<()> {
    diesel::delete(event_organisers::table.filter(event_organisers::event_id.eq(id))).execute(conn)?;
    for p in &input.organiser_partner_ids {
        diesel::insert_into(event_organisers::table)
            .values((event_organisers::event_id.eq(id), event_organisers::partner_id.eq(p)))
            .execute(conn)?;
    }
    diesel::delete(event_measures::table.filter(event_measures::event_id.eq(id))).execute(conn)?;
    for m in &input.measure_ids {
        diesel::insert_into(event_measures::table)
            .values((event_measures::event_id.eq(id), event_measures::measure_id.eq(m)))
            .execute(conn)?;
    }
    Ok(())
}

/// Records an event (admins, or editors of a member of the cooperation).
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    cooperation_id: i64,
    input: CreateEvent,
    now: Timestamp,
) -> Result<EventRecord, AppError> {
    allowed(conn, caller, cooperation_id, "record events")?;
    check_references(conn, cooperation_id, &input)?;
    let values = (
        events::cooperation_id.eq(cooperation_id),
        columns(&input),
        events::created_at.eq(now),
        events::updated_at.eq(now),
    );
    let id: i64 = crate::per_backend!(&mut *conn, |c| diesel::insert_into(events::table)
        .values(values)
        .returning(events::id)
        .get_result(c))?;
    set_links(conn, id, &input)?;
    changes::changed(conn, caller, Resource::Events, id, Op::Created, now)?;
    get(conn, cooperation_id, id)
}

/// Changes an event (JSON Merge Patch; admins, or editors of a member of the cooperation).
#[allow(clippy::too_many_arguments)]
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    cooperation_id: i64,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<EventRecord, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Events, id)?;
    let current = get(conn, cooperation_id, id)?;
    allowed(conn, caller, cooperation_id, "change events")?;
    let base = CreateEvent::from_record(&current);
    let input: CreateEvent = patch.apply(&base)?;
    if_match.check_version(current.event.updated_at)?;
    if input == base {
        return Ok(current);
    }
    check_references(conn, cooperation_id, &input)?;
    diesel::update(events::table.find(id)).set((columns(&input), events::updated_at.eq(now))).execute(conn)?;
    set_links(conn, id, &input)?;
    changes::changed(conn, caller, Resource::Events, id, Op::Updated, now)?;
    get(conn, cooperation_id, id)
}

/// Deletes an event (admins, or editors of a member of the cooperation).
pub fn delete(
    conn: &mut AnyConnection,
    caller: &Caller,
    cooperation_id: i64,
    id: i64,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Events, id)?;
    let current = get(conn, cooperation_id, id)?;
    allowed(conn, caller, cooperation_id, "delete events")?;
    if_match.check_version(current.event.updated_at)?;
    diesel::delete(events::table.find(id)).execute(conn)?;
    changes::deleted(conn, caller, Resource::Events, id, now)?;
    Ok(())
}

/// Before a measure is deleted: the events that list it get a new version (the link goes with
/// the measure).
pub fn forget_measure(
    conn: &mut AnyConnection,
    caller: &Caller,
    measure_id: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    let listing: Vec<i64> = event_measures::table
        .filter(event_measures::measure_id.eq(measure_id))
        .select(event_measures::event_id)
        .load(conn)?;
    for id in listing {
        diesel::update(events::table.find(id)).set(events::updated_at.eq(now)).execute(conn)?;
        changes::changed(conn, caller, Resource::Events, id, Op::Updated, now)?;
    }
    Ok(())
}
