//! From OParl objects (as JSON values) to what the models store, tolerating what servers in the
//! wild send: `"N/A"` and blank strings for "none", one object where a list belongs, embedded
//! objects without `type`, deleted entries without `type`, an AGS without its leading zero,
//! numbers where strings belong, date-times without a zone. Each repair is counted as a quirk.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::Value;

use crate::db::Timestamp;
use crate::models::council::store::{
    AgendaItem, BodyIn, Incoming, MeetingIn, OrganizationIn, PaperIn, StoredConsultation,
};
use crate::models::sync_sources::RunCounts;

/// Reads OParl objects, counting the quirks it repairs.
pub struct Reader<'a> {
    pub counts: &'a mut RunCounts,
}

/// Values that mean "none" in some systems.
const PLACEHOLDERS: [&str; 6] = ["n/a", "n.a.", "-", "--", "null", "none"];

impl Reader<'_> {
    /// A text member, trimmed; blank and placeholder values count as absent.
    pub fn text(&mut self, v: &Value, key: &str) -> Option<String> {
        match v.get(key)? {
            Value::String(s) => {
                let t = s.trim();
                if t.is_empty() || PLACEHOLDERS.iter().any(|p| t.eq_ignore_ascii_case(p)) {
                    self.counts.quirk("placeholder_or_blank_string");
                    None
                } else {
                    Some(t.to_owned())
                }
            }
            Value::Number(n) => {
                self.counts.quirk("number_for_string");
                Some(n.to_string())
            }
            _ => None,
        }
    }

    /// A list member; one object (or string) where a list belongs becomes a list of one.
    pub fn list<'v>(&mut self, v: &'v Value, key: &str) -> Vec<&'v Value> {
        match v.get(key) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => {
                self.counts.quirk("object_for_array");
                vec![other]
            }
        }
    }

    /// The URL an entry stands for: a string, or an embedded object's `id` (or `accessUrl`).
    fn url_of(&mut self, v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Value::Object(_) => self.text(v, "id").or_else(|| self.text(v, "accessUrl")),
            _ => None,
        }
    }

    /// The URLs of a list member.
    fn urls(&mut self, v: &Value, key: &str) -> Vec<String> {
        let items = self.list(v, key);
        items.into_iter().filter_map(|item| self.url_of(item)).collect()
    }

    /// A date-time member (RFC 3339; without a zone it is taken as UTC; a date as its midnight).
    pub fn timestamp(&mut self, v: &Value, key: &str) -> Option<Timestamp> {
        let text = self.text(v, key)?;
        if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
            return Some(Timestamp::from(at.with_timezone(&chrono::Utc)).truncated());
        }
        if let Ok(naive) = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f") {
            self.counts.quirk("date_time_without_zone");
            return Some(Timestamp::from(naive).truncated());
        }
        if let Ok(date) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            self.counts.quirk("date_for_date_time");
            return Some(Timestamp::from(date.and_hms_opt(0, 0, 0).unwrap_or_default()));
        }
        self.counts.quirk("unreadable_date");
        None
    }

    /// A date member (`YYYY-MM-DD`, or the date of a date-time).
    pub fn date(&mut self, v: &Value, key: &str) -> Option<NaiveDate> {
        let text = self.text(v, key)?;
        let date = text.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        if date.is_none() {
            self.counts.quirk("unreadable_date");
        }
        date
    }

    fn boolean(&mut self, v: &Value, key: &str) -> Option<bool> {
        match v.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The object's id, or `None` (counted) for an object without one.
    fn id(&mut self, v: &Value) -> Option<String> {
        let id = self.text(v, "id");
        if id.is_none() {
            self.counts.quirk("object_without_id");
        }
        id
    }

    /// An entry of a list: `Deleted` for `deleted: true` (with or without `type`), else what
    /// `live` reads from it; `None` for an entry without id.
    fn entry<T>(&mut self, v: &Value, live: impl FnOnce(&mut Self, String) -> T) -> Option<Incoming<T>> {
        let id = self.id(v)?;
        if self.boolean(v, "deleted") == Some(true) {
            if v.get("type").is_none() {
                self.counts.quirk("deleted_without_type");
            }
            return Some(Incoming::Deleted(id));
        }
        Some(Incoming::Live(live(self, id)))
    }

    /// A body.
    pub fn body(&mut self, v: &Value) -> Option<Incoming<BodyIn>> {
        self.entry(v, |r, oparl_id| {
            let ags = r.text(v, "ags").and_then(|raw| match crate::domain::normalize_ags(&raw) {
                Some((ags, padded)) => {
                    if padded {
                        r.counts.quirk("ags_without_leading_zero");
                    }
                    Some(ags)
                }
                None => {
                    r.counts.quirk("unreadable_ags");
                    None
                }
            });
            let ags =
                ags.or_else(|| r.text(v, "rgs").and_then(|rgs| crate::domain::normalize_ags(&rgs)).map(|(a, _)| a));
            let name = r.text(v, "name").or_else(|| r.text(v, "shortName")).unwrap_or_else(|| oparl_id.clone());
            BodyIn {
                name,
                ags,
                classification: r.text(v, "classification"),
                organization_list: r.text(v, "organization"),
                meeting_list: r.text(v, "meeting"),
                paper_list: r.text(v, "paper"),
                modified: r.timestamp(v, "modified"),
                oparl_id,
            }
        })
    }

    /// An organisation.
    pub fn organization(&mut self, v: &Value) -> Option<Incoming<OrganizationIn>> {
        self.entry(v, |r, oparl_id| OrganizationIn {
            name: r.text(v, "name").or_else(|| r.text(v, "shortName")).unwrap_or_else(|| oparl_id.clone()),
            short_name: r.text(v, "shortName"),
            classification: r.text(v, "classification"),
            organization_type: r.text(v, "organizationType"),
            modified: r.timestamp(v, "modified"),
            oparl_id,
        })
    }

    /// A meeting with its embedded agenda items.
    pub fn meeting(&mut self, v: &Value) -> Option<Incoming<MeetingIn>> {
        self.entry(v, |r, oparl_id| {
            let location = v.get("location").and_then(|l| match l {
                Value::Object(_) => r.text(l, "description").or_else(|| {
                    let parts: Vec<String> =
                        ["streetAddress", "locality", "room"].iter().filter_map(|k| r.text(l, k)).collect();
                    (!parts.is_empty()).then(|| parts.join(", "))
                }),
                _ => None,
            });
            let items = r.list(v, "agendaItem");
            let agenda_items = items
                .into_iter()
                .filter(|item| item.is_object())
                .map(|item| AgendaItem {
                    oparl_id: r.text(item, "id"),
                    number: r.text(item, "number"),
                    name: r.text(item, "name"),
                    public: r.boolean(item, "public"),
                    result: r.text(item, "result"),
                    resolution_text: r.text(item, "resolutionText"),
                    consultation_id: r.text(item, "consultation"),
                })
                .collect();
            MeetingIn {
                name: r.text(v, "name").unwrap_or_else(|| "Sitzung".to_owned()),
                start_at: r.timestamp(v, "start"),
                end_at: r.timestamp(v, "end"),
                start_date: r.date(v, "start"),
                cancelled: r.boolean(v, "cancelled").unwrap_or(false),
                location,
                web_url: r.text(v, "web"),
                organization_ids: r.urls(v, "organization"),
                agenda_items,
                modified: r.timestamp(v, "modified"),
                oparl_id,
            }
        })
    }

    /// A paper with its embedded consultations.
    pub fn paper(&mut self, v: &Value) -> Option<Incoming<PaperIn>> {
        self.entry(v, |r, oparl_id| {
            let main_file_url = v.get("mainFile").and_then(|f| match f {
                Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
                Value::Object(_) => {
                    r.text(f, "accessUrl").or_else(|| r.text(f, "downloadUrl")).or_else(|| r.text(f, "id"))
                }
                _ => None,
            });
            let keywords: Vec<String> = {
                let items = r.list(v, "keyword");
                items
                    .into_iter()
                    .filter_map(|k| k.as_str().map(str::trim))
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            let entries = r.list(v, "consultation");
            let consultations = entries
                .into_iter()
                .map(|c| match c {
                    Value::String(url) => StoredConsultation {
                        oparl_id: Some(url.clone()),
                        meeting_id: None,
                        agenda_item_id: None,
                        organization_ids: Vec::new(),
                        role: None,
                        authoritative: None,
                    },
                    _ => StoredConsultation {
                        oparl_id: r.text(c, "id"),
                        meeting_id: r.text(c, "meeting"),
                        agenda_item_id: r.text(c, "agendaItem"),
                        organization_ids: r.urls(c, "organization"),
                        role: r.text(c, "role"),
                        authoritative: r.boolean(c, "authoritative"),
                    },
                })
                .collect();
            let reference = r.text(v, "reference");
            PaperIn {
                name: r.text(v, "name").or_else(|| reference.clone()).unwrap_or_else(|| oparl_id.clone()),
                reference,
                paper_type: r.text(v, "paperType"),
                date: r.date(v, "date"),
                main_file_url,
                web_url: r.text(v, "web"),
                keywords,
                consultations,
                modified: r.timestamp(v, "modified"),
                oparl_id,
            }
        })
    }
}

/// The `modified` of a stored object, for the watermark.
pub fn modified_of<T>(item: &Incoming<T>, modified: impl Fn(&T) -> Option<Timestamp>) -> Option<Timestamp> {
    match item {
        Incoming::Live(t) => modified(t),
        Incoming::Deleted(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_arrays_and_agss_are_repaired_and_counted() {
        let mut counts = RunCounts::default();
        let mut r = Reader { counts: &mut counts };
        let body = json!({"id": "https://ris/b/1", "name": "Gemeinde Alfa", "ags": "5958044", "classification": "N/A",
                          "website": "  "});
        let Some(Incoming::Live(b)) = r.body(&body) else { panic!("a body") };
        assert_eq!(b.ags.as_deref(), Some("05958044"));
        assert_eq!(b.classification, None);
        let paper = json!({"id": "p1", "name": " Vorlage ", "keyword": "IKZ", "auxiliaryFile": {"id": "f"},
                           "consultation": {"meeting": "m1", "authoritative": true, "organization": "o1"},
                           "mainFile": {"accessUrl": "https://ris/f/1"}, "date": "2026-11-03"});
        let Some(Incoming::Live(p)) = r.paper(&paper) else { panic!("a paper") };
        assert_eq!(p.name, "Vorlage");
        assert_eq!(p.keywords, vec!["IKZ"]);
        assert_eq!(p.consultations[0].organization_ids, vec!["o1"]);
        assert_eq!(p.consultations[0].authoritative, Some(true));
        assert_eq!(p.main_file_url.as_deref(), Some("https://ris/f/1"));
        assert_eq!(p.date, NaiveDate::from_ymd_opt(2026, 11, 3));
        assert_eq!(r.paper(&json!({"id": "p2", "deleted": true})), Some(Incoming::Deleted("p2".into())));
        assert_eq!(r.paper(&json!({"name": "no id"})), None);
        assert_eq!(counts.quirks.get("ags_without_leading_zero"), Some(&1));
        assert_eq!(counts.quirks.get("placeholder_or_blank_string"), Some(&1));
        assert_eq!(counts.quirks.get("object_for_array"), Some(&3));
        assert_eq!(counts.quirks.get("deleted_without_type"), Some(&1));
        assert_eq!(counts.quirks.get("object_without_id"), Some(&1));
    }

    #[test]
    fn dates_and_times_are_read_with_or_without_a_zone() {
        let mut counts = RunCounts::default();
        let mut r = Reader { counts: &mut counts };
        let v = json!({"a": "2026-11-03T18:00:00+01:00", "b": "2026-11-03T18:00:00", "c": "2026-11-03", "d": "bald"});
        assert_eq!(r.timestamp(&v, "a").unwrap().utc().to_rfc3339(), "2026-11-03T17:00:00+00:00");
        assert_eq!(r.timestamp(&v, "b").unwrap().utc().to_rfc3339(), "2026-11-03T18:00:00+00:00");
        assert_eq!(r.timestamp(&v, "c").unwrap().utc().to_rfc3339(), "2026-11-03T00:00:00+00:00");
        assert_eq!(r.timestamp(&v, "d"), None);
        assert_eq!(r.date(&v, "a"), NaiveDate::from_ymd_opt(2026, 11, 3));
    }
}
