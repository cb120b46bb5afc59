//! What the council sync writes: one page of a list at a time, in one transaction, compared
//! with what is stored so that a run that brings nothing new writes nothing (no new versions,
//! no changes in the feed).

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::schema::{council_bodies, council_meetings, council_organizations, council_paper_keys, council_papers};
use crate::db::{AnyConnection, Timestamp};
use crate::error::AppError;
use crate::per_backend;

/// An object of a list: as it is now, or the id of one the server says was deleted.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming<T> {
    Live(T),
    Deleted(String),
}

/// What a page did to the stored objects of one type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tally {
    /// Objects the server listed (deleted ones included).
    pub seen: u64,
    /// Stored for the first time.
    pub created: u64,
    /// Stored before and changed now.
    pub updated: u64,
    /// Removed because the server marked them `deleted`.
    pub deleted: u64,
}

impl Tally {
    /// Adds another tally to this one.
    pub fn add(&mut self, other: Tally) {
        self.seen += other.seen;
        self.created += other.created;
        self.updated += other.updated;
        self.deleted += other.deleted;
    }
}

/// One agenda item of a meeting (stored with the meeting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgendaItem {
    /// The item's OParl id, when it has one.
    pub oparl_id: Option<String>,
    /// Its number on the agenda (`Ö 5.2`).
    pub number: Option<String>,
    /// Its title.
    pub name: Option<String>,
    /// Whether it was discussed in public.
    pub public: Option<bool>,
    /// The result as the council system records it (`einstimmig beschlossen`).
    pub result: Option<String>,
    /// The text of the resolution.
    pub resolution_text: Option<String>,
    /// The OParl id of the consultation it belongs to.
    pub consultation_id: Option<String>,
}

/// One consultation of a paper (stored with the paper): which organisation discussed it, in
/// which meeting, under which agenda item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredConsultation {
    /// The consultation's OParl id, when it has one.
    pub oparl_id: Option<String>,
    /// OParl id of the meeting.
    pub meeting_id: Option<String>,
    /// OParl id of the agenda item.
    pub agenda_item_id: Option<String>,
    /// OParl ids of the organisations (council, committee).
    pub organization_ids: Vec<String>,
    /// Its role (`Beschlussfassung`, `Vorberatung`).
    pub role: Option<String>,
    /// Whether this consultation decides (rather than advises).
    pub authoritative: Option<bool>,
}

/// A body as the sync read it.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyIn {
    pub oparl_id: String,
    pub name: String,
    /// Normalised to 8 digits.
    pub ags: Option<String>,
    pub classification: Option<String>,
    pub organization_list: Option<String>,
    pub meeting_list: Option<String>,
    pub paper_list: Option<String>,
    pub modified: Option<Timestamp>,
}

/// An organisation as the sync read it.
#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset, Queryable, Selectable)]
#[diesel(table_name = council_organizations, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct OrganizationIn {
    pub oparl_id: String,
    pub name: String,
    pub short_name: Option<String>,
    pub classification: Option<String>,
    pub organization_type: Option<String>,
    pub modified: Option<Timestamp>,
}

/// A meeting as the sync read it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingIn {
    pub oparl_id: String,
    pub name: String,
    pub start_at: Option<Timestamp>,
    pub end_at: Option<Timestamp>,
    /// The day it starts, in the council's own time (the date of `start` as sent).
    pub start_date: Option<NaiveDate>,
    pub cancelled: bool,
    pub location: Option<String>,
    pub web_url: Option<String>,
    pub organization_ids: Vec<String>,
    pub agenda_items: Vec<AgendaItem>,
    pub modified: Option<Timestamp>,
}

/// A paper as the sync read it.
#[derive(Debug, Clone, PartialEq)]
pub struct PaperIn {
    pub oparl_id: String,
    pub reference: Option<String>,
    pub name: String,
    pub paper_type: Option<String>,
    pub date: Option<NaiveDate>,
    pub main_file_url: Option<String>,
    pub web_url: Option<String>,
    pub keywords: Vec<String>,
    pub consultations: Vec<StoredConsultation>,
    pub modified: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset, Queryable, Selectable)]
#[diesel(table_name = council_meetings, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct MeetingData {
    partner_id: Option<i64>,
    oparl_id: String,
    name: String,
    name_folded: String,
    start_at: Option<Timestamp>,
    end_at: Option<Timestamp>,
    start_date: Option<NaiveDate>,
    sort_key: String,
    cancelled: bool,
    location: Option<String>,
    web_url: Option<String>,
    organization_ids: String,
    agenda_items: String,
    modified: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Insertable, AsChangeset, Queryable, Selectable)]
#[diesel(table_name = council_papers, treat_none_as_null = true)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct PaperData {
    partner_id: Option<i64>,
    oparl_id: String,
    reference: Option<String>,
    name: String,
    search_folded: String,
    paper_type: Option<String>,
    paper_date: Option<NaiveDate>,
    sort_key: String,
    main_file_url: Option<String>,
    web_url: Option<String>,
    keywords: String,
    keywords_folded: String,
    candidate: bool,
    consultations: String,
    modified: Option<Timestamp>,
}

/// Words (in search form) that make a paper a candidate to link to a measure: it is about
/// inter-municipal cooperation by its name, reference or keywords.
pub const CANDIDATE_WORDS: [&str; 6] =
    ["interkommunal", "ikz", "zusammenarbeit", "kooperation", "zweckverband", "verwaltungsgemeinschaft"];

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

impl PaperIn {
    fn into_data(self, partner_id: Option<i64>) -> PaperData {
        let search_folded = crate::domain::fold(&format!("{} {}", self.name, self.reference.as_deref().unwrap_or("")));
        let keywords_folded: String =
            self.keywords.iter().map(|k| format!("|{}", crate::domain::fold(k.trim()))).collect();
        let keywords_folded = if keywords_folded.is_empty() { String::new() } else { format!("{keywords_folded}|") };
        let candidate = CANDIDATE_WORDS.iter().any(|w| search_folded.contains(w) || keywords_folded.contains(w));
        PaperData {
            partner_id,
            oparl_id: self.oparl_id,
            reference: self.reference,
            name: self.name,
            search_folded,
            paper_type: self.paper_type,
            paper_date: self.date,
            sort_key: self.date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default(),
            main_file_url: self.main_file_url,
            web_url: self.web_url,
            keywords: to_json(&self.keywords),
            keywords_folded,
            candidate,
            consultations: to_json(&self.consultations),
            modified: self.modified,
        }
    }
}

impl MeetingIn {
    fn into_data(self, partner_id: Option<i64>) -> MeetingData {
        MeetingData {
            partner_id,
            name_folded: crate::domain::fold(&self.name),
            oparl_id: self.oparl_id,
            name: self.name,
            start_at: self.start_at,
            end_at: self.end_at,
            start_date: self.start_date,
            sort_key: self.start_at.map(crate::db::keyset::timestamp_key).unwrap_or_default(),
            cancelled: self.cancelled,
            location: self.location,
            web_url: self.web_url,
            organization_ids: to_json(&self.organization_ids),
            agenda_items: to_json(&self.agenda_items),
            modified: self.modified,
        }
    }
}

/// A stored body: its id and the partner it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBody {
    pub id: i64,
    pub partner_id: Option<i64>,
}

/// Stores a body of source `source_id` with the partner it was matched to (or created for it);
/// the operation is `None` when the stored body was the same already (nothing is written).
pub fn store_body(
    conn: &mut AnyConnection,
    source_id: i64,
    body: &BodyIn,
    partner_id: Option<i64>,
    now: Timestamp,
) -> Result<(StoredBody, Option<Op>), AppError> {
    use council_bodies::dsl as b;
    type Stored =
        (i64, Option<i64>, String, Option<String>, Option<String>, Option<String>, Option<String>, Option<Timestamp>);
    let existing: Option<(i64, Stored)> = b::council_bodies
        .filter(b::oparl_id.eq(&body.oparl_id))
        .select((
            b::id,
            (
                b::source_id,
                b::partner_id,
                b::name,
                b::ags,
                b::organization_list,
                b::meeting_list,
                b::paper_list,
                b::modified,
            ),
        ))
        .first(conn)
        .optional()?;
    let wanted = (
        source_id,
        partner_id,
        body.name.clone(),
        body.ags.clone(),
        body.organization_list.clone(),
        body.meeting_list.clone(),
        body.paper_list.clone(),
        body.modified,
    );
    let values = (
        b::source_id.eq(source_id),
        b::partner_id.eq(partner_id),
        b::name.eq(&body.name),
        b::ags.eq(&body.ags),
        b::organization_list.eq(&body.organization_list),
        b::meeting_list.eq(&body.meeting_list),
        b::paper_list.eq(&body.paper_list),
        b::modified.eq(body.modified),
    );
    match existing {
        Some((id, stored)) if stored == wanted => Ok((StoredBody { id, partner_id }, None)),
        Some((id, ..)) => {
            diesel::update(b::council_bodies.find(id)).set((values, b::updated_at.eq(now))).execute(conn)?;
            Ok((StoredBody { id, partner_id }, Some(Op::Updated)))
        }
        None => {
            let id: i64 = per_backend!(conn, |c| diesel::insert_into(b::council_bodies)
                .values((values, b::oparl_id.eq(&body.oparl_id), b::created_at.eq(now), b::updated_at.eq(now)))
                .returning(b::id)
                .get_result(c))?;
            Ok((StoredBody { id, partner_id }, Some(Op::Created)))
        }
    }
}

/// The body stored for an OParl id, with its partner.
pub fn find_body(conn: &mut AnyConnection, oparl_id: &str) -> QueryResult<Option<StoredBody>> {
    use council_bodies::dsl as b;
    let found: Option<(i64, Option<i64>)> =
        b::council_bodies.filter(b::oparl_id.eq(oparl_id)).select((b::id, b::partner_id)).first(conn).optional()?;
    Ok(found.map(|(id, partner_id)| StoredBody { id, partner_id }))
}

/// The ids of `incoming`, once each, with the last entry of an id winning.
fn last_per_id<T>(incoming: Vec<Incoming<T>>, id_of: impl Fn(&T) -> &str) -> Vec<Incoming<T>> {
    let mut position: HashMap<String, usize> = HashMap::new();
    let mut kept: Vec<Option<Incoming<T>>> = Vec::new();
    for item in incoming {
        let id = match &item {
            Incoming::Live(t) => id_of(t).to_owned(),
            Incoming::Deleted(id) => id.clone(),
        };
        if let Some(&at) = position.get(&id) {
            kept[at] = None;
        }
        position.insert(id, kept.len());
        kept.push(Some(item));
    }
    kept.into_iter().flatten().collect()
}

/// Stores one page of organisations of a body.
pub fn store_organizations(
    conn: &mut AnyConnection,
    body: StoredBody,
    incoming: Vec<Incoming<OrganizationIn>>,
    now: Timestamp,
) -> Result<Tally, AppError> {
    use council_organizations::dsl as o;
    let incoming = last_per_id(incoming, |t| &t.oparl_id);
    let ids: Vec<&str> = incoming.iter().map(|i| id_of(i, |t: &OrganizationIn| &t.oparl_id)).collect();
    let stored: HashMap<String, (i64, OrganizationIn)> = o::council_organizations
        .filter(o::oparl_id.eq_any(&ids))
        .select((o::id, OrganizationIn::as_select()))
        .load::<(i64, OrganizationIn)>(conn)?
        .into_iter()
        .map(|(id, row)| (row.oparl_id.clone(), (id, row)))
        .collect();
    let mut tally = Tally { seen: incoming.len() as u64, ..Tally::default() };
    for item in incoming {
        match item {
            Incoming::Deleted(oparl_id) => {
                if let Some((id, _)) = stored.get(&oparl_id) {
                    diesel::delete(o::council_organizations.find(*id)).execute(conn)?;
                    tally.deleted += 1;
                }
            }
            Incoming::Live(org) => match stored.get(&org.oparl_id) {
                Some((_, row)) if *row == org => {}
                Some((id, _)) => {
                    diesel::update(o::council_organizations.find(*id))
                        .set((&org, o::body_id.eq(body.id), o::updated_at.eq(now)))
                        .execute(conn)?;
                    tally.updated += 1;
                }
                None => {
                    diesel::insert_into(o::council_organizations)
                        .values((&org, o::body_id.eq(body.id), o::created_at.eq(now), o::updated_at.eq(now)))
                        .execute(conn)?;
                    tally.created += 1;
                }
            },
        }
    }
    Ok(tally)
}

fn id_of<T>(item: &Incoming<T>, of: impl Fn(&T) -> &String) -> &str {
    match item {
        Incoming::Live(t) => of(t),
        Incoming::Deleted(id) => id,
    }
}

/// Stores one page of meetings of a body; created, changed and deleted meetings are recorded
/// in the change feed.
pub fn store_meetings(
    conn: &mut AnyConnection,
    caller: &Caller,
    body: StoredBody,
    incoming: Vec<Incoming<MeetingIn>>,
    now: Timestamp,
) -> Result<Tally, AppError> {
    use council_meetings::dsl as m;
    let incoming = last_per_id(incoming, |t| &t.oparl_id);
    let ids: Vec<&str> = incoming.iter().map(|i| id_of(i, |t: &MeetingIn| &t.oparl_id)).collect();
    let stored: HashMap<String, (i64, MeetingData)> = m::council_meetings
        .filter(m::oparl_id.eq_any(&ids))
        .select((m::id, MeetingData::as_select()))
        .load::<(i64, MeetingData)>(conn)?
        .into_iter()
        .map(|(id, row)| (row.oparl_id.clone(), (id, row)))
        .collect();
    let mut tally = Tally { seen: incoming.len() as u64, ..Tally::default() };
    let mut feed = Vec::new();
    for item in incoming {
        match item {
            Incoming::Deleted(oparl_id) => {
                if let Some((id, _)) = stored.get(&oparl_id) {
                    diesel::delete(m::council_meetings.find(*id)).execute(conn)?;
                    tally.deleted += 1;
                    feed.push((*id, None));
                }
            }
            Incoming::Live(meeting) => {
                let data = meeting.into_data(body.partner_id);
                match stored.get(&data.oparl_id) {
                    Some((_, row)) if *row == data => {}
                    Some((id, _)) => {
                        diesel::update(m::council_meetings.find(*id))
                            .set((&data, m::body_id.eq(body.id), m::updated_at.eq(now)))
                            .execute(conn)?;
                        tally.updated += 1;
                        feed.push((*id, Some(Op::Updated)));
                    }
                    None => {
                        let id: i64 = per_backend!(conn, |c| diesel::insert_into(m::council_meetings)
                            .values((&data, m::body_id.eq(body.id), m::created_at.eq(now), m::updated_at.eq(now)))
                            .returning(m::id)
                            .get_result(c))?;
                        tally.created += 1;
                        feed.push((id, Some(Op::Created)));
                    }
                }
            }
        }
    }
    record(conn, caller, Resource::CouncilMeetings, feed, now)?;
    Ok(tally)
}

/// Stores one page of papers of a body, with the keys measures link to them by; created,
/// changed and deleted papers are recorded in the change feed. New papers, their keys and the
/// page's changes go in one statement each on PostgreSQL (a round trip per statement is what a
/// page costs there); changed papers, rare after the first run, one by one.
pub fn store_papers(
    conn: &mut AnyConnection,
    caller: &Caller,
    body: StoredBody,
    incoming: Vec<Incoming<PaperIn>>,
    now: Timestamp,
) -> Result<Tally, AppError> {
    use council_papers::dsl as p;
    let incoming = last_per_id(incoming, |t| &t.oparl_id);
    let ids: Vec<&str> = incoming.iter().map(|i| id_of(i, |t: &PaperIn| &t.oparl_id)).collect();
    let stored: HashMap<String, (i64, PaperData)> = p::council_papers
        .filter(p::oparl_id.eq_any(&ids))
        .select((p::id, PaperData::as_select()))
        .load::<(i64, PaperData)>(conn)?
        .into_iter()
        .map(|(id, row)| (row.oparl_id.clone(), (id, row)))
        .collect();
    let mut tally = Tally { seen: incoming.len() as u64, ..Tally::default() };
    let mut feed = Vec::new();
    let mut gone: Vec<i64> = Vec::new();
    let mut rekeyed: Vec<(i64, PaperData)> = Vec::new();
    let mut new: Vec<PaperData> = Vec::new();
    for item in incoming {
        match item {
            Incoming::Deleted(oparl_id) => {
                if let Some((id, _)) = stored.get(&oparl_id) {
                    gone.push(*id);
                    feed.push((*id, None));
                }
            }
            Incoming::Live(paper) => {
                let data = paper.into_data(body.partner_id);
                match stored.get(&data.oparl_id) {
                    Some((_, row)) if *row == data => {}
                    Some((id, _)) => {
                        diesel::update(p::council_papers.find(*id))
                            .set((&data, p::body_id.eq(body.id), p::updated_at.eq(now)))
                            .execute(conn)?;
                        feed.push((*id, Some(Op::Updated)));
                        rekeyed.push((*id, data));
                    }
                    None => new.push(data),
                }
            }
        }
    }
    tally.deleted = gone.len() as u64;
    tally.updated = rekeyed.len() as u64;
    tally.created = new.len() as u64;
    let old_keys: Vec<i64> = gone.iter().copied().chain(rekeyed.iter().map(|(id, _)| *id)).collect();
    if !old_keys.is_empty() {
        diesel::delete(council_paper_keys::table.filter(council_paper_keys::paper_id.eq_any(&old_keys)))
            .execute(conn)?;
    }
    if !gone.is_empty() {
        diesel::delete(p::council_papers.filter(p::id.eq_any(&gone))).execute(conn)?;
    }
    let created: Vec<i64> = if new.is_empty() {
        Vec::new()
    } else {
        let row = |d| (d, p::body_id.eq(body.id), p::created_at.eq(now), p::updated_at.eq(now));
        let returned: Vec<(i64, String)> = match conn {
            AnyConnection::Pg(c) => diesel::insert_into(p::council_papers)
                .values(new.iter().map(row).collect::<Vec<_>>())
                .returning((p::id, p::oparl_id))
                .get_results(c)?,
            AnyConnection::Sqlite(c) => {
                let mut returned = Vec::with_capacity(new.len());
                for d in &new {
                    let one = diesel::insert_into(p::council_papers).values(row(d)).returning((p::id, p::oparl_id));
                    returned.push(one.get_result(c)?);
                }
                returned
            }
        };
        let by_oparl: HashMap<&str, i64> = returned.iter().map(|(id, o)| (o.as_str(), *id)).collect();
        new.iter().map(|d| by_oparl.get(d.oparl_id.as_str()).copied().unwrap_or_default()).collect()
    };
    feed.extend(created.iter().map(|id| (*id, Some(Op::Created))));
    let keyed = created.iter().copied().zip(new.iter()).chain(rekeyed.iter().map(|(id, d)| (*id, d)));
    let mut keys: Vec<(String, i64)> = Vec::new();
    for (id, data) in keyed {
        let mut own: Vec<String> =
            [Some(&data.oparl_id), data.web_url.as_ref()].into_iter().flatten().map(|k| super::link_key(k)).collect();
        own.dedup();
        keys.extend(own.into_iter().map(|k| (k, id)));
    }
    if !keys.is_empty() {
        let rows: Vec<_> = keys
            .into_iter()
            .map(|(key, id)| (council_paper_keys::key.eq(key), council_paper_keys::paper_id.eq(id)))
            .collect();
        per_backend!(conn, |c| diesel::insert_into(council_paper_keys::table).values(&rows).execute(c))?;
    }
    record(conn, caller, Resource::CouncilPapers, feed, now)?;
    Ok(tally)
}

/// Records the page's changes last, as the feed asks ([`changes::changed`]).
fn record(
    conn: &mut AnyConnection,
    caller: &Caller,
    resource: Resource,
    feed: Vec<(i64, Option<Op>)>,
    now: Timestamp,
) -> QueryResult<()> {
    changes::changed_many(conn, caller, resource, &feed, now)
}

/// How a body found its partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerMatch {
    /// The partner the body was matched to before.
    Kept(i64),
    /// The partner holding the body's AGS, or its OParl id as an external reference.
    Found(i64),
    /// A partner created from the body (name, kind, AGS, state, the OParl id as reference).
    Created(i64),
    /// None found, and none could be created from what the body says.
    None,
}

impl PartnerMatch {
    /// The partner's id.
    pub fn id(self) -> Option<i64> {
        match self {
            Self::Kept(id) | Self::Found(id) | Self::Created(id) => Some(id),
            Self::None => None,
        }
    }
}

/// The kind of partner a body's `classification` names (`Landkreis` → district).
pub fn partner_kind(classification: Option<&str>) -> crate::models::partners::PartnerKind {
    use crate::models::partners::PartnerKind;
    let folded = classification.map(crate::domain::fold).unwrap_or_default();
    if folded == "kreis" || folded.starts_with("landkreis") || folded == "kreisverwaltung" {
        PartnerKind::District
    } else if folded.contains("verband") {
        PartnerKind::Association
    } else {
        PartnerKind::Municipality
    }
}

/// The partner a body belongs to: the one it was matched to before, else the one with its AGS,
/// else the one holding its OParl id as reference, else a new one made from the body.
pub fn partner_for_body(
    conn: &mut AnyConnection,
    caller: &Caller,
    body: &BodyIn,
    now: Timestamp,
) -> Result<PartnerMatch, AppError> {
    use crate::models::{external_refs, partners};
    let before: Option<Option<i64>> = council_bodies::table
        .filter(council_bodies::oparl_id.eq(&body.oparl_id))
        .select(council_bodies::partner_id)
        .first(conn)
        .optional()?;
    if let Some(Some(id)) = before
        && partners::find(conn, id)?.is_some()
    {
        return Ok(PartnerMatch::Kept(id));
    }
    if let Some(ags) = &body.ags
        && let Some(id) = partners::find_by_ags(conn, ags, None)?
    {
        return Ok(PartnerMatch::Found(id));
    }
    if let Some(id) = external_refs::holder(conn, Resource::Partners, "oparl", &body.oparl_id)? {
        return Ok(PartnerMatch::Found(id));
    }
    let name: String = body.name.chars().take(200).collect();
    let mut input = serde_json::json!({
        "name": name,
        "kind": partner_kind(body.classification.as_deref()),
        "ags": body.ags,
        "state": body.ags.as_deref().and_then(crate::domain::state_of_ags),
    });
    if body.oparl_id.chars().count() <= 500 {
        input["external_refs"] = serde_json::json!([{ "source": "oparl", "id": body.oparl_id }]);
    }
    let input: partners::CreatePartner = match crate::models::input::decode(input) {
        Ok(input) => input,
        Err(AppError::Validation(_)) => return Ok(PartnerMatch::None),
        Err(other) => return Err(other),
    };
    Ok(PartnerMatch::Created(partners::create(conn, caller, input, now)?.id))
}
