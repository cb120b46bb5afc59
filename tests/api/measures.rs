use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};

/// A cooperation with two members (lead and member) and a partner outside it (a ministry).
struct Setup {
    coop: i64,
    lead: i64,
    member: i64,
    outsider: i64,
    bauhof: i64,
    it: i64,
}

async fn setup(app: &TestApp) -> Setup {
    let id = |v: Value| v["id"].as_i64().unwrap();
    let lead = id(app.create_partner(json!({"name": "Königsbrück", "kind": "municipality"})).await);
    let member = id(app.create_partner(json!({"name": "Kamenz", "kind": "municipality"})).await);
    let outsider = id(app.create_partner(json!({"name": "Staatsministerium", "kind": "state_agency"})).await);
    let coop =
        id(app.post_json("/api/v1/cooperations", &json!({"name": "IKZ Westlausitz"})).await.json().await.unwrap());
    for (partner, role) in [(lead, "lead"), (member, "member")] {
        let added = app
            .post_json(&format!("/api/v1/cooperations/{coop}/members"), &json!({"partner_id": partner, "role": role}))
            .await;
        assert_eq!(added.status(), 201);
    }
    let fields = app.collect_all("/api/v1/fields?limit=200").await;
    let field = |key: &str| fields.iter().find(|f| f["key"] == key).unwrap()["id"].as_i64().unwrap();
    Setup { coop, lead, member, outsider, bauhof: field("bauhof"), it: field("it-egovernment") }
}

async fn measure(app: &TestApp, body: Value) -> Value {
    let response = app.post_json("/api/v1/measures", &body).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap_or_default());
    response.json().await.unwrap()
}

async fn transition(app: &TestApp, id: &Value, to: &str) -> reqwest::Response {
    app.post_json(&format!("/api/v1/measures/{id}/transitions"), &json!({"to": to, "comment": format!("to {to}")}))
        .await
}

#[tokio::test]
async fn a_new_measure_is_an_idea_with_a_derived_priority_and_a_history() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let created = measure(
        &app,
        json!({
            "cooperation_id": s.coop, "field_id": s.bauhof, "title": "Gemeinsame Beschaffung von Streusalz",
            "horizon": "short", "benefit": 4, "cost": 2, "effort": 3, "estimated_cost_eur": 25000,
            "lead_partner_id": s.lead, "partner_ids": [s.member], "responsible_partner_id": s.outsider,
            "planned_start": "2026-01-01", "planned_end": "2026-06-30",
            "council_refs": ["https://ris.example.org/oparl/v1/paper/17"]
        }),
    )
    .await;
    assert_eq!(created["status"], "idea");
    assert_eq!(created["priority_score"], 68, "(2·4 − 2 − 3 + 8) × 100 / 16");
    assert_eq!(created["partner_ids"], json!([s.member]));
    assert_eq!(created["council_refs"], json!(["https://ris.example.org/oparl/v1/paper/17"]));
    assert_eq!(created["progress"], 0);
    let history: Value = app.get(&format!("/api/v1/measures/{}/history", created["id"])).await.json().await.unwrap();
    assert_eq!(history["items"][0]["event"], "created");
    assert_eq!(history["items"][0]["by"], Value::Null, "anonymous readers do not see who");

    let unassessed = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.it, "title": "E-Akte"})).await;
    assert_eq!(unassessed["priority_score"], Value::Null);
}

#[tokio::test]
async fn every_broken_rule_and_reference_is_named() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let rules = json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "", "benefit": 6, "progress": 101,
        "planned_start": "2026-06-01", "planned_end": "2026-01-01", "council_refs": ["https://ok.example.org", "not a url"],
        "estimated_cost_eur": -5});
    let problem = assert_problem(app.post_json("/api/v1/measures", &rules).await, 422, "/problems/validation").await;
    assert_eq!(
        error_fields(&problem),
        ["benefit", "council_refs[1]", "estimated_cost_eur", "planned_end", "progress", "title"]
    );

    let other_coop =
        app.post_json("/api/v1/cooperations", &json!({"name": "Other"})).await.json::<Value>().await.unwrap()["id"]
            .clone();
    let foreign =
        measure(&app, json!({"cooperation_id": other_coop, "field_id": s.bauhof, "title": "Elsewhere"})).await;
    let references = json!({"cooperation_id": s.coop, "field_id": 999, "title": "X", "lead_partner_id": s.outsider,
        "partner_ids": [s.member, s.outsider], "responsible_partner_id": 999, "responsible_contact_id": 999,
        "parent_id": foreign["id"]});
    let problem =
        assert_problem(app.post_json("/api/v1/measures", &references).await, 422, "/problems/validation").await;
    assert_eq!(
        error_fields(&problem),
        [
            "field_id",
            "lead_partner_id",
            "parent_id",
            "partner_ids[1]",
            "responsible_contact_id",
            "responsible_partner_id"
        ]
    );
    let unknown_coop = json!({"cooperation_id": 999, "field_id": s.bauhof, "title": "X"});
    assert_eq!(
        error_fields(
            &assert_problem(app.post_json("/api/v1/measures", &unknown_coop).await, 422, "/problems/validation").await
        ),
        ["cooperation_id"]
    );
}

#[tokio::test]
async fn patching_recomputes_priority_but_never_status_or_cooperation() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let created = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz"})).await;
    let path = format!("/api/v1/measures/{}", created["id"]);
    let scored: Value =
        app.patch_json(&path, &json!({"benefit": 5, "cost": 1, "effort": 1})).await.json().await.unwrap();
    assert_eq!(scored["priority_score"], 100);
    let cleared: Value = app.patch_json(&path, &json!({"effort": null})).await.json().await.unwrap();
    assert_eq!(cleared["priority_score"], Value::Null);

    let status =
        assert_problem(app.patch_json(&path, &json!({"status": "approved"})).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&status), ["status"]);
    assert!(status["detail"].as_str().unwrap().contains("transitions"));
    assert_eq!(
        app.patch_json(&path, &json!({"status": "idea", "title": "Streusalz 2027"})).await.status(),
        200,
        "the unchanged status may be sent back"
    );
    let moved =
        assert_problem(app.patch_json(&path, &json!({"cooperation_id": 999})).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&moved), ["cooperation_id"]);
    let itself =
        assert_problem(app.patch_json(&path, &json!({"parent_id": created["id"]})).await, 422, "/problems/validation")
            .await;
    assert_eq!(error_fields(&itself), ["parent_id"]);
}

#[tokio::test]
async fn a_measure_walks_the_whole_workflow_and_every_step_is_recorded() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let m = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz"})).await;
    let id = m["id"].clone();

    let unscored = assert_problem(transition(&app, &id, "assessed").await, 409, "/problems/conflict").await;
    assert_eq!(error_fields(&unscored), ["benefit", "cost", "effort"]);
    app.patch_json(&format!("/api/v1/measures/{id}"), &json!({"benefit": 4, "cost": 2, "effort": 2})).await;

    for to in ["assessed", "planned", "approved", "in_progress", "completed"] {
        let response = transition(&app, &id, to).await;
        assert_eq!(response.status(), 200, "to {to}");
        assert_eq!(response.json::<Value>().await.unwrap()["status"], to);
    }
    let done: Value = app.get(&format!("/api/v1/measures/{id}")).await.json().await.unwrap();
    assert_eq!(done["progress"], 100);

    let history: Value = app
        .as_admin(Method::GET, &format!("/api/v1/measures/{id}/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let steps: Vec<(Value, Value)> =
        history["items"].as_array().unwrap().iter().map(|h| (h["from"].clone(), h["to"].clone())).collect();
    assert_eq!(
        steps,
        [
            (Value::Null, json!("idea")),
            (json!("idea"), json!("assessed")),
            (json!("assessed"), json!("planned")),
            (json!("planned"), json!("approved")),
            (json!("approved"), json!("in_progress")),
            (json!("in_progress"), json!("completed")),
        ]
    );
    assert_eq!(history["items"][2]["comment"], "to planned");
    assert_eq!(history["items"][2]["by"], "user:1 (admin)");
}

const ALL: [&str; 8] = ["idea", "assessed", "planned", "approved", "in_progress", "completed", "on_hold", "rejected"];

#[tokio::test]
async fn every_illegal_transition_is_a_409_naming_the_allowed_ones() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let m = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz", "benefit": 3, "cost": 3, "effort": 3})).await;
    let id = m["id"].clone();
    let path: [(&str, &[&str]); 6] = [
        ("idea", &["assessed", "on_hold", "rejected"]),
        ("assessed", &["planned", "on_hold", "rejected"]),
        ("planned", &["approved", "on_hold", "rejected"]),
        ("approved", &["in_progress", "on_hold", "rejected"]),
        ("in_progress", &["completed", "on_hold", "rejected"]),
        ("completed", &[]),
    ];
    for (i, (state, allowed)) in path.iter().enumerate() {
        for to in ALL.iter().filter(|t| !allowed.contains(t)) {
            let refused = assert_problem(transition(&app, &id, to).await, 409, "/problems/conflict").await;
            let detail = refused["detail"].as_str().unwrap();
            assert!(detail.contains(&format!("from `{state}` to `{to}`")), "{detail}");
            assert!(allowed.iter().all(|a| detail.contains(a)), "{detail}");
        }
        let current: Value = app.get(&format!("/api/v1/measures/{id}")).await.json().await.unwrap();
        assert_eq!(current["status"], *state, "refusals changed nothing");
        if let Some((next, _)) = path.get(i + 1) {
            assert_eq!(transition(&app, &id, next).await.status(), 200);
        }
    }
}

#[tokio::test]
async fn on_hold_and_rejected_go_back_only_to_where_they_came_from() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let m = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz", "benefit": 3, "cost": 3, "effort": 3})).await;
    let id = m["id"].clone();
    for to in ["assessed", "planned", "on_hold"] {
        assert_eq!(transition(&app, &id, to).await.status(), 200);
    }
    for to in ALL.iter().filter(|t| **t != "planned") {
        let refused = assert_problem(transition(&app, &id, to).await, 409, "/problems/conflict").await;
        assert!(refused["detail"].as_str().unwrap().ends_with("allowed from here: planned"), "{refused}");
    }
    assert_eq!(transition(&app, &id, "planned").await.status(), 200);
    assert_eq!(transition(&app, &id, "rejected").await.status(), 200);
    assert_problem(transition(&app, &id, "idea").await, 409, "/problems/conflict").await;
    assert_eq!(transition(&app, &id, "planned").await.json::<Value>().await.unwrap()["status"], "planned");
}

#[tokio::test]
async fn measures_are_filtered_sorted_and_paged() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let specs = [
        ("Streusalz", s.bauhof, "short", Some((5, 1, 1)), Some(s.lead), vec![], "2026-03-31"),
        ("Winterdienst", s.bauhof, "medium", Some((3, 3, 3)), Some(s.member), vec![s.lead], "2026-01-31"),
        ("E-Akte", s.it, "long", Some((4, 2, 3)), None, vec![s.member], "2027-12-31"),
        ("Serverraum", s.it, "long", None, None, vec![], ""),
    ];
    let mut ids = Vec::new();
    for (title, field, horizon, scores, lead, partners, end) in specs {
        let mut body = json!({"cooperation_id": s.coop, "field_id": field, "title": title, "horizon": horizon,
                              "lead_partner_id": lead, "partner_ids": partners});
        if let Some((b, c, e)) = scores {
            body.as_object_mut().unwrap().extend([
                ("benefit".into(), json!(b)),
                ("cost".into(), json!(c)),
                ("effort".into(), json!(e)),
            ]);
        }
        if !end.is_empty() {
            body["planned_end"] = json!(end);
        }
        ids.push(measure(&app, body).await["id"].as_i64().unwrap());
    }
    transition(&app, &json!(ids[0]), "assessed").await;
    let titles = |items: Vec<Value>| items.iter().map(|m| m["title"].as_str().unwrap().to_owned()).collect::<Vec<_>>();

    assert_eq!(
        titles(app.collect_all("/api/v1/measures?limit=1").await),
        ["Streusalz", "E-Akte", "Winterdienst", "Serverraum"]
    );
    assert_eq!(
        titles(app.collect_all("/api/v1/measures?limit=3&sort=priority_score").await),
        ["Serverraum", "Winterdienst", "E-Akte", "Streusalz"]
    );
    assert_eq!(
        titles(app.collect_all("/api/v1/measures?limit=2&sort=title").await),
        ["E-Akte", "Serverraum", "Streusalz", "Winterdienst"]
    );
    assert_eq!(
        titles(app.collect_all("/api/v1/measures?limit=2&sort=planned_end").await),
        ["Winterdienst", "Streusalz", "E-Akte", "Serverraum"]
    );
    assert_eq!(titles(app.collect_all("/api/v1/measures?field=bauhof").await), ["Streusalz", "Winterdienst"]);
    assert_eq!(titles(app.collect_all(&format!("/api/v1/measures?field_id={}", s.it)).await), ["E-Akte", "Serverraum"]);
    assert_eq!(titles(app.collect_all("/api/v1/measures?status=assessed").await), ["Streusalz"]);
    assert_eq!(
        titles(app.collect_all("/api/v1/measures?status=assessed&status=idea&horizon=long").await),
        ["E-Akte", "Serverraum"]
    );
    assert_eq!(
        titles(app.collect_all(&format!("/api/v1/measures?partner_id={}", s.lead)).await),
        ["Streusalz", "Winterdienst"]
    );
    assert_eq!(
        titles(app.collect_all(&format!("/api/v1/measures?partner_id={}", s.member)).await),
        ["E-Akte", "Winterdienst"]
    );
    assert_eq!(titles(app.collect_all("/api/v1/measures?min_priority=60").await), ["Streusalz", "E-Akte"]);
    assert_eq!(titles(app.collect_all("/api/v1/measures?q=AKTE").await), ["E-Akte"]);
    assert_eq!(
        titles(app.collect_all(&format!("/api/v1/cooperations/{}/measures?field=it-egovernment", s.coop)).await),
        ["E-Akte", "Serverraum"]
    );
    let bad = app.get("/api/v1/measures?status=done&min_priority=500").await;
    assert_eq!(error_fields(&assert_problem(bad, 400, "/problems/invalid-parameter").await), ["status"]);
    assert_problem(app.get("/api/v1/cooperations/999/measures").await, 404, "/problems/not-found").await;
}

#[tokio::test]
async fn the_summary_shows_the_portfolio() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let a = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz", "benefit": 5, "cost": 1, "effort": 1,
        "estimated_cost_eur": 25000, "lead_partner_id": s.lead})).await;
    let sign = json!({"partner_id": s.lead, "signed_on": "2026-02-01", "signatory_name": "Dr. Anna Beispiel"});
    assert_eq!(app.post_json(&format!("/api/v1/measures/{}/sign-offs", a["id"]), &sign).await.status(), 201);
    measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Winterdienst", "benefit": 3, "cost": 3, "effort": 3, "estimated_cost_eur": 5000})).await;
    measure(&app, json!({"cooperation_id": s.coop, "field_id": s.it, "title": "E-Akte"})).await;
    transition(&app, &a["id"], "assessed").await;

    let summary: Value = app.get(&format!("/api/v1/cooperations/{}/summary", s.coop)).await.json().await.unwrap();
    assert_eq!(summary["measures_total"], 3);
    assert_eq!(summary["by_status"]["idea"], 2);
    assert_eq!(summary["by_status"]["assessed"], 1);
    assert_eq!(summary["by_status"]["completed"], 0);
    assert_eq!(summary["by_field"], json!({"bauhof": 2, "it-egovernment": 1}));
    assert_eq!(summary["assessed_total"], 2);
    assert_eq!(summary["signed_total"], 1);
    assert_eq!(summary["estimated_cost_eur_total"], 30000);
    let top: Vec<&str> =
        summary["top_measures"].as_array().unwrap().iter().map(|m| m["title"].as_str().unwrap()).collect();
    assert_eq!(top, ["Streusalz", "Winterdienst"], "assessed ones only, best first");
}

#[tokio::test]
async fn erasing_the_responsible_contact_keeps_the_measure_and_notes_it() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let contact: Value = app
        .post_json(
            "/api/v1/contacts",
            &json!({"partner_id": s.lead, "name": "Maria Mustermann", "function": "Bauhofleiterin"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let m = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz", "responsible_contact_id": contact["id"]})).await;
    let path = format!("/api/v1/measures/{}", m["id"]);

    assert_problem(app.get(&format!("{path}?include=contacts")).await, 401, "/problems/unauthorized").await;
    assert!(app.get(&path).await.json::<Value>().await.unwrap().get("responsible_contact").is_none());
    let viewer = app.token_for("vera", "viewer", &[]).await;
    let with: Value = app
        .request(Method::GET, &format!("{path}?include=contacts"), Some(&viewer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(with["responsible_contact"]["name"], "Maria Mustermann");

    assert_eq!(app.delete(&format!("/api/v1/contacts/{}", contact["id"])).await.status(), 204);
    let after: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(after["responsible_contact_id"], Value::Null);
    let history: Value = app.get(&format!("{path}/history")).await.json().await.unwrap();
    let last = history["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "contact_erased");
    assert!(!history.to_string().contains("Mustermann"), "no trace of the person: {history}");
}

#[tokio::test]
async fn records_in_use_cannot_be_deleted_and_the_answer_says_why() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let m = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz", "lead_partner_id": s.lead, "responsible_partner_id": s.outsider})).await;
    let member = assert_problem(
        app.delete(&format!("/api/v1/cooperations/{}/members/{}", s.coop, s.lead)).await,
        409,
        "/problems/conflict",
    )
    .await;
    assert!(member["detail"].as_str().unwrap().contains(&m["id"].to_string()));
    let partner =
        assert_problem(app.delete(&format!("/api/v1/partners/{}", s.outsider)).await, 409, "/problems/conflict").await;
    assert!(partner["detail"].as_str().unwrap().contains("measure"));
    let field =
        assert_problem(app.delete(&format!("/api/v1/fields/{}", s.bauhof)).await, 409, "/problems/conflict").await;
    assert!(field["detail"].as_str().unwrap().contains("bauhof"));
    let coop =
        assert_problem(app.delete(&format!("/api/v1/cooperations/{}", s.coop)).await, 409, "/problems/conflict").await;
    assert!(coop["detail"].as_str().unwrap().contains("measure"));

    assert_eq!(app.delete(&format!("/api/v1/measures/{}", m["id"])).await.status(), 204);
    assert_eq!(app.delete(&format!("/api/v1/cooperations/{}/members/{}", s.coop, s.lead)).await.status(), 204);
    assert_eq!(app.delete(&format!("/api/v1/partners/{}", s.outsider)).await.status(), 204);
    assert_eq!(app.delete(&format!("/api/v1/cooperations/{}", s.coop)).await.status(), 204);
}

#[tokio::test]
async fn editors_work_on_measures_of_their_cooperations_only() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let member_editor = app.token_for("eddi", "editor", &[s.member]).await;
    let outsider_editor = app.token_for("otto", "editor", &[s.outsider]).await;
    let body = json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz"});
    let created = app.request(Method::POST, "/api/v1/measures", Some(&member_editor)).json(&body).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let refused =
        app.request(Method::POST, "/api/v1/measures", Some(&outsider_editor)).json(&body).send().await.unwrap();
    assert_problem(refused, 403, "/problems/forbidden").await;
    let step = |token: &str| {
        app.request(Method::POST, &format!("/api/v1/measures/{}/transitions", created["id"]), Some(token))
            .json(&json!({"to": "on_hold"}))
            .send()
    };
    assert_problem(step(&outsider_editor).await.unwrap(), 403, "/problems/forbidden").await;
    assert_eq!(step(&member_editor).await.unwrap().status(), 200);
    let history: Value = app
        .as_admin(Method::GET, &format!("/api/v1/measures/{}/history", created["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(history["items"][1]["by"].as_str().unwrap().contains("eddi"));
}

#[tokio::test]
async fn a_list_is_emptied_with_an_empty_list_not_with_null() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let m = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "X", "partner_ids": [s.member], "council_refs": ["https://ris.example.org/p/1"]})).await;
    let path = format!("/api/v1/measures/{}", m["id"]);
    let null = assert_problem(
        app.patch_json(&path, &json!({"council_refs": null, "partner_ids": null})).await,
        422,
        "/problems/validation",
    )
    .await;
    assert_eq!(error_fields(&null), ["council_refs", "partner_ids"]);
    let emptied: Value =
        app.patch_json(&path, &json!({"council_refs": [], "partner_ids": []})).await.json().await.unwrap();
    assert_eq!((emptied["council_refs"].clone(), emptied["partner_ids"].clone()), (json!([]), json!([])));
}

#[tokio::test]
async fn the_cooperation_scoped_list_checks_everything_before_answering() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz"})).await;
    let path = format!("/api/v1/cooperations/{}/measures", s.coop);
    let other: Value = app.get(&format!("{path}?cooperation_id=999")).await.json().await.unwrap();
    assert!(other["items"].as_array().unwrap().is_empty(), "filters combine with AND");
    let bad = app.get(&format!("{path}?cooperation_id=999&min_priority=-5")).await;
    assert_problem(bad, 400, "/problems/invalid-parameter").await;
    assert_problem(app.get("/api/v1/cooperations/999/measures?cooperation_id=1").await, 404, "/problems/not-found")
        .await;
}

#[tokio::test]
async fn reads_and_lists_give_the_participating_partners_ascending() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let (low, high) = (s.lead.min(s.member), s.lead.max(s.member));
    let both = measure(
        &app,
        json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Beide", "partner_ids": [high, low]}),
    )
    .await;
    let none = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Keiner"})).await;

    let read = |id: &Value| format!("/api/v1/measures/{id}");
    let got: Value = app.get(&read(&both["id"])).await.json().await.unwrap();
    assert_eq!(got["partner_ids"], json!([low, high]));
    let got: Value = app.get(&read(&none["id"])).await.json().await.unwrap();
    assert_eq!(got["partner_ids"], json!([]));

    let listed = app.collect_all("/api/v1/measures?sort=title").await;
    let partners: Vec<(Value, Value)> = listed.iter().map(|m| (m["title"].clone(), m["partner_ids"].clone())).collect();
    assert_eq!(partners, [(json!("Beide"), json!([low, high])), (json!("Keiner"), json!([]))]);

    let patched: Value = app.patch_json(&read(&both["id"]), &json!({"partner_ids": [low]})).await.json().await.unwrap();
    assert_eq!(patched["partner_ids"], json!([low]));
    let got: Value = app.get(&read(&both["id"])).await.json().await.unwrap();
    assert_eq!(got["partner_ids"], json!([low]), "a read after a change shows the new partners");
}

/// Reads take the partners from a copy in the measure's row; triggers keep it in step with
/// `measure_partners`, also when something other than the API writes there.
#[tokio::test]
async fn reads_follow_every_write_to_the_participating_partners() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    let s = setup(&app).await;
    let (low, high) = (s.lead.min(s.member), s.lead.max(s.member));
    let created = measure(
        &app,
        json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz", "partner_ids": [high]}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/measures/{id}");
    let partners = || async {
        let read: Value = app.get(&path).await.json().await.unwrap();
        let listed = app.collect_all("/api/v1/measures").await;
        let in_list = listed.iter().find(|m| m["id"] == id).expect("listed")["partner_ids"].clone();
        assert_eq!(in_list, read["partner_ids"], "the list and the single read agree");
        read["partner_ids"].clone()
    };

    let patched: Value = app.patch_json(&path, &json!({"progress": 30})).await.json().await.unwrap();
    assert_eq!(patched["partner_ids"], json!([high]));
    assert_eq!(partners().await, json!([high]), "a change of other fields keeps the partners");

    let mut conn = ikz_api::db::ConnectionManager::new(&app._db.url()).establish().expect("connect");
    let mut sql = |statement: String| diesel::sql_query(statement).execute(&mut conn).expect("direct write");
    sql(format!("INSERT INTO measure_partners (measure_id, partner_id) VALUES ({id}, {low})"));
    assert_eq!(partners().await, json!([low, high]), "an insert, in ascending order");
    sql(format!("DELETE FROM measure_partners WHERE measure_id = {id} AND partner_id = {high}"));
    assert_eq!(partners().await, json!([low]), "a delete");
    sql(format!("UPDATE measure_partners SET partner_id = {high} WHERE measure_id = {id}"));
    assert_eq!(partners().await, json!([high]), "an update");
    sql(format!("DELETE FROM measure_partners WHERE measure_id = {id}"));
    assert_eq!(partners().await, json!([]), "none left");

    let patched: Value = app.patch_json(&path, &json!({"partner_ids": [high, low]})).await.json().await.unwrap();
    assert_eq!(patched["partner_ids"], json!([low, high]));
    assert_eq!(partners().await, json!([low, high]), "the API's own change");
}

#[tokio::test]
async fn a_patch_stores_every_column_and_a_stale_one_changes_nothing() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let parent = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Winterdienst"})).await;
    let created = measure(&app, json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz"})).await;
    let path = format!("/api/v1/measures/{}", created["id"]);
    let etag = app.get(&path).await.headers()["etag"].to_str().unwrap().to_owned();

    let every_column = json!({
        "field_id": s.it, "title": "Gemeinsamer Streusalzeinkauf", "summary": "Ein Rahmenvertrag",
        "description": "# Ziel\nGünstiger einkaufen.", "horizon": "medium", "benefit": 5, "cost": 1, "effort": 1,
        "estimated_cost_eur": 125000, "lead_partner_id": s.lead, "partner_ids": [s.member, s.lead],
        "responsible_partner_id": s.outsider, "planned_start": "2027-01-01", "planned_end": "2027-06-30",
        "required_signatory_partner_ids": [s.lead], "progress": 40, "parent_id": parent["id"],
        "council_refs": ["https://ris.example.de/vorlage/17"]
    });
    let patched =
        app.as_admin(Method::PATCH, &path).header("If-Match", &etag).json(&every_column).send().await.unwrap();
    assert_eq!(patched.status(), 200);
    let stored: Value = app.get(&path).await.json().await.unwrap();
    for (key, value) in every_column.as_object().unwrap() {
        let expected = if key == "partner_ids" { json!([s.lead, s.member]) } else { value.clone() };
        assert_eq!(stored[key], expected, "{key} as stored");
    }
    assert_eq!(stored["priority_score"], 100, "the derived score follows, as on create");

    let stale =
        app.as_admin(Method::PATCH, &path).header("If-Match", &etag).json(&json!({"progress": 90})).send().await;
    assert_problem(stale.unwrap(), 412, "/problems/precondition-failed").await;
    let cleared: Value = app
        .patch_json(
            &path,
            &json!({"summary": null, "horizon": null, "benefit": null, "planned_start": null,
            "planned_end": null, "parent_id": null, "council_refs": []}),
        )
        .await
        .json()
        .await
        .unwrap();
    let reread: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(reread, cleared, "the answer is what was stored");
    for key in ["summary", "horizon", "benefit", "priority_score", "planned_start", "planned_end", "parent_id"] {
        assert_eq!(reread[key], Value::Null, "{key} cleared");
    }
    assert_eq!(reread["progress"], 40, "the stale PATCH changed nothing");
    assert_eq!(reread["title"], "Gemeinsamer Streusalzeinkauf");
}

#[tokio::test]
async fn a_patch_of_one_column_is_stored_and_the_lists_follow_it_whichever_column_it_is() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let created = measure(
        &app,
        json!({"cooperation_id": s.coop, "field_id": s.bauhof, "title": "Streusalz", "benefit": 2, "cost": 3,
               "effort": 3, "planned_end": "2027-06-30"}),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let neighbour = measure(
        &app,
        json!({"cooperation_id": s.coop, "field_id": s.it, "title": "Nachbar", "benefit": 4, "cost": 3,
               "effort": 3, "planned_end": "2027-03-01"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/measures/{id}");
    let listed = |query: &str| {
        let (app, query) = (&app, query.to_owned());
        async move {
            let items = app.collect_all(&format!("/api/v1/measures?{query}&limit=200")).await;
            items.iter().any(|m| m["id"] == id)
        }
    };
    // One column at a time: those no index holds (a title differing only in case folds alike),
    // then those that change an indexed column (field, derived priority, derived end rank).
    let changes = [
        json!({"progress": 35}),
        json!({"summary": "Gemeinsam einkaufen"}),
        json!({"description": "Lose für drei Bauhöfe"}),
        json!({"estimated_cost_eur": 9000}),
        json!({"planned_start": "2027-01-15"}),
        json!({"annual_cost_before_eur": 120000}),
        json!({"council_refs": ["https://ris.example.de/vorlage/3"]}),
        json!({"title": "STREUSALZ"}),
        json!({"field_id": s.it}),
        json!({"benefit": 5}),
        json!({"planned_end": "2027-02-28"}),
    ];
    for change in changes {
        let before: Value = app.get(&path).await.json().await.unwrap();
        let patched = app.patch_json(&path, &change).await;
        assert_eq!(patched.status(), 200, "{change}");
        let stored: Value = app.get(&path).await.json().await.unwrap();
        let (key, value) = change.as_object().unwrap().iter().next().unwrap();
        assert_eq!(&stored[key], value, "{key} as stored");
        assert_ne!(stored["updated_at"], before["updated_at"], "{key}: a new version");
        let since = before["updated_at"].as_str().unwrap().replace('+', "%2B");
        assert!(listed(&format!("updated_since={since}")).await, "{key}: found as changed since");
        let field = if stored["field_id"] == s.it { "it-egovernment" } else { "bauhof" };
        assert!(listed(&format!("field={field}&status=idea&sort=-priority_score")).await, "{key}: in its field");
    }
    // The derived columns moved the measure past a neighbour in the orders built on them.
    let order = |sort: &'static str| {
        let app = &app;
        async move {
            let items = app.collect_all(&format!("/api/v1/measures?field=it-egovernment&sort={sort}&limit=200")).await;
            items.iter().map(|m| m["id"].as_i64().unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(order("-priority_score").await, vec![id, neighbour], "benefit 5 ranks above 4");
    assert_eq!(order("planned_end").await, vec![id, neighbour], "2027-02-28 ends before 2027-03-01");
}
