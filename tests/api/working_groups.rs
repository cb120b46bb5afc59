//! Working groups: by fields of action, moderated by a member, with contacts as members that
//! only signed-in callers see; measures name the group that examined them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_fields, spawn_app};

#[tokio::test]
async fn a_cooperation_forms_working_groups_whose_members_only_signed_in_callers_see() {
    let app = spawn_app().await;
    let town = app.create_partner(json!({"name": "Stadt Königsbrück", "kind": "municipality"})).await;
    let advisor = app.create_partner(json!({"name": "Kommunalberatung Muster GmbH", "kind": "company"})).await;
    let outsider = app.create_partner(json!({"name": "Landkreis Bautzen", "kind": "district"})).await;
    let coop: Value = app.post_json("/api/v1/cooperations", &json!({"name": "IKZ"})).await.json().await.unwrap();
    let base = format!("/api/v1/cooperations/{}", coop["id"]);
    for (partner, role) in [(&town, "lead"), (&advisor, "advisor")] {
        let member = json!({"partner_id": partner["id"], "role": role});
        assert_eq!(app.post_json(&format!("{base}/members"), &member).await.status(), 201);
    }
    let fields = app.collect_all("/api/v1/fields?limit=200").await;
    let it = fields.iter().find(|f| f["key"] == "it-egovernment").unwrap()["id"].clone();

    let body = json!({"name": "IT & E-Government", "field_ids": [it], "moderator_partner_id": advisor["id"]});
    let created = app.post_json(&format!("{base}/working-groups"), &body).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let group: Value = created.json().await.unwrap();
    assert_eq!(location, format!("{base}/working-groups/{}", group["id"]));
    assert_eq!((group["status"].clone(), group["member_count"].clone()), (json!("active"), json!(0)));
    let bad = json!({"name": "", "field_ids": [999999], "moderator_partner_id": outsider["id"]});
    let problem =
        assert_problem(app.post_json(&format!("{base}/working-groups"), &bad).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), vec!["name"]);
    let bad = json!({"name": "Bauhof", "field_ids": [999999], "moderator_partner_id": outsider["id"]});
    let problem =
        assert_problem(app.post_json(&format!("{base}/working-groups"), &bad).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), vec!["field_ids[0]", "moderator_partner_id"]);

    // Members: contacts of member partners, once each; anonymous callers see the count only.
    let it_officer: Value = app
        .post_json("/api/v1/contacts", &json!({"partner_id": town["id"], "name": "Kai Test"}))
        .await
        .json()
        .await
        .unwrap();
    let stranger: Value = app
        .post_json("/api/v1/contacts", &json!({"partner_id": outsider["id"], "name": "Uwe X"}))
        .await
        .json()
        .await
        .unwrap();
    let members = format!("{location}/members");
    let added = app.post_json(&members, &json!({"contact_id": it_officer["id"], "role": "chair"})).await;
    assert_eq!(added.status(), 201);
    assert_problem(app.post_json(&members, &json!({"contact_id": it_officer["id"]})).await, 409, "/problems/conflict")
        .await;
    let refused = app.post_json(&members, &json!({"contact_id": stranger["id"]})).await;
    assert_eq!(error_fields(&assert_problem(refused, 422, "/problems/validation").await), vec!["contact_id"]);
    let anonymous = app.request(Method::GET, &location, None).send().await.unwrap();
    let seen: Value = anonymous.json().await.unwrap();
    assert_eq!(seen["member_count"], 1);
    assert!(!seen.to_string().contains("Kai Test"), "anonymous callers never see who is in it");
    assert_problem(app.request(Method::GET, &members, None).send().await.unwrap(), 401, "/problems/unauthorized").await;
    let listed: Value = app.as_admin(Method::GET, &members).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"][0]["name"], "Kai Test");
    assert_eq!(listed["items"][0]["role"], "chair");

    // Measures name the group; the group lists them; the measure list filters by it.
    let measure: Value = app
        .post_json(
            "/api/v1/measures",
            &json!({"cooperation_id": coop["id"], "field_id": it, "title": "E-Akte", "working_group_id": group["id"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(measure["working_group_id"], group["id"]);
    let stored: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(stored["measure_ids"], json!([measure["id"]]));
    let filtered = app.collect_all(&format!("/api/v1/measures?working_group_id={}", group["id"])).await;
    assert_eq!(filtered.len(), 1);
    let other: Value = app.post_json("/api/v1/cooperations", &json!({"name": "Andere"})).await.json().await.unwrap();
    let elsewhere =
        json!({"cooperation_id": other["id"], "field_id": it, "title": "X", "working_group_id": group["id"]});
    let problem =
        assert_problem(app.post_json("/api/v1/measures", &elsewhere).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), vec!["working_group_id"]);
    assert_problem(app.delete(&location).await, 409, "/problems/conflict").await;

    // Versions, the feed, erasure of a member, closing.
    let etag = app.get(&location).await.headers()["etag"].to_str().unwrap().to_owned();
    let stale = app
        .as_admin(Method::PATCH, &location)
        .header("If-Match", "\"1\"")
        .json(&json!({"status": "closed"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "/problems/precondition-failed").await;
    let closed = app
        .as_admin(Method::PATCH, &location)
        .header("If-Match", &etag)
        .json(&json!({"status": "closed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.json::<Value>().await.unwrap()["status"], "closed");
    assert_eq!(app.delete(&format!("/api/v1/contacts/{}", it_officer["id"])).await.status(), 204);
    assert_eq!(
        app.get(&location).await.json::<Value>().await.unwrap()["member_count"],
        0,
        "an erased contact leaves the group"
    );
    let feed: Value = app
        .as_admin(Method::GET, "/api/v1/changes?resource=working_groups")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops: Vec<&str> = feed["items"].as_array().unwrap().iter().map(|c| c["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["created", "updated", "updated", "updated"], "created, a member, closed, the member erased");
    let csv = app.get(&format!("{base}/working-groups?format=csv")).await.text().await.unwrap();
    assert!(csv.contains("IT & E-Government") && csv.contains("closed"), "{csv}");
    assert_eq!(
        app.patch_json(&format!("/api/v1/measures/{}", measure["id"]), &json!({"working_group_id": null}))
            .await
            .status(),
        200
    );
    assert_eq!(app.delete(&location).await.status(), 204);
    assert_problem(app.get(&location).await, 404, "/problems/not-found").await;
}
