//! Events of a cooperation: kinds, dates, organisers, theme groups, outcomes and the measures
//! that came out of them; versions, the feed and the export like any other record.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_fields, spawn_app};

#[tokio::test]
async fn a_cooperation_records_its_events_with_theme_groups_and_the_measures_from_them() {
    let app = spawn_app().await;
    let town = app.create_partner(json!({"name": "Stadt Heidenau", "kind": "municipality"})).await;
    let ministry = app.create_partner(json!({"name": "Staatsministerium", "kind": "state_agency"})).await;
    let coop: Value = app.post_json("/api/v1/cooperations", &json!({"name": "IKZ"})).await.json().await.unwrap();
    let base = format!("/api/v1/cooperations/{}", coop["id"]);
    let member = json!({"partner_id": town["id"], "role": "lead"});
    assert_eq!(app.post_json(&format!("{base}/members"), &member).await.status(), 201);
    let fields = app.collect_all("/api/v1/fields?limit=200").await;
    let it = fields.iter().find(|f| f["key"] == "it-egovernment").unwrap()["id"].clone();
    let measure: Value = app
        .post_json("/api/v1/measures", &json!({"cooperation_id": coop["id"], "field_id": it, "title": "E-Akte"}))
        .await
        .json()
        .await
        .unwrap();

    let staff_day = json!({"kind": "staff_day", "title": "1. Gemeinsamer Mitarbeitertag", "starts_on": "2026-09-24",
        "place": "Bürgerhaus", "organiser_partner_ids": [town["id"], ministry["id"]], "participant_count": 60,
        "theme_groups": [{"name": "Digitale Akte", "field_id": it}, {"name": "Bauhof", "field_id": null}],
        "outcomes": "Regelmäßiger Austausch vereinbart.", "measure_ids": [measure["id"]]});
    let created = app.post_json(&format!("{base}/events"), &staff_day).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let event: Value = created.json().await.unwrap();
    for key in ["kind", "title", "starts_on", "place", "participant_count", "theme_groups", "outcomes", "measure_ids"] {
        assert_eq!(event[key], staff_day[key], "{key}");
    }
    assert_eq!(event["organiser_partner_ids"], json!([town["id"], ministry["id"]]));
    assert_eq!(event["ends_on"], Value::Null);

    let other: Value = app.post_json("/api/v1/cooperations", &json!({"name": "Andere"})).await.json().await.unwrap();
    let foreign: Value = app
        .post_json("/api/v1/measures", &json!({"cooperation_id": other["id"], "field_id": it, "title": "Fremd"}))
        .await
        .json()
        .await
        .unwrap();
    let bad = json!({"kind": "party", "title": "X", "starts_on": "2026-10-02", "ends_on": "2026-10-01",
        "participant_count": -1, "theme_groups": [{"name": ""}]});
    let problem =
        assert_problem(app.post_json(&format!("{base}/events"), &bad).await, 422, "/problems/validation").await;
    let mut fields_named = error_fields(&problem);
    fields_named.sort();
    assert_eq!(fields_named, vec!["ends_on", "kind", "participant_count", "theme_groups[0].name"]);
    let bad = json!({"kind": "workshop", "title": "X", "starts_on": "2026-10-02", "organiser_partner_ids": [999999],
        "theme_groups": [{"name": "A", "field_id": 999999}], "measure_ids": [foreign["id"]]});
    let problem =
        assert_problem(app.post_json(&format!("{base}/events"), &bad).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), vec!["measure_ids[0]", "organiser_partner_ids[0]", "theme_groups[0].field_id"]);

    let assembly =
        json!({"kind": "assembly", "title": "Verbandsversammlung", "starts_on": "2026-03-12", "ends_on": "2026-03-13"});
    assert_eq!(app.post_json(&format!("{base}/events"), &assembly).await.status(), 201);
    let listed = app.collect_all(&format!("{base}/events?limit=1")).await;
    let titles: Vec<&str> = listed.iter().map(|e| e["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Verbandsversammlung", "1. Gemeinsamer Mitarbeitertag"], "earliest first, page by page");
    assert_eq!(app.collect_all(&format!("{base}/events?kind=staff_day")).await.len(), 1);
    assert_eq!(app.collect_all(&format!("{base}/events?date_from=2026-06-01")).await.len(), 1);
    assert_problem(
        app.get(&format!("{base}/events?date_from=2026-06-01&date_to=2026-01-01")).await,
        400,
        "/problems/invalid-parameter",
    )
    .await;

    let etag = app.get(&location).await.headers()["etag"].to_str().unwrap().to_owned();
    let stale = app
        .as_admin(Method::PATCH, &location)
        .header("If-Match", "\"1\"")
        .json(&json!({"participant_count": 62}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "/problems/precondition-failed").await;
    let patched = app
        .as_admin(Method::PATCH, &location)
        .header("If-Match", &etag)
        .json(&json!({"participant_count": 62}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.json::<Value>().await.unwrap()["participant_count"], 62);

    // Deleting a measure takes it off the event, with a new version of the event.
    let before: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(app.delete(&format!("/api/v1/measures/{}", measure["id"])).await.status(), 204);
    let after: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(after["measure_ids"], json!([]));
    assert_ne!(after["updated_at"], before["updated_at"]);
    let feed: Value =
        app.as_admin(Method::GET, "/api/v1/changes?resource=events").send().await.unwrap().json().await.unwrap();
    let ops: Vec<&str> = feed["items"].as_array().unwrap().iter().map(|c| c["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["created", "created", "updated", "updated"]);
    let csv = app.get(&format!("{base}/events?format=csv")).await.text().await.unwrap();
    assert!(csv.contains("Verbandsversammlung") && csv.contains("staff_day"), "{csv}");
    assert_eq!(app.delete(&location).await.status(), 204);
    assert_problem(app.get(&location).await, 404, "/problems/not-found").await;
}
