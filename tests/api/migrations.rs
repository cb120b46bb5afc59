use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use ikz_api::db::{self, ConnectionManager};

use crate::helpers::TestDb;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn partner_count(conn: &mut db::AnyConnection) -> Result<i64, diesel::result::Error> {
    diesel::sql_query("SELECT COUNT(*) AS n FROM partners").get_result::<Count>(conn).map(|c| c.n)
}

#[test]
fn every_migration_runs_up_down_and_up_again() {
    let test_db = TestDb::new();
    let mut conn = ConnectionManager::new(&test_db.url()).establish().expect("connect");

    let applied = db::run_migrations(&mut conn).expect("first up");
    assert!(applied > 0);
    assert!(!db::has_pending_migrations(&mut conn).unwrap());
    assert_eq!(partner_count(&mut conn).unwrap(), 0);

    let reverted = db::revert_all_migrations(&mut conn).expect("down");
    assert_eq!(reverted, applied);
    assert!(db::has_pending_migrations(&mut conn).unwrap());
    assert!(partner_count(&mut conn).is_err(), "the partners table should be gone after down");

    assert_eq!(db::run_migrations(&mut conn).expect("second up"), applied);
    assert_eq!(partner_count(&mut conn).unwrap(), 0);
}

#[test]
fn migration_folders_have_the_same_names_for_both_backends() {
    let names = |dir: &str| {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names("migrations/sqlite"), names("migrations/postgres"));
}

#[test]
fn the_database_itself_enforces_references() {
    use diesel::result::{DatabaseErrorKind, Error};
    let test_db = TestDb::new();
    let mut conn = ConnectionManager::new(&test_db.url()).establish().expect("connect");
    db::run_migrations(&mut conn).expect("migrations");
    let now = "'2026-11-21 00:00:00'";
    let orphans = [
        format!(
            "INSERT INTO cooperation_members (cooperation_id, partner_id, role, created_at) VALUES (999, 999, 'member', {now})"
        ),
        format!(
            "INSERT INTO contacts (partner_id, name, name_folded, created_at, updated_at) VALUES (999, 'X', 'x', {now}, {now})"
        ),
        format!(
            "INSERT INTO measures (cooperation_id, field_id, title, title_folded, status, priority_rank, planned_end_rank, \
             progress, council_refs, created_at, updated_at) VALUES (999, 1, 'X', 'x', 'idea', -1, '9999-12-31', 0, '[]', {now}, {now})"
        ),
    ];
    for sql in orphans {
        let refused = diesel::sql_query(&sql).execute(&mut conn);
        assert!(
            matches!(refused, Err(Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _))),
            "{sql}: {refused:?}"
        );
    }
    let bad_status = format!(
        "INSERT INTO cooperations (name, name_folded, status, created_at, updated_at) VALUES ('X', 'x', 'dreaming', {now}, {now})"
    );
    assert!(diesel::sql_query(bad_status).execute(&mut conn).is_err(), "CHECK constraints hold too");
}
