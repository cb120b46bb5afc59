//! Measures: cooperation ideas and projects, their participants and history.

pub mod decisions;
mod input;
pub mod progress;
mod rules;
pub mod sign_offs;

pub use input::{CreateMeasure, CreateTransition};
pub use rules::{
    HistoryRecord, MeasureRecord, check_create, check_update, create, delete, get, history_page, page, portfolio,
    put_by_ref, transition, update,
};

use crate::db::Timestamp;
use crate::models::external_refs::{ExternalRefs, RefFilter};
use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::db::AnyConnection;
use crate::db::keyset::{After, parse_timestamp_key, timestamp_key};
use crate::db::schema::{fields, measure_history, measure_partners, measures};
use crate::domain::measures::MeasureStatus;
use crate::error::AppError;
use crate::models::ids::{CooperationId, PartnerId};
use crate::{keyset, per_backend};

crate::stored_enum!(MeasureStatus);

/// A stored measure.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = measures, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Measure {
    pub id: i64,
    pub cooperation_id: i64,
    pub field_id: i64,
    pub parent_id: Option<i64>,
    pub title: String,
    pub title_folded: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    #[diesel(deserialize_as = String)]
    pub status: MeasureStatus,
    pub resume_status: Option<String>,
    pub horizon: Option<String>,
    pub benefit: Option<i32>,
    pub cost: Option<i32>,
    pub effort: Option<i32>,
    pub estimated_cost_eur: Option<i64>,
    pub priority_score: Option<i32>,
    pub priority_rank: i32,
    pub lead_partner_id: Option<i64>,
    pub responsible_partner_id: Option<i64>,
    pub responsible_contact_id: Option<i64>,
    pub planned_start: Option<NaiveDate>,
    pub planned_end: Option<NaiveDate>,
    #[diesel(deserialize_as = crate::db::time::StoredDate)]
    pub planned_end_rank: NaiveDate,
    pub description_signed_on: Option<NaiveDate>,
    pub progress: i32,
    pub council_refs: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[diesel(deserialize_as = String)]
    pub external_refs: ExternalRefs,
    /// Derived: every partner of the measure (lead and participating) has an approving
    /// council decision ([`decisions`]).
    pub councils_agreed: bool,
    pub annual_cost_before_eur: Option<i64>,
    pub annual_cost_after_eur: Option<i64>,
    pub commitment_years: Option<i32>,
    /// Derived: `annual_cost_before_eur − annual_cost_after_eur`.
    pub savings_eur: Option<i64>,
    /// Derived: the savings in tenths of a percent of the cost before.
    pub savings_percent_tenths: Option<i32>,
    /// The partners who must sign (JSON list); `None`: the lead and participating partners.
    pub signatory_partner_ids: Option<String>,
    /// `progress` was set by hand; otherwise it is derived from the sub-measures ([`progress`]).
    pub progress_manual: bool,
    /// The working group that examined it.
    pub working_group_id: Option<i64>,
    /// How many council decisions it has (stored with them: a read skips the lookup at 0).
    pub decision_count: i32,
    /// How many sign-offs it has (likewise).
    pub sign_off_count: i32,
}

/// A stored measure with its participating partners, read in one query.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = measures, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct MeasureRow {
    #[diesel(embed)]
    pub measure: Measure,
    /// `measures.partner_ids`: the participating partners, ascending and comma-separated
    /// (`"3,7,12"`), copied from `measure_partners` by triggers (migration
    /// `2026-11-21-000007_measure_partner_ids`), so that a read needs no lookup there per row.
    partner_ids: Option<String>,
}

impl MeasureRow {
    /// The measure and its participating partners, ascending.
    pub fn into_parts(self) -> (Measure, Vec<i64>) {
        let ids = self.partner_ids.as_deref().unwrap_or("").split(',').filter_map(|id| id.parse().ok()).collect();
        (self.measure, ids)
    }
}

/// The writable columns of a measure, derived ones included. Every column is written, `None` as
/// NULL, in inserts too (no column has a default that `None` should stand for): the SQL of both
/// statements is then fixed and stays prepared, where an insert that leaves out its `None`
/// columns has SQL of its own for each combination and is rendered anew on every run.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = measures, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct MeasureData {
    pub cooperation_id: i64,
    pub field_id: i64,
    pub parent_id: Option<i64>,
    pub title: String,
    pub title_folded: String,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub status: String,
    pub resume_status: Option<String>,
    pub horizon: Option<String>,
    pub benefit: Option<i32>,
    pub cost: Option<i32>,
    pub effort: Option<i32>,
    pub estimated_cost_eur: Option<i64>,
    pub priority_score: Option<i32>,
    pub priority_rank: i32,
    pub lead_partner_id: Option<i64>,
    pub responsible_partner_id: Option<i64>,
    pub responsible_contact_id: Option<i64>,
    pub planned_start: Option<NaiveDate>,
    pub planned_end: Option<NaiveDate>,
    pub planned_end_rank: NaiveDate,
    pub description_signed_on: Option<NaiveDate>,
    pub progress: i32,
    pub council_refs: String,
    pub external_refs: String,
    pub annual_cost_before_eur: Option<i64>,
    pub annual_cost_after_eur: Option<i64>,
    pub commitment_years: Option<i32>,
    pub savings_eur: Option<i64>,
    pub savings_percent_tenths: Option<i32>,
    pub signatory_partner_ids: Option<String>,
    pub progress_manual: bool,
    pub working_group_id: Option<i64>,
}

/// One entry of a measure's history.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = measure_history, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct HistoryEntry {
    pub id: i64,
    pub measure_id: i64,
    pub event: String,
    pub from_status: Option<String>,
    #[diesel(deserialize_as = String)]
    pub to_status: MeasureStatus,
    pub comment: Option<String>,
    pub actor: String,
    pub created_at: Timestamp,
}

/// Filters of the measure list; all combined with AND.
#[derive(Debug, Default, Clone)]
pub struct MeasureFilter {
    pub cooperation_id: Option<i64>,
    pub field_id: Option<i64>,
    pub field_key: Option<String>,
    pub statuses: Vec<String>,
    pub horizon: Option<String>,
    /// Lead, participating or responsible partner.
    pub partner_id: Option<i64>,
    /// LIKE pattern on the folded title.
    pub title_pattern: Option<String>,
    pub min_priority: Option<i32>,
    /// Only measures changed at or after this instant.
    pub updated_since: Option<Timestamp>,
    /// Only measures holding this external reference.
    pub external_ref: Option<RefFilter>,
    /// Only measures this working group examined.
    pub working_group_id: Option<i64>,
}

/// Orders of the measure list.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, strum::IntoStaticStr)]
pub enum MeasureSort {
    /// Highest priority first; unassessed measures last.
    #[default]
    #[serde(rename = "-priority_score")]
    #[strum(serialize = "-priority_score")]
    PriorityDesc,
    /// Lowest priority first; unassessed measures first.
    #[serde(rename = "priority_score")]
    #[strum(serialize = "priority_score")]
    Priority,
    /// Least recently changed first.
    #[serde(rename = "updated_at")]
    #[strum(serialize = "updated_at")]
    UpdatedAt,
    /// Most recently changed first.
    #[serde(rename = "-updated_at")]
    #[strum(serialize = "-updated_at")]
    UpdatedAtDesc,
    /// Title A–Z.
    #[serde(rename = "title")]
    #[strum(serialize = "title")]
    Title,
    /// Title Z–A.
    #[serde(rename = "-title")]
    #[strum(serialize = "-title")]
    TitleDesc,
    /// Earliest planned end first; unplanned last.
    #[serde(rename = "planned_end")]
    #[strum(serialize = "planned_end")]
    PlannedEnd,
    /// Latest planned end first; unplanned first.
    #[serde(rename = "-planned_end")]
    #[strum(serialize = "-planned_end")]
    PlannedEndDesc,
}

impl MeasureSort {
    /// The value clients send.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    fn descending(self) -> bool {
        matches!(self, Self::PriorityDesc | Self::UpdatedAtDesc | Self::TitleDesc | Self::PlannedEndDesc)
    }

    /// The keyset position after a row.
    pub fn after(self, row: &Measure) -> After {
        let key = match self {
            Self::Priority | Self::PriorityDesc => row.priority_rank.to_string(),
            Self::UpdatedAt | Self::UpdatedAtDesc => timestamp_key(row.updated_at),
            Self::Title | Self::TitleDesc => row.title_folded.clone(),
            Self::PlannedEnd | Self::PlannedEndDesc => row.planned_end_rank.to_string(),
        };
        After { key, id: row.id }
    }
}

fn bad_cursor() -> AppError {
    AppError::BadRequest {
        slug: "invalid-cursor",
        detail: "the cursor is not valid: bad position; use `next_cursor` of the previous page unchanged".into(),
        errors: vec![],
    }
}

/// Inserts a measure with its participating partners.
pub fn insert(
    conn: &mut AnyConnection,
    data: &MeasureData,
    partner_ids: &[i64],
    now: Timestamp,
) -> QueryResult<Measure> {
    let values = (data, measures::created_at.eq(now), measures::updated_at.eq(now));
    let measure = per_backend!(&mut *conn, |c| diesel::insert_into(measures::table)
        .values(values)
        .returning(Measure::as_returning())
        .get_result(c))?;
    change_partners(conn, measure.id, &[], partner_ids)?;
    if data.council_refs != "[]" {
        link_council_refs(conn, measure.id, &data.council_refs)?;
    }
    Ok(measure)
}

/// Keeps the keys that link the measure to council papers ([`crate::models::council`]) equal to
/// its `council_refs` (a stored JSON list of URLs).
fn link_council_refs(conn: &mut AnyConnection, measure_id: i64, council_refs: &str) -> QueryResult<()> {
    let refs: Vec<String> = serde_json::from_str(council_refs).unwrap_or_default();
    crate::models::council::set_measure_refs(conn, measure_id, &refs)
}

/// Loads one measure.
pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Measure>> {
    per_backend!(conn, |c| measures::table.find(id).select(Measure::as_select()).first(c).optional())
}

/// Loads one measure with its participating partners (the hottest read: a prepared statement
/// found without walking the query, see `db::statements`).
pub fn find_row(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<MeasureRow>> {
    crate::run_find_by_id!(conn, FindMeasureRow, id)
}

crate::find_by_id_statement!(FindMeasureRow, MeasureRow, measures::table);

/// Replaces a measure's columns if it is still at version `seen`.
fn update_row(
    conn: &mut AnyConnection,
    current: &Measure,
    data: &MeasureData,
    now: Timestamp,
) -> QueryResult<Option<Measure>> {
    // Both statements set a fixed list of columns, so their SQL never changes and they stay
    // prepared (see `db::statements`). Where no indexed column changes (a PATCH of progress,
    // texts or costs), only the unindexed columns are set: a column in `SET` makes the database
    // rewrite every index that holds it, even to the same value (on SQLite twelve indexes).
    let filter = measures::id.eq(current.id).and(measures::updated_at.eq(current.updated_at));
    let changed = if data.indexed_columns_equal(current) {
        crate::replace_columns_statement!(ReplaceUnindexed, "measures");
        let statement =
            ReplaceUnindexed { set: (UnindexedData::from(data), measures::updated_at.eq(now)).as_changeset(), filter };
        per_backend!(conn, |c| statement.execute(c))?
    } else {
        crate::replace_columns_statement!(ReplaceMeasure, "measures");
        let statement = ReplaceMeasure { set: (data, measures::updated_at.eq(now)).as_changeset(), filter };
        per_backend!(conn, |c| statement.execute(c))?
    };
    if changed == 0 {
        return Ok(None);
    }
    if data.council_refs != current.council_refs {
        link_council_refs(conn, current.id, &data.council_refs)?;
    }
    find(conn, current.id)
}

/// The columns of a measure that no index holds: those a PATCH can set without touching an index.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = measures, treat_none_as_null = true)]
struct UnindexedData<'a> {
    title: &'a str,
    summary: Option<&'a str>,
    description: Option<&'a str>,
    resume_status: Option<&'a str>,
    benefit: Option<i32>,
    cost: Option<i32>,
    effort: Option<i32>,
    estimated_cost_eur: Option<i64>,
    priority_score: Option<i32>,
    planned_start: Option<NaiveDate>,
    planned_end: Option<NaiveDate>,
    description_signed_on: Option<NaiveDate>,
    progress: i32,
    council_refs: &'a str,
    external_refs: &'a str,
    annual_cost_before_eur: Option<i64>,
    annual_cost_after_eur: Option<i64>,
    commitment_years: Option<i32>,
    savings_eur: Option<i64>,
    savings_percent_tenths: Option<i32>,
    signatory_partner_ids: Option<&'a str>,
    progress_manual: bool,
}

impl<'a> From<&'a MeasureData> for UnindexedData<'a> {
    fn from(data: &'a MeasureData) -> Self {
        Self {
            title: &data.title,
            summary: data.summary.as_deref(),
            description: data.description.as_deref(),
            resume_status: data.resume_status.as_deref(),
            benefit: data.benefit,
            cost: data.cost,
            effort: data.effort,
            estimated_cost_eur: data.estimated_cost_eur,
            priority_score: data.priority_score,
            planned_start: data.planned_start,
            planned_end: data.planned_end,
            description_signed_on: data.description_signed_on,
            progress: data.progress,
            council_refs: &data.council_refs,
            external_refs: &data.external_refs,
            annual_cost_before_eur: data.annual_cost_before_eur,
            annual_cost_after_eur: data.annual_cost_after_eur,
            commitment_years: data.commitment_years,
            savings_eur: data.savings_eur,
            savings_percent_tenths: data.savings_percent_tenths,
            signatory_partner_ids: data.signatory_partner_ids.as_deref(),
            progress_manual: data.progress_manual,
        }
    }
}

impl MeasureData {
    /// Whether every column that an index of `measures` holds is as stored (`updated_at` aside,
    /// which every write sets). Every column is named here, so a new one must be placed: an
    /// indexed column compared, an unindexed one (`_`) also in [`UnindexedData`], or its change
    /// would not be written by the narrow statement.
    fn indexed_columns_equal(&self, stored: &Measure) -> bool {
        let MeasureData {
            cooperation_id,
            field_id,
            parent_id,
            title: _,
            title_folded,
            summary: _,
            description: _,
            status,
            resume_status: _,
            horizon,
            benefit: _,
            cost: _,
            effort: _,
            estimated_cost_eur: _,
            priority_score: _,
            priority_rank,
            lead_partner_id,
            responsible_partner_id,
            responsible_contact_id,
            planned_start: _,
            planned_end: _,
            planned_end_rank,
            description_signed_on: _,
            progress: _,
            council_refs: _,
            external_refs: _,
            annual_cost_before_eur: _,
            annual_cost_after_eur: _,
            commitment_years: _,
            savings_eur: _,
            savings_percent_tenths: _,
            signatory_partner_ids: _,
            progress_manual: _,
            working_group_id,
        } = self;
        *cooperation_id == stored.cooperation_id
            && *field_id == stored.field_id
            && *parent_id == stored.parent_id
            && *title_folded == stored.title_folded
            && status.as_str() == stored.status.as_str()
            && *horizon == stored.horizon
            && *priority_rank == stored.priority_rank
            && *lead_partner_id == stored.lead_partner_id
            && *responsible_partner_id == stored.responsible_partner_id
            && *responsible_contact_id == stored.responsible_contact_id
            && *planned_end_rank == stored.planned_end_rank
            && *working_group_id == stored.working_group_id
    }
}

/// Sets status, resume status and progress if the measure is still at version `seen`.
pub fn set_status(
    conn: &mut AnyConnection,
    id: i64,
    status: &str,
    resume: Option<&str>,
    progress: i32,
    seen: Timestamp,
    now: Timestamp,
) -> QueryResult<bool> {
    let target = measures::table.find(id).filter(measures::updated_at.eq(seen));
    let changed = diesel::update(target)
        .set((
            measures::status.eq(status),
            measures::resume_status.eq(resume),
            measures::progress.eq(progress),
            measures::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}

/// Detaches the erased contact from the measures that named it and notes it in their history.
pub fn forget_contact(conn: &mut AnyConnection, contact_id: i64, actor: &str, now: Timestamp) -> QueryResult<Vec<i64>> {
    let named = naming_contact(conn, contact_id)?;
    for (id, status) in &named {
        diesel::update(measures::table.find(id))
            .set((measures::responsible_contact_id.eq(None::<i64>), measures::updated_at.eq(now)))
            .execute(conn)?;
        record(
            conn,
            *id,
            "contact_erased",
            Some(status),
            status,
            Some("the responsible contact was erased"),
            actor,
            now,
        )?;
    }
    Ok(named.into_iter().map(|(id, _)| id).collect())
}

/// Takes the sub-measures of a measure about to be deleted off it (each gets a new version);
/// returns their ids. (The foreign key's `ON DELETE SET NULL` alone would change them unseen.)
pub fn detach_children(conn: &mut AnyConnection, parent: i64, now: Timestamp) -> QueryResult<Vec<i64>> {
    let children: Vec<i64> =
        measures::table.filter(measures::parent_id.eq(parent)).select(measures::id).order(measures::id).load(conn)?;
    if !children.is_empty() {
        diesel::update(measures::table.filter(measures::parent_id.eq(parent)))
            .set((measures::parent_id.eq(None::<i64>), measures::updated_at.eq(now)))
            .execute(conn)?;
    }
    Ok(children)
}

/// Deletes a measure (its sub-measures keep existing without parent).
fn delete_row(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(measures::table.find(id)).execute(conn)? > 0)
}

/// The partners taking part in a measure, ascending.
pub fn partner_ids(conn: &mut AnyConnection, measure_id: i64) -> QueryResult<Vec<i64>> {
    per_backend!(conn, |c| measure_partners::table
        .filter(measure_partners::measure_id.eq(measure_id))
        .select(measure_partners::partner_id)
        .order(measure_partners::partner_id)
        .load(c))
}

/// Changes the partners taking part in a measure from `before` (as stored) to `after`, writing
/// only the difference: a change that leaves them alone writes nothing here. The triggers copy
/// the result into `measures.partner_ids`.
pub fn change_partners(conn: &mut AnyConnection, measure_id: i64, before: &[i64], after: &[i64]) -> QueryResult<()> {
    for &gone in before.iter().filter(|p| !after.contains(p)) {
        let row = measure_partners::table
            .filter(measure_partners::measure_id.eq(measure_id))
            .filter(measure_partners::partner_id.eq(gone));
        per_backend!(&mut *conn, |c| diesel::delete(row).execute(c))?;
    }
    for &added in after.iter().filter(|p| !before.contains(p)) {
        let row = (measure_partners::measure_id.eq(measure_id), measure_partners::partner_id.eq(added));
        per_backend!(&mut *conn, |c| diesel::insert_into(measure_partners::table).values(row).execute(c))?;
    }
    Ok(())
}

/// Records an event in a measure's history.
#[allow(clippy::too_many_arguments)]
pub fn record(
    conn: &mut AnyConnection,
    measure_id: i64,
    event: &str,
    from: Option<&str>,
    to: &str,
    comment: Option<&str>,
    actor: &str,
    now: Timestamp,
) -> QueryResult<()> {
    let values = (
        measure_history::measure_id.eq(measure_id),
        measure_history::event.eq(event),
        measure_history::from_status.eq(from),
        measure_history::to_status.eq(to),
        measure_history::comment.eq(comment),
        measure_history::actor.eq(actor),
        measure_history::created_at.eq(now),
    );
    per_backend!(conn, |c| diesel::insert_into(measure_history::table).values(values).execute(c)).map(|_| ())
}

/// One page of a measure's history, oldest first (`limit + 1` rows).
pub fn history(
    conn: &mut AnyConnection,
    measure_id: i64,
    after_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<HistoryEntry>> {
    let mut query = measure_history::table
        .filter(measure_history::measure_id.eq(measure_id))
        .select(HistoryEntry::as_select())
        .order(measure_history::id)
        .into_boxed();
    if let Some(id) = after_id {
        query = query.filter(measure_history::id.gt(id));
    }
    query.limit(limit + 1).load(conn)
}

/// The page query of [`list`], built for the connection it runs on (a macro, because the boxed
/// query's type names the backend).
macro_rules! list_query {
    ($filter:expr, $field_key_id:expr, $sort:expr, $after:expr) => {{
        let (filter, sort, after): (&MeasureFilter, MeasureSort, Option<After>) = ($filter, $sort, $after);
        let mut query = measures::table.select(MeasureRow::as_select()).into_boxed();
        if let Some(id) = filter.cooperation_id {
            query = query.filter(measures::cooperation_id.eq(id));
        }
        if let Some(id) = filter.field_id {
            query = query.filter(measures::field_id.eq(id));
        }
        if let Some(id) = $field_key_id {
            query = query.filter(measures::field_id.eq(id));
        }
        // One status as `=`: a statement with `IN (…)` over a list is prepared anew on every run.
        match filter.statuses.as_slice() {
            [] => {}
            [status] => query = query.filter(measures::status.eq(status.clone())),
            several => query = query.filter(measures::status.eq_any(several.to_vec())),
        }
        if let Some(horizon) = &filter.horizon {
            query = query.filter(measures::horizon.eq(horizon.clone()));
        }
        if let Some(p) = filter.partner_id {
            let participating =
                measure_partners::table.filter(measure_partners::partner_id.eq(p)).select(measure_partners::measure_id);
            query = query.filter(
                measures::lead_partner_id
                    .eq(p)
                    .or(measures::responsible_partner_id.eq(p))
                    .or(measures::id.eq_any(participating)),
            );
        }
        if let Some(pattern) = &filter.title_pattern {
            query = query.filter(measures::title_folded.like(pattern.clone()).escape('\\'));
        }
        if let Some(min) = filter.min_priority {
            query = query.filter(measures::priority_rank.ge(min));
        }
        if let Some(since) = filter.updated_since {
            query = query.filter(measures::updated_at.ge(since));
        }
        if let Some(group) = filter.working_group_id {
            query = query.filter(measures::working_group_id.eq(group));
        }
        if let Some(holding) = &filter.external_ref {
            query = crate::holding_ref!(query, measures::id, crate::changes::Resource::Measures, holding);
        }
        let (id, desc) = (measures::id, sort.descending());
        let query = match sort {
            MeasureSort::Priority | MeasureSort::PriorityDesc => {
                let after =
                    after.map(|a| a.key.parse::<i32>().map(|k| (k, a.id)).map_err(|_| bad_cursor())).transpose()?;
                keyset!(query, measures::priority_rank, id, desc, after)
            }
            MeasureSort::UpdatedAt | MeasureSort::UpdatedAtDesc => {
                let after = after.map(|a| parse_timestamp_key(&a.key).map(|k| (k, a.id))).transpose()?;
                keyset!(query, measures::updated_at, id, desc, after)
            }
            MeasureSort::Title | MeasureSort::TitleDesc => {
                keyset!(query, measures::title_folded, id, desc, after.map(|a| (a.key, a.id)))
            }
            MeasureSort::PlannedEnd | MeasureSort::PlannedEndDesc => {
                let after = after
                    .map(|a| a.key.parse::<NaiveDate>().map(|k| (k, a.id)).map_err(|_| bad_cursor()))
                    .transpose()?;
                keyset!(query, measures::planned_end_rank, id, desc, after)
            }
        };
        Ok::<_, AppError>(query)
    }};
}

/// One page of measures with their partners (`limit + 1` rows).
pub fn list(
    conn: &mut AnyConnection,
    filter: &MeasureFilter,
    sort: MeasureSort,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<MeasureRow>, AppError> {
    // Resolved first, so that the planner sees a plain `field_id = ?` and uses its index.
    let field_key_id = match &filter.field_key {
        Some(key) => Some(
            per_backend!(&mut *conn, |c| fields::table
                .filter(fields::key.eq(key))
                .select(fields::id)
                .first(c)
                .optional())?
            .unwrap_or(-1),
        ),
        None => None,
    };
    per_backend!(conn, |c| list_query!(filter, field_key_id, sort, after)?
        .limit(limit + 1)
        .load(c)
        .map_err(AppError::from))
}

/// Counts and totals of a cooperation's measures for its portfolio summary.
pub struct Totals {
    pub by_status: Vec<(String, i64)>,
    pub by_field: Vec<(String, i64)>,
    pub assessed: i64,
    pub signed: i64,
    pub estimated_cost_eur: i64,
    /// Sum of `savings_eur` of the measures not rejected.
    pub annual_savings_eur: i64,
    /// The measures with savings at or above the asked share, highest share first.
    pub saving: Vec<Saving>,
    /// Per field key: the mean progress of the measures not rejected and not below another.
    pub progress_by_field: Vec<(String, i64)>,
}

/// A measure's savings, for the portfolio.
#[derive(Debug, Clone, Queryable)]
pub struct Saving {
    pub id: i64,
    pub title: String,
    pub savings_eur: Option<i64>,
    pub savings_percent_tenths: Option<i32>,
    pub commitment_years: Option<i32>,
}

/// The portfolio figures of one cooperation; `saving` lists the measures saving at least
/// `min_tenths` tenths of a percent (all with a known share when `None`).
pub fn totals(conn: &mut AnyConnection, cooperation_id: i64, min_tenths: Option<i32>) -> QueryResult<Totals> {
    let of_coop = measures::cooperation_id.eq(cooperation_id);
    let by_status = measures::table
        .filter(of_coop)
        .group_by(measures::status)
        .select((measures::status, diesel::dsl::count_star()))
        .load(conn)?;
    let by_field = measures::table
        .inner_join(fields::table)
        .filter(of_coop)
        .group_by(fields::key)
        .select((fields::key, diesel::dsl::count_star()))
        .load(conn)?;
    let assessed = measures::table
        .filter(of_coop)
        .filter(measures::benefit.is_not_null().and(measures::cost.is_not_null()).and(measures::effort.is_not_null()))
        .count()
        .get_result(conn)?;
    let signed = measures::table
        .filter(of_coop)
        .filter(measures::description_signed_on.is_not_null())
        .count()
        .get_result(conn)?;
    // Summed here rather than in SQL: PostgreSQL's SUM(bigint) is NUMERIC, which the shared schema avoids.
    let costs: Vec<Option<i64>> = measures::table.filter(of_coop).select(measures::estimated_cost_eur).load(conn)?;
    let estimated_cost_eur = costs.into_iter().flatten().fold(0i64, i64::saturating_add);
    let saved: Vec<Option<i64>> = measures::table
        .filter(of_coop)
        .filter(measures::status.ne(MeasureStatus::Rejected.as_str()))
        .select(measures::savings_eur)
        .load(conn)?;
    let annual_savings_eur = saved.into_iter().flatten().fold(0i64, i64::saturating_add);
    let mut saving = measures::table
        .filter(of_coop)
        .filter(measures::savings_percent_tenths.is_not_null())
        .select((
            measures::id,
            measures::title,
            measures::savings_eur,
            measures::savings_percent_tenths,
            measures::commitment_years,
        ))
        .order((measures::savings_percent_tenths.desc(), measures::id))
        .into_boxed();
    if let Some(min) = min_tenths {
        saving = saving.filter(measures::savings_percent_tenths.ge(min));
    }
    let saving = saving.load(conn)?;
    let progress: Vec<(String, i32)> = measures::table
        .inner_join(fields::table)
        .filter(of_coop)
        .filter(measures::status.ne(MeasureStatus::Rejected.as_str()))
        .filter(measures::parent_id.is_null())
        .select((fields::key, measures::progress))
        .load(conn)?;
    let mut sums: std::collections::BTreeMap<String, (i64, i64)> = std::collections::BTreeMap::new();
    for (key, value) in progress {
        let entry = sums.entry(key).or_default();
        *entry = (entry.0 + i64::from(value), entry.1 + 1);
    }
    let progress_by_field = sums.into_iter().map(|(key, (sum, n))| (key, sum / n.max(1))).collect();
    Ok(Totals {
        by_status,
        by_field,
        assessed,
        signed,
        estimated_cost_eur,
        annual_savings_eur,
        saving,
        progress_by_field,
    })
}

/// Ids of measures that still refer to a partner (lead, responsible or participating), optionally
/// only within one cooperation.
pub fn referring_to_partner(
    conn: &mut AnyConnection,
    partner: PartnerId,
    cooperation: Option<CooperationId>,
) -> QueryResult<Vec<i64>> {
    let partner_id = partner.0;
    let participating = measure_partners::table
        .filter(measure_partners::partner_id.eq(partner_id))
        .select(measure_partners::measure_id);
    let mut query = measures::table
        .filter(
            measures::lead_partner_id
                .eq(partner_id)
                .or(measures::responsible_partner_id.eq(partner_id))
                .or(measures::id.eq_any(participating)),
        )
        .select(measures::id)
        .order(measures::id)
        .into_boxed();
    if let Some(CooperationId(coop)) = cooperation {
        query = query.filter(measures::cooperation_id.eq(coop));
    }
    query.limit(20).load(conn)
}

/// How many measures are in a field, and in a cooperation.
pub fn count_in_field(conn: &mut AnyConnection, field_id: i64) -> QueryResult<i64> {
    measures::table.filter(measures::field_id.eq(field_id)).count().get_result(conn)
}

/// How many measures a cooperation has.
pub fn count_in_cooperation(conn: &mut AnyConnection, cooperation_id: i64) -> QueryResult<i64> {
    measures::table.filter(measures::cooperation_id.eq(cooperation_id)).count().get_result(conn)
}

/// Measures naming a contact as responsible, with their status.
pub fn naming_contact(conn: &mut AnyConnection, contact_id: i64) -> QueryResult<Vec<(i64, String)>> {
    measures::table
        .filter(measures::responsible_contact_id.eq(contact_id))
        .select((measures::id, measures::status))
        .load(conn)
}
