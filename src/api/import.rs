//! `POST /api/v1/import`: records from a spreadsheet (CSV) or NDJSON, all or nothing.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{IdempotencyKey, ImportBody, Query};
use super::respond;
use crate::auth::{Caller, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
use crate::exchange::import::{self, Import, ImportReport, ImportResource, Mode, read};
use crate::models::{idempotency, now};

/// Query parameters of an import.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// What the rows are.
    #[param(inline)]
    pub resource: ImportResource,
    /// `create` (the default): every row is a new record. `upsert`: a row with an `id`, or with
    /// an external reference a record holds, changes that record (absent columns unchanged).
    #[param(inline)]
    pub mode: Option<Mode>,
    /// `true`: check every row, write nothing; the answer says what would happen.
    pub dry_run: Option<bool>,
}

/// An import file: its bytes as sent (CSV or NDJSON, see the media type).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // the schema of the body; the handler reads it as `ImportBody`
pub struct ImportFile(Vec<u8>);

/// Import records (editors; each row needs the rights of its POST or PATCH)
///
/// The layout the CSV export writes: a header of field names (`;`, `,` or tab; UTF-8 with or
/// without BOM, or Windows-1252), one row per record, or one JSON object per line. An empty cell
/// clears a field, an absent column leaves it unchanged. Lists are space-separated in one cell;
/// ids of other records may be written `ags:03359028` (partners), `key:bauhof` (fields) or
/// `ref:<source>:<id>`. Dates also as `DD.MM.YYYY`, a 7-digit AGS gets its leading zero back.
/// Read-only columns (`id` in create mode, `status`, `created_at`, …) must be empty or as
/// exported; `updated_at` as exported (or an `etag` column) refuses rows changed since the
/// export. All or nothing: one bad row, and the 422 lists every bad row and cell. With an
/// `Idempotency-Key`, the same file sent again gets the first answer again.
#[utoipa::path(
    tag = "import",
    params(ImportQuery),
    request_body(
        content(
            (ImportFile = "text/csv", example = "title;cooperation_id;field_id;partner_ids;planned_start\nGemeinsamer Bauhof;1;key:bauhof;ags:14625240 ags:14625250;01.03.2027\n"),
            (ImportFile = "application/x-ndjson", example = "{\"title\": \"Gemeinsamer Bauhof\", \"cooperation_id\": 1, \"field_id\": \"key:bauhof\"}\n"),
        ),
        description = "The file: CSV with a header, or NDJSON"
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Imported (or, in a dry run, what would be)", body = ImportReport),
        (status = 413, description = "The file exceeds `IKZ_MAX_IMPORT_BYTES`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/csv nor application/x-ndjson", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid rows (`/problems/import-invalid`, each error with its `row`); nothing was imported", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn import_records(
    db: web::Data<Db>,
    caller: Caller,
    key: IdempotencyKey,
    query: Query<ImportQuery>,
    body: ImportBody,
) -> Result<HttpResponse, AppError> {
    caller.require(Role::Editor, "import records")?;
    let query = query.0;
    let import = Import {
        resource: query.resource,
        mode: query.mode.unwrap_or_default(),
        dry_run: query.dry_run.unwrap_or(false),
    };
    let (format, bytes) = body.read().await?;
    let key = key.for_bytes(&caller, &bytes)?;
    let table = std::sync::Arc::new(web::block(move || read::read(&bytes, format)).await??);
    let render = move |report| respond::ok_answer(&report);
    let none = crate::progress::Progress::none;
    // Checked on a read connection first: a file with bad rows never holds the writer, and a
    // dry run takes it only to keep its answer under a key.
    let (checker, sent, rows) = (caller.clone(), key.clone(), table.clone());
    let checked = db
        .blocking(move |conn| {
            if let Some(answer) = sent.map(|key| idempotency::replay(conn, &key, now())).transpose()?.flatten() {
                return Ok(Err(answer));
            }
            import::check(conn, &checker, import, &rows, now(), &none()).map(Ok)
        })
        .await?;
    let report = match checked {
        Ok(report) => report,
        Err(kept) => return Ok(respond::answer(kept, true)),
    };
    if import.dry_run && key.is_none() {
        return Ok(respond::answer(render(report), false));
    }
    let outcome = db
        .write(move |conn| {
            let run = |c: &mut _| match import.dry_run {
                true => Ok(report),
                false => import::run(c, &caller, import, &table, now(), &none()),
            };
            idempotency::once(conn, key.as_ref(), now(), run, render)
        })
        .await?;
    let (answer, replayed) = outcome.answer(render);
    Ok(respond::answer(answer, replayed))
}

/// Registers the import route.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(import_records);
}
