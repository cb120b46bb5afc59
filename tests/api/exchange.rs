//! Data exchange: external references and `PUT …/by-ref/{source}/{id}` on every resource.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};

/// A full representation of a new record of each resource, and a change to one of its fields.
pub struct Case {
    pub resource: &'static str,
    pub body: Value,
    pub changed: (&'static str, Value),
}

pub async fn cases(app: &TestApp) -> Vec<Case> {
    let id = |v: Value| v["id"].as_i64().unwrap();
    let partner = id(app.create_partner(json!({"name": "Kamenz", "kind": "municipality"})).await);
    let coop =
        id(app.post_json("/api/v1/cooperations", &json!({"name": "IKZ Westlausitz"})).await.json().await.unwrap());
    let member = json!({"partner_id": partner, "role": "lead"});
    let added = app.post_json(&format!("/api/v1/cooperations/{coop}/members"), &member).await;
    assert_eq!(added.status(), 201);
    let fields = app.collect_all("/api/v1/fields?limit=200").await;
    let bauhof = fields.iter().find(|f| f["key"] == "bauhof").unwrap()["id"].as_i64().unwrap();
    vec![
        Case {
            resource: "partners",
            body: json!({"name": "Stadt Pulsnitz", "kind": "municipality", "ags": "14625470"}),
            changed: ("population", json!(7400)),
        },
        Case {
            resource: "fields",
            body: json!({"key": "friedhof", "name_de": "Friedhofswesen", "name_en": "Cemeteries"}),
            changed: ("description", json!("Friedhöfe der Gemeinden")),
        },
        Case {
            resource: "cooperations",
            body: json!({"name": "Bauhof-Verbund"}),
            changed: ("funding_programme", json!("FR IKZ 2026")),
        },
        Case {
            resource: "contacts",
            body: json!({"partner_id": partner, "name": "Maria Mustermann"}),
            changed: ("function", json!("Bauhofleitung")),
        },
        Case {
            resource: "measures",
            body: json!({"cooperation_id": coop, "field_id": bauhof, "title": "Gemeinsamer Winterdienst"}),
            changed: ("summary", json!("Ein Fahrzeugpool")),
        },
    ]
}

/// The external reference's id as one path segment: every reserved character encoded.
fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn put(app: &TestApp, path: &str, body: &Value, if_match: Option<&str>) -> reqwest::Response {
    let mut request = app.as_admin(Method::PUT, path).json(body);
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    request.send().await.unwrap()
}

async fn listed(app: &TestApp, resource: &str, query: &str) -> Vec<i64> {
    let page: Value =
        app.as_admin(Method::GET, &format!("/api/v1/{resource}?{query}")).send().await.unwrap().json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{resource}?{query}: {page}"))
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

/// How many changes the feed holds of one record.
async fn changes_of(app: &TestApp, resource: &str, id: i64) -> usize {
    let page: Value = app
        .as_admin(Method::GET, &format!("/api/v1/changes?resource={resource}&limit=200"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().iter().filter(|c| c["id"] == id).count()
}

#[tokio::test]
async fn put_by_ref_creates_then_leaves_alone_then_replaces_on_every_resource() {
    let app = spawn_app().await;
    // An OParl id is a URL: slashes, a colon, a percent sign, a plus, a space and an umlaut.
    let ref_id = "https://ris.example.de/oparl/v1/körper/1?x=50%+1 2";
    for case in cases(&app).await {
        let r = case.resource;
        let path = format!("/api/v1/{r}/by-ref/oparl/{}", segment(ref_id));
        let created = put(&app, &path, &case.body, None).await;
        assert_eq!(created.status(), 201, "{r}: {}", created.text().await.unwrap());
        let location = created.headers()["location"].to_str().unwrap().to_owned();
        let etag = created.headers()["etag"].to_str().unwrap().to_owned();
        let record: Value = created.json().await.unwrap();
        let id = record["id"].as_i64().unwrap();
        assert_eq!(location, format!("/api/v1/{r}/{id}"), "{r}");
        assert_eq!(record["external_refs"], json!([{"source": "oparl", "id": ref_id}]), "{r}: the reference attached");

        let query = format!("ref_source=oparl&ref_id={}", segment(ref_id));
        assert_eq!(listed(&app, r, &query).await, vec![id], "{r}: found by its reference");
        assert_eq!(listed(&app, r, "ref_source=oparl").await, vec![id], "{r}: found by the source");
        assert!(listed(&app, r, "ref_source=oparl&ref_id=other").await.is_empty(), "{r}: not by another id");

        let again = put(&app, &path, &case.body, None).await;
        assert_eq!(again.status(), 200, "{r}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag, "{r}: identical, so no new version");
        let unchanged: Value = again.json().await.unwrap();
        assert_eq!(unchanged["updated_at"], record["updated_at"], "{r}");
        assert_eq!(changes_of(&app, r, id).await, 1, "{r}: the identical PUT is not in the feed");

        let mut different = case.body.clone();
        different[case.changed.0] = case.changed.1.clone();
        let stale = put(&app, &path, &different, Some("\"1\"")).await;
        assert_problem(stale, 412, "/problems/precondition-failed").await;
        let replaced = put(&app, &path, &different, Some(&etag)).await;
        assert_eq!(replaced.status(), 200, "{r}: {}", replaced.text().await.unwrap());
        let replaced: Value = replaced.json().await.unwrap();
        assert_eq!(replaced[case.changed.0], case.changed.1, "{r}: replaced");
        assert_ne!(replaced["updated_at"], record["updated_at"], "{r}: a new version");
        assert_eq!(
            replaced["external_refs"], record["external_refs"],
            "{r}: the reference stays though the body omits it"
        );
        assert_eq!(changes_of(&app, r, id).await, 2, "{r}: the replacement is in the feed");

        let back = put(&app, &path, &case.body, None).await;
        assert_eq!(back.status(), 200);
        let back: Value = back.json().await.unwrap();
        assert_eq!(back[case.changed.0], Value::Null, "{r}: a full representation clears what it leaves out");
    }
}

#[tokio::test]
async fn a_reference_names_one_record_per_resource_and_goes_with_it() {
    let app = spawn_app().await;
    for case in cases(&app).await {
        let r = case.resource;
        let mut first = case.body.clone();
        first["external_refs"] = json!([{"source": "Kreis-Register", "id": " 4711 "}]);
        let created = app.post_json(&format!("/api/v1/{r}"), &first).await;
        assert_eq!(created.status(), 201, "{r}: {}", created.text().await.unwrap());
        let created: Value = created.json().await.unwrap();
        assert_eq!(created["external_refs"], json!([{"source": "kreis-register", "id": "4711"}]), "{r}: normalised");
        let id = created["id"].as_i64().unwrap();

        // Another record of the same resource may not hold it (the rest of the body made unique).
        let mut second = case.body.clone();
        for (key, value) in [("name", "Zweiter"), ("title", "Zweite"), ("key", "zweites")] {
            if second.get(key).is_some() {
                second[key] = json!(value);
            }
        }
        if second.get("ags").is_some() {
            second["ags"] = json!("14625480");
        }
        second["external_refs"] = json!([{"source": "kreis-register", "id": "4711"}]);
        let taken = app.post_json(&format!("/api/v1/{r}"), &second).await;
        let problem = assert_problem(taken, 409, "/problems/conflict").await;
        assert!(problem["detail"].as_str().unwrap().contains(&id.to_string()), "{r}: names the holder: {problem}");

        let invalid = json!({"external_refs": [{"source": "mit leer", "id": ""}, {"source": "a", "id": "1"}, {"source": "a", "id": "1"}]});
        let refused = app.patch_json(&format!("/api/v1/{r}/{id}"), &invalid).await;
        let problem = assert_problem(refused, 422, "/problems/validation").await;
        let expected = ["external_refs[0].id", "external_refs[0].source", "external_refs[2]"];
        assert_eq!(error_fields(&problem), expected, "{r}: {problem}");

        let emptied = app.patch_json(&format!("/api/v1/{r}/{id}"), &json!({"external_refs": []})).await;
        assert_eq!(emptied.status(), 200, "{r}");
        assert!(listed(&app, r, "ref_source=kreis-register").await.is_empty(), "{r}: the reference is gone");
        let freed = app.post_json(&format!("/api/v1/{r}"), &second).await;
        assert_eq!(freed.status(), 201, "{r}: a freed reference can be given again");
        let freed: Value = freed.json().await.unwrap();
        let deleted = app.delete(&format!("/api/v1/{r}/{}", freed["id"])).await;
        assert_eq!(deleted.status(), 204, "{r}");
        assert!(listed(&app, r, "ref_source=kreis-register").await.is_empty(), "{r}: deleted with its record");
        let reused = put(&app, &format!("/api/v1/{r}/by-ref/kreis-register/4711"), &second, None).await;
        assert_eq!(reused.status(), 201, "{r}: the deleted record's reference is free");
    }
}

#[tokio::test]
async fn ref_id_alone_and_a_precondition_on_a_missing_record_are_refused() {
    let app = spawn_app().await;
    let problem =
        assert_problem(app.get("/api/v1/partners?ref_id=4711").await, 400, "/problems/invalid-parameter").await;
    assert_eq!(error_fields(&problem), ["ref_id"]);
    let body = json!({"name": "Stadt Pulsnitz", "kind": "municipality"});
    let refused = put(&app, "/api/v1/partners/by-ref/register/1", &body, Some("*")).await;
    assert_problem(refused, 412, "/problems/precondition-failed").await;
    let bad_source = put(&app, "/api/v1/partners/by-ref/mit%20leer/1", &body, None).await;
    let problem = assert_problem(bad_source, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), ["source"]);
    let anonymous = app.client.put(app.url("/api/v1/partners/by-ref/register/1")).json(&body).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(app.collect_all("/api/v1/partners?ref_source=register").await.is_empty(), "nothing was created");
}

/// Each operation that takes an `Idempotency-Key`, with a body, for a fresh cooperation setup.
async fn idempotent_posts(app: &TestApp) -> Vec<(String, Value, Value)> {
    let id = |v: Value| v["id"].as_i64().unwrap();
    let partner = id(app.create_partner(json!({"name": "Kamenz", "kind": "municipality"})).await);
    let other = id(app.create_partner(json!({"name": "Pulsnitz", "kind": "municipality"})).await);
    let third = id(app.create_partner(json!({"name": "Elstra", "kind": "municipality"})).await);
    let coop =
        id(app.post_json("/api/v1/cooperations", &json!({"name": "IKZ Westlausitz"})).await.json().await.unwrap());
    let member = json!({"partner_id": partner, "role": "lead"});
    assert_eq!(app.post_json(&format!("/api/v1/cooperations/{coop}/members"), &member).await.status(), 201);
    let fields = app.collect_all("/api/v1/fields?limit=200").await;
    let bauhof = fields.iter().find(|f| f["key"] == "bauhof").unwrap()["id"].as_i64().unwrap();
    let measure =
        json!({"cooperation_id": coop, "field_id": bauhof, "title": "Streusalz", "benefit": 4, "cost": 2, "effort": 2});
    let measure = id(app.post_json("/api/v1/measures", &measure).await.json().await.unwrap());
    let step = |to: &str| json!({"to": to, "comment": "geprüft"});
    vec![
        (
            "/api/v1/partners".into(),
            json!({"name": "Ohorn", "kind": "municipality"}),
            json!({"name": "Steina", "kind": "municipality"}),
        ),
        (
            "/api/v1/fields".into(),
            json!({"key": "friedhof", "name_de": "Friedhof", "name_en": "Cemetery"}),
            json!({"key": "forst", "name_de": "Forst", "name_en": "Forest"}),
        ),
        ("/api/v1/cooperations".into(), json!({"name": "Verbund A"}), json!({"name": "Verbund B"})),
        (
            "/api/v1/measures".into(),
            json!({"cooperation_id": coop, "field_id": bauhof, "title": "A"}),
            json!({"cooperation_id": coop, "field_id": bauhof, "title": "B"}),
        ),
        (
            "/api/v1/contacts".into(),
            json!({"partner_id": partner, "name": "Maria"}),
            json!({"partner_id": partner, "name": "Max"}),
        ),
        (
            format!("/api/v1/cooperations/{coop}/members"),
            json!({"partner_id": other, "role": "member"}),
            json!({"partner_id": third, "role": "advisor"}),
        ),
        (format!("/api/v1/measures/{measure}/transitions"), step("assessed"), step("planned")),
    ]
}

#[tokio::test]
async fn a_post_sent_again_with_its_idempotency_key_is_answered_once_on_every_operation() {
    let app = spawn_app().await;
    let editor = app.token_for("redaktion", "admin", &[]).await;
    let feed_head = |app: &TestApp| {
        let request = app.as_admin(Method::GET, "/api/v1/changes/cursor").send();
        async move { request.await.unwrap().json::<Value>().await.unwrap()["cursor"].as_str().unwrap().to_owned() }
    };
    for (path, body, other_body) in idempotent_posts(&app).await {
        let key = format!("key-{}", path.replace('/', "-"));
        let send = |body: &Value, token: Option<&str>| {
            let token = token.unwrap_or(&app.admin_token).to_owned();
            app.request(Method::POST, &path, Some(&token)).header("Idempotency-Key", &key).json(body).send()
        };
        let first = send(&body, None).await.unwrap();
        let status = first.status();
        assert!(status.is_success(), "{path}: {}", first.text().await.unwrap());
        assert!(first.headers().get("idempotent-replayed").is_none(), "{path}");
        let (location, etag) = (first.headers().get("location").cloned(), first.headers().get("etag").cloned());
        let answered = first.text().await.unwrap();
        let head = feed_head(&app).await;

        let again = send(&body, None).await.unwrap();
        assert_eq!(again.status(), status, "{path}");
        assert_eq!(again.headers()["idempotent-replayed"], "true", "{path}");
        assert_eq!(again.headers().get("location"), location.as_ref(), "{path}");
        assert_eq!(again.headers().get("etag"), etag.as_ref(), "{path}");
        assert_eq!(again.text().await.unwrap(), answered, "{path}: the first answer, byte for byte");
        assert_eq!(feed_head(&app).await, head, "{path}: nothing was written again");

        let reused = send(&other_body, None).await.unwrap();
        assert_problem(reused, 422, "/problems/idempotency-key-reused").await;
        assert_eq!(feed_head(&app).await, head, "{path}: the refused request wrote nothing");

        let other_caller = send(&other_body, Some(&editor)).await.unwrap();
        assert!(other_caller.status().is_success(), "{path}: another caller's key is its own");
        assert!(other_caller.headers().get("idempotent-replayed").is_none(), "{path}");
    }
    let bad = app
        .as_admin(Method::POST, "/api/v1/cooperations")
        .header("Idempotency-Key", "x".repeat(256))
        .json(&json!({"name": "Zu lang"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(bad, 400, "/problems/invalid-header").await;
    assert_eq!(error_fields(&problem), ["Idempotency-Key"]);
}

#[tokio::test]
async fn a_key_whose_first_request_still_runs_is_refused_with_409_on_postgresql() {
    use diesel::{Connection, RunQueryDsl};
    let app = spawn_app().await;
    let crate::helpers::TestDb::Postgres { .. } = &app._db else { return };
    let me: Value = app.as_admin(Method::GET, "/api/v1/auth/me").send().await.unwrap().json().await.unwrap();
    let post = || {
        let request = app.as_admin(Method::POST, "/api/v1/cooperations").header("Idempotency-Key", "k-1");
        request.json(&json!({"name": "Verbund"})).send()
    };
    // What a first request holds while it writes: the transaction lock of its key.
    let mut running = diesel::PgConnection::establish(&app._db.direct_url()).unwrap();
    diesel::sql_query("BEGIN").execute(&mut running).unwrap();
    let lock = format!(
        "SELECT pg_advisory_xact_lock(hashtextextended('ikz-idempotency:' || 'user:{}' || chr(10) || 'k-1', 0))",
        me["id"]
    );
    diesel::sql_query(lock).execute(&mut running).unwrap();
    assert_problem(post().await.unwrap(), 409, "/problems/idempotency-key-in-progress").await;
    diesel::sql_query("COMMIT").execute(&mut running).unwrap();
    assert_eq!(post().await.unwrap().status(), 201, "once the first has finished, the key is free");
}

/// The rows of a CSV answer, header first, read as a spreadsheet would (after its UTF-8 BOM).
fn rows(text: &str, delimiter: char) -> Vec<Vec<String>> {
    let text = text.strip_prefix('\u{feff}').expect("a UTF-8 BOM first");
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter as u8).has_headers(false).from_reader(text.as_bytes());
    reader.records().map(|row| row.expect("a CSV row").iter().map(str::to_owned).collect()).collect()
}

#[tokio::test]
async fn every_list_answers_csv_with_its_filters_and_the_same_records_as_json() {
    let app = spawn_app().await;
    for case in cases(&app).await {
        let r = case.resource;
        let mut tagged = case.body.clone();
        tagged["external_refs"] = json!([{"source": "tabelle", "id": "1"}]);
        let created: Value = app.post_json(&format!("/api/v1/{r}"), &tagged).await.json().await.unwrap();
        let json_page: Value =
            app.as_admin(Method::GET, &format!("/api/v1/{r}?limit=200")).send().await.unwrap().json().await.unwrap();
        let items = json_page["items"].as_array().unwrap();

        let csv = app.as_admin(Method::GET, &format!("/api/v1/{r}")).header("Accept", "text/csv").send().await.unwrap();
        assert_eq!(csv.status(), 200, "{r}");
        assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"), "{r}");
        let table = rows(&csv.text().await.unwrap(), ',');
        let header = &table[0];
        for key in items[0].as_object().unwrap().keys() {
            assert!(header.contains(key), "{r}: column {key} in {header:?}");
        }
        assert_eq!(table.len() - 1, items.len(), "{r}: one row per record");
        let id_column = header.iter().position(|c| c == "id").unwrap();
        let ids: Vec<String> = table[1..].iter().map(|row| row[id_column].clone()).collect();
        let json_ids: Vec<String> = items.iter().map(|i| i["id"].to_string()).collect();
        assert_eq!(ids, json_ids, "{r}: the same records in the same order");

        let filtered = app
            .as_admin(Method::GET, &format!("/api/v1/{r}?format=csv&delimiter=semicolon&ref_source=tabelle"))
            .send()
            .await
            .unwrap();
        let table = rows(&filtered.text().await.unwrap(), ';');
        assert_eq!(table.len(), 2, "{r}: the filter applies: {table:?}");
        assert_eq!(table[1][table[0].iter().position(|c| c == "id").unwrap()], created["id"].to_string(), "{r}");

        let unknown =
            app.as_admin(Method::GET, &format!("/api/v1/{r}")).header("Accept", "application/x-unknown").send();
        let unknown = unknown.await.unwrap();
        assert!(unknown.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{r}");
    }
}

#[tokio::test]
async fn a_csv_export_holds_every_page_of_the_list() {
    let app = spawn_app().await;
    // More partners than one page of an export reads (1,000), loaded in one import.
    let mut file = String::from("name,kind\n");
    for i in 0..1005 {
        file.push_str(&format!("Gemeinde {i:04},municipality\n"));
    }
    let imported = app.as_admin(Method::POST, "/api/v1/import?resource=partners").header("Content-Type", "text/csv");
    assert_eq!(imported.body(file).send().await.unwrap().status(), 200);
    let csv = app.get("/api/v1/partners?format=csv&sort=name").await.text().await.unwrap();
    let table = rows(&csv, ',');
    let name = table[0].iter().position(|c| c == "name").unwrap();
    let names: Vec<&str> = table[1..].iter().map(|row| row[name].as_str()).collect();
    let expected: Vec<String> = (0..1005).map(|i| format!("Gemeinde {i:04}")).collect();
    assert_eq!(names, expected, "all 1,005 partners, past the export's page, in order");
    let workbook = app.get("/api/v1/partners?format=xlsx&sort=name").await.bytes().await.unwrap();
    assert_eq!(sheet(&workbook).len(), 1 + 1005, "the workbook too");
    let json = app.get("/api/v1/partners?format=json").await;
    assert!(json.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
}

#[tokio::test]
async fn an_empty_filter_on_any_list_is_a_400_not_the_whole_list() {
    let app = spawn_app().await;
    for (list, parameter) in [
        ("partners", "kind"),
        ("fields", "updated_since"),
        ("cooperations", "partner_id"),
        ("measures", "field_id"),
        ("contacts", "partner_id"),
        ("changes", "resource"),
    ] {
        let response = app.as_admin(Method::GET, &format!("/api/v1/{list}?{parameter}=")).send().await.unwrap();
        let problem = assert_problem(response, 400, "/problems/invalid-parameter").await;
        assert_eq!(error_fields(&problem), [parameter], "{list}");
    }
    let first_page = app.get("/api/v1/partners?cursor=&q=").await;
    assert_eq!(first_page.status(), 200, "an empty cursor is the first page, an empty search no search");
}

#[tokio::test]
async fn a_csv_export_that_cannot_start_is_a_problem_with_its_status_not_a_cut_answer() {
    let app = spawn_app().await;
    for list in ["partners", "fields", "cooperations", "measures", "contacts"] {
        let response = app.as_admin(Method::GET, &format!("/api/v1/{list}?format=csv&cursor=garbage!")).send();
        assert_problem(response.await.unwrap(), 400, "/problems/invalid-cursor").await;
    }
    let missing = app.as_admin(Method::GET, "/api/v1/cooperations/999999/measures").header("Accept", "text/csv");
    assert_problem(missing.send().await.unwrap(), 404, "/problems/not-found").await;
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The first sheet of a workbook, as rows of cells.
pub fn sheet(bytes: &[u8]) -> Vec<Vec<calamine::Data>> {
    use calamine::Reader;
    let mut workbook: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    range.rows().map(<[calamine::Data]>::to_vec).collect()
}

#[tokio::test]
async fn every_list_answers_xlsx_with_typed_cells_and_titles_in_german_or_english() {
    use calamine::Data;
    let app = spawn_app().await;
    for case in cases(&app).await {
        assert_eq!(app.post_json(&format!("/api/v1/{}", case.resource), &case.body).await.status(), 201);
    }
    for case in cases(&app).await {
        let r = case.resource;
        let page: Value =
            app.as_admin(Method::GET, &format!("/api/v1/{r}?limit=200")).send().await.unwrap().json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        let english = app.as_admin(Method::GET, &format!("/api/v1/{r}?format=xlsx&lang=en")).send().await.unwrap();
        assert_eq!(english.status(), 200, "{r}");
        assert_eq!(english.headers()["content-type"], XLSX, "{r}");
        let rows = sheet(&english.bytes().await.unwrap());
        assert_eq!(rows.len() - 1, items.len(), "{r}: a header and one row per record");
        let titles: Vec<String> = rows[0].iter().map(ToString::to_string).collect();
        assert!(titles.iter().all(|t| !t.contains('_') && !t.is_empty()), "{r}: titles, not field names: {titles:?}");
        assert!(titles.contains(&"Created at (UTC)".to_owned()), "{r}: {titles:?}");
        let german = app.as_admin(Method::GET, &format!("/api/v1/{r}")).header("Accept", XLSX).send().await.unwrap();
        let german = sheet(&german.bytes().await.unwrap());
        assert!(
            german[0].iter().any(|t| matches!(t, Data::String(s) if s == "Angelegt am (UTC)")),
            "{r}: German by default"
        );
        let (id, created) = (
            titles.iter().position(|t| t == "ID").unwrap(),
            titles.iter().position(|t| t == "Created at (UTC)").unwrap(),
        );
        for (row, item) in rows[1..].iter().zip(items) {
            assert_eq!(row[id], Data::Float(item["id"].as_f64().unwrap()), "{r}: ids are numbers, in the list's order");
            assert!(matches!(row[created], Data::DateTime(_)), "{r}: times are dates: {:?}", row[created]);
        }
    }
    // A measure with a date, a list and a description longer than a cell holds.
    let measures: Value = app.get("/api/v1/measures").await.json().await.unwrap();
    let mid = measures["items"][0]["id"].as_i64().unwrap();
    let long = "Bauhof ".repeat(6000);
    let patch = json!({"description": long, "planned_start": "2027-03-01"});
    let patched = app.as_admin(Method::PATCH, &format!("/api/v1/measures/{mid}")).json(&patch).send().await.unwrap();
    assert_eq!(patched.status(), 200);
    let workbook = app.as_admin(Method::GET, "/api/v1/measures?format=xlsx&lang=en").send().await.unwrap();
    let rows = sheet(&workbook.bytes().await.unwrap());
    let column =
        |title: &str| rows[0].iter().position(|t| matches!(t, calamine::Data::String(s) if s == title)).unwrap();
    let row = rows.iter().find(|row| row[0] == Data::Float(mid as f64)).unwrap();
    let description = row[column("Description")].to_string();
    assert!(description.len() <= 32_767 && description.starts_with("Bauhof Bauhof"), "{}", description.len());
    // The API trims the trailing space; all characters here are one UTF-16 unit (and one byte).
    let left_off = long.trim().len() - description.find(" […cut").unwrap();
    assert!(description.ends_with(&format!("[…cut: {left_off} characters left off]")), "{}", &description[32_600..]);
    match &row[column("Planned start")] {
        Data::DateTime(date) => assert_eq!(date.as_datetime().unwrap().date().to_string(), "2027-03-01"),
        other => panic!("a date cell, not {other:?}"),
    }
}
