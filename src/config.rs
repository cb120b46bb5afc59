//! Settings from the environment (and an optional `.env` file in the working directory).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `ikz.db` | SQLite file path, or `postgres://user:pass@host/db` for PostgreSQL |
//! | `IKZ_BIND` | `127.0.0.1:8080` | listen address |
//! | `IKZ_WORKERS` | number of cores | actix worker threads |
//! | `IKZ_DB_POOL_SIZE` | 8 (SQLite) / 10 (PostgreSQL) | database connections per instance |
//! | `IKZ_MAX_BODY_BYTES` | `1048576` | largest accepted request body in bytes |
//! | `RUST_LOG` | `info` | log filter (env_logger syntax) |

use std::net::SocketAddr;

use crate::db::Backend;

/// Default request body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

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
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
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
    /// Reads the settings from the process environment (after loading `.env` if present).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        let database_url = env_or("DATABASE_URL", "ikz.db");
        let backend = Backend::from_url(&database_url);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            bind: parse_env("IKZ_BIND", "127.0.0.1:8080".parse().expect("valid literal"))?,
            workers: positive("IKZ_WORKERS", parse_env("IKZ_WORKERS", cores)?)?,
            db_pool_size: positive("IKZ_DB_POOL_SIZE", parse_env("IKZ_DB_POOL_SIZE", backend.default_pool_size())?)?,
            max_body_bytes: parse_env("IKZ_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?,
            database_url,
        })
    }
}

fn positive<T: PartialOrd + Default + ToString>(name: &'static str, value: T) -> Result<T, ConfigError> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(ConfigError { name, value: value.to_string(), reason: "must be at least 1".into() })
    }
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
