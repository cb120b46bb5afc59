//! Labels of the closed sets: served in German and English, equal to what the document says.

use serde_json::Value;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn every_closed_set_has_a_german_and_an_english_label_for_each_of_its_values() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api-docs/openapi.json").await.json().await.unwrap();
    let de: Value = app.get("/api/v1/vocabularies").await.json().await.unwrap();
    let en: Value = app.get("/api/v1/vocabularies?lang=en").await.json().await.unwrap();
    assert_eq!(
        de,
        app.get("/api/v1/vocabularies?lang=de").await.json::<Value>().await.unwrap(),
        "German is the default"
    );
    let status = &de["measure_status"];
    assert_eq!(status[3], serde_json::json!({"value": "approved", "label": "Beschlossen"}));
    assert_eq!(en["measure_status"][3]["label"], "Approved");
    for key in [
        "measure_status",
        "horizon",
        "partner_kind",
        "cooperation_status",
        "member_role",
        "user_role",
        "council_decision",
    ] {
        assert!(de[key].is_array(), "{key} is served");
    }
    // Each set is one of the document's enum schemas, with every value labelled, and the
    // document carries the same labels.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let labelled: Vec<(&String, &Value)> = schemas.iter().filter(|(_, s)| s.get("x-labels").is_some()).collect();
    assert_eq!(labelled.len(), de.as_object().unwrap().len(), "one labelled schema per set");
    for (name, set) in de.as_object().unwrap() {
        let values: Vec<&Value> = set.as_array().unwrap().iter().map(|e| &e["value"]).collect();
        let (schema_name, schema) = labelled
            .iter()
            .find(|(_, s)| s["enum"].as_array().is_some_and(|e| e.iter().collect::<Vec<_>>() == values))
            .unwrap_or_else(|| panic!("{name}: no enum schema with exactly these values"));
        for (lang, served) in [("de", set), ("en", &en[name])] {
            for entry in served.as_array().unwrap() {
                let label = entry["label"].as_str().unwrap();
                assert!(!label.is_empty(), "{name}.{}: no {lang} label", entry["value"]);
                assert_eq!(schema["x-labels"][lang][entry["value"].as_str().unwrap()], label, "{schema_name} ({lang})");
            }
        }
    }
    assert_problem(app.get("/api/v1/vocabularies?lang=fr").await, 400, "/problems/invalid-parameter").await;
}
