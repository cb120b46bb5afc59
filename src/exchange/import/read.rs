//! Reading an import file into rows of named values: CSV as spreadsheets save it (UTF-8 with or
//! without a BOM, or the Windows-1252 of "CSV (Trennzeichen-getrennt)" in a German Excel; `,`,
//! `;` or tab between cells, found from the header line), or NDJSON (one JSON object per line).
//! One pass over the bytes; nothing here knows the resources.

use serde_json::{Map, Value};

use crate::error::{AppError, FieldError};

/// The two layouts an import accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/csv`: a header of field names, one row per record; cells are text.
    Csv,
    /// `application/x-ndjson`: one JSON object per line, typed as in the API.
    Ndjson,
}

/// One record of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Where it is: the spreadsheet row (the header is row 1) or the NDJSON line.
    pub number: usize,
    /// Its values; a field that is absent is absent.
    pub values: Values,
}

/// A row's values, kept compact until the row is applied (a file's rows are all read first).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// A CSV row's cells by the index of their column in the header (an empty cell is `""`).
    Cells(Vec<(usize, String)>),
    /// An NDJSON line's members, as sent.
    Json(Map<String, Value>),
}

impl Row {
    /// The values by field name: cells as JSON strings, members as they are.
    /// (Copies: a file is read twice, once to check it and once to write it.)
    pub fn named(&self, columns: &[String]) -> Vec<(String, Value)> {
        match &self.values {
            Values::Cells(cells) => cells
                .iter()
                .map(|(i, cell)| {
                    let cell = crate::exchange::csv::undefused(cell).to_owned();
                    (columns[*i].clone(), Value::String(cell))
                })
                .collect(),
            Values::Json(members) => members.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

/// The rows of a file, and whether their values are CSV cells (text to convert) or JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub format: Format,
    /// The CSV header's field names (empty for NDJSON, whose lines name their own).
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

/// Reads a whole file; an unreadable one is one 422 naming every row that cannot be read.
pub fn read(bytes: &[u8], format: Format) -> Result<Table, AppError> {
    let text = decode_text(bytes);
    match format {
        Format::Csv => read_csv(&text),
        Format::Ndjson => read_ndjson(&text),
    }
}

/// The file as text: UTF-8 without its BOM, else Windows-1252 (which maps every byte).
fn decode_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0,
    }
}

/// The cell separator: whichever of `;`, `,` and tab the header line holds most of (field
/// names contain none of them), `,` when it holds none.
fn delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    let count = |c: char| header.chars().filter(|&h| h == c).count();
    [(b';', count(';')), (b'\t', count('\t')), (b',', count(','))]
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .max_by_key(|&(_, n)| n)
        .map_or(b',', |(d, _)| d)
}

fn invalid(errors: Vec<FieldError>) -> AppError {
    let detail = match errors.as_slice() {
        [one] => format!("row {}: `{}` {}; nothing was imported", one.row.unwrap_or(1), one.field, one.message),
        many => format!("{} errors; nothing was imported", many.len()),
    };
    AppError::ImportInvalid { detail, errors }
}

fn read_csv(text: &str) -> Result<Table, AppError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter(text))
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(err)) => {
            return Err(invalid(vec![FieldError::new("header", "unreadable", err.to_string()).in_row(1)]));
        }
        None => return Err(invalid(vec![FieldError::new("header", "required", "the file is empty").in_row(1)])),
    };
    let columns: Vec<String> = header.iter().map(|name| name.trim().to_owned()).collect();
    let mut errors = header_errors(&columns);
    let mut rows = Vec::new();
    for (index, record) in records.enumerate() {
        let number = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                errors.push(FieldError::new("row", "unreadable", err.to_string()).in_row(number));
                continue;
            }
        };
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue; // a blank line, as spreadsheets leave them at the end
        }
        let mut cells = Vec::with_capacity(record.len());
        for (position, cell) in record.iter().enumerate() {
            match columns.get(position).map(String::as_str) {
                Some(name) if !name.is_empty() => cells.push((position, cell.to_owned())),
                // Spreadsheets add empty cells (and unnamed columns) where cells were once formatted.
                _ if cell.trim().is_empty() => {}
                Some(_) => errors.push(
                    FieldError::new(
                        format!("column {}", position + 1),
                        "unnamed_column",
                        "holds a value but has no name in the header",
                    )
                    .in_row(number),
                ),
                None => errors.push(
                    FieldError::new(
                        format!("column {}", position + 1),
                        "extra_cell",
                        "holds a value beyond the header's columns",
                    )
                    .in_row(number),
                ),
            }
        }
        rows.push(Row { number, values: Values::Cells(cells) });
    }
    if errors.is_empty() { Ok(Table { format: Format::Csv, columns, rows }) } else { Err(invalid(errors)) }
}

/// A header must name each column once.
fn header_errors(columns: &[String]) -> Vec<FieldError> {
    let mut seen = std::collections::HashSet::new();
    columns
        .iter()
        .filter(|name| !name.is_empty() && !seen.insert(name.as_str()))
        .map(|name| FieldError::new(name.as_str(), "duplicate_column", "is named twice in the header").in_row(1))
        .collect()
}

fn read_ndjson(text: &str) -> Result<Table, AppError> {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(members)) => rows.push(Row { number, values: Values::Json(members) }),
            Ok(_) => errors.push(FieldError::new("row", "invalid_type", "must be a JSON object").in_row(number)),
            Err(err) => errors.push(FieldError::new("row", "malformed_json", err.to_string()).in_row(number)),
        }
    }
    if errors.is_empty() {
        Ok(Table { format: Format::Ndjson, columns: Vec::new(), rows })
    } else {
        Err(invalid(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(table: &Table, row: usize) -> Vec<(String, String)> {
        let mut named = table.rows[row].clone().named(&table.columns);
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or("?").to_owned())).collect()
    }

    #[test]
    fn german_excel_files_are_read_semicolon_bom_and_windows_1252() {
        let mut bytes = b"name;ags\r\nK\xf6nigsbr\xfcck;4625240\r\n;\r\n".to_vec();
        let table = read(&bytes, Format::Csv).unwrap();
        assert_eq!(table.columns, ["name", "ags"]);
        assert_eq!(cells(&table, 0), [("ags".into(), "4625240".into()), ("name".into(), "Königsbrück".into())]);
        assert_eq!(table.rows.len(), 1, "the blank row is skipped");
        bytes = "\u{feff}name,ags\n\"Kamenz, Stadt\",14625240\n".as_bytes().to_vec();
        let table = read(&bytes, Format::Csv).unwrap();
        assert_eq!(table.columns, ["name", "ags"], "the BOM is not part of the first name");
        assert_eq!(cells(&table, 0), [("ags".into(), "14625240".into()), ("name".into(), "Kamenz, Stadt".into())]);
        assert_eq!(table.rows[0].number, 2, "spreadsheet numbering: the header is row 1");
    }

    #[test]
    fn stray_cells_and_duplicate_columns_are_named_by_row() {
        let err = read(b"name,name,\nA,B,\nC,D,x,y\n", Format::Csv).unwrap_err();
        let AppError::ImportInvalid { errors, .. } = err else { panic!("{err:?}") };
        let found: Vec<_> = errors.iter().map(|e| (e.row, e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(
            found,
            [
                (Some(1), "name", "duplicate_column"),
                (Some(3), "column 3", "unnamed_column"),
                (Some(3), "column 4", "extra_cell")
            ]
        );
    }

    #[test]
    fn ndjson_lines_must_be_objects() {
        let table = read(b"{\"name\": \"A\"}\n\n{\"name\": null}\n", Format::Ndjson).unwrap();
        assert_eq!(table.rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 3]);
        let err = read(b"[1]\n{\"name\"\n", Format::Ndjson).unwrap_err();
        let AppError::ImportInvalid { errors, .. } = err else { panic!("{err:?}") };
        let found: Vec<_> = errors.iter().map(|e| (e.row, e.code.as_str())).collect();
        assert_eq!(found, [(Some(1), "invalid_type"), (Some(2), "malformed_json")]);
    }
}
