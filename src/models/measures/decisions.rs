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

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::Measure;
use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::keyset::{After, paginate};
use crate::db::schema::{council_decisions, measures};
use crate::db::{AnyConnection, Timestamp};
use crate::domain::council::{CouncilDecision, decision_from_result};
use crate::error::{AppError, FieldError};
use crate::models::council::outcomes::{self, Outcome};
use crate::models::input::Normalize;
use crate::models::record::{IfMatch, Patch, not_found};

crate::stored_enum!(CouncilDecision);

/// Where the decision shown comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, strum::IntoStaticStr)]
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

/// A council decision entered by hand (a PATCH takes any subset of the same fields but
/// `partner_id`; `null` clears optional ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "one_paper", skip_on_field_errors = false))]
pub struct CreateCouncilDecision {
    /// The partner whose council decided: the measure's lead or a participating partner.
    pub partner_id: i64,
    /// What the council decided.
    pub decision: CouncilDecision,
    /// When (the meeting's date).
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    #[schema(example = "2026-11-19")]
    pub decided_on: Option<NaiveDate>,
    /// The council paper here (`/api/v1/council-papers/{id}`); or give `paper_url`.
    #[serde(default)]
    pub paper_id: Option<i64>,
    /// The paper's address elsewhere (a council without an OParl system); or give `paper_id`.
    #[validate(url(message = "must be an absolute URL"))]
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default)]
    #[schema(format = Uri, max_length = 2000, example = "https://www.ottendorf.example/rat/2026-11-19.pdf")]
    pub paper_url: Option<String>,
    /// A remark, up to 2,000 characters.
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default)]
    #[schema(max_length = 2000, example = "Beschluss Nr. 2026/117, einstimmig")]
    pub note: Option<String>,
}

fn one_paper(d: &CreateCouncilDecision) -> Result<(), validator::ValidationError> {
    if d.paper_id.is_some() && d.paper_url.is_some() {
        let mut e = validator::ValidationError::new("paper_twice");
        e.message = Some("give `paper_id` or `paper_url`, not both".into());
        e.add_param("field".into(), &"paper_url");
        return Err(e);
    }
    Ok(())
}

impl Normalize for CreateCouncilDecision {
    const NOT_NULL: &'static [&'static str] = &["partner_id", "decision"];

    fn normalize(&mut self) {
        crate::domain::trim_opt(&mut self.paper_url);
        crate::domain::trim_opt(&mut self.note);
    }
}

impl CreateCouncilDecision {
    fn manual_data(&self) -> ManualData {
        ManualData {
            manual_decision: Some(self.decision.as_str().to_owned()),
            manual_decided_on: self.decided_on,
            manual_paper_id: self.paper_id,
            manual_paper_url: self.paper_url.clone(),
            note: self.note.clone(),
        }
    }

    /// The hand entry of a row as an input; `None` for a row with only a derived decision.
    fn from_row(row: &DecisionRow) -> Result<Option<Self>, AppError> {
        let Some(decision) = row.manual_decision.as_deref() else { return Ok(None) };
        let decision = decision
            .parse()
            .map_err(|_| AppError::Internal(format!("council decision {} has an unreadable decision", row.id)))?;
        Ok(Some(Self {
            partner_id: row.partner_id,
            decision,
            decided_on: row.manual_decided_on,
            paper_id: row.manual_paper_id,
            paper_url: row.manual_paper_url.clone(),
            note: row.note.clone(),
        }))
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

/// Enters a partner's decision by hand (admins, or editors acting for that partner). A partner
/// whose decision the sync derived gets the hand entry beside it; one with a hand entry already
/// is a 409 (change it with `PATCH`).
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    measure_id: i64,
    input: CreateCouncilDecision,
    now: Timestamp,
) -> Result<DecisionRecord, AppError> {
    caller.require_partner(input.partner_id, "enter council decisions")?;
    crate::db::lock_row(conn, crate::db::Locked::Measures, measure_id)?;
    let measure = super::find(conn, measure_id)?.ok_or_else(|| not_found("measure", measure_id))?;
    check_references(conn, &measure, &input)?;
    let data = input.manual_data();
    let (id, op) = match find_of_partner(conn, measure_id, input.partner_id)? {
        Some(row) if row.manual_decision.is_some() => {
            return Err(AppError::Conflict(format!(
                "partner {} already has a council decision on measure {measure_id} (id {}); change it with PATCH",
                input.partner_id, row.id
            )));
        }
        Some(row) => {
            diesel::update(council_decisions::table.find(row.id))
                .set((&data, council_decisions::updated_at.eq(now)))
                .execute(conn)?;
            (row.id, Op::Updated)
        }
        None => {
            let values = (
                council_decisions::measure_id.eq(measure_id),
                council_decisions::partner_id.eq(input.partner_id),
                &data,
                council_decisions::created_at.eq(now),
                council_decisions::updated_at.eq(now),
            );
            let id = crate::per_backend!(&mut *conn, |c| diesel::insert_into(council_decisions::table)
                .values(values)
                .returning(council_decisions::id)
                .get_result(c))?;
            (id, Op::Created)
        }
    };
    written(conn, caller, &measure, &[(id, Some(op))], true, now)?;
    get(conn, measure_id, id)
}

/// Changes a hand entry (JSON Merge Patch; admins, or editors acting for the partner). On a
/// decision only the sync derived, the patch makes the hand entry (the derived one stays beside it).
#[allow(clippy::too_many_arguments)]
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    measure_id: i64,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<DecisionRecord, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Measures, measure_id)?;
    let measure = super::find(conn, measure_id)?.ok_or_else(|| not_found("measure", measure_id))?;
    let row = find(conn, measure_id, id)?.ok_or_else(|| decision_not_found(measure_id, id))?;
    caller.require_partner(row.partner_id, "change council decisions")?;
    let base = match CreateCouncilDecision::from_row(&row)? {
        Some(base) => base,
        None => {
            let record = DecisionRecord::new(row.clone())?;
            let derived = record.derived.as_ref();
            CreateCouncilDecision {
                partner_id: row.partner_id,
                decision: record.decision,
                decided_on: derived.and_then(|d| d.decided_on),
                paper_id: derived.and_then(|d| d.paper_id),
                paper_url: None,
                note: None,
            }
        }
    };
    let input: CreateCouncilDecision = patch.apply(&base)?;
    if_match.check_version(row.updated_at)?;
    if input.partner_id != row.partner_id {
        return Err(AppError::invalid_field(
            "partner_id",
            "immutable",
            "cannot be changed; delete the decision and enter it for the other partner",
        ));
    }
    if row.manual_decision.is_some() && input == base {
        return DecisionRecord::new(row);
    }
    check_references(conn, &measure, &input)?;
    diesel::update(council_decisions::table.find(id))
        .set((&input.manual_data(), council_decisions::updated_at.eq(now)))
        .execute(conn)?;
    written(conn, caller, &measure, &[(id, Some(Op::Updated))], true, now)?;
    get(conn, measure_id, id)
}

/// Deletes a hand entry (admins, or editors acting for the partner). What the sync derived
/// stays (and is then shown); a decision with nothing derived is deleted. Deleting a decision
/// that only the sync derived removes it until the sync derives it again.
pub fn delete(
    conn: &mut AnyConnection,
    caller: &Caller,
    measure_id: i64,
    id: i64,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Measures, measure_id)?;
    let measure = super::find(conn, measure_id)?.ok_or_else(|| not_found("measure", measure_id))?;
    let row = find(conn, measure_id, id)?.ok_or_else(|| decision_not_found(measure_id, id))?;
    caller.require_partner(row.partner_id, "delete council decisions")?;
    if_match.check_version(row.updated_at)?;
    let op = if row.manual_decision.is_some() && row.derived_decision.is_some() {
        let cleared = ManualData {
            manual_decision: None,
            manual_decided_on: None,
            manual_paper_id: None,
            manual_paper_url: None,
            note: None,
        };
        diesel::update(council_decisions::table.find(id))
            .set((&cleared, council_decisions::updated_at.eq(now)))
            .execute(conn)?;
        Some(Op::Updated)
    } else {
        diesel::delete(council_decisions::table.find(id)).execute(conn)?;
        None
    };
    written(conn, caller, &measure, &[(id, op)], true, now)
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

/// Checks the references of a hand entry: the partner decides on the measure, the paper exists.
fn check_references(
    conn: &mut AnyConnection,
    measure: &Measure,
    input: &CreateCouncilDecision,
) -> Result<(), AppError> {
    let mut errors = Vec::new();
    if !deciding_partners(conn, measure)?.contains(&input.partner_id) {
        errors.push(FieldError::new(
            "partner_id",
            "not_participating",
            format!("partner {} neither leads nor takes part in measure {}", input.partner_id, measure.id),
        ));
    }
    if let Some(paper) = input.paper_id
        && crate::models::council::papers_by_id(conn, &[paper])?.is_empty()
    {
        errors.push(FieldError::new("paper_id", "unknown_council_paper", format!("there is no council paper {paper}")));
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
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
    let agreed = missing_approvals(conn, measure)?.is_none_or(|missing| missing.is_empty());
    let agreed = agreed && !deciding_partners(conn, measure)?.is_empty();
    if !decisions_changed && agreed == measure.councils_agreed {
        return Ok(None);
    }
    diesel::update(measures::table.find(measure.id))
        .set((measures::councils_agreed.eq(agreed), measures::updated_at.eq(now)))
        .execute(conn)?;
    Ok(Some(Measure { councils_agreed: agreed, updated_at: now, ..measure.clone() }))
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

/// What a derivation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Derivation {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Measures whose decisions changed (each refreshed and recorded in the feed).
    pub measures: u64,
}

/// Derives the council decisions of `measure_ids` from the council systems (see
/// [`outcomes`]): per measure and partner the decisive consultation held last. What changed is
/// stored beside any hand entry, each changed measure under its lock and refreshed; the feed
/// gets each changed measure but `recorded_by_caller` (a measure whose own write records it).
/// Linear in the measures, their links and their decisions.
pub fn derive(
    conn: &mut AnyConnection,
    caller: &Caller,
    measure_ids: &[i64],
    recorded_by_caller: Option<i64>,
    now: Timestamp,
) -> Result<Derivation, AppError> {
    let mut wanted: BTreeMap<i64, BTreeMap<i64, DerivedData>> = BTreeMap::new();
    let mut latest: HashMap<(i64, i64), Outcome> = HashMap::new();
    for o in outcomes::outcomes(conn, measure_ids, now)? {
        let key = (o.measure_id, o.partner_id);
        let later =
            |held: &Outcome| (o.held_at, o.meeting_id, o.paper_id) > (held.held_at, held.meeting_id, held.paper_id);
        if latest.get(&key).is_none_or(later) {
            latest.insert(key, o);
        }
    }
    for ((measure_id, partner_id), o) in &latest {
        wanted.entry(*measure_id).or_default().insert(*partner_id, DerivedData::from_outcome(o));
    }
    let stored = of_measures(conn, measure_ids)?;
    let mut tally = Derivation::default();
    for &measure_id in measure_ids {
        let want = wanted.remove(&measure_id).unwrap_or_default();
        let rows: Vec<&DecisionRow> = stored.get(&measure_id).into_iter().flatten().map(|r| &r.row).collect();
        if !differs(&want, &rows) {
            continue;
        }
        // Read again under the measure's lock: a hand entry may have come meanwhile.
        crate::db::lock_row(conn, crate::db::Locked::Measures, measure_id)?;
        let Some(measure) = super::find(conn, measure_id)? else { continue };
        let fresh: Vec<DecisionRow> = of_measures(conn, &[measure_id])?
            .remove(&measure_id)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.row)
            .collect();
        let made = apply(conn, measure_id, &want, fresh, now, &mut tally)?;
        if !made.is_empty() {
            written(conn, caller, &measure, &made, recorded_by_caller != Some(measure_id), now)?;
            tally.measures += 1;
        }
    }
    Ok(tally)
}

/// Whether the stored rows of a measure hold other derived parts than `want`.
fn differs(want: &BTreeMap<i64, DerivedData>, rows: &[&DecisionRow]) -> bool {
    let held: BTreeMap<i64, DerivedData> =
        rows.iter().filter(|r| r.derived_decision.is_some()).map(|r| (r.partner_id, DerivedData::of(r))).collect();
    held != *want
}

/// Makes the derived parts of a measure's rows equal to `want`; returns what it changed.
fn apply(
    conn: &mut AnyConnection,
    measure_id: i64,
    want: &BTreeMap<i64, DerivedData>,
    rows: Vec<DecisionRow>,
    now: Timestamp,
    tally: &mut Derivation,
) -> QueryResult<Vec<(i64, Option<Op>)>> {
    let mut made = Vec::new();
    let mut rows: HashMap<i64, DecisionRow> = rows.into_iter().map(|r| (r.partner_id, r)).collect();
    for (&partner_id, data) in want {
        match rows.remove(&partner_id) {
            Some(row) if DerivedData::of(&row) == *data => {}
            Some(row) => {
                diesel::update(council_decisions::table.find(row.id))
                    .set((data, council_decisions::updated_at.eq(now)))
                    .execute(conn)?;
                tally.updated += 1;
                made.push((row.id, Some(Op::Updated)));
            }
            None => {
                let values = (
                    council_decisions::measure_id.eq(measure_id),
                    council_decisions::partner_id.eq(partner_id),
                    data,
                    council_decisions::created_at.eq(now),
                    council_decisions::updated_at.eq(now),
                );
                let id: i64 = crate::per_backend!(&mut *conn, |c| diesel::insert_into(council_decisions::table)
                    .values(values)
                    .returning(council_decisions::id)
                    .get_result(c))?;
                tally.created += 1;
                made.push((id, Some(Op::Created)));
            }
        }
    }
    // What is left and holds a derived part is no longer backed by a consultation.
    for row in rows.into_values().filter(|r| r.derived_decision.is_some()) {
        if row.manual_decision.is_some() {
            diesel::update(council_decisions::table.find(row.id))
                .set((&DerivedData::NONE, council_decisions::updated_at.eq(now)))
                .execute(conn)?;
            tally.updated += 1;
            made.push((row.id, Some(Op::Updated)));
        } else {
            diesel::delete(council_decisions::table.find(row.id)).execute(conn)?;
            tally.deleted += 1;
            made.push((row.id, None));
        }
    }
    made.sort_unstable_by_key(|(id, _)| *id);
    Ok(made)
}

/// The measures whose decisions the sync of these partners' council systems may change: those
/// linked to their papers and those holding a decision derived for them.
pub fn derivable(conn: &mut AnyConnection, partner_ids: &[i64]) -> QueryResult<Vec<i64>> {
    let mut ids = outcomes::measures_linked_to_partners(conn, partner_ids)?;
    ids.extend(
        council_decisions::table
            .filter(council_decisions::partner_id.eq_any(partner_ids))
            .filter(council_decisions::derived_decision.is_not_null())
            .select(council_decisions::measure_id)
            .load::<i64>(conn)?,
    );
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
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
