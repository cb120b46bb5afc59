//! `ikz-api`: the command line. Parses arguments and calls into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ikz_api::config::Config;
use ikz_api::db;
use ikz_api::startup::Application;

/// REST/JSON backend for inter-municipal cooperation. Settings come from the environment;
/// see README.md.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write the OpenAPI document (to stdout, or to a file).
    Openapi {
        /// File to write, e.g. openapi/openapi.json.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Migrate => migrate(),
        Command::Openapi { output } => openapi(output),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            log::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn serve() -> Result<(), AnyError> {
    let config = Config::from_env()?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&config)?;
        app.run_until_stopped().await?;
        Ok(())
    })
}

fn migrate() -> Result<(), AnyError> {
    let config = Config::from_env()?;
    let mut conn = db::ConnectionManager::new(&config.database_url).establish()?;
    let applied = db::run_migrations(&mut conn)?;
    log::info!("{applied} migrations applied to {}", db::redacted_url(&config.database_url));
    Ok(())
}

fn openapi(output: Option<PathBuf>) -> Result<(), AnyError> {
    let json = ikz_api::openapi::document_json();
    match output {
        Some(path) => std::fs::write(path, json)?,
        None => print!("{json}"),
    }
    Ok(())
}
