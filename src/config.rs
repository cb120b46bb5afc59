//! Settings from the environment (and an optional `.env` file in the working directory).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `ikz.db` | SQLite file path, or `postgres://user:pass@host/db` for PostgreSQL |
//! | `IKZ_BIND` | `127.0.0.1:8080` | listen address |
//! | `IKZ_WORKERS` | number of cores | actix worker threads |
//! | `IKZ_DB_POOL_SIZE` | 8 (SQLite) / 2 per core (PostgreSQL) | database connections per instance |
//! | `IKZ_SQLITE_MMAP_MB` | `0` (off) | SQLite: MiB of the database file each connection memory-maps (README, "SQLite or PostgreSQL") |
//! | `IKZ_SQLITE_SYNCHRONOUS` | `full` | SQLite: `full` makes every acknowledged write durable; `normal` writes faster but can lose the last acknowledged writes on power loss or an OS crash |
//! | `IKZ_PG_STATEMENT_CACHE` | `true` | PostgreSQL: cache named prepared statements; `false` behind PgBouncer in transaction pooling mode |
//! | `IKZ_MAX_BODY_BYTES` | `1048576` | largest accepted request body in bytes |
//! | `IKZ_MAX_IMPORT_BYTES` | `52428800` | largest accepted import file (`POST /api/v1/import`) in bytes |
//! | `IKZ_CHANGES_RETENTION_DAYS` | `90` | how long the change feed keeps changes (pruned at start and hourly) |
//! | `IKZ_OUTBOUND_ALLOW` | empty | comma-separated private or loopback hosts the service may call (webhooks, council sync), e.g. `127.0.0.1,ris.intranet.example` |
//! | `IKZ_OUTBOUND_PUBLIC` | `true` | `false` confines every outbound call to the hosts of `IKZ_OUTBOUND_ALLOW` |
//! | `IKZ_WEBHOOK_RETRY_HOURS` | `72` | how long a failing webhook delivery is retried before the webhook is paused |
//! | `IKZ_SYNC_OVERLAP_HOURS` | `24` | council sync: incremental runs ask for what changed since the watermark minus this |
//! | `IKZ_SYNC_FULL_EVERY_DAYS` | `7` | council sync: a full run (everything, deletions included) when the last is older |
//! | `IKZ_SYNC_STALE_HOURS` | `48` | council sync: a source is `stale` when its last success is older |
//! | `IKZ_SYNC_RATE_PER_SECOND` | `20` | council sync: at most this many requests per second to one system (`0`: no limit) |
//! | `IKZ_SYNC_CONCURRENCY` | `4` | council sync: requests in flight at once per run |
//! | `IKZ_SYNC_TIMEOUT_SECONDS` | `30` | council sync: time for one request |
//! | `IKZ_SYNC_MAX_ANSWER_MB` | `16` | council sync: largest answer read |
//! | `IKZ_SYNC_LEASE_SECONDS` | `120` | council sync: a run's lease, renewed with every page; a run whose process died is taken over after it |
//! | `IKZ_SYNC_RETRY_BASE_MS` | `500` | council sync: first wait before a retry (doubled each time, ±50 %; `Retry-After` wins) |
//! | `RUST_LOG` | `info` | log filter (env_logger syntax) |
//! | `IKZ_JWT_SECRET` | generated once, kept in the database | HS256 secret, at least 32 bytes |
//! | `IKZ_TOKEN_TTL_SECONDS` | `3600` | lifetime of tokens from `POST /api/v1/auth/token` |
//! | `IKZ_BOOTSTRAP_ADMIN_PASSWORD` | random, printed once | password of the first `admin` on an empty database |
//! | `IKZ_PUBLIC_READ` | `true` | anonymous read of partners, fields, cooperations and measures |
//! | `IKZ_CORS_ORIGINS` | empty (CORS off) | comma-separated origins allowed to call from a browser |
//! | `IKZ_TRUST_FORWARDED_FOR` | `false` | take the client address from `X-Forwarded-For`/`Forwarded` (behind a proxy) |
//! | `IKZ_OIDC_ISSUER`, `IKZ_OIDC_AUDIENCE` | unset | accept tokens of this OpenID Connect provider |
//! | `IKZ_OIDC_PUBLIC_KEY_FILE` / `IKZ_OIDC_JWKS_FILE` | unset | its public key (PEM, RS256 or ES256) or key set (JWKS) |
//! | `IKZ_OIDC_ROLE_CLAIM` | `ikz_role` | claim (dotted path, e.g. `realm_access.roles`) holding `admin`/`editor`/`viewer` |
//! | `IKZ_OIDC_PARTNERS_CLAIM` | `ikz_partner_ids` | claim holding the partner ids the caller acts for |

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::db::Backend;

/// How long the change feed keeps changes when `IKZ_CHANGES_RETENTION_DAYS` is not set.
pub const DEFAULT_CHANGES_RETENTION_DAYS: u32 = 90;

/// How long a failing webhook delivery is retried when `IKZ_WEBHOOK_RETRY_HOURS` is not set.
pub const DEFAULT_WEBHOOK_RETRY_HOURS: u32 = 72;

/// Default request body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Default import file limit: 50 MiB.
pub const DEFAULT_MAX_IMPORT_BYTES: usize = 50 * 1024 * 1024;

/// Everything the service needs to start; built from the environment or by tests.
#[derive(Clone, Debug)]
pub struct Config {
    /// SQLite path or PostgreSQL URL.
    pub database_url: String,
    /// Address to listen on; port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// Number of actix workers.
    pub workers: usize,
    /// Maximum number of pooled database connections.
    pub db_pool_size: u32,
    /// SQLite: bytes of the database file each connection may memory-map; 0 is off.
    pub sqlite_mmap_bytes: u64,
    /// `IKZ_SQLITE_SYNCHRONOUS`: `full` (default) or `normal`.
    pub sqlite_synchronous: crate::db::SqliteSynchronous,
    /// `IKZ_PG_STATEMENT_CACHE`: PostgreSQL connections cache named prepared statements.
    pub pg_statement_cache: bool,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// `IKZ_MAX_IMPORT_BYTES`: largest accepted import file in bytes.
    pub max_import_bytes: usize,
    /// HS256 secret; `None` means: generate once and keep it in the database.
    pub jwt_secret: Option<String>,
    /// Lifetime of issued access tokens in seconds.
    pub token_ttl_seconds: i64,
    /// Password for the first admin on an empty database; `None` means random, printed once.
    pub bootstrap_admin_password: Option<String>,
    /// Whether anonymous callers may read non-personal data.
    pub public_read: bool,
    /// Origins allowed by CORS; empty turns CORS off.
    pub cors_origins: Vec<String>,
    /// Whether to take the client address from forwarding headers (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// External OpenID Connect provider, if configured.
    pub oidc: Option<OidcConfig>,
    /// `IKZ_CHANGES_RETENTION_DAYS`: how long the change feed keeps changes.
    pub changes_retention_days: u32,
    /// `IKZ_OUTBOUND_ALLOW` and `IKZ_OUTBOUND_PUBLIC`: which hosts outbound calls may reach.
    pub outbound: crate::outbound::Policy,
    /// `IKZ_WEBHOOK_RETRY_HOURS`: how long a failing delivery is retried.
    pub webhook_retry: chrono::Duration,
    /// `IKZ_SYNC_*`: how council systems are synced.
    pub sync: crate::sync::oparl::SyncSettings,
}

/// Settings for accepting tokens of an external OpenID Connect provider.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// PEM public key file (RSA or EC P-256).
    pub public_key_file: Option<PathBuf>,
    /// JWKS file.
    pub jwks_file: Option<PathBuf>,
    /// Dotted path of the claim holding the role(s).
    pub role_claim: String,
    /// Dotted path of the claim holding partner ids.
    pub partners_claim: String,
}

/// A setting that is present but unusable; start-up stops with this message.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {name}={value:?}: {reason}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    reason: String,
}

impl Config {
    /// A connection manager with every database setting of this configuration.
    pub fn connection_manager(&self) -> crate::db::ConnectionManager {
        crate::db::ConnectionManager::new(&self.database_url)
            .with_sqlite_mmap(self.sqlite_mmap_bytes)
            .with_sqlite_synchronous(self.sqlite_synchronous)
            .with_pg_statement_cache(self.pg_statement_cache)
    }

    /// Defaults for everything but the database (what tests and embedders start from).
    pub fn new(database_url: impl Into<String>) -> Self {
        let database_url = database_url.into();
        let cores = cores();
        Self {
            bind: "127.0.0.1:8080".parse().expect("valid literal"),
            workers: cores,
            db_pool_size: Backend::from_url(&database_url).default_pool_size(cores),
            sqlite_mmap_bytes: 0,
            sqlite_synchronous: crate::db::SqliteSynchronous::Full,
            pg_statement_cache: true,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_import_bytes: DEFAULT_MAX_IMPORT_BYTES,
            jwt_secret: None,
            token_ttl_seconds: 3600,
            bootstrap_admin_password: None,
            public_read: true,
            cors_origins: Vec::new(),
            trust_forwarded_for: false,
            oidc: None,
            changes_retention_days: DEFAULT_CHANGES_RETENTION_DAYS,
            outbound: crate::outbound::Policy::default(),
            webhook_retry: chrono::Duration::hours(DEFAULT_WEBHOOK_RETRY_HOURS.into()),
            sync: crate::sync::oparl::SyncSettings::default(),
            database_url,
        }
    }

    /// Reads the settings from the process environment (after loading `.env` if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let database_url = env_or("DATABASE_URL", "ikz.db");
        let backend = Backend::from_url(&database_url);
        let cores = cores();
        Ok(Self {
            bind: parse_env("IKZ_BIND", "127.0.0.1:8080".parse().expect("valid literal"))?,
            workers: positive("IKZ_WORKERS", parse_env("IKZ_WORKERS", cores)?)?,
            db_pool_size: positive(
                "IKZ_DB_POOL_SIZE",
                parse_env("IKZ_DB_POOL_SIZE", backend.default_pool_size(cores))?,
            )?,
            sqlite_mmap_bytes: sqlite_mmap_bytes()?,
            sqlite_synchronous: parse_env("IKZ_SQLITE_SYNCHRONOUS", crate::db::SqliteSynchronous::Full)?,
            pg_statement_cache: parse_env("IKZ_PG_STATEMENT_CACHE", true)?,
            max_body_bytes: parse_env("IKZ_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?,
            max_import_bytes: parse_env("IKZ_MAX_IMPORT_BYTES", DEFAULT_MAX_IMPORT_BYTES)?,
            jwt_secret: jwt_secret()?,
            token_ttl_seconds: positive("IKZ_TOKEN_TTL_SECONDS", parse_env("IKZ_TOKEN_TTL_SECONDS", 3600)?)?,
            bootstrap_admin_password: non_empty("IKZ_BOOTSTRAP_ADMIN_PASSWORD"),
            public_read: parse_env("IKZ_PUBLIC_READ", true)?,
            cors_origins: non_empty("IKZ_CORS_ORIGINS")
                .map(|v| v.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
                .unwrap_or_default(),
            trust_forwarded_for: parse_env("IKZ_TRUST_FORWARDED_FOR", false)?,
            oidc: oidc()?,
            changes_retention_days: positive(
                "IKZ_CHANGES_RETENTION_DAYS",
                parse_env("IKZ_CHANGES_RETENTION_DAYS", DEFAULT_CHANGES_RETENTION_DAYS)?,
            )?,
            outbound: crate::outbound::Policy::new(
                &env_or("IKZ_OUTBOUND_ALLOW", ""),
                parse_env("IKZ_OUTBOUND_PUBLIC", true)?,
            ),
            webhook_retry: chrono::Duration::hours(
                positive(
                    "IKZ_WEBHOOK_RETRY_HOURS",
                    parse_env("IKZ_WEBHOOK_RETRY_HOURS", DEFAULT_WEBHOOK_RETRY_HOURS)?,
                )?
                .into(),
            ),
            sync: sync_settings()?,
            database_url,
        })
    }
}

/// The `IKZ_SYNC_*` settings.
fn sync_settings() -> Result<crate::sync::oparl::SyncSettings, ConfigError> {
    use std::time::Duration;
    let rate = parse_env("IKZ_SYNC_RATE_PER_SECOND", 20u32)?;
    let fetch = crate::sync::oparl::FetchSettings {
        min_interval: if rate == 0 { Duration::ZERO } else { Duration::from_secs(1) / rate },
        concurrency: positive("IKZ_SYNC_CONCURRENCY", parse_env("IKZ_SYNC_CONCURRENCY", 4usize)?)?,
        timeout: Duration::from_secs(positive(
            "IKZ_SYNC_TIMEOUT_SECONDS",
            parse_env("IKZ_SYNC_TIMEOUT_SECONDS", 30u64)?,
        )?),
        max_bytes: positive("IKZ_SYNC_MAX_ANSWER_MB", parse_env("IKZ_SYNC_MAX_ANSWER_MB", 16usize)?)?
            .saturating_mul(1024 * 1024),
        retry_base: Duration::from_millis(parse_env("IKZ_SYNC_RETRY_BASE_MS", 500u64)?),
        ..crate::sync::oparl::FetchSettings::default()
    };
    let settings = crate::sync::oparl::SyncSettings {
        fetch,
        overlap: chrono::Duration::hours(parse_env("IKZ_SYNC_OVERLAP_HOURS", 24u32)?.into()),
        full_every: chrono::Duration::days(
            positive("IKZ_SYNC_FULL_EVERY_DAYS", parse_env("IKZ_SYNC_FULL_EVERY_DAYS", 7u32)?)?.into(),
        ),
        stale_after: chrono::Duration::hours(
            positive("IKZ_SYNC_STALE_HOURS", parse_env("IKZ_SYNC_STALE_HOURS", 48u32)?)?.into(),
        ),
        lease: chrono::Duration::seconds(
            positive("IKZ_SYNC_LEASE_SECONDS", parse_env("IKZ_SYNC_LEASE_SECONDS", 120u32)?)?.into(),
        ),
        ..crate::sync::oparl::SyncSettings::default()
    };
    Ok(settings)
}

/// Cores this process may use (2 if the system does not say).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn jwt_secret() -> Result<Option<String>, ConfigError> {
    match non_empty("IKZ_JWT_SECRET") {
        Some(secret) if secret.len() < 32 => Err(ConfigError {
            name: "IKZ_JWT_SECRET",
            value: "(hidden)".into(),
            reason: format!("must be at least 32 bytes, got {}", secret.len()),
        }),
        other => Ok(other),
    }
}

fn oidc() -> Result<Option<OidcConfig>, ConfigError> {
    let Some(issuer) = non_empty("IKZ_OIDC_ISSUER") else { return Ok(None) };
    let audience = non_empty("IKZ_OIDC_AUDIENCE").ok_or_else(|| ConfigError {
        name: "IKZ_OIDC_AUDIENCE",
        value: String::new(),
        reason: "is required when IKZ_OIDC_ISSUER is set".into(),
    })?;
    let public_key_file = non_empty("IKZ_OIDC_PUBLIC_KEY_FILE").map(PathBuf::from);
    let jwks_file = non_empty("IKZ_OIDC_JWKS_FILE").map(PathBuf::from);
    if public_key_file.is_none() && jwks_file.is_none() {
        return Err(ConfigError {
            name: "IKZ_OIDC_PUBLIC_KEY_FILE",
            value: String::new(),
            reason: "IKZ_OIDC_PUBLIC_KEY_FILE or IKZ_OIDC_JWKS_FILE is required when IKZ_OIDC_ISSUER is set".into(),
        });
    }
    Ok(Some(OidcConfig {
        issuer,
        audience,
        public_key_file,
        jwks_file,
        role_claim: non_empty("IKZ_OIDC_ROLE_CLAIM").unwrap_or_else(|| "ikz_role".into()),
        partners_claim: non_empty("IKZ_OIDC_PARTNERS_CLAIM").unwrap_or_else(|| "ikz_partner_ids".into()),
    }))
}

fn positive<T: PartialOrd + Default + ToString>(name: &'static str, value: T) -> Result<T, ConfigError> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(ConfigError { name, value: value.to_string(), reason: "must be at least 1".into() })
    }
}

/// `IKZ_SQLITE_MMAP_MB` in bytes; SQLite maps at most 2 GiB − 64 KiB (`SQLITE_MAX_MMAP_SIZE`) and
/// would cut a larger value silently, so it is refused instead.
fn sqlite_mmap_bytes() -> Result<u64, ConfigError> {
    const NAME: &str = "IKZ_SQLITE_MMAP_MB";
    let mib: u64 = parse_env(NAME, 0)?;
    if mib > 2047 {
        return Err(ConfigError {
            name: NAME,
            value: mib.to_string(),
            reason: "must be at most 2047 (SQLite's limit)".into(),
        });
    }
    Ok(mib * 1024 * 1024)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| default.to_owned())
}

fn parse_env<T>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|e: T::Err| ConfigError { name, value, reason: e.to_string() })
        }
        _ => Ok(default),
    }
}
