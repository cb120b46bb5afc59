//! The change feed: every committed change once, in commit order, only for those who may read
//! it, with cursors that cannot be forged and that say so when their changes were pruned.

use std::collections::BTreeSet;

use diesel::RunQueryDsl;
use ikz_api::auth::Caller;
use ikz_api::changes::{self, Op, Resource};
use ikz_api::db::{AnyConnection, ConnectionManager};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_across_instances, start, test_config};

/// `(resource, id, op)` of a change item.
type Seen = (String, i64, String);

fn seen(item: &Value) -> Seen {
    (
        item["resource"].as_str().unwrap().to_owned(),
        item["id"].as_i64().unwrap(),
        item["op"].as_str().unwrap().to_owned(),
    )
}

fn expect(resource: &str, id: &Value, op: &str) -> Seen {
    (resource.to_owned(), id.as_i64().unwrap(), op.to_owned())
}

/// The current head, as `token` (or anonymously) sees it.
async fn head(app: &TestApp) -> String {
    let body: Value = app.get("/api/v1/changes/cursor").await.json().await.unwrap();
    body["cursor"].as_str().unwrap().to_owned()
}

/// Follows the feed from `cursor` in pages of `limit` until nothing more follows; the items and
/// the last `next_cursor`.
async fn follow(app: &TestApp, token: Option<&str>, cursor: &str, query: &str, limit: i64) -> (Vec<Value>, String) {
    let (mut items, mut cursor) = (Vec::new(), cursor.to_owned());
    loop {
        let path = format!("/api/v1/changes?cursor={cursor}&limit={limit}{query}");
        let response = app.request(Method::GET, &path, token).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let page: Value = response.json().await.unwrap();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if page["has_more"] != true {
            return (items, cursor);
        }
    }
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post_json(path, &body).await;
    assert_eq!(response.status(), 201, "{path}: {}", response.text().await.unwrap_or_default());
    response.json().await.unwrap()
}

async fn ok(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Option<Value> {
    let mut request = app.as_admin(method.clone(), path);
    if let Some(body) = body {
        request = request.header("Content-Type", "application/merge-patch+json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{method} {path}: {}", response.status());
    response.json().await.ok()
}

#[tokio::test]
async fn every_write_of_every_resource_is_in_the_feed_once_in_commit_order() {
    let app = spawn_app().await;
    let start_at = head(&app).await;
    let mut expected = Vec::new();

    let partner = app.create_partner(json!({"name": "Gemeinde Probe", "kind": "municipality"})).await;
    expected.push(expect("partners", &partner["id"], "created"));
    let p = format!("/api/v1/partners/{}", partner["id"]);
    ok(&app, Method::PATCH, &p, Some(json!({"population": 1200}))).await;
    expected.push(expect("partners", &partner["id"], "updated"));

    let field =
        created(&app, "/api/v1/fields", json!({"key": "tourism", "name_de": "Tourismus", "name_en": "Tourism"})).await;
    expected.push(expect("fields", &field["id"], "created"));
    let f = format!("/api/v1/fields/{}", field["id"]);
    ok(&app, Method::PATCH, &f, Some(json!({"description": "Gäste"}))).await;
    expected.push(expect("fields", &field["id"], "updated"));

    let coop = created(&app, "/api/v1/cooperations", json!({"name": "IKZ Probe"})).await;
    expected.push(expect("cooperations", &coop["id"], "created"));
    let c = format!("/api/v1/cooperations/{}", coop["id"]);
    created(&app, &format!("{c}/members"), json!({"partner_id": partner["id"], "role": "lead"})).await;
    expected.push(expect("cooperations", &coop["id"], "updated"));

    let measure = created(
        &app,
        "/api/v1/measures",
        json!({"cooperation_id": coop["id"], "field_id": field["id"], "title": "Gästekarte", "benefit": 3, "cost": 2, "effort": 2}),
    )
    .await;
    expected.push(expect("measures", &measure["id"], "created"));
    let m = format!("/api/v1/measures/{}", measure["id"]);
    created_or_ok(&app, &format!("{m}/transitions"), json!({"to": "assessed"})).await;
    expected.push(expect("measures", &measure["id"], "updated"));

    let contact = created(&app, "/api/v1/contacts", json!({"partner_id": partner["id"], "name": "Erika Probe"})).await;
    expected.push(expect("contacts", &contact["id"], "created"));
    ok(&app, Method::PATCH, &m, Some(json!({"responsible_contact_id": contact["id"]}))).await;
    expected.push(expect("measures", &measure["id"], "updated"));
    // Erasing the contact changes the measure that named it: its own entry, before the tombstone.
    ok(&app, Method::DELETE, &format!("/api/v1/contacts/{}", contact["id"]), None).await;
    expected.push(expect("measures", &measure["id"], "updated"));
    expected.push(expect("contacts", &contact["id"], "deleted"));

    let child = created(
        &app,
        "/api/v1/measures",
        json!({"cooperation_id": coop["id"], "field_id": field["id"], "title": "Teilprojekt", "parent_id": measure["id"]}),
    )
    .await;
    expected.push(expect("measures", &child["id"], "created"));
    // Deleting the parent takes the sub-measure off it: the sub-measure changes too.
    ok(&app, Method::DELETE, &m, None).await;
    expected.push(expect("measures", &child["id"], "updated"));
    expected.push(expect("measures", &measure["id"], "deleted"));
    let child_now = app.get(&format!("/api/v1/measures/{}", child["id"])).await;
    let child_etag = child_now.headers()["etag"].to_str().unwrap().to_owned();
    let child_now: Value = child_now.json().await.unwrap();
    assert_eq!(child_now["parent_id"], Value::Null);

    let user = created(
        &app,
        "/api/v1/users",
        json!({"username": "f.probe", "password": "long-enough-password", "role": "viewer"}),
    )
    .await;
    expected.push(expect("users", &user["id"], "created"));
    ok(&app, Method::PATCH, &format!("/api/v1/users/{}", user["id"]), Some(json!({"display_name": "F. Probe"}))).await;
    expected.push(expect("users", &user["id"], "updated"));
    ok(&app, Method::DELETE, &format!("/api/v1/users/{}", user["id"]), None).await;
    expected.push(expect("users", &user["id"], "deleted"));

    let token = created(&app, "/api/v1/service-tokens", json!({"name": "sync", "role": "viewer"})).await;
    expected.push(expect("service_tokens", &token["id"], "created"));
    let t = format!("/api/v1/service-tokens/{}", token["id"]);
    ok(&app, Method::DELETE, &t, None).await;
    expected.push(expect("service_tokens", &token["id"], "updated"));
    ok(&app, Method::DELETE, &t, None).await; // revoking twice changes nothing

    let hook = json!({"url": "http://127.0.0.1:9/hooks", "resources": ["fields"]});
    let webhook = created(&app, "/api/v1/webhooks", hook).await;
    expected.push(expect("webhooks", &webhook["id"], "created"));
    let w = format!("/api/v1/webhooks/{}", webhook["id"]);
    ok(&app, Method::PATCH, &w, Some(json!({"active": false}))).await;
    expected.push(expect("webhooks", &webhook["id"], "updated"));
    ok(&app, Method::POST, &format!("{w}/secret"), None).await;
    expected.push(expect("webhooks", &webhook["id"], "updated"));
    ok(&app, Method::DELETE, &w, None).await;
    expected.push(expect("webhooks", &webhook["id"], "deleted"));

    ok(&app, Method::DELETE, &format!("/api/v1/measures/{}", child["id"]), None).await;
    expected.push(expect("measures", &child["id"], "deleted"));
    ok(&app, Method::DELETE, &format!("{c}/members/{}", partner["id"]), None).await;
    expected.push(expect("cooperations", &coop["id"], "updated"));
    ok(&app, Method::DELETE, &c, None).await;
    expected.push(expect("cooperations", &coop["id"], "deleted"));
    ok(&app, Method::DELETE, &f, None).await;
    expected.push(expect("fields", &field["id"], "deleted"));
    let partner_etag = app.get(&p).await.headers()["etag"].to_str().unwrap().to_owned();
    let before_delete = head(&app).await;
    ok(&app, Method::DELETE, &p, None).await;
    expected.push(expect("partners", &partner["id"], "deleted"));

    // Followed in small pages, every change comes once, in the order it was made.
    let (items, end) = follow(&app, Some(&app.admin_token), &start_at, "", 3).await;
    let got: Vec<Seen> = items.iter().map(seen).collect();
    assert_eq!(got, expected);
    assert!(items.iter().all(|i| i["actor"].as_str().is_some_and(|a| a.starts_with("user:"))), "the admin is named");
    let last_of = |resource: &str, id: &Value| {
        items.iter().rev().find(|i| i["resource"] == resource && i["id"] == *id).unwrap().clone()
    };
    assert_eq!(last_of("measures", &child["id"])["etag"], Value::Null, "deleted at last");
    let (before_delete_items, _) = follow(&app, Some(&app.admin_token), &start_at, "&resource=partners", 50).await;
    assert_eq!(before_delete_items.len(), 3);
    assert_eq!(before_delete_items[1]["etag"], partner_etag, "the ETag after the change is the record's");
    let child_updates: Vec<&Value> = items
        .iter()
        .filter(|i| i["resource"] == "measures" && i["id"] == child["id"] && i["op"] == "updated")
        .collect();
    assert_eq!(child_updates[0]["etag"], child_etag);

    // From the end nothing new; from a position in between, only what came after it.
    let (nothing, same) = follow(&app, Some(&app.admin_token), &end, "", 10).await;
    assert!(nothing.is_empty());
    assert_eq!(same, end, "the cursor stays where it is while nothing happens");
    let (tail, _) = follow(&app, Some(&app.admin_token), &before_delete, "", 10).await;
    assert_eq!(tail.iter().map(seen).collect::<Vec<_>>(), vec![expect("partners", &partner["id"], "deleted")]);
    // Each item's cursor continues right after it.
    let third = items[2]["cursor"].as_str().unwrap();
    let (rest, _) = follow(&app, Some(&app.admin_token), third, "", 100).await;
    assert_eq!(rest.iter().map(seen).collect::<Vec<_>>(), expected[3..]);
}

async fn created_or_ok(app: &TestApp, path: &str, body: Value) {
    let response = app.post_json(path, &body).await;
    assert!(response.status().is_success(), "{path}: {}", response.status());
}

/// A connection of the test's own, beside the service's, to the same database.
fn own_connection(app: &TestApp) -> AnyConnection {
    ConnectionManager::new(&app._db.direct_url()).establish().expect("connect")
}

fn sql(conn: &mut AnyConnection, statement: &str) {
    diesel::sql_query(statement).execute(conn).unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Begins a write the way the service does on this backend.
fn begin_write(conn: &mut AnyConnection) {
    let begin = if matches!(conn, AnyConnection::Pg(_)) { "BEGIN" } else { "BEGIN IMMEDIATE" };
    sql(conn, begin);
}

/// A partner row written directly, as a write that has not recorded its change yet.
fn insert_partner(conn: &mut AnyConnection, name: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let now = ikz_api::models::now().naive().format("%Y-%m-%d %H:%M:%S%.6f");
    diesel::sql_query(format!(
        "INSERT INTO partners (name, name_folded, kind, created_at, updated_at) \
         VALUES ('{name}', '{}', 'other', '{now}', '{now}') RETURNING id",
        name.to_lowercase()
    ))
    .get_result::<Id>(conn)
    .expect("insert")
    .id
}

#[tokio::test]
async fn a_write_that_records_its_change_later_comes_later_even_if_it_began_first() {
    let app = spawn_app().await;
    let mut own = own_connection(&app);
    let postgres = matches!(own, AnyConnection::Pg(_));
    let system = Caller::system("test");
    let cursor = head(&app).await;

    // T1 records its change and holds its transaction open; T2 is sent meanwhile. No reader
    // sees either until T1 commits, and then T1 comes first: change numbers follow commit order.
    begin_write(&mut own);
    let first = insert_partner(&mut own, "Zuerst");
    changes::changed(&mut own, &system, Resource::Partners, first, Op::Created, ikz_api::models::now()).unwrap();
    let second = {
        let (client, url, token) = (app.client.clone(), app.url("/api/v1/partners"), app.admin_token.clone());
        tokio::spawn(async move {
            let response =
                client.post(url).bearer_auth(token).json(&json!({"name": "Danach", "kind": "other"})).send().await;
            response.unwrap().json::<Value>().await.unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (meanwhile, _) = follow(&app, Some(&app.admin_token), &cursor, "", 10).await;
    assert!(meanwhile.is_empty(), "nothing is visible before T1 commits: {meanwhile:?}");
    sql(&mut own, "COMMIT");
    let second = second.await.unwrap();
    let (items, after_both) = follow(&app, Some(&app.admin_token), &cursor, "", 10).await;
    let ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![first, second["id"].as_i64().unwrap()]);

    if postgres {
        // The trap of sequence numbers: T3 begins and writes first, T4 commits and is read, then
        // T3 records its change and commits. The reader, continuing from where it was, still
        // gets T3, after T4.
        begin_write(&mut own);
        let third = insert_partner(&mut own, "Lange offen");
        let fourth = app.create_partner(json!({"name": "Schnell", "kind": "other"})).await;
        let (read, cursor_after_fourth) = follow(&app, Some(&app.admin_token), &after_both, "", 10).await;
        assert_eq!(read.iter().map(|i| i["id"].clone()).collect::<Vec<_>>(), vec![fourth["id"].clone()]);
        changes::changed(&mut own, &system, Resource::Partners, third, Op::Created, ikz_api::models::now()).unwrap();
        sql(&mut own, "COMMIT");
        let (late, _) = follow(&app, Some(&app.admin_token), &cursor_after_fourth, "", 10).await;
        assert_eq!(late.iter().map(|i| i["id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![third]);
    }
}

#[tokio::test]
async fn thirty_two_concurrent_writers_and_a_polling_reader_see_every_write_once_across_instances() {
    // Writers and reader alternate between the instances (two or more on PostgreSQL).
    let app = spawn_app_across_instances().await;
    let cursor = head(&app).await;
    let writers: Vec<_> = (0..32)
        .map(|n| {
            let (client, url, token) = (app.client.clone(), app.url("/api/v1/partners"), app.admin_token.clone());
            tokio::spawn(async move {
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({"name": format!("Gemeinde {n}"), "kind": "municipality"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                response.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
            })
        })
        .collect();
    let (mut polled, mut at) = (Vec::new(), cursor);
    let mut written = BTreeSet::new();
    for writer in writers {
        written.insert(writer.await.unwrap());
        let (items, next) = follow(&app, Some(&app.admin_token), &at, "", 5).await;
        polled.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
        at = next;
    }
    let (items, _) = follow(&app, Some(&app.admin_token), &at, "", 5).await;
    polled.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
    assert_eq!(polled.len(), 32, "none twice: {polled:?}");
    assert_eq!(polled.iter().copied().collect::<BTreeSet<_>>(), written, "every acknowledged write");
}

#[tokio::test]
async fn the_feed_shows_only_what_the_caller_may_read() {
    let app = spawn_app().await;
    let cursor = head(&app).await;
    let partner = app.create_partner(json!({"name": "Gemeinde Probe", "kind": "municipality"})).await;
    created(&app, "/api/v1/contacts", json!({"partner_id": partner["id"], "name": "Erika Probe"})).await;
    created(&app, "/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/", "resources": ["fields"]})).await;
    let viewer = app.token_for("v.probe", "viewer", &[]).await;
    let resources =
        |items: &[Value]| items.iter().map(|i| i["resource"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

    let (anonymous, _) = follow(&app, None, &cursor, "", 50).await;
    assert_eq!(resources(&anonymous), ["partners"], "no contacts, no accounts");
    assert!(anonymous.iter().all(|i| i["actor"].is_null()), "no names for anonymous readers");
    let (as_viewer, _) = follow(&app, Some(&viewer), &cursor, "", 50).await;
    assert_eq!(resources(&as_viewer), ["partners", "contacts"]);
    let (as_admin, _) = follow(&app, Some(&app.admin_token), &cursor, "", 50).await;
    assert_eq!(resources(&as_admin), ["partners", "contacts", "webhooks", "users"]);
    let (only_contacts, _) = follow(&app, Some(&viewer), &cursor, "&resource=contacts", 50).await;
    assert_eq!(resources(&only_contacts), ["contacts"]);

    let asked = |token: Option<String>, resource: &str| {
        let path = format!("/api/v1/changes?resource={resource}");
        app.request(Method::GET, &path, token.as_deref()).send()
    };
    assert_problem(asked(None, "contacts").await.unwrap(), 401, "/problems/unauthorized").await;
    assert_problem(asked(Some(viewer.clone()), "users").await.unwrap(), 403, "/problems/forbidden").await;
    assert_problem(asked(Some(viewer.clone()), "webhooks").await.unwrap(), 403, "/problems/forbidden").await;
    assert_problem(asked(Some(viewer), "everything").await.unwrap(), 400, "/problems/invalid-parameter").await;
}

#[tokio::test]
async fn cursors_cannot_be_forged_and_outlive_a_restart() {
    let app = spawn_app().await;
    let cursor = head(&app).await;
    app.create_partner(json!({"name": "Gemeinde Probe", "kind": "municipality"})).await;
    for forged in
        ["AAAAAAAAAAE", "not-a-cursor", &cursor[..cursor.len() - 1], &format!("{}A", &cursor[..cursor.len() - 1])]
    {
        if forged == cursor {
            continue;
        }
        let response = app.get(&format!("/api/v1/changes?cursor={forged}")).await;
        assert_problem(response, 400, "/problems/invalid-cursor").await;
    }
    // Another instance on the same database (after a restart, or behind a load balancer) reads
    // the same cursor.
    let other = start(&test_config(&app._db));
    let page: Value =
        app.client.get(format!("{other}/api/v1/changes?cursor={cursor}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_cursor_from_before_the_oldest_kept_change_is_gone_and_says_how_to_start_again() {
    let app = spawn_app().await;
    let old_cursor = head(&app).await;
    app.create_partner(json!({"name": "Alt", "kind": "other"})).await;
    app.create_partner(json!({"name": "Auch alt", "kind": "other"})).await;
    let mut own = own_connection(&app);
    sql(&mut own, "UPDATE changes SET at = '2000-01-01 00:00:00'");
    let kept = app.create_partner(json!({"name": "Neu", "kind": "other"})).await;
    // Start-up prunes what is older than the retention (90 days by default).
    let restarted = start(&test_config(&app._db));
    let get = |path: String| app.client.get(format!("{restarted}{path}")).send();

    let gone = get(format!("/api/v1/changes?cursor={old_cursor}")).await.unwrap();
    let problem = assert_problem(gone, 410, "/problems/cursor-expired").await;
    assert!(problem["detail"].as_str().unwrap().contains("/api/v1/changes/cursor"), "{problem}");
    let from_the_start: Value = get("/api/v1/changes".into()).await.unwrap().json().await.unwrap();
    let ids: Vec<&Value> = from_the_start["items"].as_array().unwrap().iter().map(|i| &i["id"]).collect();
    assert_eq!(ids, vec![&kept["id"]], "the oldest kept change comes first");
    let fresh: Value = get("/api/v1/changes/cursor".into()).await.unwrap().json().await.unwrap();
    let page = get(format!("/api/v1/changes?cursor={}", fresh["cursor"].as_str().unwrap())).await.unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn every_list_takes_updated_since() {
    let app = spawn_app().await;
    let partner = app.create_partner(json!({"name": "Gemeinde Basis", "kind": "municipality"})).await;
    let coop = created(&app, "/api/v1/cooperations", json!({"name": "IKZ Basis"})).await;
    let fields: Value = app.get("/api/v1/fields").await.json().await.unwrap();
    let field_id = fields["items"][0]["id"].clone();
    let n = std::cell::Cell::new(0);
    let next = || {
        n.set(n.get() + 1);
        n.get()
    };
    type Case<'a> = (&'a str, Box<dyn Fn() -> Value + 'a>, Value);
    let cases: Vec<Case> = vec![
        (
            "/api/v1/partners",
            Box::new(|| json!({"name": format!("Gemeinde {}", next()), "kind": "other"})),
            json!({"population": 7}),
        ),
        (
            "/api/v1/fields",
            Box::new(|| json!({"key": format!("feld-{}", next()), "name_de": "Feld", "name_en": "Field"})),
            json!({"description": "geändert"}),
        ),
        (
            "/api/v1/cooperations",
            Box::new(|| json!({"name": format!("IKZ {}", next())})),
            json!({"description": "geändert"}),
        ),
        (
            "/api/v1/measures",
            Box::new(
                || json!({"cooperation_id": coop["id"], "field_id": field_id, "title": format!("Maßnahme {}", next())}),
            ),
            json!({"summary": "geändert"}),
        ),
        (
            "/api/v1/contacts",
            Box::new(|| json!({"partner_id": partner["id"], "name": format!("Person {}", next())})),
            json!({"function": "Kämmerin"}),
        ),
        (
            "/api/v1/users",
            Box::new(
                || json!({"username": format!("person.{}", next()), "password": "long-enough-password", "role": "viewer"}),
            ),
            json!({"display_name": "Geändert"}),
        ),
        (
            "/api/v1/webhooks",
            Box::new(|| json!({"url": format!("http://127.0.0.1:9/{}", next()), "resources": ["fields"]})),
            json!({"description": "geändert"}),
        ),
    ];
    for (list, body, change) in cases {
        let older = created(&app, list, body()).await;
        let newer = created(&app, list, body()).await;
        let since = newer["updated_at"].as_str().unwrap().to_owned();
        let ids =
            |page: Value| -> Vec<Value> { page["items"].as_array().unwrap().iter().map(|i| i["id"].clone()).collect() };
        let listed = |since: String| {
            let path = format!("{list}?updated_since={since}&limit=200");
            app.as_admin(Method::GET, &path).send()
        };
        let page: Value = listed(since.clone()).await.unwrap().json().await.unwrap();
        assert_eq!(ids(page), vec![newer["id"].clone()], "{list}: only what changed at or after {since}");
        ok(&app, Method::PATCH, &format!("{list}/{}", older["id"]), Some(change)).await;
        let mut both = ids(listed(since.clone()).await.unwrap().json().await.unwrap());
        both.sort_by_key(|v| v.as_i64());
        assert_eq!(both, vec![older["id"].clone(), newer["id"].clone()], "{list}: a change brings a record back");
        let bad = listed("yesterday".into()).await.unwrap();
        assert_problem(bad, 400, "/problems/invalid-parameter").await;
    }
}

#[tokio::test]
async fn with_include_record_every_resource_comes_as_get_answers_it_and_null_once_deleted() {
    let app = spawn_app().await;
    let cursor = head(&app).await;
    let partner = app.create_partner(json!({"name": "Gemeinde Probe", "kind": "municipality"})).await;
    let field =
        created(&app, "/api/v1/fields", json!({"key": "tourism", "name_de": "Tourismus", "name_en": "Tourism"})).await;
    let coop = created(&app, "/api/v1/cooperations", json!({"name": "IKZ Probe"})).await;
    let measure = created(
        &app,
        "/api/v1/measures",
        json!({"cooperation_id": coop["id"], "field_id": field["id"], "title": "Gästekarte"}),
    )
    .await;
    let contact = created(&app, "/api/v1/contacts", json!({"partner_id": partner["id"], "name": "Erika Probe"})).await;
    let gone = created(&app, "/api/v1/contacts", json!({"partner_id": partner["id"], "name": "Max Weg"})).await;
    let user = created(
        &app,
        "/api/v1/users",
        json!({"username": "f.probe", "password": "long-enough-password", "role": "viewer"}),
    )
    .await;
    let token = created(&app, "/api/v1/service-tokens", json!({"name": "sync", "role": "viewer"})).await;
    let webhook =
        created(&app, "/api/v1/webhooks", json!({"url": "http://127.0.0.1:9/", "resources": ["fields"]})).await;
    ok(&app, Method::DELETE, &format!("/api/v1/contacts/{}", gone["id"]), None).await;

    let (items, _) = follow(&app, Some(&app.admin_token), &cursor, "&include=record", 4).await;
    let paths = [
        ("partners", "partners", &partner),
        ("fields", "fields", &field),
        ("cooperations", "cooperations", &coop),
        ("measures", "measures", &measure),
        ("contacts", "contacts", &contact),
        ("users", "users", &user),
        ("service_tokens", "service-tokens", &token),
        ("webhooks", "webhooks", &webhook),
    ];
    for (resource, path, record) in paths {
        let item = items.iter().find(|i| i["resource"] == resource && i["id"] == record["id"]).expect(resource);
        let response = app.as_admin(Method::GET, &format!("/api/v1/{path}/{}", record["id"])).send().await.unwrap();
        assert_eq!(response.status(), 200, "{resource}");
        let etag = response.headers().get("etag").map(|e| e.to_str().unwrap().to_owned());
        let answer: Value = response.json().await.unwrap();
        assert_eq!(item["record"], answer, "{resource}: the record as GET answers it");
        if let Some(etag) = etag {
            assert_eq!(item["etag"], etag, "{resource}: unchanged since, so the item's ETag is the record's");
        }
    }
    let erased: Vec<&Value> = items.iter().filter(|i| i["resource"] == "contacts" && i["id"] == gone["id"]).collect();
    assert_eq!(erased.len(), 2, "created, then deleted");
    assert!(erased.iter().all(|i| i.get("record") == Some(&Value::Null)), "null once deleted: {erased:?}");

    // Without include, no record; anonymous readers get records too, of what they may read.
    let (plain, _) = follow(&app, Some(&app.admin_token), &cursor, "", 100).await;
    assert!(plain.iter().all(|i| i.get("record").is_none()));
    let (anonymous, _) = follow(&app, None, &cursor, "&include=record", 100).await;
    assert!(anonymous.iter().all(|i| i["resource"] != "contacts" && i["record"]["id"] == i["id"]));
    let response = app.request(Method::GET, "/api/v1/changes?include=everything", None).send().await.unwrap();
    assert_problem(response, 400, "/problems/invalid-parameter").await;
}

/// `GET /api/v1/changes?cursor=…&wait=…` sent in the background.
fn waiting(app: &TestApp, cursor: &str, query: &str) -> tokio::task::JoinHandle<Value> {
    let path = format!("/api/v1/changes?cursor={cursor}{query}");
    let request = app.request(Method::GET, &path, Some(&app.admin_token));
    tokio::spawn(async move {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()
    })
}

#[tokio::test]
async fn a_waiting_reader_gets_the_next_change_as_it_comes_from_this_instance_or_another() {
    let app = spawn_app().await;
    let cursor = head(&app).await;

    // Nothing comes: an empty page after the wait, at the same place.
    let quiet = waiting(&app, &cursor, "&wait=1").await.unwrap();
    assert_eq!(quiet["items"], json!([]));
    assert_eq!(quiet["next_cursor"], cursor.as_str());

    // A write through this instance answers a reader waiting up to a minute.
    let reader = waiting(&app, &cursor, "&wait=60");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "it waits while nothing happens");
    let partner = app.create_partner(json!({"name": "Gemeinde Probe", "kind": "municipality"})).await;
    let page = reader.await.unwrap();
    assert_eq!(
        page["items"].as_array().unwrap().iter().map(|i| i["id"].clone()).collect::<Vec<_>>(),
        [partner["id"].clone()]
    );

    // A write this instance did not make (another instance, the CLI) is found by the poller.
    let after_partner = page["next_cursor"].as_str().unwrap().to_owned();
    let reader = waiting(&app, &after_partner, "&wait=60");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut own = own_connection(&app);
    begin_write(&mut own);
    let elsewhere = insert_partner(&mut own, "Anderswo");
    let system = Caller::system("test");
    changes::changed(&mut own, &system, Resource::Partners, elsewhere, Op::Created, ikz_api::models::now()).unwrap();
    sql(&mut own, "COMMIT");
    let page = reader.await.unwrap();
    assert_eq!(page["items"][0]["id"], elsewhere);

    // A reader of contacts is not answered by a partner's change, and skips it afterwards.
    let after_elsewhere = page["next_cursor"].as_str().unwrap().to_owned();
    let reader = waiting(&app, &after_elsewhere, "&resource=contacts&wait=2");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.create_partner(json!({"name": "Nur Partner", "kind": "other"})).await;
    let page = reader.await.unwrap();
    assert_eq!(page["items"], json!([]));
    assert_ne!(page["next_cursor"], after_elsewhere.as_str(), "past the partner's change");
    assert_eq!(page["next_cursor"], head(&app).await.as_str());

    for wait in ["61", "-1", "soon", "", "5&limit="] {
        let path = format!("/api/v1/changes?wait={wait}");
        let response = app.request(Method::GET, &path, None).send().await.unwrap();
        assert_problem(response, 400, "/problems/invalid-parameter").await;
    }
}

#[tokio::test]
async fn a_waiting_reader_hears_of_a_write_on_another_instance_across_instances() {
    let app = spawn_app_across_instances().await;
    let (reader_at, writer_at) = (app.addresses[0].clone(), app.addresses.last().unwrap().clone());
    let cursor = head(&app).await;
    let path = format!("{reader_at}/api/v1/changes?cursor={cursor}&wait=60");
    let request = app.client.get(path).bearer_auth(&app.admin_token);
    let reader = tokio::spawn(async move { request.send().await.unwrap().json::<Value>().await.unwrap() });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!reader.is_finished(), "it waits while nothing happens");
    let response = app
        .client
        .post(format!("{writer_at}/api/v1/partners"))
        .bearer_auth(&app.admin_token)
        .json(&json!({"name": "Gemeinde Drüben", "kind": "municipality"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let partner: Value = response.json().await.unwrap();
    let page = reader.await.unwrap();
    assert_eq!(page["items"][0]["id"], partner["id"], "{page}");
}
