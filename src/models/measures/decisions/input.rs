//! The body of a hand-entered council decision.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::{DecisionRow, ManualData};
use crate::domain::council::CouncilDecision;
use crate::error::AppError;
use crate::models::input::Normalize;

/// A council decision entered by hand (a PATCH takes any subset of the same fields but
/// `partner_id`; `null` clears optional ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "one_paper", skip_on_field_errors = false))]
pub struct CreateCouncilDecision {
    /// The partner whose council decided: the measure's lead or a participating partner.
    pub partner_id: i64,
    /// What the council decided.
    pub decision: CouncilDecision,
    /// When (the meeting's date).
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    #[schema(example = "2026-11-19")]
    pub decided_on: Option<NaiveDate>,
    /// The council paper here (`/api/v1/council-papers/{id}`); or give `paper_url`.
    #[serde(default)]
    pub paper_id: Option<i64>,
    /// The paper's address elsewhere (a council without an OParl system); or give `paper_id`.
    #[validate(url(message = "must be an absolute URL"))]
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default)]
    #[schema(format = Uri, max_length = 2000, example = "https://www.ottendorf.example/rat/2026-11-19.pdf")]
    pub paper_url: Option<String>,
    /// A remark, up to 2,000 characters.
    #[validate(length(max = 2000, message = "must be at most 2000 characters"))]
    #[serde(default)]
    #[schema(max_length = 2000, example = "Beschluss Nr. 2026/117, einstimmig")]
    pub note: Option<String>,
}

fn one_paper(d: &CreateCouncilDecision) -> Result<(), validator::ValidationError> {
    if d.paper_id.is_some() && d.paper_url.is_some() {
        let mut e = validator::ValidationError::new("paper_twice");
        e.message = Some("give `paper_id` or `paper_url`, not both".into());
        e.add_param("field".into(), &"paper_url");
        return Err(e);
    }
    Ok(())
}

impl Normalize for CreateCouncilDecision {
    const NOT_NULL: &'static [&'static str] = &["partner_id", "decision"];

    fn normalize(&mut self) {
        crate::domain::trim_opt(&mut self.paper_url);
        crate::domain::trim_opt(&mut self.note);
    }
}

impl CreateCouncilDecision {
    pub(super) fn manual_data(&self) -> ManualData {
        ManualData {
            manual_decision: Some(self.decision.as_str().to_owned()),
            manual_decided_on: self.decided_on,
            manual_paper_id: self.paper_id,
            manual_paper_url: self.paper_url.clone(),
            note: self.note.clone(),
        }
    }

    /// The hand entry of a row as an input; `None` for a row with only a derived decision.
    pub(super) fn from_row(row: &DecisionRow) -> Result<Option<Self>, AppError> {
        let Some(decision) = row.manual_decision.as_deref() else { return Ok(None) };
        let decision = decision
            .parse()
            .map_err(|_| AppError::Internal(format!("council decision {} has an unreadable decision", row.id)))?;
        Ok(Some(Self {
            partner_id: row.partner_id,
            decision,
            decided_on: row.manual_decided_on,
            paper_id: row.manual_paper_id,
            paper_url: row.manual_paper_url.clone(),
            note: row.note.clone(),
        }))
    }
}
