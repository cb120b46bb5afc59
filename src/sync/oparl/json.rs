//! Reading what council systems send as JSON, as leniently as the wild asks: a byte order mark,
//! control characters left unescaped in strings, and text that is not UTF-8 are repaired (and
//! counted as quirks) instead of failing a whole list.

use serde_json::Value;

use crate::models::sync_sources::RunCounts;

/// Parses an answer; what had to be repaired is counted in `counts`.
pub fn parse(bytes: &[u8], counts: &mut RunCounts) -> Result<Value, String> {
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => {
            counts.quirk("byte_order_mark");
            rest
        }
        None => bytes,
    };
    let first = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => {
            counts.quirk("invalid_utf8");
            String::from_utf8_lossy(bytes)
        }
    };
    let repaired = escape_control_characters(&text);
    if let std::borrow::Cow::Owned(_) = &repaired {
        counts.quirk("unescaped_control_characters");
    }
    serde_json::from_str(&repaired).map_err(|_| format!("the answer is not JSON: {first}"))
}

/// Escapes control characters (U+0000–U+001F) that stand unescaped inside JSON strings, which
/// JSON forbids and some servers send (a tab or line break copied from a form field).
fn escape_control_characters(text: &str) -> std::borrow::Cow<'_, str> {
    let needs = {
        let mut in_string = false;
        let mut escaped = false;
        text.chars().any(|c| {
            let hit = in_string && !escaped && (c as u32) < 0x20;
            if escaped {
                escaped = false;
            } else if in_string && c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = !in_string;
            }
            hit
        })
    };
    if !needs {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
            out.push(c);
            continue;
        }
        match c {
            '\\' if in_string => {
                escaped = true;
                out.push(c);
            }
            '"' => {
                in_string = !in_string;
                out.push(c);
            }
            c if in_string && (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_strings_are_escaped_and_counted() {
        let mut counts = RunCounts::default();
        let value = parse(b"{\"name\": \"Haushalt\t2027\nTeil 1\", \"n\": 1}", &mut counts).unwrap();
        assert_eq!(value["name"], "Haushalt\t2027\nTeil 1");
        assert_eq!(counts.quirks.get("unescaped_control_characters"), Some(&1));
        let mut clean = RunCounts::default();
        assert_eq!(parse(b"{\"a\": \"b\\\\\"}\n", &mut clean).unwrap()["a"], "b\\");
        assert!(clean.quirks.is_empty());
    }

    #[test]
    fn a_byte_order_mark_and_latin1_text_are_read_and_counted() {
        let mut counts = RunCounts::default();
        assert_eq!(parse(b"\xEF\xBB\xBF[]", &mut counts).unwrap(), serde_json::json!([]));
        let value = parse(b"{\"name\": \"Stra\xDFe\"}", &mut counts).unwrap();
        assert_eq!(value["name"], "Stra\u{fffd}e");
        assert_eq!(counts.quirks.get("byte_order_mark"), Some(&1));
        assert_eq!(counts.quirks.get("invalid_utf8"), Some(&1));
    }

    #[test]
    fn what_is_not_json_stays_an_error() {
        let mut counts = RunCounts::default();
        assert!(parse(b"<html>Wartungsarbeiten</html>", &mut counts).is_err());
        assert!(parse(b"{\"a\": ", &mut counts).is_err());
    }
}
