use serde_json::Value;

use crate::helpers::spawn_app;

const COMMITTED: &str = "openapi/openapi.json";

#[tokio::test]
async fn served_document_is_byte_identical_to_the_committed_one() {
    let app = spawn_app().await;
    let response = app.get("/api-docs/openapi.json").await;
    assert_eq!(response.status(), 200);
    let served = response.text().await.unwrap();
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(COMMITTED, &served).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        served == committed,
        "openapi/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test` (or `cargo run -- openapi --output openapi/openapi.json`) and commit it"
    );
}

#[tokio::test]
async fn every_operation_is_documented_for_integrators() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api-docs/openapi.json").await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for expected in ["/api/v1/partners", "/api/v1/partners/{id}", "/api/v1/fields", "/health/live", "/health/ready"] {
        assert!(paths.contains_key(expected), "{expected} missing");
    }
    let mut operation_ids = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{at}: no summary");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{at}: no tag");
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{at}: no operationId"));
            operation_ids.push(id.to_owned());
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{at}: no success response");
            assert!(responses.contains_key("500"), "{at}: no 500 response");
            if path.starts_with("/api/") {
                assert!(responses.keys().any(|s| s.starts_with('4')), "{at}: no 4xx response");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(status), "{at}: no {status} response");
                }
            }
        }
    }
    let count = operation_ids.len();
    operation_ids.sort();
    operation_ids.dedup();
    assert_eq!(operation_ids.len(), count, "operationIds must be unique");
}

#[tokio::test]
async fn swagger_ui_is_served_and_points_at_the_document() {
    let app = spawn_app().await;
    let page = app.get("/swagger-ui/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let init = app.get("/swagger-ui/swagger-initializer.js").await.text().await.unwrap();
    assert!(init.contains("/api-docs/openapi.json"));

    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = no_redirect.get(app.url("/swagger-ui")).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/swagger-ui/");
}

/// Checks `value` against the document's schema `reference` (a `$ref`): every required property
/// present, no property the schema does not name, enum values in their set; objects and lists
/// inside are checked the same way. Returns every mismatch as `path: what`.
fn mismatches(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return mismatches(doc, &doc["components"]["schemas"][name], value, at, out);
    }
    for alternative in ["oneOf", "anyOf"] {
        if let Some(options) = schema[alternative].as_array() {
            let fits = |option: &Value| {
                let mut inner = Vec::new();
                let null_fits = value.is_null() && option["type"] == "null";
                if !null_fits && option["type"] != "null" {
                    mismatches(doc, option, value, at, &mut inner);
                }
                (null_fits || option["type"] != "null") && inner.is_empty()
            };
            if !options.iter().any(fits) {
                out.push(format!("{at}: fits none of the {alternative} alternatives"));
            }
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !value.is_null()
        && !allowed.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    match value {
        Value::Object(members) => {
            let properties = schema["properties"].as_object().cloned().unwrap_or_default();
            for required in schema["required"].as_array().into_iter().flatten() {
                if !members.contains_key(required.as_str().unwrap()) {
                    out.push(format!("{at}: required `{required}` is missing"));
                }
            }
            for (name, member) in members {
                match (properties.get(name), schema.get("additionalProperties")) {
                    (Some(property), _) | (None, Some(property @ Value::Object(_))) => {
                        mismatches(doc, property, member, &format!("{at}.{name}"), out)
                    }
                    _ => out.push(format!("{at}: `{name}` is not in the schema")),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                mismatches(doc, &schema["items"], item, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn real_answers_of_every_resource_carry_exactly_what_the_document_promises() {
    use reqwest::Method;
    use serde_json::json;
    let app = spawn_app().await;
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(COMMITTED).unwrap()).unwrap();
    // Port 9 (discard) has no listener here: its deliveries fail and wait for a retry.
    let hook = json!({"url": "http://127.0.0.1:9/hooks", "resources": ["partners"]});
    let webhook: Value = app.post_json("/api/v1/webhooks", &hook).await.json().await.unwrap();
    let wid = webhook["id"].clone();
    let partner = app.create_partner(json!({"name": "Königsbrück", "kind": "municipality"})).await["id"].clone();
    let bare = app.create_partner(json!({"name": "Laußnitz", "kind": "municipality"})).await["id"].clone();
    let cooperation: Value =
        app.post_json("/api/v1/cooperations", &json!({"name": "IKZ West"})).await.json().await.unwrap();
    let cid = cooperation["id"].clone();
    let member = json!({"partner_id": partner, "role": "member"});
    assert_eq!(app.post_json(&format!("/api/v1/cooperations/{cid}/members"), &member).await.status(), 201);
    let contact: Value = app
        .post_json("/api/v1/contacts", &json!({"partner_id": partner, "name": "Erika Muster"}))
        .await
        .json()
        .await
        .unwrap();
    let fields: Value = app.get("/api/v1/fields").await.json().await.unwrap();
    let field = fields["items"][0]["id"].clone();
    let full = json!({"cooperation_id": cid, "field_id": field, "title": "Streusalz", "benefit": 4, "cost": 2,
        "effort": 3, "lead_partner_id": partner, "partner_ids": [partner], "responsible_contact_id": contact["id"]});
    let measure: Value = app.post_json("/api/v1/measures", &full).await.json().await.unwrap();
    let mid = measure["id"].clone();
    let sparse = json!({"cooperation_id": cid, "field_id": field, "title": "Nur ein Titel"});
    assert_eq!(app.post_json("/api/v1/measures", &sparse).await.status(), 201);
    let token_body = json!({"name": "sync", "role": "viewer"});
    let token: Value = app.post_json("/api/v1/service-tokens", &token_body).await.json().await.unwrap();
    app.token_for("vera", "viewer", &[]).await;
    for _ in 0..200 {
        let page: Value = app
            .as_admin(Method::GET, &format!("/api/v1/webhooks/{wid}/deliveries?status=pending"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["items"].as_array().unwrap().iter().any(|d| d["attempts"] == 1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // A council system copied once, so that papers, meetings and runs have something to show.
    let council = crate::oparl_server::OparlServer::start(crate::oparl_server::World::generate(
        3,
        crate::oparl_server::Size::small(),
    ));
    let source = json!({"system_url": council.system_url(), "active": false});
    let source: Value = app.post_json("/api/v1/sync-sources", &source).await.json().await.unwrap();
    let sid = source["id"].clone();
    let started = app.as_admin(Method::POST, &format!("/api/v1/sync-sources/{sid}/runs")).send().await.unwrap();
    let run: Value = started.json().await.unwrap();
    let rid = run["id"].clone();
    for _ in 0..200 {
        let now: Value = app
            .as_admin(Method::GET, &format!("/api/v1/sync-sources/{sid}/runs/{rid}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if now["state"] != "running" {
            assert_eq!(now["state"], "succeeded", "{now}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let papers: Value = app.get("/api/v1/council-papers").await.json().await.unwrap();
    let meetings: Value = app.get("/api/v1/council-meetings").await.json().await.unwrap();
    // Decisions: one derived from the linked paper's council, one entered by hand.
    let linked = json!({"council_refs": [papers["items"][0]["oparl_id"]]});
    assert_eq!(app.patch_json(&format!("/api/v1/measures/{mid}"), &linked).await.status(), 200);
    let entry =
        json!({"partner_id": partner, "decision": "approved", "decided_on": "2026-11-19", "note": "einstimmig"});
    let decision: Value =
        app.post_json(&format!("/api/v1/measures/{mid}/council-decisions"), &entry).await.json().await.unwrap();
    let did = decision["id"].clone();
    let group = json!({"name": "Bauhof", "field_ids": [field], "moderator_partner_id": partner});
    let group: Value =
        app.post_json(&format!("/api/v1/cooperations/{cid}/working-groups"), &group).await.json().await.unwrap();
    let gid = group["id"].clone();
    let event = json!({"kind": "workshop", "title": "Auftakt", "starts_on": "2026-03-01", "organiser_partner_ids": [partner],
        "theme_groups": [{"name": "Bauhof", "field_id": field}], "measure_ids": [mid]});
    let event: Value = app.post_json(&format!("/api/v1/cooperations/{cid}/events"), &event).await.json().await.unwrap();
    let eid = event["id"].clone();
    let chair = json!({"contact_id": contact["id"], "role": "chair"});
    assert_eq!(
        app.post_json(&format!("/api/v1/cooperations/{cid}/working-groups/{gid}/members"), &chair).await.status(),
        201
    );

    // (path, operation method, answer status) for every kind of answer.
    let reads = [
        "/api/v1/sync-sources".into(),
        format!("/api/v1/sync-sources/{sid}"),
        format!("/api/v1/sync-sources/{sid}/runs"),
        format!("/api/v1/sync-sources/{sid}/runs/{rid}"),
        "/api/v1/council-papers".into(),
        format!("/api/v1/council-papers/{}", papers["items"][0]["id"]),
        "/api/v1/council-meetings".into(),
        format!("/api/v1/council-meetings/{}", meetings["items"][0]["id"]),
        format!("/api/v1/measures/{mid}/council-papers"),
        "/api/v1/council-decisions".into(),
        format!("/api/v1/council-decisions/{did}"),
        format!("/api/v1/measures/{mid}/council-decisions"),
        format!("/api/v1/measures/{mid}/council-decisions/{did}"),
        format!("/api/v1/partners/{partner}?include=contacts"),
        format!("/api/v1/partners/{bare}"),
        "/api/v1/partners".into(),
        "/api/v1/fields".into(),
        format!("/api/v1/fields/{field}"),
        "/api/v1/cooperations".into(),
        format!("/api/v1/cooperations/{cid}"),
        format!("/api/v1/cooperations/{cid}/members"),
        format!("/api/v1/cooperations/{cid}/measures"),
        format!("/api/v1/cooperations/{cid}/summary"),
        format!("/api/v1/cooperations/{cid}/working-groups"),
        format!("/api/v1/cooperations/{cid}/events"),
        format!("/api/v1/cooperations/{cid}/events/{eid}"),
        format!("/api/v1/cooperations/{cid}/working-groups/{gid}"),
        format!("/api/v1/cooperations/{cid}/working-groups/{gid}/members"),
        format!("/api/v1/measures/{mid}/sign-offs"),
        "/api/v1/vocabularies".into(),
        "/api/v1/measures?include=contacts".into(),
        format!("/api/v1/measures/{mid}"),
        format!("/api/v1/measures/{mid}/history"),
        "/api/v1/contacts".into(),
        format!("/api/v1/contacts/{}", contact["id"]),
        "/api/v1/users".into(),
        "/api/v1/service-tokens".into(),
        format!("/api/v1/service-tokens/{}", token["id"]),
        "/api/v1/auth/me".into(),
        "/api/v1/changes?limit=1000".into(),
        "/api/v1/changes/cursor".into(),
        "/api/v1/webhooks".into(),
        format!("/api/v1/webhooks/{wid}"),
        format!("/api/v1/webhooks/{wid}/deliveries"),
        "/health/live".into(),
        "/health/ready".into(),
        "/api/v1/measures/999999".into(),
        // A 400 whose `errors` name a query parameter (and no import row).
        "/api/v1/fields?ref_id=0".into(),
    ];
    let mut checked = 0;
    let mut problems = Vec::new();
    for path in reads {
        let response = app.as_admin(Method::GET, &path).send().await.unwrap();
        let status = response.status().as_u16().to_string();
        let body: Value = response.json().await.unwrap();
        let bare_path = path.split('?').next().unwrap();
        let (template, item) = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(template, _)| {
                let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), bare_path.split('/').collect());
                t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
            })
            .unwrap_or_else(|| panic!("{path} is not in the document"));
        let mut answer = &item["get"]["responses"][&status];
        if let Some(reference) = answer["$ref"].as_str() {
            answer = &doc["components"]["responses"][reference.rsplit('/').next().unwrap()];
        }
        let content = answer["content"].as_object().unwrap_or_else(|| panic!("{path}: {status} is undocumented"));
        let schema = &content.values().next().unwrap()["schema"];
        mismatches(&doc, schema, &body, &format!("GET {template} {status}"), &mut problems);
        checked += 1;
    }
    assert_eq!(checked, 48);
    assert!(problems.is_empty(), "answers and document disagree:\n{}", problems.join("\n"));
}

#[tokio::test]
async fn the_document_gives_clients_no_defaults_to_resend_and_swagger_ui_nothing_to_prefill() {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(COMMITTED).unwrap()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (name, schema) in schemas.iter().filter(|(n, _)| n.ends_with("Patch") || *n == "UpdatePartner") {
        for (property, definition) in schema["properties"].as_object().unwrap() {
            assert!(definition.get("default").is_none(), "{name}.{property} has a default");
        }
        let example = schema["example"].as_object().unwrap_or_else(|| panic!("{name} has no example"));
        assert_eq!(example.len(), 1, "{name}: a PATCH example changes one field");
    }
    assert!(schemas["CreateUser"]["properties"]["password"]["writeOnly"] == true);
    let mut problem_examples = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                assert!(
                    parameter.get("example").is_none() && parameter["schema"].get("example").is_none(),
                    "{at}: {parameter}"
                );
            }
            assert_ne!(operation.get("security"), Some(&serde_json::json!([{}])), "{at}: open, so no security entry");
            for (status, response) in operation["responses"].as_object().unwrap() {
                if let Some(example) = response.pointer("/content/application~1problem+json/example") {
                    assert_eq!(example["status"].to_string(), *status, "{at}");
                    problem_examples.insert(status.clone());
                }
            }
            let versioned = ["partners", "fields", "cooperations", "measures", "contacts", "users"]
                .iter()
                .any(|r| *path == format!("/api/v1/{r}/{{id}}"));
            if versioned {
                let responses = &operation["responses"];
                match method.as_str() {
                    "get" => {
                        assert!(responses.get("304").is_some(), "{at}: 304");
                        assert!(responses["200"]["headers"].get("ETag").is_some(), "{at}: ETag");
                    }
                    _ => {
                        assert!(responses.get("412").is_some(), "{at}: 412");
                        let names: Vec<&str> = operation["parameters"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter_map(|p| p["name"].as_str())
                            .collect();
                        assert!(names.contains(&"If-Match"), "{at}: If-Match");
                    }
                }
            }
            let lists_a_page = operation
                .pointer("/responses/200/content/application~1json/schema/$ref")
                .and_then(Value::as_str)
                .is_some_and(|r| r.ends_with("Page"));
            if lists_a_page {
                assert!(operation["responses"]["200"]["headers"].get("Link").is_some(), "{at}: Link");
            }
        }
    }
    assert!(problem_examples.len() >= 5, "problem examples for {problem_examples:?}");
    for (name, response) in doc["components"]["responses"].as_object().unwrap() {
        let example = &response["content"]["application/problem+json"]["example"];
        assert!(example["status"].is_u64(), "{name} has no example of its own");
    }
}
