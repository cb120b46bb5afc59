//! Council decisions per measure and partner: derived by the OParl sync from past, deciding
//! consultations (never over a hand entry), entered by hand, and required before approval
//! where a cooperation says so.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app};
use crate::oparl_server::{OparlServer, Size, World};
use crate::sync::{create_source, run_sync, spawn_sync_app};

/// A cooperation with these partners as members, and the id of the field `bauhof`.
async fn cooperation(app: &TestApp, partners: &[&Value], extra: Value) -> (Value, Value) {
    let mut body = json!({"name": "IKZ Westlausitz"});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let coop: Value = app.post_json("/api/v1/cooperations", &body).await.json().await.unwrap();
    for (i, partner) in partners.iter().enumerate() {
        let member = json!({"partner_id": partner["id"], "role": if i == 0 { "lead" } else { "member" }});
        assert_eq!(app.post_json(&format!("/api/v1/cooperations/{}/members", coop["id"]), &member).await.status(), 201);
    }
    let fields = app.collect_all("/api/v1/fields?limit=200").await;
    let bauhof = fields.iter().find(|f| f["key"] == "bauhof").unwrap()["id"].clone();
    (coop, bauhof)
}

async fn create_measure(app: &TestApp, body: Value) -> Value {
    let response = app.post_json("/api/v1/measures", &body).await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn measure(app: &TestApp, id: &Value) -> Value {
    app.get(&format!("/api/v1/measures/{id}")).await.json().await.unwrap()
}

/// The decision of `partner` in a measure's answer.
fn decision_of<'a>(measure: &'a Value, partner: &Value) -> Option<&'a Value> {
    measure["council_decisions"].as_array().unwrap().iter().find(|d| d["partner_id"] == partner["id"])
}

/// Two towns' council systems, each with a council (Gemeinderat) meeting in the past and one in
/// the future; the deciding consultation of paper `p` is in meeting `p % 2` of its town.
fn two_towns() -> World {
    let sizes = Size { bodies: 2, papers_per_body: 3, meetings_per_body: 2, organizations_per_body: 1 };
    let mut world = World::generate(11, sizes);
    world.page_size = 2;
    let future = chrono::Utc::now() + chrono::Duration::days(30);
    for meeting in world.meetings.iter_mut().filter(|m| m.n % 2 == 1) {
        meeting.start = future;
    }
    let results =
        ["einstimmig beschlossen", "beschlossen", "abgelehnt", "nicht beschlossen", "vertagt", "zur Kenntnis genommen"];
    for (paper, result) in results.into_iter().enumerate() {
        let deciding = world.papers[paper].consultations.iter().find(|c| c.authoritative).unwrap().clone();
        assert_eq!(deciding.meeting % 2, paper % 3 % 2, "paper {paper} is decided in the meeting the test expects");
        world.meetings[deciding.meeting].items[deciding.agenda_item].result = result.to_owned();
    }
    world
}

#[tokio::test]
async fn the_sync_derives_each_partners_decision_from_its_councils_past_deciding_consultation() {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(two_towns());
    let town0 =
        app.create_partner(json!({"name": "Gemeinde Testdorf 0", "kind": "municipality", "ags": "05958000"})).await;
    let town1 =
        app.create_partner(json!({"name": "Gemeinde Testdorf 1", "kind": "municipality", "ags": "05958001"})).await;
    let source = create_source(&app, &server.system_url()).await;
    assert_eq!(run_sync(&app, source, "").await["state"], "succeeded");
    let (coop, bauhof) = cooperation(&app, &[&town0, &town1], json!({})).await;
    let paper = |n: usize| format!("{}/oparl/paper/{n}", server.base);
    // Papers 0 (town 0, held: "einstimmig beschlossen") and 3 (town 1, held: "nicht beschlossen").
    let both = create_measure(
        &app,
        json!({"cooperation_id": coop["id"], "field_id": bauhof, "title": "Gemeinsamer Bauhof",
               "lead_partner_id": town0["id"], "partner_ids": [town1["id"]], "council_refs": [paper(0), paper(3)]}),
    )
    .await;
    // Linking a paper already copied shows its decisions at once, without another run.
    let approved = decision_of(&both, &town0).expect("town 0's council decided");
    assert_eq!(approved["decision"], "approved");
    assert_eq!(approved["source"], "oparl");
    assert_eq!(approved["derived"]["result"], "einstimmig beschlossen");
    assert_eq!(approved["decided_on"], "2026-01-15");
    let papers = app.collect_all("/api/v1/council-papers?limit=200").await;
    let paper0 = papers.iter().find(|p| p["oparl_id"] == paper(0)).unwrap();
    assert_eq!(approved["paper_id"], paper0["id"]);
    let deciding = paper0["consultations"].as_array().unwrap().iter().find(|c| c["authoritative"] == true).unwrap();
    assert_eq!(approved["derived"]["consultation_id"], deciding["oparl_id"]);
    assert_eq!(approved["derived"]["meeting_id"], deciding["meeting"]["id"]);
    let negated = decision_of(&both, &town1).expect("town 1's council decided");
    assert_eq!(
        (negated["decision"].clone(), negated["derived"]["result"].clone()),
        (json!("rejected"), json!("nicht beschlossen"))
    );
    assert_eq!(both["councils_agreed"], false);

    // Paper 1 is decided in a meeting still to come; paper 5 "zur Kenntnis genommen".
    let future = create_measure(
        &app,
        json!({"cooperation_id": coop["id"], "field_id": bauhof, "title": "Streusalz", "lead_partner_id": town0["id"],
               "council_refs": [paper(1)]}),
    )
    .await;
    assert_eq!(future["council_decisions"], json!([]), "a meeting still to come decides nothing yet");
    let unknown = create_measure(
        &app,
        json!({"cooperation_id": coop["id"], "field_id": bauhof, "title": "Fahrzeuge", "lead_partner_id": town1["id"],
               "council_refs": [paper(5)]}),
    )
    .await;
    let pending = decision_of(&unknown, &town1).unwrap();
    assert_eq!(
        (pending["decision"].clone(), pending["derived"]["result"].clone()),
        (json!("pending"), json!("zur Kenntnis genommen"))
    );

    // Town 1's editor enters what the council really decided; it disagrees with the system.
    let editor = app.token_for("kaemmerer1", "editor", &[town1["id"].as_i64().unwrap()]).await;
    let entry = json!({"partner_id": town1["id"], "decision": "approved", "decided_on": "2026-02-03",
                       "paper_url": "https://www.testdorf1.example/rat/2026-02-03.pdf", "note": "im zweiten Anlauf"});
    let url = format!("/api/v1/measures/{}/council-decisions", both["id"]);
    let entered = app.request(Method::POST, &url, Some(&editor)).json(&entry).send().await.unwrap();
    assert_eq!(entered.status(), 201);
    let entered: Value = entered.json().await.unwrap();
    assert_eq!(entered["id"], negated["id"], "one decision per measure and partner");
    assert_eq!((entered["decision"].clone(), entered["source"].clone()), (json!("approved"), json!("manual")));
    assert_eq!(entered["derived"]["decision"], "rejected", "what the council system says stays visible");
    assert_eq!(entered["disagrees"], true);
    let flagged = app.collect_all("/api/v1/council-decisions?disagrees=true").await;
    assert_eq!(flagged.iter().map(|d| d["id"].clone()).collect::<Vec<_>>(), vec![entered["id"].clone()]);
    assert_eq!(measure(&app, &both["id"]).await["councils_agreed"], true);

    // A full run derives the same again and leaves the hand entry alone.
    let run = run_sync(&app, source, "?full=true").await;
    assert_eq!(run["state"], "succeeded");
    assert_eq!(run["counts"]["objects"]["council_decision"]["updated"].as_u64().unwrap_or(0), 0);
    let kept: Value = app.get(&format!("{url}/{}", entered["id"])).await.json().await.unwrap();
    assert_eq!(kept, entered);

    // Once the meeting has taken place, the next run derives its decision.
    server.with(|w| {
        w.clock += chrono::Duration::minutes(5);
        let meeting = w.meetings.iter_mut().find(|m| m.body == 0 && m.n % 2 == 1).unwrap();
        meeting.start = chrono::Utc::now() - chrono::Duration::days(1);
        meeting.modified = w.clock;
    });
    let run = run_sync(&app, source, "").await;
    assert_eq!(run["counts"]["objects"]["council_decision"]["created"], 1);
    let held = measure(&app, &future["id"]).await;
    assert_eq!(decision_of(&held, &town0).unwrap()["decision"], "approved");
    assert_eq!(held["councils_agreed"], true);
    assert_ne!(held["updated_at"], future["updated_at"], "the measure's version moved with its decisions");

    // Unlinking the paper takes the derived decision away; the hand entry stays where there is one.
    let patch = app.patch_json(&format!("/api/v1/measures/{}", both["id"]), &json!({"council_refs": []})).await;
    assert_eq!(patch.status(), 200);
    let unlinked: Value = patch.json().await.unwrap();
    let decisions = unlinked["council_decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 1, "town 0's derived decision went with the link: {decisions:?}");
    assert_eq!((decisions[0]["source"].clone(), decisions[0]["derived"].clone()), (json!("manual"), Value::Null));
    assert_eq!(unlinked["councils_agreed"], false);
}

/// Partners Königsbrück (lead) and Ottendorf, a cooperation requiring council approval, and a
/// planned measure of both.
async fn planned_measure(app: &TestApp) -> (Value, Value, Value, Value) {
    let lead = app.create_partner(json!({"name": "Stadt Königsbrück", "kind": "municipality"})).await;
    let other = app.create_partner(json!({"name": "Gemeinde Ottendorf", "kind": "municipality"})).await;
    let (coop, bauhof) = cooperation(app, &[&lead, &other], json!({"requires_council_approval": true})).await;
    assert_eq!(coop["requires_council_approval"], true);
    let measure = create_measure(
        app,
        json!({"cooperation_id": coop["id"], "field_id": bauhof, "title": "Gemeinsamer Bauhof", "benefit": 4,
               "cost": 2, "effort": 2, "lead_partner_id": lead["id"], "partner_ids": [other["id"]]}),
    )
    .await;
    for to in ["assessed", "planned"] {
        let moved = app.post_json(&format!("/api/v1/measures/{}/transitions", measure["id"]), &json!({"to": to})).await;
        assert_eq!(moved.status(), 200);
    }
    (lead, other, coop, measure)
}

#[tokio::test]
async fn a_cooperation_requiring_council_approval_approves_a_measure_only_when_every_council_agreed() {
    let app = spawn_app().await;
    let (lead, other, coop, measure) = planned_measure(&app).await;
    let approve = || async {
        let url = format!("/api/v1/measures/{}/transitions", measure["id"]);
        app.post_json(&url, &json!({"to": "approved"})).await
    };
    let refused = assert_problem(approve().await, 409, "/problems/conflict").await;
    assert!(refused["detail"].as_str().unwrap().contains("Stadt Königsbrück (no decision recorded)"), "{refused}");
    assert_eq!(refused["errors"].as_array().unwrap().len(), 2);
    let summary: Value = app.get(&format!("/api/v1/cooperations/{}/summary", coop["id"])).await.json().await.unwrap();
    let waiting = json!([{"partner_id": lead["id"], "measures_waiting": 1, "measures_rejected": 0},
                         {"partner_id": other["id"], "measures_waiting": 1, "measures_rejected": 0}]);
    assert_eq!(summary["waiting_for_councils"], waiting);

    let url = format!("/api/v1/measures/{}/council-decisions", measure["id"]);
    let enter = |partner: &Value, decision: &str| {
        let body = json!({"partner_id": partner["id"], "decision": decision, "decided_on": "2026-11-19"});
        let (app, url) = (&app, url.clone());
        async move { app.post_json(&url, &body).await }
    };
    assert_eq!(enter(&lead, "approved").await.status(), 201);
    let deferred: Value = enter(&other, "deferred").await.json().await.unwrap();
    let refused = assert_problem(approve().await, 409, "/problems/conflict").await;
    assert_eq!(error_fields(&refused), vec![format!("council_decisions[partner_id={}]", other["id"])]);
    assert!(refused["detail"].as_str().unwrap().contains("Gemeinde Ottendorf (deferred)"));
    let summary: Value = app.get(&format!("/api/v1/cooperations/{}/summary", coop["id"])).await.json().await.unwrap();
    assert_eq!(
        summary["waiting_for_councils"],
        json!([{"partner_id": other["id"], "measures_waiting": 1, "measures_rejected": 0}])
    );

    let patched = app.patch_json(&format!("{url}/{}", deferred["id"]), &json!({"decision": "rejected"})).await;
    assert_eq!(patched.status(), 200);
    let summary: Value = app.get(&format!("/api/v1/cooperations/{}/summary", coop["id"])).await.json().await.unwrap();
    assert_eq!(
        summary["waiting_for_councils"],
        json!([{"partner_id": other["id"], "measures_waiting": 0, "measures_rejected": 1}])
    );
    let patched = app.patch_json(&format!("{url}/{}", deferred["id"]), &json!({"decision": "approved"})).await;
    assert_eq!(patched.status(), 200);
    assert_eq!(measure_of(&app, &measure).await["councils_agreed"], true);
    let approved = approve().await;
    assert_eq!(approved.status(), 200);
    assert_eq!(approved.json::<Value>().await.unwrap()["status"], "approved");

    // A new partner of the measure has not agreed: the stored flag follows the partners.
    let third = app.create_partner(json!({"name": "Gemeinde Laußnitz", "kind": "municipality"})).await;
    let member = json!({"partner_id": third["id"], "role": "member"});
    assert_eq!(app.post_json(&format!("/api/v1/cooperations/{}/members", coop["id"]), &member).await.status(), 201);
    let widened = app
        .patch_json(&format!("/api/v1/measures/{}", measure["id"]), &json!({"partner_ids": [other["id"], third["id"]]}))
        .await;
    assert_eq!(widened.json::<Value>().await.unwrap()["councils_agreed"], false);
}

async fn measure_of(app: &TestApp, measure: &Value) -> Value {
    self::measure(app, &measure["id"]).await
}

#[tokio::test]
async fn without_the_requirement_a_measure_is_approved_as_before() {
    let app = spawn_app().await;
    let (_, _, coop, measure) = planned_measure(&app).await;
    let off = app
        .patch_json(&format!("/api/v1/cooperations/{}", coop["id"]), &json!({"requires_council_approval": false}))
        .await;
    assert_eq!(off.status(), 200);
    let moved =
        app.post_json(&format!("/api/v1/measures/{}/transitions", measure["id"]), &json!({"to": "approved"})).await;
    assert_eq!(moved.status(), 200);
}

#[tokio::test]
async fn hand_entries_follow_the_rules_of_every_other_record() {
    let app = spawn_app().await;
    let (lead, other, _, measure) = planned_measure(&app).await;
    let url = format!("/api/v1/measures/{}/council-decisions", measure["id"]);
    let entry = json!({"partner_id": lead["id"], "decision": "approved", "decided_on": "2026-11-19"});
    assert_problem(
        app.request(Method::POST, &url, None).json(&entry).send().await.unwrap(),
        401,
        "/problems/unauthorized",
    )
    .await;
    let editor = app.token_for("ottendorf", "editor", &[other["id"].as_i64().unwrap()]).await;
    let foreign = app.request(Method::POST, &url, Some(&editor)).json(&entry).send().await.unwrap();
    assert_problem(foreign, 403, "/problems/forbidden").await;
    let outsider = app.create_partner(json!({"name": "Landkreis Bautzen", "kind": "district"})).await;
    let bad =
        json!({"partner_id": outsider["id"], "decision": "maybe", "paper_id": 1, "paper_url": "https://x.example/p"});
    let problem = assert_problem(app.post_json(&url, &bad).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), vec!["decision", "paper_url"], "{problem}");
    let outside = json!({"partner_id": outsider["id"], "decision": "approved", "paper_id": 999999});
    let problem = assert_problem(app.post_json(&url, &outside).await, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), vec!["paper_id", "partner_id"]);
    assert_problem(
        app.post_json("/api/v1/measures/999999/council-decisions", &entry).await,
        404,
        "/problems/not-found",
    )
    .await;

    let before = measure_of(&app, &measure).await;
    let created = app.post_json(&url, &entry).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let created: Value = created.json().await.unwrap();
    assert_eq!(location, format!("{url}/{}", created["id"]));
    assert_eq!(created["source"], "manual");
    assert_problem(app.post_json(&url, &entry).await, 409, "/problems/conflict").await;
    let after = measure_of(&app, &measure).await;
    assert_ne!(after["updated_at"], before["updated_at"], "the measure's ETag moves with its decisions");
    assert_eq!(after["council_decisions"], json!([created]));

    let stale = app
        .request(Method::PATCH, &location, Some(&app.admin_token))
        .header("If-Match", "\"stale\"")
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"note": "x"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412, "/problems/precondition-failed").await;
    let moved = app.patch_json(&location, &json!({"partner_id": other["id"]})).await;
    assert_eq!(error_fields(&assert_problem(moved, 422, "/problems/validation").await), vec!["partner_id"]);
    let noted = app
        .request(Method::PATCH, &location, Some(&app.admin_token))
        .header("If-Match", &etag)
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"note": "Beschluss 2026/117", "decided_on": null}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(noted.status(), 200);
    let noted: Value = noted.json().await.unwrap();
    assert_eq!((noted["note"].clone(), noted["decided_on"].clone()), (json!("Beschluss 2026/117"), Value::Null));

    // The feed, the lists and the export carry decisions like any other record.
    let feed: Value = app
        .as_admin(Method::GET, "/api/v1/changes?resource=council_decisions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ops: Vec<(Value, Value)> =
        feed["items"].as_array().unwrap().iter().map(|c| (c["id"].clone(), c["op"].clone())).collect();
    assert_eq!(ops, vec![(created["id"].clone(), json!("created")), (created["id"].clone(), json!("updated"))]);
    let listed =
        app.collect_all(&format!("/api/v1/council-decisions?partner_id={}&decision=approved", lead["id"])).await;
    assert_eq!(listed, vec![noted.clone()]);
    assert_eq!(app.collect_all(&format!("{url}?limit=1")).await, vec![noted.clone()]);
    let csv = app.get("/api/v1/council-decisions?format=csv").await.text().await.unwrap();
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(header.contains(&"decision") && header.contains(&"disagrees"), "{header:?}");
    let row = lines.next().unwrap();
    assert!(row.contains("Beschluss 2026/117") && row.contains("approved") && row.contains("manual"), "{row}");
    assert!(lines.next().is_none());

    let gone = app.delete(&location).await;
    assert_eq!(gone.status(), 204);
    assert_problem(app.get(&location).await, 404, "/problems/not-found").await;
    assert_eq!(measure_of(&app, &measure).await["council_decisions"], json!([]));
    let feed: Value = app
        .as_admin(Method::GET, "/api/v1/changes?resource=council_decisions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(feed["items"].as_array().unwrap().last().unwrap()["op"], "deleted");
}
