//! `spawn_app()`: starts the service exactly as `main` does, on port 0 and a fresh database.

use std::sync::Once;

use diesel::{Connection, PgConnection, RunQueryDsl};
use ikz_api::config::{Config, DEFAULT_MAX_BODY_BYTES};
use ikz_api::startup::Application;
use rand::Rng;
use reqwest::{Client, Response};
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

    /// The `DATABASE_URL` of this database.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite { dir } => dir.path().join("ikz.db").to_string_lossy().into_owned(),
            Self::Postgres { admin_url, name } => {
                let mut url = url::Url::parse(admin_url).expect("IKZ_TEST_POSTGRES_URL is a URL");
                url.set_path(name);
                url.to_string()
            }
        }
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

/// A running service and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// HTTP client.
    pub client: Client,
    /// Kept so the database lives as long as the test.
    pub _db: TestDb,
}

static LOGGER: Once = Once::new();

/// Starts the service with the default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the service after `adjust` has changed the test configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    LOGGER.call_once(|| {
        let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
            .is_test(true)
            .try_init();
    });
    let db = TestDb::new();
    let mut config = Config {
        database_url: db.url(),
        bind: "127.0.0.1:0".parse().unwrap(),
        workers: 1,
        db_pool_size: 4,
        max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    };
    adjust(&mut config);
    let app = Application::build(&config).expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp { address, client: Client::new(), _db: db }
}

impl TestApp {
    /// Full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET a path.
    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    /// POST a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    /// PATCH with a merge-patch body.
    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .header("Content-Type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent")
    }

    /// DELETE a path.
    pub async fn delete(&self, path: &str) -> Response {
        self.client.delete(self.url(path)).send().await.expect("request sent")
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
