//! What the council systems say: each partner's decision derived from the deciding
//! consultations of the papers a measure is linked to.

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;

use super::{DecisionRow, DerivedData, of_measures, written};
use crate::auth::Caller;
use crate::changes::Op;
use crate::db::schema::council_decisions;
use crate::db::{AnyConnection, Timestamp};
use crate::error::AppError;
use crate::models::council::outcomes::{self, Outcome};

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
        let Some(measure) = crate::models::measures::find(conn, measure_id)? else { continue };
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
