//! `/api/v1/vocabularies`: the German and English labels of every closed set of values.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::extract::Query;
use super::respond;
use crate::auth::Caller;
use crate::domain::Lang;
use crate::error::{AppError, Problem};
use crate::models::vocabularies;

/// One value of a closed set and its label.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VocabularyEntry {
    /// The value the API sends and takes.
    #[schema(example = "approved")]
    pub value: String,
    /// What a person reads, in the language asked for.
    #[schema(example = "Beschlossen")]
    pub label: String,
}

/// Every closed set of values, by name (in snake_case after its enum), each with its values and
/// their labels in the order the workflow or the enum lists them.
#[derive(Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VocabulariesResponse(pub BTreeMap<String, Vec<VocabularyEntry>>);

impl PartialSchema for VocabulariesResponse {
    fn schema() -> RefOr<Schema> {
        let entries = || ArrayBuilder::new().items(Ref::from_schema_name("VocabularyEntry")).build();
        let object = vocabularies::all(Lang::De)
            .into_iter()
            .fold(ObjectBuilder::new(), |object, v| object.property(v.name, entries()).required(v.name));
        let note = "Every closed set of values, by name, each with its values and their labels.";
        RefOr::T(Schema::Object(object.description(Some(note)).build()))
    }
}

impl ToSchema for VocabulariesResponse {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("VocabularyEntry".into(), VocabularyEntry::schema()));
    }
}

/// Query parameters of the vocabularies.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VocabulariesQuery {
    /// The labels' language: `de` (the default) or `en`.
    #[param(inline)]
    pub lang: Option<Lang>,
}

/// The labels of every closed set of values
///
/// Statuses, kinds, roles, horizons and decisions with a German (`?lang=de`, the default) or
/// English (`?lang=en`) label each, so that a front-end shows "Beschlossen" or "Approved"
/// without a table of its own. The OpenAPI document carries the same labels on each enum
/// schema (`x-labels`).
#[utoipa::path(tag = "vocabularies", params(VocabulariesQuery), security((), ("bearer" = [])), responses(
    (status = 200, description = "Every closed set with its labels", body = VocabulariesResponse),
    (status = 400, description = "Unknown or unusable query parameter", body = Problem, content_type = "application/problem+json"),
))]
#[get("")]
pub async fn get_vocabularies(caller: Caller, query: Query<VocabulariesQuery>) -> Result<HttpResponse, AppError> {
    caller.may_read_public()?;
    let lang = query.0.lang.unwrap_or_default();
    let sets = vocabularies::all(lang)
        .into_iter()
        .map(|v| {
            let entries = v
                .entries
                .into_iter()
                .map(|e| VocabularyEntry { value: e.value.into(), label: e.label.into() })
                .collect();
            (v.name.to_owned(), entries)
        })
        .collect();
    Ok(respond::json(HttpResponse::Ok(), &VocabulariesResponse(sets)))
}

/// Registers `/vocabularies`.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_vocabularies);
}
