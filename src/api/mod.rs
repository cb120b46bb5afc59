//! HTTP handlers, one module per resource, plus the extractors and helpers they share.

pub mod auth;
pub mod changes;
pub mod contacts;
pub mod cooperations;
pub mod council;
pub mod council_decisions;
pub mod events;
pub mod export;
pub mod extract;
pub mod fields;
pub mod health;
pub mod import;
pub mod measure_workflow;
pub mod measures;
pub mod members;
pub mod pagination;
pub mod partners;
pub mod respond;
pub mod service_tokens;
pub mod sign_offs;
pub mod sync_sources;
pub mod users;
pub mod vocabularies;
pub mod webhooks;
pub mod working_groups;

/// What the handlers share besides the database handle (`web::Data<Db>`) and the
/// authenticator (`web::Data<Authenticator>`): what start-up computed once.
pub struct AppState {
    /// The OpenAPI document, serialised once (served byte-identical to `openapi/openapi.json`).
    pub openapi_json: String,
    /// `IKZ_TRUST_FORWARDED_FOR`.
    pub trust_forwarded_for: bool,
}

/// Registers every API route; the OpenAPI document is collected from the same calls.
///
/// Each resource has its own scope: the router compares a scope's static prefix before it tries
/// the patterns inside, so a request is matched against its resource's few routes instead of
/// every route of the API (measured: benches/RESULTS.md).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    use utoipa_actix_web::scope;
    cfg.service(scope("/health").configure(health::configure));
    cfg.service(
        scope("/api/v1")
            .service(
                scope("/measures")
                    .configure(measures::configure)
                    .configure(measure_workflow::configure)
                    .configure(council::configure_in_measures)
                    .configure(council_decisions::configure_in_measures)
                    .configure(sign_offs::configure_in_measures),
            )
            .service(
                scope("/cooperations")
                    .configure(cooperations::configure)
                    .configure(members::configure)
                    .configure(measures::configure_in_cooperations)
                    .configure(measure_workflow::configure_in_cooperations)
                    .configure(working_groups::configure_in_cooperations)
                    .configure(events::configure_in_cooperations),
            )
            .service(scope("/partners").configure(partners::configure))
            .service(scope("/contacts").configure(contacts::configure))
            .service(scope("/fields").configure(fields::configure))
            .service(scope("/changes").configure(changes::configure))
            .service(scope("/import").configure(import::configure))
            .service(scope("/auth").configure(auth::configure))
            .service(scope("/users").configure(users::configure))
            .service(scope("/service-tokens").configure(service_tokens::configure))
            .service(scope("/webhooks").configure(webhooks::configure))
            .service(scope("/council-papers").configure(council::configure_papers))
            .service(scope("/council-meetings").configure(council::configure_meetings))
            .service(scope("/council-decisions").configure(council_decisions::configure))
            .service(scope("/sync-sources").configure(sync_sources::configure))
            .service(scope("/vocabularies").configure(vocabularies::configure)),
    );
}
