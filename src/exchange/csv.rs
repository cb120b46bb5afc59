//! Records as CSV, the layout a spreadsheet opens: one row per record, the API's field names as
//! headers, UTF-8 with a BOM (so that Excel reads umlauts right), `,` or `;` between cells.
//!
//! A cell holds: nothing for `null`; numbers, `true`/`false` and text as they are; a list of
//! numbers or texts space-separated (`partner_ids` `3 7 12`); anything else (a list of
//! `external_refs`, an embedded record) as its JSON text. Text that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`, tab or CR) gets a leading `'` (OWASP, "CSV
//! injection"); the import takes one such `'` off again ([`undefused`]).

use serde_json::Value;

/// The byte-order mark that tells spreadsheets the file is UTF-8.
pub const BOM: &str = "\u{feff}";

/// Writes pages of records as CSV, the header first.
pub struct Writer {
    columns: Vec<String>,
    delimiter: u8,
    started: bool,
}

impl Writer {
    /// A writer for records with these fields, in this order.
    pub fn new(columns: Vec<String>, semicolon: bool) -> Self {
        Self { columns, delimiter: if semicolon { b';' } else { b',' }, started: false }
    }

    /// The next chunk of the file: the BOM and header before the first page, then one row per
    /// record (a record that is not a JSON object is skipped).
    pub fn page(&mut self, records: &[Value]) -> Vec<u8> {
        let mut out = ::csv::WriterBuilder::new().delimiter(self.delimiter).from_writer(Vec::new());
        let mut bytes = Vec::new();
        if !self.started {
            self.started = true;
            bytes.extend_from_slice(BOM.as_bytes());
            let _ = out.write_record(&self.columns);
        }
        for record in records.iter().filter_map(Value::as_object) {
            let row: Vec<String> = self.columns.iter().map(|c| cell(record.get(c).unwrap_or(&Value::Null))).collect();
            let _ = out.write_record(&row);
        }
        bytes.extend(out.into_inner().unwrap_or_default());
        bytes
    }
}

/// One value as a cell.
pub fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => defused(s),
        Value::Null | Value::Bool(_) | Value::Number(_) => text(value),
        other => defused(&text(other)),
    }
}

/// One value as the text of a cell, as it is (a spreadsheet cell typed as text shows it so).
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|i| i.is_number() || i.is_string()) => {
            let words: Vec<String> =
                items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect();
            words.join(" ")
        }
        other => other.to_string(),
    }
}

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Text as a cell that no spreadsheet runs: a leading `'` before a formula's first character.
fn defused(text: &str) -> String {
    if text.starts_with(FORMULA_STARTS) { format!("'{text}") } else { text.to_owned() }
}

/// A cell as written before the export defused it: one leading `'` taken off before a
/// formula's first character (other cells are as they are).
pub fn undefused(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_become_rows_under_their_field_names() {
        let mut writer = Writer::new(
            vec!["id".into(), "name".into(), "partner_ids".into(), "external_refs".into(), "ags".into()],
            true,
        );
        let first = writer.page(&[json!({"id": 1, "name": "Königsbrück; Stadt", "partner_ids": [3, 7], "ags": null,
            "external_refs": [{"source": "oparl", "id": "x"}]})]);
        let text = String::from_utf8(first).unwrap();
        let expected = "\u{feff}id;name;partner_ids;external_refs;ags\n1;\"Königsbrück; Stadt\";3 7;\"[{\"\"id\"\":\"\"x\"\",\"\"source\"\":\"\"oparl\"\"}]\";\n";
        assert_eq!(text, expected);
        let second = String::from_utf8(writer.page(&[json!({"id": 2, "name": "Kamenz", "partner_ids": []})])).unwrap();
        assert_eq!(second, "2;Kamenz;;;\n", "no BOM or header again; absent and empty cells are empty");
    }

    #[test]
    fn formulas_are_defused_on_export_and_restored_on_import() {
        for text in ["=HYPERLINK(\"http://x\")", "+49 35795 123-0", "-5", "@SUM(A1)", "\tx", "\rx"] {
            let exported = cell(&json!(text));
            assert_eq!(exported, format!("'{text}"));
            assert_eq!(undefused(&exported), text);
        }
        assert_eq!(cell(&json!(-5)), "-5", "numbers are numbers, not formulas");
        assert_eq!(cell(&json!("Kamenz")), "Kamenz");
        assert_eq!(undefused("'Kamenz"), "'Kamenz", "only a quote before a formula is taken off");
    }
}
