//! Progress that adds up: a measure without progress set by hand derives it from its
//! sub-measures, stored with every write below it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

struct Tree {
    coop: Value,
    field: Value,
}

async fn tree(app: &TestApp) -> Tree {
    let coop: Value = app.post_json("/api/v1/cooperations", &json!({"name": "IKZ"})).await.json().await.unwrap();
    let field =
        app.collect_all("/api/v1/fields?limit=200").await.into_iter().find(|f| f["key"] == "bauhof").unwrap()["id"]
            .clone();
    Tree { coop, field }
}

impl Tree {
    async fn measure(&self, app: &TestApp, title: &str, extra: Value) -> Value {
        let mut body = json!({"cooperation_id": self.coop["id"], "field_id": self.field, "title": title});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let response = app.post_json("/api/v1/measures", &body).await;
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }
}

async fn get(app: &TestApp, m: &Value) -> Value {
    app.get(&format!("/api/v1/measures/{}", m["id"])).await.json().await.unwrap()
}

async fn patch(app: &TestApp, m: &Value, body: Value) -> Value {
    let response = app.patch_json(&format!("/api/v1/measures/{}", m["id"]), &body).await;
    assert_eq!(response.status(), 200, "{body}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_measure_without_progress_set_by_hand_adds_up_its_sub_measures() {
    let app = spawn_app().await;
    let t = tree(&app).await;
    let top = t.measure(&app, "Bauhöfe zusammenlegen", json!({})).await;
    assert_eq!((top["progress"].clone(), top["progress_derived"].clone()), (json!(0), json!(true)));
    let parent = t.measure(&app, "Maschinenpool", json!({"parent_id": top["id"]})).await;
    let below = |cost: Value, progress: Value| json!({"parent_id": parent["id"], "estimated_cost_eur": cost, "progress": progress});
    let done = t.measure(&app, "Kehrmaschine", below(json!(1000), json!(100))).await;
    let half = t.measure(&app, "Radlader", below(json!(3000), json!(10))).await;
    let dropped = t.measure(&app, "Bagger", below(Value::Null, json!(80))).await;
    let moved =
        app.post_json(&format!("/api/v1/measures/{}/transitions", dropped["id"]), &json!({"to": "rejected"})).await;
    assert_eq!(moved.status(), 200);
    // By cost, the rejected one left out: (100·1000 + 10·3000) / 4000 = 32.5 → 32.
    let stored = get(&app, &parent).await;
    assert_eq!((stored["progress"].clone(), stored["progress_derived"].clone()), (json!(32), json!(true)));
    assert_eq!(get(&app, &top).await["progress"], 32, "and the measure above it follows");
    let before = stored["updated_at"].clone();

    patch(&app, &half, json!({"progress": 50})).await;
    let stored = get(&app, &parent).await;
    assert_eq!(stored["progress"], 62, "(100·1000 + 50·3000) / 4000");
    assert_ne!(stored["updated_at"], before, "a derived value that changes is a new version");
    let feed: Value = app
        .as_admin(Method::GET, "/api/v1/changes?resource=measures&limit=1000")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last_two: Vec<Value> =
        feed["items"].as_array().unwrap().iter().rev().take(3).map(|c| c["id"].clone()).collect();
    assert!(last_two.contains(&parent["id"]) && last_two.contains(&top["id"]), "the feed sees it: {last_two:?}");

    // One without a cost: equally, (100 + 50 + 0) / 3.
    let unpriced = t.measure(&app, "Anhänger", json!({"parent_id": parent["id"], "progress": 0})).await;
    assert_eq!(get(&app, &parent).await["progress"], 50);

    // By hand overrides; `null` returns to the derived value.
    let manual = patch(&app, &parent, json!({"progress": 70})).await;
    assert_eq!((manual["progress"].clone(), manual["progress_derived"].clone()), (json!(70), json!(false)));
    patch(&app, &unpriced, json!({"progress": 90})).await;
    assert_eq!(get(&app, &parent).await["progress"], 70, "set by hand, it stays");
    let derived = patch(&app, &parent, json!({"progress": null})).await;
    assert_eq!(
        (derived["progress"].clone(), derived["progress_derived"].clone()),
        (json!(80), json!(true)),
        "(100 + 50 + 90) / 3"
    );

    // Moving and deleting sub-measures settle both sides.
    let other = t.measure(&app, "Winterdienst", json!({})).await;
    patch(&app, &unpriced, json!({"parent_id": other["id"]})).await;
    assert_eq!(get(&app, &other).await["progress"], 90);
    assert_eq!(get(&app, &parent).await["progress"], 62);
    assert_eq!(app.delete(&format!("/api/v1/measures/{}", done["id"])).await.status(), 204);
    assert_eq!(get(&app, &parent).await["progress"], 50, "only the one at 50 % is left");

    let summary: Value = app.get(&format!("/api/v1/cooperations/{}/summary", t.coop["id"])).await.json().await.unwrap();
    assert_eq!(summary["progress_by_field"], json!({"bauhof": (50 + 90) / 2}), "top-level measures only");
}
