//! Labels of every closed set of values the API sends (statuses, kinds, roles, horizons,
//! decisions), in German and English, so that a front-end shows "Beschlossen" or "Approved"
//! without a table of its own. Served at `GET /api/v1/vocabularies?lang=de|en` and written
//! into the OpenAPI document (`x-labels` on each enum schema).
//!
//! Each set's labels are a `match` on its enum: a new value does not compile without its labels.

use strum::VariantArray;

use crate::auth::Role;
use crate::domain::Lang;
use crate::domain::council::CouncilDecision;
use crate::domain::measures::{Horizon, MeasureStatus};
use crate::models::cooperations::{CooperationStatus, MemberRole};
use crate::models::events::EventKind;
use crate::models::measures::decisions::DecisionSource;
use crate::models::partners::PartnerKind;
use crate::models::working_groups::WorkingGroupStatus;
use crate::models::working_groups::members::WorkingGroupRole;

/// A closed set of values with a German and an English label for each.
pub trait Labelled: VariantArray + Copy + Into<&'static str> + 'static {
    /// The set's name: the vocabulary's key, in snake_case after the enum.
    const NAME: &'static str;
    /// The set's schema in the OpenAPI document.
    const SCHEMA: &'static str;

    /// (German, English).
    fn labels(self) -> (&'static str, &'static str);
}

/// One value of a set with its label in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: &'static str,
    pub label: &'static str,
}

/// One set: its name, its schema and its values with their labels, in the order of the enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    pub name: &'static str,
    pub schema: &'static str,
    pub entries: Vec<Entry>,
}

fn of<T: Labelled>(lang: Lang) -> Vocabulary {
    let entries = T::VARIANTS
        .iter()
        .map(|v| {
            let (de, en) = v.labels();
            Entry { value: (*v).into(), label: if lang == Lang::En { en } else { de } }
        })
        .collect();
    Vocabulary { name: T::NAME, schema: T::SCHEMA, entries }
}

/// Every set, in one language.
pub fn all(lang: Lang) -> Vec<Vocabulary> {
    vec![
        of::<MeasureStatus>(lang),
        of::<Horizon>(lang),
        of::<PartnerKind>(lang),
        of::<CooperationStatus>(lang),
        of::<MemberRole>(lang),
        of::<Role>(lang),
        of::<CouncilDecision>(lang),
        of::<DecisionSource>(lang),
        of::<WorkingGroupStatus>(lang),
        of::<WorkingGroupRole>(lang),
        of::<EventKind>(lang),
    ]
}

impl Labelled for MeasureStatus {
    const NAME: &'static str = "measure_status";
    const SCHEMA: &'static str = "MeasureStatus";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Idea => ("Idee", "Idea"),
            Self::Assessed => ("Bewertet", "Assessed"),
            Self::Planned => ("Steckbrief erstellt", "Planned"),
            Self::Approved => ("Beschlossen", "Approved"),
            Self::InProgress => ("In Umsetzung", "In progress"),
            Self::Completed => ("Abgeschlossen", "Completed"),
            Self::OnHold => ("Zurückgestellt", "On hold"),
            Self::Rejected => ("Verworfen", "Rejected"),
        }
    }
}

impl Labelled for Horizon {
    const NAME: &'static str = "horizon";
    const SCHEMA: &'static str = "Horizon";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Short => ("Kurzfristig (bis 1 Jahr)", "Short term (within a year)"),
            Self::Medium => ("Mittelfristig (1–3 Jahre)", "Medium term (1–3 years)"),
            Self::Long => ("Langfristig (über 3 Jahre)", "Long term (over 3 years)"),
        }
    }
}

impl Labelled for PartnerKind {
    const NAME: &'static str = "partner_kind";
    const SCHEMA: &'static str = "PartnerKind";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Municipality => ("Gemeinde / Stadt", "Municipality"),
            Self::District => ("Landkreis", "District"),
            Self::StateAgency => ("Landesbehörde / Ministerium", "State agency"),
            Self::Association => ("Verband / Verein", "Association"),
            Self::Company => ("Unternehmen", "Company"),
            Self::Other => ("Sonstige", "Other"),
        }
    }
}

impl Labelled for CooperationStatus {
    const NAME: &'static str = "cooperation_status";
    const SCHEMA: &'static str = "CooperationStatus";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Exploring => ("In Sondierung", "Exploring"),
            Self::Active => ("Aktiv", "Active"),
            Self::Paused => ("Ruhend", "Paused"),
            Self::Ended => ("Beendet", "Ended"),
        }
    }
}

impl Labelled for MemberRole {
    const NAME: &'static str = "member_role";
    const SCHEMA: &'static str = "MemberRole";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Lead => ("Federführung", "Lead"),
            Self::Member => ("Mitglied", "Member"),
            Self::Advisor => ("Beratung", "Advisor"),
            Self::Funder => ("Fördermittelgeber", "Funder"),
            Self::Supporter => ("Unterstützer", "Supporter"),
        }
    }
}

impl Labelled for Role {
    const NAME: &'static str = "user_role";
    const SCHEMA: &'static str = "Role";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Viewer => ("Lesen", "Viewer"),
            Self::Editor => ("Bearbeiten", "Editor"),
            Self::Admin => ("Verwaltung", "Administrator"),
        }
    }
}

impl Labelled for CouncilDecision {
    const NAME: &'static str = "council_decision";
    const SCHEMA: &'static str = "CouncilDecision";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Approved => ("Zugestimmt", "Approved"),
            Self::Rejected => ("Abgelehnt", "Rejected"),
            Self::Deferred => ("Vertagt", "Deferred"),
            Self::Pending => ("Offen", "Pending"),
        }
    }
}

impl Labelled for DecisionSource {
    const NAME: &'static str = "council_decision_source";
    const SCHEMA: &'static str = "DecisionSource";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Manual => ("Eingetragen", "Entered"),
            Self::Oparl => ("Aus dem Ratsinformationssystem", "From the council information system"),
        }
    }
}

impl Labelled for WorkingGroupStatus {
    const NAME: &'static str = "working_group_status";
    const SCHEMA: &'static str = "WorkingGroupStatus";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Active => ("Aktiv", "Active"),
            Self::Closed => ("Abgeschlossen", "Closed"),
        }
    }
}

impl Labelled for WorkingGroupRole {
    const NAME: &'static str = "working_group_role";
    const SCHEMA: &'static str = "WorkingGroupRole";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Chair => ("Leitung", "Chair"),
            Self::Member => ("Mitglied", "Member"),
        }
    }
}

impl Labelled for EventKind {
    const NAME: &'static str = "event_kind";
    const SCHEMA: &'static str = "EventKind";
    fn labels(self) -> (&'static str, &'static str) {
        match self {
            Self::Workshop => ("Workshop", "Workshop"),
            Self::StaffDay => ("Mitarbeitertag", "Staff day"),
            Self::Assembly => ("Verbandsversammlung", "Joint assembly"),
            Self::SteeringMeeting => ("Lenkungsgruppe", "Steering meeting"),
            Self::Other => ("Sonstiges", "Other"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_set_has_every_value_labelled_in_both_languages_once() {
        let (de, en) = (all(Lang::De), all(Lang::En));
        let mut names: Vec<&str> = de.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), de.len(), "a set is listed twice");
        for (de, en) in de.iter().zip(&en) {
            assert_eq!(de.entries.len(), en.entries.len());
            for (d, e) in de.entries.iter().zip(&en.entries) {
                assert_eq!(d.value, e.value);
                assert!(!d.label.is_empty() && !e.label.is_empty(), "{}: {}", de.name, d.value);
            }
            let mut labels: Vec<&str> = de.entries.iter().map(|e| e.label).collect();
            labels.sort_unstable();
            labels.dedup();
            assert_eq!(labels.len(), de.entries.len(), "{}: two values share a German label", de.name);
        }
        let status = de.iter().find(|v| v.name == "measure_status").unwrap();
        assert_eq!(status.entries[3], Entry { value: "approved", label: "Beschlossen" });
    }
}
