//! Domain rules that the validator crate cannot express, each with its unit tests.

pub mod council;
pub mod measures;

/// The language of labels, spreadsheet titles and of what a file says in words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// German (the default).
    #[default]
    De,
    /// English.
    En,
}

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;
use validator::ValidationError;

fn error(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(Cow::Borrowed(message))
}

/// Amtlicher Gemeindeschlüssel: exactly 8 ASCII digits, leading zeros significant (`01001000`).
pub fn validate_ags(ags: &str) -> Result<(), ValidationError> {
    if ags.len() == 8 && ags.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(error("ags", "must be exactly 8 digits (Amtlicher Gemeindeschlüssel), e.g. 14625240"))
    }
}

/// An end date must not lie before its start; blames `end_field`.
pub fn validate_date_order(
    start: Option<chrono::NaiveDate>,
    end: Option<chrono::NaiveDate>,
    end_field: &'static str,
) -> Result<(), ValidationError> {
    match (start, end) {
        (Some(start), Some(end)) if end < start => {
            let mut err = error("date_order", "must not lie before the start date");
            err.add_param(Cow::Borrowed("field"), &end_field);
            Err(err)
        }
        _ => Ok(()),
    }
}

/// A date or timestamp in the years 0001–9999, the only ones RFC 3339 can write and both backends
/// store and compare alike (SQLite compares stored timestamps as text). (validator hands an
/// optional field's value in as `&&T`.)
pub fn validate_year<D: chrono::Datelike>(date: &&D) -> Result<(), ValidationError> {
    if (1..=9999).contains(&date.year()) {
        Ok(())
    } else {
        Err(error("year_range", "must lie in the years 0001 to 9999"))
    }
}

/// A stable key: lower-case letters and digits in words joined by single `-`, 1–64 characters.
pub fn validate_key(key: &str) -> Result<(), ValidationError> {
    let ok = (1..=64).contains(&key.len())
        && key.split('-').all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(error("key", "must be lower-case words of a-z and 0-9 joined by -, e.g. fire-brigade"))
    }
}

/// The 16 German states as ISO 3166-2 subdivision codes.
pub const GERMAN_STATES: [&str; 16] = [
    "DE-BB", "DE-BE", "DE-BW", "DE-BY", "DE-HB", "DE-HE", "DE-HH", "DE-MV", "DE-NI", "DE-NW", "DE-RP", "DE-SH",
    "DE-SL", "DE-SN", "DE-ST", "DE-TH",
];

/// ISO 3166-2 subdivision code: `CC-XXX` (country, hyphen, 1–3 letters or digits), upper case.
/// German codes must name one of the 16 states; other countries are accepted by form, because
/// cross-border cooperations (Euregio) include Dutch, Austrian or Polish partners.
pub fn validate_state(code: &str) -> Result<(), ValidationError> {
    let well_formed = matches!(code.split_once('-'), Some((country, sub))
        if country.len() == 2
            && country.bytes().all(|b| b.is_ascii_uppercase())
            && (1..=3).contains(&sub.len())
            && sub.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    if !well_formed {
        return Err(error("state", "must be an ISO 3166-2 code such as DE-NI"));
    }
    if code.starts_with("DE-") && !GERMAN_STATES.contains(&code) {
        return Err(error("state", "is not one of the 16 German states (DE-BB … DE-TH)"));
    }
    Ok(())
}

/// An absolute http or https URL with a host.
pub fn validate_web_url(value: &str) -> Result<(), ValidationError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(error("url", "must be an absolute http or https URL")),
    }
}

/// A telephone number as people write it: digits, spaces and `+ - / ( ) .`, with 3 to 20 digits.
pub fn validate_phone(value: &str) -> Result<(), ValidationError> {
    let allowed = value.chars().all(|c| c.is_ascii_digit() || " +-/().".contains(c));
    let digits = value.chars().filter(char::is_ascii_digit).count();
    let plus_ok = value.rfind('+').is_none_or(|i| i == 0);
    if allowed && plus_ok && (3..=20).contains(&digits) {
        Ok(())
    } else {
        Err(error("phone", "must be a telephone number such as +49 35795 123-0"))
    }
}

/// A telephone number in one comparable form: `+`, country code, digits. National numbers
/// (leading `0`) are taken as German (+49); `00` is read as `+`.
pub fn normalize_phone(value: &str) -> String {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if value.trim_start().starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("+49{rest}")
    } else {
        digits
    }
}

/// An AGS as council systems send it, in its 8-digit form, and whether a leading zero had to be
/// put back: digits only (blanks dropped); 7 digits get their leading zero back (`5958044` →
/// `05958044`, the state keys 01–09 lose it when stored as numbers); a 12-digit regional key
/// (Regionalschlüssel) gives its AGS (first five and last three digits). Anything else: `None`.
pub fn normalize_ags(raw: &str) -> Option<(String, bool)> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match digits.len() {
        8 => Some((digits, false)),
        7 => Some((format!("0{digits}"), true)),
        12 => Some((format!("{}{}", &digits[..5], &digits[9..]), false)),
        _ => None,
    }
    .filter(|(ags, _)| state_of_ags(ags).is_some())
}

/// The state (ISO 3166-2) an AGS lies in, by its first two digits.
pub fn state_of_ags(ags: &str) -> Option<&'static str> {
    const BY_KEY: [&str; 16] = [
        "DE-SH", "DE-HH", "DE-NI", "DE-HB", "DE-NW", "DE-HE", "DE-RP", "DE-BW", "DE-BY", "DE-SL", "DE-BE", "DE-BB",
        "DE-MV", "DE-SN", "DE-ST", "DE-TH",
    ];
    let key: usize = ags.get(..2)?.parse().ok()?;
    BY_KEY.get(key.checked_sub(1)?).copied()
}

/// The search form of a text: Unicode-normalised (NFKC), lower-cased, `ß` as `ss`.
///
/// Stored beside names so that `q` finds "Königsbrück" from `KÖNIGSBRÜCK` or `königs` on both
/// backends alike (SQLite's LIKE folds ASCII only, PostgreSQL's depends on the database locale).
pub fn fold(text: &str) -> String {
    text.nfkc().flat_map(char::to_lowercase).collect::<String>().replace('ß', "ss")
}

/// A LIKE pattern matching `needle` anywhere, with `\` as escape character for `%`, `_` and `\`.
pub fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in fold(needle).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Trims a required text field.
pub fn trim(value: &mut String) {
    let trimmed = value.trim();
    if trimmed.len() != value.len() {
        *value = trimmed.to_owned();
    }
}

/// Trims an optional text field; a blank value becomes absent.
pub fn trim_opt(value: &mut Option<String>) {
    if let Some(v) = value {
        trim(v);
        if v.is_empty() {
            *value = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn council_systems_agss_are_brought_to_eight_digits_and_name_their_state() {
        assert_eq!(normalize_ags("5958044"), Some(("05958044".into(), true)));
        assert_eq!(normalize_ags("05958044"), Some(("05958044".into(), false)));
        assert_eq!(normalize_ags(" 14625240 "), Some(("14625240".into(), false)));
        assert_eq!(normalize_ags("146250000240"), Some(("14625240".into(), false)));
        for bad in ["", "N/A", "123", "1462524x", "99999999", "00123456"] {
            assert_eq!(normalize_ags(bad), None, "{bad:?}");
        }
        assert_eq!(state_of_ags("05958044"), Some("DE-NW"));
        assert_eq!(state_of_ags("14625240"), Some("DE-SN"));
        assert_eq!(state_of_ags("16000000"), Some("DE-TH"));
        assert_eq!(state_of_ags("17000000"), None);
    }

    #[test]
    fn ags_needs_exactly_eight_digits_and_keeps_leading_zeros() {
        assert!(validate_ags("01001000").is_ok());
        assert!(validate_ags("14625240").is_ok());
        for bad in ["1462524", "146252400", "1462524a", "", "１４６２５２４０"] {
            assert!(validate_ags(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn keys_are_lower_case_words_joined_by_hyphens() {
        for ok in ["bauhof", "fire-brigade", "it-egovernment", "land-climate2"] {
            assert!(validate_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Bauhof", "fire_brigade", "-x", "x-", "a--b", "ä"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn state_must_be_iso_3166_2_and_german_codes_must_exist() {
        for ok in ["DE-NI", "DE-SN", "DE-NW", "NL-LI", "AT-9", "PL-02"] {
            assert!(validate_state(ok).is_ok(), "{ok} rejected");
        }
        for bad in ["DE-XX", "de-ni", "DE", "Niedersachsen", "DE-NIED", "D-NI", "DE_NI"] {
            assert!(validate_state(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn website_must_be_http_or_https() {
        assert!(validate_web_url("https://www.koenigsbrueck.de").is_ok());
        assert!(validate_web_url("http://example.org/path?x=1").is_ok());
        for bad in ["ftp://example.org", "www.example.org", "javascript:alert(1)", "https://", "mailto:a@b.de"] {
            assert!(validate_web_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn phone_accepts_german_notations_only() {
        for ok in ["+49 35795 123-0", "035795/1230", "(0351) 12 34 56", "110"] {
            assert!(validate_phone(ok).is_ok(), "{ok} rejected");
        }
        for bad in ["12", "call me", "+49 +49 123", "0351 12345 ext. 4", "1234567890123456789012"] {
            assert!(validate_phone(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn phone_numbers_normalise_to_international_form() {
        assert_eq!(normalize_phone("+49 35795 123-0"), "+49357951230");
        assert_eq!(normalize_phone("035795/1230"), "+49357951230");
        assert_eq!(normalize_phone("0049 (35795) 1230"), "+49357951230");
        assert_eq!(normalize_phone("+31 43 123 45 67"), "+31431234567");
        assert_eq!(normalize_phone("110"), "110");
    }

    #[test]
    fn folding_matches_umlauts_in_any_case_and_normal_form() {
        assert_eq!(fold("KÖNIGSBRÜCK"), fold("Königsbrück"));
        assert!(fold("Königsbrück").contains(&fold("königs")));
        // "ö" written as o + combining diaeresis (as macOS clients send it) folds to the same.
        assert_eq!(fold("Ko\u{0308}nigsbru\u{0308}ck"), fold("Königsbrück"));
        assert_eq!(fold("Großenhain"), fold("GROSSENHAIN"));
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(contains_pattern("50%_A\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn blank_optional_text_becomes_absent() {
        let mut v = Some("   ".to_owned());
        trim_opt(&mut v);
        assert_eq!(v, None);
        let mut w = Some("  Bautzen ".to_owned());
        trim_opt(&mut w);
        assert_eq!(w.as_deref(), Some("Bautzen"));
    }
}
