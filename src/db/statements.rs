//! Hand-tuned statements: shapes of SQL that stay prepared where diesel would walk or prepare a
//! query anew on every run. A model declares its own with these macros (so each gets its own
//! cache id) and runs them like any diesel query; what makes them fast is written once, here.
//! (Why and by how much: benches/RESULTS.md, "Figures that were code comments".)

/// Declares `$name`, `SELECT <the columns of $row> FROM $table WHERE id = ?` as a statement whose
/// SQL is rendered once per backend (diesel's own rendering of `$row::as_select()`) and whose one
/// bind is found without walking the query. Run it with
/// `$crate::db::run_find_by_id!(conn, $name, id)`.
#[macro_export]
macro_rules! find_by_id_statement {
    ($name:ident, $row:ty, $table:expr) => {
        struct $name<DB> {
            id: i64,
            backend: std::marker::PhantomData<DB>,
        }

        impl<DB> $name<DB> {
            fn new(id: i64) -> Self {
                Self { id, backend: std::marker::PhantomData }
            }
        }

        const _: () = {
            use diesel::query_builder::{AstPass, QueryBuilder, QueryFragment, QueryId};
            use diesel::{Expression, QueryResult, RunQueryDsl, SelectableHelper, query_dsl::methods::SelectDsl};

            /// The cache id: the SQL never changes (each backend's connections cache their own).
            struct Id;

            impl<DB> QueryId for $name<DB> {
                type QueryId = Id;
                const HAS_STATIC_QUERY_ID: bool = true;
            }

            impl<DB: diesel::backend::Backend> diesel::query_builder::Query for $name<DB>
            where
                diesel::helper_types::AsSelect<$row, DB>: Expression,
            {
                type SqlType = <diesel::helper_types::AsSelect<$row, DB> as Expression>::SqlType;
            }

            impl<DB, Conn> RunQueryDsl<Conn> for $name<DB> {}

            impl QueryFragment<diesel::pg::Pg> for $name<diesel::pg::Pg> {
                fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::pg::Pg>) -> QueryResult<()> {
                    static SELECT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                    let select = match SELECT.get() {
                        Some(select) => select,
                        None => {
                            let mut builder = diesel::pg::PgQueryBuilder::new();
                            let all =
                                SelectDsl::select($table, <$row as SelectableHelper<diesel::pg::Pg>>::as_select());
                            QueryFragment::<diesel::pg::Pg>::to_sql(&all, &mut builder, &diesel::pg::Pg::default())?;
                            SELECT.get_or_init(|| builder.finish())
                        }
                    };
                    out.push_sql(select);
                    out.push_sql(" WHERE ");
                    out.push_identifier("id")?;
                    out.push_sql(" = ");
                    out.push_bind_param::<diesel::sql_types::BigInt, i64>(&self.id)
                }
            }

            impl QueryFragment<diesel::sqlite::Sqlite> for $name<diesel::sqlite::Sqlite> {
                fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::sqlite::Sqlite>) -> QueryResult<()> {
                    static SELECT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                    let select = match SELECT.get() {
                        Some(select) => select,
                        None => {
                            let mut builder = diesel::sqlite::SqliteQueryBuilder::new();
                            let all = SelectDsl::select(
                                $table,
                                <$row as SelectableHelper<diesel::sqlite::Sqlite>>::as_select(),
                            );
                            QueryFragment::<diesel::sqlite::Sqlite>::to_sql(
                                &all,
                                &mut builder,
                                &diesel::sqlite::Sqlite::default(),
                            )?;
                            SELECT.get_or_init(|| builder.finish())
                        }
                    };
                    out.push_sql(select);
                    out.push_sql(" WHERE ");
                    out.push_identifier("id")?;
                    out.push_sql(" = ");
                    out.push_bind_param::<diesel::sql_types::BigInt, i64>(&self.id)
                }
            }
        };
    };
}

/// Runs a statement declared with [`find_by_id_statement!`] on the concrete connection:
/// `Ok(None)` when no row has the id.
#[macro_export]
macro_rules! run_find_by_id {
    ($conn:expr, $name:ident, $id:expr) => {{
        use diesel::{OptionalExtension, RunQueryDsl};
        match $conn {
            $crate::db::AnyConnection::Pg(c) => $name::<diesel::pg::Pg>::new($id).get_result(c).optional(),
            $crate::db::AnyConnection::Sqlite(c) => $name::<diesel::sqlite::Sqlite>::new($id).get_result(c).optional(),
        }
    }};
}

/// Declares `$name`, `UPDATE $table SET <changeset> WHERE <filter>` as a statement that stays
/// prepared. Diesel prepares every `UPDATE` anew, because a changeset may leave out `None` fields
/// and so change its SQL; for a changeset that sets every column (`treat_none_as_null`) the SQL
/// never changes, and one cache id per declaration is right. Only for such changesets.
#[macro_export]
macro_rules! replace_columns_statement {
    ($name:ident, $table:literal) => {
        struct $name<S, W> {
            set: S,
            filter: W,
        }

        const _: () = {
            use diesel::query_builder::{AstPass, QueryFragment, QueryId};

            struct Id;

            impl<S, W> QueryId for $name<S, W> {
                type QueryId = Id;
                const HAS_STATIC_QUERY_ID: bool = true;
            }

            impl<DB: diesel::backend::Backend, S: QueryFragment<DB>, W: QueryFragment<DB>> QueryFragment<DB>
                for $name<S, W>
            {
                fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
                    out.push_sql("UPDATE ");
                    out.push_identifier($table)?;
                    out.push_sql(" SET ");
                    self.set.walk_ast(out.reborrow())?;
                    out.push_sql(" WHERE ");
                    self.filter.walk_ast(out.reborrow())
                }
            }

            impl<S, W, Conn> diesel::RunQueryDsl<Conn> for $name<S, W> {}
        };
    };
}

use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use super::{AnyConnection, Timestamp};

/// Counts one attempt for `key` in the login throttle, in one upsert: a fresh window (one
/// attempt) when the stored window started before `window_ends_before`, else one more attempt
/// in it. Returns the attempts in the window and when it started. (PostgreSQL holds the row
/// lock until the transaction ends; SQLite writes one at a time: parallel attempts are counted
/// one after the other.)
pub fn count_attempt(
    conn: &mut AnyConnection,
    key: &str,
    now: Timestamp,
    window_ends_before: Timestamp,
) -> QueryResult<(i32, Timestamp)> {
    #[derive(QueryableByName)]
    struct Counted {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        failures: i32,
        #[diesel(sql_type = diesel::sql_types::Timestamp)]
        window_start: Timestamp,
    }
    const UPSERT: &str = "INSERT INTO login_failures (key, failures, window_start) VALUES ($1, 1, $2) \
        ON CONFLICT (key) DO UPDATE SET \
        failures = CASE WHEN login_failures.window_start > $3 THEN login_failures.failures + 1 ELSE 1 END, \
        window_start = CASE WHEN login_failures.window_start > $3 THEN login_failures.window_start ELSE $2 END \
        RETURNING failures, window_start";
    let counted: Counted = crate::per_backend!(conn, |c| diesel::sql_query(UPSERT)
        .bind::<diesel::sql_types::Text, _>(key)
        .bind::<diesel::sql_types::Timestamp, _>(now)
        .bind::<diesel::sql_types::Timestamp, _>(window_ends_before)
        .get_result(c))?;
    Ok((counted.failures, counted.window_start))
}

/// After a bulk load of measures: fills `measure_partners` from `measures.partner_ids` in one
/// statement. PostgreSQL's row trigger would rewrite each measure to copy back what it already
/// holds (three times slower), so it is off for this one statement, inside the transaction.
pub fn copy_measure_partners(conn: &mut AnyConnection) -> QueryResult<()> {
    let pg = matches!(conn, AnyConnection::Pg(_));
    if pg {
        diesel::sql_query("ALTER TABLE measure_partners DISABLE TRIGGER measure_partners_sync").execute(conn)?;
    }
    diesel::sql_query(
        "INSERT INTO measure_partners (measure_id, partner_id) \
         SELECT id, CAST(partner_ids AS BIGINT) FROM measures WHERE partner_ids IS NOT NULL",
    )
    .execute(conn)?;
    if pg {
        diesel::sql_query("ALTER TABLE measure_partners ENABLE TRIGGER measure_partners_sync").execute(conn)?;
    }
    Ok(())
}

/// Gathers planner statistics now (PostgreSQL; SQLite needs none), as after any bulk load;
/// otherwise autovacuum gathers them during the first minutes of use.
pub fn analyze(conn: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Pg(pg) = conn {
        diesel::sql_query("ANALYZE").execute(pg)?;
    }
    Ok(())
}

/// Takes the transaction-scoped lock of one idempotency key without waiting (PostgreSQL); `false`
/// when a request with that key is still running in another transaction. SQLite's single
/// writer runs one write at a time, so there it is always `true`.
pub fn try_lock_idempotency_key(conn: &mut AnyConnection, scope_and_key: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    match conn {
        AnyConnection::Pg(pg) => diesel::sql_query(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('ikz-idempotency:' || $1, 0)) AS locked",
        )
        .bind::<diesel::sql_types::Text, _>(scope_and_key)
        .get_result::<Locked>(pg)
        .map(|l| l.locked),
        AnyConnection::Sqlite(_) => Ok(true),
    }
}

/// One row of the change feed, as `crate::changes` writes it.
pub struct NewChange<'a> {
    pub resource: &'a str,
    pub record_id: i64,
    pub op: &'a str,
    pub at: Timestamp,
    pub etag: Option<&'a str>,
    pub actor: &'a str,
}

/// Inserts a change row so that change numbers follow commit order. On PostgreSQL the row is
/// inserted in the same statement that first takes the feed's transaction-scoped advisory lock
/// (held until commit or rollback, safe behind PgBouncer in transaction mode): its number is drawn
/// only once every earlier writer has committed. One round trip, not two. SQLite needs no lock:
/// its writer is single.
pub fn insert_change(conn: &mut AnyConnection, change: NewChange<'_>) -> QueryResult<()> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    /// The lock's key: "ikzfeed" in ASCII, so it is recognisable in `pg_locks`.
    const FEED_LOCK: i64 = 0x0069_6b7a_6665_6564;
    match conn {
        AnyConnection::Pg(pg) => diesel::sql_query(
            "INSERT INTO changes (resource, record_id, op, at, etag, actor) \
             SELECT $1, $2, $3, $4, $5, $6 FROM (SELECT pg_advisory_xact_lock($7)) AS feed_lock",
        )
        .bind::<Text, _>(change.resource)
        .bind::<BigInt, _>(change.record_id)
        .bind::<Text, _>(change.op)
        .bind::<diesel::sql_types::Timestamp, _>(change.at)
        .bind::<Nullable<Text>, _>(change.etag)
        .bind::<Text, _>(change.actor)
        .bind::<BigInt, _>(FEED_LOCK)
        .execute(pg)
        .map(|_| ()),
        AnyConnection::Sqlite(sqlite) => {
            use super::schema::changes;
            use diesel::ExpressionMethods;
            let row = (
                changes::resource.eq(change.resource),
                changes::record_id.eq(change.record_id),
                changes::op.eq(change.op),
                changes::at.eq(change.at),
                changes::etag.eq(change.etag),
                changes::actor.eq(change.actor),
            );
            diesel::insert_into(changes::table).values(row).execute(sqlite).map(|_| ())
        }
    }
}

/// Inserts the change rows of many records of one resource at one instant (a page the council
/// sync wrote), in the given order: on PostgreSQL in one statement that takes the feed's lock as
/// [`insert_change`] does; on SQLite row by row (its single writer needs no lock, and a local
/// insert costs no round trip).
pub fn insert_changes(
    conn: &mut AnyConnection,
    resource: &str,
    rows: &[(i64, &str, Option<String>)],
    at: Timestamp,
    actor: &str,
) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text};
    const FEED_LOCK: i64 = 0x0069_6b7a_6665_6564;
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        AnyConnection::Pg(pg) => {
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let ops: Vec<&str> = rows.iter().map(|r| r.1).collect();
            let etags: Vec<Option<&str>> = rows.iter().map(|r| r.2.as_deref()).collect();
            diesel::sql_query(
                "INSERT INTO changes (resource, record_id, op, at, etag, actor) \
                 SELECT $1, r.id, r.op, $2, r.etag, $3 \
                 FROM (SELECT pg_advisory_xact_lock($4)) AS feed_lock, \
                      unnest($5::bigint[], $6::text[], $7::text[]) WITH ORDINALITY AS r(id, op, etag, n) \
                 ORDER BY r.n",
            )
            .bind::<Text, _>(resource)
            .bind::<diesel::sql_types::Timestamp, _>(at)
            .bind::<Text, _>(actor)
            .bind::<BigInt, _>(FEED_LOCK)
            .bind::<Array<BigInt>, _>(ids)
            .bind::<Array<Text>, _>(ops)
            .bind::<Array<Nullable<Text>>, _>(etags)
            .execute(pg)
            .map(|_| ())
        }
        AnyConnection::Sqlite(_) => {
            for (record_id, op, etag) in rows {
                let change = NewChange { resource, record_id: *record_id, op, at, etag: etag.as_deref(), actor };
                insert_change(conn, change)?;
            }
            Ok(())
        }
    }
}

/// Stores a setting, replacing its value.
pub fn set_setting(conn: &mut AnyConnection, key: &str, value: &str) -> QueryResult<()> {
    use super::schema::settings;
    use diesel::ExpressionMethods;
    let insert = diesel::insert_into(settings::table).values((settings::key.eq(key), settings::value.eq(value)));
    crate::per_backend!(&mut *conn, |c| insert
        .on_conflict(settings::key)
        .do_update()
        .set(settings::value.eq(value))
        .execute(c))?;
    Ok(())
}

/// Whether the current transaction still takes statements: PostgreSQL ends a transaction at the
/// first statement the database refuses (SQLite does not). One round trip; for after a failure.
pub fn transaction_usable(conn: &mut AnyConnection) -> bool {
    diesel::sql_query("SELECT 1").execute(conn).is_ok()
}

/// Page cache (KiB) of a connection while it runs one large write, such as an import: SQLite's
/// default of 2 MiB spills the dirty pages of a big transaction to the WAL again and again
/// before it commits; with room for them each page is written once, at the commit.
const LARGE_WRITE_CACHE_KIB: i64 = 256 * 1024;

/// Runs `f` with a page cache big enough for a large write on SQLite (the cache only grows as
/// far as the write needs), and the connection's usual cache again afterwards. PostgreSQL keeps
/// its buffers on the server: `f` runs as it is.
pub fn with_large_write_cache<T>(conn: &mut AnyConnection, f: impl FnOnce(&mut AnyConnection) -> T) -> T {
    #[derive(diesel::QueryableByName)]
    struct CacheSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        cache_size: i64,
    }
    if !matches!(conn, AnyConnection::Sqlite(_)) {
        return f(conn);
    }
    let before = diesel::sql_query("PRAGMA cache_size").get_result::<CacheSize>(conn).map(|c| c.cache_size);
    let raised = diesel::sql_query(format!("PRAGMA cache_size = -{LARGE_WRITE_CACHE_KIB}")).execute(conn).is_ok();
    let result = f(conn);
    if let (true, Ok(before)) = (raised, before) {
        let _ = diesel::sql_query(format!("PRAGMA cache_size = {before}")).execute(conn);
    }
    result
}
