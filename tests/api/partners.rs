use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

fn town(name: &str, ags: &str) -> Value {
    json!({"name": name, "kind": "municipality", "ags": ags, "state": "DE-SN", "district": "Bautzen"})
}

#[tokio::test]
async fn creating_a_partner_returns_201_with_location_and_the_stored_partner() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/v1/partners",
            &json!({
                "name": "  Gemeinde Amt Nord  ", "kind": "municipality", "ags": "01001000", "state": "DE-SH",
                "district": "Nordfriesland", "population": 1234, "website": "https://amt-nord.example.org",
                "email": "info@amt-nord.example.org", "phone": "+49 4661 123-0", "description": "Test"
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(response.headers().contains_key("etag"));
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/partners/{}", created["id"]));
    assert_eq!(created["name"], "Gemeinde Amt Nord", "name is trimmed");
    assert_eq!(created["ags"], "01001000", "leading zeros are kept");
    assert_eq!(created["population"], 1234);
    assert_eq!(created["created_at"], created["updated_at"]);
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn listing_pages_through_every_partner_once_with_cursor_and_link() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.create_partner(json!({"name": format!("Partner {i}"), "kind": "company"})).await;
    }
    let first = app.get("/api/v1/partners?limit=3").await;
    assert_eq!(first.status(), 200);
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let page: Value = first.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    assert!(
        link.starts_with("</api/v1/partners?") && link.ends_with("rel=\"next\"") && link.contains("limit=3"),
        "{link}"
    );
    assert!(link.contains(cursor));

    let all = app.collect_all("/api/v1/partners?limit=3").await;
    let names: Vec<&str> = all.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, (0..7).map(|i| format!("Partner {i}")).collect::<Vec<_>>());

    let last = app.get("/api/v1/partners?limit=7").await;
    assert!(!last.headers().contains_key("link"));
    assert_eq!(last.json::<Value>().await.unwrap()["next_cursor"], Value::Null);
}

#[tokio::test]
async fn sorting_by_name_ignores_case_and_descending_reverses_it() {
    let app = spawn_app().await;
    for name in ["bautzen", "Zittau", "Aue", "Öhringen", "Kamenz"] {
        app.create_partner(json!({"name": name, "kind": "municipality"})).await;
    }
    let names = |items: Vec<Value>| items.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    // Folded byte order: ASCII letters a–z, then umlauts.
    let ascending = names(app.collect_all("/api/v1/partners?limit=2&sort=name").await);
    assert_eq!(ascending, ["Aue", "bautzen", "Kamenz", "Zittau", "Öhringen"]);
    let mut descending = names(app.collect_all("/api/v1/partners?limit=2&sort=-name").await);
    descending.reverse();
    assert_eq!(descending, ascending);
}

#[tokio::test]
async fn sorting_by_timestamps_follows_creation_and_change_order() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(app.create_partner(json!({"name": format!("P{i}"), "kind": "other"})).await["id"].clone());
    }
    let order = |items: Vec<Value>| items.iter().map(|p| p["id"].clone()).collect::<Vec<_>>();
    assert_eq!(order(app.collect_all("/api/v1/partners?limit=3&sort=created_at").await), ids);
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(order(app.collect_all("/api/v1/partners?limit=3&sort=-created_at").await), newest_first);

    let touched = app.patch_json(&format!("/api/v1/partners/{}", ids[0]), &json!({"population": 5})).await;
    assert_eq!(touched.status(), 200);
    let by_change = order(app.collect_all("/api/v1/partners?limit=3&sort=-updated_at").await);
    assert_eq!(by_change[0], ids[0], "the partner changed last comes first");
    assert_eq!(by_change.len(), 4);
}

#[tokio::test]
async fn filters_by_kind_state_and_ags() {
    let app = spawn_app().await;
    app.create_partner(town("Königsbrück", "14625240")).await;
    app.create_partner(json!({"name": "Landkreis Bautzen", "kind": "district", "state": "DE-SN"})).await;
    app.create_partner(json!({"name": "Stadt Lage", "kind": "municipality", "state": "DE-NW", "ags": "05766044"}))
        .await;

    let names = |v: Value| {
        let mut n: Vec<String> =
            v["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
        n.sort();
        n
    };
    let by_kind = app.get("/api/v1/partners?kind=municipality").await.json().await.unwrap();
    assert_eq!(names(by_kind), ["Königsbrück", "Stadt Lage"]);
    let by_state = app.get("/api/v1/partners?state=DE-SN").await.json().await.unwrap();
    assert_eq!(names(by_state), ["Königsbrück", "Landkreis Bautzen"]);
    let combined = app.get("/api/v1/partners?state=DE-SN&kind=district").await.json().await.unwrap();
    assert_eq!(names(combined), ["Landkreis Bautzen"]);
    let by_ags = app.get("/api/v1/partners?ags=05766044").await.json().await.unwrap();
    assert_eq!(names(by_ags), ["Stadt Lage"]);
}

async fn search(app: &TestApp, q: &str) -> Vec<String> {
    let response = app.client.get(app.url("/api/v1/partners")).query(&[("q", q)]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    page["items"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn name_search_ignores_case_including_umlauts() {
    let app = spawn_app().await;
    app.create_partner(town("Königsbrück", "14625240")).await;
    app.create_partner(json!({"name": "Großenhain", "kind": "municipality"})).await;
    app.create_partner(json!({"name": "Kamenz", "kind": "municipality"})).await;

    assert_eq!(search(&app, "KÖNIGSBRÜCK").await, ["Königsbrück"]);
    assert_eq!(search(&app, "königs").await, ["Königsbrück"]);
    assert_eq!(search(&app, "BRÜCK").await, ["Königsbrück"]);
    assert_eq!(search(&app, "GROSSEN").await, ["Großenhain"]);
    assert_eq!(search(&app, "amen").await, ["Kamenz"]);
    assert!(search(&app, "Dresden").await.is_empty());
}

#[tokio::test]
async fn name_search_treats_like_wildcards_literally() {
    let app = spawn_app().await;
    app.create_partner(json!({"name": "Verband 100% Digital", "kind": "association"})).await;
    app.create_partner(json!({"name": "Kamenz", "kind": "municipality"})).await;
    assert!(search(&app, "%").await == ["Verband 100% Digital"]);
    assert!(search(&app, "_").await.is_empty());
}

#[tokio::test]
async fn merge_patch_changes_given_fields_clears_nulls_and_keeps_the_rest() {
    let app = spawn_app().await;
    let created = app.create_partner(town("Königsbrück", "14625240")).await;
    let path = format!("/api/v1/partners/{}", created["id"]);

    let response = app.patch_json(&path, &json!({"population": 4400, "district": null})).await;
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["population"], 4400);
    assert_eq!(updated["district"], Value::Null);
    assert_eq!(updated["name"], "Königsbrück");
    assert_eq!(updated["ags"], "14625240");
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_ne!(updated["updated_at"], created["updated_at"]);

    // Plain application/json is accepted for PATCH as well.
    let plain = app.as_admin(Method::PATCH, &path).json(&json!({"kind": "district"})).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    let fetched: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(fetched["kind"], "district");
    assert_eq!(fetched["population"], 4400);
}

#[tokio::test]
async fn if_match_guards_updates_and_deletes_against_lost_changes() {
    let app = spawn_app().await;
    let created = app.create_partner(town("Königsbrück", "14625240")).await;
    let path = format!("/api/v1/partners/{}", created["id"]);
    let etag = app.get(&path).await.headers()["etag"].to_str().unwrap().to_owned();

    let first = app
        .as_admin(Method::PATCH, &path)
        .header("If-Match", &etag)
        .json(&json!({"population": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let new_etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);

    let stale = app
        .as_admin(Method::PATCH, &path)
        .header("If-Match", &etag)
        .json(&json!({"population": 2}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "/problems/precondition-failed").await;
    let stale_delete = app.as_admin(Method::DELETE, &path).header("If-Match", &etag).send().await.unwrap();
    assert_problem(stale_delete, 412, "/problems/precondition-failed").await;
    let kept: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(kept["population"], 1, "the stale writes changed nothing");

    let delete = app.as_admin(Method::DELETE, &path).header("If-Match", &new_etag).send().await.unwrap();
    assert_eq!(delete.status(), 204);
}

#[tokio::test]
async fn if_none_match_answers_304_while_unchanged() {
    let app = spawn_app().await;
    let created = app.create_partner(town("Königsbrück", "14625240")).await;
    let path = format!("/api/v1/partners/{}", created["id"]);
    let etag = app.get(&path).await.headers()["etag"].to_str().unwrap().to_owned();
    let cached = app.client.get(app.url(&path)).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    app.patch_json(&path, &json!({"population": 9})).await;
    let changed = app.client.get(app.url(&path)).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(changed.status(), 200);
}

#[tokio::test]
async fn deleting_a_partner_removes_it() {
    let app = spawn_app().await;
    let created = app.create_partner(town("Königsbrück", "14625240")).await;
    let path = format!("/api/v1/partners/{}", created["id"]);
    assert_eq!(app.delete(&path).await.status(), 204);
    assert_problem(app.get(&path).await, 404, "/problems/not-found").await;
    assert_problem(app.delete(&path).await, 404, "/problems/not-found").await;
    // The AGS is free again.
    app.create_partner(town("Königsbrück", "14625240")).await;
}

#[tokio::test]
async fn concurrent_creates_all_succeed() {
    let app = spawn_app().await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let request = app.as_admin(Method::POST, "/api/v1/partners");
        tasks.push(tokio::spawn(async move {
            request.json(&json!({"name": format!("Parallel {i}"), "kind": "other"})).send().await.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 201);
    }
    assert_eq!(app.collect_all("/api/v1/partners?limit=200").await.len(), 24);
}
