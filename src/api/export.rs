//! Every list as CSV: `Accept: text/csv` or `?format=csv` answers the whole list, every page
//! after the other in one streamed answer, with the list's own filters and order, in the layout
//! of `exchange::csv` (`?delimiter=semicolon` for German Excel). The same as an Excel workbook
//! with `?format=xlsx` or its `Accept` ([`XLSX`]), titles in `?lang=de|en`. An unknown `Accept`
//! gets JSON.

use std::future::Future;

use futures_util::StreamExt;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::error::AppError;
use crate::exchange::csv::Writer;
use crate::exchange::titles::Lang;
use crate::exchange::xlsx::{CellKind, Sheet};
use crate::progress::Progress;

/// The format of a list's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    /// One page as JSON (the default).
    Json,
    /// Every page as one CSV file (UTF-8 with BOM), the same as `Accept: text/csv`.
    Csv,
    /// Every page as one Excel workbook, the same as `Accept:` [`XLSX`].
    Xlsx,
}

/// Records read per page of an export: more than a list's page (fewer queries per record), few
/// enough that a page in memory stays well under a megabyte or two.
pub const PAGE: i64 = 1000;

/// The media type of an Excel workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The cell separator of a CSV answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CsvDelimiter {
    /// `,` (the default).
    Comma,
    /// `;`, as German Excel writes and expects.
    Semicolon,
}

/// How a list answers: one page of JSON for the request, or a file of every page.
#[derive(Clone)]
pub enum Answer<'a> {
    /// One page, with the request's links.
    Page(&'a HttpRequest),
    /// Every page as one file.
    File(File),
}

/// A file of a whole list.
#[derive(Clone)]
pub struct File {
    pub kind: FileKind,
    /// Counts the records written (the CLI shows it; the API shows none).
    pub progress: Progress,
}

/// What kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// CSV, its cells separated by `;` (German Excel) instead of `,` when `semicolon`.
    Csv { semicolon: bool },
    /// An Excel workbook with column titles in `lang`.
    Xlsx { lang: Lang },
}

impl<'a> Answer<'a> {
    /// What `req` asks for, with the list's `format`, `delimiter` and `lang` parameters:
    /// `?format=` first, else the first of CSV or `.xlsx` that `Accept` names, else JSON.
    pub fn of(
        req: &'a HttpRequest,
        format: Option<ListFormat>,
        delimiter: Option<CsvDelimiter>,
        lang: Option<Lang>,
    ) -> Self {
        let format = format.unwrap_or_else(|| {
            let accepted = req.headers().get_all(header::ACCEPT).filter_map(|v| v.to_str().ok());
            let ranges =
                accepted.flat_map(|accept| accept.split(',')).map(|r| r.split(';').next().unwrap_or_default().trim());
            ranges
                .filter_map(|range| match range {
                    r if r.eq_ignore_ascii_case("text/csv") => Some(ListFormat::Csv),
                    r if r.eq_ignore_ascii_case(XLSX) => Some(ListFormat::Xlsx),
                    _ => None,
                })
                .next()
                .unwrap_or(ListFormat::Json)
        });
        let kind = match format {
            ListFormat::Json => return Self::Page(req),
            ListFormat::Csv => FileKind::Csv { semicolon: delimiter == Some(CsvDelimiter::Semicolon) },
            ListFormat::Xlsx => FileKind::Xlsx { lang: lang.unwrap_or_default() },
        };
        Self::File(File { kind, progress: Progress::none() })
    }
}

/// Streams every page of a list as CSV, starting at `cursor`: `page` reads the records after a
/// cursor (`None`: from the start) with the next cursor; one page of up to [`PAGE`] records is read,
/// written and sent at a time, so memory stays flat however long the list is. The first page is
/// read before the answer starts, so that what refuses the list (no such cooperation, a bad
/// cursor) is a problem with its status; a failure after the first byte ends the answer early
/// (the status is sent by then) and is logged.
pub async fn stream<T, F, Fut>(
    file: File,
    name: &str,
    cursor: Option<String>,
    page: F,
) -> Result<HttpResponse, AppError>
where
    T: ToSchema + Serialize + 'static,
    F: Fn(Option<String>) -> Fut + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), AppError>> + 'static,
{
    let semicolon = match file.kind {
        FileKind::Csv { semicolon } => semicolon,
        FileKind::Xlsx { lang } => return workbook(lang, file.progress, name, cursor, page).await,
    };
    let mut writer = Writer::new(columns::<T>(), semicolon);
    let (records, next) = page(cursor).await?;
    let first = web::Bytes::from(writer.page(&values(&records)));
    let progress = file.progress;
    progress.add(records.len() as u64);
    let state = (next, writer, page, progress);
    let rest = futures_util::stream::unfold(state, |(next, mut writer, page, progress)| async move {
        let cursor = next?;
        match page(Some(cursor)).await {
            Ok((records, next)) => {
                let chunk = web::Bytes::from(writer.page(&values(&records)));
                progress.add(records.len() as u64);
                Some((Ok::<_, AppError>(chunk), (next, writer, page, progress)))
            }
            Err(err) => {
                log::error!("a CSV export stopped early: {err}");
                Some((Err(err), (None, writer, page, progress)))
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, AppError>(first) }).chain(rest);
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")))
        .streaming(body))
}

fn values<T: Serialize>(records: &[T]) -> Vec<Value> {
    records.iter().filter_map(|r| serde_json::to_value(r).ok()).collect()
}

/// Every page of a list as one Excel workbook ([`crate::exchange::xlsx`]): the pages are read
/// and written one after the other into a sheet kept in a temporary file, which is zipped into
/// a second one (on a blocking thread) and sent from there in chunks. Memory stays flat; the
/// answer starts once the whole workbook is written.
async fn workbook<T, F, Fut>(
    lang: Lang,
    progress: Progress,
    name: &str,
    mut cursor: Option<String>,
    page: F,
) -> Result<HttpResponse, AppError>
where
    T: ToSchema + Serialize + 'static,
    F: Fn(Option<String>) -> Fut + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), AppError>> + 'static,
{
    let mut sheet = Sheet::new(name, kinds::<T>(), lang)?;
    loop {
        let (records, next) = page(cursor).await?;
        sheet.page(&values(&records))?;
        progress.add(records.len() as u64);
        // On SQLite a page is read right here on the worker: let its other requests run between
        // pages instead of after the whole workbook.
        tokio::task::yield_now().await;
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let zipped = web::block(move || -> Result<std::fs::File, AppError> {
        let mut out = tempfile::tempfile().map_err(|e| AppError::Internal(format!("no temporary file: {e}")))?;
        sheet.finish(&mut out)?;
        std::io::Seek::rewind(&mut out).map_err(|e| AppError::Internal(format!("temporary file: {e}")))?;
        Ok(out)
    })
    .await
    .map_err(|e| AppError::Internal(format!("writing the spreadsheet failed: {e}")))??;
    let chunks = futures_util::stream::unfold(Some(zipped), |file| async move {
        let mut file = file?;
        let mut chunk = vec![0; 256 * 1024];
        match std::io::Read::read(&mut file, &mut chunk) {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok::<_, std::io::Error>(web::Bytes::from(chunk)), Some(file)))
            }
            Err(err) => Some((Err(err), None)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type(XLSX)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.xlsx\"")))
        .streaming(chunks))
}

/// The fields of a record type with how a spreadsheet types their cells, from the document's
/// schema: integers and numbers, booleans, dates, date-times, and text for all else.
fn kinds<T: ToSchema>() -> Vec<(String, CellKind)> {
    let schema = serde_json::to_value(T::schema()).unwrap_or_default();
    let properties = schema["properties"].as_object().cloned().unwrap_or_default();
    columns::<T>()
        .into_iter()
        .map(|field| {
            let property = &properties[&field];
            let types: Vec<&str> = match &property["type"] {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let kind = match (types.iter().find(|t| **t != "null"), property["format"].as_str()) {
                (Some(&"integer" | &"number"), _) => CellKind::Number,
                (Some(&"boolean"), _) => CellKind::Boolean,
                (Some(&"string"), Some("date")) => CellKind::Date,
                (Some(&"string"), Some("date-time")) => CellKind::DateTime,
                _ => CellKind::Text,
            };
            (field, kind)
        })
        .collect()
}

/// The fields of a record type as the document lists them, in order: the CSV's columns.
fn columns<T: ToSchema>() -> Vec<String> {
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object.properties.keys().cloned().collect(),
        _ => Vec::new(),
    }
}
