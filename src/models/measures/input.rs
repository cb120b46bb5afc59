//! The input of a new or changed measure: its fields, how they are tidied and checked, and the
//! columns they become (derived ones included).

use crate::models::external_refs::{self, ExternalRef};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::{Measure, MeasureData};
use crate::domain::measures::{Horizon, MeasureStatus, priority_score, savings};
use crate::domain::{self};
use crate::error::{AppError, FieldError};
use crate::models::input::Normalize;

/// A new measure; it starts as `idea`. A PATCH takes any subset of the same fields (`null`
/// clears optional ones); `cooperation_id` cannot change and `status` only through transitions.
#[derive(Debug, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "dates_in_order", skip_on_field_errors = false))]
pub struct CreateMeasure {
    /// The cooperation.
    pub cooperation_id: i64,
    /// The field of action.
    pub field_id: i64,
    /// Title, 1–300 characters.
    #[validate(length(min = 1, max = 300, message = "must be 1 to 300 characters"))]
    #[schema(example = "Gemeinsame Beschaffung von Streusalz", min_length = 1, max_length = 300)]
    pub title: String,
    /// Short summary, up to 2,000 characters.
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub summary: Option<String>,
    /// Project description (markdown), up to 50,000 characters.
    #[validate(length(max = 50000, message = "must be at most 50000 characters"))]
    #[serde(default)]
    #[schema(max_length = 50000)]
    pub description: Option<String>,
    /// How soon it can be carried out.
    #[serde(default)]
    pub horizon: Option<Horizon>,
    /// Benefit, 1–5.
    #[validate(range(min = 1, max = 5, message = "must be 1 to 5"))]
    #[serde(default)]
    #[schema(minimum = 1, maximum = 5)]
    pub benefit: Option<i32>,
    /// Cost, 1–5.
    #[validate(range(min = 1, max = 5, message = "must be 1 to 5"))]
    #[serde(default)]
    #[schema(minimum = 1, maximum = 5)]
    pub cost: Option<i32>,
    /// Effort, 1–5.
    #[validate(range(min = 1, max = 5, message = "must be 1 to 5"))]
    #[serde(default)]
    #[schema(minimum = 1, maximum = 5)]
    pub effort: Option<i32>,
    /// Estimated cost in whole euros, 0 or more.
    #[validate(range(min = 0, message = "must not be negative"))]
    #[serde(default)]
    #[schema(minimum = 0)]
    pub estimated_cost_eur: Option<i64>,
    /// Lead partner; must be a member of the cooperation.
    #[serde(default)]
    pub lead_partner_id: Option<i64>,
    /// Participating partners; each must be a member of the cooperation.
    #[serde(default)]
    pub partner_ids: Vec<i64>,
    /// Responsible partner (any partner, e.g. a state ministry).
    #[serde(default)]
    pub responsible_partner_id: Option<i64>,
    /// Responsible person.
    #[serde(default)]
    pub responsible_contact_id: Option<i64>,
    /// Planned start.
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    pub planned_start: Option<NaiveDate>,
    /// Planned end, not before `planned_start`.
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    pub planned_end: Option<NaiveDate>,
    /// The partners who must sign the project description; `null` (the default): the lead and
    /// the participating partners (a list equal to those is the default too, and follows them).
    /// Each must be a member of the cooperation.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub required_signatory_partner_ids: Option<Vec<i64>>,
    /// Annual personnel and material costs of all partners together before the measure, in
    /// whole euros, 0 or more.
    #[validate(range(min = 0, message = "must not be negative"))]
    #[serde(default)]
    #[schema(minimum = 0, example = 200000)]
    pub annual_cost_before_eur: Option<i64>,
    /// The same after the measure (whole euros, 0 or more).
    #[validate(range(min = 0, message = "must not be negative"))]
    #[serde(default)]
    #[schema(minimum = 0, example = 170000)]
    pub annual_cost_after_eur: Option<i64>,
    /// For how many years the partners commit to the measure (0–100).
    #[validate(range(min = 0, max = 100, message = "must be 0 to 100"))]
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100, example = 5)]
    pub commitment_years: Option<i32>,
    /// Progress in percent, 0–100, set by hand; `null` (the default): derived from the
    /// sub-measures (rejected ones left out, completed ones count 100, weighted by
    /// `estimated_cost_eur` when every counted one has it, else equally, rounded down; 0 without
    /// sub-measures).
    #[validate(range(min = 0, max = 100, message = "must be 0 to 100"))]
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    pub progress: Option<i32>,
    /// Parent measure in the same cooperation.
    #[serde(default)]
    pub parent_id: Option<i64>,
    /// The working group of the cooperation that examined it.
    #[serde(default)]
    pub working_group_id: Option<i64>,
    /// URLs (http/https) of council papers, at most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub council_refs: Vec<String>,
    /// The measure's ids in other systems, each unique among measures.
    #[serde(default)]
    #[validate(skip)]
    pub external_refs: Vec<ExternalRef>,
}

fn dates_in_order(m: &CreateMeasure) -> Result<(), validator::ValidationError> {
    domain::validate_date_order(m.planned_start, m.planned_end, "planned_end")
}

impl Normalize for CreateMeasure {
    const NULLABLE_LISTS: &'static [&'static str] = &["required_signatory_partner_ids"];
    const READ_ONLY: &'static [(&'static str, &'static str)] = &[
        ("status", "use POST /api/v1/measures/{id}/transitions"),
        (
            "description_signed_on",
            "it is derived from the sign-offs: POST /api/v1/measures/{id}/sign-offs for each required partner",
        ),
    ];

    fn normalize(&mut self) {
        domain::trim(&mut self.title);
        domain::trim_opt(&mut self.summary);
        domain::trim_opt(&mut self.description);
        self.partner_ids.sort_unstable();
        self.partner_ids.dedup();
        self.council_refs.iter_mut().for_each(domain::trim);
        if let Some(ids) = &mut self.required_signatory_partner_ids {
            ids.sort_unstable();
            ids.dedup();
        }
        // A list equal to the default is the default: it then follows the partners (and an
        // exported measure imported back is unchanged).
        let mut default: Vec<i64> = self.partner_ids.iter().copied().chain(self.lead_partner_id).collect();
        default.sort_unstable();
        default.dedup();
        if self.required_signatory_partner_ids.as_ref() == Some(&default) {
            self.required_signatory_partner_ids = None;
        }
        external_refs::normalize(&mut self.external_refs);
    }

    fn check(&self) -> Vec<FieldError> {
        let mut errors: Vec<FieldError> = self
            .council_refs
            .iter()
            .enumerate()
            .filter(|(_, url)| domain::validate_web_url(url).is_err())
            .map(|(i, _)| FieldError::new(format!("council_refs[{i}]"), "url", "must be an absolute http or https URL"))
            .collect();
        if self.required_signatory_partner_ids.as_ref().is_some_and(|ids| ids.len() > 100) {
            errors.push(FieldError::new("required_signatory_partner_ids", "length", "must hold at most 100 partners"));
        }
        if self.council_refs.len() > 50 {
            errors.push(FieldError::new("council_refs", "length", "must hold at most 50 URLs"));
        }
        errors.extend(external_refs::check(&self.external_refs));
        errors
    }
}

impl CreateMeasure {
    /// The columns to store, with derived values; `status` and `resume_status` as given.
    pub fn into_data(self, status: MeasureStatus, resume: Option<MeasureStatus>) -> (MeasureData, Vec<i64>) {
        let score = priority_score(self.benefit, self.cost, self.effort);
        let (savings_eur, savings_percent_tenths) = savings(self.annual_cost_before_eur, self.annual_cost_after_eur);
        let data = MeasureData {
            cooperation_id: self.cooperation_id,
            field_id: self.field_id,
            parent_id: self.parent_id,
            title_folded: domain::fold(&self.title),
            title: self.title,
            summary: self.summary,
            description: self.description,
            status: status.as_str().into(),
            resume_status: resume.map(|r| r.as_str().into()),
            horizon: self.horizon.map(|h| <&str>::from(h).into()),
            benefit: self.benefit,
            cost: self.cost,
            effort: self.effort,
            estimated_cost_eur: self.estimated_cost_eur,
            annual_cost_before_eur: self.annual_cost_before_eur,
            annual_cost_after_eur: self.annual_cost_after_eur,
            commitment_years: self.commitment_years,
            savings_eur,
            savings_percent_tenths,
            priority_score: score,
            priority_rank: score.unwrap_or(-1),
            lead_partner_id: self.lead_partner_id,
            responsible_partner_id: self.responsible_partner_id,
            responsible_contact_id: self.responsible_contact_id,
            planned_start: self.planned_start,
            planned_end: self.planned_end,
            planned_end_rank: self.planned_end.unwrap_or_else(unplanned),
            // Derived from the sign-offs by the write (`sign_offs::refresh`).
            description_signed_on: None,
            signatory_partner_ids: self
                .required_signatory_partner_ids
                .as_ref()
                .map(|ids| serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())),
            // A derived progress is computed by the write (`progress::settle`).
            progress: if status == MeasureStatus::Completed { 100 } else { self.progress.unwrap_or(0) },
            progress_manual: self.progress.is_some(),
            working_group_id: self.working_group_id,
            council_refs: serde_json::to_string(&self.council_refs).unwrap_or_else(|_| "[]".into()),
            external_refs: external_refs::column(&self.external_refs),
        };
        (data, self.partner_ids)
    }

    /// The writable fields of a stored measure and its participating partners, as the base a
    /// merge patch applies to. A stored value the API cannot read is an error, never a default.
    pub fn from_stored(m: &Measure, partner_ids: Vec<i64>) -> Result<Self, AppError> {
        let unreadable = |what: &str| AppError::Internal(format!("measure {} has an unreadable {what}", m.id));
        Ok(Self {
            cooperation_id: m.cooperation_id,
            field_id: m.field_id,
            title: m.title.clone(),
            summary: m.summary.clone(),
            description: m.description.clone(),
            horizon: m.horizon.as_deref().map(str::parse).transpose().map_err(|_| unreadable("horizon"))?,
            benefit: m.benefit,
            cost: m.cost,
            effort: m.effort,
            estimated_cost_eur: m.estimated_cost_eur,
            annual_cost_before_eur: m.annual_cost_before_eur,
            annual_cost_after_eur: m.annual_cost_after_eur,
            commitment_years: m.commitment_years,
            lead_partner_id: m.lead_partner_id,
            partner_ids,
            responsible_partner_id: m.responsible_partner_id,
            responsible_contact_id: m.responsible_contact_id,
            planned_start: m.planned_start,
            planned_end: m.planned_end,
            required_signatory_partner_ids: m
                .signatory_partner_ids
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|_| unreadable("signatory_partner_ids"))?,
            progress: m.progress_manual.then_some(m.progress),
            parent_id: m.parent_id,
            working_group_id: m.working_group_id,
            council_refs: serde_json::from_str(&m.council_refs).map_err(|_| unreadable("council_refs"))?,
            external_refs: m.external_refs.0.clone(),
        })
    }
}

/// The sort position of measures without a planned end.
fn unplanned() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// A request to move a measure to another status.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTransition {
    /// The status to move to.
    pub to: MeasureStatus,
    /// Why, for the history (up to 2,000 characters).
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default)]
    #[schema(example = "Steuerungsgruppe vom 12.11.: Nutzen 4, Kosten 2, Aufwand 3", max_length = 2000)]
    pub comment: Option<String>,
}

impl Normalize for CreateTransition {
    fn normalize(&mut self) {
        crate::domain::trim_opt(&mut self.comment);
    }
}
