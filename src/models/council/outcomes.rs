//! What the council systems say about the measures linked to their papers: each consultation
//! that decides (`authoritative: true`), held in a meeting that has taken place (started before
//! now, not cancelled), in an organisation of a body that is a partner's. The measures model
//! reads these to derive each partner's council decision.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::{AgendaItem, StoredConsultation};
use crate::db::schema::{
    council_bodies, council_meetings, council_organizations, council_paper_keys, council_papers, measure_council_keys,
};
use crate::db::{AnyConnection, Timestamp};

/// Ids per statement: far below the bind-parameter limits of both backends.
const CHUNK: usize = 500;

/// One decisive consultation of a paper linked to a measure, for one partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub measure_id: i64,
    pub partner_id: i64,
    pub paper_id: i64,
    /// The consultation's OParl id.
    pub consultation_id: Option<String>,
    /// The meeting's id here.
    pub meeting_id: i64,
    pub held_at: Timestamp,
    /// The agenda item's result text, as the council system has it.
    pub result: Option<String>,
}

/// The agenda item of `items` that belongs to the consultation `c`.
pub(super) fn agenda_item_of<'a>(c: &StoredConsultation, items: &'a [AgendaItem]) -> Option<&'a AgendaItem> {
    items.iter().find(|item| {
        (c.agenda_item_id.is_some() && item.oparl_id == c.agenda_item_id)
            || (c.oparl_id.is_some() && item.consultation_id == c.oparl_id)
    })
}

/// The decisive consultations held before `now` of the papers linked to `measure_ids`; a few
/// queries per 500 measures, whatever their papers hold.
pub fn outcomes(conn: &mut AnyConnection, measure_ids: &[i64], now: Timestamp) -> QueryResult<Vec<Outcome>> {
    let mut links: Vec<(i64, i64)> = Vec::new();
    for chunk in measure_ids.chunks(CHUNK) {
        links.extend(
            measure_council_keys::table
                .inner_join(council_paper_keys::table.on(council_paper_keys::key.eq(measure_council_keys::key)))
                .filter(measure_council_keys::measure_id.eq_any(chunk))
                .select((measure_council_keys::measure_id, council_paper_keys::paper_id))
                .distinct()
                .load::<(i64, i64)>(conn)?,
        );
    }
    let paper_ids: Vec<i64> = links.iter().map(|(_, p)| *p).collect::<HashSet<_>>().into_iter().collect();
    let mut consultations: HashMap<i64, Vec<StoredConsultation>> = HashMap::new();
    for chunk in paper_ids.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = council_papers::table
            .filter(council_papers::id.eq_any(chunk))
            .select((council_papers::id, council_papers::consultations))
            .load(conn)?;
        for (id, stored) in rows {
            let parsed: Vec<StoredConsultation> = serde_json::from_str(&stored).unwrap_or_default();
            let deciding = parsed.into_iter().filter(|c| c.authoritative == Some(true) && c.meeting_id.is_some());
            consultations.insert(id, deciding.collect());
        }
    }
    let all = consultations.values().flatten();
    let meeting_ids: Vec<String> =
        all.clone().filter_map(|c| c.meeting_id.clone()).collect::<HashSet<_>>().into_iter().collect();
    let org_ids: Vec<String> =
        all.flat_map(|c| c.organization_ids.iter().cloned()).collect::<HashSet<_>>().into_iter().collect();
    let meetings = held_meetings(conn, &meeting_ids, now)?;
    let partners = partners_of_organizations(conn, &org_ids)?;
    let mut found = Vec::new();
    for (measure_id, paper_id) in links {
        for c in consultations.get(&paper_id).into_iter().flatten() {
            let Some((meeting_id, held_at, items)) = c.meeting_id.as_ref().and_then(|m| meetings.get(m)) else {
                continue;
            };
            let result = agenda_item_of(c, items).and_then(|item| item.result.clone());
            let of: HashSet<i64> = c.organization_ids.iter().filter_map(|o| partners.get(o).copied()).collect();
            for partner_id in of {
                found.push(Outcome {
                    measure_id,
                    partner_id,
                    paper_id,
                    consultation_id: c.oparl_id.clone(),
                    meeting_id: *meeting_id,
                    held_at: *held_at,
                    result: result.clone(),
                });
            }
        }
    }
    Ok(found)
}

/// A meeting that has taken place: its id, start and agenda items.
type HeldMeeting = (i64, Timestamp, Vec<AgendaItem>);

/// The meetings of these OParl ids that have taken place.
fn held_meetings(
    conn: &mut AnyConnection,
    oparl_ids: &[String],
    now: Timestamp,
) -> QueryResult<HashMap<String, HeldMeeting>> {
    let mut held = HashMap::new();
    for chunk in oparl_ids.chunks(CHUNK) {
        let rows: Vec<(i64, String, Option<Timestamp>, String)> = council_meetings::table
            .filter(council_meetings::oparl_id.eq_any(chunk))
            .filter(council_meetings::cancelled.eq(false))
            .filter(council_meetings::start_at.lt(now))
            .select((
                council_meetings::id,
                council_meetings::oparl_id,
                council_meetings::start_at,
                council_meetings::agenda_items,
            ))
            .load(conn)?;
        for (id, oparl_id, start_at, items) in rows {
            let Some(start_at) = start_at else { continue };
            held.insert(oparl_id, (id, start_at, serde_json::from_str(&items).unwrap_or_default()));
        }
    }
    Ok(held)
}

/// The partner of each organisation (by OParl id) whose body is matched to one.
fn partners_of_organizations(conn: &mut AnyConnection, oparl_ids: &[String]) -> QueryResult<HashMap<String, i64>> {
    let mut partners = HashMap::new();
    for chunk in oparl_ids.chunks(CHUNK) {
        let rows: Vec<(String, Option<i64>)> = council_organizations::table
            .inner_join(council_bodies::table)
            .filter(council_organizations::oparl_id.eq_any(chunk))
            .select((council_organizations::oparl_id, council_bodies::partner_id))
            .load(conn)?;
        partners.extend(rows.into_iter().filter_map(|(o, p)| p.map(|p| (o, p))));
    }
    Ok(partners)
}

/// The measures linked to a paper of these partners' council systems.
pub fn measures_linked_to_partners(conn: &mut AnyConnection, partner_ids: &[i64]) -> QueryResult<Vec<i64>> {
    measure_council_keys::table
        .inner_join(council_paper_keys::table.on(council_paper_keys::key.eq(measure_council_keys::key)))
        .inner_join(council_papers::table.on(council_papers::id.eq(council_paper_keys::paper_id)))
        .filter(council_papers::partner_id.eq_any(partner_ids))
        .select(measure_council_keys::measure_id)
        .distinct()
        .load(conn)
}
