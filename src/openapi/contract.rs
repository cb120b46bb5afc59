//! The last pass over the document: what generated clients and Swagger UI read beyond the
//! schemas the derive macros produce.
//!
//! - every property an answer always carries is `required` (nullable where it can be `null`);
//!   only the properties named in [`OMITTED`] may be absent;
//! - closed sets of values that are plain strings in Rust are published as enums ([`ENUMS`]);
//! - record versions are documented where they occur: `ETag` on every answer with a record,
//!   `If-None-Match` → 304 on reads, `If-Match` → 412 on PATCH and DELETE, `Link` on lists;
//! - every problem response has an example of its own status;
//! - parameters pre-fill nothing in Swagger UI, and a PATCH example changes one field;
//! - open operations carry no `security` (generated clients would demand a token there).
//!
//! A test (`tests/api/openapi.rs`) holds real answers of every resource against the document.

use serde_json::{Map, Value, json};

use crate::error::AppError;

/// The records that carry a version (`ETag`), by their item path.
const VERSIONED: [&str; 11] = [
    "/api/v1/partners/{id}",
    "/api/v1/fields/{id}",
    "/api/v1/cooperations/{id}",
    "/api/v1/measures/{id}",
    "/api/v1/contacts/{id}",
    "/api/v1/users/{id}",
    "/api/v1/webhooks/{id}",
    "/api/v1/council-decisions/{id}",
    "/api/v1/measures/{id}/council-decisions/{decision_id}",
    "/api/v1/cooperations/{id}/working-groups/{working_group_id}",
    "/api/v1/cooperations/{id}/events/{event_id}",
];

/// Other operations whose answer is one versioned record (with its `ETag`).
const ANSWERS_A_RECORD: [(&str, &str); 2] =
    [("/api/v1/measures/{id}/transitions", "post"), ("/api/v1/webhooks/{id}/secret", "post")];

/// The operations that take an `Idempotency-Key` (those that create or move something; not
/// login, service tokens or webhooks, whose answers carry secrets).
const IDEMPOTENT: [(&str, &str); 11] = [
    ("/api/v1/partners", "post"),
    ("/api/v1/fields", "post"),
    ("/api/v1/cooperations", "post"),
    ("/api/v1/measures", "post"),
    ("/api/v1/contacts", "post"),
    ("/api/v1/cooperations/{id}/members", "post"),
    ("/api/v1/measures/{id}/transitions", "post"),
    ("/api/v1/import", "post"),
    ("/api/v1/measures/{id}/council-decisions", "post"),
    ("/api/v1/cooperations/{id}/working-groups", "post"),
    ("/api/v1/cooperations/{id}/events", "post"),
];

/// Properties an answer may leave out, each only in the situation its description names.
const OMITTED: [(&str, &str); 11] = [
    ("PartnerResponse", "contacts"),
    ("MeasureResponse", "responsible_contact"),
    ("UserResponse", "access_token"),
    ("ServiceTokenResponse", "token"),
    ("WebhookResponse", "secret"),
    ("ChangeResponse", "record"),
    ("Health", "database"),
    ("Problem", "instance"),
    ("Problem", "request_id"),
    ("Problem", "errors"),
    ("FieldError", "row"),
];

/// String properties whose values form a closed set.
const ENUMS: [(&str, &str, &[&str]); 5] = [
    ("MeResponse", "kind", &["user", "service_token", "external"]),
    ("TokenResponse", "token_type", &["Bearer"]),
    ("HistoryEntryResponse", "event", &["created", "transition", "contact_erased"]),
    ("Health", "status", &["ok"]),
    ("Health", "database", &["SQLite", "PostgreSQL"]),
];

/// The example body of each PATCH: one field changed, as a client would send it.
const PATCH_EXAMPLES: [(&str, &str); 11] = [
    ("UpdatePartner", r#"{"population": 4500}"#),
    ("FieldPatch", r#"{"name_en": "Municipal building yard"}"#),
    ("CooperationPatch", r#"{"funding_programme": "Förderrichtlinie IKZ 2026"}"#),
    ("MeasurePatch", r#"{"summary": "Gemeinsame Ausschreibung für drei Winter"}"#),
    ("ContactPatch", r#"{"function": "Leitung Bauhof"}"#),
    ("UserPatch", r#"{"display_name": "Maria Mustermann"}"#),
    ("WebhookPatch", r#"{"active": true}"#),
    ("SyncSourcePatch", r#"{"interval_minutes": 1440}"#),
    ("CouncilDecisionPatch", r#"{"decision": "approved"}"#),
    ("WorkingGroupPatch", r#"{"status": "closed"}"#),
    ("EventPatch", r#"{"participant_count": 62}"#),
];

/// Applies every rule of this module to the serialised document.
pub fn tighten(doc: &mut Value) {
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        require_what_answers_carry(schemas);
        admit_blank_text(schemas);
        for (schema, property, values) in ENUMS {
            if let Some(p) = schemas.get_mut(schema).and_then(|s| s.pointer_mut(&format!("/properties/{property}"))) {
                p["enum"] = json!(values);
            }
        }
        for (schema, example) in PATCH_EXAMPLES {
            if let Some(object) = schemas.get_mut(schema).and_then(Value::as_object_mut) {
                object.insert("example".into(), serde_json::from_str(example).expect("a JSON example"));
            }
        }
        label_enums(schemas);
        // Each problem response carries its own example instead.
        if let Some(problem) = schemas.get_mut("Problem").and_then(Value::as_object_mut) {
            problem.remove("example");
        }
    }
    if let Some(responses) = doc.pointer_mut("/components/responses").and_then(Value::as_object_mut) {
        for (name, response) in responses.iter_mut() {
            let status = super::SHARED.iter().find(|(n, _, _)| n == name).and_then(|(_, s, _)| s.parse().ok());
            problem_example(response, status.unwrap_or(500), None);
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        let versioned_collection = VERSIONED.iter().any(|v| v.strip_suffix("/{id}") == Some(path.as_str()));
        for (method, operation) in item.iter_mut() {
            let Some(operation) = operation.as_object_mut() else { continue };
            if operation.get("security") == Some(&json!([{}])) {
                operation.remove("security");
            }
            for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
                strip_examples(parameter);
                // An empty query value is refused (400), except an empty cursor or search.
                let open = parameter["in"] == "query" && !matches!(parameter["name"].as_str(), Some("cursor" | "q"));
                if let (true, Some(schema)) = (open, parameter.get_mut("schema").and_then(Value::as_object_mut)) {
                    let text = schema
                        .get("type")
                        .is_some_and(|t| t == "string" || t.as_array().is_some_and(|a| a.contains(&json!("string"))));
                    if text && !schema.contains_key("minLength") {
                        schema.insert("minLength".into(), json!(1));
                    }
                }
            }
            let versioned = VERSIONED.contains(&path.as_str());
            match method.as_str() {
                "get" if versioned => {
                    header_parameter(
                        operation,
                        "If-None-Match",
                        "`ETag` of the version the client holds; unchanged, the answer is 304",
                    );
                    etag_header(operation, "200");
                    response(
                        operation,
                        "304",
                        json!({"description": "Not modified since the `If-None-Match` version", "headers": {"ETag": etag_schema()}}),
                    );
                }
                "patch" | "delete" if versioned => {
                    header_parameter(
                        operation,
                        "If-Match",
                        "`ETag` of the version this change is based on; another → 412",
                    );
                    if method == "patch" {
                        etag_header(operation, "200");
                        response(
                            operation,
                            "409",
                            problem_response(
                                "Conflicts with stored data: a key or external reference another record holds",
                            ),
                        );
                    }
                    response(
                        operation,
                        "412",
                        problem_response("The record changed since the `If-Match` version; fetch it again"),
                    );
                }
                "post" if versioned_collection => etag_header(operation, "201"),
                "get" => link_header(operation),
                _ => {}
            }
            if ANSWERS_A_RECORD.contains(&(path.as_str(), method.as_str())) {
                etag_header(operation, "200");
            }
            if IDEMPOTENT.contains(&(path.as_str(), method.as_str())) {
                idempotent(operation);
            }
            if method == "get" {
                csv_content(operation);
            }
            let instance = path.replace("{id}", "1").replace("{partner_id}", "2");
            if let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) {
                for (status, response) in responses.iter_mut() {
                    problem_example(response, status.parse().unwrap_or(500), Some(&instance));
                }
            }
        }
    }
}

/// Each closed set's schema names its values' labels (as `GET /api/v1/vocabularies` serves
/// them): `x-labels: {"de": {value: label}, "en": {…}}`.
fn label_enums(schemas: &mut Map<String, Value>) {
    use crate::domain::Lang;
    use crate::models::vocabularies::all;
    for (de, en) in all(Lang::De).into_iter().zip(all(Lang::En)) {
        let Some(schema) = schemas.get_mut(de.schema).and_then(Value::as_object_mut) else { continue };
        let labels = |v: &crate::models::vocabularies::Vocabulary| -> Map<String, Value> {
            v.entries.iter().map(|e| (e.value.to_owned(), json!(e.label))).collect()
        };
        schema.insert("x-labels".into(), json!({"de": labels(&de), "en": labels(&en)}));
    }
}

/// Every property of an answer's schema is required, but for those in [`OMITTED`].
fn require_what_answers_carry(schemas: &mut Map<String, Value>) {
    for (name, schema) in schemas.iter_mut() {
        let is_answer = name.ends_with("Response")
            || name.ends_with("Page")
            || ["Health", "Problem", "FieldError"].contains(&name.as_str());
        if !is_answer {
            continue;
        }
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else { continue };
        let required: Vec<Value> = properties
            .keys()
            .filter(|p| !OMITTED.contains(&(name.as_str(), p.as_str())))
            .map(|p| Value::String(p.clone()))
            .collect();
        schema["required"] = Value::Array(required);
    }
}

/// Request bodies trim text and take blank optional text as absent (`""` clears a website as
/// `null` does). An optional text property with a format or pattern therefore also admits blank
/// text, and the document says so, so that a client (or schemathesis) reading it knows that `""`
/// is accepted, not refused.
fn admit_blank_text(schemas: &mut Map<String, Value>) {
    for (name, schema) in schemas.iter_mut() {
        let is_body = name.starts_with("Create") || name.ends_with("Patch") || name == "UpdatePartner";
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut).filter(|_| is_body) else {
            continue;
        };
        for property in properties.values_mut() {
            let optional_text = property["type"] == json!(["string", "null"]);
            // Passwords are taken as they are (never trimmed), so blank is not "absent" there.
            let constrained = (property.get("format").is_some() || property.get("pattern").is_some())
                && property["format"] != "password";
            if !(optional_text && constrained) {
                continue;
            }
            let mut constrained_text = property.take();
            let description = constrained_text.as_object_mut().and_then(|p| p.remove("description"));
            let example = constrained_text.as_object_mut().and_then(|p| p.remove("example"));
            constrained_text["type"] = json!("string");
            *property = json!({
                "anyOf": [constrained_text, {"type": "string", "pattern": "^\\s*$", "description": "blank: the same as null"}, {"type": "null"}]
            });
            if let Some(description) = description {
                property["description"] = description;
            }
            if let Some(example) = example {
                property["example"] = example;
            }
        }
    }
}

fn strip_examples(value: &mut Value) {
    if let Some(object) = value.as_object_mut() {
        object.remove("example");
        object.remove("examples");
        if let Some(schema) = object.get_mut("schema") {
            strip_examples(schema);
        }
    }
}

fn etag_schema() -> Value {
    json!({"description": "Version of the record, for `If-Match` and `If-None-Match`", "schema": {"type": "string"}})
}

fn header_parameter(operation: &mut Map<String, Value>, name: &str, description: &str) {
    let parameters = operation.entry("parameters").or_insert_with(|| json!([]));
    let Some(parameters) = parameters.as_array_mut() else { return };
    if !parameters.iter().any(|p| p["in"] == "header" && p["name"] == name) {
        parameters.push(
            json!({"name": name, "in": "header", "required": false, "description": description, "schema": {"type": "string"}}),
        );
    }
}

/// A list that takes `format` also answers `text/csv`: every page in one file.
fn csv_content(operation: &mut Map<String, Value>) {
    let takes_format = operation
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| p.iter().any(|p| p["name"] == "format" && p["in"] == "query"));
    let content = operation.get_mut("responses").and_then(|r| r.pointer_mut("/200/content"));
    if let (true, Some(content)) = (takes_format, content.and_then(Value::as_object_mut)) {
        content.insert(
            "text/csv".into(),
            json!({"schema": {"type": "string", "description": "Every record of the list (all pages), one row each, UTF-8 with BOM; the columns are the record's fields"}}),
        );
        content.insert(
            crate::api::export::XLSX.into(),
            json!({"schema": {"type": "string", "format": "binary", "description": "Every record of the list (all pages) as an Excel workbook: a header row of titles (`lang`), one row per record, typed cells (numbers, dates; times in UTC)"}}),
        );
    }
}

/// `Idempotency-Key`, the replay's header and the two refusals of a reused or running key.
fn idempotent(operation: &mut Map<String, Value>) {
    header_parameter(
        operation,
        "Idempotency-Key",
        "Up to 255 characters, unique per request you mean once (a UUID): sent again by the same \
         caller with the same body within 24 hours, the first answer comes again (with \
         `Idempotent-Replayed: true`) and nothing is written twice",
    );
    let parameters = operation.get_mut("parameters").and_then(Value::as_array_mut);
    if let Some(key) = parameters.and_then(|p| p.iter_mut().find(|p| p["name"] == "Idempotency-Key")) {
        key["schema"] = json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]([ -~]*[!-~])?$"});
    }
    if let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) {
        for response in responses.iter_mut().filter(|(s, _)| s.starts_with('2')).map(|(_, r)| r) {
            if let Some(response) = response.as_object_mut() {
                let headers = response.entry("headers").or_insert_with(|| json!({}));
                headers["Idempotent-Replayed"] = json!({
                    "description": "`true` when this is the kept answer of an earlier request with the same `Idempotency-Key`",
                    "schema": {"type": "string", "enum": ["true"]}
                });
            }
        }
    }
    response(
        operation,
        "409",
        problem_response(
            "Conflicts with stored data, or the first request with this `Idempotency-Key` is still running",
        ),
    );
    response(
        operation,
        "422",
        problem_response("Invalid fields, or the `Idempotency-Key` was sent with another request"),
    );
}

fn etag_header(operation: &mut Map<String, Value>, status: &str) {
    if let Some(response) =
        operation.get_mut("responses").and_then(|r| r.get_mut(status)).and_then(Value::as_object_mut)
    {
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        headers["ETag"] = etag_schema();
    }
}

fn link_header(operation: &mut Map<String, Value>) {
    let Some(ok) = operation.get_mut("responses").and_then(|r| r.get_mut("200")) else { return };
    let is_page = ok
        .pointer("/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
        .is_some_and(|r| r.ends_with("Page"));
    if let (true, Some(response)) = (is_page, ok.as_object_mut()) {
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        headers["Link"] = json!({
            "description": "`<…>; rel=\"next\"` with the next page's URL, when another page follows",
            "schema": {"type": "string"}
        });
    }
}

fn response(operation: &mut Map<String, Value>, status: &str, response: Value) {
    if let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) {
        responses.entry(status).or_insert(response);
    }
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {crate::error::PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// Puts an example of its own status on a problem response (one that has no example yet).
fn problem_example(response: &mut Value, status: u16, instance: Option<&str>) {
    let description = response["description"].as_str().unwrap_or_default().to_owned();
    let Some(media) = response.pointer_mut("/content/application~1problem+json").and_then(Value::as_object_mut) else {
        return;
    };
    if media.contains_key("example") {
        return;
    }
    // The body the service itself sends for such an error (`AppError::problem`), with the
    // response's description as its detail.
    let error = match status {
        400 => AppError::bad_parameter("limit", "has an unusable value: must be between 1 and 200"),
        401 => AppError::Unauthorized { detail: description, invalid_token: false },
        403 => AppError::Forbidden(description),
        404 => AppError::NotFound(description),
        409 => AppError::Conflict(description),
        410 => AppError::CursorExpired(description),
        412 => AppError::PreconditionFailed(description),
        413 => AppError::PayloadTooLarge(description),
        415 => AppError::UnsupportedMediaType(description),
        422 => AppError::invalid_field("name", "length", "must be 1 to 200 characters"),
        429 => AppError::TooManyRequests { detail: description, retry_after: 60 },
        503 => AppError::Unavailable(description),
        _ => AppError::Internal(description),
    };
    let mut problem = error.problem();
    problem.instance = instance.map(str::to_owned);
    let example = serde_json::to_value(&problem).expect("a problem serialises");
    media.insert("example".into(), example);
}
