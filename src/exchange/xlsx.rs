//! Records as an Excel workbook (`.xlsx`): one sheet, a header row of column titles in German
//! or English, one row per record, cells typed by the field (numbers as numbers, `true`/`false`
//! as booleans, dates and times as dates; times in UTC). Lists and other values are text as in
//! the CSV layout. Written in constant memory: rows go to a temporary file as they come, and
//! the workbook is zipped from it at the end. Text cells are never formulas in `.xlsx`, so
//! nothing needs defusing; text beyond Excel's 32,767 characters per cell is cut, and the cut
//! is marked in the cell.

use std::io::Write;

use chrono::{Datelike, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError};
use serde_json::Value;

use super::csv::text;
use super::titles::{Lang, cut_marker, title};
use crate::error::AppError;

/// The most characters (UTF-16 code units, as Excel counts) one cell holds.
pub const MAX_CELL: usize = 32_767;

/// How a column's cells are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellKind {
    Number,
    Boolean,
    Date,
    DateTime,
    Text,
}

/// A workbook being written, page after page.
pub struct Sheet {
    workbook: Workbook,
    sheet: Worksheet,
    columns: Vec<(String, CellKind)>,
    lang: Lang,
    date: Format,
    datetime: Format,
    row: u32,
}

fn failed(err: XlsxError) -> AppError {
    AppError::Internal(format!("writing the spreadsheet failed: {err}"))
}

impl Sheet {
    /// A sheet named `name` for records with these fields (and kinds), in this order, its
    /// header row written.
    pub fn new(name: &str, columns: Vec<(String, CellKind)>, lang: Lang) -> Result<Self, AppError> {
        let mut workbook = Workbook::new();
        let mut sheet = workbook.new_worksheet_with_constant_memory().map_err(failed)?;
        sheet.set_name(name).map_err(failed)?;
        let (date, datetime) = match lang {
            Lang::De => ("dd.mm.yyyy", "dd.mm.yyyy hh:mm:ss"),
            Lang::En => ("yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"),
        };
        let header = Format::new().set_bold().set_align(FormatAlign::Top).set_text_wrap();
        for (col, (field, _)) in columns.iter().enumerate() {
            let col = col as u16;
            sheet.write_string_with_format(0, col, title(field, lang).unwrap_or(field), &header).map_err(failed)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(failed)?;
        let (date, datetime) = (Format::new().set_num_format(date), Format::new().set_num_format(datetime));
        Ok(Self { workbook, sheet, columns, lang, date, datetime, row: 1 })
    }

    /// Writes one row per record (a record that is not a JSON object is skipped).
    pub fn page(&mut self, records: &[Value]) -> Result<(), AppError> {
        for record in records.iter().filter_map(Value::as_object) {
            for (col, (field, kind)) in self.columns.iter().enumerate() {
                let (row, col, sheet) = (self.row, col as u16, &mut self.sheet);
                let written = match (kind, record.get(field).unwrap_or(&Value::Null)) {
                    (_, Value::Null) => continue,
                    (CellKind::Number, Value::Number(n)) if let Some(n) = n.as_f64() => sheet.write_number(row, col, n),
                    (CellKind::Boolean, Value::Bool(b)) => sheet.write_boolean(row, col, *b),
                    (CellKind::Date, Value::String(s)) if let Some(date) = date(s) => {
                        sheet.write_datetime_with_format(row, col, date, &self.date)
                    }
                    (CellKind::DateTime, Value::String(s)) if let Some(at) = date_time(s) => {
                        sheet.write_datetime_with_format(row, col, at, &self.datetime)
                    }
                    (_, value) => sheet.write_string(row, col, fitted(text(value), self.lang)),
                };
                written.map_err(failed)?;
            }
            self.row += 1;
        }
        Ok(())
    }

    /// Zips the workbook into `out`.
    pub fn finish(mut self, out: impl Write + Send) -> Result<(), AppError> {
        self.workbook.push_worksheet(self.sheet);
        self.workbook.save_to_writer(out).map_err(failed)
    }
}

/// `2027-03-01` as a date.
fn date(text: &str) -> Option<ExcelDateTime> {
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    ExcelDateTime::from_ymd(date.year().try_into().ok()?, date.month() as u8, date.day() as u8).ok()
}

/// An RFC 3339 time as a date and time in UTC.
fn date_time(text: &str) -> Option<ExcelDateTime> {
    let at = chrono::DateTime::parse_from_rfc3339(text).ok()?.naive_utc();
    let seconds = f64::from(at.second()) + f64::from(at.nanosecond() % 1_000_000_000) / 1e9;
    ExcelDateTime::from_ymd(at.year().try_into().ok()?, at.month() as u8, at.day() as u8)
        .ok()?
        .and_hms(at.hour() as u16, at.minute() as u8, seconds)
        .ok()
}

/// `text` as it fits in a cell: cut at [`MAX_CELL`] with the marker saying how much was left off.
fn fitted(text: String, lang: Lang) -> String {
    let length: usize = text.encode_utf16().count();
    if length <= MAX_CELL {
        return text;
    }
    let marker = cut_marker(length, lang);
    // The marker states what was left off; reserve room for its longest form.
    let room = MAX_CELL - marker.encode_utf16().count() - 8;
    let (mut kept, mut units) = (String::new(), 0);
    for c in text.chars() {
        if units + c.len_utf16() > room {
            break;
        }
        units += c.len_utf16();
        kept.push(c);
    }
    kept + &cut_marker(length - units, lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_beyond_a_cell_is_cut_with_a_marker_and_fits() {
        let long = "ä".repeat(40_000);
        let cut = fitted(long, Lang::De);
        assert!(cut.encode_utf16().count() <= MAX_CELL);
        let kept = cut.chars().take_while(|c| *c == 'ä').count();
        assert!(cut.ends_with(&format!("[…gekürzt: {} Zeichen fehlen]", 40_000 - kept)), "{}", &cut[cut.len() - 60..]);
        assert_eq!(fitted("kurz".into(), Lang::En), "kurz");
        let emoji = "🚒".repeat(20_000); // two UTF-16 units each
        assert!(fitted(emoji, Lang::En).encode_utf16().count() <= MAX_CELL);
    }

    #[test]
    fn dates_and_times_are_read_as_the_api_writes_them() {
        assert!(date("2027-03-01").is_some());
        assert!(date("01.03.2027").is_none());
        assert!(date_time("2026-12-03T06:59:17.123456Z").is_some());
        assert!(date_time("2026-12-03T07:59:17+01:00").is_some());
        assert!(date_time("gestern").is_none());
    }
}
