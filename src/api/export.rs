//! Every list as CSV: `Accept: text/csv` or `?format=csv` answers the whole list, every page
//! after the other in one streamed answer, with the list's own filters and order, in the layout
//! of `exchange::csv` (`?delimiter=semicolon` for German Excel). An unknown `Accept` gets JSON.

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

/// The format of a list's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListFormat {
    /// One page as JSON (the default).
    Json,
    /// Every page as one CSV file (UTF-8 with BOM), the same as `Accept: text/csv`.
    Csv,
}

/// The cell separator of a CSV answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CsvDelimiter {
    /// `,` (the default).
    Comma,
    /// `;`, as German Excel writes and expects.
    Semicolon,
}

/// `Some(semicolon)` when the request asks for CSV: `?format=csv`, or `Accept: text/csv` without
/// `?format=json`.
pub fn wants_csv(req: &HttpRequest, format: Option<ListFormat>, delimiter: Option<CsvDelimiter>) -> Option<bool> {
    let csv = match format {
        Some(format) => format == ListFormat::Csv,
        None => req.headers().get_all(header::ACCEPT).filter_map(|v| v.to_str().ok()).any(|accept| {
            accept
                .split(',')
                .any(|range| range.split(';').next().unwrap_or_default().trim().eq_ignore_ascii_case("text/csv"))
        }),
    };
    csv.then_some(delimiter == Some(CsvDelimiter::Semicolon))
}

/// Streams every page of a list as CSV, starting at `cursor`: `page` reads the records after a
/// cursor (`None`: from the start) with the next cursor; one page of up to 200 records is read,
/// written and sent at a time, so memory stays flat however long the list is. The first page is
/// read before the answer starts, so that what refuses the list (no such cooperation, a bad
/// cursor) is a problem with its status; a failure after the first byte ends the answer early
/// (the status is sent by then) and is logged.
pub async fn stream<T, F, Fut>(
    semicolon: bool,
    name: &str,
    cursor: Option<String>,
    page: F,
) -> Result<HttpResponse, AppError>
where
    T: ToSchema + Serialize + 'static,
    F: Fn(Option<String>) -> Fut + 'static,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), AppError>> + 'static,
{
    let mut writer = Writer::new(columns::<T>(), semicolon);
    let (records, next) = page(cursor).await?;
    let first = web::Bytes::from(writer.page(&values(&records)));
    let rest = futures_util::stream::unfold((next, writer, page), |(next, mut writer, page)| async move {
        let cursor = next?;
        match page(Some(cursor)).await {
            Ok((records, next)) => {
                let chunk = web::Bytes::from(writer.page(&values(&records)));
                Some((Ok::<_, AppError>(chunk), (next, writer, page)))
            }
            Err(err) => {
                log::error!("a CSV export stopped early: {err}");
                Some((Err(err), (None, writer, page)))
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

/// The fields of a record type as the document lists them, in order: the CSV's columns.
fn columns<T: ToSchema>() -> Vec<String> {
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object.properties.keys().cloned().collect(),
        _ => Vec::new(),
    }
}
