//! Council decisions: the four outcomes, and how the result text of an agenda item in a council
//! information system is read as one of them.
//!
//! The result text (`TOP.result` in OParl, free text of each vendor) is compared word by word,
//! case-insensitively, after NFKC folding (`ß` as `ss`), by this table, first match wins:
//!
//! | the text holds a word starting with | decision |
//! |---|---|
//! | `abgelehnt`, `ablehn`, `verworfen`, `verweigert` | `rejected` |
//! | `vertagt`, `zurückgestellt`, `zurückgezogen`, `zurückverwiesen`, `verschoben`, `abgesetzt` | `deferred` |
//! | `beschlossen`, `zugestimmt`, `zustimm`, `angenommen`, `genehmigt`, `befürwortet`, … | `approved`, unless the word just before it negates it (`nicht`, `kein…`, `ohne`), then `rejected` |
//! | anything else (`zur Kenntnis genommen`, `erledigt`, empty, missing) | `pending` |
//!
//! So `einstimmig beschlossen`, `mehrheitlich beschlossen`, `geändert beschlossen` and
//! `Zustimmung` are `approved`, and so are `nicht öffentlich beschlossen` and `nicht einstimmig
//! beschlossen` (the negation is not next to the approval); `nicht beschlossen` and `keine
//! Zustimmung` are `rejected`;
//! `abgesetzt` and `vertagt` are `deferred`. The raw text is always kept beside the decision.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A council's decision on a measure.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CouncilDecision {
    /// The council agreed (beschlossen, zugestimmt).
    Approved,
    /// The council refused (abgelehnt, nicht beschlossen).
    Rejected,
    /// Put off (vertagt, zurückgestellt, von der Tagesordnung abgesetzt).
    Deferred,
    /// Not decided yet, or a result that reads as no decision.
    Pending,
}

impl CouncilDecision {
    /// The stored and transmitted name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

const REJECTING: [&str; 4] = ["abgelehnt", "ablehn", "verworfen", "verweigert"];
const DEFERRING: [&str; 6] =
    ["vertagt", "zurückgestellt", "zurückgezogen", "zurückverwiesen", "verschoben", "abgesetzt"];
const APPROVING: [&str; 9] = [
    "beschlossen",
    "beschluss gefasst",
    "zugestimmt",
    "zustimm",
    "angenommen",
    "genehmigt",
    "befürwortet",
    "bestätigt",
    "einvernehmen erteilt",
];
const NEGATING: [&str; 3] = ["nicht", "kein", "ohne"];

/// The decision a result text stands for (see the module's table); linear in the text.
pub fn decision_from_result(result: Option<&str>) -> CouncilDecision {
    let Some(text) = result else { return CouncilDecision::Pending };
    let folded = crate::domain::fold(text);
    let words: Vec<&str> = folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let starts = |word: &str, stems: &[&str]| stems.iter().any(|s| !s.contains(' ') && word.starts_with(s));
    if words.iter().any(|w| starts(w, &REJECTING)) {
        return CouncilDecision::Rejected;
    }
    if words.iter().any(|w| starts(w, &DEFERRING)) {
        return CouncilDecision::Deferred;
    }
    let joined = words.join(" ");
    let approving_phrase = APPROVING.iter().filter(|s| s.contains(' ')).find_map(|s| phrase_at(&joined, s));
    let approving_word = words.iter().position(|w| starts(w, &APPROVING));
    let approval_at = match (approving_word, approving_phrase) {
        (Some(w), Some(p)) => Some(w.min(p)),
        (w, p) => w.or(p),
    };
    match approval_at {
        Some(at) if at > 0 && starts(words[at - 1], &NEGATING) => CouncilDecision::Rejected,
        Some(_) => CouncilDecision::Approved,
        None => CouncilDecision::Pending,
    }
}

/// The word index at which the phrase starts in the space-joined words, if it occurs there.
fn phrase_at(joined: &str, phrase: &str) -> Option<usize> {
    let found = joined.find(phrase)?;
    let at_word_start = found == 0 || joined.as_bytes()[found - 1] == b' ';
    at_word_start.then(|| joined[..found].split(' ').filter(|w| !w.is_empty()).count())
}

#[cfg(test)]
mod tests {
    use super::CouncilDecision::*;
    use super::*;

    #[test]
    fn result_texts_read_as_the_documented_table() {
        let cases = [
            ("beschlossen", Approved),
            ("Einstimmig beschlossen", Approved),
            ("mehrheitlich beschlossen (12 ja, 3 nein)", Approved),
            ("geändert beschlossen", Approved),
            ("zugestimmt", Approved),
            ("Zustimmung", Approved),
            ("angenommen", Approved),
            ("Beschluss gefasst", Approved),
            ("abgelehnt", Rejected),
            ("Ablehnung", Rejected),
            ("nicht beschlossen", Rejected),
            ("Nicht zugestimmt", Rejected),
            ("keine Zustimmung", Rejected),
            ("vertagt", Deferred),
            ("zurückgestellt", Deferred),
            ("ZURÜCKGESTELLT", Deferred),
            ("von der Tagesordnung abgesetzt", Deferred),
            ("zur Kenntnis genommen", Pending),
            ("erledigt", Pending),
            ("", Pending),
            ("  ", Pending),
        ];
        for (text, expected) in cases {
            assert_eq!(decision_from_result(Some(text)), expected, "{text:?}");
        }
        assert_eq!(decision_from_result(None), Pending);
    }

    #[test]
    fn only_a_negation_right_before_the_approval_turns_it() {
        assert_eq!(decision_from_result(Some("nicht öffentlich beschlossen")), Approved);
        assert_eq!(decision_from_result(Some("nicht einstimmig beschlossen")), Approved);
        assert_eq!(decision_from_result(Some("kein Beschluss gefasst")), Rejected);
        assert_eq!(decision_from_result(Some("beschlossen, nicht öffentlich")), Approved);
        assert_eq!(decision_from_result(Some("beschlossen ohne Gegenstimmen")), Approved);
    }
}
