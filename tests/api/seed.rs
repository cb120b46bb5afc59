use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

fn seed(app: &TestApp) -> bool {
    std::process::Command::new(env!("CARGO_BIN_EXE_ikz-api"))
        .args(["seed", "demo"])
        .env("DATABASE_URL", app._db.url())
        .env("RUST_LOG", "warn")
        .status()
        .unwrap()
        .success()
}

#[tokio::test]
async fn the_demo_seed_fills_an_empty_database_with_a_realistic_portfolio_once() {
    let app = spawn_app().await;
    assert!(seed(&app), "seeding an empty database works");
    let cooperations = app.collect_all("/api/v1/cooperations").await;
    assert_eq!(cooperations.len(), 2);
    let summary: Value =
        app.get(&format!("/api/v1/cooperations/{}/summary", cooperations[0]["id"])).await.json().await.unwrap();
    assert!(summary["measures_total"].as_i64().unwrap() >= 10, "{summary}");
    assert!(summary["signed_total"].as_i64().unwrap() > 0 && summary["assessed_total"].as_i64().unwrap() > 0);
    let used = summary["by_status"].as_object().unwrap().values().filter(|n| n.as_i64() > Some(0)).count();
    assert!(used >= 6, "measures in most workflow states: {summary}");
    let contacts: Value = app.as_admin(Method::GET, "/api/v1/contacts").send().await.unwrap().json().await.unwrap();
    let emails: Vec<&str> = contacts["items"].as_array().unwrap().iter().filter_map(|c| c["email"].as_str()).collect();
    assert!(!emails.is_empty() && emails.iter().all(|e| e.ends_with(".example.org")), "{emails:?}");

    assert!(!seed(&app), "a second run is refused");
    assert_eq!(app.collect_all("/api/v1/cooperations").await.len(), 2, "and changed nothing");
}

#[tokio::test]
async fn the_volume_seed_loads_consistent_measures_with_their_partners() {
    let app = spawn_app().await;
    let loaded = std::process::Command::new(env!("CARGO_BIN_EXE_ikz-api"))
        .args(["seed", "volume", "--partners", "20", "--cooperations", "5", "--measures", "60", "--contacts", "10"])
        .env("DATABASE_URL", app._db.url())
        .env("RUST_LOG", "warn")
        .status()
        .unwrap()
        .success();
    assert!(loaded);
    let measures = app.collect_all("/api/v1/measures?limit=7").await;
    assert_eq!(measures.len(), 60);
    // The change feed holds each loaded record as created, with the record's version.
    let feed: serde_json::Value = app
        .as_admin(reqwest::Method::GET, "/api/v1/changes?resource=measures&resource=partners&limit=1000")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = feed["items"].as_array().unwrap();
    let count = |resource: &str| items.iter().filter(|i| i["resource"] == resource && i["op"] == "created").count();
    assert_eq!((count("partners"), count("measures")), (20, 60));
    let first = app.get(&format!("/api/v1/measures/{}", measures[0]["id"])).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let entry = items.iter().find(|i| i["resource"] == "measures" && i["id"] == measures[0]["id"]).unwrap();
    assert_eq!(entry["etag"], etag.as_str());
    for cooperation in app.collect_all("/api/v1/cooperations").await {
        let members: Vec<i64> = app
            .collect_all(&format!("/api/v1/cooperations/{}/members", cooperation["id"]))
            .await
            .iter()
            .map(|m| m["partner_id"].as_i64().unwrap())
            .collect();
        assert_eq!(members.len(), 4);
        for m in measures.iter().filter(|m| m["cooperation_id"] == cooperation["id"]) {
            let partners: Vec<i64> = serde_json::from_value(m["partner_ids"].clone()).unwrap();
            assert_eq!(partners.len(), 1, "{m}");
            assert!(members.contains(&partners[0]) && m["lead_partner_id"] != partners[0], "{m}");
        }
    }
    // The copy of the partners in each measure's row still follows changes after the bulk load.
    let path = format!("/api/v1/measures/{}", measures[0]["id"]);
    let patched = app.patch_json(&path, &serde_json::json!({"partner_ids": []})).await;
    assert_eq!(patched.status(), 200);
    let read: serde_json::Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(read["partner_ids"], serde_json::json!([]));
}
