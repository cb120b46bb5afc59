//! `ikz-api seed demo`: a realistic portfolio for trying the service out.
//!
//! Every record goes through the same decoding, validation and storage as an API request, so the
//! demo data obeys every rule. Names and numbers are invented; e-mail addresses use example.org.

use serde_json::{Value, json};

use crate::auth::Caller;
use crate::db::{self, AnyConnection};
use crate::domain::measures::MeasureStatus;
use crate::error::AppError;
use crate::models::contacts::CreateContact;
use crate::models::cooperations::CreateCooperation;
use crate::models::ids::CooperationId;
use crate::models::input::decode;
use crate::models::measures::{CreateMeasure, CreateTransition};
use crate::models::partners::CreatePartner;
use crate::models::record::{IfMatch, Patch};
use crate::models::{contacts, cooperations, fields, measures, now, partners, working_groups};

/// What the seed created.
#[derive(Debug, Default)]
pub struct Seeded {
    /// Partners created.
    pub partners: usize,
    /// Cooperations created.
    pub cooperations: usize,
    /// Measures created.
    pub measures: usize,
    /// Contacts created.
    pub contacts: usize,
}

const ACTOR: &str = "seed (demo data)";

/// Fills an empty database with two cooperations; refuses (409) if any partner exists.
pub fn demo(conn: &mut AnyConnection) -> Result<Seeded, AppError> {
    db::write(conn, |conn| {
        if !partners::list(conn, &Default::default(), Default::default(), None, 1)?.is_empty() {
            return Err(AppError::Conflict(
                "the database already holds partners; the demo fills only an empty one".into(),
            ));
        }
        let seeder = Caller::system(ACTOR);
        let mut seeded = Seeded::default();
        let mut partner = |conn: &mut AnyConnection, body: Value| -> Result<i64, AppError> {
            seeded.partners += 1;
            Ok(partners::create(conn, &seeder, decode::<CreatePartner>(body)?, now())?.id)
        };
        let heidenau = partner(
            conn,
            json!({"name": "Stadt Heidenau an der Elster", "kind": "municipality", "ags": "14900101", "state": "DE-SN", "district": "Landkreis Heideland", "population": 11800, "website": "https://www.heidenau.example.org", "email": "rathaus@heidenau.example.org", "phone": "+49 3591 4400-0"}),
        )?;
        let birkwitz = partner(
            conn,
            json!({"name": "Gemeinde Birkwitz", "kind": "municipality", "ags": "14900102", "state": "DE-SN", "district": "Landkreis Heideland", "population": 4300}),
        )?;
        let lindtal = partner(
            conn,
            json!({"name": "Gemeinde Lindtal", "kind": "municipality", "ags": "14900103", "state": "DE-SN", "district": "Landkreis Heideland", "population": 3100}),
        )?;
        let kreis = partner(
            conn,
            json!({"name": "Landkreis Heideland", "kind": "district", "ags": "14900000", "state": "DE-SN", "population": 245000}),
        )?;
        let ministry = partner(
            conn,
            json!({"name": "Staatsministerium für Kommunales (Beispiel)", "kind": "state_agency", "state": "DE-SN"}),
        )?;
        let berater = partner(
            conn,
            json!({"name": "Kommunalberatung Muster GmbH", "kind": "company", "website": "https://kommunalberatung.example.org"}),
        )?;
        let seestadt = partner(
            conn,
            json!({"name": "Stadt Seestadt", "kind": "municipality", "ags": "03900201", "state": "DE-NI", "population": 21000}),
        )?;
        let moorfeld = partner(
            conn,
            json!({"name": "Samtgemeinde Moorfeld", "kind": "municipality", "ags": "03900202", "state": "DE-NI", "population": 9800}),
        )?;

        let cooperation = |conn: &mut AnyConnection, body: Value, members: &[(i64, &str)]| -> Result<i64, AppError> {
            let id = cooperations::create(conn, &seeder, decode::<CreateCooperation>(body)?, now())?.id;
            for (partner_id, role) in members {
                let member = json!({"partner_id": partner_id, "role": role, "joined_on": "2025-03-01"});
                cooperations::members::add(conn, &seeder, CooperationId(id), decode(member)?, now())?;
            }
            Ok(id)
        };
        let heideland = cooperation(
            conn,
            json!({"name": "IKZ Heideland", "status": "active", "started_on": "2025-03-01",
                   "description": "Drei Kommunen im Landkreis Heideland bündeln Verwaltungsaufgaben.",
                   "funding_programme": "Förderprogramm Interkommunale Zusammenarbeit (Beispiel)", "funding_amount_eur": 180000,
                   "requires_council_approval": true}),
            &[
                (heidenau, "lead"),
                (birkwitz, "member"),
                (lindtal, "member"),
                (kreis, "supporter"),
                (ministry, "funder"),
                (berater, "advisor"),
            ],
        )?;
        let seenland = cooperation(
            conn,
            json!({"name": "Verwaltungskooperation Seenland", "status": "exploring", "started_on": "2026-01-15"}),
            &[(seestadt, "lead"), (moorfeld, "member")],
        )?;

        let field = |conn: &mut AnyConnection, key: &str| -> Result<i64, AppError> {
            fields::find_by_key(conn, key)?
                .map(|f| f.id)
                .ok_or_else(|| AppError::Internal(format!("field {key} missing")))
        };
        let mut contact_count = 0;
        let mut contact = |conn: &mut AnyConnection, body: Value| -> Result<i64, AppError> {
            contact_count += 1;
            Ok(contacts::create(conn, &seeder, decode::<CreateContact>(body)?, now())?.contact.id)
        };
        let leadership = field(conn, "leadership-strategy")?;
        let (bauhof, it, pr, fire, procurement) = (
            field(conn, "bauhof")?,
            field(conn, "it-egovernment")?,
            field(conn, "public-relations")?,
            field(conn, "fire-brigade")?,
            field(conn, "procurement")?,
        );
        let mayor = contact(
            conn,
            json!({"partner_id": heidenau, "name": "Dr. Anna Beispiel", "function": "Bürgermeisterin", "email": "a.beispiel@heidenau.example.org", "phone": "03591 4400-10", "field_ids": [leadership]}),
        )?;
        let lead = contact(
            conn,
            json!({"partner_id": heidenau, "name": "Jonas Muster", "function": "Organisationsleitung IKZ", "email": "j.muster@heidenau.example.org", "phone": "03591 4400-25"}),
        )?;
        let bauhof_head = contact(
            conn,
            json!({"partner_id": birkwitz, "name": "Petra Probe", "function": "Bauhofleiterin", "email": "bauhof@birkwitz.example.org", "field_ids": [bauhof]}),
        )?;
        let it_officer = contact(
            conn,
            json!({"partner_id": lindtal, "name": "Kai Test", "function": "IT-Beauftragter", "email": "it@lindtal.example.org", "phone": "+49 35932 555-3", "field_ids": [it]}),
        )?;
        let fire_chief = contact(
            conn,
            json!({"partner_id": birkwitz, "name": "Uwe Exempel", "function": "Gemeindewehrleiter", "email": "feuerwehr@birkwitz.example.org", "field_ids": [fire]}),
        )?;
        contact(
            conn,
            json!({"partner_id": seestadt, "name": "Lena Platzhalter", "function": "Hauptamtsleiterin", "email": "hauptamt@seestadt.example.org"}),
        )?;
        seeded.contacts = contact_count;

        type Spec<'a> = (
            i64,
            i64,
            &'a str,
            Option<(i32, i32, i32)>,
            Option<i64>,
            &'a str,
            Option<i64>,
            MeasureStatus,
            Option<&'a str>,
        );
        // Heideland's five working groups, moderated by the consultancy (an advisor member).
        let groups: [(&str, &[i64], Option<i64>); 5] = [
            ("Leitung und Strategie", &[leadership], Some(mayor)),
            ("Innere Verwaltung", &[field(conn, "internal-administration")?, procurement], Some(lead)),
            ("IT & E-Government", &[it, field(conn, "digitalisation-ai")?], Some(it_officer)),
            ("Bauhof", &[bauhof], Some(bauhof_head)),
            ("Feuerwehr", &[fire], Some(fire_chief)),
        ];
        let mut group_of_field: Vec<(i64, i64)> = Vec::new();
        for (name, field_ids, chair) in groups {
            let body = json!({"name": name, "field_ids": field_ids, "moderator_partner_id": berater});
            let group = working_groups::create(conn, &seeder, heideland, decode(body)?, now())?.group.id;
            if let Some(contact_id) = chair {
                let member = json!({"contact_id": contact_id, "role": "chair"});
                working_groups::members::add(conn, &seeder, (heideland, group), decode(member)?, now())?;
            }
            group_of_field.extend(field_ids.iter().map(|f| (*f, group)));
        }
        let specs: Vec<Spec> = vec![
            (
                heideland,
                procurement,
                "Gemeinsame Beschaffung von Streusalz und Verbrauchsmaterial",
                Some((4, 1, 1)),
                Some(18000),
                "short",
                Some(bauhof_head),
                MeasureStatus::InProgress,
                Some("2025-09-10"),
            ),
            (
                heideland,
                bauhof,
                "Gemeinsamer Maschinenpool der Bauhöfe",
                Some((5, 3, 3)),
                Some(240000),
                "medium",
                Some(bauhof_head),
                MeasureStatus::Approved,
                Some("2025-11-20"),
            ),
            (
                heideland,
                bauhof,
                "Abgestimmter Winterdienst an den Gemeindegrenzen",
                Some((3, 1, 2)),
                Some(5000),
                "short",
                Some(bauhof_head),
                MeasureStatus::Completed,
                Some("2025-06-02"),
            ),
            (
                heideland,
                it,
                "Gemeinsame E-Akte nach dem E-Government-Gesetz",
                Some((5, 4, 5)),
                Some(420000),
                "long",
                Some(it_officer),
                MeasureStatus::Planned,
                Some("2026-02-15"),
            ),
            (
                heideland,
                it,
                "Zentrale IT-Sicherheitsbeauftragte Person",
                Some((4, 2, 2)),
                Some(65000),
                "medium",
                Some(it_officer),
                MeasureStatus::Assessed,
                None,
            ),
            (
                heideland,
                field(conn, "session-management")?,
                "Ein Ratsinformationssystem für alle drei Räte",
                Some((4, 2, 3)),
                Some(38000),
                "medium",
                Some(mayor),
                MeasureStatus::Planned,
                Some("2026-03-01"),
            ),
            (
                heideland,
                pr,
                "Gemeinsames Amtsblatt und Bürgerportal",
                Some((3, 2, 2)),
                Some(12000),
                "short",
                Some(lead),
                MeasureStatus::Assessed,
                None,
            ),
            (
                heideland,
                fire,
                "Gemeinsame Atemschutzwerkstatt",
                Some((4, 3, 2)),
                Some(90000),
                "medium",
                Some(fire_chief),
                MeasureStatus::OnHold,
                None,
            ),
            (
                heideland,
                fire,
                "Abgestimmte Ausbildung der Jugendfeuerwehren",
                None,
                None,
                "short",
                Some(fire_chief),
                MeasureStatus::Idea,
                None,
            ),
            (
                heideland,
                field(conn, "digitalisation-ai")?,
                "KI-gestützte Posteingangsbearbeitung erproben",
                None,
                Some(30000),
                "medium",
                None,
                MeasureStatus::Idea,
                None,
            ),
            (
                heideland,
                field(conn, "economic-development")?,
                "Gemeinsames Gewerbeflächenportal",
                Some((2, 3, 4)),
                None,
                "long",
                None,
                MeasureStatus::Rejected,
                None,
            ),
            (
                seenland,
                it,
                "Gemeinsamer Serverbetrieb im Rechenzentrum",
                None,
                Some(150000),
                "long",
                None,
                MeasureStatus::Idea,
                None,
            ),
            (
                seenland,
                field(conn, "land-climate")?,
                "Gemeinsames Ökokonto und Flächenpool",
                Some((4, 2, 3)),
                None,
                "long",
                None,
                MeasureStatus::Assessed,
                None,
            ),
        ];
        for (coop, field_id, title, scores, cost, horizon, contact_id, status, signed) in specs {
            let (lead_partner, partner_ids) =
                if coop == heideland { (heidenau, vec![birkwitz, lindtal]) } else { (seestadt, vec![moorfeld]) };
            let mut body = json!({"cooperation_id": coop, "field_id": field_id, "title": title, "horizon": horizon,
                "estimated_cost_eur": cost, "lead_partner_id": lead_partner, "partner_ids": partner_ids,
                "responsible_contact_id": contact_id,
                "summary": format!("{title}: Ergebnis der Arbeitsgruppe (Beispieldaten).")});
            if let Some((b, c, e)) = scores {
                body["benefit"] = json!(b);
                body["cost"] = json!(c);
                body["effort"] = json!(e);
            }
            if signed.is_some() {
                body["council_refs"] =
                    json!([format!("https://ris.heidenau.example.org/oparl/v1/paper/{}", seeded.measures + 100)]);
            }
            if field_id == fire && coop == heideland {
                body["responsible_partner_id"] = json!(kreis);
            }
            if coop == heideland {
                body["working_group_id"] = json!(group_of_field.iter().find(|(f, _)| *f == field_id).map(|(_, g)| g));
            }
            // Savings as state funding asks for them: costs of all partners before and after.
            if let Some(cost) = cost.filter(|c| *c >= 50_000) {
                body["annual_cost_before_eur"] = json!(cost * 2);
                body["annual_cost_after_eur"] = json!(cost * 2 - cost * 2 * (10 + (cost % 7)) / 100);
                body["commitment_years"] = json!(5);
            }
            let measure = measures::create(conn, &seeder, decode::<CreateMeasure>(body)?, now())?.measure;
            // Heideland requires its councils' consent: the approved ones have all three, two
            // planned ones wait for Birkwitz (deferred) and Lindtal (nothing yet).
            let decided: &[(i64, &str)] = match (coop == heideland, status, signed) {
                (true, MeasureStatus::Approved | MeasureStatus::InProgress | MeasureStatus::Completed, _) => {
                    &[(heidenau, "approved"), (birkwitz, "approved"), (lindtal, "approved")]
                }
                (true, MeasureStatus::Planned, Some(_)) => &[(heidenau, "approved"), (birkwitz, "deferred")],
                _ => &[],
            };
            for (partner_id, decision) in decided {
                let entry = json!({"partner_id": partner_id, "decision": decision, "decided_on": signed,
                    "note": "Beispieldaten"});
                measures::decisions::create(conn, &seeder, measure.id, decode(entry)?, now())?;
            }
            // Signed project descriptions: every partner of the measure signed on that day.
            let signatories: &[i64] =
                if coop == heideland { &[heidenau, birkwitz, lindtal] } else { &[seestadt, moorfeld] };
            for partner_id in signatories.iter().filter(|_| signed.is_some()) {
                let by = if *partner_id == heidenau {
                    json!({"contact_id": mayor})
                } else {
                    json!({"signatory_name": "Bürgermeister (Beispiel)", "signatory_function": "Bürgermeister"})
                };
                let mut sign = json!({"partner_id": partner_id, "signed_on": signed});
                sign.as_object_mut().into_iter().for_each(|o| o.extend(by.as_object().cloned().unwrap_or_default()));
                measures::sign_offs::create(conn, &seeder, measure.id, decode(sign)?, now())?;
            }
            walk_to(conn, &seeder, measure.id, status)?;
            seeded.measures += 1;
        }
        // The first joint staff day and the joint assembly that heard the working groups' results.
        let presented: Vec<i64> = measures::page(
            conn,
            Some(heideland),
            &measures::MeasureFilter { cooperation_id: Some(heideland), ..Default::default() },
            measures::MeasureSort::PriorityDesc,
            None,
            5,
            false,
            |r| r.measure.id,
        )?
        .0;
        let events = [
            json!({"kind": "staff_day", "title": "1. Gemeinsamer Mitarbeitertag", "starts_on": "2025-09-24",
                   "place": "Bürgerhaus Heidenau", "organiser_partner_ids": [heidenau, birkwitz], "participant_count": 60,
                   "theme_groups": [{"name": "Digitale Akte", "field_id": it}, {"name": "Bauhof", "field_id": bauhof},
                       {"name": "Feuerwehr", "field_id": fire}, {"name": "Beschaffung", "field_id": procurement},
                       {"name": "Öffentlichkeitsarbeit", "field_id": pr}, {"name": "Bürgerservice"}, {"name": "Personal"}],
                   "outcomes": "Regelmäßiger Austausch der Fachbereiche vereinbart (Beispieldaten)."}),
            json!({"kind": "assembly", "title": "Verbandsversammlung: Ergebnisse der Arbeitsgruppen", "starts_on": "2026-03-12",
                   "place": "Rathaus Heidenau", "organiser_partner_ids": [heidenau], "participant_count": 45,
                   "outcomes": "Die Arbeitsgruppen stellten 17 Projektsteckbriefe vor (Beispieldaten).",
                   "measure_ids": presented}),
        ];
        for event in events {
            crate::models::events::create(conn, &seeder, heideland, decode(event)?, now())?;
        }
        seeded.cooperations = 2;
        Ok(seeded)
    })
}

/// Moves a new measure along the workflow to `target`, step by step through the same rule as
/// the API (each step recorded in the history); one in progress is set to 40 % done.
fn walk_to(conn: &mut AnyConnection, seeder: &Caller, id: i64, target: MeasureStatus) -> Result<(), AppError> {
    use MeasureStatus::*;
    let path: &[MeasureStatus] = match target {
        Idea => &[],
        Assessed => &[Assessed],
        Planned => &[Assessed, Planned],
        Approved => &[Assessed, Planned, Approved],
        InProgress => &[Assessed, Planned, Approved, InProgress],
        Completed => &[Assessed, Planned, Approved, InProgress, Completed],
        OnHold => &[Assessed, OnHold],
        Rejected => &[Assessed, Rejected],
    };
    for &to in path {
        measures::transition(conn, seeder, id, CreateTransition { to, comment: None }, now())?;
    }
    if target == InProgress {
        let progress = Patch(serde_json::Map::from_iter([("progress".to_owned(), json!(40))]));
        measures::update(conn, seeder, id, progress, &IfMatch::Absent, now())?;
    }
    Ok(())
}

/// How much `seed volume` creates.
#[derive(Debug, Clone, Copy)]
pub struct Volume {
    /// Partners.
    pub partners: usize,
    /// Cooperations, each with four member partners.
    pub cooperations: usize,
    /// Measures, in consecutive blocks per cooperation (cooperation 1 holds the first ids).
    pub measures: usize,
    /// Contacts, spread over the partners.
    pub contacts: usize,
}

/// Rows per multi-row INSERT (kept well under SQLite's limit of bound variables).
const CHUNK: usize = 500;

macro_rules! insert_chunks {
    ($conn:expr, $table:expr, $rows:expr, $progress:expr) => {
        for chunk in $rows.chunks(CHUNK) {
            crate::per_backend!(&mut *$conn, |c| diesel::insert_into($table).values(chunk).execute(c))?;
            $progress.add(chunk.len() as u64);
        }
    };
}

/// Loads a large synthetic data set fast (for benchmarks): multi-row inserts in one transaction.
/// Derived columns are computed exactly as the API computes them. Only into an empty database.
/// Each row inserted counts on `progress`.
pub fn volume(conn: &mut AnyConnection, v: Volume, progress: &crate::progress::Progress) -> Result<Seeded, AppError> {
    use diesel::{ExpressionMethods, RunQueryDsl};

    use crate::changes::Resource;
    use crate::db::schema::{
        changes as changes_t, contacts as contacts_t, cooperation_members, cooperations as coops_t,
        measures as measures_t, partners as partners_t,
    };
    use crate::domain::{fold, measures::priority_score};

    // Every record, the four members of each cooperation, and a change per record.
    let records = v.partners + v.cooperations + v.contacts + v.measures;
    progress.set_total((records + 4 * v.cooperations + records) as u64);
    let seeded = db::write(conn, |conn| {
        if !partners::list(conn, &Default::default(), Default::default(), None, 1)?.is_empty() {
            return Err(AppError::Conflict(
                "the database already holds partners; volume data goes only into an empty one".into(),
            ));
        }
        let stamp = now();
        let kinds = ["municipality", "municipality", "municipality", "district", "association", "company"];
        let partner_rows: Vec<_> = (1..=v.partners)
            .map(|i| {
                let name = format!("Gemeinde Beispiel {i}");
                let partner = partners::PartnerData {
                    name_folded: fold(&name),
                    name,
                    kind: kinds[i % kinds.len()].into(),
                    ags: Some(format!("{:08}", 10_000_000 + i)),
                    state: Some(crate::domain::GERMAN_STATES[i % 16].into()),
                    district: Some(format!("Landkreis {}", i % 40)),
                    population: Some((i as i64 * 37) % 50_000 + 500),
                    website: None,
                    email: Some(format!("info{i}@gemeinde.example.org")),
                    phone: None,
                    description: None,
                    external_refs: "[]".to_owned(),
                };
                (partner, partners_t::created_at.eq(stamp), partners_t::updated_at.eq(stamp))
            })
            .collect();
        insert_chunks!(conn, partners_t::table, partner_rows, progress);

        let coop_rows: Vec<_> = (1..=v.cooperations)
            .map(|i| {
                let name = format!("Kooperation {i}");
                (
                    cooperations::CooperationData {
                        name_folded: fold(&name),
                        name,
                        description: None,
                        status: ["exploring", "active", "active", "paused"][i % 4].into(),
                        started_on: None,
                        ended_on: None,
                        funding_programme: None,
                        funding_amount_eur: None,
                        external_refs: "[]".to_owned(),
                        requires_council_approval: false,
                    },
                    coops_t::created_at.eq(stamp),
                    coops_t::updated_at.eq(stamp),
                )
            })
            .collect();
        insert_chunks!(conn, coops_t::table, coop_rows, progress);
        // Cooperation c (1-based) has the members 4(c-1)+1 … 4(c-1)+4 (wrapping over the partners).
        let member_of = |c: usize, k: usize| ((4 * (c - 1) + k) % v.partners.max(1) + 1) as i64;
        let member_rows: Vec<_> = (1..=v.cooperations)
            .flat_map(|c| (0..4).map(move |k| (c, k)))
            .map(|(c, k)| cooperations::NewMember {
                cooperation_id: c as i64,
                partner_id: member_of(c, k),
                role: if k == 0 { "lead".into() } else { "member".into() },
                joined_on: None,
                left_on: None,
                created_at: stamp,
            })
            .collect();
        insert_chunks!(conn, cooperation_members::table, member_rows, progress);

        let contact_rows: Vec<_> = (1..=v.contacts)
            .map(|i| {
                let name = format!("Person {i}");
                (
                    contacts::ContactData {
                        partner_id: ((i - 1) % v.partners.max(1) + 1) as i64,
                        name_folded: fold(&name),
                        name,
                        function: Some("Sachbearbeitung".into()),
                        email: Some(format!("person{i}@gemeinde.example.org")),
                        phone: Some("035795 123-0".into()),
                        phone_normalized: Some("+49357951230".into()),
                        notes: None,
                        external_refs: "[]".to_owned(),
                    },
                    contacts_t::created_at.eq(stamp),
                    contacts_t::updated_at.eq(stamp),
                )
            })
            .collect();
        insert_chunks!(conn, contacts_t::table, contact_rows, progress);

        let per_coop = v.measures.div_ceil(v.cooperations.max(1)).max(1);
        let statuses = ["idea", "assessed", "planned", "approved", "in_progress", "completed", "on_hold", "rejected"];
        let measure_rows: Vec<_> = (0..v.measures)
            .map(|i| {
                let coop = i / per_coop + 1;
                let scored = i % 5 != 0;
                let (b, c, e) = ((i % 5 + 1) as i32, ((i / 5) % 5 + 1) as i32, ((i / 25) % 5 + 1) as i32);
                let (b, c, e) = if scored { (Some(b), Some(c), Some(e)) } else { (None, None, None) };
                let score = priority_score(b, c, e);
                let title = format!("Maßnahme {i} der Kooperation {coop}");
                // One participating partner besides the lead: one of the three other members.
                let (lead, partner) =
                    (member_of(coop.min(v.cooperations), 0), member_of(coop.min(v.cooperations), 1 + i % 3));
                (
                    measures::MeasureData {
                        cooperation_id: coop as i64,
                        field_id: (i % 11 + 1) as i64,
                        parent_id: None,
                        title_folded: fold(&title),
                        title,
                        summary: None,
                        description: None,
                        status: if scored { statuses[i % 8].into() } else { "idea".into() },
                        resume_status: None,
                        horizon: Some(["short", "medium", "long"][i % 3].into()),
                        benefit: b,
                        cost: c,
                        effort: e,
                        estimated_cost_eur: Some((i as i64 % 100) * 1000),
                        priority_score: score,
                        priority_rank: score.unwrap_or(-1),
                        lead_partner_id: Some(lead),
                        responsible_partner_id: None,
                        responsible_contact_id: None,
                        planned_start: None,
                        planned_end: None,
                        planned_end_rank: chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
                            .unwrap_or(chrono::NaiveDate::MAX),
                        description_signed_on: None,
                        progress: 0,
                        council_refs: "[]".into(),
                        external_refs: "[]".into(),
                        annual_cost_before_eur: None,
                        annual_cost_after_eur: None,
                        commitment_years: None,
                        savings_eur: None,
                        savings_percent_tenths: None,
                        signatory_partner_ids: None,
                        progress_manual: true,
                        working_group_id: None,
                    },
                    measures_t::created_at.eq(stamp),
                    measures_t::updated_at.eq(stamp),
                    measures_t::partner_ids.eq((partner != lead).then(|| partner.to_string())),
                )
            })
            .collect();
        insert_chunks!(conn, measures_t::table, measure_rows, progress);
        // The participating partners as the measures were given them.
        db::statements::copy_measure_partners(conn)?;
        // The change feed holds every loaded record as created, so that a copy followed from
        // the feed's start is complete. (Ids run from 1: the database was empty.)
        let etag = crate::models::record::etag(stamp);
        let loaded = [
            (Resource::Partners, v.partners),
            (Resource::Cooperations, v.cooperations),
            (Resource::Contacts, v.contacts),
            (Resource::Measures, v.measures),
        ];
        let change_rows: Vec<_> = loaded
            .into_iter()
            .flat_map(|(resource, count)| (1..=count as i64).map(move |id| (resource, id)))
            .map(|(resource, id)| {
                (
                    changes_t::resource.eq(resource.as_str()),
                    changes_t::record_id.eq(id),
                    changes_t::op.eq("created"),
                    changes_t::at.eq(stamp),
                    changes_t::etag.eq(Some(etag.clone())),
                    changes_t::actor.eq(Some("system (seed volume)")),
                )
            })
            .collect();
        insert_chunks!(conn, changes_t::table, change_rows, progress);
        Ok(Seeded { partners: v.partners, cooperations: v.cooperations, measures: v.measures, contacts: v.contacts })
    })?;
    // Statistics for the planner now (a long tail in the benchmark's first run otherwise).
    db::statements::analyze(conn)?;
    Ok(seeded)
}
