//! A stored value the service cannot read (a status, kind or role outside its closed set, e.g.
//! written by a newer release or by hand) is an error on every resource that holds one: the
//! answer is an opaque 500 problem, never a silent fallback to some other value, and a write
//! based on it changes nothing.

use diesel::RunQueryDsl;
use ikz_api::db::{AnyConnection, ConnectionManager};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

/// Stores `value` in `table.column` of row `id`, past the column's CHECK constraint.
fn corrupt(app: &TestApp, table: &str, column: &str, id: i64, value: &str) {
    let mut conn = ConnectionManager::new(&app._db.url()).establish().expect("connect");
    let postgres = matches!(conn, AnyConnection::Pg(_));
    let mut sql = |statement: String| diesel::sql_query(statement).execute(&mut conn).expect("direct write");
    if postgres {
        sql(format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_{column}_check"));
    } else {
        sql("PRAGMA ignore_check_constraints = ON".into());
    }
    sql(format!("UPDATE {table} SET {column} = '{value}' WHERE id = {id}"));
}

/// The id a query selects (one row).
fn id_of(app: &TestApp, query: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let mut conn = ConnectionManager::new(&app._db.url()).establish().expect("connect");
    diesel::sql_query(query).get_result::<Id>(&mut conn).expect(query).id
}

/// The admin's request fails with an opaque 500 problem that does not show the stored value.
async fn refused(app: &TestApp, method: Method, path: &str, body: Option<Value>) {
    let mut request = app.as_admin(method.clone(), path);
    if let Some(body) = body {
        request = request.header("Content-Type", "application/merge-patch+json").body(body.to_string());
    }
    let problem = assert_problem(request.send().await.unwrap(), 500, "/problems/internal").await;
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(!detail.contains("mystery"), "{method} {path}: the stored value is not shown to clients: {detail}");
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.post_json(path, &body).await;
    assert_eq!(response.status(), 201, "{path}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn unreadable_stored_values_are_errors_on_every_resource() {
    let app = spawn_app().await;
    let partner = app.create_partner(json!({"name": "Gemeinde Probe", "kind": "municipality"})).await;
    let other = app.create_partner(json!({"name": "Stadt Beispiel", "kind": "municipality"})).await;
    let (partner_id, other_id) = (partner["id"].as_i64().unwrap(), other["id"].as_i64().unwrap());
    let coop = created(&app, "/api/v1/cooperations", json!({"name": "IKZ Probe"})).await;
    let coop_id = coop["id"].as_i64().unwrap();
    for p in [partner_id, other_id] {
        created(&app, &format!("/api/v1/cooperations/{coop_id}/members"), json!({"partner_id": p, "role": "member"}))
            .await;
    }
    let fields: Value = app.get("/api/v1/fields").await.json().await.unwrap();
    let field_id = fields["items"][0]["id"].as_i64().unwrap();
    let measure = created(
        &app,
        "/api/v1/measures",
        json!({"cooperation_id": coop_id, "field_id": field_id, "title": "Streusalz", "horizon": "short"}),
    )
    .await;
    let measure_id = measure["id"].as_i64().unwrap();
    let viewer = created(
        &app,
        "/api/v1/users",
        json!({"username": "v.probe", "password": "long-enough-password", "role": "viewer"}),
    )
    .await;
    let token = created(&app, "/api/v1/service-tokens", json!({"name": "sync", "role": "viewer"})).await;

    // Partners: the read, the list, and a change (which then changed nothing).
    corrupt(&app, "partners", "kind", partner_id, "mystery");
    let path = format!("/api/v1/partners/{partner_id}");
    refused(&app, Method::GET, &path, None).await;
    refused(&app, Method::GET, "/api/v1/partners", None).await;
    refused(&app, Method::PATCH, &path, Some(json!({"name": "Umbenannt"}))).await;
    corrupt(&app, "partners", "kind", partner_id, "municipality");
    let reread: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(reread["name"], "Gemeinde Probe", "the refused change changed nothing");

    // Cooperations and their memberships.
    corrupt(&app, "cooperations", "status", coop_id, "mystery");
    refused(&app, Method::GET, &format!("/api/v1/cooperations/{coop_id}"), None).await;
    refused(&app, Method::GET, "/api/v1/cooperations", None).await;
    corrupt(&app, "cooperations", "status", coop_id, "exploring");
    let member_row = id_of(&app, &format!("SELECT id FROM cooperation_members WHERE partner_id = {partner_id}"));
    corrupt(&app, "cooperation_members", "role", member_row, "mystery");
    refused(&app, Method::GET, &format!("/api/v1/cooperations/{coop_id}/members"), None).await;

    // Measures: the status and the horizon, on reads, lists, changes and transitions.
    let path = format!("/api/v1/measures/{measure_id}");
    corrupt(&app, "measures", "status", measure_id, "mystery");
    refused(&app, Method::GET, &path, None).await;
    refused(&app, Method::GET, "/api/v1/measures", None).await;
    refused(&app, Method::PATCH, &path, Some(json!({"title": "Umbenannt"}))).await;
    let transition = app.post_json(&format!("{path}/transitions"), &json!({"to": "rejected"})).await;
    assert_problem(transition, 500, "/problems/internal").await;
    corrupt(&app, "measures", "status", measure_id, "idea");
    corrupt(&app, "measures", "horizon", measure_id, "mystery");
    refused(&app, Method::GET, &path, None).await;
    refused(&app, Method::PATCH, &path, Some(json!({"title": "Umbenannt"}))).await;
    corrupt(&app, "measures", "horizon", measure_id, "short");
    let reread: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!((reread["title"].as_str(), reread["status"].as_str()), (Some("Streusalz"), Some("idea")));
    let entry = id_of(&app, &format!("SELECT id FROM measure_history WHERE measure_id = {measure_id}"));
    corrupt(&app, "measure_history", "to_status", entry, "mystery");
    refused(&app, Method::GET, &format!("{path}/history"), None).await;

    // Accounts and service tokens.
    corrupt(&app, "users", "role", viewer["id"].as_i64().unwrap(), "mystery");
    refused(&app, Method::GET, &format!("/api/v1/users/{}", viewer["id"]), None).await;
    refused(&app, Method::GET, "/api/v1/users", None).await;
    corrupt(&app, "service_tokens", "role", token["id"].as_i64().unwrap(), "mystery");
    refused(&app, Method::GET, &format!("/api/v1/service-tokens/{}", token["id"]), None).await;
    refused(&app, Method::GET, "/api/v1/service-tokens", None).await;
}
