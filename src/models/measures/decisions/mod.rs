//! Council decisions of a measure: one per measure and partner, entered by an editor of the
//! partner, derived by the OParl sync from the partner's council system, or both.
//!
//! A row keeps the hand entry (`manual_*`) and what the sync derived (`derived_*`) side by
//! side. The hand entry wins and the sync never overwrites it; where both exist and their
//! decisions differ, the record is flagged (`disagrees`). Deleting the hand entry leaves what
//! the sync derived; the sync clearing its part leaves the hand entry; a row with neither is
//! deleted.
//!
//! Derived values are stored: every write of a decision, of a measure's partners or of its
//! council links recomputes `measures.councils_agreed` (every partner of the measure, lead and
//! participating, has an approving decision) in the same transaction and bumps the measure's
//! version, so its ETag and the change feed see that its decisions changed.
//!
//! Hand entries are written in `entry`, derivations in `derive`; the input type is in `input`.

mod derive;
mod entry;
mod input;

pub use derive::{Derivation, derivable, derive};
pub use entry::{create, delete, update};
pub use input::CreateCouncilDecision;

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Measure;
use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::keyset::{After, paginate};
use crate::db::schema::{council_decisions, measures};
use crate::db::{AnyConnection, Timestamp};
use crate::domain::council::{CouncilDecision, decision_from_result};
use crate::error::AppError;
use crate::models::council::outcomes::Outcome;
use crate::models::record::not_found;

crate::stored_enum!(CouncilDecision);

/// Where the decision shown comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, strum::IntoStaticStr, strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DecisionSource {
    /// Entered by an editor (never overwritten by the sync).
    Manual,
    /// Derived by the OParl sync from the partner's council system.
    Oparl,
}

/// A stored decision row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = council_decisions, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct DecisionRow {
    pub id: i64,
    pub measure_id: i64,
    pub partner_id: i64,
    pub manual_decision: Option<String>,
    pub manual_decided_on: Option<NaiveDate>,
    pub manual_paper_id: Option<i64>,
    pub manual_paper_url: Option<String>,
    pub note: Option<String>,
    pub derived_decision: Option<String>,
    pub derived_decided_on: Option<NaiveDate>,
    pub derived_paper_id: Option<i64>,
    pub derived_consultation_id: Option<String>,
    pub derived_meeting_id: Option<i64>,
    pub derived_result: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The hand-entered part of a row.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = council_decisions, treat_none_as_null = true, treat_none_as_default_value = false)]
struct ManualData {
    manual_decision: Option<String>,
    manual_decided_on: Option<NaiveDate>,
    manual_paper_id: Option<i64>,
    manual_paper_url: Option<String>,
    note: Option<String>,
}

/// The derived part of a row.
#[derive(Debug, Clone, PartialEq, Eq, Insertable, AsChangeset)]
#[diesel(table_name = council_decisions, treat_none_as_null = true, treat_none_as_default_value = false)]
struct DerivedData {
    derived_decision: Option<String>,
    derived_decided_on: Option<NaiveDate>,
    derived_paper_id: Option<i64>,
    derived_consultation_id: Option<String>,
    derived_meeting_id: Option<i64>,
    derived_result: Option<String>,
}

impl DerivedData {
    const NONE: Self = Self {
        derived_decision: None,
        derived_decided_on: None,
        derived_paper_id: None,
        derived_consultation_id: None,
        derived_meeting_id: None,
        derived_result: None,
    };

    fn of(row: &DecisionRow) -> Self {
        Self {
            derived_decision: row.derived_decision.clone(),
            derived_decided_on: row.derived_decided_on,
            derived_paper_id: row.derived_paper_id,
            derived_consultation_id: row.derived_consultation_id.clone(),
            derived_meeting_id: row.derived_meeting_id,
            derived_result: row.derived_result.clone(),
        }
    }

    fn from_outcome(o: &Outcome) -> Self {
        Self {
            derived_decision: Some(decision_from_result(o.result.as_deref()).as_str().to_owned()),
            derived_decided_on: Some(o.held_at.utc().date_naive()),
            derived_paper_id: Some(o.paper_id),
            derived_consultation_id: o.consultation_id.clone(),
            derived_meeting_id: Some(o.meeting_id),
            derived_result: o.result.clone(),
        }
    }
}

/// What the sync derived for a partner.
#[derive(Debug, Clone)]
pub struct Derived {
    pub decision: CouncilDecision,
    pub decided_on: Option<NaiveDate>,
    pub paper_id: Option<i64>,
    pub consultation_id: Option<String>,
    pub meeting_id: Option<i64>,
    pub result: Option<String>,
}

/// A decision as answered: what is shown (the hand entry, else the derived one), where it comes
/// from, and what the sync derived.
#[derive(Debug, Clone)]
pub struct DecisionRecord {
    pub row: DecisionRow,
    pub decision: CouncilDecision,
    pub source: DecisionSource,
    pub derived: Option<Derived>,
    /// A hand entry and the derived decision differ.
    pub disagrees: bool,
}

impl DecisionRecord {
    fn new(row: DecisionRow) -> Result<Self, AppError> {
        let read = |stored: &Option<String>| -> Result<Option<CouncilDecision>, AppError> {
            stored
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|_| AppError::Internal(format!("council decision {} has an unreadable decision", row.id)))
        };
        let (manual, derived_decision) = (read(&row.manual_decision)?, read(&row.derived_decision)?);
        let derived = derived_decision.map(|decision| Derived {
            decision,
            decided_on: row.derived_decided_on,
            paper_id: row.derived_paper_id,
            consultation_id: row.derived_consultation_id.clone(),
            meeting_id: row.derived_meeting_id,
            result: row.derived_result.clone(),
        });
        let (decision, source) = match (manual, derived_decision) {
            (Some(m), _) => (m, DecisionSource::Manual),
            (None, Some(d)) => (d, DecisionSource::Oparl),
            (None, None) => return Err(AppError::Internal(format!("council decision {} holds no decision", row.id))),
        };
        let disagrees = matches!((manual, derived_decision), (Some(m), Some(d)) if m != d);
        Ok(Self { row, decision, source, derived, disagrees })
    }

    /// The date shown: the hand entry's, else the derived one's.
    pub fn decided_on(&self) -> Option<NaiveDate> {
        match self.source {
            DecisionSource::Manual => self.row.manual_decided_on,
            DecisionSource::Oparl => self.row.derived_decided_on,
        }
    }

    /// The paper shown: the hand entry's, else the derived one's.
    pub fn paper_id(&self) -> Option<i64> {
        match self.source {
            DecisionSource::Manual => self.row.manual_paper_id,
            DecisionSource::Oparl => self.row.derived_paper_id,
        }
    }
}

/// Filters of the decision lists; all combined with AND.
#[derive(Debug, Default, Clone)]
pub struct DecisionFilter {
    pub measure_id: Option<i64>,
    pub cooperation_id: Option<i64>,
    pub partner_id: Option<i64>,
    /// The decision shown.
    pub decision: Option<CouncilDecision>,
    pub source: Option<DecisionSource>,
    /// Only those where a hand entry and the derived decision differ (or agree).
    pub disagrees: Option<bool>,
    pub updated_since: Option<Timestamp>,
}

/// One page of decisions by id (`limit + 1` rows read), with the cursor of the next page.
pub fn page(
    conn: &mut AnyConnection,
    filter: &DecisionFilter,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<DecisionRecord>, Option<String>), AppError> {
    use council_decisions::dsl as d;
    if let Some(id) = filter.measure_id {
        super::find(conn, id)?.ok_or_else(|| not_found("measure", id))?;
    }
    let mut query = d::council_decisions.select(DecisionRow::as_select()).into_boxed();
    if let Some(id) = filter.measure_id {
        query = query.filter(d::measure_id.eq(id));
    }
    if let Some(id) = filter.cooperation_id {
        let of_cooperation = measures::table.filter(measures::cooperation_id.eq(id)).select(measures::id);
        query = query.filter(d::measure_id.eq_any(of_cooperation));
    }
    if let Some(id) = filter.partner_id {
        query = query.filter(d::partner_id.eq(id));
    }
    if let Some(decision) = filter.decision {
        let value = decision.as_str();
        query = query
            .filter(d::manual_decision.eq(value).or(d::manual_decision.is_null().and(d::derived_decision.eq(value))));
    }
    match filter.source {
        Some(DecisionSource::Manual) => query = query.filter(d::manual_decision.is_not_null()),
        Some(DecisionSource::Oparl) => query = query.filter(d::manual_decision.is_null()),
        None => {}
    }
    match filter.disagrees {
        Some(true) => query = query.filter(d::manual_decision.ne(d::derived_decision)),
        Some(false) => {
            query = query.filter(
                d::manual_decision
                    .is_null()
                    .or(d::derived_decision.is_null())
                    .or(d::manual_decision.eq(d::derived_decision)),
            )
        }
        None => {}
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(d::updated_at.ge(since));
    }
    if let Some(after) = after {
        query = query.filter(d::id.gt(after));
    }
    let rows: Vec<DecisionRow> = query.order(d::id).limit(limit + 1).load(conn)?;
    let (rows, next) = paginate(rows, limit, "id", |r| After { key: String::new(), id: r.id });
    Ok((rows.into_iter().map(DecisionRecord::new).collect::<Result<_, _>>()?, next))
}

/// The decisions of each of `measure_ids`, by partner (for embedding in measures).
pub fn of_measures(
    conn: &mut AnyConnection,
    measure_ids: &[i64],
) -> Result<HashMap<i64, Vec<DecisionRecord>>, AppError> {
    let mut found: HashMap<i64, Vec<DecisionRecord>> = HashMap::new();
    for chunk in measure_ids.chunks(500) {
        let rows: Vec<DecisionRow> = council_decisions::table
            .filter(council_decisions::measure_id.eq_any(chunk))
            .select(DecisionRow::as_select())
            .order((council_decisions::measure_id, council_decisions::partner_id))
            .load(conn)?;
        for row in rows {
            found.entry(row.measure_id).or_default().push(DecisionRecord::new(row)?);
        }
    }
    Ok(found)
}

/// One decision of a measure, or 404.
pub fn get(conn: &mut AnyConnection, measure_id: i64, id: i64) -> Result<DecisionRecord, AppError> {
    DecisionRecord::new(find(conn, measure_id, id)?.ok_or_else(|| decision_not_found(measure_id, id))?)
}

/// One decision by its id alone, or 404.
pub fn get_any(conn: &mut AnyConnection, id: i64) -> Result<DecisionRecord, AppError> {
    let row = council_decisions::table
        .find(id)
        .select(DecisionRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("council decision", id))?;
    DecisionRecord::new(row)
}

fn decision_not_found(measure_id: i64, id: i64) -> AppError {
    AppError::NotFound(format!("measure {measure_id} has no council decision {id}"))
}

fn find(conn: &mut AnyConnection, measure_id: i64, id: i64) -> QueryResult<Option<DecisionRow>> {
    council_decisions::table
        .find(id)
        .filter(council_decisions::measure_id.eq(measure_id))
        .select(DecisionRow::as_select())
        .first(conn)
        .optional()
}

fn find_of_partner(conn: &mut AnyConnection, measure_id: i64, partner_id: i64) -> QueryResult<Option<DecisionRow>> {
    council_decisions::table
        .filter(council_decisions::measure_id.eq(measure_id))
        .filter(council_decisions::partner_id.eq(partner_id))
        .select(DecisionRow::as_select())
        .first(conn)
        .optional()
}

/// The partners whose councils must agree: the lead and the participating partners, ascending.
fn deciding_partners(conn: &mut AnyConnection, measure: &Measure) -> QueryResult<Vec<i64>> {
    let mut ids = super::partner_ids(conn, measure.id)?;
    ids.extend(measure.lead_partner_id);
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The deletions to record for the decisions of a measure about to be deleted (their rows go
/// with it).
pub fn before_deleting_measure(conn: &mut AnyConnection, measure_id: i64) -> QueryResult<Vec<i64>> {
    council_decisions::table
        .filter(council_decisions::measure_id.eq(measure_id))
        .select(council_decisions::id)
        .order(council_decisions::id)
        .load(conn)
}

/// The measures (at most 20) on which this partner's council has a decision.
pub fn measures_decided_by(conn: &mut AnyConnection, partner_id: i64) -> QueryResult<Vec<i64>> {
    council_decisions::table
        .filter(council_decisions::partner_id.eq(partner_id))
        .select(council_decisions::measure_id)
        .order(council_decisions::measure_id)
        .limit(20)
        .load(conn)
}

/// After decisions of `measure` changed (`changes`: id and what happened, `None` deleted):
/// recomputes the measure's derived values, bumps its version and records the decisions and
/// (unless `record_measure` is false: the caller records it) the measure in the feed.
fn written(
    conn: &mut AnyConnection,
    caller: &Caller,
    measure: &Measure,
    changes_made: &[(i64, Option<Op>)],
    record_measure: bool,
    now: Timestamp,
) -> Result<(), AppError> {
    let stored = refresh(conn, measure, true, now)?;
    for (id, op) in changes_made {
        match op {
            Some(op) => changes::changed(conn, caller, Resource::CouncilDecisions, *id, *op, now)?,
            None => changes::deleted(conn, caller, Resource::CouncilDecisions, *id, now)?,
        }
    }
    if let (Some(stored), true) = (stored, record_measure) {
        changes::changed(conn, caller, Resource::Measures, stored.id, Op::Updated, stored.updated_at)?;
    }
    Ok(())
}

/// Recomputes `councils_agreed` of `measure` from its decisions and partners; stores it with a
/// new version when it changed or when `decisions_changed`, and returns the stored measure then.
pub(super) fn refresh(
    conn: &mut AnyConnection,
    measure: &Measure,
    decisions_changed: bool,
    now: Timestamp,
) -> Result<Option<Measure>, AppError> {
    // Without decisions nobody agreed: no lookups (most measures, on every write).
    let agreed = if measure.decision_count == 0 && !decisions_changed {
        false
    } else {
        // `None`: no partners, so no council could agree.
        matches!(missing_approvals(conn, measure)?, Some(missing) if missing.is_empty())
    };
    if !decisions_changed && agreed == measure.councils_agreed {
        return Ok(None);
    }
    let count: i64 =
        council_decisions::table.filter(council_decisions::measure_id.eq(measure.id)).count().get_result(conn)?;
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    diesel::update(measures::table.find(measure.id))
        .set((measures::councils_agreed.eq(agreed), measures::decision_count.eq(count), measures::updated_at.eq(now)))
        .execute(conn)?;
    Ok(Some(Measure { councils_agreed: agreed, decision_count: count, updated_at: now, ..measure.clone() }))
}

/// A partner whose council has not approved, with what it decided (`None`: nothing recorded).
pub type Missing = (i64, Option<CouncilDecision>);

/// The partners of a measure whose councils have not approved it, with what they decided
/// (`None`: nothing recorded); `None` when the measure has no partners at all.
pub fn missing_approvals(conn: &mut AnyConnection, measure: &Measure) -> Result<Option<Vec<Missing>>, AppError> {
    let partners = deciding_partners(conn, measure)?;
    if partners.is_empty() {
        return Ok(None);
    }
    let decided: HashMap<i64, CouncilDecision> = of_measures(conn, &[measure.id])?
        .remove(&measure.id)
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.row.partner_id, r.decision))
        .collect();
    Ok(Some(
        partners
            .into_iter()
            .map(|p| (p, decided.get(&p).copied()))
            .filter(|(_, d)| *d != Some(CouncilDecision::Approved))
            .collect(),
    ))
}

/// Per partner of a cooperation: how many of its `planned` measures wait for that partner's
/// council (no decision, `pending` or `deferred`) and how many it rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub partner_id: i64,
    pub waiting: i64,
    pub rejected: i64,
}

/// [`Waiting`] of every partner with at least one such measure, by partner id.
pub fn waiting(conn: &mut AnyConnection, cooperation_id: i64) -> Result<Vec<Waiting>, AppError> {
    let planned: Vec<super::MeasureRow> = measures::table
        .filter(measures::cooperation_id.eq(cooperation_id))
        .filter(measures::status.eq(crate::domain::measures::MeasureStatus::Planned.as_str()))
        .select(super::MeasureRow::as_select())
        .load(conn)?;
    let ids: Vec<i64> = planned.iter().map(|r| r.measure.id).collect();
    let mut decided = of_measures(conn, &ids)?;
    let mut counts: BTreeMap<i64, Waiting> = BTreeMap::new();
    for row in planned {
        let (measure, mut partners) = row.into_parts();
        partners.extend(measure.lead_partner_id);
        partners.sort_unstable();
        partners.dedup();
        let of_measure: HashMap<i64, CouncilDecision> = decided
            .remove(&measure.id)
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.row.partner_id, r.decision))
            .collect();
        for p in partners {
            let entry = counts.entry(p).or_insert(Waiting { partner_id: p, waiting: 0, rejected: 0 });
            match of_measure.get(&p) {
                Some(CouncilDecision::Approved) => {}
                Some(CouncilDecision::Rejected) => entry.rejected += 1,
                _ => entry.waiting += 1,
            }
        }
    }
    Ok(counts.into_values().filter(|w| w.waiting > 0 || w.rejected > 0).collect())
}
