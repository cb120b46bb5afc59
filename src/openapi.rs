//! The OpenAPI 3.1 document: collected from the handlers' `#[utoipa::path]` attributes through
//! the same `api::configure` that registers the routes, plus info, tags and the error responses
//! every operation shares. `openapi/openapi.json` is this document, committed.

use actix_web::App;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{FieldError, PROBLEM_JSON, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ikz-api",
        description = "REST/JSON API for inter-municipal cooperation (Interkommunale Zusammenarbeit): \
partners, fields of action, cooperations, measures and contacts.\n\n\
Conventions: JSON field names in `snake_case`, timestamps RFC 3339 UTC, dates `YYYY-MM-DD`. Lists are \
keyset-paginated (`limit`, `cursor`, `next_cursor`, `Link: rel=\"next\"`). `PATCH` takes a JSON Merge Patch \
(RFC 7396). Writes accept `If-Match` with the `ETag` of the version they change. Every error is \
`application/problem+json` (RFC 9457) with a stable `type`.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2")
    ),
    tags(
        (name = "auth", description = "Log in for a bearer token; see who you are."),
        (name = "users", description = "Local accounts (admins only)."),
        (name = "service-tokens", description = "Long-lived tokens for sync jobs (admins only)."),
        (name = "fields", description = "Fields of action (Handlungsfelder) such as Bauhof, Feuerwehr or IT und E-Government; keys are stable."),
        (name = "cooperations", description = "Cooperations of partners, their members and their portfolio."),
        (name = "contacts", description = "People at partners. Personal data: only for signed-in callers, erasable."),
        (name = "measures", description = "Cooperation ideas and projects: assessment, priority, status workflow and history."),
        (name = "partners", description = "Organisations that cooperate: municipalities, districts, state agencies, associations, companies."),
        (name = "changes", description = "The change feed: every committed change, in commit order, for clients that keep a copy current."),
        (name = "import", description = "Records from spreadsheets (CSV, also as German Excel saves them) or NDJSON, in the layout of the CSV export; all or nothing, with a dry run."),
        (name = "webhooks", description = "Signed deliveries of the change feed to integrators' URLs (Standard Webhooks; admins only)."),
        (name = "council", description = "Papers and meetings of the partners' council information systems, as the OParl sync copied them (read only)."),
        (name = "sync", description = "Council information systems (OParl) the service copies from: their health and runs (admins only)."),
        (name = "vocabularies", description = "German and English labels of every closed set of values (statuses, kinds, roles, decisions)."),
        (name = "health", description = "Liveness and readiness probes."),
    ),
    servers((url = "/", description = "This server")),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Declares the bearer scheme so that Swagger UI's "Authorize" accepts a token.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT or ikz_st_… service token")
            .description(Some(
                "A token from `POST /api/v1/auth/token`, a service token (`ikz_st_…`), or a token of the configured OpenID Connect provider",
            ))
            .build();
        doc.components.get_or_insert_with(Default::default).add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Builds the complete document.
pub fn document() -> Document {
    let (_, mut doc) =
        App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(crate::api::configure).split_for_parts();
    add_shared_responses(&mut doc);
    derive_patch_schemas(&mut doc);
    let mut json = serde_json::to_value(&doc).expect("the document serialises");
    contract::tighten(&mut json);
    serde_json::from_value(json).expect("the tightened document is still a document")
}

/// PATCH bodies are merge patches of the create schemas: any subset of their fields. For each
/// `CreateX` used as a merge-patch body, publish `XPatch`: the same properties, none required.
fn derive_patch_schemas(doc: &mut Document) {
    let mut json = serde_json::to_value(&*doc).expect("the document serialises");
    let mut derived = serde_json::Map::new();
    if let Some(paths) = json["paths"].as_object_mut() {
        for item in paths.values_mut() {
            let Some(content) = item.pointer_mut("/patch/requestBody/content/application~1merge-patch+json/schema")
            else {
                continue;
            };
            let Some(name) =
                content["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/Create")).map(str::to_owned)
            else {
                continue;
            };
            // The partners' patch schema was published as `UpdatePartner`; the name stays.
            let patch_name = if name == "Partner" { "UpdatePartner".to_owned() } else { format!("{name}Patch") };
            *content = serde_json::json!({"$ref": format!("#/components/schemas/{patch_name}")});
            derived.insert(patch_name, serde_json::Value::String(format!("Create{name}")));
        }
    }
    let schemas = json["components"]["schemas"].as_object_mut().expect("components.schemas");
    for (patch_name, source) in derived {
        let mut schema = schemas[source.as_str().unwrap_or_default()].clone();
        if let Some(object) = schema.as_object_mut() {
            object.remove("required");
            // A default in a patch schema makes generated clients send it in every PATCH (and
            // reset the field): absent means "unchanged", so a patch property has no default.
            if let Some(properties) = object.get_mut("properties").and_then(|p| p.as_object_mut()) {
                for property in properties.values_mut() {
                    if let Some(property) = property.as_object_mut() {
                        property.remove("default");
                    }
                }
            }
            let note = "A JSON Merge Patch (RFC 7396): any subset of the fields; `null` clears an optional field.";
            object.insert("description".into(), serde_json::Value::String(note.into()));
        }
        schemas.insert(patch_name, schema);
    }
    *doc = serde_json::from_value(json).expect("the changed document is still a document");
}

mod contract;

/// The document as served and committed: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut json = serde_json::to_string_pretty(&document()).expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

const SHARED: [(&str, &str, &str); 8] = [
    ("BadRequest", "400", "Malformed JSON, or an unknown or unusable parameter"),
    ("Unauthorized", "401", "No token where one is needed, or an invalid, expired or revoked one"),
    ("Forbidden", "403", "The caller's role or partner scope does not allow this; `detail` names the missing right"),
    ("PayloadTooLarge", "413", "The body exceeds the configured limit (`IKZ_MAX_BODY_BYTES`)"),
    ("UnsupportedMediaType", "415", "The body is not `application/json`"),
    ("ValidationFailed", "422", "Unknown, missing or invalid fields; `errors` lists every one"),
    ("InternalError", "500", "Unexpected failure; the cause is logged, not sent"),
    ("Unavailable", "503", "The database is busy or unreachable; retry after `Retry-After` seconds"),
];

/// Adds the error responses that follow from an operation's shape, so that no operation can
/// forget one: 400 for any parameter, 413/415/422 for a body, 500 and 503 for all.
fn add_shared_responses(doc: &mut Document) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, _, description) in SHARED {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
        let response = ResponseBuilder::new().description(description).content(PROBLEM_JSON, content).build();
        components.responses.insert(name.to_owned(), RefOr::T(response));
    }
    for item in doc.paths.paths.values_mut() {
        let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for operation in operations.into_iter().flatten() {
            let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let has_body = operation.request_body.is_some();
            if has_params || has_body {
                add(operation, "BadRequest");
            }
            if needs_token(operation) {
                add(operation, "Unauthorized");
                add(operation, "Forbidden");
            }
            if has_body {
                add(operation, "PayloadTooLarge");
                add(operation, "UnsupportedMediaType");
                add(operation, "ValidationFailed");
            }
            add(operation, "InternalError");
            add(operation, "Unavailable");
        }
    }
}

/// Whether any of the operation's security alternatives names a scheme (`{}` means "open").
fn needs_token(operation: &Operation) -> bool {
    let requirements = serde_json::to_value(&operation.security).unwrap_or_default();
    requirements
        .as_array()
        .is_some_and(|alternatives| alternatives.iter().any(|r| r.as_object().is_some_and(|m| !m.is_empty())))
}

fn add(operation: &mut Operation, name: &str) {
    let status = SHARED.iter().find(|(n, _, _)| *n == name).map(|(_, s, _)| *s).unwrap_or("500");
    operation.responses.responses.entry(status.to_owned()).or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
}
