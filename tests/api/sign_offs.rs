//! Sign-offs of project descriptions: `description_signed_on` derived from the required
//! partners' signatures; signatories hidden from anonymous callers; old dates migrated.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};

/// Two partners in a cooperation and a measure both take part in (the first leads).
async fn measure_of_two(app: &TestApp) -> (Value, Value, Value) {
    let a = app.create_partner(json!({"name": "Stadt Königsbrück", "kind": "municipality"})).await;
    let b = app.create_partner(json!({"name": "Gemeinde Ottendorf", "kind": "municipality"})).await;
    let coop: Value = app.post_json("/api/v1/cooperations", &json!({"name": "IKZ"})).await.json().await.unwrap();
    for partner in [&a, &b] {
        let member = json!({"partner_id": partner["id"], "role": "member"});
        assert_eq!(app.post_json(&format!("/api/v1/cooperations/{}/members", coop["id"]), &member).await.status(), 201);
    }
    let field = app.collect_all("/api/v1/fields?limit=200").await[0]["id"].clone();
    let body = json!({"cooperation_id": coop["id"], "field_id": field, "title": "Gemeinsamer Bauhof",
                      "lead_partner_id": a["id"], "partner_ids": [b["id"]]});
    let measure: Value = app.post_json("/api/v1/measures", &body).await.json().await.unwrap();
    (a, b, measure)
}

async fn get(app: &TestApp, path: &str) -> Value {
    app.get(path).await.json().await.unwrap()
}

#[tokio::test]
async fn the_description_counts_as_signed_once_every_required_partner_signed() {
    let app = spawn_app().await;
    let (a, b, measure) = measure_of_two(&app).await;
    let path = format!("/api/v1/measures/{}", measure["id"]);
    let signs = format!("{path}/sign-offs");
    assert_eq!(
        measure["required_signatory_partner_ids"],
        json!([a["id"], b["id"]]),
        "lead and participants by default"
    );
    assert_eq!((measure["description_signed_on"].clone(), measure["sign_offs"].clone()), (Value::Null, json!([])));

    let mayor = json!({"partner_id": a["id"], "signed_on": "2026-11-18", "signatory_name": "Dr. Anna Beispiel",
                       "signatory_function": "Bürgermeisterin"});
    let signed = app.post_json(&signs, &mayor).await;
    assert_eq!(signed.status(), 201);
    let half = get(&app, &path).await;
    assert_eq!(half["description_signed_on"], Value::Null, "one of two partners is not enough");
    assert_eq!(half["sign_offs"], json!([{"partner_id": a["id"], "signed_on": "2026-11-18", "migrated": false}]));
    assert_ne!(half["updated_at"], measure["updated_at"], "a signature is a new version of the measure");

    let contact: Value = app
        .post_json(
            "/api/v1/contacts",
            &json!({"partner_id": b["id"], "name": "Bernd Probe", "function": "Bürgermeister"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let editor = app.token_for("ottendorf", "editor", &[b["id"].as_i64().unwrap()]).await;
    let for_a = json!({"partner_id": a["id"], "signed_on": "2026-11-20", "signatory_name": "X"});
    assert_problem(
        app.request(Method::POST, &signs, Some(&editor)).json(&for_a).send().await.unwrap(),
        403,
        "/problems/forbidden",
    )
    .await;
    let by_contact = json!({"partner_id": b["id"], "signed_on": "2026-11-20", "contact_id": contact["id"]});
    let signed = app.request(Method::POST, &signs, Some(&editor)).json(&by_contact).send().await.unwrap();
    assert_eq!(signed.status(), 201);
    let full = get(&app, &path).await;
    assert_eq!(full["description_signed_on"], "2026-11-20", "the date the last required partner signed");
    assert_problem(app.post_json(&signs, &by_contact).await, 409, "/problems/conflict").await;

    // Anonymous callers see which partners signed and when, not who.
    let anonymous: Value = app.request(Method::GET, &signs, None).send().await.unwrap().json().await.unwrap();
    for item in anonymous["items"].as_array().unwrap() {
        assert_eq!((item["contact_id"].clone(), item["signatory_name"].clone()), (Value::Null, Value::Null));
    }
    let signed_in: Value = app.as_admin(Method::GET, &signs).send().await.unwrap().json().await.unwrap();
    assert_eq!(signed_in["items"][0]["signatory_name"], "Dr. Anna Beispiel");
    assert_eq!(signed_in["items"][1]["contact_id"], contact["id"]);

    // The date is derived, never written.
    let refused = app.patch_json(&path, &json!({"description_signed_on": "2026-01-01"})).await;
    let problem = assert_problem(refused, 422, "/problems/validation").await;
    assert_eq!(problem["errors"][0]["code"], "read_only");
    let unchanged = app.patch_json(&path, &json!({"description_signed_on": "2026-11-20", "summary": "x"})).await;
    assert_eq!(unchanged.status(), 200, "sending the stored value back is harmless");
    let create = json!({"cooperation_id": measure["cooperation_id"], "field_id": measure["field_id"], "title": "Neu",
                            "description_signed_on": "2026-01-01"});
    let problem = assert_problem(app.post_json("/api/v1/measures", &create).await, 422, "/problems/validation").await;
    assert_eq!(
        (problem["errors"][0]["field"].clone(), problem["errors"][0]["code"].clone()),
        (json!("description_signed_on"), json!("read_only"))
    );

    // The required partners are editable; the date follows them.
    let only_a = app
        .patch_json(&path, &json!({"required_signatory_partner_ids": [a["id"]]}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        (only_a["required_signatory_partner_ids"].clone(), only_a["description_signed_on"].clone()),
        (json!([a["id"]]), json!("2026-11-18"))
    );
    let outsider = app.create_partner(json!({"name": "Landkreis Bautzen", "kind": "district"})).await;
    let bad = app.patch_json(&path, &json!({"required_signatory_partner_ids": [outsider["id"]]})).await;
    assert_eq!(
        error_fields(&assert_problem(bad, 422, "/problems/validation").await),
        vec!["required_signatory_partner_ids[0]"]
    );
    let back =
        app.patch_json(&path, &json!({"required_signatory_partner_ids": null})).await.json::<Value>().await.unwrap();
    assert_eq!(back["description_signed_on"], "2026-11-20", "{back}");

    let gone = app.request(Method::DELETE, &format!("{signs}/{}", b["id"]), Some(&editor)).send().await.unwrap();
    assert_eq!(gone.status(), 204);
    assert_eq!(get(&app, &path).await["description_signed_on"], Value::Null);
    assert_problem(app.delete(&format!("{signs}/{}", b["id"])).await, 404, "/problems/not-found").await;

    let not_required = json!({"partner_id": outsider["id"], "signed_on": "2026-11-20", "signatory_name": "X"});
    assert_eq!(
        error_fields(&assert_problem(app.post_json(&signs, &not_required).await, 422, "/problems/validation").await),
        vec!["partner_id"]
    );
    let foreign_contact = json!({"partner_id": a["id"], "signed_on": "2026-11-20", "contact_id": contact["id"]});
    app.delete(&format!("{signs}/{}", a["id"])).await;
    assert_eq!(
        error_fields(&assert_problem(app.post_json(&signs, &foreign_contact).await, 422, "/problems/validation").await),
        vec!["contact_id"]
    );
    let nobody = json!({"partner_id": a["id"], "signed_on": "2026-11-20"});
    assert_eq!(
        error_fields(&assert_problem(app.post_json(&signs, &nobody).await, 422, "/problems/validation").await),
        vec!["signatory_name"]
    );
}

#[tokio::test]
async fn dates_entered_before_sign_offs_existed_become_migrated_sign_offs() {
    use diesel::RunQueryDsl;
    use ikz_api::db::{self, ConnectionManager};
    let app = spawn_app().await;
    let (a, b, measure) = measure_of_two(&app).await;
    let lone: Value = app
        .post_json("/api/v1/measures", &json!({"cooperation_id": measure["cooperation_id"], "field_id": measure["field_id"], "title": "Ohne Partner"}))
        .await
        .json()
        .await
        .unwrap();
    let mut conn = ConnectionManager::new(&app._db.url()).establish().expect("connect");
    let reverted = db::revert_down_to(&mut conn, "2026-12-07-000003").expect("the sign-off migration goes down");
    assert!(reverted >= 1);
    for id in [&measure["id"], &lone["id"]] {
        diesel::sql_query(format!("UPDATE measures SET description_signed_on = '2025-11-20' WHERE id = {id}"))
            .execute(&mut conn)
            .unwrap();
    }
    assert_eq!(db::run_migrations(&mut conn).expect("and up again"), reverted);
    let migrated = get(&app, &format!("/api/v1/measures/{}", measure["id"])).await;
    assert_eq!(migrated["description_signed_on"], "2025-11-20", "nothing is lost");
    let each = |p: &Value| json!({"partner_id": p["id"], "signed_on": "2025-11-20", "migrated": true});
    assert_eq!(migrated["sign_offs"], json!([each(&a), each(&b)]));
    assert_eq!(
        get(&app, &format!("/api/v1/measures/{}", lone["id"])).await["description_signed_on"],
        "2025-11-20",
        "a measure without partners keeps its date"
    );
}
