//! Sign-offs of a measure's project description (Projektsteckbrief): the mayors or
//! organisation leads of the required partners sign, each once. `description_signed_on` is
//! derived and stored: the date the last required partner signed, `null` until then (a measure
//! without any required partner keeps the date it had). The required partners are the
//! measure's own list (`required_signatory_partner_ids`) or its lead and participating partners.
//!
//! Who signed is personal data: the measure shows which partners signed and when; the
//! signatories (contact, name, function) only callers with a role see.

use std::collections::HashMap;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::Measure;
use crate::auth::Caller;
use crate::changes::{self, Op, Resource};
use crate::db::schema::{measure_sign_offs, measures};
use crate::db::{AnyConnection, Timestamp};
use crate::error::{AppError, FieldError};
use crate::models::input::Normalize;
use crate::models::record::not_found;

/// A stored sign-off.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = measure_sign_offs, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct SignOff {
    pub id: i64,
    pub measure_id: i64,
    pub partner_id: i64,
    pub signed_on: NaiveDate,
    pub contact_id: Option<i64>,
    pub signatory_name: Option<String>,
    pub signatory_function: Option<String>,
    /// Made by the migration from a `description_signed_on` entered before sign-offs existed.
    pub migrated: bool,
    pub created_at: Timestamp,
}

/// A partner's signature under the project description: by a contact, or by a name (and
/// function).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "one_signatory", skip_on_field_errors = false))]
pub struct CreateSignOff {
    /// The partner signing: one of the measure's required signatory partners.
    pub partner_id: i64,
    /// When.
    #[validate(custom(function = "validate_signed_on"))]
    #[schema(example = "2026-11-20")]
    pub signed_on: NaiveDate,
    /// The person who signed, as a contact of the partner; or give `signatory_name`.
    #[serde(default)]
    pub contact_id: Option<i64>,
    /// The person's name, 1–200 characters, where there is no contact.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[serde(default)]
    #[schema(example = "Dr. Anna Beispiel", max_length = 200)]
    pub signatory_name: Option<String>,
    /// The person's function, up to 200 characters.
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[serde(default)]
    #[schema(example = "Bürgermeisterin", max_length = 200)]
    pub signatory_function: Option<String>,
}

fn validate_signed_on(date: &NaiveDate) -> Result<(), validator::ValidationError> {
    crate::domain::validate_year(&date)
}

fn one_signatory(s: &CreateSignOff) -> Result<(), validator::ValidationError> {
    let message = match (s.contact_id, &s.signatory_name) {
        (Some(_), Some(_)) => "give `contact_id` or `signatory_name`, not both",
        (None, None) => "give `contact_id` or `signatory_name` (and `signatory_function`)",
        _ => return Ok(()),
    };
    let mut e = validator::ValidationError::new("signatory");
    e.message = Some(message.into());
    e.add_param("field".into(), &"signatory_name");
    Err(e)
}

impl Normalize for CreateSignOff {
    fn normalize(&mut self) {
        crate::domain::trim_opt(&mut self.signatory_name);
        crate::domain::trim_opt(&mut self.signatory_function);
    }
}

/// The required signatory partners of a measure (its own list, or its lead and participating
/// partners), ascending.
pub fn required(measure: &Measure, partner_ids: &[i64]) -> Vec<i64> {
    let own: Option<Vec<i64>> = measure.signatory_partner_ids.as_deref().and_then(|s| serde_json::from_str(s).ok());
    let mut ids = own.unwrap_or_else(|| partner_ids.iter().copied().chain(measure.lead_partner_id).collect());
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The sign-offs of each of `measure_ids`, by partner.
pub fn of_measures(conn: &mut AnyConnection, measure_ids: &[i64]) -> QueryResult<HashMap<i64, Vec<SignOff>>> {
    let mut found: HashMap<i64, Vec<SignOff>> = HashMap::new();
    for chunk in measure_ids.chunks(500) {
        let rows: Vec<SignOff> = measure_sign_offs::table
            .filter(measure_sign_offs::measure_id.eq_any(chunk))
            .select(SignOff::as_select())
            .order((measure_sign_offs::measure_id, measure_sign_offs::partner_id))
            .load(conn)?;
        for row in rows {
            found.entry(row.measure_id).or_default().push(row);
        }
    }
    Ok(found)
}

/// The sign-offs of one measure, by partner, or 404.
pub fn list(conn: &mut AnyConnection, measure_id: i64) -> Result<Vec<SignOff>, AppError> {
    super::find(conn, measure_id)?.ok_or_else(|| not_found("measure", measure_id))?;
    Ok(of_measures(conn, &[measure_id])?.remove(&measure_id).unwrap_or_default())
}

/// Records a partner's signature (admins, or editors acting for that partner); 409 when the
/// partner signed already.
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    measure_id: i64,
    input: CreateSignOff,
    now: Timestamp,
) -> Result<SignOff, AppError> {
    caller.require_partner(input.partner_id, "sign project descriptions")?;
    crate::db::lock_row(conn, crate::db::Locked::Measures, measure_id)?;
    let measure = super::find(conn, measure_id)?.ok_or_else(|| not_found("measure", measure_id))?;
    let partners = super::partner_ids(conn, measure_id)?;
    let mut errors = Vec::new();
    if !required(&measure, &partners).contains(&input.partner_id) {
        errors.push(FieldError::new(
            "partner_id",
            "not_required",
            format!("partner {} is not among the required signatories of measure {measure_id}", input.partner_id),
        ));
    }
    if let Some(contact_id) = input.contact_id {
        match crate::models::contacts::find(conn, contact_id)? {
            Some(c) if c.partner_id == input.partner_id => {}
            Some(_) => errors.push(FieldError::new(
                "contact_id",
                "other_partner",
                format!("contact {contact_id} works for another partner than {}", input.partner_id),
            )),
            None => errors.push(FieldError::new(
                "contact_id",
                "unknown_contact",
                format!("there is no contact {contact_id}"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    if of_measures(conn, &[measure_id])?
        .remove(&measure_id)
        .unwrap_or_default()
        .iter()
        .any(|s| s.partner_id == input.partner_id)
    {
        return Err(AppError::Conflict(format!(
            "partner {} signed the project description of measure {measure_id} already; delete that sign-off first",
            input.partner_id
        )));
    }
    let values = (
        measure_sign_offs::measure_id.eq(measure_id),
        measure_sign_offs::partner_id.eq(input.partner_id),
        measure_sign_offs::signed_on.eq(input.signed_on),
        measure_sign_offs::contact_id.eq(input.contact_id),
        measure_sign_offs::signatory_name.eq(&input.signatory_name),
        measure_sign_offs::signatory_function.eq(&input.signatory_function),
        measure_sign_offs::migrated.eq(false),
        measure_sign_offs::created_at.eq(now),
    );
    let stored = crate::per_backend!(&mut *conn, |c| diesel::insert_into(measure_sign_offs::table)
        .values(values)
        .returning(SignOff::as_returning())
        .get_result(c))?;
    touched(conn, caller, &measure, &partners, now)?;
    Ok(stored)
}

/// Takes a partner's signature back (admins, or editors acting for that partner).
pub fn delete(
    conn: &mut AnyConnection,
    caller: &Caller,
    measure_id: i64,
    partner_id: i64,
    now: Timestamp,
) -> Result<(), AppError> {
    caller.require_partner(partner_id, "take back signatures")?;
    crate::db::lock_row(conn, crate::db::Locked::Measures, measure_id)?;
    let measure = super::find(conn, measure_id)?.ok_or_else(|| not_found("measure", measure_id))?;
    let gone = diesel::delete(
        measure_sign_offs::table
            .filter(measure_sign_offs::measure_id.eq(measure_id))
            .filter(measure_sign_offs::partner_id.eq(partner_id)),
    )
    .execute(conn)?;
    if gone == 0 {
        return Err(AppError::NotFound(format!("partner {partner_id} has not signed measure {measure_id}")));
    }
    let partners = super::partner_ids(conn, measure_id)?;
    touched(conn, caller, &measure, &partners, now)
}

/// After a sign-off changed: the measure's derived date, a new version, its change recorded.
fn touched(
    conn: &mut AnyConnection,
    caller: &Caller,
    measure: &Measure,
    partners: &[i64],
    now: Timestamp,
) -> Result<(), AppError> {
    let count: i64 =
        measure_sign_offs::table.filter(measure_sign_offs::measure_id.eq(measure.id)).count().get_result(conn)?;
    let counted = Measure { sign_off_count: i32::try_from(count).unwrap_or(i32::MAX), ..measure.clone() };
    refresh(conn, &counted, partners, now)?;
    diesel::update(measures::table.find(measure.id))
        .set((measures::sign_off_count.eq(counted.sign_off_count), measures::updated_at.eq(now)))
        .execute(conn)?;
    changes::changed(conn, caller, Resource::Measures, measure.id, Op::Updated, now)?;
    Ok(())
}

/// The derived `description_signed_on` of a measure: the latest signature once every required
/// partner signed, else `None`; a measure without required partners keeps its stored date.
pub fn signed_on(measure: &Measure, partners: &[i64], sign_offs: &[SignOff]) -> Option<NaiveDate> {
    let required = required(measure, partners);
    if required.is_empty() {
        return measure.description_signed_on;
    }
    let dates: Option<Vec<NaiveDate>> =
        required.iter().map(|p| sign_offs.iter().find(|s| s.partner_id == *p).map(|s| s.signed_on)).collect();
    dates.and_then(|d| d.into_iter().max())
}

/// Stores the derived `description_signed_on` (with a new version) where it changed; returns
/// the new date then.
pub(super) fn refresh(
    conn: &mut AnyConnection,
    measure: &Measure,
    partners: &[i64],
    now: Timestamp,
) -> Result<Option<Option<NaiveDate>>, AppError> {
    let signs = match measure.sign_off_count {
        0 => Vec::new(),
        _ => of_measures(conn, &[measure.id])?.remove(&measure.id).unwrap_or_default(),
    };
    let date = signed_on(measure, partners, &signs);
    if date == measure.description_signed_on {
        return Ok(None);
    }
    diesel::update(measures::table.find(measure.id))
        .set((measures::description_signed_on.eq(date), measures::updated_at.eq(now)))
        .execute(conn)?;
    Ok(Some(date))
}
