//! Bad input: a precise problem answer, and nothing stored or changed.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app, spawn_app_with};

async fn partner_count(app: &TestApp) -> usize {
    app.collect_all("/api/v1/partners?limit=200").await.len()
}

#[tokio::test]
async fn every_invalid_field_is_listed_at_once_and_nothing_is_stored() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/partners",
            &json!({
                "name": "   ", "kind": "castle", "ags": "1462524", "state": "DE-XX", "population": -5,
                "website": "ftp://example.org", "email": "not-an-address", "phone": "call me", "colour": "red"
            }),
        )
        .await;
    let problem = assert_problem(response, 422, "/problems/validation").await;
    assert_eq!(
        error_fields(&problem),
        ["ags", "colour", "email", "kind", "name", "phone", "population", "state", "website"]
    );
    let code_of = |field: &str| {
        problem["errors"].as_array().unwrap().iter().find(|e| e["field"] == field).unwrap()["code"].clone()
    };
    assert_eq!(code_of("colour"), "unknown_field");
    assert_eq!(code_of("kind"), "invalid_value");
    assert_eq!(code_of("name"), "length");
    assert_eq!(partner_count(&app).await, 0);
}

#[tokio::test]
async fn missing_required_fields_are_named() {
    let app = spawn_app().await;
    let problem = assert_problem(
        app.post_json("/api/v1/partners", &json!({"kind": "district"})).await,
        422,
        "/problems/validation",
    )
    .await;
    assert_eq!(error_fields(&problem), ["name"]);
    assert_eq!(problem["errors"][0]["code"], "required");
}

#[tokio::test]
async fn wrongly_typed_fields_are_422_not_500() {
    let app = spawn_app().await;
    let body = json!({"name": 5, "kind": "other", "population": "many", "ags": 14625240});
    let problem = assert_problem(app.post_json("/api/v1/partners", &body).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), ["ags", "name", "population"]);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in ["{\"name\": ", "not json", "", "[1,2"] {
        let response = app
            .as_admin(Method::POST, "/api/v1/partners")
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(response, 400, "/problems/malformed-json").await;
    }
    let array = app.post_json("/api/v1/partners", &json!([{"name": "x"}])).await;
    assert_problem(array, 422, "/problems/validation").await;
    assert_eq!(partner_count(&app).await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    for content_type in [Some("text/plain"), Some("application/xml"), Some("application/x-www-form-urlencoded"), None] {
        let mut request = app.as_admin(Method::POST, "/api/v1/partners").body(r#"{"name":"X","kind":"other"}"#);
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        assert_problem(request.send().await.unwrap(), 415, "/problems/unsupported-media-type").await;
    }
    assert_eq!(partner_count(&app).await, 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = spawn_app_with(|config| config.max_body_bytes = 1024).await;
    let body = json!({"name": "Big", "kind": "other", "description": "x".repeat(2000)});
    assert_problem(app.post_json("/api/v1/partners", &body).await, 413, "/problems/payload-too-large").await;
    let small = json!({"name": "Small", "kind": "other", "description": "x".repeat(500)});
    assert_eq!(app.post_json("/api/v1/partners", &small).await.status(), 201);
    assert_eq!(partner_count(&app).await, 1);
}

#[tokio::test]
async fn a_duplicate_ags_is_409_on_create_and_update() {
    let app = spawn_app().await;
    let first = app.create_partner(json!({"name": "Königsbrück", "kind": "municipality", "ags": "14625240"})).await;
    let again =
        app.post_json("/api/v1/partners", &json!({"name": "Copy", "kind": "municipality", "ags": "14625240"})).await;
    let problem = assert_problem(again, 409, "/problems/conflict").await;
    assert!(problem["detail"].as_str().unwrap().contains("14625240"));

    let other = app.create_partner(json!({"name": "Kamenz", "kind": "municipality", "ags": "14625250"})).await;
    let path = format!("/api/v1/partners/{}", other["id"]);
    assert_problem(app.patch_json(&path, &json!({"ags": "14625240"})).await, 409, "/problems/conflict").await;
    let unchanged: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(unchanged["ags"], "14625250");
    assert_eq!(partner_count(&app).await, 2);
    // Keeping its own AGS is no conflict.
    let own = app
        .patch_json(&format!("/api/v1/partners/{}", first["id"]), &json!({"ags": "14625240", "population": 1}))
        .await;
    assert_eq!(own.status(), 200);
}

#[tokio::test]
async fn an_invalid_patch_changes_nothing() {
    let app = spawn_app().await;
    let created = app.create_partner(json!({"name": "Kamenz", "kind": "municipality", "population": 14000})).await;
    let path = format!("/api/v1/partners/{}", created["id"]);
    let cases = [
        (json!({"name": null}), vec!["name"]),
        (json!({"kind": null, "population": 1}), vec!["kind"]),
        (json!({"population": -1, "website": "nope", "state": "Sachsen"}), vec!["population", "state", "website"]),
        (json!({"id": 99}), vec!["id"]),
        (json!({"created_at": "2020-01-01T00:00:00Z"}), vec!["created_at"]),
    ];
    for (patch, fields) in cases {
        let problem = assert_problem(app.patch_json(&path, &patch).await, 422, "/problems/validation").await;
        assert_eq!(error_fields(&problem), fields, "{patch}");
    }
    let not_object = app.patch_json(&path, &json!([1])).await;
    assert_problem(not_object, 422, "/problems/validation").await;
    let unchanged: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(unchanged, created);
}

#[tokio::test]
async fn unknown_ids_are_404_and_non_numeric_ids_are_400() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/partners/4242").await, 404, "/problems/not-found").await;
    assert_problem(
        app.patch_json("/api/v1/partners/4242", &json!({"population": 1})).await,
        404,
        "/problems/not-found",
    )
    .await;
    assert_problem(app.delete("/api/v1/partners/4242").await, 404, "/problems/not-found").await;
    assert_problem(app.get("/api/v1/partners/abc").await, 400, "/problems/invalid-parameter").await;
    assert_problem(app.get("/api/v1/partners/99999999999999999999").await, 400, "/problems/invalid-parameter").await;
    assert_problem(app.get("/api/v1/nothing-here").await, 404, "/problems/not-found").await;
}

#[tokio::test]
async fn bad_list_parameters_are_400_naming_each_parameter() {
    let app = spawn_app().await;
    for (query, fields) in [
        ("limit=0", vec!["limit"]),
        ("limit=201", vec!["limit"]),
        ("limit=abc", vec!["limit"]),
        ("kind=castle", vec!["kind"]),
        ("sort=population", vec!["sort"]),
        ("colour=red&limit=-3", vec!["colour", "limit"]),
    ] {
        let response = app.get(&format!("/api/v1/partners?{query}")).await;
        let problem = assert_problem(response, 400, "/problems/invalid-parameter").await;
        assert_eq!(error_fields(&problem), fields, "{query}");
    }
}

#[tokio::test]
async fn a_tampered_or_foreign_cursor_is_400() {
    let app = spawn_app().await;
    for i in 0..3 {
        app.create_partner(json!({"name": format!("P{i}"), "kind": "other"})).await;
    }
    let page: Value = app.get("/api/v1/partners?limit=1").await.json().await.unwrap();
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    for bad in ["garbage!", "eyJ4IjoxfQ", &cursor[..cursor.len() - 2]] {
        let response = app.get(&format!("/api/v1/partners?cursor={bad}")).await;
        assert_problem(response, 400, "/problems/invalid-cursor").await;
    }
    let foreign = app.get(&format!("/api/v1/partners?sort=-name&cursor={cursor}")).await;
    assert_problem(foreign, 400, "/problems/invalid-cursor").await;
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_is_405_with_allow() {
    let app = spawn_app().await;
    let put = app.as_admin(Method::PUT, "/api/v1/partners/1").json(&json!({})).send().await.unwrap();
    let allow = put.headers()["allow"].to_str().unwrap().to_owned();
    assert_eq!(allow, "GET, PATCH, DELETE");
    let problem = assert_problem(put, 405, "/problems/method-not-allowed").await;
    assert!(problem["detail"].as_str().unwrap().starts_with("PUT"));
    let on_list = app.as_admin(Method::DELETE, "/api/v1/partners").send().await.unwrap();
    assert_eq!(on_list.headers()["allow"], "GET, POST");
    assert_problem(app.as_admin(Method::PUT, "/api/v1/nothing").send().await.unwrap(), 404, "/problems/not-found")
        .await;
}

#[tokio::test]
async fn an_empty_cursor_means_the_first_page() {
    let app = spawn_app().await;
    app.create_partner(json!({"name": "Kamenz", "kind": "municipality"})).await;
    let page: Value = app.get("/api/v1/partners?cursor=&limit=5").await.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}
