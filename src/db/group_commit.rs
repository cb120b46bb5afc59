//! SQLite writes through one writer thread that commits them in groups.
//!
//! SQLite has one writer at a time. Instead of every request taking the write lock, beginning,
//! committing and handing the lock to the next (a thread switch per write), requests queue their
//! write as a job. One thread runs the jobs in arrival order inside one transaction, each in its
//! own savepoint, and commits the group when the queue is empty or the group is full:
//! - a job that fails is rolled back to its savepoint and answered at once; the others are not
//!   touched by it;
//! - a job that succeeds is answered only after the group's COMMIT, so every acknowledged write
//!   is durable as any single transaction would be; if the COMMIT fails, every job of the group
//!   gets the error and none of them was acknowledged;
//! - a panicking job is rolled back like a failed one and answered with a 500.
//!
//! Pages that several writes of a group touch (the table's last leaf, the history, the indexes
//! on time) go to the write-ahead log once per group instead of once per write.

use std::panic::{AssertUnwindSafe, catch_unwind};

use diesel::QueryResult;
use diesel::SqliteConnection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use tokio::sync::{mpsc, oneshot};

use super::{AnyConnection, ConnectionManager};
use crate::error::AppError;

/// Most jobs in one transaction: bounds how long an early job waits for the group's COMMIT.
const MAX_GROUP: usize = 64;
/// Jobs waiting beyond this make callers wait before queueing (back-pressure, bounded memory).
const QUEUE_CAPACITY: usize = 1024;

/// Handle to the writer thread; cheap to share. The thread ends when every handle is gone.
#[derive(Clone)]
pub struct GroupCommitWriter {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl GroupCommitWriter {
    /// Opens the writer's own connection and starts its thread.
    pub fn start(manager: ConnectionManager) -> Result<Self, diesel::r2d2::Error> {
        let conn = manager.establish()?;
        let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || Writer { manager, conn }.run(queue))
            .map_err(|e| diesel::r2d2::Error::ConnectionError(diesel::ConnectionError::BadConnection(e.to_string())))?;
        Ok(Self { jobs })
    }

    /// Whether the writer thread still takes jobs (readiness).
    pub fn is_running(&self) -> bool {
        !self.jobs.is_closed()
    }

    /// Runs `f` in the next group; resolves once the group is committed (or `f` failed).
    pub async fn write<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(TypedJob { f, reply }))
            .await
            .map_err(|_| AppError::Unavailable("the database writer has stopped; retry the request".into()))?;
        answer.await.unwrap_or_else(|_| Err(AppError::Internal("the write failed unexpectedly (see the log)".into())))
    }
}

/// A queued write, its result type erased.
trait Job: Send {
    /// Runs the write; `Some` to keep its changes (and answer after the commit), `None` when it
    /// failed and was answered already.
    fn run(self: Box<Self>, conn: &mut AnyConnection) -> Option<Box<dyn Completion>>;
    /// Answers without running (the group could not begin).
    fn fail(self: Box<Self>, err: AppError);
}

/// A write that succeeded and waits for its group's COMMIT.
trait Completion: Send {
    fn finish(self: Box<Self>, committed: Result<(), AppError>);
}

struct TypedJob<T, F> {
    f: F,
    reply: oneshot::Sender<Result<T, AppError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut AnyConnection) -> Option<Box<dyn Completion>> {
        let TypedJob { f, reply } = *self;
        match f(conn) {
            Ok(value) => Some(Box::new(Done { value, reply })),
            Err(err) => {
                let _ = reply.send(Err(err));
                None
            }
        }
    }

    fn fail(self: Box<Self>, err: AppError) {
        let _ = self.reply.send(Err(err));
    }
}

struct Done<T> {
    value: T,
    reply: oneshot::Sender<Result<T, AppError>>,
}

impl<T: Send> Completion for Done<T> {
    fn finish(self: Box<Self>, committed: Result<(), AppError>) {
        let Done { value, reply } = *self;
        let _ = reply.send(committed.map(|()| value));
    }
}

struct Writer {
    manager: ConnectionManager,
    conn: AnyConnection,
}

/// How long the writer waits for another process's write lock before writes fail.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

impl Writer {
    fn run(mut self, mut queue: mpsc::Receiver<Box<dyn Job>>) {
        while let Some(first) = queue.blocking_recv() {
            if let Err(err) = self.begin() {
                first.fail(err);
                continue;
            }
            let mut done = Vec::new();
            let mut next = Some(first);
            let mut taken = 0;
            let mut intact = true;
            while let Some(job) = next.take() {
                taken += 1;
                if let Some(completion) = self.run_in_savepoint(job) {
                    done.push(completion);
                }
                // Back in the group's own transaction? A write that panicked inside a nested
                // transaction of its own can leave a savepoint open that its rollback did not close.
                if self.depth() != Some(1) {
                    intact = false;
                    break;
                }
                if taken < MAX_GROUP {
                    next = queue.try_recv().ok();
                }
            }
            let committed = if intact { self.commit() } else { Err(self.abandon()) };
            for completion in done {
                completion.finish(committed.clone().map_err(AppError::Internal));
            }
        }
    }

    /// `BEGIN IMMEDIATE`: takes SQLite's write lock. While another process holds it (an
    /// `ikz-api import` of many rows, a migration), each try waits out `busy_timeout` and the
    /// next one follows, for up to [`LOCK_WAIT`]: writes arriving meanwhile wait, they do not fail.
    fn begin(&mut self) -> Result<(), AppError> {
        self.ensure_usable();
        let started = std::time::Instant::now();
        loop {
            let begun = self.on_sqlite(|c| AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"));
            match begun {
                Err(diesel::result::Error::DatabaseError(_, info))
                    if info.message().contains("locked") && started.elapsed() < LOCK_WAIT =>
                {
                    log::warn!("SQLite writer: another process holds the write lock; writes wait for it");
                }
                other => return other.map_err(AppError::from),
            }
        }
    }

    /// Runs one job between `SAVEPOINT` and `RELEASE`, or rolls it back to the savepoint.
    fn run_in_savepoint(&mut self, job: Box<dyn Job>) -> Option<Box<dyn Completion>> {
        if let Err(err) = self.on_sqlite(AnsiTransactionManager::begin_transaction) {
            job.fail(err.into());
            return None;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run(&mut self.conn)));
        match outcome {
            Ok(Some(completion)) => match self.on_sqlite(AnsiTransactionManager::commit_transaction) {
                Ok(()) => Some(completion),
                Err(err) => {
                    log::error!("SQLite writer: cannot release a savepoint: {err}");
                    self.roll_back_job();
                    completion.finish(Err(AppError::Internal(format!("database error: {err}"))));
                    None
                }
            },
            Ok(None) => {
                self.roll_back_job();
                None
            }
            Err(_) => {
                log::error!("SQLite writer: a write panicked; it was rolled back and answered with 500");
                self.roll_back_job();
                None
            }
        }
    }

    fn roll_back_job(&mut self) {
        if let Err(err) = self.on_sqlite(AnsiTransactionManager::rollback_transaction) {
            log::error!("SQLite writer: cannot roll back to a savepoint: {err}");
        }
    }

    /// Commits the group; on failure rolls it back and returns why.
    fn commit(&mut self) -> Result<(), String> {
        match self.on_sqlite(AnsiTransactionManager::commit_transaction) {
            Ok(()) if self.depth().is_none() => Ok(()),
            Ok(()) => Err(self.abandon()),
            Err(err) => {
                log::error!("SQLite writer: COMMIT failed, the group is rolled back: {err}");
                let _ = self.on_sqlite(AnsiTransactionManager::rollback_transaction);
                Err(format!("the write could not be committed: {err}"))
            }
        }
    }

    /// Gives the group up: a new connection, so that SQLite rolls back all of it on closing the
    /// old one. Returns the error every write of the group is answered with.
    fn abandon(&mut self) -> String {
        log::error!("SQLite writer: a write left the transaction in an unknown state; the group is rolled back");
        match self.manager.establish() {
            Ok(conn) => self.conn = conn,
            Err(err) => log::error!("SQLite writer: cannot reopen the database: {err}"),
        }
        "the write was rolled back with others of its group after an unexpected failure; retry".into()
    }

    /// How deep in transactions the connection is (`None`: in none).
    fn depth(&mut self) -> Option<u32> {
        match &mut self.conn {
            AnyConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .map(|depth| depth.map(|d| d.get()))
                // A transaction manager in error: in an unknown transaction, never "in none".
                .unwrap_or(Some(u32::MAX)),
            AnyConnection::Pg(_) => None,
        }
    }

    fn on_sqlite(&mut self, op: impl FnOnce(&mut SqliteConnection) -> QueryResult<()>) -> QueryResult<()> {
        super::on_sqlite(&mut self.conn, op)
    }

    /// Replaces the connection if a failure left it inside a transaction.
    fn ensure_usable(&mut self) {
        if self.depth().is_none() {
            return;
        }
        log::warn!("SQLite writer: the connection was left in a transaction; opening a new one");
        match self.manager.establish() {
            Ok(conn) => self.conn = conn,
            Err(err) => log::error!("SQLite writer: cannot reopen the database: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;

    use super::*;

    impl GroupCommitWriter {
        /// Jobs waiting in the queue.
        fn queued(&self) -> usize {
            QUEUE_CAPACITY - self.jobs.capacity()
        }
    }

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn insert(conn: &mut AnyConnection, n: i64) -> Result<(), AppError> {
        diesel::sql_query(format!("INSERT INTO t (n) VALUES ({n})")).execute(conn)?;
        Ok(())
    }

    /// A writer on a fresh database with one table `t (n)`.
    fn writer_on_fresh_table() -> (tempfile::TempDir, ConnectionManager, GroupCommitWriter) {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("group.db").to_string_lossy().into_owned();
        let manager = ConnectionManager::new(&url);
        manager.establish().unwrap().batch_execute("CREATE TABLE t (n INTEGER PRIMARY KEY)").unwrap();
        let writer = GroupCommitWriter::start(manager.clone()).unwrap();
        (dir, manager, writer)
    }

    /// Queues a first write (inserting 0) that holds the writer until `release` is sent, so that
    /// the writes queued meanwhile share its group.
    async fn hold(
        writer: &GroupCommitWriter,
    ) -> (tokio::task::JoinHandle<Result<(), AppError>>, std::sync::mpsc::Sender<()>) {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let (started, running) = std::sync::mpsc::channel::<()>();
        let first = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .write(move |c| {
                        started.send(()).unwrap();
                        hold.recv().unwrap();
                        insert(c, 0)
                    })
                    .await
            }
        });
        while running.try_recv().is_err() {
            tokio::task::yield_now().await;
        }
        (first, release)
    }

    fn stored(manager: &ConnectionManager) -> Vec<i64> {
        let rows: Vec<Count> =
            diesel::sql_query("SELECT n AS n FROM t ORDER BY n").load(&mut manager.establish().unwrap()).unwrap();
        rows.into_iter().map(|c| c.n).collect()
    }

    /// The durability the writer commits with: `FULL` unless `normal` is asked for.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_commits_with_full_durability_unless_told_otherwise() {
        #[derive(diesel::QueryableByName)]
        struct Synchronous {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            synchronous: i32,
        }
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("durable.db").to_string_lossy().into_owned();
        for (mode, expected) in [(None, 2), (Some(crate::db::SqliteSynchronous::Normal), 1)] {
            let manager = match mode {
                None => ConnectionManager::new(&url),
                Some(mode) => ConnectionManager::new(&url).with_sqlite_synchronous(mode),
            };
            let writer = GroupCommitWriter::start(manager).unwrap();
            let read = writer
                .write(|c| Ok(diesel::sql_query("PRAGMA synchronous").get_result::<Synchronous>(c)?.synchronous))
                .await
                .unwrap();
            assert_eq!(read, expected, "{mode:?}: 2 is FULL, 1 is NORMAL");
        }
        assert_eq!("Normal".parse::<crate::db::SqliteSynchronous>().unwrap(), crate::db::SqliteSynchronous::Normal);
        assert!("off".parse::<crate::db::SqliteSynchronous>().is_err(), "only full and normal are offered");
    }

    /// Failed, panicking and successful writes in one group: only the successful ones remain,
    /// each caller gets its own answer, and the writer goes on afterwards.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_in_a_group_takes_nothing_else_with_it() {
        let (_dir, manager, writer) = writer_on_fresh_table();
        let (first, release) = hold(&writer).await;
        let mut jobs = Vec::new();
        for n in 1..=30i64 {
            let writer = writer.clone();
            jobs.push(tokio::spawn(async move {
                writer
                    .write(move |c| {
                        insert(c, n)?;
                        match n % 3 {
                            0 => Err(AppError::Conflict(format!("job {n} refuses after writing"))),
                            1 if n == 7 => panic!("job {n} panics after writing"),
                            _ => Ok(n),
                        }
                    })
                    .await
            }));
        }
        while writer.queued() < 30 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        for (n, job) in (1..=30i64).zip(jobs) {
            match (n % 3, job.await.unwrap()) {
                (0, Err(AppError::Conflict(_))) => {}
                (1, Err(AppError::Internal(_))) if n == 7 => {}
                (_, Ok(got)) => assert_eq!(got, n),
                (_, other) => panic!("job {n} answered {other:?}"),
            }
        }

        let expected: Vec<i64> = (0..=30).filter(|n| n % 3 != 0 && *n != 7 || *n == 0).collect();
        assert_eq!(stored(&manager), expected);

        writer.write(|c| insert(c, 100)).await.unwrap();
        assert_eq!(stored(&manager).last(), Some(&100), "the writer goes on after a panic");
    }

    /// A write that panics inside a nested transaction of its own leaves the group's state
    /// unknown: the whole group is rolled back, and no write of it is reported as stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_breaks_the_transaction_takes_its_group_back_unacknowledged() {
        let (_dir, manager, writer) = writer_on_fresh_table();
        let (first, release) = hold(&writer).await;
        let breaking = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .write(|c| {
                        insert(c, 1)?;
                        diesel::Connection::transaction::<(), AppError, _>(c, |c| {
                            insert(c, 2)?;
                            panic!("a panic inside a nested transaction")
                        })
                    })
                    .await
            }
        });
        while writer.queued() < 1 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        assert!(matches!(first.await.unwrap(), Err(AppError::Internal(_))), "not acknowledged");
        assert!(matches!(breaking.await.unwrap(), Err(AppError::Internal(_))));
        assert_eq!(stored(&manager), Vec::<i64>::new());

        writer.write(|c| insert(c, 100)).await.unwrap();
        assert_eq!(stored(&manager), [100], "the writer goes on with a new connection");
    }
}
