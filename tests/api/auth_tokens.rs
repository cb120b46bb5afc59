//! Logging in, and every way a token can be wrong.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_PASSWORD, JWT_SECRET, TestApp, TestDb, assert_problem, login, spawn_app, start, test_config,
};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims like the service's own, for the admin account (id 1).
fn claims() -> Value {
    json!({
        "sub": "user:1", "role": "admin", "partner_ids": [], "name": "admin",
        "iat": now(), "nbf": now(), "exp": now() + 600, "iss": "ikz-api", "aud": "ikz-api", "jti": "t1"
    })
}

fn sign(claims: &Value, alg: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.request(Method::GET, "/api/v1/auth/me", Some(token)).send().await.unwrap()
}

async fn assert_rejected(app: &TestApp, token: &str, why: &str) {
    let response = me(app, token).await;
    assert_eq!(response.status(), 401, "{why}: accepted");
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer"), "{why}: {challenge}");
    assert_problem(response, 401, "/problems/unauthorized").await;
}

#[tokio::test]
async fn logging_in_gives_a_bearer_token_that_identifies_the_caller() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"username": "Admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let who: Value = me(&app, body["access_token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(who, json!({"kind": "user", "id": 1, "name": "admin", "role": "admin", "partner_ids": []}));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let wrong = login(&app.client, &app.address, "admin", "not the password").await.unwrap_err();
    let wrong = assert_problem(wrong, 401, "/problems/unauthorized").await;
    let unknown = login(&app.client, &app.address, "nobody", "not the password").await.unwrap_err();
    let unknown = assert_problem(unknown, 401, "/problems/unauthorized").await;
    assert_eq!(wrong["detail"], unknown["detail"]);
    assert_eq!(wrong["detail"], "invalid username or password");
}

#[tokio::test]
async fn every_kind_of_bad_token_is_rejected_with_401() {
    let app = spawn_app().await;
    assert_eq!(
        me(&app, &sign(&claims(), Algorithm::HS256, JWT_SECRET)).await.status(),
        200,
        "a good token is accepted"
    );

    assert_rejected(&app, "not-a-jwt", "malformed").await;
    assert_rejected(&app, "a.b.c", "garbage segments").await;
    assert_rejected(
        &app,
        &sign(&claims(), Algorithm::HS256, "another-secret-another-secret-0123456"),
        "wrong signature",
    )
    .await;
    assert_rejected(&app, &sign(&claims(), Algorithm::HS512, JWT_SECRET), "other algorithm").await;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
    assert_rejected(&app, &format!("{header}.{payload}."), "alg none").await;

    let tweak = |key: &str, value: Value| {
        let mut c = claims();
        c[key] = value;
        sign(&c, Algorithm::HS256, JWT_SECRET)
    };
    assert_rejected(&app, &tweak("exp", json!(now() - 120)), "expired").await;
    assert_rejected(&app, &tweak("nbf", json!(now() + 600)), "not yet valid").await;
    assert_rejected(&app, &tweak("iss", json!("someone-else")), "wrong issuer").await;
    assert_rejected(&app, &tweak("aud", json!("another-api")), "wrong audience").await;
    assert_rejected(&app, &tweak("sub", json!("user:999")), "unknown user").await;
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_rejected(&app, &sign(&no_exp, Algorithm::HS256, JWT_SECRET), "no expiry").await;

    let basic =
        app.client.get(app.url("/api/v1/auth/me")).header("Authorization", "Basic YWRtaW46eA==").send().await.unwrap();
    assert_problem(basic, 401, "/problems/unauthorized").await;
}

#[tokio::test]
async fn a_bad_token_is_refused_even_where_anonymous_reading_is_allowed() {
    let app = spawn_app().await;
    assert_eq!(app.get("/api/v1/partners").await.status(), 200);
    let response = app.request(Method::GET, "/api/v1/partners", Some("garbage")).send().await.unwrap();
    assert_problem(response, 401, "/problems/unauthorized").await;
}

#[tokio::test]
async fn protected_routes_need_a_token() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/api/v1/users"),
        (Method::GET, "/api/v1/service-tokens"),
        (Method::GET, "/api/v1/auth/me"),
        (Method::POST, "/api/v1/partners"),
        (Method::DELETE, "/api/v1/partners/1"),
    ] {
        let response =
            app.request(method.clone(), path, None).json(&json!({"name": "X", "kind": "other"})).send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="ikz-api""#, "{method} {path}");
        assert_problem(response, 401, "/problems/unauthorized").await;
    }
}

#[tokio::test]
async fn first_start_creates_the_secret_and_one_admin_and_a_restart_keeps_both() {
    let db = TestDb::new();
    let mut config = test_config(&db);
    config.jwt_secret = None;
    let first = start(&config);
    let client = reqwest::Client::new();
    let token = login(&client, &first, "admin", ADMIN_PASSWORD).await.expect("bootstrap admin");

    // A second instance on the same database (or a restart) finds both already there.
    config.bootstrap_admin_password = Some("a-different-password".into());
    let second = start(&config);
    let who = client.get(format!("{second}/api/v1/auth/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(who.status(), 200, "a token of the first instance works on the second");
    assert!(login(&client, &second, "admin", "a-different-password").await.is_err(), "no second admin was made");
    let users: Value =
        client.get(format!("{second}/api/v1/users")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(users["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_username() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let failed = login(&app.client, &app.address, "admin", "wrong password").await.unwrap_err();
        assert_eq!(failed.status(), 401);
    }
    let throttled = login(&app.client, &app.address, "admin", ADMIN_PASSWORD).await.unwrap_err();
    let retry_after: i64 = throttled.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_problem(throttled, 429, "/problems/too-many-requests").await;
    // Another account from the same address is not affected yet.
    app.token_for("maria", "viewer", &[]).await;
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_address() {
    let app = spawn_app().await;
    for i in 0..20 {
        let failed = login(&app.client, &app.address, &format!("guess{i}"), "wrong password").await.unwrap_err();
        assert_eq!(failed.status(), 401);
    }
    let throttled = login(&app.client, &app.address, "admin", ADMIN_PASSWORD).await.unwrap_err();
    assert_problem(throttled, 429, "/problems/too-many-requests").await;
}

#[tokio::test]
async fn request_ids_are_kept_or_made_and_quoted_in_problems() {
    let app = spawn_app().await;
    let given =
        app.client.get(app.url("/api/v1/partners/999")).header("X-Request-Id", "sync-job-42").send().await.unwrap();
    assert_eq!(given.headers()["x-request-id"], "sync-job-42");
    let problem = assert_problem(given, 404, "/problems/not-found").await;
    assert_eq!(problem["request_id"], "sync-job-42");
    let made_id = |response: &reqwest::Response| {
        let text = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        let id = uuid::Uuid::parse_str(&text).unwrap_or_else(|_| panic!("{text} is not a UUID"));
        assert_eq!(text, id.hyphenated().to_string(), "lower case, hyphenated");
        assert_eq!(id.get_version(), Some(uuid::Version::Random), "{text} is a random (version 4) UUID");
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        id
    };
    let first = made_id(&app.get("/health/live").await);
    let second = made_id(&app.get("/health/live").await);
    assert_ne!(first, second, "each request gets its own id");
}

#[tokio::test]
async fn cors_is_off_by_default_and_on_for_configured_origins() {
    let app = spawn_app().await;
    let preflight = |app: &TestApp| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/partners"))
            .header("Origin", "https://ikz.example.org")
            .header("Access-Control-Request-Method", "POST")
            .send()
    };
    let off = preflight(&app).await.unwrap();
    assert!(!off.headers().contains_key("access-control-allow-origin"));

    let app = crate::helpers::spawn_app_with(|c| c.cors_origins = vec!["https://ikz.example.org".into()]).await;
    let on = preflight(&app).await.unwrap();
    assert_eq!(on.headers()["access-control-allow-origin"], "https://ikz.example.org");
    let foreign =
        app.client.get(app.url("/api/v1/partners")).header("Origin", "https://evil.example.com").send().await.unwrap();
    assert!(!foreign.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn without_a_token_even_an_invalid_body_gets_401_and_learns_no_rules() {
    let app = spawn_app().await;
    for path in ["/api/v1/partners", "/api/v1/measures", "/api/v1/contacts", "/api/v1/cooperations/1/members"] {
        let response =
            app.request(Method::POST, path, None).json(&json!({"name": "", "colour": 1})).send().await.unwrap();
        let problem = assert_problem(response, 401, "/problems/unauthorized").await;
        assert!(problem.get("errors").is_none(), "{path}: {problem}");
    }
}
