//! The change feed: every write records what it changed, in its own transaction, and readers
//! follow the record in commit order (`GET /api/v1/changes`).
//!
//! No change is ever missed. A number taken from a sequence is assigned before commit, so a
//! change with a smaller number could commit after a reader passed it. Here the change rows are
//! inserted last in the writing transaction, after it took the feed's transaction-scoped lock
//! (`db::statements::insert_change`; PostgreSQL's advisory lock, held until commit), so
//! numbers are handed out in commit order, across instances too. On SQLite the single writer
//! (and `BEGIN IMMEDIATE` in other processes) commits in order by itself.
//!
//! The feed stores no record bodies: an erased contact survives here only as its id.

pub mod cursor;
pub mod delivery;
pub mod signing;
pub mod waiting;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::db::schema::{changes, settings};
use crate::db::{AnyConnection, Timestamp};
use crate::error::AppError;
use crate::models::record::etag;

/// The resources whose changes the feed carries.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[schema(as = ChangeResource)]
pub enum Resource {
    Partners,
    Fields,
    Cooperations,
    Measures,
    Contacts,
    Users,
    ServiceTokens,
    Webhooks,
    CouncilPapers,
    CouncilMeetings,
    CouncilDecisions,
    WorkingGroups,
    Events,
}

/// Every resource, in the order they are listed.
pub const ALL_RESOURCES: [Resource; 13] = [
    Resource::Partners,
    Resource::Fields,
    Resource::Cooperations,
    Resource::Measures,
    Resource::Contacts,
    Resource::Users,
    Resource::ServiceTokens,
    Resource::Webhooks,
    Resource::CouncilPapers,
    Resource::CouncilMeetings,
    Resource::CouncilDecisions,
    Resource::WorkingGroups,
    Resource::Events,
];

impl Resource {
    /// The name clients use, e.g. `service_tokens`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether `caller` may see changes of this resource: non-personal data as the record
    /// itself (anonymous with public read), contacts from viewer on, accounts for admins only.
    pub fn visible_to(self, caller: &Caller) -> bool {
        match self {
            Self::Partners
            | Self::Fields
            | Self::Cooperations
            | Self::Measures
            | Self::CouncilPapers
            | Self::CouncilMeetings
            | Self::CouncilDecisions
            | Self::WorkingGroups
            | Self::Events => caller.may_read_public().is_ok(),
            Self::Contacts => caller.role.is_some_and(|r| r >= Role::Viewer),
            Self::Users | Self::ServiceTokens | Self::Webhooks => caller.is_admin(),
        }
    }
}

/// The resources of a stored comma-separated list (names the service cannot read are skipped).
pub fn parse_resources(stored: &str) -> Vec<Resource> {
    stored.split(',').filter_map(|r| r.parse().ok()).collect()
}

/// What happened to the record.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
#[schema(as = ChangeOp)]
pub enum Op {
    Created,
    Updated,
    Deleted,
}

crate::stored_enum!(Resource, Op);

/// A stored change.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = changes, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Change {
    /// Position in the feed (commit order).
    pub id: i64,
    #[diesel(deserialize_as = String)]
    pub resource: Resource,
    pub record_id: i64,
    #[diesel(deserialize_as = String)]
    pub op: Op,
    pub at: Timestamp,
    /// The record's `ETag` after the change (`None` once deleted).
    pub etag: Option<String>,
    /// Who made it, as in the history (`user:3 (m.mustermann)`).
    pub actor: Option<String>,
}

/// One change of one record, as the feed lists it and as a webhook delivers it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ChangeResponse)]
pub struct Item {
    /// The kind of record.
    pub resource: Resource,
    /// The record's id.
    pub id: i64,
    /// What happened to it.
    pub op: Op,
    /// When (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The record's `ETag` after the change; `null` once deleted.
    pub etag: Option<String>,
    /// Who made the change (`user:3 (m.mustermann)`); `null` for anonymous readers.
    pub actor: Option<String>,
    /// The feed's position after this change: follow the feed from here to skip what came
    /// before; a receiver of webhooks drops a delivery whose cursor it has seen.
    pub cursor: String,
    /// With `include=record` only: the record as it is when the page is read (which may be
    /// newer than this change), as `GET` on it answers; `null` once it is deleted or the caller
    /// may not read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub record: Option<serde_json::Value>,
}

impl Item {
    /// The item of a stored change; `show_actor` for signed-in readers.
    pub fn new(change: Change, keys: &cursor::CursorKey, show_actor: bool) -> Self {
        let Change { id, resource, record_id, op, at, etag, actor } = change;
        Self {
            resource,
            id: record_id,
            op,
            at,
            etag,
            actor: actor.filter(|_| show_actor),
            cursor: keys.sign(id),
            record: None,
        }
    }
}

/// Records that a write created or changed `record_id` (now at version `updated_at`). Call it
/// last in the write: from here to the commit the feed's lock is held.
pub fn changed(
    conn: &mut AnyConnection,
    caller: &Caller,
    resource: Resource,
    record_id: i64,
    op: Op,
    updated_at: Timestamp,
) -> QueryResult<()> {
    insert(conn, caller, resource, record_id, op, updated_at, Some(etag(updated_at)))
}

/// Records that a write deleted `record_id`, at `at`.
pub fn deleted(
    conn: &mut AnyConnection,
    caller: &Caller,
    resource: Resource,
    record_id: i64,
    at: Timestamp,
) -> QueryResult<()> {
    insert(conn, caller, resource, record_id, Op::Deleted, at, None)
}

/// Records the changes of many records of one resource written at `at` (`None`: deleted), in
/// one statement on PostgreSQL. Call it last in the write, as [`changed`].
pub fn changed_many(
    conn: &mut AnyConnection,
    caller: &Caller,
    resource: Resource,
    records: &[(i64, Option<Op>)],
    at: Timestamp,
) -> QueryResult<()> {
    let rows: Vec<(i64, &str, Option<String>)> = records
        .iter()
        .map(|(id, op)| match op {
            Some(op) => (*id, <&str>::from(*op), Some(etag(at))),
            None => (*id, <&str>::from(Op::Deleted), None),
        })
        .collect();
    crate::db::statements::insert_changes(conn, resource.as_str(), &rows, at, &caller.actor())
}

/// Records a change of a record that has no `ETag` of its own (a service token), at `at`.
pub fn unversioned(
    conn: &mut AnyConnection,
    caller: &Caller,
    resource: Resource,
    record_id: i64,
    op: Op,
    at: Timestamp,
) -> QueryResult<()> {
    insert(conn, caller, resource, record_id, op, at, None)
}

fn insert(
    conn: &mut AnyConnection,
    caller: &Caller,
    resource: Resource,
    record_id: i64,
    op: Op,
    at: Timestamp,
    etag: Option<String>,
) -> QueryResult<()> {
    let actor = caller.actor();
    let change = crate::db::statements::NewChange {
        resource: resource.as_str(),
        record_id,
        op: op.into(),
        at,
        etag: etag.as_deref(),
        actor: &actor,
    };
    crate::db::statements::insert_change(conn, change)
}

/// The settings key of the highest change number pruned so far.
const PRUNED_THROUGH: &str = "changes_pruned_through";

/// The highest change number that was pruned (0 when none was).
pub fn pruned_through(conn: &mut AnyConnection) -> QueryResult<i64> {
    let value: Option<String> = settings::table.find(PRUNED_THROUGH).select(settings::value).first(conn).optional()?;
    Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// The feed's head: the number of the newest change (or of the newest pruned one, if the feed
/// is empty now), from which a reader sees only what comes after.
pub fn head(conn: &mut AnyConnection) -> QueryResult<i64> {
    let newest: Option<i64> = changes::table.select(diesel::dsl::max(changes::id)).first(conn)?;
    Ok(newest.unwrap_or(0).max(pruned_through(conn)?))
}

/// One page of the feed after change `after` (from the oldest kept change when `None`), of
/// the given resources: the position to continue from, the changes (at most `limit`) and
/// whether more follow. A position before the oldest kept change is 410.
///
/// When no more follow, the position is the head as read before the changes were: a reader of
/// a few resources skips the others' changes once, instead of scanning them on every poll.
/// Nothing is skipped that way: numbers follow commit order, so every change up to a visible
/// head has committed.
pub fn page(
    conn: &mut AnyConnection,
    after: Option<i64>,
    resources: &[Resource],
    limit: i64,
) -> Result<(i64, Vec<Change>, bool), AppError> {
    let pruned = pruned_through(conn)?;
    let after = after.unwrap_or(pruned);
    if after < pruned {
        return Err(AppError::CursorExpired(
            "changes after this cursor were pruned (the feed keeps IKZ_CHANGES_RETENTION_DAYS days); \
             start a copy again: take GET /api/v1/changes/cursor, read the lists, then follow the \
             feed from that cursor"
                .into(),
        ));
    }
    let head = head(conn)?;
    let names: Vec<&str> = resources.iter().map(|r| r.as_str()).collect();
    let mut rows: Vec<Change> = changes::table
        .filter(changes::id.gt(after))
        .filter(changes::id.le(head))
        .filter(changes::resource.eq_any(names))
        .order(changes::id)
        .limit(limit + 1)
        .select(Change::as_select())
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = match rows.last() {
        Some(last) if more => last.id,
        _ => head.max(after),
    };
    Ok((next, rows, more))
}

/// Deletes the changes older than `before` and remembers the highest number deleted, so that a
/// cursor from before it is told so (410) instead of silently missing changes. Returns how many
/// were deleted.
pub fn prune(conn: &mut AnyConnection, before: Timestamp) -> QueryResult<usize> {
    // Changes are numbered in commit order, so the old ones are a prefix: walk it from the
    // oldest by id, a batch at a time, until the first one that is young enough.
    let mut through: Option<i64> = None;
    loop {
        let batch: Vec<(i64, Timestamp)> = changes::table
            .filter(changes::id.gt(through.unwrap_or(0)))
            .order(changes::id)
            .select((changes::id, changes::at))
            .limit(1000)
            .load(conn)?;
        let old = batch.iter().take_while(|(_, at)| *at < before).count();
        if old > 0 {
            through = Some(batch[old - 1].0);
        }
        if old < batch.len() || batch.len() < 1000 {
            break;
        }
    }
    let Some(through) = through else { return Ok(0) };
    let deleted = diesel::delete(changes::table.filter(changes::id.le(through))).execute(conn)?;
    let through = through.max(pruned_through(conn)?).to_string();
    crate::db::statements::set_setting(conn, PRUNED_THROUGH, &through)?;
    Ok(deleted)
}
