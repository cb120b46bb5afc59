//! Hand entries: what the partner's editors enter, change and delete.

use super::{
    CreateCouncilDecision, DecisionRecord, ManualData, deciding_partners, decision_not_found, find, find_of_partner,
    get, written,
};
use crate::auth::Caller;
use crate::changes::Op;
use crate::db::schema::council_decisions;
use crate::db::{AnyConnection, Timestamp};
use crate::error::{AppError, FieldError};
use crate::models::measures::Measure;
use crate::models::record::{IfMatch, Patch, not_found};
use diesel::prelude::*;

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
    let measure = crate::models::measures::find(conn, measure_id)?.ok_or_else(|| not_found("measure", measure_id))?;
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
    let measure = crate::models::measures::find(conn, measure_id)?.ok_or_else(|| not_found("measure", measure_id))?;
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
    let measure = crate::models::measures::find(conn, measure_id)?.ok_or_else(|| not_found("measure", measure_id))?;
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
