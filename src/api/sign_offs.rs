//! `/api/v1/measures/{id}/sign-offs`: who signed a measure's project description for which
//! partner. The measure itself shows which partners signed and when; the signatories are
//! personal data, shown here to callers with a role only.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::JsonBody;
use super::respond;
use crate::auth::{Caller, Role};
use crate::db::{Db, Timestamp};
use crate::error::{AppError, Problem};
use crate::models::measures::sign_offs::{self as model, CreateSignOff, SignOff};
use crate::models::now;

/// A signature under a measure's project description.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignOffResponse {
    /// The partner that signed.
    pub partner_id: i64,
    /// When.
    pub signed_on: NaiveDate,
    /// The contact who signed (only for callers with a role).
    pub contact_id: Option<i64>,
    /// The signatory's name (only for callers with a role).
    pub signatory_name: Option<String>,
    /// The signatory's function (only for callers with a role).
    pub signatory_function: Option<String>,
    /// Made from a `description_signed_on` entered before sign-offs existed (no signatory known).
    pub migrated: bool,
    /// Recorded (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl SignOffResponse {
    /// The answer for `caller`: without the signatory for anonymous callers.
    fn new(s: SignOff, personal: bool) -> Self {
        Self {
            partner_id: s.partner_id,
            signed_on: s.signed_on,
            contact_id: s.contact_id.filter(|_| personal),
            signatory_name: s.signatory_name.filter(|_| personal),
            signatory_function: s.signatory_function.filter(|_| personal),
            migrated: s.migrated,
            created_at: s.created_at,
        }
    }
}

/// The sign-offs of a measure.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignOffList {
    /// By partner.
    pub items: Vec<SignOffResponse>,
}

/// List the signatures under a measure's project description
///
/// By partner. Anonymous callers see which partners signed and when, not who.
#[utoipa::path(tag = "measures", params(("id" = i64, Path, description = "Measure id")), security((), ("bearer" = [])), responses(
    (status = 200, description = "The measure's sign-offs", body = SignOffList),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
))]
#[get("/{id}/sign-offs")]
pub async fn list_sign_offs(db: web::Data<Db>, caller: Caller, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let personal = caller.role.is_some();
    let id = id.into_inner();
    let rows = db.read(move |conn| model::list(conn, id)).await?;
    let items = rows.into_iter().map(|s| SignOffResponse::new(s, personal)).collect();
    Ok(respond::json(HttpResponse::Ok(), &SignOffList { items }))
}

/// Sign a measure's project description for a partner (admins, or editors acting for the partner)
///
/// One signature per partner fulfils it: by a contact of the partner, or by a name and
/// function. Once every required partner has signed, the measure's `description_signed_on` is
/// the date of the last signature.
#[utoipa::path(tag = "measures", params(("id" = i64, Path, description = "Measure id")), request_body = CreateSignOff,
    security(("bearer" = [])), responses(
    (status = 201, description = "Signed", body = SignOffResponse,
     headers(("Location" = String, description = "URL of the measure's sign-offs"))),
    (status = 404, description = "No such measure", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The partner signed already", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid fields, a partner that need not sign, or a contact of another partner", body = Problem, content_type = "application/problem+json"),
))]
#[post("/{id}/sign-offs")]
pub async fn create_sign_off(
    db: web::Data<Db>,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<CreateSignOff>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "sign project descriptions")?;
    let (id, input) = (id.into_inner(), body.decode()?);
    let stored = db.write(move |conn| model::create(conn, &caller, id, input, now())).await?;
    let answer = respond::created_unversioned_answer(
        format!("/api/v1/measures/{id}/sign-offs"),
        &SignOffResponse::new(stored, true),
    );
    Ok(respond::answer(answer, false))
}

/// Take back a partner's signature (admins, or editors acting for the partner)
#[utoipa::path(tag = "measures",
    params(("id" = i64, Path, description = "Measure id"), ("partner_id" = i64, Path, description = "Partner id")),
    security(("bearer" = [])), responses(
    (status = 204, description = "Taken back; the measure's `description_signed_on` follows"),
    (status = 404, description = "No such measure, or the partner has not signed", body = Problem, content_type = "application/problem+json"),
))]
#[delete("/{id}/sign-offs/{partner_id}")]
pub async fn delete_sign_off(
    db: web::Data<Db>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "take back signatures")?;
    let (id, partner_id) = path.into_inner();
    db.write(move |conn| model::delete(conn, &caller, id, partner_id, now())).await?;
    Ok(respond::deleted())
}

/// Registers the routes under `/measures`.
pub fn configure_in_measures(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_sign_offs).service(create_sign_off).service(delete_sign_off);
}
