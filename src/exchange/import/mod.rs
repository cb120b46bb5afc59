//! Import of records from a spreadsheet (CSV) or NDJSON, in the layout the export writes:
//! headers are field names, one row per record, `id` names an existing record. All or nothing:
//! every row is applied in one transaction; one bad row and nothing is kept, and the answer
//! names every bad row and cell. Linear in the file: each row costs its own writes and lookups,
//! and at most [`MAX_ERRORS_LISTED`] errors are listed.
//!
//! Two passes: [`check`] first checks every row on a read connection, with the models' own
//! checks (`check_create`, `check_update`), so that a file with bad rows never holds the SQLite
//! writer and a dry run never takes it; API writes arriving meanwhile go on. Then [`run`]
//! writes every row in one transaction, checking each again (the data may have changed since,
//! and rows may name records earlier rows create).
//!
//! Rows are not put in savepoints of their own: on PostgreSQL each savepoint that writes keeps
//! a lock on its subtransaction until the end, and every later savepoint's release walks all of
//! them, which made 3,000 rows take 2.3 ms each and 10,000 rows minutes (benches/RESULTS.md).
//! A failed row's partial writes stay in the transaction, which is rolled back anyway; the
//! database refusing a statement ends a PostgreSQL transaction, so the rows after such a row
//! are reported as not checked.
//!
//! A row is applied as its API operation would be, with the caller's rights: a new record as
//! `POST` (absent fields get their defaults), an existing one as `PATCH` (absent fields stay as
//! they are, an empty cell clears). In `upsert` mode a row finds its record by `id`, else by one
//! of its `external_refs`, else creates it. Read-only fields (`id` in create mode, `status`,
//! `priority_score`, `created_at`, …) must be empty or as exported; an `updated_at` as exported,
//! or an `etag` column, refuses a row whose record changed since the export (412 in that row).

pub mod cells;
pub mod read;
pub mod targets;

use diesel::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

pub use read::{Format, Table};
pub use targets::ImportResource;

use crate::auth::{Caller, Role};
use crate::db::{AnyConnection, Timestamp};
use crate::error::{AppError, FieldError};
use crate::exchange::csv::cell;
use crate::models::external_refs::ExternalRef;
use crate::models::record::{IfMatch, Patch};
use crate::progress::Progress;

/// At most this many errors are listed in one answer; the rest are counted in a last entry.
pub const MAX_ERRORS_LISTED: usize = 1000;

/// How rows find their records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every row is a new record (`id` must be empty).
    #[default]
    Create,
    /// A row with an `id`, or with an external reference some record holds, changes that
    /// record; any other row is a new one.
    Upsert,
}

/// One import: what, how, and whether to keep it.
#[derive(Debug, Clone, Copy)]
pub struct Import {
    pub resource: ImportResource,
    pub mode: Mode,
    pub dry_run: bool,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    /// The resource imported.
    #[schema(value_type = String, example = "measures")]
    pub resource: &'static str,
    pub mode: Mode,
    /// `true`: nothing was kept; the figures say what the import would do.
    pub dry_run: bool,
    /// New records.
    pub created: usize,
    /// Records changed.
    pub updated: usize,
    /// Rows equal to their stored record (nothing written, no new version).
    pub unchanged: usize,
    /// Each row's outcome, in file order.
    pub rows: Vec<RowOutcome>,
}

/// What became of one row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowOutcome {
    /// The row of the file (CSV: the header is row 1; NDJSON: the line).
    pub row: usize,
    pub action: Action,
    /// The record's id (`null` for a record a dry run would create).
    pub id: Option<i64>,
}

/// The outcome of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
}

/// Why the transaction ends without a commit.
enum Stop {
    /// Invalid rows or a dry run: roll back, answer what was found.
    RolledBack,
    /// A failure that is no row's fault (the database): answered as it is.
    Failed(AppError),
}

impl From<diesel::result::Error> for Stop {
    fn from(err: diesel::result::Error) -> Self {
        Self::Failed(err.into())
    }
}

/// Checks every row of `table` as [`run`] would apply it, reading only (a read connection;
/// on SQLite the writer stays free meanwhile), and answers what the import would do: the
/// answer of a dry run. Each row checked counts on `progress`.
///
/// What a check cannot see is left to the write, which checks everything again: a row naming a
/// record an earlier row creates (`ref:…`) is checked when it is written, and so is a row that
/// changes, by its external reference, a record an earlier row creates.
pub fn check(
    conn: &mut AnyConnection,
    caller: &Caller,
    import: Import,
    table: &Table,
    now: Timestamp,
    progress: &Progress,
) -> Result<ImportReport, AppError> {
    every_row(conn, caller, import, table, now, progress, Pass::Check)
}

/// Applies every row of `table`, or none, in one transaction; see the module documentation.
/// Each row applied counts on `progress`. A dry run is rolled back.
pub fn run(
    conn: &mut AnyConnection,
    caller: &Caller,
    import: Import,
    table: &Table,
    now: Timestamp,
    progress: &Progress,
) -> Result<ImportReport, AppError> {
    every_row(conn, caller, import, table, now, progress, Pass::Write)
}

/// Whether rows are checked (reading only) or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Check,
    Write,
}

fn every_row(
    conn: &mut AnyConnection,
    caller: &Caller,
    import: Import,
    table: &Table,
    now: Timestamp,
    progress: &Progress,
    pass: Pass,
) -> Result<ImportReport, AppError> {
    caller.require(Role::Editor, "import records")?;
    let header: Vec<FieldError> =
        table.columns.iter().filter_map(|name| unknown(import.resource, name)).map(|e| e.in_row(1)).collect();
    if !header.is_empty() {
        return Err(invalid(header, 0));
    }
    let (mut errors, mut more, mut outcomes) = (Vec::new(), 0, Vec::with_capacity(table.rows.len()));
    let csv = table.format == Format::Csv;
    let columns = &table.columns;
    let mut lookups = cells::Lookups::new(import.resource.resource());
    progress.set_total(table.rows.len() as u64);
    let keep = pass == Pass::Write && !import.dry_run;
    let result = crate::db::statements::with_large_write_cache(conn, |conn| {
        conn.transaction::<(), Stop, _>(|c| {
        let mut rows = table.rows.iter();
        while let Some(row) = rows.next() {
            let number = row.number;
            progress.add(1);
            let applied = apply(c, &mut lookups, caller, (import, pass), csv, (number, row.named(columns)), now);
            match applied {
                Ok((action, id)) => outcomes.push(RowOutcome { row: number, action, id }),
                Err(err) => {
                    for error in row_errors(err).map_err(Stop::Failed)? {
                        if errors.len() < MAX_ERRORS_LISTED {
                            errors.push(error.in_row(number));
                        } else {
                            more += 1;
                        }
                    }
                    if !crate::db::statements::transaction_usable(c) {
                        let (unchecked, last) = (rows.len(), rows.last().map_or(number, |r| r.number));
                        if unchecked > 0 {
                            errors.push(FieldError::new("row", "not_checked", format!(
                                "{unchecked} more rows (up to row {last}) were not checked: the database refused row {number}, which ends the transaction; fix it and import again"
                            )).in_row(number));
                        }
                        break;
                    }
                }
            }
        }
        if errors.is_empty() && keep { Ok(()) } else { Err(Stop::RolledBack) }
    })
    });
    if let Err(Stop::Failed(err)) = result {
        return Err(err);
    }
    if !errors.is_empty() {
        return Err(invalid(errors, more));
    }
    let count = |action| outcomes.iter().filter(|o| o.action == action).count();
    Ok(ImportReport {
        resource: import.resource.resource().as_str(),
        mode: import.mode,
        dry_run: import.dry_run,
        created: count(Action::Created),
        updated: count(Action::Updated),
        unchanged: count(Action::Unchanged),
        rows: outcomes,
    })
}

/// 422 listing the errors (and how many more there were).
fn invalid(mut errors: Vec<FieldError>, more: usize) -> AppError {
    let rows = {
        let mut rows: Vec<usize> = errors.iter().filter_map(|e| e.row).collect();
        rows.dedup();
        rows.len()
    };
    let detail = match (errors.as_slice(), more) {
        ([one], 0) if one.field == "row" => {
            format!("row {}: {}; nothing was imported", one.row.unwrap_or(1), one.message)
        }
        ([one], 0) => format!("row {}: `{}` {}; nothing was imported", one.row.unwrap_or(1), one.field, one.message),
        (all, 0) => format!("{} errors in {rows} rows; nothing was imported", all.len()),
        (listed, more) => {
            format!("{} errors (the first {} listed); nothing was imported", listed.len() + more, listed.len())
        }
    };
    if more > 0 {
        errors.push(FieldError::new("row", "more_errors", format!("{more} more errors")));
    }
    AppError::ImportInvalid { detail, errors }
}

/// A column no field of the resource answers to.
fn unknown(resource: ImportResource, name: &str) -> Option<FieldError> {
    let known = name == "etag"
        || resource.writable().iter().any(|c| c.name == name)
        || resource.read_only().contains(&name)
        || resource.embedded().contains(&name);
    (!known).then(|| {
        let fields: Vec<&str> = resource.writable().iter().map(|c| c.name.as_str()).collect();
        FieldError::new(
            name,
            "unknown_field",
            format!("is not a field of {} (writable: {})", resource.resource().as_str(), fields.join(", ")),
        )
    })
}

/// A row's failure as the errors it lists; a failure that is no row's fault is returned as it is.
fn row_errors(err: AppError) -> Result<Vec<FieldError>, AppError> {
    let one = |field: &str, code: &str, message: String| Ok(vec![FieldError::new(field, code, message)]);
    match err {
        AppError::Validation(errors) | AppError::ImportInvalid { errors, .. } => Ok(errors),
        AppError::ConflictFields { errors, .. } if !errors.is_empty() => Ok(errors),
        AppError::ConflictFields { detail, .. } | AppError::Conflict(detail) => one("row", "conflict", detail),
        AppError::PreconditionFailed(detail) => one("row", "precondition_failed", format!("(412) {detail}")),
        AppError::Forbidden(detail) => one("row", "forbidden", detail),
        AppError::NotFound(detail) => one("id", "not_found", detail),
        AppError::BadRequest { detail, .. } => one("row", "invalid", detail),
        other => Err(other),
    }
}

/// Applies (or checks) one row; returns what it did (or would do) and the record's id (`None`
/// for a record not yet created).
fn apply(
    conn: &mut AnyConnection,
    lookups: &mut cells::Lookups,
    caller: &Caller,
    (import, pass): (Import, Pass),
    csv: bool,
    (number, values): (usize, Vec<(String, Value)>),
    now: Timestamp,
) -> Result<(Action, Option<i64>), AppError> {
    let resource = import.resource;
    let mut writable = Map::new();
    let mut fixed = Map::new();
    let mut errors = Vec::new();
    for (name, value) in values {
        if let Some(column) = resource.writable().iter().find(|c| c.name == name) {
            let converted = if csv {
                cells::from_cell(conn, lookups, column, value.as_str().unwrap_or_default())
            } else {
                cells::from_json(conn, lookups, column, value)
            };
            match converted {
                Ok(value) => {
                    writable.insert(name, value);
                }
                Err(AppError::Validation(found)) => errors.extend(found),
                Err(other) => return Err(other),
            }
        } else if resource.read_only().contains(&name.as_str()) || name == "etag" {
            fixed.insert(name, value);
        } else if let Some(error) = unknown(resource, &name) {
            errors.push(error);
        }
    }
    // Cells that cannot be read are left out, so that the rules still check the others; the
    // row fails either way.
    let empty: Vec<String> = writable.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| k.clone()).collect();
    let row = Row { number, fixed: &fixed, writable };
    let applied = match pass {
        Pass::Check => check_row(conn, lookups, caller, import, row),
        Pass::Write => store(conn, caller, import, row, now),
    }
    .map_err(|err| match err {
        AppError::Validation(found) => AppError::Validation(found.into_iter().map(|e| required(e, &empty)).collect()),
        other => other,
    });
    match (errors.is_empty(), applied) {
        (true, applied) => applied,
        (false, Err(AppError::Validation(more))) => {
            errors.extend(more.into_iter().filter(|m| !errors.iter().any(|e| e.field == m.field)).collect::<Vec<_>>());
            Err(AppError::Validation(errors))
        }
        // A failure that is no row's fault is answered as it is.
        (false, Err(other)) => row_errors(other).and(Err(AppError::Validation(errors))),
        (false, Ok(_)) => Err(AppError::Validation(errors)),
    }
}

/// A row's values, read: its number, its read-only cells, its writable fields.
struct Row<'a> {
    number: usize,
    fixed: &'a Map<String, Value>,
    writable: Map<String, Value>,
}

/// An empty cell of a field that cannot be null says so, instead of serde's "invalid type: null".
fn required(error: FieldError, empty: &[String]) -> FieldError {
    if error.code == "invalid_type" && error.message.starts_with("invalid type: null") && empty.contains(&error.field) {
        FieldError { code: "required".into(), message: "must not be empty".into(), ..error }
    } else {
        error
    }
}

/// Creates or changes the row's record.
fn store(
    conn: &mut AnyConnection,
    caller: &Caller,
    import: Import,
    row: Row,
    now: Timestamp,
) -> Result<(Action, Option<i64>), AppError> {
    let resource = import.resource;
    match target(conn, None, import, row.fixed, &row.writable)? {
        Target::New => {
            refuse_filled(row.fixed)?;
            let version = resource.create(conn, caller, Value::Object(row.writable), now)?;
            let id = (!import.dry_run).then_some(version.id);
            Ok((Action::Created, id))
        }
        Target::Stored(id, stored) => {
            let if_match = compare(row.fixed, &stored)?;
            let before = stored.get("updated_at").cloned();
            let now_value = serde_json::to_value(now).ok();
            let mut writable = row.writable;
            keep_derived_progress(conn, resource, id, &mut writable)?;
            let patch = Patch(writable);
            // A record an earlier row wrote has this import's time as its version already, so
            // whether this row changes it is asked before the write (rare: only such rows).
            let asked = match before == now_value {
                true => Some(resource.check_update(conn, caller, id, patch.clone(), &if_match)?),
                false => None,
            };
            let version = resource.update(conn, caller, id, patch, &if_match, now)?;
            let changed = asked.unwrap_or_else(|| serde_json::to_value(version.updated_at).ok() != before);
            Ok((if changed { Action::Updated } else { Action::Unchanged }, Some(id)))
        }
        Target::Pending(_) => {
            Err(AppError::Internal("a row of an import being written matched no stored record".into()))
        }
    }
}

/// Checks the row as [`store`] would apply it, reading only, and claims its unique values.
fn check_row(
    conn: &mut AnyConnection,
    lookups: &mut cells::Lookups,
    caller: &Caller,
    import: Import,
    row: Row,
) -> Result<(Action, Option<i64>), AppError> {
    let resource = import.resource;
    let unique = unique_values(resource, &row.writable);
    let (claimant, outcome) = match target(conn, Some(lookups), import, row.fixed, &row.writable)? {
        Target::New => {
            refuse_filled(row.fixed)?;
            resource.check_create(conn, caller, Value::Object(row.writable))?;
            (cells::Claimant::Row(row.number), (Action::Created, None))
        }
        Target::Stored(id, stored) => {
            let if_match = compare(row.fixed, &stored)?;
            let mut writable = row.writable;
            keep_derived_progress(conn, resource, id, &mut writable)?;
            let changed = resource.check_update(conn, caller, id, Patch(writable), &if_match)?;
            (cells::Claimant::Record(id), (if changed { Action::Updated } else { Action::Unchanged }, Some(id)))
        }
        // A record an earlier row creates: the write checks the change.
        Target::Pending(first) => (cells::Claimant::Row(first), (Action::Updated, None)),
    };
    if let Some((value, other)) = lookups.claim(claimant, &unique) {
        let other = match other {
            cells::Claimant::Row(n) => format!("the record of row {n}"),
            cells::Claimant::Record(id) => format!("{} {id} (changed by an earlier row)", resource.resource().as_str()),
        };
        return Err(AppError::Conflict(format!("`{value}` is also claimed by {other} of this file")));
    }
    Ok(outcome)
}

/// A measure's derived progress sent back as exported stays derived; another value in the row
/// sets it by hand, as a `PATCH` would.
fn keep_derived_progress(
    conn: &mut AnyConnection,
    resource: ImportResource,
    id: i64,
    writable: &mut Map<String, Value>,
) -> Result<(), AppError> {
    if resource != ImportResource::Measures {
        return Ok(());
    }
    let Some(sent) = writable.get("progress") else { return Ok(()) };
    if let Some(m) = crate::models::measures::find(conn, id)?
        && !m.progress_manual
        && sent.as_i64() == Some(i64::from(m.progress))
    {
        writable.remove("progress");
    }
    Ok(())
}

/// The values of a row that no two records may share: its external references (`ref:source:id`),
/// a partner's AGS (`ags:…`), a field's key (`key:…`).
fn unique_values(resource: ImportResource, writable: &Map<String, Value>) -> Vec<String> {
    let mut values: Vec<String> = row_refs(writable).iter().map(|r| format!("ref:{}:{}", r.source, r.id)).collect();
    let text = |name: &str| writable.get(name).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty());
    match resource {
        ImportResource::Partners => values.extend(text("ags").map(|ags| format!("ags:{ags}"))),
        ImportResource::Fields => values.extend(text("key").map(|key| format!("key:{key}"))),
        _ => {}
    }
    values
}

/// A row's external references, normalised (none when the cell cannot be read).
fn row_refs(writable: &Map<String, Value>) -> Vec<ExternalRef> {
    let mut refs: Vec<ExternalRef> =
        writable.get("external_refs").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
    crate::models::external_refs::normalize(&mut refs);
    refs
}

/// The record a row changes.
enum Target {
    /// None: a new one.
    New,
    /// A stored one: its id and read-only fields as exported.
    Stored(i64, Map<String, Value>),
    /// The record an earlier row of the file creates (this row number), while the file is checked.
    Pending(usize),
}

/// The record a row changes. While a file is checked (`lookups` given), a row may also match
/// the record an earlier row creates.
fn target(
    conn: &mut AnyConnection,
    lookups: Option<&cells::Lookups>,
    import: Import,
    fixed: &Map<String, Value>,
    writable: &Map<String, Value>,
) -> Result<Target, AppError> {
    let resource = import.resource;
    let given = fixed.get("id").map(cell).filter(|id| !id.trim().is_empty());
    if let Some(given) = given {
        if import.mode == Mode::Create {
            return Err(AppError::invalid_field(
                "id",
                "read_only",
                "must be empty in create mode (use mode=upsert to change records)",
            ));
        }
        let id: i64 = given
            .trim()
            .parse()
            .map_err(|_| AppError::invalid_field("id", "invalid_type", "must be a whole number"))?;
        let stored = resource.stored(conn, id)?.ok_or_else(|| {
            AppError::invalid_field(
                "id",
                "not_found",
                format!("there is no {} with id {id}", resource.resource().as_str()),
            )
        })?;
        return Ok(Target::Stored(id, stored));
    }
    if import.mode == Mode::Create {
        return Ok(Target::New);
    }
    let refs = row_refs(writable);
    let mut holders = Vec::new();
    for reference in &refs {
        let holder = crate::models::external_refs::holder(conn, resource.resource(), &reference.source, &reference.id)?;
        if let Some(id) = holder.filter(|id| !holders.contains(id)) {
            holders.push(id);
        }
    }
    match holders.as_slice() {
        [] => {
            let pending = lookups.and_then(|l| refs.iter().find_map(|r| l.created_by(&r.source, &r.id)));
            Ok(pending.map_or(Target::New, Target::Pending))
        }
        [id] => Ok(resource.stored(conn, *id)?.map_or(Target::New, |stored| Target::Stored(*id, stored))),
        several => Err(AppError::invalid_field(
            "external_refs",
            "ambiguous",
            format!("its references are held by different records: {several:?}"),
        )),
    }
}

/// A new record's read-only cells must be empty.
fn refuse_filled(fixed: &Map<String, Value>) -> Result<(), AppError> {
    let errors: Vec<FieldError> = fixed
        .iter()
        .filter(|(_, value)| !cell(value).trim().is_empty())
        .map(|(name, _)| FieldError::new(name.as_str(), "read_only", "must be empty for a new record"))
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// A stored record's read-only cells must be empty or as exported; the precondition of the
/// update is the exported version (`updated_at`, or an `etag` column).
fn compare(fixed: &Map<String, Value>, stored: &Map<String, Value>) -> Result<IfMatch, AppError> {
    let mut errors = Vec::new();
    let mut tags = Vec::new();
    for (name, value) in fixed {
        let given = cell(value).trim().to_owned();
        if given.is_empty() {
            continue;
        }
        let current = stored.get(name).map(cell).unwrap_or_default();
        match name.as_str() {
            // As in the `ETag` header, or without its quotes as a spreadsheet may leave it.
            "etag" if given.starts_with('"') || given.starts_with("W/") => tags.push(given),
            "etag" => tags.push(format!("\"{given}\"")),
            "updated_at" if given != current => {
                return Err(AppError::PreconditionFailed(format!(
                    "the record changed since the export (updated_at {current}, the file has {given}); export it again, or empty updated_at to overwrite"
                )));
            }
            _ if given != current => errors.push(FieldError::new(
                name.as_str(),
                "read_only",
                format!("cannot be changed by an import (stored: `{current}`); leave it empty or as exported"),
            )),
            _ => {}
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(if tags.is_empty() { IfMatch::Absent } else { IfMatch::from_values(tags.iter().map(String::as_str)) })
}
