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
    /// Exit 0 when the local service answers `GET /health/live` (for container health checks).
    Healthcheck,
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
        Command::Healthcheck => healthcheck(),
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

/// A minimal HTTP/1.0 probe of the port in `IKZ_BIND`, so that the runtime image needs no curl.
fn healthcheck() -> Result<(), AnyError> {
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

fn openapi(output: Option<PathBuf>) -> Result<(), AnyError> {
    let json = ikz_api::openapi::document_json();
    match output {
        Some(path) => std::fs::write(path, json)?,
        None => print!("{json}"),
    }
    Ok(())
}
