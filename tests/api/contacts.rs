use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};

async fn partner(app: &TestApp, name: &str) -> i64 {
    app.create_partner(json!({"name": name, "kind": "municipality"})).await["id"].as_i64().unwrap()
}

async fn field_id(app: &TestApp, key: &str) -> i64 {
    let fields = app.collect_all("/api/v1/fields?limit=200").await;
    fields.iter().find(|f| f["key"] == key).unwrap()["id"].as_i64().unwrap()
}

fn maria(partner_id: i64, fields: &[i64]) -> Value {
    json!({"partner_id": partner_id, "name": " Maria Mustermann ", "function": "Bürgermeisterin",
           "email": "m.mustermann@koenigsbrueck.example.org", "phone": "035795 / 123-10", "field_ids": fields})
}

#[tokio::test]
async fn contacts_are_stored_with_a_normalised_phone_and_their_fields() {
    let app = spawn_app().await;
    let p = partner(&app, "Königsbrück").await;
    let bauhof = field_id(&app, "bauhof").await;
    let response = app.post_json("/api/v1/contacts", &maria(p, &[bauhof])).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["name"], "Maria Mustermann");
    assert_eq!(created["phone"], "035795 / 123-10");
    assert_eq!(created["phone_normalized"], "+493579512310");
    assert_eq!(created["field_ids"], json!([bauhof]));

    let by_field: Value = app
        .as_admin(Method::GET, &format!("/api/v1/contacts?field_id={bauhof}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_field["items"].as_array().unwrap().len(), 1);
    let by_name: Value =
        app.as_admin(Method::GET, "/api/v1/contacts?q=MUSTER").send().await.unwrap().json().await.unwrap();
    assert_eq!(by_name["items"][0]["id"], created["id"]);
    let other: Value =
        app.as_admin(Method::GET, "/api/v1/contacts?partner_id=999").send().await.unwrap().json().await.unwrap();
    assert!(other["items"].as_array().unwrap().is_empty());

    let path = format!("/api/v1/contacts/{}", created["id"]);
    let changed: Value =
        app.patch_json(&path, &json!({"phone": "+49 35795 123-99", "field_ids": []})).await.json().await.unwrap();
    assert_eq!(
        (changed["phone_normalized"].clone(), changed["field_ids"].clone()),
        (json!("+493579512399"), json!([]))
    );
}

#[tokio::test]
async fn invalid_contacts_are_refused_with_every_field_named() {
    let app = spawn_app().await;
    let body = json!({"partner_id": 999, "name": "", "email": "nope", "phone": "ring ring", "field_ids": [1, 999]});
    let problem = assert_problem(app.post_json("/api/v1/contacts", &body).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), ["email", "name", "phone"], "rules first; references once the rules pass");
    let body = json!({"partner_id": 999, "name": "X", "field_ids": [1, 999]});
    let problem = assert_problem(app.post_json("/api/v1/contacts", &body).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), ["field_ids[1]", "partner_id"]);
}

#[tokio::test]
async fn contacts_are_personal_data_and_never_public() {
    let app = spawn_app().await;
    let p = partner(&app, "Königsbrück").await;
    let created: Value = app.post_json("/api/v1/contacts", &maria(p, &[])).await.json().await.unwrap();
    assert_problem(app.get("/api/v1/contacts").await, 401, "/problems/unauthorized").await;
    assert_problem(app.get(&format!("/api/v1/contacts/{}", created["id"])).await, 401, "/problems/unauthorized").await;

    let public: Value = app.get(&format!("/api/v1/partners/{p}")).await.json().await.unwrap();
    assert!(public.get("contacts").is_none(), "not embedded unless asked: {public}");
    assert!(!public.to_string().contains("Mustermann"));
    assert_problem(app.get(&format!("/api/v1/partners/{p}?include=contacts")).await, 401, "/problems/unauthorized")
        .await;

    let viewer = app.token_for("vera", "viewer", &[]).await;
    let with: Value = app
        .request(Method::GET, &format!("/api/v1/partners/{p}?include=contacts"), Some(&viewer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(with["contacts"][0]["name"], "Maria Mustermann");
    let list = app.request(Method::GET, "/api/v1/contacts", Some(&viewer)).send().await.unwrap();
    assert_eq!(list.status(), 200);
    let write = app.request(Method::POST, "/api/v1/contacts", Some(&viewer)).json(&maria(p, &[])).send().await.unwrap();
    assert_problem(write, 403, "/problems/forbidden").await;
}

#[tokio::test]
async fn editors_keep_the_contacts_of_their_own_partners() {
    let app = spawn_app().await;
    let (own, other) = (partner(&app, "Königsbrück").await, partner(&app, "Kamenz").await);
    let editor = app.token_for("eddi", "editor", &[own]).await;
    let create = |p: i64| app.request(Method::POST, "/api/v1/contacts", Some(&editor)).json(&maria(p, &[])).send();
    let mine: Value = create(own).await.unwrap().json().await.unwrap();
    assert_problem(create(other).await.unwrap(), 403, "/problems/forbidden").await;
    let move_away = app
        .request(Method::PATCH, &format!("/api/v1/contacts/{}", mine["id"]), Some(&editor))
        .json(&json!({"partner_id": other}));
    assert_problem(move_away.send().await.unwrap(), 403, "/problems/forbidden").await;
    let erase = app.request(Method::DELETE, &format!("/api/v1/contacts/{}", mine["id"]), Some(&editor));
    assert_eq!(erase.send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn erasing_a_contact_frees_its_partner_and_fields() {
    let app = spawn_app().await;
    let p = partner(&app, "Königsbrück").await;
    let created =
        app.post_json("/api/v1/fields", &json!({"key": "tourism", "name_de": "Tourismus", "name_en": "Tourism"})).await;
    let tourism = created.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let contact: Value = app.post_json("/api/v1/contacts", &maria(p, &[tourism])).await.json().await.unwrap();

    let partner_refused =
        assert_problem(app.delete(&format!("/api/v1/partners/{p}")).await, 409, "/problems/conflict").await;
    assert!(partner_refused["detail"].as_str().unwrap().contains("contact"));
    let field_refused =
        assert_problem(app.delete(&format!("/api/v1/fields/{tourism}")).await, 409, "/problems/conflict").await;
    assert!(field_refused["detail"].as_str().unwrap().contains("tourism"));

    assert_eq!(app.delete(&format!("/api/v1/contacts/{}", contact["id"])).await.status(), 204);
    let gone = app.as_admin(Method::GET, &format!("/api/v1/contacts/{}", contact["id"])).send().await.unwrap();
    assert_problem(gone, 404, "/problems/not-found").await;
    assert_eq!(app.delete(&format!("/api/v1/fields/{tourism}")).await.status(), 204);
    assert_eq!(app.delete(&format!("/api/v1/partners/{p}")).await.status(), 204);
}
