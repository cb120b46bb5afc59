//! `/api/v1/council-papers` and `/api/v1/council-meetings`: what the partners' council
//! information systems publish, as the OParl sync copied it (read only; public records, read
//! like the other non-personal data).

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::Query;
use super::pagination::{self, Limit};
use super::respond::{self, Listed, Versioned};
use crate::auth::Caller;
use crate::db::{Db, Timestamp};
use crate::error::{AppError, Problem};
use crate::models::council::{
    self as model, Consultation, MeetingFilter, MeetingRecord, OrganizationRef, PaperFilter, PaperRecord,
};
use crate::models::record::etag;

/// An organisation (council, committee) of a council system.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CouncilOrganizationRef {
    /// Its OParl id.
    #[schema(example = "https://ris.koenigsbrueck.example/oparl/v1/organization/3")]
    pub oparl_id: String,
    /// Its name, once the sync has read it.
    #[schema(example = "Stadtrat")]
    pub name: Option<String>,
}

impl From<OrganizationRef> for CouncilOrganizationRef {
    fn from(o: OrganizationRef) -> Self {
        Self { oparl_id: o.oparl_id, name: o.name }
    }
}

/// The meeting a consultation took (or takes) place in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CouncilMeetingRef {
    /// The meeting's id here (`/api/v1/council-meetings/{id}`).
    pub id: i64,
    /// Its name.
    #[schema(example = "28. Sitzung des Stadtrates")]
    pub name: String,
    /// When it starts (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
}

/// An agenda item of a meeting, with its result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CouncilAgendaItem {
    /// Its OParl id.
    pub oparl_id: Option<String>,
    /// Its number on the agenda.
    #[schema(example = "Ö 7")]
    pub number: Option<String>,
    /// Its title.
    pub name: Option<String>,
    /// Whether it was public.
    pub public: Option<bool>,
    /// The result as the council system records it.
    #[schema(example = "einstimmig beschlossen")]
    pub result: Option<String>,
    /// The resolution's text.
    pub resolution_text: Option<String>,
}

impl From<model::AgendaItem> for CouncilAgendaItem {
    fn from(a: model::AgendaItem) -> Self {
        Self {
            oparl_id: a.oparl_id,
            number: a.number,
            name: a.name,
            public: a.public,
            result: a.result,
            resolution_text: a.resolution_text,
        }
    }
}

/// One consultation of a paper: which organisation, in which role, in which meeting, under
/// which agenda item (with its result).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CouncilConsultation {
    /// Its OParl id.
    pub oparl_id: Option<String>,
    /// The organisations that consulted the paper.
    pub organizations: Vec<CouncilOrganizationRef>,
    /// Its role (`Beschlussfassung`, `Vorberatung`, `Kenntnisnahme`).
    #[schema(example = "Beschlussfassung")]
    pub role: Option<String>,
    /// Whether this consultation decides (rather than advises).
    pub authoritative: Option<bool>,
    /// The meeting, once the sync has read it; its OParl id in `meeting_oparl_id` either way.
    pub meeting: Option<CouncilMeetingRef>,
    /// The meeting's OParl id.
    pub meeting_oparl_id: Option<String>,
    /// The agenda item, with its result, once the sync has read the meeting.
    pub agenda_item: Option<CouncilAgendaItem>,
}

impl From<Consultation> for CouncilConsultation {
    fn from(c: Consultation) -> Self {
        Self {
            oparl_id: c.stored.oparl_id,
            organizations: c.organizations.into_iter().map(Into::into).collect(),
            role: c.stored.role,
            authoritative: c.stored.authoritative,
            meeting: c.meeting.map(|m| CouncilMeetingRef { id: m.id, name: m.name, start: m.start_at }),
            meeting_oparl_id: c.stored.meeting_id,
            agenda_item: c.agenda_item.map(Into::into),
        }
    }
}

/// A paper (Vorlage) of a council system.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CouncilPaperResponse {
    /// Server-assigned id.
    pub id: i64,
    /// The partner whose council system published it (by the body's AGS).
    pub partner_id: Option<i64>,
    /// Its OParl id (its external reference).
    #[schema(example = "https://ris.koenigsbrueck.example/oparl/v1/paper/1817")]
    pub oparl_id: String,
    /// Its reference (Drucksachennummer).
    #[schema(example = "VO/2026/117")]
    pub reference: Option<String>,
    /// Its title.
    #[schema(example = "Interkommunale Zusammenarbeit der Bauhöfe")]
    pub name: String,
    /// Its type (`Beschlussvorlage`, `Antrag`, `Mitteilung`).
    #[schema(example = "Beschlussvorlage")]
    pub paper_type: Option<String>,
    /// Its date.
    #[schema(value_type = Option<String>, format = Date, example = "2026-11-03")]
    pub date: Option<NaiveDate>,
    /// Its main file.
    pub main_file_url: Option<String>,
    /// Its page in the council system.
    pub web_url: Option<String>,
    /// Its keywords.
    pub keywords: Vec<String>,
    /// Whether it is about inter-municipal cooperation (by name, reference or keyword): a
    /// candidate to link to a measure.
    pub candidate: bool,
    /// Its consultations.
    pub consultations: Vec<CouncilConsultation>,
    /// The measures whose `council_refs` name it (its OParl id or web URL).
    pub measure_ids: Vec<i64>,
    /// `modified` as the council system sent it (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub modified: Option<Timestamp>,
    /// First copied (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed by the sync (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<PaperRecord> for CouncilPaperResponse {
    fn from(r: PaperRecord) -> Self {
        let PaperRecord { paper: p, keywords, consultations, measure_ids } = r;
        Self {
            id: p.id,
            partner_id: p.partner_id,
            oparl_id: p.oparl_id,
            reference: p.reference,
            name: p.name,
            paper_type: p.paper_type,
            date: p.paper_date,
            main_file_url: p.main_file_url,
            web_url: p.web_url,
            keywords,
            candidate: p.candidate,
            consultations: consultations.into_iter().map(Into::into).collect(),
            measure_ids,
            modified: p.modified,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl Versioned for CouncilPaperResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of council papers.
pub type CouncilPaperPage = respond::Page<CouncilPaperResponse>;

impl Listed for CouncilPaperResponse {
    const PAGE: &'static str = "CouncilPaperPage";
    const PLURAL: &'static str = "council papers";
    const ITEMS: &'static str = "The papers of this page, newest first (by date, then id).";
}

/// A meeting of a council system.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CouncilMeetingResponse {
    /// Server-assigned id.
    pub id: i64,
    /// The partner whose council system published it.
    pub partner_id: Option<i64>,
    /// Its OParl id.
    pub oparl_id: String,
    /// Its name.
    #[schema(example = "28. Sitzung des Stadtrates")]
    pub name: String,
    /// Start (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub start: Option<Timestamp>,
    /// End (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end: Option<Timestamp>,
    /// Whether it was cancelled.
    pub cancelled: bool,
    /// Where it takes place.
    pub location: Option<String>,
    /// Its page in the council system.
    pub web_url: Option<String>,
    /// The organisations that meet.
    pub organizations: Vec<CouncilOrganizationRef>,
    /// Its agenda.
    pub agenda_items: Vec<CouncilAgendaItem>,
    /// `modified` as the council system sent it (UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub modified: Option<Timestamp>,
    /// First copied (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed by the sync (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<MeetingRecord> for CouncilMeetingResponse {
    fn from(r: MeetingRecord) -> Self {
        let MeetingRecord { meeting: m, organizations, agenda_items } = r;
        Self {
            id: m.id,
            partner_id: m.partner_id,
            oparl_id: m.oparl_id,
            name: m.name,
            start: m.start_at,
            end: m.end_at,
            cancelled: m.cancelled,
            location: m.location,
            web_url: m.web_url,
            organizations: organizations.into_iter().map(Into::into).collect(),
            agenda_items: agenda_items.into_iter().map(Into::into).collect(),
            modified: m.modified,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

impl Versioned for CouncilMeetingResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of council meetings.
pub type CouncilMeetingPage = respond::Page<CouncilMeetingResponse>;

impl Listed for CouncilMeetingResponse {
    const PAGE: &'static str = "CouncilMeetingPage";
    const PLURAL: &'static str = "council meetings";
    const ITEMS: &'static str = "The meetings of this page, latest first (by start, then id).";
}

/// Query parameters of the paper list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CouncilPaperQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only papers of this partner's council system.
    pub partner_id: Option<i64>,
    /// Case- and umlaut-insensitive part of the name or reference (`interkommunal` finds
    /// "Interkommunalen").
    #[param(example = "interkommunal", max_length = 200)]
    pub q: Option<String>,
    /// Only papers with this keyword (compared case- and umlaut-insensitively).
    #[param(max_length = 200)]
    pub keyword: Option<String>,
    /// Only papers dated on or after this day.
    #[param(value_type = Option<String>, format = Date)]
    pub date_from: Option<NaiveDate>,
    /// Only papers dated on or before this day.
    #[param(value_type = Option<String>, format = Date)]
    pub date_to: Option<NaiveDate>,
    /// `true`: only papers linked to a measure; `false`: only papers linked to none.
    pub linked: Option<bool>,
    /// `true`: only papers about inter-municipal cooperation (candidates to link to measures).
    pub candidate: Option<bool>,
    /// Only the papers linked to this measure (by its `council_refs`).
    pub measure_id: Option<i64>,
}

/// Query parameters of the meeting list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CouncilMeetingQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only meetings of this partner's council system.
    pub partner_id: Option<i64>,
    /// Case- and umlaut-insensitive part of the name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Only meetings starting on or after this day.
    #[param(value_type = Option<String>, format = Date)]
    pub date_from: Option<NaiveDate>,
    /// Only meetings starting on or before this day.
    #[param(value_type = Option<String>, format = Date)]
    pub date_to: Option<NaiveDate>,
}

fn check_dates(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<(), AppError> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(AppError::bad_parameter("date_to", "must not be before date_from")),
        _ => Ok(()),
    }
}

/// List council papers
///
/// Newest first (`-date`, then id), keyset-paginated. Papers about inter-municipal cooperation
/// (`candidate=true`) are the ones to link to measures: put a paper's `oparl_id` or `web_url`
/// into a measure's `council_refs`.
#[utoipa::path(tag = "council", params(CouncilPaperQuery), security((), ("bearer" = [])), responses(
    (status = 200, description = "One page of papers", body = CouncilPaperPage,
     headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows"))),
    (status = 400, description = "Unknown or unusable query parameter, or a bad cursor", body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn list_council_papers(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<CouncilPaperQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let q = query.0;
    check_dates(q.date_from, q.date_to)?;
    if q.keyword.as_deref().is_some_and(|k| k.chars().count() > 200) {
        return Err(AppError::bad_parameter("keyword", "must be at most 200 characters"));
    }
    let after = pagination::decode_cursor(q.cursor.as_deref(), "-date")?;
    let limit = q.limit.unwrap_or_default().0;
    let filter = PaperFilter {
        partner_id: q.partner_id,
        name_pattern: super::extract::search_pattern("q", q.q.as_deref())?,
        keyword: q.keyword,
        date_from: q.date_from,
        date_to: q.date_to,
        linked: q.linked,
        measure_id: q.measure_id,
        candidate: q.candidate,
    };
    let (rows, next) = db.read(move |conn| model::paper_page(conn, &filter, after, limit)).await?;
    Ok(respond::page(&req, rows.into_iter().map(CouncilPaperResponse::from).collect(), next))
}

/// Get a council paper
#[utoipa::path(tag = "council", params(("id" = i64, Path, description = "Paper id")), security((), ("bearer" = [])), responses(
    (status = 200, description = "The paper, with its consultations and linked measures", body = CouncilPaperResponse),
    (status = 404, description = "No such paper", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_council_paper(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let id = id.into_inner();
    let paper = db.read(move |conn| model::get_paper(conn, id)).await?;
    Ok(respond::record(&CouncilPaperResponse::from(paper)))
}

/// List council meetings
///
/// Latest first (`-start`, then id), keyset-paginated.
#[utoipa::path(tag = "council", params(CouncilMeetingQuery), security((), ("bearer" = [])), responses(
    (status = 200, description = "One page of meetings", body = CouncilMeetingPage,
     headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows"))),
    (status = 400, description = "Unknown or unusable query parameter, or a bad cursor", body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn list_council_meetings(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<CouncilMeetingQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let q = query.0;
    check_dates(q.date_from, q.date_to)?;
    let after = pagination::decode_cursor(q.cursor.as_deref(), "-start")?;
    let limit = q.limit.unwrap_or_default().0;
    let filter = MeetingFilter {
        partner_id: q.partner_id,
        name_pattern: super::extract::search_pattern("q", q.q.as_deref())?,
        date_from: q.date_from,
        date_to: q.date_to,
    };
    let (rows, next) = db.read(move |conn| model::meeting_page(conn, &filter, after, limit)).await?;
    Ok(respond::page(&req, rows.into_iter().map(CouncilMeetingResponse::from).collect(), next))
}

/// Get a council meeting
#[utoipa::path(tag = "council", params(("id" = i64, Path, description = "Meeting id")), security((), ("bearer" = [])), responses(
    (status = 200, description = "The meeting, with its agenda", body = CouncilMeetingResponse),
    (status = 404, description = "No such meeting", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}")]
pub async fn get_council_meeting(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let id = id.into_inner();
    let meeting = db.read(move |conn| model::get_meeting(conn, id)).await?;
    Ok(respond::record(&CouncilMeetingResponse::from(meeting)))
}

/// List the council papers a measure links to
///
/// The papers its `council_refs` name (by OParl id or web URL, compared without scheme, host
/// case and trailing slash), newest first, as the council systems published them.
#[utoipa::path(tag = "council", params(("id" = i64, Path, description = "Measure id"), pagination::PageQuery),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "One page of linked papers", body = CouncilPaperPage,
     headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows"))),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/council-papers")]
pub async fn list_measure_council_papers(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<pagination::PageQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let id = id.into_inner();
    let after = pagination::decode_cursor(query.0.cursor.as_deref(), "-date")?;
    let limit = query.0.limit.unwrap_or_default().0;
    let (rows, next) = db.read(move |conn| model::measure_paper_page(conn, id, after, limit)).await?;
    Ok(respond::page(&req, rows.into_iter().map(CouncilPaperResponse::from).collect(), next))
}

/// Registers the route of a measure's papers (in the measures scope).
pub fn configure_in_measures(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_measure_council_papers);
}

/// Registers the paper routes.
pub fn configure_papers(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_council_papers).service(get_council_paper);
}

/// Registers the meeting routes.
pub fn configure_meetings(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_council_meetings).service(get_council_meeting);
}
