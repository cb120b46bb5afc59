//! Record versions on every resource: `ETag` on each answer, `If-None-Match` → 304,
//! `If-Match` on PATCH and DELETE → 412 when stale, and tags that cover embedded records.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

fn etag_of(response: &Response) -> String {
    response.headers().get("etag").expect("an ETag").to_str().unwrap().to_owned()
}

async fn created(app: &TestApp, path: &str, body: Value) -> (i64, String) {
    let response = app.post_json(path, &body).await;
    assert_eq!(response.status(), 201, "{path}");
    let tag = etag_of(&response);
    (response.json::<Value>().await.unwrap()["id"].as_i64().unwrap(), tag)
}

fn conditional(app: &TestApp, method: Method, path: &str, header: &str, tag: &str) -> reqwest::RequestBuilder {
    app.as_admin(method, path).header(header, tag)
}

/// One record of every resource, with a PATCH that changes one field.
async fn one_of_each(app: &TestApp) -> Vec<(String, Value)> {
    let partner = |name: &str| json!({"name": name, "kind": "municipality"});
    let (for_contact, _) = created(app, "/api/v1/partners", partner("Kontaktgemeinde")).await;
    let (cooperation, _) = created(app, "/api/v1/cooperations", json!({"name": "IKZ Maßnahmen"})).await;
    let fields: Value = app.get("/api/v1/fields").await.json().await.unwrap();
    let field = fields["items"][0]["id"].as_i64().unwrap();
    let cases = [
        ("/api/v1/partners", partner("Versionsstadt"), json!({"population": 1200})),
        (
            "/api/v1/fields",
            json!({"key": "versionen", "name_de": "Versionen", "name_en": "Versions"}),
            json!({"name_en": "Revisions"}),
        ),
        ("/api/v1/cooperations", json!({"name": "IKZ Versionen"}), json!({"description": "Gemeinsam"})),
        (
            "/api/v1/measures",
            json!({"cooperation_id": cooperation, "field_id": field, "title": "Streusalz"}),
            json!({"summary": "Gemeinsam einkaufen"}),
        ),
        (
            "/api/v1/contacts",
            json!({"partner_id": for_contact, "name": "Erika Muster"}),
            json!({"function": "Bauhofleitung"}),
        ),
        (
            "/api/v1/users",
            json!({"username": "versioned", "password": "a long enough password", "role": "viewer"}),
            json!({"display_name": "V. Ersion"}),
        ),
        (
            "/api/v1/webhooks",
            json!({"url": "http://127.0.0.1:9/hooks", "resources": ["fields"]}),
            json!({"description": "Data warehouse of the district"}),
        ),
    ];
    let mut records = Vec::new();
    for (collection, body, change) in cases {
        let (id, _) = created(app, collection, body).await;
        records.push((format!("{collection}/{id}"), change));
    }
    records
}

#[tokio::test]
async fn every_record_answers_if_none_match_with_304_until_it_changes() {
    let app = spawn_app().await;
    for (path, change) in one_of_each(&app).await {
        let first = app.as_admin(Method::GET, &path).send().await.unwrap();
        assert_eq!(first.status(), 200, "{path}");
        let tag = etag_of(&first);
        let unchanged = conditional(&app, Method::GET, &path, "If-None-Match", &tag).send().await.unwrap();
        assert_eq!(unchanged.status(), 304, "{path}");
        assert_eq!(etag_of(&unchanged), tag, "{path}");
        assert!(unchanged.bytes().await.unwrap().is_empty(), "{path}: a 304 has no body");

        let patched = app.patch_json(&path, &change).await;
        assert_eq!(patched.status(), 200, "{path}");
        let new_tag = etag_of(&patched);
        assert_ne!(new_tag, tag, "{path}");
        let changed = conditional(&app, Method::GET, &path, "If-None-Match", &tag).send().await.unwrap();
        assert_eq!(changed.status(), 200, "{path}: the old tag no longer matches");
        assert_eq!(etag_of(&changed), new_tag, "{path}");
    }
}

#[tokio::test]
async fn every_record_refuses_a_patch_or_delete_based_on_a_stale_version() {
    let app = spawn_app().await;
    for (path, change) in one_of_each(&app).await {
        let stale = etag_of(&app.as_admin(Method::GET, &path).send().await.unwrap());
        let patched = app.patch_json(&path, &change).await;
        assert_eq!(patched.status(), 200, "{path}");
        let current = etag_of(&patched);

        let stale_patch = conditional(&app, Method::PATCH, &path, "If-Match", &stale)
            .header("Content-Type", "application/merge-patch+json")
            .body(change.to_string())
            .send()
            .await
            .unwrap();
        assert_problem(stale_patch, 412, "/problems/precondition-failed").await;
        let stale_delete = conditional(&app, Method::DELETE, &path, "If-Match", &stale).send().await.unwrap();
        assert_problem(stale_delete, 412, "/problems/precondition-failed").await;
        assert_eq!(app.as_admin(Method::GET, &path).send().await.unwrap().status(), 200, "{path} is still there");

        let delete = conditional(&app, Method::DELETE, &path, "If-Match", &current).send().await.unwrap();
        assert_eq!(delete.status(), 204, "{path}");
        assert_eq!(app.as_admin(Method::GET, &path).send().await.unwrap().status(), 404, "{path} is gone");
    }
}

#[tokio::test]
async fn the_tag_of_an_answer_with_included_contacts_changes_with_the_contacts() {
    let app = spawn_app().await;
    let (partner, _) = created(&app, "/api/v1/partners", json!({"name": "Kontaktstadt", "kind": "municipality"})).await;
    let (cooperation, _) = created(&app, "/api/v1/cooperations", json!({"name": "IKZ Kontakte"})).await;
    let fields: Value = app.get("/api/v1/fields").await.json().await.unwrap();
    let field = fields["items"][0]["id"].as_i64().unwrap();
    let (contact, _) =
        created(&app, "/api/v1/contacts", json!({"partner_id": partner, "name": "Max Mustermann"})).await;
    let measure_body =
        json!({"cooperation_id": cooperation, "field_id": field, "title": "Bauhof", "responsible_contact_id": contact});
    let (measure, _) = created(&app, "/api/v1/measures", measure_body).await;
    let paths = [
        format!("/api/v1/partners/{partner}?include=contacts"),
        format!("/api/v1/measures/{measure}?include=contacts"),
    ];
    let mut tags = Vec::new();
    for path in &paths {
        tags.push(etag_of(&app.as_admin(Method::GET, path).send().await.unwrap()));
    }
    // The contact changes; the partner and the measure rows do not.
    let renamed = app.patch_json(&format!("/api/v1/contacts/{contact}"), &json!({"name": "Max Neumann"})).await;
    assert_eq!(renamed.status(), 200);
    for (path, tag) in paths.iter().zip(&tags) {
        let response = conditional(&app, Method::GET, path, "If-None-Match", tag).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}: a renamed contact is not `Not Modified`");
        let body: Value = response.json().await.unwrap();
        assert!(body.to_string().contains("Max Neumann"), "{path}: {body}");
    }
    // Erased: the partner's answer must not show the contact through a 304.
    let partner_tag = etag_of(&app.as_admin(Method::GET, &paths[0]).send().await.unwrap());
    assert_eq!(app.delete(&format!("/api/v1/contacts/{contact}")).await.status(), 204);
    let response = conditional(&app, Method::GET, &paths[0], "If-None-Match", &partner_tag).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["contacts"], json!([]));
}
