//! The change feed as its readers get it: each change with its record as it is now
//! (`GET /api/v1/changes?include=record`). The feed itself (`crate::changes`) knows no records.

use crate::changes::{Change, Resource, page};
use crate::db::AnyConnection;
use crate::error::AppError;

/// A record as it is now, of any resource of the feed (`include=record`).
#[derive(Debug)]
pub enum Current {
    Partner(super::partners::Partner),
    Field(super::fields::Field),
    Cooperation(super::cooperations::Cooperation),
    Measure(Box<super::measures::MeasureRecord>),
    Contact(super::contacts::ContactRecord),
    User(super::users::UserRecord),
    ServiceToken(super::service_tokens::ServiceTokenRecord),
    Webhook(super::webhooks::Webhook),
    CouncilPaper(Box<super::council::PaperRecord>),
    CouncilMeeting(Box<super::council::MeetingRecord>),
    CouncilDecision(Box<super::measures::decisions::DecisionRecord>),
    WorkingGroup(Box<super::working_groups::WorkingGroupRecord>),
    Event(Box<super::events::EventRecord>),
}

/// The record a change is about, as it is now (as `GET` on it reads it); `None` once deleted.
/// The caller must be allowed to read the resource (the feed shows only those).
pub fn current(conn: &mut AnyConnection, resource: Resource, id: i64) -> Result<Option<Current>, AppError> {
    let found = match resource {
        Resource::Partners => super::partners::get(conn, id).map(Current::Partner),
        Resource::Fields => super::fields::get(conn, id).map(Current::Field),
        Resource::Cooperations => super::cooperations::get(conn, id).map(Current::Cooperation),
        Resource::Measures => super::measures::get(conn, id, false).map(|r| Current::Measure(Box::new(r))),
        Resource::Contacts => super::contacts::get(conn, id).map(Current::Contact),
        Resource::Users => super::users::get(conn, id).map(Current::User),
        Resource::ServiceTokens => super::service_tokens::get(conn, id).map(Current::ServiceToken),
        Resource::Webhooks => super::webhooks::get(conn, id).map(Current::Webhook),
        Resource::CouncilPapers => super::council::get_paper(conn, id).map(|r| Current::CouncilPaper(Box::new(r))),
        Resource::CouncilMeetings => {
            super::council::get_meeting(conn, id).map(|r| Current::CouncilMeeting(Box::new(r)))
        }
        Resource::CouncilDecisions => {
            super::measures::decisions::get_any(conn, id).map(|r| Current::CouncilDecision(Box::new(r)))
        }
        Resource::WorkingGroups => super::working_groups::get_any(conn, id).map(|r| Current::WorkingGroup(Box::new(r))),
        Resource::Events => super::events::get_any(conn, id).map(|r| Current::Event(Box::new(r))),
    };
    match found {
        Ok(record) => Ok(Some(record)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

/// A change with, when asked for, its record as it is now (`Some(None)` once deleted).
pub type WithRecord = (Change, Option<Option<Current>>);

/// [`page`], and with `with_records` each change's record as it is now ([`current`]).
pub fn page_with_records(
    conn: &mut AnyConnection,
    after: Option<i64>,
    resources: &[Resource],
    limit: i64,
    with_records: bool,
) -> Result<(i64, Vec<WithRecord>, bool), AppError> {
    let (next, rows, more) = page(conn, after, resources, limit)?;
    let rows = rows
        .into_iter()
        .map(|change| {
            let record = with_records.then(|| current(conn, change.resource, change.record_id)).transpose()?;
            Ok((change, record))
        })
        .collect::<Result<_, AppError>>()?;
    Ok((next, rows, more))
}
