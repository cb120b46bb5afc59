//! The command line: the commands `ikz-api` offers and what each does. `main.rs` parses the
//! arguments and calls [`run`]; everything here calls the same library functions the API uses.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::api::export::FileKind;
use crate::config::Config;
use crate::db;
use crate::exchange::import::{Import, ImportResource, Mode};
use crate::exchange::titles::Lang;
use crate::startup::Application;

/// REST/JSON backend for inter-municipal cooperation. Settings come from the environment;
/// see README.md.
#[derive(Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage local accounts from the shell (passwords are read from standard input).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Fill the database with example data.
    Seed {
        #[command(subcommand)]
        what: SeedWhat,
    },
    /// Import records from a CSV or NDJSON file, all or nothing (as `POST /api/v1/import`);
    /// prints what it did as JSON, or every invalid row.
    Import {
        /// The file: CSV (as the export writes it, or as Excel saves it), or `.ndjson`/`.jsonl`.
        file: PathBuf,
        /// What the rows are.
        #[arg(long, value_enum)]
        resource: ImportResource,
        /// `create`: every row is new; `upsert`: rows with an id or a held external reference
        /// change their record.
        #[arg(long, value_enum, default_value_t = Mode::Create)]
        mode: Mode,
        /// Check and apply everything, then roll it back.
        #[arg(long)]
        dry_run: bool,
        /// Act as this account, with its rights (default: the service itself, an admin's rights).
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: Option<String>,
    },
    /// Write a whole list to standard output as CSV or as an Excel workbook (as
    /// `GET /api/v1/{resource}?format=csv|xlsx`), e.g.
    /// `ikz-api export measures status=approved > measures.csv`.
    Export {
        /// What to export.
        #[arg(value_enum)]
        resource: ImportResource,
        /// The list's filters, as its query parameters: `status=approved`, `field=bauhof`,
        /// `cooperation_id=3` (see the API's list operations).
        #[arg(value_name = "PARAMETER=VALUE")]
        filters: Vec<String>,
        /// `csv` or `xlsx`.
        #[arg(long, value_enum, default_value_t = FileFormat::Csv)]
        format: FileFormat,
        /// CSV: `semicolon` separates the cells with `;`, as German Excel expects.
        #[arg(long, value_enum, default_value_t = Delimiter::Comma)]
        delimiter: Delimiter,
        /// `.xlsx`: the language of the column titles.
        #[arg(long, value_enum, default_value_t = Lang::De)]
        lang: Lang,
        /// Read as this account, with its rights (default: the service itself, which reads all).
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: Option<String>,
    },
    /// Exit 0 when the local service answers `GET /health/live` (for container health checks).
    /// Copy from another system once, e.g. `ikz-api sync oparl https://ris.example.de/oparl/v1/system`.
    Sync {
        #[command(subcommand)]
        what: SyncWhat,
    },
    Healthcheck,
    /// Write the OpenAPI document (to stdout, or to a file).
    Openapi {
        /// File to write, e.g. openapi/openapi.json.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// The kind of an exported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    Csv,
    Xlsx,
}

/// The cell separator of an exported CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Delimiter {
    Comma,
    Semicolon,
}

/// What `sync` copies from.
#[derive(Subcommand)]
pub enum SyncWhat {
    /// A council information system's OParl interface: one run with a progress bar (the sync
    /// source for the URL is created if there is none, so the API shows its runs). Exits 0 when
    /// the run completed, non-zero with the reason otherwise. Any host may be named here.
    Oparl {
        /// The URL of the system's OParl `System` object.
        system_url: String,
        /// Read everything, not only what changed since the last run.
        #[arg(long)]
        full: bool,
    },
}

#[derive(Subcommand)]
pub enum SeedWhat {
    /// Two cooperations with partners, members, contacts (example.org) and assessed, signed
    /// and running measures; only into an empty database.
    Demo,
    /// A large synthetic data set for load benchmarks, loaded in bulk; only into an empty database.
    Volume {
        /// Partners.
        #[arg(long, default_value_t = 2000)]
        partners: usize,
        /// Cooperations (four members each).
        #[arg(long, default_value_t = 500)]
        cooperations: usize,
        /// Measures.
        #[arg(long, default_value_t = 100_000)]
        measures: usize,
        /// Contacts.
        #[arg(long, default_value_t = 20_000)]
        contacts: usize,
    },
}

#[derive(Subcommand)]
pub enum UserAction {
    /// Create an account; its password is the first line of standard input.
    Create {
        /// Login name.
        username: String,
        /// admin, editor or viewer.
        #[arg(long)]
        role: String,
        /// A partner the account acts for (repeatable).
        #[arg(long = "partner")]
        partner_ids: Vec<i64>,
        /// Name shown to people.
        #[arg(long)]
        display_name: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
    },
    /// Set a new password, read from standard input.
    SetPassword {
        /// Login name.
        username: String,
    },
    /// Deactivate an account: it can no longer log in and its tokens stop working.
    Deactivate {
        /// Login name.
        username: String,
    },
}

/// Runs a parsed command line (no command means `serve`).
pub fn run(cli: Cli) -> Result<(), AnyError> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Migrate => migrate(),
        Command::User { action } => user(action),
        Command::Seed { what } => seed(what),
        Command::Import { file, resource, mode, dry_run, as_user } => {
            import(&file, Import { resource, mode, dry_run }, as_user.as_deref())
        }
        Command::Export { resource, filters, format, delimiter, lang, as_user } => {
            let kind = match format {
                FileFormat::Csv => FileKind::Csv { semicolon: delimiter == Delimiter::Semicolon },
                FileFormat::Xlsx => FileKind::Xlsx { lang },
            };
            export(resource, &filters, kind, as_user.as_deref())
        }
        Command::Sync { what: SyncWhat::Oparl { system_url, full } } => sync_oparl(&system_url, full),
        Command::Healthcheck => healthcheck(),
        Command::Openapi { output } => openapi(output),
    }
}

/// Any failure of a command, reported on standard error.
pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

pub fn serve() -> Result<(), AnyError> {
    let config = Config::from_env()?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&config)?;
        app.run_until_stopped().await?;
        Ok(())
    })
}

pub fn migrate() -> Result<(), AnyError> {
    let config = Config::from_env()?;
    let mut conn = config.connection_manager().establish()?;
    let applied = db::run_migrations(&mut conn)?;
    log::info!("{applied} migrations applied to {}", db::redacted_url(&config.database_url));
    Ok(())
}

pub fn seed(what: SeedWhat) -> Result<(), AnyError> {
    let config = Config::from_env()?;
    let mut conn = config.connection_manager().establish()?;
    db::run_migrations(&mut conn)?;
    let started = std::time::Instant::now();
    let seeded = match what {
        SeedWhat::Demo => crate::seed::demo(&mut conn),
        SeedWhat::Volume { partners, cooperations, measures, contacts } => {
            let progress = crate::progress::Progress::shown("rows loaded", 0);
            let volume = crate::seed::Volume { partners, cooperations, measures, contacts };
            let seeded = crate::seed::volume(&mut conn, volume, &progress);
            progress.finish();
            seeded
        }
    }
    .map_err(|e| -> AnyError { e.problem().detail.into() })?;
    log::info!(
        "seeded {} partners, {} cooperations, {} measures, {} contacts in {:.1} s",
        seeded.partners,
        seeded.cooperations,
        seeded.measures,
        seeded.contacts,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn read_password() -> Result<String, AnyError> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn user(action: UserAction) -> Result<(), AnyError> {
    use crate::models::{input, users};
    let config = Config::from_env()?;
    let mut conn = config.connection_manager().establish()?;
    db::run_migrations(&mut conn)?;
    let show =
        |e: crate::error::AppError| -> AnyError { serde_json::to_string(&e.problem()).unwrap_or_default().into() };
    match action {
        UserAction::Create { username, role, partner_ids, display_name, email } => {
            // The same decoding and rules as `POST /api/v1/users`.
            let body = serde_json::json!({
                "username": username, "password": read_password()?, "role": role,
                "partner_ids": partner_ids, "display_name": display_name, "email": email,
            });
            let input = input::decode::<users::CreateUser>(body).map_err(show)?;
            let created = db::write(&mut conn, |c| users::create(c, &crate::auth::Caller::system("cli"), input, None))
                .map_err(show)?;
            let user = created.user;
            log::info!("created user {} (id {}, role {})", user.username, user.id, user.role.as_str());
        }
        UserAction::SetPassword { username } => {
            let password = read_password()?;
            let user = db::write(&mut conn, |c| {
                users::set_password(c, &crate::auth::Caller::system("cli"), &username, &password)
            })
            .map_err(show)?;
            log::info!("set a new password for {}", user.username);
        }
        UserAction::Deactivate { username } => {
            let user = db::write(&mut conn, |c| users::deactivate(c, &crate::auth::Caller::system("cli"), &username))
                .map_err(show)?;
            log::info!("deactivated {}; its tokens are refused from now on", user.username);
        }
    }
    Ok(())
}

/// Imports a file as `POST /api/v1/import` does; an invalid file is reported as the API's problem.
/// `ikz-api sync oparl URL`: one run of the URL's sync source, as the operator's own call (any
/// host: the outbound policy binds what the service calls by itself).
pub fn sync_oparl(system_url: &str, full: bool) -> Result<(), AnyError> {
    use crate::models::sync_sources::{self, Trigger};
    use crate::sync::oparl::{self, RunError};
    let config = Config::from_env()?;
    let backend = db::Backend::from_url(&config.database_url);
    let pool = db::build_pool(config.connection_manager(), 4)?;
    db::run_migrations(&mut *pool.get()?)?;
    let handle = db::Db::new(pool, backend, None);
    let client = crate::outbound::Client::new(crate::outbound::Policy::everywhere())?;
    let show = |e: crate::error::AppError| -> AnyError { e.problem().detail.into() };
    actix_web::rt::System::new().block_on(async move {
        let url = system_url.to_owned();
        let source =
            handle.write(move |c| sync_sources::find_or_create(c, &url, crate::models::now())).await.map_err(show)?;
        let progress = crate::progress::Progress::shown("objects synced", 0);
        let result = oparl::run(&handle, client, &config.sync, source.id, Trigger::Cli, full, progress.clone()).await;
        progress.finish();
        match result {
            Ok(done) => {
                log::info!("sync source {}: run {} completed", source.id, done.run_id);
                println!("{}", serde_json::to_string_pretty(&done.counts)?);
                Ok(())
            }
            Err(RunError::Failed { run_id, message }) => {
                Err(format!("sync source {}: run {run_id} failed: {message}", source.id).into())
            }
            Err(e) => Err(format!("sync source {}: {e}", source.id).into()),
        }
    })
}

pub fn import(file: &std::path::Path, import: Import, as_user: Option<&str>) -> Result<(), AnyError> {
    use crate::exchange::import::{self, Format, read};
    let config = Config::from_env()?;
    let mut conn = config.connection_manager().establish()?;
    db::run_migrations(&mut conn)?;
    let show = |e: crate::error::AppError| -> AnyError {
        serde_json::to_string_pretty(&e.problem()).unwrap_or_default().into()
    };
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let format = if matches!(extension.as_str(), "ndjson" | "jsonl") { Format::Ndjson } else { Format::Csv };
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let table = read::read(&bytes, format).map_err(show)?;
    let caller = match as_user {
        Some(name) => crate::auth::Caller::of_account(&mut conn, name).map_err(show)?,
        None => crate::auth::Caller::system("cli import"),
    };
    // Checked first, reading only: a bad file never holds the writer, a dry run never takes it.
    let progress = crate::progress::Progress::shown("rows checked", 0);
    let report = import::check(&mut conn, &caller, import, &table, crate::models::now(), &progress);
    progress.finish();
    let mut report = report.map_err(show)?;
    if !import.dry_run {
        let progress = crate::progress::Progress::shown("rows imported", 0);
        let written =
            db::write(&mut conn, |c| import::run(c, &caller, import, &table, crate::models::now(), &progress));
        progress.finish();
        report = written.map_err(show)?;
    }
    log::info!(
        "{}{}: {} created, {} updated, {} unchanged",
        report.resource,
        if report.dry_run { " (dry run, nothing kept)" } else { "" },
        report.created,
        report.updated,
        report.unchanged
    );
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Writes the list that `filters` select to standard output, through the same code as the API's
/// CSV export: the same parameters, checks and layout, one page of records in memory at a time.
pub fn export(
    resource: ImportResource,
    filters: &[String],
    kind: FileKind,
    as_user: Option<&str>,
) -> Result<(), AnyError> {
    use crate::api::{self, export::Answer, export::File, extract::parse_query};
    use std::io::Write;
    let config = Config::from_env()?;
    let backend = db::Backend::from_url(&config.database_url);
    let pool = db::build_pool(config.connection_manager(), 2)?;
    db::run_migrations(&mut *pool.get()?)?;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for filter in filters {
        let (name, value) =
            filter.split_once('=').ok_or_else(|| format!("`{filter}` is not PARAMETER=VALUE, e.g. status=approved"))?;
        query.append_pair(name, value);
    }
    let query = query.finish();
    let caller = match as_user {
        Some(name) => crate::auth::Caller::of_account(&mut *pool.get()?, name)?,
        None => crate::auth::Caller::system("cli export"),
    };
    let db = db::Db::new(pool, backend, None);
    let progress = crate::progress::Progress::shown(&format!("{} exported", resource.resource().as_str()), 0);
    let file = Answer::File(File { kind, progress: progress.clone() });
    actix_web::rt::System::new().block_on(async move {
        let response = match resource {
            ImportResource::Partners => api::partners::partners(&db, &caller, parse_query(&query)?, file).await,
            ImportResource::Fields => api::fields::fields(&db, &caller, parse_query(&query)?, file).await,
            ImportResource::Cooperations => {
                api::cooperations::cooperations(&db, &caller, parse_query(&query)?, file).await
            }
            ImportResource::Measures => api::measures::measures(&db, &caller, None, parse_query(&query)?, file).await,
            ImportResource::Contacts => api::contacts::contacts(&db, &caller, parse_query(&query)?, file).await,
        }?;
        let mut body = std::pin::pin!(response.into_body());
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        while let Some(chunk) =
            std::future::poll_fn(|cx| actix_web::body::MessageBody::poll_next(body.as_mut(), cx)).await
        {
            let chunk = chunk.map_err(|e| -> AnyError { format!("the export stopped early: {e}").into() })?;
            out.write_all(&chunk)?;
        }
        out.flush()?;
        progress.finish();
        Ok(())
    })
}

/// A minimal HTTP/1.0 probe of the port in `IKZ_BIND`, so that the runtime image needs no curl.
pub fn healthcheck() -> Result<(), AnyError> {
    use std::io::{Read, Write};
    let config = Config::from_env()?;
    let mut target = config.bind;
    if target.ip().is_unspecified() {
        target.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let timeout = std::time::Duration::from_secs(3);
    let mut stream = std::net::TcpStream::connect_timeout(&target, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(b"GET /health/live HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    if head.starts_with(b"HTTP/1.") && &head[9..12] == b"200" {
        Ok(())
    } else {
        Err(format!("unexpected answer: {}", String::from_utf8_lossy(&head)).into())
    }
}

pub fn openapi(output: Option<PathBuf>) -> Result<(), AnyError> {
    let json = crate::openapi::document_json();
    match output {
        Some(path) => std::fs::write(path, json)?,
        None => print!("{json}"),
    }
    Ok(())
}
