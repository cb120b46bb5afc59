//! `/api/v1/cooperations/{id}/events`: workshops, staff days, joint assemblies and steering
//! meetings of a cooperation. Public records, read like measures.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::export::{self, CsvDelimiter, ListFormat};
use super::extract::{IdempotencyKey, JsonBody, Query};
use super::pagination::{self, Limit};
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::db::{Db, Timestamp};
use crate::error::{AppError, Problem};
use crate::models::events::{self as model, CreateEvent, EventFilter, EventKind, EventRecord, ThemeGroup};
use crate::models::record::{IfMatch, Patch, etag};
use crate::models::{idempotency, now};

/// An event of a cooperation.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventResponse {
    /// Server-assigned id.
    pub id: i64,
    /// The cooperation.
    pub cooperation_id: i64,
    /// What kind of event.
    pub kind: EventKind,
    /// Title.
    #[schema(example = "1. Gemeinsamer Mitarbeitertag")]
    pub title: String,
    /// First day.
    pub starts_on: NaiveDate,
    /// Last day (`null`: one day).
    pub ends_on: Option<NaiveDate>,
    /// Where.
    pub place: Option<String>,
    /// The partners who organised it.
    pub organiser_partner_ids: Vec<i64>,
    /// How many took part.
    pub participant_count: Option<i32>,
    /// Its theme groups.
    pub theme_groups: Vec<ThemeGroup>,
    /// What came out of it (markdown).
    pub outcomes: Option<String>,
    /// Measures that came out of it or were presented there.
    pub measure_ids: Vec<i64>,
    /// Created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last changed (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl From<EventRecord> for EventResponse {
    fn from(r: EventRecord) -> Self {
        let EventRecord { event: e, organiser_partner_ids, theme_groups, measure_ids } = r;
        Self {
            id: e.id,
            cooperation_id: e.cooperation_id,
            kind: e.kind,
            title: e.title,
            starts_on: e.starts_on,
            ends_on: e.ends_on,
            place: e.place,
            organiser_partner_ids,
            participant_count: e.participant_count,
            theme_groups,
            outcomes: e.outcomes,
            measure_ids,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

impl Versioned for EventResponse {
    fn etag(&self) -> String {
        etag(self.updated_at)
    }
}

/// A page of events.
pub type EventPage = respond::Page<EventResponse>;

impl Listed for EventResponse {
    const PAGE: &'static str = "EventPage";
    const PLURAL: &'static str = "events";
    const ITEMS: &'static str = "The events of this page, earliest first (by first day, then id).";
}

/// Query parameters of the event list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only events of this kind.
    #[param(inline)]
    pub kind: Option<EventKind>,
    /// Only events starting on or after this day.
    #[param(value_type = Option<String>, format = Date)]
    pub date_from: Option<NaiveDate>,
    /// Only events starting on or before this day.
    #[param(value_type = Option<String>, format = Date)]
    pub date_to: Option<NaiveDate>,
    /// Only events changed at or after this instant (RFC 3339). Deletions: the change feed.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<Timestamp>,
    /// `csv`: the whole list as one CSV file (as with `Accept: text/csv`); `xlsx`: as a workbook.
    #[param(inline)]
    pub format: Option<ListFormat>,
    /// With CSV: `semicolon` separates the cells with `;`, as German Excel expects.
    #[param(inline)]
    pub delimiter: Option<CsvDelimiter>,
    /// With `.xlsx`: the language of the column titles (`de`, the default, or `en`).
    #[param(inline)]
    pub lang: Option<crate::exchange::titles::Lang>,
}

/// List the events of a cooperation
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id"), EventQuery),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "One page of events", body = EventPage),
    (status = 400, description = "Unknown or unusable query parameter, or a bad cursor", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/events")]
pub async fn list_events(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<EventQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let (id, q) = (id.into_inner(), query.0);
    if let (Some(from), Some(to)) = (q.date_from, q.date_to)
        && from > to
    {
        return Err(AppError::bad_parameter("date_to", "must not be before date_from"));
    }
    let answer = export::Answer::of(&req, q.format, q.delimiter, q.lang);
    let limit = q.limit.unwrap_or_default().0;
    let after = pagination::decode_cursor(q.cursor.as_deref(), "starts_on")?;
    let filter = EventFilter { kind: q.kind, from: q.date_from, to: q.date_to, updated_since: q.updated_since };
    let req = match answer {
        export::Answer::Page(req) => req,
        export::Answer::File(file) => {
            let (db, filter) = (db.get_ref().clone(), std::sync::Arc::new(filter));
            return export::stream(file, "events", q.cursor, move |cursor| {
                let (db, filter) = (db.clone(), filter.clone());
                async move {
                    let after = pagination::decode_cursor(cursor.as_deref(), "starts_on")?;
                    let (rows, next) = db.read(move |c| model::page(c, id, &filter, after, export::PAGE)).await?;
                    Ok((rows.into_iter().map(EventResponse::from).collect::<Vec<_>>(), next))
                }
            })
            .await;
        }
    };
    let (rows, next) = db.read(move |conn| model::page(conn, id, &filter, after, limit)).await?;
    Ok(respond::page(req, rows.into_iter().map(EventResponse::from).collect(), next))
}

/// Record an event (admins, or editors of a member of the cooperation)
#[utoipa::path(tag = "cooperations", params(("id" = i64, Path, description = "Cooperation id")), request_body = CreateEvent,
    security(("bearer" = [])), responses(
    (status = 201, description = "Recorded", body = EventResponse,
     headers(("Location" = String, description = "URL of the event"), ("ETag" = String, description = "Version for `If-Match`"))),
    (status = 404, description = "No such cooperation", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields, unknown partners or fields, or measures of another cooperation", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/events")]
pub async fn create_event(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    key: IdempotencyKey,
    body: JsonBody<CreateEvent>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "record events")?;
    let key = key.for_body(&caller, &body)?;
    let (id, input) = (id.into_inner(), body.decode()?);
    let write = move |c: &mut _| model::create(c, &caller, id, input, now());
    let render = move |record| {
        let event = EventResponse::from(record);
        respond::created_answer(format!("/api/v1/cooperations/{id}/events/{}", event.id), &event)
    };
    let outcome = db.write(move |conn| idempotency::once(conn, key.as_ref(), now(), write, render)).await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// Get an event
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("event_id" = i64, Path, description = "Event id")),
    security((), ("bearer" = [])), responses(
    (status = 200, description = "The event", body = EventResponse),
    (status = 404, description = "No such cooperation or event", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/events/{event_id}")]
pub async fn get_event(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let (id, event) = path.into_inner();
    let record = db.read(move |conn| model::get(conn, id, event)).await?;
    Ok(respond::record(&EventResponse::from(record)))
}

/// Change an event (JSON Merge Patch; admins, or editors of a member)
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("event_id" = i64, Path, description = "Event id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on")),
    request_body(content = CreateEvent, content_type = "application/merge-patch+json", description = "Any subset of the fields"),
    security(("bearer" = [])), responses(
    (status = 200, description = "Changed", body = EventResponse),
    (status = 404, description = "No such cooperation or event", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/{id}/events/{event_id}")]
pub async fn update_event(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "change events")?;
    let (id, event) = path.into_inner();
    let record = db.write(move |conn| model::update(conn, &caller, id, event, patch, &if_match, now())).await?;
    Ok(respond::record(&EventResponse::from(record)))
}

/// Delete an event (admins, or editors of a member)
#[utoipa::path(tag = "cooperations",
    params(("id" = i64, Path, description = "Cooperation id"), ("event_id" = i64, Path, description = "Event id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this deletion is based on")),
    security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
    (status = 404, description = "No such cooperation or event", body = Problem, content_type = "application/problem+json"),
    (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}/events/{event_id}")]
pub async fn delete_event(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "delete events")?;
    let (id, event) = path.into_inner();
    db.write(move |conn| model::delete(conn, &caller, id, event, &if_match, now())).await?;
    Ok(respond::deleted())
}

/// Registers the routes under `/cooperations`.
pub fn configure_in_cooperations(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_events).service(create_event).service(get_event).service(update_event).service(delete_event);
}
