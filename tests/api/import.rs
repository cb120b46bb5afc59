//! Import: `POST /api/v1/import` (and `ikz-api import`) reads what the CSV export writes, and
//! what a spreadsheet user writes by hand, all or nothing.

use diesel::RunQueryDsl;
use reqwest::Method;
use serde_json::{Value, json};

use crate::exchange::cases;
use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

async fn import(app: &TestApp, query: &str, content_type: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.as_admin(Method::POST, &format!("/api/v1/import?{query}"))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn import_ok(app: &TestApp, query: &str, content_type: &str, body: impl Into<reqwest::Body>) -> Value {
    let response = import(app, query, content_type, body).await;
    let status = response.status();
    let report: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{report}");
    report
}

async fn export(app: &TestApp, resource: &str) -> String {
    let path = format!("/api/v1/{resource}?format=csv&delimiter=semicolon");
    let response = app.as_admin(Method::GET, &path).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn head(app: &TestApp) -> String {
    let head: Value = app.as_admin(Method::GET, "/api/v1/changes/cursor").send().await.unwrap().json().await.unwrap();
    head["cursor"].as_str().unwrap().to_owned()
}

async fn changes_since(app: &TestApp, cursor: &str) -> Vec<Value> {
    let path = format!("/api/v1/changes?cursor={cursor}&limit=1000");
    let page: Value = app.as_admin(Method::GET, &path).send().await.unwrap().json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

/// Replaces the cell of `column` in every data row whose `id` cell is `id`.
fn edit(csv: &str, id: i64, column: &str, value: &str) -> String {
    let body = csv.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(body.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let at = headers.iter().position(|h| h == column).unwrap_or_else(|| panic!("no column {column}"));
    let id_at = headers.iter().position(|h| h == "id").unwrap();
    let mut writer = csv::WriterBuilder::new().delimiter(b';').from_writer(Vec::new());
    writer.write_record(&headers).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        let mut cells: Vec<String> = record.iter().map(str::to_owned).collect();
        if cells[id_at] == id.to_string() {
            cells[at] = value.to_owned();
        }
        writer.write_record(&cells).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

#[tokio::test]
async fn an_export_imported_back_changes_nothing_and_an_edited_one_changes_what_was_edited_on_every_resource() {
    let app = spawn_app().await;
    for case in cases(&app).await {
        let r = case.resource;
        let created = app.post_json(&format!("/api/v1/{r}"), &case.body).await;
        assert_eq!(created.status(), 201, "{r}");
        let record: Value = created.json().await.unwrap();
        let id = record["id"].as_i64().unwrap();
        let exported = export(&app, r).await;

        let before = head(&app).await;
        let report = import_ok(&app, &format!("resource={r}&mode=upsert"), "text/csv", exported.clone()).await;
        assert_eq!((report["created"].as_i64(), report["updated"].as_i64()), (Some(0), Some(0)), "{r}: {report}");
        assert!(report["unchanged"].as_i64().unwrap() >= 1, "{r}: {report}");
        let again: Value =
            app.as_admin(Method::GET, &format!("/api/v1/{r}/{id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(again["updated_at"], record["updated_at"], "{r}: no new version");
        assert!(changes_since(&app, &before).await.is_empty(), "{r}: nothing in the feed");

        let (field, value) = &case.changed;
        let cell = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        let edited = edit(&exported, id, field, &cell);
        let report = import_ok(&app, &format!("resource={r}&mode=upsert"), "text/csv", edited).await;
        assert_eq!(report["updated"], 1, "{r}: {report}");
        let row = report["rows"].as_array().unwrap().iter().find(|o| o["id"] == id).unwrap().clone();
        assert_eq!(row["action"], "updated", "{r}: {report}");
        let changed: Value =
            app.as_admin(Method::GET, &format!("/api/v1/{r}/{id}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(&changed[*field], value, "{r}");
        for (key, sent) in case.body.as_object().unwrap() {
            assert_eq!(&changed[key], sent, "{r}: {key} kept");
        }
        let feed = changes_since(&app, &before).await;
        assert_eq!(feed.len(), 1, "{r}: {feed:?}");
        assert_eq!(
            (feed[0]["resource"].as_str(), feed[0]["id"].as_i64(), feed[0]["op"].as_str()),
            (Some(r), Some(id), Some("updated"))
        );
    }
}

#[tokio::test]
async fn a_spreadsheet_written_by_hand_in_german_excel_creates_measures_with_references() {
    let app = spawn_app().await;
    let kamenz = app.create_partner(json!({"name": "Kamenz", "kind": "municipality", "ags": "03359028"})).await;
    let pulsnitz = app.create_partner(json!({"name": "Pulsnitz", "kind": "municipality", "ags": "14625470"})).await;
    let body = json!({"name": "Westlausitz", "external_refs": [{"source": "kreis", "id": "IKZ-7"}]});
    let coop: Value = app.post_json("/api/v1/cooperations", &body).await.json().await.unwrap();
    for partner in [&kamenz, &pulsnitz] {
        let member = json!({"partner_id": partner["id"], "role": "member"});
        assert_eq!(app.post_json(&format!("/api/v1/cooperations/{}/members", coop["id"]), &member).await.status(), 201);
    }
    // Windows-1252 (ä = 0xE4, ü = 0xFC), `;`, the AGS without its leading zero, German dates.
    let mut file =
        b"title;cooperation_id;field_id;partner_ids;lead_partner_id;planned_start;estimated_cost_eur;council_refs\r\n"
            .to_vec();
    file.extend_from_slice(b"Gemeinsamer Bauhof f\xfcr alle;ref:kreis:IKZ-7;key:bauhof;ags:3359028 ags:14625470;ags:3359028;01.03.2027;1.200.000;https://ris.example.de/vo/1 https://ris.example.de/vo/2\r\n");
    file.extend_from_slice(b"Digitale Ratsarbeit;ref:kreis:IKZ-7;key:digitalisation-ai;;;;;\r\n");
    let before = head(&app).await;
    let report = import_ok(&app, "resource=measures", "text/csv", file).await;
    assert_eq!(report["created"], 2, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows.iter().map(|r| r["row"].as_i64().unwrap()).collect::<Vec<_>>(), [2, 3]);
    let id = rows[0]["id"].as_i64().unwrap();
    let measure: Value = app.get(&format!("/api/v1/measures/{id}")).await.json().await.unwrap();
    assert_eq!(measure["title"], "Gemeinsamer Bauhof für alle");
    assert_eq!(measure["cooperation_id"], coop["id"]);
    let mut partners: Vec<i64> =
        measure["partner_ids"].as_array().unwrap().iter().map(|p| p.as_i64().unwrap()).collect();
    partners.sort();
    assert_eq!(partners, [kamenz["id"].as_i64().unwrap(), pulsnitz["id"].as_i64().unwrap()]);
    assert_eq!(measure["lead_partner_id"], kamenz["id"]);
    assert_eq!(measure["planned_start"], "2027-03-01");
    assert_eq!(measure["estimated_cost_eur"], 1_200_000);
    assert_eq!(measure["council_refs"], json!(["https://ris.example.de/vo/1", "https://ris.example.de/vo/2"]));
    assert_eq!(measure["status"], "idea");
    let feed = changes_since(&app, &before).await;
    assert_eq!(feed.iter().filter(|c| c["resource"] == "measures" && c["op"] == "created").count(), 2, "{feed:?}");
}

#[tokio::test]
async fn one_bad_row_and_nothing_is_imported_while_the_answer_names_every_bad_row_and_cell() {
    let app = spawn_app().await;
    let file = "\u{feff}name;kind;ags;population\nStadt A;municipality;14625001;1200\n;municipality;14625002;x\nStadt C;castle;ags-3;\nStadt D;municipality;;\n";
    let response = import(&app, "resource=partners", "text/csv", file).await;
    let problem = assert_problem(response, 422, "/problems/import-invalid").await;
    let mut found: Vec<(i64, String, String)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let expected =
        [(3, "name", "required"), (3, "population", "invalid_type"), (4, "ags", "ags"), (4, "kind", "invalid_value")];
    let expected: Vec<(i64, String, String)> =
        expected.iter().map(|(r, f, c)| (*r, (*f).to_owned(), (*c).to_owned())).collect();
    assert_eq!(found, expected, "{problem}");
    assert!(app.collect_all("/api/v1/partners").await.is_empty(), "rows 2 and 5 were not kept either");

    // The same file without its bad rows, first as a dry run.
    let good = "name;kind;ags\nStadt A;municipality;14625001\nStadt D;municipality;\n";
    let report = import_ok(&app, "resource=partners&dry_run=true", "text/csv", good).await;
    assert_eq!((report["dry_run"].as_bool(), report["created"].as_i64()), (Some(true), Some(2)), "{report}");
    assert_eq!(report["rows"][0]["id"], Value::Null, "a dry run names no ids it did not keep");
    assert!(app.collect_all("/api/v1/partners").await.is_empty(), "a dry run keeps nothing");
    let report = import_ok(&app, "resource=partners", "text/csv", good).await;
    assert_eq!(report["created"], 2);
    assert_eq!(app.collect_all("/api/v1/partners").await.len(), 2);
}

#[tokio::test]
async fn read_only_cells_must_stay_as_exported_and_a_record_changed_since_the_export_is_refused() {
    let app = spawn_app().await;
    let body = json!({"name": "Kamenz", "kind": "municipality", "phone": "+49 3578 1234", "description": "=1+1"});
    let partner = app.create_partner(body).await;
    let id = partner["id"].as_i64().unwrap();
    let exported = export(&app, "partners").await;
    assert!(exported.contains(";'+49 3578 1234;") && exported.contains(";'=1+1;"), "formulas defused: {exported}");
    let report = import_ok(&app, "resource=partners&mode=upsert", "text/csv", exported.clone()).await;
    assert_eq!(report["unchanged"], 1, "the quotes come off again: {report}");

    let moved = edit(&exported, id, "created_at", "2020-01-01T00:00:00Z");
    let problem = assert_problem(
        import(&app, "resource=partners&mode=upsert", "text/csv", moved).await,
        422,
        "/problems/import-invalid",
    )
    .await;
    assert_eq!(
        (
            problem["errors"][0]["row"].as_i64(),
            problem["errors"][0]["field"].as_str(),
            problem["errors"][0]["code"].as_str()
        ),
        (Some(2), Some("created_at"), Some("read_only")),
        "{problem}"
    );

    let problem = assert_problem(
        import(&app, "resource=partners", "text/csv", exported.clone()).await,
        422,
        "/problems/import-invalid",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "id", "create mode refuses ids: {problem}");

    // Someone changes the partner after the export: the file's row is refused, 412 in its row.
    assert_eq!(app.patch_json(&format!("/api/v1/partners/{id}"), &json!({"population": 5})).await.status(), 200);
    let edited = edit(&exported, id, "name", "Stadt Kamenz");
    let problem = assert_problem(
        import(&app, "resource=partners&mode=upsert", "text/csv", edited.clone()).await,
        422,
        "/problems/import-invalid",
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "precondition_failed", "{problem}");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("412"), "{problem}");
    // An `etag` column does the same; with the current one the row goes through.
    let stale = format!("id;name;etag\n{id};Stadt Kamenz;\"\"\"1\"\"\"\n");
    let problem = assert_problem(
        import(&app, "resource=partners&mode=upsert", "text/csv", stale).await,
        422,
        "/problems/import-invalid",
    )
    .await;
    assert_eq!(problem["errors"][0]["code"], "precondition_failed", "{problem}");
    let current = app.get(&format!("/api/v1/partners/{id}")).await.headers()["etag"].to_str().unwrap().to_owned();
    let fresh = format!("id;name;etag\n{id};Stadt Kamenz;{}\n", current.trim_matches('"'));
    import_ok(&app, "resource=partners&mode=upsert", "text/csv", fresh).await;
    let stored: Value = app.get(&format!("/api/v1/partners/{id}")).await.json().await.unwrap();
    assert_eq!(
        (stored["name"].as_str(), stored["population"].as_i64()),
        (Some("Stadt Kamenz"), Some(5)),
        "absent columns unchanged"
    );
    assert_eq!((stored["phone"].as_str(), stored["description"].as_str()), (Some("+49 3578 1234"), Some("=1+1")));
}

#[tokio::test]
async fn ndjson_upserts_find_their_records_by_external_reference() {
    let app = spawn_app().await;
    let line = |population: i64| {
        format!(
            "{}\n",
            json!({"name": "Pulsnitz", "kind": "municipality", "population": population,
            "external_refs": [{"source": "kreis-register", "id": "P/17"}]})
        )
    };
    let first = import_ok(&app, "resource=partners&mode=upsert", "application/x-ndjson", line(7400)).await;
    assert_eq!(first["created"], 1);
    let second = import_ok(&app, "resource=partners&mode=upsert", "application/x-ndjson", line(7500)).await;
    assert_eq!((second["created"].as_i64(), second["updated"].as_i64()), (Some(0), Some(1)), "{second}");
    assert_eq!(second["rows"][0]["id"], first["rows"][0]["id"]);
    let all = app.collect_all("/api/v1/partners").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["population"], 7500);
    // In create mode the same reference is a conflict in its row.
    let problem = assert_problem(
        import(&app, "resource=partners", "application/x-ndjson", line(1)).await,
        422,
        "/problems/import-invalid",
    )
    .await;
    assert_eq!(
        (problem["errors"][0]["row"].as_i64(), problem["errors"][0]["code"].as_str()),
        (Some(1), Some("conflict")),
        "{problem}"
    );
}

#[tokio::test]
async fn an_import_needs_the_rights_of_each_row_and_a_file_of_the_right_type_and_size() {
    let app = spawn_app_with(|c| c.max_import_bytes = 64).await;
    let anonymous = app
        .request(Method::POST, "/api/v1/import?resource=partners", None)
        .header("Content-Type", "text/csv")
        .body("name\nA\n")
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "/problems/unauthorized").await;
    let viewer = app.token_for("leser", "viewer", &[]).await;
    let denied = app
        .request(Method::POST, "/api/v1/import?resource=partners", Some(&viewer))
        .header("Content-Type", "text/csv")
        .body("name\nA\n")
        .send()
        .await
        .unwrap();
    assert_problem(denied, 403, "/problems/forbidden").await;
    let editor = app.token_for("redaktion", "editor", &[]).await;
    let row = app
        .request(Method::POST, "/api/v1/import?resource=partners", Some(&editor))
        .header("Content-Type", "text/csv")
        .body("name;kind\nA;district\n")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(row, 422, "/problems/import-invalid").await;
    assert_eq!(
        (problem["errors"][0]["row"].as_i64(), problem["errors"][0]["code"].as_str()),
        (Some(2), Some("forbidden")),
        "editors create no partners: {problem}"
    );

    assert_problem(
        import(&app, "resource=partners", "application/json", "[]").await,
        415,
        "/problems/unsupported-media-type",
    )
    .await;
    let large = format!("name;kind\n{}", "Stadt A;municipality\n".repeat(10));
    assert_problem(import(&app, "resource=partners", "text/csv", large).await, 413, "/problems/payload-too-large")
        .await;
    assert_problem(import(&app, "resource=castles", "text/csv", "name\nA\n").await, 400, "/problems/invalid-parameter")
        .await;
    let problem = assert_problem(
        import(&app, "resource=partners", "text/csv", "nam;kind\nA;district\n").await,
        422,
        "/problems/import-invalid",
    )
    .await;
    assert_eq!(
        (
            problem["errors"][0]["row"].as_i64(),
            problem["errors"][0]["field"].as_str(),
            problem["errors"][0]["code"].as_str()
        ),
        (Some(1), Some("nam"), Some("unknown_field")),
        "{problem}"
    );
}

#[tokio::test]
async fn the_cli_imports_a_file_as_an_account_and_reports_invalid_rows() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("felder.csv");
    std::fs::write(&file, "key;name_de;name_en\nfriedhof;Friedhofswesen;Cemeteries\n").unwrap();
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ikz-api"))
            .args(["import", file.to_str().unwrap(), "--resource", "fields"])
            .args(extra)
            .env("DATABASE_URL", app._db.url())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let dry = run(&["--dry-run"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let report: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!((report["dry_run"].as_bool(), report["created"].as_i64()), (Some(true), Some(1)));
    let count = || async {
        app.collect_all("/api/v1/fields?limit=200").await.iter().filter(|f| f["key"] == "friedhof").count()
    };
    assert_eq!(count().await, 0);
    app.token_for("redaktion", "editor", &[]).await;
    let denied = run(&["--as", "redaktion"]);
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("/problems/import-invalid"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
    assert!(run(&[]).status.success());
    assert_eq!(count().await, 1);
}

#[tokio::test]
async fn the_cli_exports_what_the_api_exports_with_the_same_filters_on_every_resource() {
    let app = spawn_app().await;
    for case in cases(&app).await {
        assert_eq!(app.post_json(&format!("/api/v1/{}", case.resource), &case.body).await.status(), 201);
    }
    app.create_partner(json!({"name": "Landkreis Bautzen", "kind": "district"})).await;
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ikz-api"))
            .arg("export")
            .args(args)
            .env("DATABASE_URL", app._db.url())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    for (resource, filter) in [
        ("partners", "kind=district"),
        ("fields", "ref_source=x"),
        ("cooperations", "status=active"),
        ("measures", "status=idea"),
        ("contacts", "q=a"),
    ] {
        for args in [vec![resource], vec![resource, filter, "--delimiter", "semicolon"]] {
            let written = cli(&args);
            assert!(written.status.success(), "{args:?}: {}", String::from_utf8_lossy(&written.stderr));
            let query = match args.len() {
                1 => "format=csv".to_owned(),
                _ => format!("format=csv&{filter}&delimiter=semicolon"),
            };
            let answered = app.as_admin(Method::GET, &format!("/api/v1/{resource}?{query}")).send().await.unwrap();
            let answered = answered.text().await.unwrap();
            assert!(answered.lines().count() >= 2 || args.len() > 1, "{resource}: records to compare");
            assert_eq!(String::from_utf8(written.stdout).unwrap(), answered, "{args:?}");
        }
    }
    let workbook = cli(&["measures", "--format", "xlsx", "--lang", "en"]);
    assert!(workbook.status.success(), "{}", String::from_utf8_lossy(&workbook.stderr));
    let answered = app.as_admin(Method::GET, "/api/v1/measures?format=xlsx&lang=en").send().await.unwrap();
    assert_eq!(crate::exchange::sheet(&workbook.stdout), crate::exchange::sheet(&answered.bytes().await.unwrap()));
    let unknown = cli(&["measures", "stat=idea"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("`stat` is not a known parameter"));
    app.token_for("vera", "viewer", &[]).await;
    let as_viewer = cli(&["contacts", "--as", "vera"]);
    assert!(as_viewer.status.success(), "{}", String::from_utf8_lossy(&as_viewer.stderr));
}

#[tokio::test]
async fn api_writes_wait_for_another_process_that_writes_longer_than_the_busy_timeout() {
    let app = spawn_app().await;
    // Another process (a long `ikz-api import`, say) holds the write lock for longer than
    // SQLite's busy_timeout of 5 s. On PostgreSQL nothing is locked: the write goes through.
    let url = app._db.url();
    let (started, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let other = std::thread::spawn(move || {
        let mut conn = ikz_api::db::ConnectionManager::new(&url).establish().unwrap();
        ikz_api::db::write(&mut conn, |_| {
            started.0.send(()).unwrap();
            release.1.recv().unwrap();
            Ok::<_, diesel::result::Error>(())
        })
    });
    started.1.recv().unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(6));
        release.0.send(()).unwrap();
    });
    let created = app.create_partner(json!({"name": "Ottendorf-Okrilla", "kind": "municipality"})).await;
    assert!(created["id"].is_i64(), "the write waited and went through: {created}");
    let listed = app.collect_all("/api/v1/partners?limit=200").await;
    assert!(listed.iter().any(|p| p["name"] == "Ottendorf-Okrilla"));
    releaser.join().unwrap();
    other.join().unwrap().unwrap();
}

#[tokio::test]
async fn rows_may_name_and_change_records_earlier_rows_create_and_a_dry_run_says_so_too() {
    let app = spawn_app().await;
    let kamenz = app.create_partner(json!({"name": "Kamenz", "kind": "municipality", "ags": "14625240"})).await;
    let coop: Value =
        app.post_json("/api/v1/cooperations", &json!({"name": "Westlausitz"})).await.json().await.unwrap();
    let member = json!({"partner_id": kamenz["id"], "role": "member"});
    assert_eq!(app.post_json(&format!("/api/v1/cooperations/{}/members", coop["id"]), &member).await.status(), 201);
    let line = |title: &str, parent: Option<&str>, reference: &str| {
        let mut m = json!({"title": title, "cooperation_id": coop["id"], "field_id": "key:bauhof",
            "external_refs": [{"source": "plan", "id": reference}]});
        if let Some(parent) = parent {
            m["parent_id"] = json!(parent);
        }
        format!("{m}\n")
    };
    // Row 2 names the record row 1 creates; row 3 changes it (same reference, upsert).
    let file = [
        line("Bauhof", None, "7"),
        line("Winterdienst", Some("ref:plan:7"), "8"),
        line("Gemeinsamer Bauhof", None, "7"),
    ]
    .concat();
    let dry = import_ok(&app, "resource=measures&mode=upsert&dry_run=true", "application/x-ndjson", file.clone()).await;
    assert_eq!((dry["created"].as_i64(), dry["updated"].as_i64()), (Some(2), Some(1)), "{dry}");
    assert!(app.collect_all("/api/v1/measures").await.is_empty(), "a dry run keeps nothing");
    let done = import_ok(&app, "resource=measures&mode=upsert", "application/x-ndjson", file).await;
    assert_eq!((done["created"].as_i64(), done["updated"].as_i64()), (Some(2), Some(1)), "{done}");
    let plan = app.collect_all("/api/v1/measures?ref_source=plan&ref_id=7").await;
    let part = app.collect_all("/api/v1/measures?ref_source=plan&ref_id=8").await;
    assert_eq!((plan.len(), part.len()), (1, 1));
    assert_eq!(plan[0]["title"], "Gemeinsamer Bauhof");
    assert_eq!(part[0]["parent_id"], plan[0]["id"]);

    // Two new records claiming one unique value: refused in the row that claims it second,
    // by the dry run as by the import.
    let twice = [line("Bauhof A", None, "9"), line("Bauhof B", None, "9")].concat();
    let ags =
        "name;kind;ags\nPulsnitz;municipality;14625470\nOhorn;municipality;;\nPulsnitz (Stadt);municipality;14625470\n";
    for (query, content_type, file, row) in
        [("resource=measures", "application/x-ndjson", twice.as_str(), 2), ("resource=partners", "text/csv", ags, 4)]
    {
        for dry_run in ["&dry_run=true", ""] {
            let response = import(&app, &format!("{query}{dry_run}"), content_type, file.to_owned()).await;
            let problem = assert_problem(response, 422, "/problems/import-invalid").await;
            let errors = problem["errors"].as_array().unwrap();
            assert_eq!(errors.len(), 1, "{problem}");
            assert_eq!(
                (errors[0]["row"].as_i64(), errors[0]["code"].as_str()),
                (Some(row), Some("conflict")),
                "{problem}"
            );
        }
    }
    assert_eq!(app.collect_all("/api/v1/measures").await.len(), 2, "nothing more was kept");
    assert_eq!(app.collect_all("/api/v1/partners").await.len(), 1);
}

#[tokio::test]
async fn a_dry_run_and_a_file_with_bad_rows_are_answered_while_another_process_holds_the_write_lock() {
    let app = spawn_app().await;
    // Another process writes (a long `ikz-api import`): on SQLite it holds the database's write
    // lock, on PostgreSQL an exclusive lock on the table. An import is checked on a read
    // connection first, so a dry run and a refused file are answered meanwhile.
    let url = app._db.direct_url();
    let (started, release) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = released.clone();
    let other = std::thread::spawn(move || {
        let mut conn = ikz_api::db::ConnectionManager::new(&url).establish().unwrap();
        ikz_api::db::write(&mut conn, |c| {
            if let ikz_api::db::AnyConnection::Pg(pg) = c {
                diesel::sql_query("LOCK TABLE partners IN EXCLUSIVE MODE").execute(pg)?;
            }
            started.0.send(()).unwrap();
            // Let go after a minute at the latest, so that a failing test fails instead of hanging.
            let _ = release.1.recv_timeout(std::time::Duration::from_secs(60));
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, diesel::result::Error>(())
        })
    });
    started.1.recv().unwrap();
    let good = "name;kind;ags\nPulsnitz;municipality;14625470\nOhorn;municipality;14625400\n";
    let report = import_ok(&app, "resource=partners&dry_run=true", "text/csv", good).await;
    assert_eq!(report["created"], 2, "{report}");
    let bad = "name;kind;ags\nPulsnitz;municipality;14625470\nOhorn;castle;14625400\n";
    let refused = import(&app, "resource=partners", "text/csv", bad).await;
    assert_problem(refused, 422, "/problems/import-invalid").await;
    assert!(!released.load(std::sync::atomic::Ordering::SeqCst), "both were answered while the lock was held");
    release.0.send(()).unwrap();
    other.join().unwrap().unwrap();
    assert_eq!(import_ok(&app, "resource=partners", "text/csv", good).await["created"], 2);
}
