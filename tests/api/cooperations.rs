use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};

async fn partner(app: &TestApp, name: &str) -> i64 {
    app.create_partner(json!({"name": name, "kind": "municipality"})).await["id"].as_i64().unwrap()
}

async fn cooperation(app: &TestApp, body: Value) -> Value {
    let response = app.post_json("/api/v1/cooperations", &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    response.json().await.unwrap()
}

async fn add_member(app: &TestApp, coop: i64, partner: i64, role: &str) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/cooperations/{coop}/members"),
        &json!({"partner_id": partner, "role": role, "joined_on": "2025-03-01"}),
    )
    .await
}

#[tokio::test]
async fn a_cooperation_is_created_read_changed_and_listed() {
    let app = spawn_app().await;
    let created = cooperation(
        &app,
        json!({
            "name": "IKZ Westlausitz", "status": "active", "started_on": "2025-03-01",
            "funding_programme": "Förderrichtlinie IKZ", "funding_amount_eur": 150000
        }),
    )
    .await;
    assert_eq!(created["status"], "active");
    assert_eq!(created["started_on"], "2025-03-01");
    let path = format!("/api/v1/cooperations/{}", created["id"]);
    assert_eq!(app.get(&path).await.json::<Value>().await.unwrap(), created);

    let paused: Value =
        app.patch_json(&path, &json!({"status": "paused", "funding_amount_eur": null})).await.json().await.unwrap();
    assert_eq!((paused["status"].clone(), paused["funding_amount_eur"].clone()), (json!("paused"), Value::Null));
    assert_eq!(paused["funding_programme"], "Förderrichtlinie IKZ");

    cooperation(&app, json!({"name": "Verwaltungsgemeinschaft Nord"})).await;
    let all = app.collect_all("/api/v1/cooperations?limit=1").await;
    assert_eq!(
        all.iter().map(|c| c["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["IKZ Westlausitz", "Verwaltungsgemeinschaft Nord"]
    );
    assert_eq!(all[1]["status"], "exploring", "the default status");
    let paused_only: Value = app.get("/api/v1/cooperations?status=paused").await.json().await.unwrap();
    assert_eq!(paused_only["items"].as_array().unwrap().len(), 1);
    let found: Value = app.get("/api/v1/cooperations?q=WESTLAUSITZ").await.json().await.unwrap();
    assert_eq!(found["items"][0]["name"], "IKZ Westlausitz");
}

#[tokio::test]
async fn an_end_before_the_start_is_refused() {
    let app = spawn_app().await;
    let bad = app
        .post_json(
            "/api/v1/cooperations",
            &json!({"name": "X", "started_on": "2025-03-01", "ended_on": "2025-02-28", "status": "over"}),
        )
        .await;
    let problem = assert_problem(bad, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), ["ended_on", "status"], "the date rule is reported beside the bad status");
    let bad = app
        .post_json(
            "/api/v1/cooperations",
            &json!({"name": "X", "started_on": "2025-03-01", "ended_on": "2025-02-28", "funding_amount_eur": -1}),
        )
        .await;
    assert_eq!(
        error_fields(&assert_problem(bad, 422, "/problems/validation").await),
        ["ended_on", "funding_amount_eur"]
    );
    let created = cooperation(&app, json!({"name": "X", "started_on": "2025-03-01"})).await;
    let patch =
        app.patch_json(&format!("/api/v1/cooperations/{}", created["id"]), &json!({"ended_on": "2024-01-01"})).await;
    assert_eq!(error_fields(&assert_problem(patch, 422, "/problems/validation").await), ["ended_on"]);
}

#[tokio::test]
async fn members_join_once_at_a_time_and_filter_the_list() {
    let app = spawn_app().await;
    let (a, b) = (partner(&app, "Königsbrück").await, partner(&app, "Kamenz").await);
    let coop = cooperation(&app, json!({"name": "IKZ Westlausitz"})).await["id"].as_i64().unwrap();
    let added = add_member(&app, coop, a, "lead").await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!((added["partner_name"].clone(), added["role"].clone()), (json!("Königsbrück"), json!("lead")));
    assert_eq!(add_member(&app, coop, b, "member").await.status(), 201);
    assert_problem(add_member(&app, coop, a, "member").await, 409, "/problems/conflict").await;
    let unknown = add_member(&app, coop, 999, "member").await;
    assert_eq!(error_fields(&assert_problem(unknown, 422, "/problems/validation").await), ["partner_id"]);
    assert_problem(add_member(&app, 999, a, "member").await, 404, "/problems/not-found").await;

    let members = app.collect_all(&format!("/api/v1/cooperations/{coop}/members?limit=1")).await;
    assert_eq!(members.iter().map(|m| m["partner_id"].as_i64().unwrap()).collect::<Vec<_>>(), [a, b]);
    let of_a: Value = app.get(&format!("/api/v1/cooperations?partner_id={a}")).await.json().await.unwrap();
    assert_eq!(of_a["items"].as_array().unwrap().len(), 1);

    assert_eq!(app.delete(&format!("/api/v1/cooperations/{coop}/members/{b}")).await.status(), 204);
    assert_problem(app.delete(&format!("/api/v1/cooperations/{coop}/members/{b}")).await, 404, "/problems/not-found")
        .await;
    let of_b: Value = app.get(&format!("/api/v1/cooperations?partner_id={b}")).await.json().await.unwrap();
    assert!(of_b["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_partner_that_is_a_member_cannot_be_deleted() {
    let app = spawn_app().await;
    let a = partner(&app, "Königsbrück").await;
    let coop = cooperation(&app, json!({"name": "IKZ Westlausitz"})).await["id"].as_i64().unwrap();
    add_member(&app, coop, a, "lead").await;
    let refused = assert_problem(app.delete(&format!("/api/v1/partners/{a}")).await, 409, "/problems/conflict").await;
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.contains("IKZ Westlausitz") && detail.contains("member"), "{detail}");
    assert_eq!(app.get(&format!("/api/v1/partners/{a}")).await.status(), 200);

    app.delete(&format!("/api/v1/cooperations/{coop}/members/{a}")).await;
    assert_eq!(app.delete(&format!("/api/v1/partners/{a}")).await.status(), 204);
}

#[tokio::test]
async fn editors_change_only_cooperations_their_partners_belong_to() {
    let app = spawn_app().await;
    let (own, other) = (partner(&app, "Königsbrück").await, partner(&app, "Kamenz").await);
    let mine = cooperation(&app, json!({"name": "Mine"})).await["id"].as_i64().unwrap();
    let theirs = cooperation(&app, json!({"name": "Theirs"})).await["id"].as_i64().unwrap();
    add_member(&app, mine, own, "lead").await;
    add_member(&app, theirs, other, "lead").await;
    let editor = app.token_for("eddi", "editor", &[own]).await;

    let patch = |id: i64| {
        app.request(Method::PATCH, &format!("/api/v1/cooperations/{id}"), Some(&editor))
            .json(&json!({"status": "active"}))
    };
    assert_eq!(patch(mine).send().await.unwrap().status(), 200);
    assert_problem(patch(theirs).send().await.unwrap(), 403, "/problems/forbidden").await;
    let join = app
        .request(Method::POST, &format!("/api/v1/cooperations/{mine}/members"), Some(&editor))
        .json(&json!({"partner_id": other, "role": "member"}));
    assert_eq!(join.send().await.unwrap().status(), 201);
    let create = app.request(Method::POST, "/api/v1/cooperations", Some(&editor)).json(&json!({"name": "New"}));
    assert_problem(create.send().await.unwrap(), 403, "/problems/forbidden").await;
    let delete = app.request(Method::DELETE, &format!("/api/v1/cooperations/{mine}"), Some(&editor));
    assert_problem(delete.send().await.unwrap(), 403, "/problems/forbidden").await;
}

#[tokio::test]
async fn null_does_not_reset_fields_that_have_defaults() {
    let app = spawn_app().await;
    let created = cooperation(&app, json!({"name": "IKZ", "status": "active"})).await;
    let path = format!("/api/v1/cooperations/{}", created["id"]);
    let refused =
        assert_problem(app.patch_json(&path, &json!({"status": null})).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&refused), ["status"]);
    assert_eq!(app.get(&path).await.json::<Value>().await.unwrap()["status"], "active");
    let user = app
        .post_json(
            "/api/v1/users",
            &json!({"username": "vera", "password": "long enough password", "role": "viewer", "active": false}),
        )
        .await;
    let user: Value = user.json().await.unwrap();
    let reactivate = app.patch_json(&format!("/api/v1/users/{}", user["id"]), &json!({"active": null})).await;
    assert_eq!(error_fields(&assert_problem(reactivate, 422, "/problems/validation").await), ["active"]);
}
