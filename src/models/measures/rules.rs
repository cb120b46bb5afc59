//! What may happen to a measure: who may change it, which references it may hold, how a patch
//! and a status transition are checked, and what a read returns. The HTTP floor, the seed and
//! later connectors call these; each takes a connection already inside the transaction.

use super::decisions::{self, DecisionRecord};
use std::collections::HashMap;

use super::progress;
use super::sign_offs::{self, SignOff};
use super::{
    CreateMeasure, CreateTransition, HistoryEntry, Measure, MeasureFilter, MeasureRow, MeasureSort, Totals,
    change_partners, find, find_row, history, insert, list, partner_ids, record, set_status, totals, update_row,
};
use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::AnyConnection;
use crate::db::Timestamp;
use crate::db::keyset::{After, paginate};
use crate::domain::measures::{Horizon, MeasureStatus};
use crate::error::{AppError, FieldError};
use crate::models::contacts::{self, ContactRecord};
use crate::models::external_refs;
use crate::models::record::{IfMatch, Patch, changed_meanwhile, not_found};
use crate::models::{cooperations, fields, partners};

/// A measure as answered: the row, its participating partners, what its text columns hold, and
/// (when asked for) its responsible contact.
#[derive(Debug, Clone)]
pub struct MeasureRecord {
    pub measure: Measure,
    pub partner_ids: Vec<i64>,
    pub horizon: Option<Horizon>,
    pub council_refs: Vec<String>,
    pub contact: Option<ContactRecord>,
    /// Its council decisions, by partner.
    pub decisions: Vec<DecisionRecord>,
    /// The signatures under its project description, by partner.
    pub sign_offs: Vec<SignOff>,
}

impl MeasureRecord {
    /// Reads the stored text columns; a value the API cannot read is an error, never a default.
    fn new(measure: Measure, partner_ids: Vec<i64>) -> Result<Self, AppError> {
        let unreadable = |what: &str| AppError::Internal(format!("measure {} has an unreadable {what}", measure.id));
        let horizon = measure.horizon.as_deref().map(str::parse).transpose().map_err(|_| unreadable("horizon"))?;
        let council_refs = serde_json::from_str(&measure.council_refs).map_err(|_| unreadable("council_refs"))?;
        Ok(Self {
            measure,
            partner_ids,
            horizon,
            council_refs,
            contact: None,
            decisions: Vec::new(),
            sign_offs: Vec::new(),
        })
    }

    /// The measure as stored now, with its partners and council decisions.
    fn reread(conn: &mut AnyConnection, id: i64) -> Result<Self, AppError> {
        let row = find_row(conn, id)?.ok_or_else(|| not_found("measure", id))?;
        let mut record = Self::from_row(row)?;
        if record.measure.decision_count > 0 {
            record.decisions = decisions::of_measures(conn, &[id])?.remove(&id).unwrap_or_default();
        }
        if record.measure.sign_off_count > 0 {
            record.sign_offs = sign_offs::of_measures(conn, &[id])?.remove(&id).unwrap_or_default();
        }
        Ok(record)
    }

    fn from_row(row: MeasureRow) -> Result<Self, AppError> {
        let (measure, partner_ids) = row.into_parts();
        Self::new(measure, partner_ids)
    }

    /// Adds the responsible contact when asked for and there is one.
    fn add_contact_if(&mut self, conn: &mut AnyConnection, asked: bool) -> Result<(), AppError> {
        if let (true, Some(contact_id)) = (asked, self.measure.responsible_contact_id) {
            self.contact = contacts::find_record(conn, contact_id)?;
        }
        Ok(())
    }
}

/// One measure with its partners (and its responsible contact, if asked for), or 404.
pub fn get(conn: &mut AnyConnection, id: i64, with_contact: bool) -> Result<MeasureRecord, AppError> {
    let mut record = MeasureRecord::reread(conn, id)?;
    record.add_contact_if(conn, with_contact)?;
    Ok(record)
}

/// The council decisions and sign-offs of these measures, looked up only for those that have any.
#[allow(clippy::type_complexity)]
fn attachments<'a>(
    conn: &mut AnyConnection,
    measures: impl Iterator<Item = &'a Measure>,
) -> Result<(HashMap<i64, Vec<DecisionRecord>>, HashMap<i64, Vec<SignOff>>), AppError> {
    let (mut with_decisions, mut with_sign_offs) = (Vec::new(), Vec::new());
    for m in measures {
        if m.decision_count > 0 {
            with_decisions.push(m.id);
        }
        if m.sign_off_count > 0 {
            with_sign_offs.push(m.id);
        }
    }
    Ok((decisions::of_measures(conn, &with_decisions)?, sign_offs::of_measures(conn, &with_sign_offs)?))
}

/// One page of measures, each turned into what the caller answers with (`answer`, so that the
/// rows are not collected twice), with the cursor of the next page; `within` (a cooperation)
/// must exist.
#[allow(clippy::too_many_arguments)]
pub fn page<T>(
    conn: &mut AnyConnection,
    within: Option<i64>,
    filter: &MeasureFilter,
    sort: MeasureSort,
    after: Option<After>,
    limit: i64,
    with_contacts: bool,
    answer: impl Fn(MeasureRecord) -> T,
) -> Result<(Vec<T>, Option<String>), AppError> {
    if let Some(cooperation_id) = within {
        cooperations::get(conn, cooperation_id)?;
    }
    let rows = list(conn, filter, sort, after, limit)?;
    let (rows, next) = paginate(rows, limit, sort.as_str(), |row| sort.after(&row.measure));
    let (mut decided, mut signed) = attachments(conn, rows.iter().map(|r| &r.measure))?;
    let records = rows
        .into_iter()
        .map(|row| {
            let mut record = MeasureRecord::from_row(row)?;
            record.decisions = decided.remove(&record.measure.id).unwrap_or_default();
            record.sign_offs = signed.remove(&record.measure.id).unwrap_or_default();
            record.add_contact_if(conn, with_contacts)?;
            Ok(answer(record))
        })
        .collect::<Result<_, AppError>>()?;
    Ok((records, next))
}

/// The portfolio of a cooperation: its totals (with the measures saving at least
/// `savings_min_tenths` tenths of a percent), its five measures of highest priority and, per
/// partner, its planned measures waiting for that partner's council.
pub fn portfolio(
    conn: &mut AnyConnection,
    cooperation_id: i64,
    savings_min_tenths: Option<i32>,
) -> Result<(Totals, Vec<MeasureRecord>, Vec<decisions::Waiting>), AppError> {
    cooperations::get(conn, cooperation_id)?;
    let totals = totals(conn, cooperation_id, savings_min_tenths)?;
    let waiting = decisions::waiting(conn, cooperation_id)?;
    let filter = MeasureFilter { cooperation_id: Some(cooperation_id), min_priority: Some(0), ..Default::default() };
    let mut top = list(conn, &filter, MeasureSort::PriorityDesc, None, 5)?;
    top.truncate(5);
    let (mut decided, mut signed) = attachments(conn, top.iter().map(|r| &r.measure))?;
    let top = top
        .into_iter()
        .map(|row| {
            let mut record = MeasureRecord::from_row(row)?;
            record.decisions = decided.remove(&record.measure.id).unwrap_or_default();
            record.sign_offs = signed.remove(&record.measure.id).unwrap_or_default();
            Ok(record)
        })
        .collect::<Result<_, AppError>>()?;
    Ok((totals, top, waiting))
}

/// Creates a measure as `idea` (admins, or editors of a member of its cooperation) and records it.
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: CreateMeasure,
    now: Timestamp,
) -> Result<MeasureRecord, AppError> {
    check_create(conn, caller, &input)?;
    let refs = input.external_refs.clone();
    let (data, partner_ids) = input.into_data(MeasureStatus::Idea, None);
    let linked = data.council_refs != "[]";
    let measure = insert(conn, &data, &partner_ids, now)?;
    external_refs::store_new(conn, Resource::Measures, measure.id, &refs)?;
    record(conn, measure.id, "created", None, MeasureStatus::Idea.as_str(), None, &caller.actor(), now)?;
    progress::settle(conn, caller, Some(measure.id), Some(measure.id), now)?;
    if linked && decisions::derive(conn, caller, &[measure.id], Some(measure.id), now)?.measures > 0 {
        changes::changed(conn, caller, Resource::Measures, measure.id, Op::Created, now)?;
        return MeasureRecord::reread(conn, measure.id);
    }
    changes::changed(conn, caller, Resource::Measures, measure.id, Op::Created, measure.updated_at)?;
    MeasureRecord::new(measure, partner_ids)
}

/// What [`create`] checks before it writes, reading only (an import checks a whole file this
/// way before it takes the writer): the caller's rights, the references, the external references.
pub fn check_create(conn: &mut AnyConnection, caller: &Caller, input: &CreateMeasure) -> Result<(), AppError> {
    let members = cooperations::current_member_ids(conn, input.cooperation_id)?;
    if !caller.is_admin() {
        caller.require_member(&members, "create measures")?;
    }
    check_references(conn, input, &members, None)?;
    external_refs::ensure_free(conn, Resource::Measures, None, &input.external_refs)
}

/// Applies a merge patch to the locked measure. `status` is not changed here (see
/// [`transition`]) and the cooperation cannot change.
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<MeasureRecord, AppError> {
    let (current, members) = lock_for_change(conn, caller, id, "change measures")?;
    let (stored, input) = patched(conn, &current, patch, if_match)?;
    replace(conn, caller, current, &members, stored, input, now)
}

/// What [`update`] checks before it writes, reading only: `true` when the patch changes the
/// measure.
pub fn check_update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
) -> Result<bool, AppError> {
    let (current, members) = allowed_change(conn, caller, id, "change measures")?;
    let (stored, input) = patched(conn, &current, patch, if_match)?;
    check_replace(conn, &current, &members, &stored, &input)
}

/// The writable fields and partners of `current` and what the patch makes of them, if
/// `if_match` allows the change. `status` may only be sent as it is.
fn patched(
    conn: &mut AnyConnection,
    current: &Measure,
    mut patch: Patch,
    if_match: &IfMatch,
) -> Result<((CreateMeasure, Vec<i64>), CreateMeasure), AppError> {
    let id = current.id;
    if let Some(status) = patch.take("status").filter(|s| s.as_str() != Some(current.status.as_str())) {
        return Err(AppError::invalid_field(
            "status",
            "read_only",
            format!("cannot be set to {status} here; use POST /api/v1/measures/{id}/transitions"),
        ));
    }
    let signed = serde_json::to_value(current.description_signed_on).unwrap_or_default();
    if let Some(date) = patch.take("description_signed_on").filter(|d| *d != signed) {
        return Err(AppError::invalid_field(
            "description_signed_on",
            "read_only",
            format!(
                "cannot be set to {date}: it is derived from the sign-offs; use POST /api/v1/measures/{id}/sign-offs"
            ),
        ));
    }
    let before = partner_ids(conn, id)?;
    let base = CreateMeasure::from_stored(current, before.clone())?;
    let input: CreateMeasure = patch.apply(&base)?;
    if_match.check_version(current.updated_at)?;
    Ok(((base, before), input))
}

/// Whether `input` changes `current` (whose writable fields are `base`), and if so whether it
/// may: the cooperation stays, the references hold, the external references are free. Reads only.
fn check_replace(
    conn: &mut AnyConnection,
    current: &Measure,
    members: &[i64],
    (base, _): &(CreateMeasure, Vec<i64>),
    input: &CreateMeasure,
) -> Result<bool, AppError> {
    if input == base {
        return Ok(false);
    }
    if input.cooperation_id != current.cooperation_id {
        return Err(AppError::invalid_field(
            "cooperation_id",
            "immutable",
            "cannot be changed; create the measure anew",
        ));
    }
    check_references(conn, input, members, Some(current.id))?;
    external_refs::ensure_free(conn, Resource::Measures, Some(current.id), &input.external_refs)?;
    Ok(true)
}

/// Stores `input` as the new state of the locked measure `current`, whose writable fields and
/// partners are `base`; an input equal to them changes nothing. `status` stays as it is.
fn replace(
    conn: &mut AnyConnection,
    caller: &Caller,
    current: Measure,
    members: &[i64],
    stored: (CreateMeasure, Vec<i64>),
    input: CreateMeasure,
    now: Timestamp,
) -> Result<MeasureRecord, AppError> {
    let id = current.id;
    if !check_replace(conn, &current, members, &stored, &input)? {
        return MeasureRecord::reread(conn, current.id);
    }
    let before = stored.1;
    let resume = stored_status(&current, current.resume_status.as_deref())?;
    let refs = (input.external_refs != current.external_refs.0).then(|| input.external_refs.clone());
    let (mut data, partner_ids) = input.into_data(current.status, resume);
    data.description_signed_on = current.description_signed_on;
    if !data.progress_manual && current.status != MeasureStatus::Completed {
        data.progress = current.progress;
    }
    let relinked = data.council_refs != current.council_refs;
    let stored = update_row(conn, &current, &data, now)?.ok_or_else(|| changed_meanwhile("measure"))?;
    change_partners(conn, id, &before, &partner_ids)?;
    // Other partners, or another list of signatories, may complete or open the signatures.
    sign_offs::refresh(conn, &stored, &partner_ids, now)?;
    progress::settle(conn, caller, Some(id), Some(id), now)?;
    if current.parent_id != stored.parent_id {
        progress::settle(conn, caller, current.parent_id, None, now)?;
    }
    if let Some(refs) = refs {
        external_refs::store(conn, Resource::Measures, id, &refs)?;
    }
    // A new link to a council paper shows what its councils decided at once.
    if relinked {
        decisions::derive(conn, caller, &[id], Some(id), now)?;
    }
    decisions::refresh(conn, &stored, false, now)?;
    changes::changed(conn, caller, Resource::Measures, id, Op::Updated, now)?;
    MeasureRecord::reread(conn, id)
}

/// Creates the measure holding the external reference `source:ref_id` (`true`), or replaces
/// it with `input`, a full representation (its status stays; see [`transition`]); the reference
/// stays in the measure's list.
pub fn put_by_ref(
    conn: &mut AnyConnection,
    caller: &Caller,
    (source, ref_id): (&str, &str),
    mut input: CreateMeasure,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(MeasureRecord, bool), AppError> {
    let named = external_refs::include(&mut input.external_refs, source, ref_id)?;
    match external_refs::holder(conn, Resource::Measures, &named.source, &named.id)? {
        None => {
            if_match.check_absent()?;
            create(conn, caller, input, now).map(|m| (m, true))
        }
        Some(id) => {
            let (current, members) = lock_for_change(conn, caller, id, "change measures")?;
            if_match.check_version(current.updated_at)?;
            let before = partner_ids(conn, id)?;
            let base = CreateMeasure::from_stored(&current, before.clone())?;
            replace(conn, caller, current, &members, (base, before), input, now).map(|m| (m, false))
        }
    }
}

/// Deletes a measure (admins, or editors of a member of its cooperation); its sub-measures stay.
pub fn delete(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    if_match: &IfMatch,
    now: Timestamp,
) -> Result<(), AppError> {
    let (current, _) = lock_for_change(conn, caller, id, "delete measures")?;
    if_match.check_version(current.updated_at)?;
    let children = super::detach_children(conn, id, now)?;
    let decisions_gone = decisions::before_deleting_measure(conn, id)?;
    crate::models::events::forget_measure(conn, caller, id, now)?;
    super::delete_row(conn, id)?;
    progress::settle(conn, caller, current.parent_id, None, now)?;
    external_refs::remove(conn, Resource::Measures, id)?;
    for child in children {
        changes::changed(conn, caller, Resource::Measures, child, Op::Updated, now)?;
    }
    for decision in decisions_gone {
        changes::deleted(conn, caller, Resource::CouncilDecisions, decision, now)?;
    }
    changes::deleted(conn, caller, Resource::Measures, id, now)?;
    Ok(())
}

/// Moves a measure along the workflow (see `domain::measures`) and records the move.
pub fn transition(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    input: CreateTransition,
    now: Timestamp,
) -> Result<MeasureRecord, AppError> {
    let CreateTransition { to, comment } = input;
    let (mut measure, _) = lock_for_change(conn, caller, id, "change the status of measures")?;
    let from = measure.status;
    let resume = stored_status(&measure, measure.resume_status.as_deref())?;
    let allowed = from.allowed_next(resume);
    if !allowed.contains(&to) {
        let allowed = if allowed.is_empty() {
            "none (final)".to_owned()
        } else {
            allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        };
        return Err(AppError::Conflict(format!(
            "a measure cannot move from `{}` to `{}`; allowed from here: {allowed}",
            from.as_str(),
            to.as_str(),
        )));
    }
    if to == MeasureStatus::Assessed {
        let missing: Vec<FieldError> =
            [("benefit", measure.benefit), ("cost", measure.cost), ("effort", measure.effort)]
                .into_iter()
                .filter(|(_, v)| v.is_none())
                .map(|(f, _)| {
                    FieldError::new(f, "required_for_assessed", "must be set before the measure is `assessed`")
                })
                .collect();
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|e| e.field.clone()).collect();
            return Err(AppError::ConflictFields {
                detail: format!(
                    "a measure can be `assessed` only with benefit, cost and effort; missing: {}",
                    names.join(", ")
                ),
                errors: missing,
            });
        }
    }
    if to == MeasureStatus::Approved {
        check_councils(conn, &measure)?;
    }
    let seen = measure.updated_at;
    measure.resume_status =
        matches!(to, MeasureStatus::OnHold | MeasureStatus::Rejected).then(|| from.as_str().to_owned());
    if to == MeasureStatus::Completed {
        measure.progress = 100;
    }
    if !set_status(conn, id, to.as_str(), measure.resume_status.as_deref(), measure.progress, seen, now)? {
        return Err(changed_meanwhile("measure"));
    }
    record(conn, id, "transition", Some(from.as_str()), to.as_str(), comment.as_deref(), &caller.actor(), now)?;
    progress::settle(conn, caller, Some(id), Some(id), now)?;
    changes::changed(conn, caller, Resource::Measures, id, Op::Updated, now)?;
    MeasureRecord::reread(conn, id)
}

/// Where the measure's cooperation requires it, refuses (409) approval before every partner's
/// council agreed, naming the partners still missing.
fn check_councils(conn: &mut AnyConnection, measure: &Measure) -> Result<(), AppError> {
    let cooperation = cooperations::get(conn, measure.cooperation_id)?;
    if !cooperation.requires_council_approval || measure.councils_agreed {
        return Ok(());
    }
    let Some(missing) = decisions::missing_approvals(conn, measure)? else {
        return Err(AppError::Conflict(format!(
            "cooperation {} requires council approval, and measure {} names no partner whose council could give it",
            cooperation.id, measure.id
        )));
    };
    let mut names = Vec::new();
    let errors = missing
        .iter()
        .map(|(partner, decided)| {
            let name = partners::find(conn, *partner)?.map_or_else(|| format!("partner {partner}"), |p| p.name);
            let stands = decided.map_or("no decision recorded", |d| d.as_str());
            names.push(format!("{name} ({stands})"));
            Ok(FieldError::new(
                format!("council_decisions[partner_id={partner}]"),
                "council_not_agreed",
                format!("the council of {name} (partner {partner}) has not agreed: {stands}"),
            ))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Err(AppError::ConflictFields {
        detail: format!(
            "cooperation {} requires every partner's council to agree before a measure is `approved`; not yet: {}",
            cooperation.id,
            names.join(", ")
        ),
        errors,
    })
}

/// One entry of a measure's history as answered: the statuses read.
#[derive(Debug, Clone)]
pub struct HistoryRecord {
    pub entry: HistoryEntry,
    pub from: Option<MeasureStatus>,
}

/// One page of a measure's history, oldest first, or 404 for an unknown measure.
pub fn history_page(
    conn: &mut AnyConnection,
    id: i64,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<HistoryRecord>, Option<String>), AppError> {
    find(conn, id)?.ok_or_else(|| not_found("measure", id))?;
    let rows = history(conn, id, after, limit)?;
    let (rows, next) = paginate(rows, limit, "id", |h| After { key: String::new(), id: h.id });
    let records =
        rows.into_iter()
            .map(|entry| {
                let from =
                    entry.from_status.as_deref().map(str::parse).transpose().map_err(|_| {
                        AppError::Internal(format!("history entry {} has an unreadable status", entry.id))
                    })?;
                Ok(HistoryRecord { entry, from })
            })
            .collect::<Result<_, AppError>>()?;
    Ok((records, next))
}

/// A status stored beside the current one (`resume_status`), read; unreadable is an error.
fn stored_status(measure: &Measure, stored: Option<&str>) -> Result<Option<MeasureStatus>, AppError> {
    stored
        .map(str::parse)
        .transpose()
        .map_err(|_| AppError::Internal(format!("measure {} has the unreadable resume status {stored:?}", measure.id)))
}

/// Locks a measure and checks that the caller may change it (admin, or editor of a member of
/// its cooperation); returns it with the cooperation's current members.
fn lock_for_change(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    action: &str,
) -> Result<(Measure, Vec<i64>), AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Measures, id)?;
    allowed_change(conn, caller, id, action)
}

/// A measure and its cooperation's current members, if the caller may change it (admin, or
/// editor of a member of its cooperation). Reads only.
fn allowed_change(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    action: &str,
) -> Result<(Measure, Vec<i64>), AppError> {
    let measure = find(conn, id)?.ok_or_else(|| not_found("measure", id))?;
    let members = cooperations::current_member_ids(conn, measure.cooperation_id)?;
    if !caller.is_admin() {
        caller.require_member(&members, action)?;
    }
    Ok((measure, members))
}

/// Checks every reference of a measure against the database and reports all problems at once;
/// `members` are the current members of `input.cooperation_id`.
fn check_references(
    conn: &mut AnyConnection,
    input: &CreateMeasure,
    members: &[i64],
    id: Option<i64>,
) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let unknown = |field: &str, what: &str, value: i64| {
        FieldError::new(field, format!("unknown_{what}"), format!("there is no {what} {value}"))
    };
    if cooperations::find(conn, input.cooperation_id)?.is_none() {
        errors.push(unknown("cooperation_id", "cooperation", input.cooperation_id));
    }
    if fields::find(conn, input.field_id)?.is_none() {
        errors.push(unknown("field_id", "field", input.field_id));
    }
    let cooperation_id = input.cooperation_id;
    let not_member = |field: String, p: i64| {
        FieldError::new(field, "not_a_member", format!("partner {p} is not a member of cooperation {cooperation_id}"))
    };
    if let Some(lead) = input.lead_partner_id.filter(|p| !members.contains(p)) {
        errors.push(not_member("lead_partner_id".into(), lead));
    }
    for (i, p) in input.partner_ids.iter().enumerate().filter(|(_, p)| !members.contains(p)) {
        errors.push(not_member(format!("partner_ids[{i}]"), *p));
    }
    if let Some(p) = input.responsible_partner_id.filter(|p| partners::find(conn, *p).ok().flatten().is_none()) {
        errors.push(unknown("responsible_partner_id", "partner", p));
    }
    if let Some(c) = input.responsible_contact_id.filter(|c| contacts::find(conn, *c).ok().flatten().is_none()) {
        errors.push(unknown("responsible_contact_id", "contact", c));
    }
    for (i, p) in
        input.required_signatory_partner_ids.iter().flatten().enumerate().filter(|(_, p)| !members.contains(p))
    {
        errors.push(not_member(format!("required_signatory_partner_ids[{i}]"), *p));
    }
    if let Some(group) = input.working_group_id
        && !crate::models::working_groups::belongs_to(conn, group, input.cooperation_id)?
    {
        errors.push(FieldError::new(
            "working_group_id",
            "unknown_working_group",
            format!("cooperation {} has no working group {group}", input.cooperation_id),
        ));
    }
    if let Some(parent) = input.parent_id
        && let Some(problem) = parent_problem(conn, parent, input.cooperation_id, id)?
    {
        errors.push(FieldError::new("parent_id", "invalid_parent", problem));
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// Why `parent` cannot be the parent of measure `id` in `cooperation_id`, if it cannot.
fn parent_problem(
    conn: &mut AnyConnection,
    parent: i64,
    cooperation_id: i64,
    id: Option<i64>,
) -> Result<Option<String>, AppError> {
    let mut cursor = Some(parent);
    for _ in 0..100 {
        let Some(current) = cursor else { return Ok(None) };
        if Some(current) == id {
            return Ok(Some("would make the measure its own ancestor".into()));
        }
        let Some(m) = find(conn, current)? else {
            return Ok(Some(format!("there is no measure {current}")));
        };
        if current == parent && m.cooperation_id != cooperation_id {
            return Ok(Some("must belong to the same cooperation".into()));
        }
        cursor = m.parent_id;
    }
    Ok(Some("the chain of parents is too deep".into()))
}
