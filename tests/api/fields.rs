use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_fields, spawn_app};

const SEEDED: [(&str, &str); 11] = [
    ("public-relations", "Öffentlichkeitsarbeit"),
    ("session-management", "Sitzungsmanagement / Gremienarbeit"),
    ("digitalisation-ai", "Digitalisierung und KI"),
    ("bauhof", "Bauhof"),
    ("fire-brigade", "Feuerwehr"),
    ("it-egovernment", "IT und E-Government"),
    ("internal-administration", "Innere Verwaltung"),
    ("leadership-strategy", "Leitung und Strategie"),
    ("procurement", "Beschaffung"),
    ("economic-development", "Wirtschaftsförderung"),
    ("land-climate", "Flächenmanagement, Klima und Kompensation"),
];

#[tokio::test]
async fn the_eleven_fields_of_action_are_there_from_the_start_and_public() {
    let app = spawn_app().await;
    let fields = app.collect_all("/api/v1/fields?limit=4").await;
    let seen: Vec<(&str, &str)> =
        fields.iter().map(|f| (f["key"].as_str().unwrap(), f["name_de"].as_str().unwrap())).collect();
    assert_eq!(seen, SEEDED);
    assert!(fields.iter().all(|f| f["name_en"].as_str().is_some_and(|n| !n.is_empty())));
    let bauhof: Value = app.get(&format!("/api/v1/fields/{}", fields[3]["id"])).await.json().await.unwrap();
    assert_eq!(bauhof["name_en"], "Municipal building yard");
}

#[tokio::test]
async fn admins_add_and_rename_fields_but_keys_stay() {
    let app = spawn_app().await;
    let body = json!({"key": "tourism", "name_de": "Tourismus", "name_en": "Tourism"});
    let created = app.post_json("/api/v1/fields", &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let path = format!("/api/v1/fields/{}", created["id"]);

    let renamed: Value =
        app.patch_json(&path, &json!({"name_de": "Tourismus und Naherholung"})).await.json().await.unwrap();
    assert_eq!(
        (renamed["key"].clone(), renamed["name_de"].clone()),
        (json!("tourism"), json!("Tourismus und Naherholung"))
    );
    let rekey =
        assert_problem(app.patch_json(&path, &json!({"key": "travel"})).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&rekey), ["key"]);

    assert_problem(app.post_json("/api/v1/fields", &body).await, 409, "/problems/conflict").await;
    let invalid = app.post_json("/api/v1/fields", &json!({"key": "Not A Key", "name_de": "", "name_en": "x"})).await;
    assert_eq!(error_fields(&assert_problem(invalid, 422, "/problems/validation").await), ["key", "name_de"]);

    let viewer = app.token_for("vera", "viewer", &[]).await;
    let refused = app
        .request(Method::POST, "/api/v1/fields", Some(&viewer))
        .json(&json!({"key": "x", "name_de": "x", "name_en": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(refused, 403, "/problems/forbidden").await;

    assert_eq!(app.delete(&path).await.status(), 204);
    assert_problem(app.get(&path).await, 404, "/problems/not-found").await;
}
