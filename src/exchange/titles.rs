//! Column titles of exported spreadsheets, in German and English: what a person reads above a
//! column of an `.xlsx` export (a CSV keeps the field names, which its import reads back).

pub use crate::domain::Lang;

/// (field, German, English) for every field a list exports.
const TITLES: [(&str, &str, &str); 81] = [
    ("id", "ID", "ID"),
    ("ags", "AGS (Gemeindeschlüssel)", "AGS (municipality key)"),
    ("annual_cost_after_eur", "Jährliche Kosten nachher (EUR)", "Annual cost after (EUR)"),
    ("annual_cost_before_eur", "Jährliche Kosten vorher (EUR)", "Annual cost before (EUR)"),
    ("benefit", "Nutzen (1–5)", "Benefit (1–5)"),
    ("commitment_years", "Bindungsdauer (Jahre)", "Commitment (years)"),
    ("consultation_id", "Beratung (OParl-ID)", "Consultation (OParl id)"),
    ("contacts", "Ansprechpersonen", "Contacts"),
    ("cooperation_id", "Kooperation (ID)", "Cooperation (ID)"),
    ("cost", "Kosten (1–5)", "Cost (1–5)"),
    ("council_decisions", "Ratsbeschlüsse", "Council decisions"),
    ("council_refs", "Ratsvorlagen", "Council papers"),
    ("councils_agreed", "Alle Räte zugestimmt", "All councils agreed"),
    ("created_at", "Angelegt am (UTC)", "Created at (UTC)"),
    ("decided_on", "Beschlossen am", "Decided on"),
    ("decision", "Beschluss", "Decision"),
    ("derived", "Aus dem Ratsinformationssystem", "From the council system"),
    ("description", "Beschreibung", "Description"),
    ("description_signed_on", "Steckbrief unterzeichnet am", "Description signed on"),
    ("disagrees", "Abweichung Eintrag/Ratssystem", "Entry differs from council system"),
    ("district", "Landkreis", "District"),
    ("effort", "Aufwand (1–5)", "Effort (1–5)"),
    ("email", "E-Mail", "E-mail"),
    ("ended_on", "Beendet am", "Ended on"),
    ("ends_on", "Ende", "Ends on"),
    ("estimated_cost_eur", "Geschätzte Kosten (EUR)", "Estimated cost (EUR)"),
    ("external_refs", "Externe Kennungen", "External references"),
    ("field_id", "Handlungsfeld (ID)", "Field of action (ID)"),
    ("field_ids", "Handlungsfelder (IDs)", "Fields of action (IDs)"),
    ("function", "Funktion", "Function"),
    ("funding_amount_eur", "Fördersumme (EUR)", "Funding amount (EUR)"),
    ("funding_programme", "Förderprogramm", "Funding programme"),
    ("horizon", "Zeithorizont", "Horizon"),
    ("key", "Schlüssel", "Key"),
    ("kind", "Art", "Kind"),
    ("lead_partner_id", "Federführender Partner (ID)", "Lead partner (ID)"),
    ("measure_id", "Maßnahme (ID)", "Measure (ID)"),
    ("measure_ids", "Maßnahmen (IDs)", "Measures (IDs)"),
    ("member_count", "Mitglieder", "Members"),
    ("moderator_partner_id", "Moderation (Partner-ID)", "Moderator (partner ID)"),
    ("name", "Name", "Name"),
    ("name_de", "Name (deutsch)", "Name (German)"),
    ("name_en", "Name (englisch)", "Name (English)"),
    ("note", "Bemerkung", "Note"),
    ("notes", "Notizen", "Notes"),
    ("organiser_partner_ids", "Ausrichtende Partner (IDs)", "Organising partners (IDs)"),
    ("outcomes", "Ergebnisse", "Outcomes"),
    ("paper_id", "Ratsvorlage (ID)", "Council paper (ID)"),
    ("paper_url", "Ratsvorlage (Adresse)", "Council paper (URL)"),
    ("parent_id", "Übergeordnete Maßnahme (ID)", "Parent measure (ID)"),
    ("participant_count", "Teilnehmende", "Participants"),
    ("partner_id", "Partner (ID)", "Partner (ID)"),
    ("partner_ids", "Beteiligte Partner (IDs)", "Participating partners (IDs)"),
    ("phone", "Telefon", "Phone"),
    ("phone_normalized", "Telefon (international)", "Phone (international)"),
    ("place", "Ort", "Place"),
    ("planned_end", "Geplantes Ende", "Planned end"),
    ("planned_start", "Geplanter Beginn", "Planned start"),
    ("population", "Einwohner", "Population"),
    ("priority_score", "Priorität (0–100)", "Priority (0–100)"),
    ("progress", "Fortschritt (%)", "Progress (%)"),
    ("progress_derived", "Fortschritt abgeleitet", "Progress derived"),
    ("required_signatory_partner_ids", "Unterzeichnende Partner (IDs)", "Required signatories (IDs)"),
    ("requires_council_approval", "Ratszustimmung erforderlich", "Council approval required"),
    ("responsible_contact", "Verantwortliche Person", "Responsible person"),
    ("responsible_contact_id", "Verantwortliche Person (ID)", "Responsible person (ID)"),
    ("responsible_partner_id", "Verantwortlicher Partner (ID)", "Responsible partner (ID)"),
    ("savings_eur", "Einsparung pro Jahr (EUR)", "Annual savings (EUR)"),
    ("savings_percent", "Einsparung (%)", "Savings (%)"),
    ("sign_offs", "Unterschriften", "Sign-offs"),
    ("source", "Quelle", "Source"),
    ("started_on", "Begonnen am", "Started on"),
    ("starts_on", "Beginn", "Starts on"),
    ("state", "Bundesland", "State"),
    ("status", "Status", "Status"),
    ("summary", "Kurzbeschreibung", "Summary"),
    ("theme_groups", "Themengruppen", "Theme groups"),
    ("title", "Titel", "Title"),
    ("updated_at", "Geändert am (UTC)", "Updated at (UTC)"),
    ("website", "Website", "Website"),
    ("working_group_id", "Arbeitsgruppe (ID)", "Working group (ID)"),
];

/// The title of the column `field` in `lang`; `None` for a field without one.
pub fn title(field: &str, lang: Lang) -> Option<&'static str> {
    TITLES.iter().find(|(name, ..)| *name == field).map(|(_, de, en)| match lang {
        Lang::De => *de,
        Lang::En => *en,
    })
}

/// What marks a text cut at a spreadsheet's limit, with how many characters were left off.
pub fn cut_marker(left_off: usize, lang: Lang) -> String {
    match lang {
        Lang::De => format!(" […gekürzt: {left_off} Zeichen fehlen]"),
        Lang::En => format!(" […cut: {left_off} characters left off]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_title_is_there_once_in_both_languages() {
        let mut names: Vec<&str> = TITLES.iter().map(|(name, ..)| *name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TITLES.len(), "a field is listed twice");
        assert!(TITLES.iter().all(|(_, de, en)| !de.is_empty() && !en.is_empty()));
        assert_eq!(title("planned_end", Lang::De), Some("Geplantes Ende"));
        assert_eq!(title("planned_end", Lang::En), Some("Planned end"));
        assert_eq!(title("no_such_field", Lang::En), None);
    }
}
