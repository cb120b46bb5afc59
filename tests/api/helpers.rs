//! `spawn_app()`: starts the service exactly as `main` does, on port 0 and a fresh database.

use std::sync::Once;

use diesel::{Connection, PgConnection, RunQueryDsl};
use ikz_api::config::Config;
use ikz_api::startup::Application;
use rand::Rng;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;

/// A fresh database for one test, removed when dropped.
pub enum TestDb {
    /// A SQLite file in a temporary directory.
    Sqlite { dir: tempfile::TempDir },
    /// A PostgreSQL database created for this test.
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// Creates the database the environment asks for.
    pub fn new() -> Self {
        match std::env::var("IKZ_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) {
            Some(admin_url) => {
                let name = format!("ikz_test_{:016x}", rand::rng().random::<u64>());
                let mut admin = PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("IKZ_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut admin).expect("create database");
                Self::Postgres { admin_url, name }
            }
            None => Self::Sqlite { dir: tempfile::tempdir().expect("temp dir") },
        }
    }

    /// The `DATABASE_URL` the service gets: through PgBouncer when `IKZ_TEST_PGBOUNCER_URL` names
    /// one (its host and port; the database is this test's), else directly.
    pub fn url(&self) -> String {
        match std::env::var("IKZ_TEST_PGBOUNCER_URL").ok().filter(|u| !u.is_empty()) {
            Some(pooler) if matches!(self, Self::Postgres { .. }) => self.at(&pooler),
            _ => self.direct_url(),
        }
    }

    /// The URL straight to the database (for a test's own connection beside the service).
    pub fn direct_url(&self) -> String {
        match self {
            Self::Sqlite { dir } => dir.path().join("ikz.db").to_string_lossy().into_owned(),
            Self::Postgres { admin_url, .. } => self.at(admin_url),
        }
    }

    /// This test's PostgreSQL database on the server of `server_url`.
    fn at(&self, server_url: &str) -> String {
        let Self::Postgres { name, .. } = self else { unreachable!("only PostgreSQL databases have a server") };
        let mut url = url::Url::parse(server_url).expect("a PostgreSQL URL");
        url.set_path(name);
        // Without TLS to the local server: a test's pools outlive it (the servers' worker
        // threads keep them) and may still be reconnecting, inside OpenSSL, when the process
        // exits and OpenSSL's exit handler frees its state: a rare crash after every test passed.
        if !url.query_pairs().any(|(k, _)| k == "sslmode") {
            url.query_pairs_mut().append_pair("sslmode", "disable");
        }
        url.to_string()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Self::Postgres { admin_url, name } = self
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
        }
    }
}

/// Password of the bootstrap admin in every test app.
pub const ADMIN_PASSWORD: &str = "test-admin-password";
/// HS256 secret of every test app (tests sign their own tokens with it).
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A running service (one instance or several on one database) and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT` of the first instance.
    pub address: String,
    /// Every instance's address; requests go to each in turn.
    pub addresses: Vec<String>,
    next: std::sync::atomic::AtomicUsize,
    /// HTTP client.
    pub client: Client,
    /// A token of the bootstrap admin; the write helpers send it.
    pub admin_token: String,
    /// Kept so the database lives as long as the test.
    pub _db: TestDb,
}

static LOGGER: Once = Once::new();

/// How many instances a test app starts on its database: `IKZ_TEST_INSTANCES` (default 1) on
/// PostgreSQL; always one on SQLite, which serves one instance per file.
pub fn instances() -> usize {
    let asked = std::env::var("IKZ_TEST_INSTANCES").ok().and_then(|n| n.parse().ok()).unwrap_or(1usize);
    match std::env::var("IKZ_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) {
        Some(_) => asked.max(1),
        None => 1,
    }
}

/// Starts the service with the default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// For the tests named `*_across_instances`: at least two instances on one PostgreSQL database
/// (as many as `IKZ_TEST_INSTANCES` asks beyond that); one on SQLite, where the same test checks
/// the single instance.
pub async fn spawn_app_across_instances() -> TestApp {
    let count = match std::env::var("IKZ_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) {
        Some(_) => instances().max(2),
        None => 1,
    };
    spawn_instances(count, |_| {}).await
}

/// Starts the service after `adjust` has changed the test configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_instances(instances(), adjust).await
}

/// Starts `count` instances on one fresh database.
async fn spawn_instances(count: usize, adjust: impl FnOnce(&mut Config)) -> TestApp {
    LOGGER.call_once(|| {
        let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
            .is_test(true)
            .try_init();
    });
    let db = TestDb::new();
    let mut config = test_config(&db);
    adjust(&mut config);
    let addresses: Vec<String> = (0..count).map(|_| start(&config)).collect();
    let address = addresses[0].clone();
    let client = Client::new();
    let admin_token = login(&client, &address, "admin", ADMIN_PASSWORD).await.expect("the bootstrap admin can log in");
    TestApp { address, addresses, next: Default::default(), client, admin_token, _db: db }
}

/// The configuration tests start from: port 0, one worker, known admin password and secret.
pub fn test_config(db: &TestDb) -> Config {
    let mut config = Config::new(db.url());
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.workers = 1;
    config.db_pool_size = 4;
    config.bootstrap_admin_password = Some(ADMIN_PASSWORD.into());
    config.jwt_secret = Some(JWT_SECRET.into());
    // Off behind PgBouncer in transaction pooling mode (.ci/run).
    config.pg_statement_cache = std::env::var("IKZ_PG_STATEMENT_CACHE").map_or(true, |v| v != "false");
    // Outbound calls (webhooks) reach 127.0.0.1 and nothing else.
    config.outbound = ikz_api::outbound::Policy::only("127.0.0.1");
    config
}

/// Starts the service with `config` and returns its base URL.
pub fn start(config: &Config) -> String {
    let app = Application::build(config).expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// Logs in; the token, or the failed response.
pub async fn login(client: &Client, address: &str, username: &str, password: &str) -> Result<String, Response> {
    let response = client
        .post(format!("{address}/api/v1/auth/token"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .expect("request sent");
    if response.status() != 200 {
        return Err(response);
    }
    let body: Value = response.json().await.expect("token JSON");
    Ok(body["access_token"].as_str().expect("access_token").to_owned())
}

impl TestApp {
    /// Full URL of a path, at the next instance in turn.
    pub fn url(&self, path: &str) -> String {
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.addresses.len();
        format!("{}{path}", self.addresses[turn])
    }

    /// A request with an optional bearer token.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// A request as the bootstrap admin.
    pub fn as_admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path, Some(&self.admin_token))
    }

    /// GET a path anonymously (public read).
    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// POST a JSON body as admin.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.as_admin(Method::POST, path).json(body).send().await.expect("request sent")
    }

    /// PATCH with a merge-patch body as admin.
    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.as_admin(Method::PATCH, path)
            .header("Content-Type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent")
    }

    /// DELETE a path as admin.
    pub async fn delete(&self, path: &str) -> Response {
        self.as_admin(Method::DELETE, path).send().await.expect("request sent")
    }

    /// Creates an account with `role` acting for `partner_ids` and returns its token.
    pub async fn token_for(&self, username: &str, role: &str, partner_ids: &[i64]) -> String {
        let password = format!("{username}-password-123");
        let body =
            serde_json::json!({"username": username, "password": password, "role": role, "partner_ids": partner_ids});
        let response = self.post_json("/api/v1/users", &body).await;
        assert_eq!(response.status(), 201, "creating user {username}: {}", response.text().await.unwrap_or_default());
        login(&self.client, &self.address, username, &password).await.expect("the new user can log in")
    }

    /// Creates a partner and returns its JSON; fails the test unless the answer is 201.
    pub async fn create_partner(&self, body: Value) -> Value {
        let response = self.post_json("/api/v1/partners", &body).await;
        assert_eq!(response.status(), 201, "creating {body}: {}", response.text().await.unwrap_or_default());
        response.json().await.expect("JSON body")
    }

    /// Follows `next_cursor` from `first_path` to the end and returns every item in order.
    pub async fn collect_all(&self, first_path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut path = first_path.to_owned();
        for _ in 0..1000 {
            let page: Value = self.get(&path).await.json().await.expect("JSON page");
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => {
                    let sep = if first_path.contains('?') { '&' } else { '?' };
                    path = format!("{first_path}{sep}cursor={cursor}");
                }
                None => return items,
            }
        }
        panic!("pagination did not end");
    }
}

/// Asserts an RFC 9457 problem answer and returns its body.
pub async fn assert_problem(response: Response, status: u16, problem_type: &str) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["type"], problem_type, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["title"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert!(body["detail"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
    assert!(body["instance"].as_str().is_some_and(|t| t.starts_with('/')), "{body}");
    body
}

/// The `field` names of a problem's `errors`, sorted.
pub fn error_fields(problem: &Value) -> Vec<String> {
    let mut fields: Vec<String> = problem["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    fields.sort();
    fields
}
