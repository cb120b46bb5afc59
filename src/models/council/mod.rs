//! What the council information systems (OParl) publish, as the sync stores it: bodies,
//! organisations, meetings with their agenda items, papers with their consultations, and the
//! keys that link papers to the measures whose `council_refs` name them.
//!
//! Links: a measure's `council_refs` and a paper's OParl id and web URL are each stored in a
//! compared form ([`link_key`]) in an indexed key table (`measure_council_keys`,
//! `council_paper_keys`); a measure and a paper are linked where their keys meet. Each side
//! keeps its own keys current when it is written (the measure's write, the sync's page), so a
//! link appears whichever of the two comes first, and neither write touches the other's rows.

pub mod outcomes;
pub mod store;

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::keyset::{After, paginate};
use crate::db::schema::{
    council_meetings, council_organizations, council_paper_keys, council_papers, measure_council_keys,
};
use crate::db::{AnyConnection, Timestamp};
use crate::error::AppError;
use crate::models::record::not_found;
pub use store::{AgendaItem, StoredConsultation};

/// The compared form of a council reference: a URL without its scheme (`http` and `https`
/// name the same paper), with its host in lower case and without a trailing slash; any other
/// text trimmed.
pub fn link_key(reference: &str) -> String {
    let reference = reference.trim();
    match url::Url::parse(reference) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            let mut key = url.host_str().unwrap_or_default().to_owned();
            if let Some(port) = url.port() {
                key.push_str(&format!(":{port}"));
            }
            key.push_str(url.path().trim_end_matches('/'));
            if let Some(query) = url.query() {
                key.push('?');
                key.push_str(query);
            }
            key
        }
        _ => reference.to_owned(),
    }
}

/// Replaces the link keys of a measure with those of its `council_refs` (in its write).
pub fn set_measure_refs(conn: &mut AnyConnection, measure_id: i64, refs: &[String]) -> QueryResult<()> {
    use measure_council_keys::dsl as k;
    diesel::delete(k::measure_council_keys.filter(k::measure_id.eq(measure_id))).execute(conn)?;
    let keys: HashSet<String> = refs.iter().map(|r| link_key(r)).filter(|k| !k.is_empty()).collect();
    let rows: Vec<_> = keys.into_iter().map(|key| (k::key.eq(key), k::measure_id.eq(measure_id))).collect();
    if !rows.is_empty() {
        crate::per_backend!(conn, |c| diesel::insert_into(k::measure_council_keys).values(rows).execute(c))?;
    }
    Ok(())
}

/// The ids of the measures linked to each of `paper_ids`.
fn measures_of_papers(conn: &mut AnyConnection, paper_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<i64>>> {
    let pairs: Vec<(i64, i64)> = council_paper_keys::table
        .inner_join(measure_council_keys::table.on(measure_council_keys::key.eq(council_paper_keys::key)))
        .filter(council_paper_keys::paper_id.eq_any(paper_ids))
        .select((council_paper_keys::paper_id, measure_council_keys::measure_id))
        .load(conn)?;
    let mut map: HashMap<i64, Vec<i64>> = HashMap::new();
    for (paper, measure) in pairs {
        let ids = map.entry(paper).or_default();
        if !ids.contains(&measure) {
            ids.push(measure);
        }
    }
    map.values_mut().for_each(|ids| ids.sort_unstable());
    Ok(map)
}

/// A stored paper row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = council_papers, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct PaperRow {
    pub id: i64,
    pub body_id: i64,
    pub partner_id: Option<i64>,
    pub oparl_id: String,
    pub reference: Option<String>,
    pub name: String,
    pub paper_type: Option<String>,
    pub paper_date: Option<NaiveDate>,
    pub sort_key: String,
    pub main_file_url: Option<String>,
    pub web_url: Option<String>,
    pub keywords: String,
    pub candidate: bool,
    pub consultations: String,
    pub modified: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The organisation a consultation names, as far as the sync has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRef {
    pub oparl_id: String,
    pub name: Option<String>,
}

/// The meeting a consultation names, as far as the sync has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRef {
    pub id: i64,
    pub name: String,
    pub start_at: Option<Timestamp>,
}

/// A consultation with what it names, resolved.
#[derive(Debug, Clone)]
pub struct Consultation {
    pub stored: StoredConsultation,
    pub organizations: Vec<OrganizationRef>,
    pub meeting: Option<MeetingRef>,
    pub agenda_item: Option<AgendaItem>,
}

/// A paper with its consultations and its linked measures.
#[derive(Debug, Clone)]
pub struct PaperRecord {
    pub paper: PaperRow,
    pub keywords: Vec<String>,
    pub consultations: Vec<Consultation>,
    pub measure_ids: Vec<i64>,
}

/// The filters of the paper list.
#[derive(Debug, Clone, Default)]
pub struct PaperFilter {
    pub partner_id: Option<i64>,
    /// LIKE pattern (`domain::contains_pattern`) on the name and reference in search form.
    pub name_pattern: Option<String>,
    /// One of the paper's keywords (compared in search form).
    pub keyword: Option<String>,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
    /// Linked to a measure, or not.
    pub linked: Option<bool>,
    /// Linked to this measure.
    pub measure_id: Option<i64>,
    /// About inter-municipal cooperation by name or keyword ([`store::CANDIDATE_WORDS`]).
    pub candidate: Option<bool>,
}

/// One page of papers, newest first (`-date, id`: by date descending, then by id).
pub fn paper_page(
    conn: &mut AnyConnection,
    filter: &PaperFilter,
    after: Option<After>,
    limit: i64,
) -> Result<(Vec<PaperRecord>, Option<String>), AppError> {
    use council_papers::dsl as p;
    let mut query = p::council_papers.select(PaperRow::as_select()).into_boxed();
    if let Some(partner) = filter.partner_id {
        query = query.filter(p::partner_id.eq(partner));
    }
    if let Some(pattern) = &filter.name_pattern {
        query = query.filter(p::search_folded.like(pattern.clone()).escape('\\'));
    }
    if let Some(keyword) = filter.keyword.as_deref().filter(|k| !k.trim().is_empty()) {
        let needle = format!("|{}|", crate::domain::fold(keyword.trim()));
        let mut pattern = String::from("%");
        for c in needle.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        query = query.filter(p::keywords_folded.like(pattern).escape('\\'));
    }
    if let Some(from) = filter.date_from {
        query = query.filter(p::paper_date.ge(from));
    }
    if let Some(to) = filter.date_to {
        query = query.filter(p::paper_date.le(to));
    }
    if let Some(candidate) = filter.candidate {
        query = query.filter(p::candidate.eq(candidate));
    }
    if let Some(linked) = filter.linked {
        let linked_ids = council_paper_keys::table
            .inner_join(measure_council_keys::table.on(measure_council_keys::key.eq(council_paper_keys::key)))
            .select(council_paper_keys::paper_id);
        query = if linked { query.filter(p::id.eq_any(linked_ids)) } else { query.filter(p::id.ne_all(linked_ids)) };
    }
    if let Some(measure) = filter.measure_id {
        let of_measure = council_paper_keys::table
            .inner_join(measure_council_keys::table.on(measure_council_keys::key.eq(council_paper_keys::key)))
            .filter(measure_council_keys::measure_id.eq(measure))
            .select(council_paper_keys::paper_id);
        query = query.filter(p::id.eq_any(of_measure));
    }
    query = query.order((p::sort_key.desc(), p::id.asc()));
    if let Some(After { key, id }) = after {
        query = query.filter(p::sort_key.lt(key.clone()).or(p::sort_key.eq(key).and(p::id.gt(id))));
    }
    let rows: Vec<PaperRow> = query.limit(limit + 1).load(conn)?;
    let (rows, next) = paginate(rows, limit, "-date", |r| After { key: r.sort_key.clone(), id: r.id });
    Ok((paper_records(conn, rows)?, next))
}

/// One page of the papers a measure's `council_refs` link to, or 404 for no such measure.
pub fn measure_paper_page(
    conn: &mut AnyConnection,
    measure_id: i64,
    after: Option<After>,
    limit: i64,
) -> Result<(Vec<PaperRecord>, Option<String>), AppError> {
    // The measures table itself, not the measures model: that one keeps its links through
    // this module (`set_measure_refs`).
    use crate::db::schema::measures;
    let exists: Option<i64> = measures::table.find(measure_id).select(measures::id).first(conn).optional()?;
    if exists.is_none() {
        return Err(not_found("measure", measure_id));
    }
    let filter = PaperFilter { measure_id: Some(measure_id), ..PaperFilter::default() };
    paper_page(conn, &filter, after, limit)
}

/// One paper, or 404.
pub fn get_paper(conn: &mut AnyConnection, id: i64) -> Result<PaperRecord, AppError> {
    let row: PaperRow = council_papers::table
        .find(id)
        .select(PaperRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("council paper", id))?;
    Ok(paper_records(conn, vec![row])?.remove(0))
}

/// The papers of `ids` (in that order, unknown ones left out).
pub fn papers_by_id(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<PaperRecord>, AppError> {
    let rows: Vec<PaperRow> =
        council_papers::table.filter(council_papers::id.eq_any(ids)).select(PaperRow::as_select()).load(conn)?;
    let mut records = paper_records(conn, rows)?;
    records.sort_by_key(|r| ids.iter().position(|id| *id == r.paper.id));
    Ok(records)
}

/// Resolves the consultations of a page of papers with three queries (organisations, meetings,
/// links), whatever the page's size.
fn paper_records(conn: &mut AnyConnection, rows: Vec<PaperRow>) -> Result<Vec<PaperRecord>, AppError> {
    let parsed: Vec<(PaperRow, Vec<String>, Vec<StoredConsultation>)> = rows
        .into_iter()
        .map(|row| {
            let keywords = serde_json::from_str(&row.keywords).unwrap_or_default();
            let consultations = serde_json::from_str(&row.consultations).unwrap_or_default();
            (row, keywords, consultations)
        })
        .collect();
    let org_ids: HashSet<&str> = parsed
        .iter()
        .flat_map(|(_, _, cs)| cs.iter().flat_map(|c| c.organization_ids.iter().map(String::as_str)))
        .collect();
    let meeting_ids: HashSet<&str> =
        parsed.iter().flat_map(|(_, _, cs)| cs.iter().filter_map(|c| c.meeting_id.as_deref())).collect();
    let org_names = organization_names(conn, org_ids)?;
    let meetings: HashMap<String, (MeetingRef, Vec<AgendaItem>)> = council_meetings::table
        .filter(council_meetings::oparl_id.eq_any(meeting_ids))
        .select((
            council_meetings::id,
            council_meetings::oparl_id,
            council_meetings::name,
            council_meetings::start_at,
            council_meetings::agenda_items,
        ))
        .load::<(i64, String, String, Option<Timestamp>, String)>(conn)?
        .into_iter()
        .map(|(id, oparl_id, name, start_at, items)| {
            let items: Vec<AgendaItem> = serde_json::from_str(&items).unwrap_or_default();
            (oparl_id, (MeetingRef { id, name, start_at }, items))
        })
        .collect();
    let paper_ids: Vec<i64> = parsed.iter().map(|(row, _, _)| row.id).collect();
    let mut measures = measures_of_papers(conn, &paper_ids)?;
    Ok(parsed
        .into_iter()
        .map(|(paper, keywords, stored)| {
            let consultations = stored
                .into_iter()
                .map(|c| {
                    let organizations = c
                        .organization_ids
                        .iter()
                        .map(|id| OrganizationRef { oparl_id: id.clone(), name: org_names.get(id).cloned() })
                        .collect();
                    let found = c.meeting_id.as_ref().and_then(|m| meetings.get(m));
                    let agenda_item = found.and_then(|(_, items)| outcomes::agenda_item_of(&c, items));
                    Consultation {
                        organizations,
                        meeting: found.map(|(m, _)| m.clone()),
                        agenda_item: agenda_item.cloned(),
                        stored: c,
                    }
                })
                .collect();
            let measure_ids = measures.remove(&paper.id).unwrap_or_default();
            PaperRecord { paper, keywords, consultations, measure_ids }
        })
        .collect())
}

/// The names of the organisations of these OParl ids (those the sync has read).
fn organization_names(conn: &mut AnyConnection, ids: HashSet<&str>) -> QueryResult<HashMap<String, String>> {
    Ok(council_organizations::table
        .filter(council_organizations::oparl_id.eq_any(ids))
        .select((council_organizations::oparl_id, council_organizations::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

/// A stored meeting row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = council_meetings, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct MeetingRow {
    pub id: i64,
    pub body_id: i64,
    pub partner_id: Option<i64>,
    pub oparl_id: String,
    pub name: String,
    pub start_at: Option<Timestamp>,
    pub end_at: Option<Timestamp>,
    pub sort_key: String,
    pub cancelled: bool,
    pub location: Option<String>,
    pub web_url: Option<String>,
    pub organization_ids: String,
    pub agenda_items: String,
    pub modified: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A meeting with its organisations and agenda items.
#[derive(Debug, Clone)]
pub struct MeetingRecord {
    pub meeting: MeetingRow,
    pub organizations: Vec<OrganizationRef>,
    pub agenda_items: Vec<AgendaItem>,
}

/// The filters of the meeting list.
#[derive(Debug, Clone, Default)]
pub struct MeetingFilter {
    pub partner_id: Option<i64>,
    /// LIKE pattern (`domain::contains_pattern`) on the name in search form.
    pub name_pattern: Option<String>,
    pub date_from: Option<NaiveDate>,
    pub date_to: Option<NaiveDate>,
}

/// One page of meetings, latest first (`-start, id`).
pub fn meeting_page(
    conn: &mut AnyConnection,
    filter: &MeetingFilter,
    after: Option<After>,
    limit: i64,
) -> Result<(Vec<MeetingRecord>, Option<String>), AppError> {
    use council_meetings::dsl as m;
    let mut query = m::council_meetings.select(MeetingRow::as_select()).into_boxed();
    if let Some(partner) = filter.partner_id {
        query = query.filter(m::partner_id.eq(partner));
    }
    if let Some(pattern) = &filter.name_pattern {
        query = query.filter(m::name_folded.like(pattern.clone()).escape('\\'));
    }
    if let Some(from) = filter.date_from {
        query = query.filter(m::start_date.ge(from));
    }
    if let Some(to) = filter.date_to {
        query = query.filter(m::start_date.le(to));
    }
    query = query.order((m::sort_key.desc(), m::id.asc()));
    if let Some(After { key, id }) = after {
        query = query.filter(m::sort_key.lt(key.clone()).or(m::sort_key.eq(key).and(m::id.gt(id))));
    }
    let rows: Vec<MeetingRow> = query.limit(limit + 1).load(conn)?;
    let (rows, next) = paginate(rows, limit, "-start", |r| After { key: r.sort_key.clone(), id: r.id });
    Ok((meeting_records(conn, rows)?, next))
}

/// One meeting, or 404.
pub fn get_meeting(conn: &mut AnyConnection, id: i64) -> Result<MeetingRecord, AppError> {
    let row: MeetingRow = council_meetings::table
        .find(id)
        .select(MeetingRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("council meeting", id))?;
    Ok(meeting_records(conn, vec![row])?.remove(0))
}

fn meeting_records(conn: &mut AnyConnection, rows: Vec<MeetingRow>) -> Result<Vec<MeetingRecord>, AppError> {
    let parsed: Vec<(MeetingRow, Vec<String>, Vec<AgendaItem>)> = rows
        .into_iter()
        .map(|row| {
            let orgs = serde_json::from_str(&row.organization_ids).unwrap_or_default();
            let items = serde_json::from_str(&row.agenda_items).unwrap_or_default();
            (row, orgs, items)
        })
        .collect();
    let org_ids: HashSet<&str> = parsed.iter().flat_map(|(_, o, _)| o.iter().map(String::as_str)).collect();
    let org_names = organization_names(conn, org_ids)?;
    Ok(parsed
        .into_iter()
        .map(|(meeting, orgs, agenda_items)| MeetingRecord {
            organizations: orgs
                .into_iter()
                .map(|id| OrganizationRef { name: org_names.get(&id).cloned(), oparl_id: id })
                .collect(),
            meeting,
            agenda_items,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_compare_without_scheme_host_case_or_trailing_slash() {
        let key = link_key("https://RIS.Example.de/oparl/paper/17/");
        assert_eq!(key, "ris.example.de/oparl/paper/17");
        assert_eq!(link_key("http://ris.example.de/oparl/paper/17"), key);
        assert_eq!(link_key(" https://ris.example.de/oparl/paper/17 "), key);
        assert_ne!(link_key("https://ris.example.de/oparl/paper/18"), key);
        assert_eq!(link_key("https://ris.example.de:8443/p?id=5"), "ris.example.de:8443/p?id=5");
        assert_eq!(link_key(" VO/2026/017 "), "VO/2026/017");
    }
}
