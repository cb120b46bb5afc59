//! Progress that adds up: a measure whose progress is not set by hand derives it from its
//! sub-measures (`domain::measures::derived_progress`). The value is stored: every write of a
//! measure settles the measures above it in the same transaction, each that changes with a new
//! version and a change in the feed.

use diesel::prelude::*;

use super::{Measure, find};
use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::schema::measures;
use crate::db::{AnyConnection, Timestamp};
use crate::domain::measures::{MeasureStatus, Part, derived_progress};
use crate::error::AppError;

/// Parents deeper than this are not followed (the parent rule refuses such chains).
const MAX_DEPTH: usize = 100;

/// The progress `measure` derives from its sub-measures as stored now.
fn derived(conn: &mut AnyConnection, measure: &Measure) -> QueryResult<i32> {
    if measure.status == MeasureStatus::Completed {
        return Ok(100);
    }
    let rows: Vec<(String, i32, Option<i64>)> = measures::table
        .filter(measures::parent_id.eq(measure.id))
        .select((measures::status, measures::progress, measures::estimated_cost_eur))
        .load(conn)?;
    let parts: Vec<Part> = rows
        .into_iter()
        .filter_map(|(status, progress, estimated_cost_eur)| {
            Some(Part { status: status.parse().ok()?, progress, estimated_cost_eur })
        })
        .collect();
    Ok(derived_progress(&parts).unwrap_or(0))
}

/// Settles the derived progress of `start` (when it derives) and of every measure above it,
/// stopping above `start` where a value stays as it was. Each measure whose value changes gets
/// it with a new version; the feed records each, but `recorded` (whose own write records it).
pub fn settle(
    conn: &mut AnyConnection,
    caller: &Caller,
    start: Option<i64>,
    recorded: Option<i64>,
    now: Timestamp,
) -> Result<(), AppError> {
    let mut cursor = start;
    for depth in 0..MAX_DEPTH {
        let Some(id) = cursor else { return Ok(()) };
        if depth > 0 {
            crate::db::lock_row(conn, crate::db::Locked::Measures, id)?;
        }
        let Some(measure) = find(conn, id)? else { return Ok(()) };
        let changed = !measure.progress_manual && {
            let value = derived(conn, &measure)?;
            value != measure.progress && {
                diesel::update(measures::table.find(id))
                    .set((measures::progress.eq(value), measures::updated_at.eq(now)))
                    .execute(conn)?;
                true
            }
        };
        if changed && recorded != Some(id) {
            changes::changed(conn, caller, Resource::Measures, id, Op::Updated, now)?;
        }
        // The first measure changed anyway (its write is why we are here); above it, a value
        // that stays leaves everything above it as it is.
        if depth > 0 && !changed {
            return Ok(());
        }
        cursor = measure.parent_id;
    }
    Ok(())
}
