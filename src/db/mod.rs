//! Database access for both backends: `AnyConnection`, the pool, migrations, write transactions.
//!
//! Invariants:
//! - the backend is chosen from the URL scheme (`postgres://`/`postgresql://` → PostgreSQL, anything
//!   else is a SQLite path, optionally prefixed `sqlite://`); no fallback between backends;
//! - every SQLite connection runs with `busy_timeout=5000`, WAL, `foreign_keys=ON`;
//! - writes go through [`write`], which on SQLite takes the write lock up front (`BEGIN IMMEDIATE`)
//!   so that two writers wait for each other instead of failing with "database is locked"; the
//!   service itself writes to SQLite through one thread ([`group_commit`]), in the same way.

pub mod group_commit;
pub mod keyset;
pub mod schema;
pub mod statements;
pub mod time;

pub use time::Timestamp;

use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// SQLite migrations, embedded at build time.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// PostgreSQL migrations, embedded at build time (same names as the SQLite ones).
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to either backend; diesel queries written once run on both.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL.
    Pg(diesel::PgConnection),
    /// SQLite.
    Sqlite(diesel::SqliteConnection),
}

/// Pool of [`AnyConnection`]s.
pub type DbPool = r2d2::Pool<ConnectionManager>;
/// A connection checked out of the pool.
pub type DbConn = r2d2::PooledConnection<ConnectionManager>;

/// The handle every part of the service reads and writes through: the pool and, on SQLite, the
/// one writer thread. Cheap to clone; the HTTP layer, the CLI and background jobs share it.
#[derive(Clone)]
pub struct Db {
    /// Connection pool of the configured backend.
    pub pool: DbPool,
    /// Which backend the pool talks to.
    pub backend: Backend,
    /// On SQLite, the one thread that runs writes, committing them in groups (`None` on
    /// PostgreSQL, which takes concurrent writers).
    writer: Option<group_commit::GroupCommitWriter>,
    /// Notified after each write this instance committed (the feed's waiters and the webhook
    /// sender look at once instead of at their next poll).
    commits: std::sync::Arc<tokio::sync::Notify>,
}

/// A blocking task that could not be run or ended in a panic.
fn blocking_failed(err: tokio::task::JoinError) -> crate::error::AppError {
    crate::error::AppError::Internal(format!("blocking database task failed: {err}"))
}

impl Db {
    /// The handle for a pool; on SQLite `writer` is the group-commit writer.
    pub fn new(pool: DbPool, backend: Backend, writer: Option<group_commit::GroupCommitWriter>) -> Self {
        Self { pool, backend, writer, commits: Default::default() }
    }

    /// What is notified after each write this instance commits.
    pub fn commits(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.commits.clone()
    }

    /// Whether writes can be taken (on SQLite: the writer thread still runs).
    pub fn writer_running(&self) -> bool {
        self.writer.as_ref().is_none_or(group_commit::GroupCommitWriter::is_running)
    }

    /// Runs `f` on a pooled connection.
    ///
    /// On SQLite the read runs right here on the calling (worker) thread: a local read takes
    /// microseconds, less than the hand-over to a blocking thread and back (benches/RESULTS.md).
    /// The pool keeps a connection per worker for this (`startup`), so it never waits for one.
    /// On PostgreSQL it runs on a blocking thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, crate::error::AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, crate::error::AppError> + Send + 'static,
        T: Send + 'static,
    {
        if self.backend == Backend::Sqlite {
            let mut conn = self.pool.get()?;
            return f(&mut conn);
        }
        self.blocking(f).await
    }

    /// Runs `f` on a pooled connection on a blocking thread, on both backends: for reads that
    /// also do slow work, such as checking a password.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, crate::error::AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, crate::error::AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || f(&mut *pool.get()?)).await.map_err(blocking_failed)?
    }

    /// Runs `f` in one write transaction (see [`write`]): all of it or nothing.
    ///
    /// On SQLite the write goes to the writer thread, which runs it in a savepoint of a group
    /// transaction and answers after the group's COMMIT ([`group_commit::GroupCommitWriter`]).
    pub async fn write<T, F>(&self, f: F) -> Result<T, crate::error::AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, crate::error::AppError> + Send + 'static,
        T: Send + 'static,
    {
        let written = match &self.writer {
            Some(writer) => writer.write(f).await,
            None => {
                let pool = self.pool.clone();
                tokio::task::spawn_blocking(move || write(&mut *pool.get()?, f)).await.map_err(blocking_failed)?
            }
        };
        if written.is_ok() {
            self.commits.notify_waiters();
        }
        written
    }
}

/// Which database engine a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL (`postgres://…`).
    Postgres,
    /// SQLite (a file path).
    Sqlite,
}

impl Backend {
    /// Picks the backend from the URL scheme.
    pub fn from_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") { Self::Postgres } else { Self::Sqlite }
    }

    /// Pool size when `IKZ_DB_POOL_SIZE` is not set, on a machine with `cores` cores.
    ///
    /// PostgreSQL: two connections per core (at least two). Each connection is a server process;
    /// beyond about two per core the server mostly switches between them. Measured with
    /// PostgreSQL on the same two cores (benches/RESULTS.md, sixth round): more connections gave
    /// far longer tail latencies at the same or lower throughput. Several instances on one server
    /// add up.
    pub fn default_pool_size(self, cores: usize) -> u32 {
        match self {
            Self::Postgres => u32::try_from(cores.saturating_mul(2)).unwrap_or(u32::MAX).max(2),
            Self::Sqlite => 8,
        }
    }

    /// Human name for logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::Sqlite => "SQLite",
        }
    }
}

/// The URL with any password replaced, safe to log.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Stable query plans on SQLite: without them, a prepared statement is compiled anew on every run.
///
/// SQLite (3.47+) lets the value bound to `LIMIT ?` shape the plan and then marks the statement to
/// be recompiled whenever that parameter is bound again. Diesel binds every parameter on every run
/// (`.first()` is `LIMIT ?`, and so is every page size), so its statement cache saved nothing:
/// re-parsing and re-planning were most of a `GET /measures/{id}` (benches/RESULTS.md). With the
/// query planner stability guarantee (QPSG) a plan no longer depends
/// on bound values, and cached statements are reused as they are.
mod sqlite_plans {
    use std::ffi::{c_char, c_int};
    use std::sync::Once;

    use libsqlite3_sys as ffi;

    /// Registers, once per process, the hook that switches QPSG on for every SQLite connection
    /// opened afterwards (SQLite's own `sqlite3_auto_extension` mechanism).
    pub fn stable_plans_for_new_connections() {
        static REGISTER: Once = Once::new();
        REGISTER.call_once(|| {
            // Process-wide settings, possible only before SQLite initialises (which registering
            // the hook below does). Every connection is used by one thread at a time (diesel's
            // connection is not `Sync`; the pool and the writer thread hand it out exclusively),
            // so SQLite need not lock each connection around every call (`MULTITHREAD`), and the
            // service reads no memory statistics, which take a process-wide lock around every
            // allocation (`MEMSTATUS`; measured in benches/RESULTS.md). Should
            // SQLite have been initialised already, both stay at their safe defaults.
            for (option, name) in
                [(ffi::SQLITE_CONFIG_MULTITHREAD, "MULTITHREAD"), (ffi::SQLITE_CONFIG_MEMSTATUS, "MEMSTATUS")]
            {
                // SAFETY: MULTITHREAD takes no argument, MEMSTATUS one int (ignored by the other);
                // nothing of SQLite is in use yet.
                let rc = unsafe { ffi::sqlite3_config(option, 0 as c_int) };
                if rc != ffi::SQLITE_OK {
                    log::debug!("SQLite: {name} not set (code {rc}: already initialised)");
                }
            }
            // SAFETY: `enable_qpsg` has exactly the entry-point signature SQLite calls.
            let rc = unsafe { ffi::sqlite3_auto_extension(Some(enable_qpsg)) };
            if rc != ffi::SQLITE_OK {
                log::warn!(
                    "SQLite: cannot register the plan-stability hook (code {rc}); statements will be recompiled"
                );
            }
        });
    }

    /// Called by SQLite with each new connection's handle while it is being opened.
    unsafe extern "C" fn enable_qpsg(
        db: *mut ffi::sqlite3,
        _error: *mut *mut c_char,
        _api: *const ffi::sqlite3_api_routines,
    ) -> c_int {
        // SAFETY: `db` is the live handle SQLite passes in; the option takes an int and an
        // optional int pointer for the new value, for which null is allowed.
        unsafe {
            ffi::sqlite3_db_config(db, ffi::SQLITE_DBCONFIG_ENABLE_QPSG, 1 as c_int, std::ptr::null_mut::<c_int>())
        };
        ffi::SQLITE_OK
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Reads a connection's QPSG setting (-1 leaves it unchanged and reports it).
        fn qpsg_of(db: *mut ffi::sqlite3) -> c_int {
            let mut value: c_int = -1;
            // SAFETY: `db` is open; the out pointer is valid for the call.
            unsafe {
                ffi::sqlite3_db_config(db, ffi::SQLITE_DBCONFIG_ENABLE_QPSG, -1 as c_int, &mut value as *mut c_int)
            };
            value
        }

        #[test]
        fn connections_opened_after_registration_have_stable_plans_and_no_mutex() {
            stable_plans_for_new_connections();
            let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
            let name = c":memory:";
            // SAFETY: a valid C string and out pointer; the handle is closed below.
            let rc = unsafe { ffi::sqlite3_open(name.as_ptr(), &mut db) };
            assert_eq!(rc, ffi::SQLITE_OK);
            assert_eq!(qpsg_of(db), 1, "QPSG must be on for a new connection");
            // SAFETY: `db` is open.
            let mutex = unsafe { ffi::sqlite3_db_mutex(db) };
            assert!(mutex.is_null(), "multi-thread mode: a connection has no mutex of its own");
            // SAFETY: `db` was opened above and is not used afterwards.
            unsafe { ffi::sqlite3_close(db) };
        }

        /// The bundled SQLite is built with the flags of `.cargo/config.toml`: a page cache of
        /// its own per connection, without a process-wide lock around every page.
        #[test]
        fn sqlite_is_built_with_a_lock_free_page_cache_per_connection() {
            let used = |option: &std::ffi::CStr| {
                // SAFETY: a valid C string; the function only reads it.
                let used = unsafe { ffi::sqlite3_compileoption_used(option.as_ptr()) };
                used == 1
            };
            assert!(!used(c"ENABLE_MEMORY_MANAGEMENT"), "one page cache shared by all connections, behind one mutex");
            assert!(used(c"DISABLE_PAGECACHE_OVERFLOW_STATS"), "a process-wide mutex around every page allocation");
            assert!(used(c"DEFAULT_PCACHE_INITSZ=0"), "a 20-page block allocated whenever a cache starts empty");
        }
    }
}

/// How SQLite makes a commit durable (`IKZ_SQLITE_SYNCHRONOUS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, strum::EnumString, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum SqliteSynchronous {
    /// `PRAGMA synchronous = FULL`: every acknowledged write survives power loss and an OS crash
    /// (the group commit pays the WAL's fsync once per group, not once per write).
    #[default]
    Full,
    /// `PRAGMA synchronous = NORMAL`: faster writes, but the last acknowledged writes can be lost
    /// on power loss or an OS crash (never on a crash of the service alone). Opt-in only.
    Normal,
}

/// r2d2 manager that opens the backend the URL names, never trying the other one.
#[derive(Clone, Debug)]
pub struct ConnectionManager {
    url: String,
    backend: Backend,
    /// SQLite: bytes of the database file each connection may memory-map (`PRAGMA mmap_size`);
    /// 0, the default, reads through `pread` into SQLite's own page cache.
    sqlite_mmap_bytes: u64,
    /// SQLite: durability of commits.
    sqlite_synchronous: SqliteSynchronous,
    /// PostgreSQL: whether connections keep named prepared statements (off behind PgBouncer in
    /// transaction pooling mode without prepared-statement support).
    pg_statement_cache: bool,
}

impl ConnectionManager {
    /// A manager for the given `DATABASE_URL`.
    pub fn new(url: &str) -> Self {
        let backend = Backend::from_url(url);
        let url = match backend {
            Backend::Sqlite => url.strip_prefix("sqlite://").unwrap_or(url).to_owned(),
            Backend::Postgres => url.to_owned(),
        };
        Self {
            url,
            backend,
            sqlite_mmap_bytes: 0,
            sqlite_synchronous: SqliteSynchronous::Full,
            pg_statement_cache: true,
        }
    }

    /// Sets how SQLite connections make commits durable (`IKZ_SQLITE_SYNCHRONOUS`). Ignored on
    /// PostgreSQL.
    pub fn with_sqlite_synchronous(mut self, mode: SqliteSynchronous) -> Self {
        self.sqlite_synchronous = mode;
        self
    }

    /// Lets each SQLite connection memory-map up to `bytes` of the database file
    /// (`IKZ_SQLITE_MMAP_MB`; see the README for what it gains and what it costs).
    /// Ignored on PostgreSQL.
    pub fn with_sqlite_mmap(mut self, bytes: u64) -> Self {
        self.sqlite_mmap_bytes = bytes;
        self
    }

    /// Whether PostgreSQL connections cache named prepared statements (`IKZ_PG_STATEMENT_CACHE`).
    /// Without the cache every statement is sent with its parameters in one message (unnamed),
    /// which PgBouncer's transaction pooling passes through. Ignored on SQLite.
    pub fn with_pg_statement_cache(mut self, cache: bool) -> Self {
        self.pg_statement_cache = cache;
        self
    }

    /// Opens one connection (used by the pool and by CLI commands).
    pub fn establish(&self) -> Result<AnyConnection, diesel::r2d2::Error> {
        use diesel::r2d2::Error as E;
        match self.backend {
            Backend::Postgres => {
                let mut conn = diesel::PgConnection::establish(&self.url).map_err(E::ConnectionError)?;
                if !self.pg_statement_cache {
                    conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
                }
                Ok(AnyConnection::Pg(conn))
            }
            Backend::Sqlite => {
                sqlite_plans::stable_plans_for_new_connections();
                let mut conn = diesel::SqliteConnection::establish(&self.url).map_err(E::ConnectionError)?;
                // busy_timeout must come first: switching to WAL itself needs the lock.
                let synchronous = match self.sqlite_synchronous {
                    SqliteSynchronous::Full => "FULL",
                    SqliteSynchronous::Normal => "NORMAL",
                };
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON;"
                ))
                .map_err(E::QueryError)?;
                if self.sqlite_mmap_bytes > 0 {
                    conn.batch_execute(&format!("PRAGMA mmap_size = {}", self.sqlite_mmap_bytes))
                        .map_err(E::QueryError)?;
                }
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        self.establish()
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        <AnyConnection as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

/// Builds the pool; fails when the first connection cannot be opened.
pub fn build_pool(manager: ConnectionManager, size: u32) -> Result<DbPool, r2d2::Error> {
    r2d2::Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(1))
        // A broken connection shows itself by failing its query (then `has_broken` drops it);
        // testing each checkout with its own `SELECT 1` would cost a round trip per request.
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(5))
        .build(manager)
}

/// Any failure of a migration run.
pub type MigrationError = Box<dyn std::error::Error + Send + Sync>;

/// Key of the PostgreSQL advisory lock that serialises migrations of instances starting at once.
const MIGRATION_LOCK: i64 = 0x0069_6b7a_6d69_6772;

/// Applies every pending migration of the connection's backend; returns how many ran.
///
/// On PostgreSQL an advisory lock makes instances that start together migrate one after the
/// other (the later ones then find nothing pending).
pub fn run_migrations(conn: &mut AnyConnection) -> Result<usize, MigrationError> {
    let applied = match conn {
        AnyConnection::Pg(c) => {
            // One transaction around them all, under a transaction-scoped lock: a session lock
            // could stay behind on a pooled server connection (PgBouncer), this one ends with
            // the transaction. (Each migration then runs in a savepoint.)
            c.transaction(|c| {
                diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")).execute(c)?;
                c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|v| v.len())
            })?
        }
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS)?.len(),
    };
    Ok(applied)
}

/// Reverts every applied migration (used by the migration round-trip test and `migrate --redo`).
pub fn revert_all_migrations(conn: &mut AnyConnection) -> Result<usize, MigrationError> {
    let reverted = match conn {
        AnyConnection::Pg(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS)?.len(),
        AnyConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS)?.len(),
    };
    Ok(reverted)
}

/// Reverts the newest applied migrations down to and including `version` (e.g.
/// `2026-12-07-000003`); returns how many. For the tests of what a migration does to stored data.
pub fn revert_down_to(conn: &mut AnyConnection, version: &str) -> Result<usize, MigrationError> {
    let wanted = version.replace('-', "");
    let mut reverted = 0;
    loop {
        let applied = match conn {
            AnyConnection::Pg(c) => c.applied_migrations()?,
            AnyConnection::Sqlite(c) => c.applied_migrations()?,
        };
        if !applied.iter().any(|v| v.to_string().replace('-', "") == wanted) {
            return Ok(reverted);
        }
        match conn {
            AnyConnection::Pg(c) => c.revert_last_migration(POSTGRES_MIGRATIONS).map(|_| ())?,
            AnyConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS).map(|_| ())?,
        }
        reverted += 1;
    }
}

/// True when migrations are still pending (readiness check).
pub fn has_pending_migrations(conn: &mut AnyConnection) -> Result<bool, MigrationError> {
    Ok(match conn {
        AnyConnection::Pg(c) => c.has_pending_migration(POSTGRES_MIGRATIONS)?,
        AnyConnection::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS)?,
    })
}

/// Runs `f` in one write transaction: committed when it returns `Ok`, rolled back otherwise.
///
/// On SQLite the transaction starts with `BEGIN IMMEDIATE` (diesel's default `BEGIN` would take
/// the write lock late and fail with SQLITE_BUSY instead of waiting when two writers meet).
pub fn write<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    if !matches!(conn, AnyConnection::Sqlite(_)) {
        return conn.transaction(f);
    }
    on_sqlite(conn, |c| AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"))?;
    match f(conn) {
        Ok(value) => match on_sqlite(conn, AnsiTransactionManager::commit_transaction) {
            Ok(()) => Ok(value),
            Err(err) => {
                let _ = on_sqlite(conn, AnsiTransactionManager::rollback_transaction);
                Err(err.into())
            }
        },
        Err(err) => {
            on_sqlite(conn, AnsiTransactionManager::rollback_transaction)?;
            Err(err)
        }
    }
}

fn on_sqlite(
    conn: &mut AnyConnection,
    op: impl FnOnce(&mut diesel::SqliteConnection) -> diesel::QueryResult<()>,
) -> diesel::QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => op(c),
        AnyConnection::Pg(_) => Ok(()),
    }
}

/// Tables whose rows [`lock_row`] may lock.
#[derive(Clone, Copy, Debug)]
pub enum Locked {
    Partners,
    Fields,
    Cooperations,
    Contacts,
    Measures,
    Users,
    Webhooks,
    WorkingGroups,
    Events,
}

/// Locks one row for the rest of the write transaction, so that concurrent changes of the same
/// record wait for each other instead of one failing. PostgreSQL: `SELECT … FOR UPDATE`; SQLite
/// needs nothing, as its writes already run one at a time ([`group_commit`]).
pub fn lock_row(conn: &mut AnyConnection, table: Locked, id: i64) -> diesel::QueryResult<()> {
    let AnyConnection::Pg(pg) = conn else { return Ok(()) };
    let table = match table {
        Locked::Partners => "partners",
        Locked::Fields => "fields",
        Locked::Cooperations => "cooperations",
        Locked::Contacts => "contacts",
        Locked::Measures => "measures",
        Locked::Users => "users",
        Locked::Webhooks => "webhooks",
        Locked::WorkingGroups => "working_groups",
        Locked::Events => "events",
    };
    diesel::sql_query(format!("SELECT id FROM {table} WHERE id = $1 FOR UPDATE"))
        .bind::<diesel::sql_types::BigInt, _>(id)
        .execute(pg)
        .map(|_| ())
}

/// Dispatches one expression to the concrete connection: for SQL that `AnyConnection` cannot
/// express generically (e.g. `INSERT … RETURNING`), and for queries on hot paths. Through
/// `AnyConnection` diesel renders a query's SQL text up to three times per run (for the cache
/// check, the statement and the binds); on the concrete connection a cached statement is found by
/// its type, without rendering (measured: benches/RESULTS.md, fourth round).
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Pg($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}

/// Reads a closed set of values stored as text into its enum: `#[diesel(deserialize_as = String)]`
/// on the row's field. A stored value the enum does not know fails the read (an error, never a
/// silent fallback to some other value).
#[macro_export]
macro_rules! stored_enum {
    ($($ty:ty),+ $(,)?) => {$(
        impl TryFrom<String> for $ty {
            type Error = String;
            fn try_from(stored: String) -> Result<Self, String> {
                stored.parse().map_err(|_| format!("unknown stored {} {stored:?}", stringify!($ty)))
            }
        }
    )+};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_pool_defaults_to_two_connections_per_core() {
        assert_eq!(Backend::Postgres.default_pool_size(1), 2);
        assert_eq!(Backend::Postgres.default_pool_size(2), 4);
        assert_eq!(Backend::Postgres.default_pool_size(16), 32);
        assert_eq!(Backend::Sqlite.default_pool_size(2), 8, "SQLite connections are not processes");
    }

    fn mmap_size(conn: &mut AnyConnection) -> i64 {
        #[derive(QueryableByName)]
        struct Size {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            mmap_size: i64,
        }
        diesel::sql_query("PRAGMA mmap_size").get_result::<Size>(conn).unwrap().mmap_size
    }

    #[test]
    fn sqlite_connections_map_the_file_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("mapped.db").to_string_lossy().into_owned();
        let plain = ConnectionManager::new(&url);
        assert_eq!(mmap_size(&mut plain.establish().unwrap()), 0, "off by default");
        let mapped = plain.clone().with_sqlite_mmap(64 * 1024 * 1024);
        let mut conn = mapped.establish().unwrap();
        assert_eq!(mmap_size(&mut conn), 64 * 1024 * 1024);
        // The mapped connection reads what another connection wrote.
        plain.establish().unwrap().batch_execute("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (42);").unwrap();
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        assert_eq!(diesel::sql_query("SELECT n FROM t").get_result::<N>(&mut conn).unwrap().n, 42);
    }
}
