use serde_json::Value;

use crate::helpers::spawn_app;

const COMMITTED: &str = "openapi/openapi.json";

#[tokio::test]
async fn served_document_is_byte_identical_to_the_committed_one() {
    let app = spawn_app().await;
    let response = app.get("/api-docs/openapi.json").await;
    assert_eq!(response.status(), 200);
    let served = response.text().await.unwrap();
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(COMMITTED, &served).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        served == committed,
        "openapi/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test` (or `cargo run -- openapi --output openapi/openapi.json`) and commit it"
    );
}

#[tokio::test]
async fn every_operation_is_documented_for_integrators() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api-docs/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for expected in ["/api/v1/partners", "/api/v1/partners/{id}", "/api/v1/fields", "/health/live", "/health/ready"] {
        assert!(paths.contains_key(expected), "{expected} missing");
    }
    let mut operation_ids = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{at}: no summary");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{at}: no tag");
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{at}: no operationId"));
            operation_ids.push(id.to_owned());
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{at}: no success response");
            assert!(responses.contains_key("500"), "{at}: no 500 response");
            if path.starts_with("/api/") {
                assert!(responses.keys().any(|s| s.starts_with('4')), "{at}: no 4xx response");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{at}: no {status} response");
                }
            }
        }
    }
    let count = operation_ids.len();
    operation_ids.sort();
    operation_ids.dedup();
    assert_eq!(operation_ids.len(), count, "operationIds must be unique");
}

#[tokio::test]
async fn swagger_ui_is_served_and_points_at_the_document() {
    let app = spawn_app().await;
    let page = app.get("/swagger-ui/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let init = app.get("/swagger-ui/swagger-initializer.js").await.text().await.unwrap();
    assert!(init.contains("/api-docs/openapi.json"));

    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = no_redirect.get(app.url("/swagger-ui")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/swagger-ui/");
}
