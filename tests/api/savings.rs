//! Savings of measures: stored with the costs, shown in percent, summed in the portfolio.

use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_fields, spawn_app};

#[tokio::test]
async fn savings_follow_the_costs_and_the_portfolio_sums_and_lists_them() {
    let app = spawn_app().await;
    let partner = app.create_partner(json!({"name": "Stadt Königsbrück", "kind": "municipality"})).await;
    let coop: Value = app.post_json("/api/v1/cooperations", &json!({"name": "IKZ"})).await.json().await.unwrap();
    let member = json!({"partner_id": partner["id"], "role": "lead"});
    assert_eq!(app.post_json(&format!("/api/v1/cooperations/{}/members", coop["id"]), &member).await.status(), 201);
    let field = app.collect_all("/api/v1/fields?limit=200").await[0]["id"].clone();
    let create = |title: &str, before: Value, after: Value| {
        json!({"cooperation_id": coop["id"], "field_id": field, "title": title, "annual_cost_before_eur": before,
               "annual_cost_after_eur": after, "commitment_years": 5})
    };
    let bauhof: Value =
        app.post_json("/api/v1/measures", &create("Bauhof", json!(200000), json!(170000))).await.json().await.unwrap();
    assert_eq!((bauhof["savings_eur"].clone(), bauhof["savings_percent"].clone()), (json!(30000), json!(15.0)));
    assert_eq!(bauhof["commitment_years"], 5);
    let third: Value =
        app.post_json("/api/v1/measures", &create("Kasse", json!(3), json!(2))).await.json().await.unwrap();
    assert_eq!((third["savings_eur"].clone(), third["savings_percent"].clone()), (json!(1), json!(33.3)));
    let unknown: Value =
        app.post_json("/api/v1/measures", &create("Offen", json!(0), json!(50))).await.json().await.unwrap();
    assert_eq!((unknown["savings_eur"].clone(), unknown["savings_percent"].clone()), (json!(-50), Value::Null));
    let problem = assert_problem(
        app.post_json("/api/v1/measures", &create("Falsch", json!(-1), json!(2))).await,
        422,
        "/problems/validation",
    )
    .await;
    assert_eq!(error_fields(&problem), vec!["annual_cost_before_eur"]);
    let read_only = json!({"savings_eur": 5});
    let refused = app.patch_json(&format!("/api/v1/measures/{}", bauhof["id"]), &read_only).await;
    assert_eq!(error_fields(&assert_problem(refused, 422, "/problems/validation").await), vec!["savings_eur"]);

    let changed =
        app.patch_json(&format!("/api/v1/measures/{}", bauhof["id"]), &json!({"annual_cost_after_eur": 180000})).await;
    let changed: Value = changed.json().await.unwrap();
    assert_eq!((changed["savings_eur"].clone(), changed["savings_percent"].clone()), (json!(20000), json!(10.0)));
    assert_ne!(changed["updated_at"], bauhof["updated_at"]);
    let cleared =
        app.patch_json(&format!("/api/v1/measures/{}", third["id"]), &json!({"annual_cost_before_eur": null})).await;
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!((cleared["savings_eur"].clone(), cleared["savings_percent"].clone()), (Value::Null, Value::Null));
    let restored =
        app.patch_json(&format!("/api/v1/measures/{}", third["id"]), &json!({"annual_cost_before_eur": 3})).await;
    assert_eq!(restored.status(), 200);

    let summary = |query: &str| {
        let url = format!("/api/v1/cooperations/{}/summary{query}", coop["id"]);
        let app = &app;
        async move { app.get(&url).await }
    };
    let all: Value = summary("").await.json().await.unwrap();
    assert_eq!(all["annual_savings_eur_total"], 20000 + 1 - 50);
    let ids: Vec<Value> = all["savings_measures"].as_array().unwrap().iter().map(|m| m["id"].clone()).collect();
    assert_eq!(ids, vec![third["id"].clone(), bauhof["id"].clone()], "highest share first, unknown shares left out");
    let fifteen: Value = summary("?savings_min_percent=15").await.json().await.unwrap();
    let listed = fifteen["savings_measures"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0],
        json!({"id": third["id"], "title": "Kasse", "savings_eur": 1, "savings_percent": 33.3, "commitment_years": 5})
    );
    let ten: Value = summary("?savings_min_percent=10").await.json().await.unwrap();
    assert_eq!(ten["savings_measures"].as_array().unwrap().len(), 2, "10.0 % is at least 10 %");
    assert_problem(summary("?savings_min_percent=abc").await, 400, "/problems/invalid-parameter").await;
    assert_problem(summary("?savings_min_percent=101").await, 400, "/problems/invalid-parameter").await;

    let csv = app
        .get(&format!("/api/v1/measures?format=csv&cooperation_id={}&sort=title", coop["id"]))
        .await
        .text()
        .await
        .unwrap();
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{name} exported"));
    let bauhof_row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!((bauhof_row[column("savings_eur")], bauhof_row[column("savings_percent")]), ("20000", "10.0"));
}
