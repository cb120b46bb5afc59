//! `/api/v1/partners`: the organisations that cooperate.

use crate::db::Timestamp;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contacts::ContactResponse;
use super::export::{self, CsvDelimiter, ListFormat};
use super::extract::{ByRef, IdempotencyKey, JsonBody, Query};
use super::pagination;
use super::respond::{self, Listed, Versioned};
use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::models::external_refs::{ExternalRef, RefFilter};
use crate::models::partners::{self as model, CreatePartner, Partner, PartnerFilter, PartnerKind, PartnerSort};
use crate::models::record::{IfMatch, Patch, etag, etag_with_embedded};
use crate::models::{idempotency, now};

/// A partner as stored: an organisation taking part in cooperations.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PartnerResponse {
    /// Server-assigned id.
    #[schema(example = 1)]
    pub id: i64,
    /// Official name.
    #[schema(example = "Stadt Königsbrück")]
    pub name: String,
    /// Kind of organisation.
    pub kind: PartnerKind,
    /// Amtlicher Gemeindeschlüssel: 8 digits, leading zeros kept.
    #[schema(example = "14625240")]
    pub ags: Option<String>,
    /// ISO 3166-2 code of the state.
    #[schema(example = "DE-SN")]
    pub state: Option<String>,
    /// District (Landkreis) the partner belongs to.
    #[schema(example = "Bautzen")]
    pub district: Option<String>,
    /// Inhabitants.
    #[schema(example = 4400)]
    pub population: Option<i64>,
    /// Website (http or https).
    #[schema(example = "https://www.koenigsbrueck.de")]
    pub website: Option<String>,
    /// Central e-mail address.
    #[schema(example = "info@koenigsbrueck.example.org")]
    pub email: Option<String>,
    /// Central telephone number.
    #[schema(example = "+49 35795 123-0")]
    pub phone: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// The partner's ids in other systems (`PUT /api/v1/partners/by-ref/{source}/{id}` finds it by each).
    pub external_refs: Vec<ExternalRef>,
    /// When the record was created (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When the record last changed (UTC); also the basis of the `ETag`.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// The partner's contacts, only with `?include=contacts` (needs a role).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(nullable = false)]
    pub contacts: Option<Vec<ContactResponse>>,
}

impl From<Partner> for PartnerResponse {
    fn from(p: Partner) -> Self {
        Self {
            id: p.id,
            name: p.name,
            kind: p.kind,
            ags: p.ags,
            state: p.state,
            district: p.district,
            population: p.population,
            website: p.website,
            email: p.email,
            phone: p.phone,
            description: p.description,
            external_refs: p.external_refs.0,
            created_at: p.created_at,
            updated_at: p.updated_at,
            contacts: None,
        }
    }
}

impl Versioned for PartnerResponse {
    /// Covers the embedded contacts, if any.
    fn etag(&self) -> String {
        match &self.contacts {
            Some(contacts) => etag_with_embedded(self.updated_at, contacts.iter().map(|c| (c.id, c.updated_at))),
            None => etag(self.updated_at),
        }
    }
}

/// A page of this list, documented under the schema name clients were generated with.
pub type PartnerPage = respond::Page<PartnerResponse>;

impl Listed for PartnerResponse {
    const PAGE: &'static str = "PartnerPage";
    const PLURAL: &'static str = "partners";
    const ITEMS: &'static str = "The partners of this page.";
}

/// Query parameters of the partner list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PartnerListQuery {
    /// Page size, 1–200.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<pagination::Limit>,
    /// `next_cursor` of the previous page, unchanged.
    pub cursor: Option<String>,
    /// Only partners of this kind.
    pub kind: Option<PartnerKind>,
    /// Only partners in this state (ISO 3166-2, e.g. `DE-SN`).
    #[param(example = "DE-SN")]
    pub state: Option<String>,
    /// Only the partner with this AGS.
    #[param(example = "14625240")]
    pub ags: Option<String>,
    /// Case-insensitive substring of the name (umlauts included).
    #[param(example = "königs", max_length = 200)]
    pub q: Option<String>,
    /// Order; `-` means descending.
    #[param(inline)]
    pub sort: Option<PartnerSort>,
    /// Only records changed at or after this instant (RFC 3339, e.g. the newest `updated_at`
    /// of the previous sync). Deletions are not listed: the change feed tells of them.
    #[param(value_type = Option<String>, format = DateTime)]
    pub updated_since: Option<Timestamp>,
    /// Only partners with an external reference from this system (e.g. `oparl`).
    pub ref_source: Option<String>,
    /// With `ref_source`: only the partner with this id there.
    pub ref_id: Option<String>,
    /// `csv`: the whole list, every page, as one CSV file (as with `Accept: text/csv`); `xlsx`: as
    /// one Excel workbook.
    #[param(inline)]
    pub format: Option<ListFormat>,
    /// With CSV: `semicolon` separates the cells with `;`, as German Excel expects.
    #[param(inline)]
    pub delimiter: Option<CsvDelimiter>,
    /// With `.xlsx`: the language of the column titles (`de`, the default, or `en`).
    #[param(inline)]
    pub lang: Option<crate::exchange::titles::Lang>,
}

/// What `GET /partners/{id}` may embed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartnerInclude {
    /// The partner's contacts (personal data; needs a role).
    Contacts,
}

/// Query parameters of a single partner.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PartnerGetQuery {
    /// `contacts` embeds the partner's contacts.
    #[param(inline)]
    pub include: Option<PartnerInclude>,
}

/// List partners
///
/// Keyset-paginated; follow `next_cursor` (or the `Link` header) for the next page.
#[utoipa::path(
    tag = "partners",
    params(PartnerListQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "One page of partners", body = PartnerPage,
         headers(("Link" = String, description = "`<…>; rel=\"next\"` when another page follows"))),
        (status = 400, description = "Unknown or unusable query parameter, or a bad cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn list_partners(
    req: HttpRequest,
    db: web::Data<Db>,
    caller: Caller,
    query: Query<PartnerListQuery>,
) -> Result<HttpResponse, AppError> {
    let answer = export::Answer::of(&req, query.0.format, query.0.delimiter, query.0.lang);
    partners(&db, &caller, query.0, answer).await
}

/// The partners `query` selects, as one page of JSON or as a file of every page: the answer of
/// `GET /api/v1/partners`, and what `ikz-api export partners` writes.
pub async fn partners(
    db: &Db,
    caller: &Caller,
    query: PartnerListQuery,
    answer: export::Answer<'_>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let limit = query.limit.unwrap_or_default().0;
    let sort = query.sort.unwrap_or_default();
    let after = pagination::decode_cursor(query.cursor.as_deref(), sort.as_str())?;
    let first = query.cursor.clone();
    let filter = PartnerFilter {
        kind: query.kind,
        state: query.state,
        ags: query.ags,
        name_pattern: super::extract::search_pattern("q", query.q.as_deref())?,
        updated_since: query.updated_since,
        external_ref: RefFilter::from_query(query.ref_source, query.ref_id)?,
    };
    let req = match answer {
        export::Answer::Page(req) => req,
        export::Answer::File(file) => {
            let (db, filter) = (db.clone(), std::sync::Arc::new(filter));
            return export::stream(file, "partners", first, move |cursor| {
                let (db, filter) = (db.clone(), filter.clone());
                async move {
                    let after = pagination::decode_cursor(cursor.as_deref(), sort.as_str())?;
                    let limit = export::PAGE;
                    let (rows, next) = db.read(move |conn| model::page(conn, &filter, sort, after, limit)).await?;
                    Ok((rows.into_iter().map(PartnerResponse::from).collect::<Vec<_>>(), next))
                }
            })
            .await;
        }
    };
    let (rows, next_cursor) = db.read(move |conn| model::page(conn, &filter, sort, after, limit)).await?;
    Ok(respond::page(req, rows.into_iter().map(PartnerResponse::from).collect(), next_cursor))
}

/// Create a partner (admins)
#[utoipa::path(
    tag = "partners",
    request_body = CreatePartner,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = PartnerResponse,
         headers(("Location" = String, description = "URL of the new partner"), ("ETag" = String, description = "Version for `If-Match`"))),
        (status = 409, description = "The AGS is already used by another partner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create_partner(
    db: web::Data<Db>,
    caller: Caller,
    key: IdempotencyKey,
    body: JsonBody<CreatePartner>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "create partners")?;
    let key = key.for_body(&caller, &body)?;
    let input = body.decode()?;
    let render = move |partner: Partner| {
        respond::created_answer(format!("/api/v1/partners/{}", partner.id), &PartnerResponse::from(partner))
    };
    let outcome = db
        .write(move |conn| {
            idempotency::once(conn, key.as_ref(), now(), |c| model::create(c, &caller, input, now()), render)
        })
        .await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// Get a partner
///
/// Answers 304 when `If-None-Match` names the current `ETag`.
#[utoipa::path(
    tag = "partners",
    params(("id" = i64, Path, description = "Partner id"), PartnerGetQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The partner", body = PartnerResponse, headers(("ETag" = String, description = "Version for `If-Match`"))),
        (status = 304, description = "Unchanged since the `If-None-Match` version"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}")]
pub async fn get_partner(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    query: Query<PartnerGetQuery>,
) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let with_contacts = query.0.include == Some(PartnerInclude::Contacts);
    if with_contacts {
        caller.require(Role::Viewer, "include contacts (personal data)")?;
    }
    let id = id.into_inner();
    let (partner, contacts) = db.read(move |conn| model::get_with_contacts(conn, id, with_contacts)).await?;
    let mut response = PartnerResponse::from(partner);
    response.contacts = contacts.map(|c| c.into_iter().map(ContactResponse::new).collect());
    Ok(respond::record(&response))
}

/// Update a partner (JSON Merge Patch; admins, or editors acting for this partner)
///
/// Send only the fields to change (`application/merge-patch+json` or `application/json`);
/// `null` clears an optional field. With `If-Match`, the update only happens if nobody changed
/// the partner since that version (otherwise 412).
#[utoipa::path(
    tag = "partners",
    params(
        ("id" = i64, Path, description = "Partner id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on"),
    ),
    request_body(content = CreatePartner, content_type = "application/merge-patch+json",
        description = "Any subset of the fields; `null` clears an optional field; `name` and `kind` cannot be cleared"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Updated", body = PartnerResponse, headers(("ETag" = String, description = "New version"))),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The AGS is already used by another partner", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update_partner(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
    patch: Patch,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    caller.require_partner(id, "change partners")?;
    let partner = db.write(move |conn| model::update(conn, &caller, id, patch, &if_match, now())).await?;
    Ok(respond::record(&PartnerResponse::from(partner)))
}

/// Delete a partner (admins)
#[utoipa::path(
    tag = "partners",
    params(
        ("id" = i64, Path, description = "Partner id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version to delete"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such partner", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still referenced by other records", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the `If-Match` version", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}")]
pub async fn delete_partner(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    if_match: IfMatch,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Admin, "delete partners")?;
    let id = id.into_inner();
    db.write(move |conn| model::delete(conn, &caller, id, &if_match)).await?;
    Ok(respond::deleted())
}

/// Create or replace the partner with an external reference (admins; editors of the partner replace)
///
/// A full representation, as for `POST /api/v1/partners`. No partner holds `{source}:{id}` →
/// 201, created with the reference; one does and the body equals it → 200 and nothing changes (no
/// new version, no change in the feed); it differs → 200, replaced (absent fields are cleared).
/// Each of `source` and `id` is one percent-encoded path segment (`/` as `%2F`).
#[utoipa::path(
    tag = "partners",
    params(
        ("source" = String, Path, description = "The other system, e.g. `kreis-register`"),
        ("id" = String, Path, description = "The partner's id there, percent-encoded"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this replacement is based on"),
    ),
    request_body = CreatePartner,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced, or identical and unchanged", body = PartnerResponse, headers(("ETag" = String, description = "Version for `If-Match`"))),
        (status = 201, description = "Created with the reference", body = PartnerResponse,
         headers(("Location" = String, description = "URL of the new partner"), ("ETag" = String, description = "Version for `If-Match`"))),
        (status = 409, description = "The AGS or another external reference is held by another partner", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since the `If-Match` version, or no partner holds the reference yet", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/by-ref/{source}/{id}")]
pub async fn put_partner_by_ref(
    db: web::Data<Db>,
    caller: Caller,
    by_ref: ByRef,
    if_match: IfMatch,
    body: JsonBody<CreatePartner>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "create or replace partners")?;
    let input = body.decode()?;
    let (partner, created) = db
        .write(move |conn| model::put_by_ref(conn, &caller, (&by_ref.source, &by_ref.id), input, &if_match, now()))
        .await?;
    Ok(respond::put(created, format!("/api/v1/partners/{}", partner.id), &PartnerResponse::from(partner)))
}

/// Registers the partner routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_partners)
        .service(create_partner)
        .service(put_partner_by_ref)
        .service(get_partner)
        .service(update_partner)
        .service(delete_partner);
}
