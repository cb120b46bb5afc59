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
    /// Exit 0 when the local service answers `GET /health/live` (for container health checks).
    Healthcheck,
    /// Write the OpenAPI document (to stdout, or to a file).
    Openapi {
        /// File to write, e.g. openapi/openapi.json.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SeedWhat {
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
enum UserAction {
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

fn main() -> ExitCode {
    return_large_blocks_to_the_os();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Migrate => migrate(),
        Command::User { action } => user(action),
        Command::Seed { what } => seed(what),
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

/// Password hashing allocates 19 MiB per hash. After such a block is freed, glibc raises its mmap
/// threshold, and later large blocks come from per-thread arenas that keep them: a few logins
/// would leave ~20 MiB resident per thread. A fixed threshold keeps large blocks in mmap, which
/// returns them to the system when freed.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
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

fn seed(what: SeedWhat) -> Result<(), AnyError> {
    let config = Config::from_env()?;
    let mut conn = db::ConnectionManager::new(&config.database_url).establish()?;
    db::run_migrations(&mut conn)?;
    let started = std::time::Instant::now();
    let seeded = match what {
        SeedWhat::Demo => ikz_api::seed::demo(&mut conn),
        SeedWhat::Volume { partners, cooperations, measures, contacts } => {
            ikz_api::seed::volume(&mut conn, ikz_api::seed::Volume { partners, cooperations, measures, contacts })
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

fn user(action: UserAction) -> Result<(), AnyError> {
    use ikz_api::models::{accounts, now};
    use ikz_api::models::{input, users};
    let config = Config::from_env()?;
    let mut conn = db::ConnectionManager::new(&config.database_url).establish()?;
    db::run_migrations(&mut conn)?;
    let show =
        |e: ikz_api::error::AppError| -> AnyError { serde_json::to_string(&e.problem()).unwrap_or_default().into() };
    let find = |conn: &mut db::AnyConnection, name: &str| -> Result<accounts::User, AnyError> {
        accounts::find_user_by_name(conn, &name.to_lowercase())?.ok_or_else(|| format!("no user named {name}").into())
    };
    match action {
        UserAction::Create { username, role, partner_ids, display_name, email } => {
            let body = serde_json::json!({
                "username": username, "password": read_password()?, "role": role,
                "partner_ids": partner_ids, "display_name": display_name, "email": email,
            });
            let input = input::decode::<users::CreateUser>(body).map_err(show)?;
            let created = db::write(&mut conn, |c| users::save(c, input, None, None)).map_err(show)?;
            log::info!("created user {} (id {}, role {})", created.0.username, created.0.id, created.0.role);
        }
        UserAction::SetPassword { username } => {
            let user = find(&mut conn, &username)?;
            let password = read_password()?;
            if !(12..=1024).contains(&password.chars().count()) {
                return Err("the password must be 12 to 1024 characters".into());
            }
            let hash = ikz_api::auth::hash_password(&password).map_err(show)?;
            accounts::set_password(&mut conn, user.id, &hash, now())?;
            log::info!("set a new password for {}", user.username);
        }
        UserAction::Deactivate { username } => {
            let user = find(&mut conn, &username)?;
            accounts::set_active(&mut conn, user.id, false, now())?;
            log::info!("deactivated {}; its tokens are refused from now on", user.username);
        }
    }
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
