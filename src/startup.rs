//! Builds the application exactly as production runs it; the tests start it the same way.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header::HeaderName;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Compress, Condition, DefaultHeaders, Logger};
use actix_web::{App, HttpResponse, HttpServer, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::api::AppState;
use crate::api::extract::{BodyLimit, ImportLimit};
use crate::auth::Authenticator;
use crate::config::Config;
use crate::db::group_commit::GroupCommitWriter;
use crate::db::{self, Backend, Db};
use crate::error::{AppError, PROBLEM_JSON, problem_response};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Database(#[from] r2d2::Error),
    /// The SQLite writer's connection could not be opened.
    #[error("cannot open the database for writing: {0}")]
    Writer(diesel::r2d2::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(db::MigrationError),
    /// The change feed could not be pruned.
    #[error("cannot prune the change feed: {0}")]
    Changes(String),
    /// The outbound HTTP client could not be built.
    #[error("cannot set up outbound calls: {0}")]
    Outbound(String),
    /// Accounts or token keys could not be set up.
    #[error("cannot set up authentication: {0}")]
    Auth(String),
    /// The listen address cannot be used.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    db: web::Data<Db>,
    retention: chrono::Duration,
    outbound: crate::outbound::Client,
    cursors: crate::changes::cursor::CursorKey,
    deliveries: crate::changes::delivery::Settings,
    heads: std::sync::Arc<crate::changes::waiting::Heads>,
    sync: crate::sync::oparl::SyncSettings,
}

impl Application {
    /// Opens the pool, applies pending migrations and binds the listener.
    pub fn build(config: &Config) -> Result<Self, StartupError> {
        let backend = Backend::from_url(&config.database_url);
        // On SQLite each worker reads on its own thread (Db::read): keep a connection for
        // each of them besides those of the blocking threads.
        let pool_size = match backend {
            Backend::Sqlite => config.db_pool_size.max(config.workers as u32 + 2),
            Backend::Postgres => config.db_pool_size,
        };
        let manager = config.connection_manager();
        let pool = db::build_pool(manager.clone(), pool_size)?;
        let applied = db::run_migrations(&mut *pool.get()?).map_err(StartupError::Migration)?;
        log::info!(
            "database: {} {} ({applied} migrations applied now)",
            backend.name(),
            db::redacted_url(&config.database_url)
        );
        if backend == Backend::Sqlite && config.sqlite_mmap_bytes > 0 {
            log::info!(
                "SQLite reads through a memory map of up to {} MiB per connection",
                config.sqlite_mmap_bytes >> 20
            );
        }
        let tokens = crate::auth::bootstrap(&mut *pool.get()?, config).map_err(StartupError::Auth)?;
        let retention = chrono::Duration::days(i64::from(config.changes_retention_days));
        let pruned = db::write(&mut *pool.get()?, |c| crate::changes::prune(c, crate::models::now() - retention))
            .map_err(|e: diesel::result::Error| StartupError::Changes(e.to_string()))?;
        if pruned > 0 {
            log::info!(
                "pruned {pruned} changes older than {} days from the change feed",
                config.changes_retention_days
            );
        }
        let sqlite_writer = match backend {
            Backend::Sqlite => Some(GroupCommitWriter::start(manager).map_err(StartupError::Writer)?),
            Backend::Postgres => None,
        };
        let listener = TcpListener::bind(config.bind)?;
        let address = listener.local_addr()?;
        let db = web::Data::new(Db::new(pool, backend, sqlite_writer));
        let db_handle = db.clone();
        let cursors = tokens.cursors().clone();
        let authenticator = web::Data::new(Authenticator { tokens, public_read: config.public_read });
        let outbound =
            crate::outbound::Client::new(config.outbound.clone()).map_err(|e| StartupError::Outbound(e.to_string()))?;
        let outbound_data = web::Data::new(outbound.clone());
        let sync_data = web::Data::new(config.sync.clone());
        let heads = web::Data::new(crate::changes::waiting::Heads::default());
        let heads_handle = heads.clone().into_inner();
        let state = web::Data::new(AppState {
            openapi_json: crate::openapi::document_json(),
            trust_forwarded_for: config.trust_forwarded_for,
        });
        let cors_origins = config.cors_origins.clone();
        let routes = web::Data::new(KnownRoutes::from_document(&crate::openapi::document()));
        let limit = BodyLimit(config.max_body_bytes);
        let import_limit = ImportLimit(config.max_import_bytes);
        let server = HttpServer::new(move || {
            App::new()
                .into_utoipa_app()
                .app_data(state.clone())
                .app_data(db.clone())
                .app_data(authenticator.clone())
                .app_data(outbound_data.clone())
                .app_data(sync_data.clone())
                .app_data(heads.clone())
                .app_data(limit)
                .app_data(import_limit)
                .app_data(web::PathConfig::default().error_handler(|err, _| {
                    AppError::bad_parameter("id", format!("must be a whole number ({err})")).into()
                }))
                .configure(crate::api::configure)
                .into_app()
                .service(web::resource("/api-docs/openapi.json").get(serve_openapi))
                .service(web::resource("/swagger-ui").get(redirect_to("/swagger-ui/")))
                .service(web::resource("/").get(redirect_to("/swagger-ui/")))
                .service(
                    SwaggerUi::new("/swagger-ui/{_:.*}").config(
                        utoipa_swagger_ui::Config::new(["/api-docs/openapi.json"])
                            .try_it_out_enabled(true)
                            .persist_authorization(true),
                    ),
                )
                .app_data(routes.clone())
                .default_service(web::to(unknown_route))
                .wrap_fn(|req, srv| {
                    use actix_web::dev::Service;
                    let path = req.path().to_owned();
                    let if_none_match =
                        matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD)
                            .then(|| req.headers().get(header::IF_NONE_MATCH).cloned())
                            .flatten();
                    let response = srv.call(req);
                    async move { Ok(not_modified(as_problem(response.await?, path), if_none_match)) }
                })
                .wrap(Compress::default())
                .wrap(Condition::new(!cors_origins.is_empty(), cors(&cors_origins)))
                .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
                .wrap(access_log())
                .wrap_fn(|mut req, srv| {
                    use actix_web::dev::Service;
                    let id = request_id(req.headers().get(X_REQUEST_ID));
                    req.headers_mut().insert(X_REQUEST_ID, id.clone());
                    let response = srv.call(req);
                    async move {
                        let mut response = response.await?;
                        response.headers_mut().insert(X_REQUEST_ID, id);
                        Ok(response)
                    }
                })
        })
        .workers(config.workers.max(1))
        // PostgreSQL work (and password hashing) runs on blocking threads; more of them than
        // pooled connections would only wait, each holding a stack and a malloc arena meanwhile.
        .worker_max_blocking_threads(config.db_pool_size.max(1) as usize)
        .shutdown_timeout(5)
        .client_request_timeout(Duration::from_secs(30))
        .listen(listener)?
        .run();
        log::info!("listening on http://{address} (Swagger UI: http://{address}/swagger-ui/)");
        let deliveries = crate::changes::delivery::Settings::new(config.webhook_retry);
        Ok(Self {
            port: address.port(),
            server,
            db: db_handle,
            retention,
            outbound,
            cursors,
            deliveries,
            heads: heads_handle,
            sync: config.sync.clone(),
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // Hourly, the change feed forgets what is older than its retention, and so do the
        // webhooks' delivered deliveries; idempotency keys go after 24 hours (several instances
        // doing so at once is harmless).
        let (db, retention) = (self.db.clone(), self.retention);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                let cutoff = crate::models::now() - retention;
                let pruned = db
                    .write(move |c| {
                        crate::changes::prune(c, cutoff)?;
                        crate::models::idempotency::prune(c, crate::models::now())?;
                        Ok(crate::changes::delivery::prune(c, cutoff)?)
                    })
                    .await;
                if let Err(err) = pruned {
                    log::warn!("pruning the change feed failed: {err}");
                }
            }
        });
        let db = self.db.get_ref().clone();
        tokio::spawn(self.heads.run(db.clone(), db.commits()));
        let wake = db.commits();
        tokio::spawn(crate::sync::oparl::schedule(db.clone(), self.outbound.clone(), self.sync));
        tokio::spawn(crate::changes::delivery::run(db, self.outbound, self.cursors, self.deliveries, wake));
        self.server.await
    }
}

/// One line per request: request id, client, method and path, status, size, duration. The path
/// without its query string: searches (`?q=` with a contact's name) stay out of the logs.
fn access_log() -> Logger {
    Logger::new(r#"%{x-request-id}i %a "%{method}xi %U" %s %b %Dms"#)
        .custom_request_replace("method", |req| req.method().to_string())
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's request id if it is short, visible ASCII; a new random (version 4) UUID otherwise.
///
/// The UUID's bytes come from `rand`'s thread-local generator (a CSPRNG seeded from the operating
/// system): `Uuid::new_v4` asks the kernel (`getrandom`) on every call, one system call per request.
fn request_id(given: Option<&HeaderValue>) -> HeaderValue {
    given
        .filter(|v| (1..=128).contains(&v.len()) && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned()
        .unwrap_or_else(|| {
            let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            let mut text = uuid::Uuid::encode_buffer();
            HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)).expect("a UUID is a header value")
        })
}

/// CORS for the configured origins: the methods and headers the API uses, and the response
/// headers a browser client needs to read.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let cors = origins.iter().fold(actix_cors::Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            X_REQUEST_ID,
        ])
        .expose_headers([header::ETAG, header::LOCATION, header::LINK, header::RETRY_AFTER, X_REQUEST_ID])
        .max_age(3600)
}

/// The documented paths and their methods, to tell "wrong method" (405) from "no such path" (404).
struct KnownRoutes(Vec<(actix_web::dev::ResourceDef, Vec<&'static str>)>);

impl KnownRoutes {
    fn from_document(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ];
                let allowed = methods.into_iter().filter(|(_, has)| *has).map(|(m, _)| m).collect();
                (actix_web::dev::ResourceDef::new(path.as_str()), allowed)
            })
            .collect();
        Self(routes)
    }

    fn allowed(&self, path: &str) -> Option<&[&'static str]> {
        self.0.iter().find(|(def, _)| def.is_match(path)).map(|(_, methods)| methods.as_slice())
    }
}

async fn unknown_route(req: actix_web::HttpRequest, routes: web::Data<KnownRoutes>) -> Result<HttpResponse, AppError> {
    match routes.allowed(req.path()) {
        Some(methods) => {
            Err(AppError::MethodNotAllowed { method: req.method().to_string(), allowed: methods.join(", ") })
        }
        None => Err(AppError::NotFound("there is no such endpoint; see /swagger-ui/".into())),
    }
}

async fn serve_openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(state.openapi_json.clone())
}

fn redirect_to(location: &'static str) -> impl Fn() -> std::future::Ready<HttpResponse> + Clone {
    move || std::future::ready(HttpResponse::PermanentRedirect().insert_header((header::LOCATION, location)).finish())
}

/// Conditional GET (RFC 9110 §13.1.2) for every record: a 200 whose `ETag` the request's
/// `If-None-Match` names (or `*`) becomes a 304 with that `ETag` and no body. Weak comparison,
/// as the RFC asks for `If-None-Match`.
fn not_modified(res: ServiceResponse<BoxBody>, if_none_match: Option<HeaderValue>) -> ServiceResponse<BoxBody> {
    let Some(wanted) = if_none_match else { return res };
    if res.status() != actix_web::http::StatusCode::OK {
        return res;
    }
    let Some(current) = res.headers().get(header::ETAG).cloned() else { return res };
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let current_tag = opaque(current.to_str().unwrap_or_default());
    let matches = wanted.to_str().unwrap_or_default().split(',').any(|t| t.trim() == "*" || opaque(t) == current_tag);
    if !matches {
        return res;
    }
    let (req, _) = res.into_parts();
    ServiceResponse::new(req, HttpResponse::NotModified().insert_header((header::ETAG, current)).finish())
}

/// Makes every 4xx/5xx answer a problem+json body with `instance` set to the request path,
/// whoever produced it (our handlers, actix's extractors, routing); logs 500s with their cause.
fn as_problem<B: MessageBody + 'static>(res: ServiceResponse<B>, path: String) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !status.is_client_error() && !status.is_server_error() {
        return res.map_into_boxed_body();
    }
    let app_error = res.response().error().and_then(|e| e.as_error::<AppError>());
    let mut problem = match (app_error, res.response().error()) {
        (Some(err), _) => {
            if let AppError::Internal(cause) = err {
                log::error!("{} {path}: {cause}", res.request().method());
            }
            err.problem()
        }
        (None, Some(other)) => AppError::Other { status, detail: other.to_string() }.problem(),
        (None, None) => {
            let is_problem = res.headers().get(header::CONTENT_TYPE) == Some(&HeaderValue::from_static(PROBLEM_JSON));
            if is_problem {
                return res.map_into_boxed_body();
            }
            let detail = status.canonical_reason().unwrap_or("HTTP error").to_owned();
            AppError::Other { status, detail }.problem()
        }
    };
    problem.instance = Some(path);
    problem.request_id = res.request().headers().get(X_REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (req, original) = res.into_parts();
    let mut response = problem_response(&problem);
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, response)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use actix_web::{App, HttpResponse, test, web};

    /// Keeps the access log's lines (the only logger this test binary installs).
    struct Captured(Mutex<Vec<String>>);

    impl log::Log for Captured {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, record: &log::Record) {
            if record.target().contains("logger") {
                self.0.lock().unwrap().push(record.args().to_string());
            }
        }
        fn flush(&self) {}
    }

    static LINES: Captured = Captured(Mutex::new(Vec::new()));

    #[actix_web::test]
    async fn the_access_log_names_method_and_path_but_never_the_query() {
        let _ = log::set_logger(&LINES);
        log::set_max_level(log::LevelFilter::Info);
        let app = test::init_service(
            App::new().wrap(super::access_log()).route("/api/v1/contacts", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let request = test::TestRequest::get().uri("/api/v1/contacts?q=Mustermann&cursor=abc").to_request();
        test::call_service(&app, request).await;
        let lines = LINES.0.lock().unwrap().clone();
        let line = lines.iter().find(|l| l.contains("/api/v1/contacts")).expect("a line for the request");
        assert!(line.contains(r#""GET /api/v1/contacts" 200"#), "{line}");
        assert!(!line.contains("Mustermann") && !line.contains('?'), "{line}");
    }
}
