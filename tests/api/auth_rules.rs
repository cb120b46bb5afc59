//! Who may do what: roles, partner scopes, accounts, service tokens, the external provider, the CLI.

use std::io::Write;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, login, spawn_app, spawn_app_with};

async fn partner(app: &TestApp, name: &str) -> i64 {
    app.create_partner(json!({"name": name, "kind": "municipality"})).await["id"].as_i64().unwrap()
}

async fn status(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> u16 {
    app.request(method, path, Some(token)).json(&body).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn viewers_read_but_do_not_write() {
    let app = spawn_app().await;
    let id = partner(&app, "Kamenz").await;
    let viewer = app.token_for("vera", "viewer", &[]).await;
    let path = format!("/api/v1/partners/{id}");
    assert_eq!(status(&app, Method::GET, &path, &viewer, json!(null)).await, 200);
    let refused =
        app.request(Method::PATCH, &path, Some(&viewer)).json(&json!({"population": 1})).send().await.unwrap();
    let problem = assert_problem(refused, 403, "/problems/forbidden").await;
    assert!(problem["detail"].as_str().unwrap().contains("editor"), "{problem}");
    assert_eq!(
        status(&app, Method::POST, "/api/v1/partners", &viewer, json!({"name": "X", "kind": "other"})).await,
        403
    );
    assert_eq!(status(&app, Method::DELETE, &path, &viewer, json!(null)).await, 403);
    assert_eq!(status(&app, Method::GET, "/api/v1/users", &viewer, json!(null)).await, 403);
}

#[tokio::test]
async fn editors_write_only_their_own_partners() {
    let app = spawn_app().await;
    let own = partner(&app, "Königsbrück").await;
    let other = partner(&app, "Kamenz").await;
    let editor = app.token_for("eddi", "editor", &[own]).await;

    let patch = |id: i64| {
        app.request(Method::PATCH, &format!("/api/v1/partners/{id}"), Some(&editor)).json(&json!({"population": 4400}))
    };
    assert_eq!(patch(own).send().await.unwrap().status(), 200);
    let refused = assert_problem(patch(other).send().await.unwrap(), 403, "/problems/forbidden").await;
    assert!(refused["detail"].as_str().unwrap().contains(&other.to_string()), "{refused}");
    let unchanged: Value = app.get(&format!("/api/v1/partners/{other}")).await.json().await.unwrap();
    assert_eq!(unchanged["population"], Value::Null);

    assert_eq!(
        status(&app, Method::POST, "/api/v1/partners", &editor, json!({"name": "X", "kind": "other"})).await,
        403
    );
    assert_eq!(status(&app, Method::DELETE, &format!("/api/v1/partners/{own}"), &editor, json!(null)).await, 403);
}

#[tokio::test]
async fn without_public_read_anonymous_callers_read_nothing() {
    let app = spawn_app_with(|c| c.public_read = false).await;
    assert_problem(app.get("/api/v1/partners").await, 401, "/problems/unauthorized").await;
    let viewer = app.token_for("vera", "viewer", &[]).await;
    assert_eq!(status(&app, Method::GET, "/api/v1/partners", &viewer, json!(null)).await, 200);
}

#[tokio::test]
async fn admins_manage_users_whose_passwords_are_never_shown() {
    let app = spawn_app().await;
    let id = partner(&app, "Kamenz").await;
    let body = json!({"username": "Maria.M", "password": "long enough password", "display_name": "Maria M",
                      "email": "maria@kamenz.example.org", "role": "editor", "partner_ids": [id]});
    let response = app.post_json("/api/v1/users", &body).await;
    assert_eq!(response.status(), 201);
    let text = response.text().await.unwrap();
    assert!(!text.contains("long enough password") && !text.contains("argon2"), "{text}");
    let created: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(created["username"], "maria.m");
    assert_eq!(created["partner_ids"], json!([id]));
    assert!(login(&app.client, &app.address, "maria.m", "long enough password").await.is_ok());

    let path = format!("/api/v1/users/{}", created["id"]);
    let changed: Value = app.patch_json(&path, &json!({"role": "viewer", "email": null})).await.json().await.unwrap();
    assert_eq!((changed["role"].clone(), changed["email"].clone()), (json!("viewer"), Value::Null));
    assert_eq!(app.patch_json(&path, &json!({"password": "another long password"})).await.status(), 200);
    assert!(login(&app.client, &app.address, "maria.m", "another long password").await.is_ok());
    assert!(login(&app.client, &app.address, "maria.m", "long enough password").await.is_err(), "old password");

    let duplicate = app
        .post_json(
            "/api/v1/users",
            &json!({"username": "maria.m", "password": "long enough password", "role": "viewer"}),
        )
        .await;
    assert_problem(duplicate, 409, "/problems/conflict").await;
    let invalid = app
        .post_json(
            "/api/v1/users",
            &json!({"username": "x", "password": "short", "role": "boss", "partner_ids": [999]}),
        )
        .await;
    let problem = assert_problem(invalid, 422, "/problems/validation").await;
    assert_eq!(error_fields(&problem), ["password", "role", "username"]);
    let unknown_partner = app
        .post_json(
            "/api/v1/users",
            &json!({"username": "otto", "password": "long enough password", "role": "editor", "partner_ids": [999]}),
        )
        .await;
    assert_eq!(error_fields(&assert_problem(unknown_partner, 422, "/problems/validation").await), ["partner_ids[0]"]);
    let no_password = app.post_json("/api/v1/users", &json!({"username": "otto", "role": "viewer"})).await;
    assert_eq!(error_fields(&assert_problem(no_password, 422, "/problems/validation").await), ["password"]);
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_removed() {
    let app = spawn_app().await;
    assert_problem(app.patch_json("/api/v1/users/1", &json!({"active": false})).await, 409, "/problems/conflict").await;
    assert_problem(app.patch_json("/api/v1/users/1", &json!({"role": "viewer"})).await, 409, "/problems/conflict")
        .await;
    assert_problem(app.delete("/api/v1/users/1").await, 409, "/problems/conflict").await;
    assert!(login(&app.client, &app.address, "admin", crate::helpers::ADMIN_PASSWORD).await.is_ok());
}

#[tokio::test]
async fn deactivating_a_user_stops_its_tokens_at_once() {
    let app = spawn_app().await;
    let token = app.token_for("vera", "viewer", &[]).await;
    assert_eq!(status(&app, Method::GET, "/api/v1/auth/me", &token, json!(null)).await, 200);
    let users: Value = app.as_admin(Method::GET, "/api/v1/users").send().await.unwrap().json().await.unwrap();
    let vera = users["items"].as_array().unwrap().iter().find(|u| u["username"] == "vera").unwrap()["id"].clone();
    assert_eq!(app.patch_json(&format!("/api/v1/users/{vera}"), &json!({"active": false})).await.status(), 200);
    let refused = app.request(Method::GET, "/api/v1/auth/me", Some(&token)).send().await.unwrap();
    assert_problem(refused, 401, "/problems/unauthorized").await;
    assert!(login(&app.client, &app.address, "vera", "vera-password-123").await.is_err());
}

#[tokio::test]
async fn service_tokens_are_shown_once_act_in_scope_and_die_when_revoked() {
    let app = spawn_app().await;
    let own = partner(&app, "Königsbrück").await;
    let other = partner(&app, "Kamenz").await;
    let created = app
        .post_json("/api/v1/service-tokens", &json!({"name": "OParl sync", "role": "editor", "partner_ids": [own]}))
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let value = created["token"].as_str().unwrap().to_owned();
    assert!(value.starts_with("ikz_st_"));

    let path = format!("/api/v1/service-tokens/{}", created["id"]);
    let shown: Value = app.as_admin(Method::GET, &path).send().await.unwrap().json().await.unwrap();
    assert!(shown.get("token").is_none(), "the value is shown only once: {shown}");
    assert_eq!(shown["partner_ids"], json!([own]));

    let who: Value =
        app.request(Method::GET, "/api/v1/auth/me", Some(&value)).send().await.unwrap().json().await.unwrap();
    assert_eq!((who["kind"].clone(), who["role"].clone()), (json!("service_token"), json!("editor")));
    let patch = |id: i64| {
        app.request(Method::PATCH, &format!("/api/v1/partners/{id}"), Some(&value)).json(&json!({"population": 1}))
    };
    assert_eq!(patch(own).send().await.unwrap().status(), 200);
    assert_eq!(patch(other).send().await.unwrap().status(), 403);

    assert_eq!(app.delete(&path).await.status(), 204);
    assert_problem(patch(own).send().await.unwrap(), 401, "/problems/unauthorized").await;
    let revoked: Value = app.as_admin(Method::GET, &path).send().await.unwrap().json().await.unwrap();
    assert!(revoked["revoked_at"].is_string());

    let guessed = app.request(Method::GET, "/api/v1/auth/me", Some("ikz_st_guessed")).send().await.unwrap();
    assert_problem(guessed, 401, "/problems/unauthorized").await;
    let past = app
        .post_json(
            "/api/v1/service-tokens",
            &json!({"name": "x", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(error_fields(&assert_problem(past, 422, "/problems/validation").await), ["expires_at"]);
}

/// An EC P-256 key pair as (private PEM, public PEM, x, y) with base64url coordinates.
fn ec_key_pair() -> (Vec<u8>, Vec<u8>, String, String) {
    use base64::Engine;
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = EcKey::generate(&group).unwrap();
    let private = openssl::pkey::PKey::from_ec_key(key.clone()).unwrap().private_key_to_pem_pkcs8().unwrap();
    let public = key.public_key_to_pem().unwrap();
    let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
    key.public_key().affine_coordinates(&group, &mut x, &mut y, &mut BigNumContext::new().unwrap()).unwrap();
    let b64 = |n: &BigNum| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.to_vec_padded(32).unwrap());
    (private, public, b64(&x), b64(&y))
}

fn external_token(private_pem: &[u8], kid: Option<&str>, claims: Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_pem(private_pem).unwrap()).unwrap()
}

fn provider_claims(extra: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({"iss": "https://sso.example.org/realms/ikz", "aud": "ikz-api", "sub": "kc-4711", "iat": now, "exp": now + 300});
    claims.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    claims
}

#[tokio::test]
async fn tokens_of_the_external_provider_map_role_and_partners_from_claims() {
    let (private, public, _, _) = ec_key_pair();
    let mut key_file = tempfile::NamedTempFile::new().unwrap();
    key_file.write_all(&public).unwrap();
    let key_path = key_file.path().to_owned();
    let app = spawn_app_with(move |c| {
        c.oidc = Some(ikz_api::config::OidcConfig {
            issuer: "https://sso.example.org/realms/ikz".into(),
            audience: "ikz-api".into(),
            public_key_file: Some(key_path),
            jwks_file: None,
            role_claim: "realm_access.roles".into(),
            partners_claim: "ikz_partner_ids".into(),
        })
    })
    .await;
    let own = partner(&app, "Königsbrück").await;
    let editor = external_token(
        &private,
        None,
        provider_claims(json!({"realm_access": {"roles": ["offline_access", "editor"]}, "ikz_partner_ids": [own]})),
    );
    let who: Value =
        app.request(Method::GET, "/api/v1/auth/me", Some(&editor)).send().await.unwrap().json().await.unwrap();
    assert_eq!(who, json!({"kind": "external", "id": null, "name": "kc-4711", "role": "editor", "partner_ids": [own]}));
    let patch = |token: &str| {
        app.request(Method::PATCH, &format!("/api/v1/partners/{own}"), Some(token))
            .json(&json!({"population": 2}))
            .send()
    };
    assert_eq!(patch(&editor).await.unwrap().status(), 200);

    let no_role = external_token(&private, None, provider_claims(json!({})));
    assert_problem(patch(&no_role).await.unwrap(), 403, "/problems/forbidden").await;
    let wrong_issuer = external_token(&private, None, provider_claims(json!({"iss": "https://evil.example.com"})));
    assert_problem(patch(&wrong_issuer).await.unwrap(), 401, "/problems/unauthorized").await;
    let wrong_audience = external_token(&private, None, provider_claims(json!({"aud": "other"})));
    assert_problem(patch(&wrong_audience).await.unwrap(), 401, "/problems/unauthorized").await;
    let (foreign_private, _, _, _) = ec_key_pair();
    let forged = external_token(&foreign_private, None, provider_claims(json!({"realm_access": {"roles": ["admin"]}})));
    assert_problem(patch(&forged).await.unwrap(), 401, "/problems/unauthorized").await;
}

/// An app that trusts the keys of `jwks` (role from `ikz_role`); keep the file while it runs.
async fn app_trusting(jwks: &Value) -> (TestApp, tempfile::NamedTempFile) {
    let mut jwks_file = tempfile::NamedTempFile::new().unwrap();
    jwks_file.write_all(jwks.to_string().as_bytes()).unwrap();
    let path = jwks_file.path().to_owned();
    let app = spawn_app_with(move |c| {
        c.oidc = Some(ikz_api::config::OidcConfig {
            issuer: "https://sso.example.org/realms/ikz".into(),
            audience: "ikz-api".into(),
            public_key_file: None,
            jwks_file: Some(path),
            role_claim: "ikz_role".into(),
            partners_claim: "ikz_partner_ids".into(),
        })
    })
    .await;
    (app, jwks_file)
}

#[tokio::test]
async fn a_jwks_file_selects_the_key_by_its_id() {
    let (private, _, x, y) = ec_key_pair();
    let jwks =
        json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": "key-1", "use": "sig", "alg": "ES256"}]});
    let (app, _jwks_file) = app_trusting(&jwks).await;
    let viewer = external_token(&private, Some("key-1"), provider_claims(json!({"ikz_role": "viewer"})));
    assert_eq!(app.request(Method::GET, "/api/v1/users", Some(&viewer)).send().await.unwrap().status(), 403);
    let who: Value =
        app.request(Method::GET, "/api/v1/auth/me", Some(&viewer)).send().await.unwrap().json().await.unwrap();
    assert_eq!(who["role"], "viewer");
    let unknown_kid = external_token(&private, Some("key-2"), provider_claims(json!({"ikz_role": "viewer"})));
    let response = app.request(Method::GET, "/api/v1/auth/me", Some(&unknown_kid)).send().await.unwrap();
    assert_problem(response, 401, "/problems/unauthorized").await;
}

#[tokio::test]
async fn the_user_command_creates_and_deactivates_accounts() {
    let app = spawn_app().await;
    let run = |args: &[&str], stdin: &str| cli(&app._db.url(), args, stdin);
    assert!(run(&["user", "create", "bob", "--role", "viewer"], "bobs long password\n"));
    let token = login(&app.client, &app.address, "bob", "bobs long password").await.expect("bob can log in");
    assert!(!run(&["user", "create", "bob2", "--role", "viewer"], "short\n"), "a short password is refused");
    assert!(run(&["user", "set-password", "bob"], "a new long password\n"));
    assert!(login(&app.client, &app.address, "bob", "a new long password").await.is_ok());
    assert!(run(&["user", "deactivate", "bob"], ""));
    let refused = app.request(Method::GET, "/api/v1/auth/me", Some(&token)).send().await.unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test]
async fn accounts_can_be_created_before_the_first_start() {
    // A fresh database without the bootstrap admin: creating an editor removes no admin.
    let db = crate::helpers::TestDb::new();
    let run = |args: &[&str], stdin: &str| cli(&db.url(), args, stdin);
    assert!(run(&["migrate"], ""));
    assert!(run(&["user", "create", "carla", "--role", "editor"], "carlas long password\n"));
    assert!(run(&["user", "create", "root", "--role", "admin"], "roots long password\n"));
    assert!(run(&["user", "set-password", "carla"], "another long password\n"));
}

/// Runs the `ikz-api` command on the database at `url` with `stdin`; true if it succeeded.
fn cli(url: &str, args: &[&str], stdin: &str) -> bool {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ikz-api"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait().unwrap().success()
}

fn signed(private_pem: &[u8], header: &Value, claims: &Value) -> String {
    use base64::Engine;
    // Built by hand so that the header may carry members jsonwebtoken's `Header` has no field for.
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let message = format!("{}.{}", b64(header), b64(claims));
    let key = EncodingKey::from_ec_pem(private_pem).unwrap();
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::ES256).unwrap();
    format!("{message}.{signature}")
}

#[tokio::test]
async fn external_tokens_need_a_subject_no_unknown_critical_header_and_find_their_key_without_kid() {
    let ((first, _, x1, y1), (second, _, x2, y2)) = (ec_key_pair(), ec_key_pair());
    let jwks = json!({"keys": [
        {"kty": "EC", "crv": "P-256", "x": x1, "y": y1, "use": "sig", "alg": "ES256"},
        {"kty": "EC", "crv": "P-256", "x": x2, "y": y2, "use": "sig", "alg": "ES256"},
    ]});
    let (app, _jwks_file) = app_trusting(&jwks).await;
    let now = chrono::Utc::now().timestamp();
    let claims = |sub: &str| json!({"iss": "https://sso.example.org/realms/ikz", "aud": "ikz-api", "sub": sub, "iat": now, "exp": now + 300, "ikz_role": "viewer"});
    let me = |token: String| app.request(Method::GET, "/api/v1/auth/me", Some(&token)).send();
    let plain = json!({"alg": "ES256", "typ": "JWT"});
    for key in [&first, &second] {
        assert_eq!(me(signed(key, &plain, &claims("kc-1"))).await.unwrap().status(), 200, "either key, no kid");
    }
    let empty_subject = me(signed(&first, &plain, &claims(""))).await.unwrap();
    assert_problem(empty_subject, 401, "/problems/unauthorized").await;
    let critical = json!({"alg": "ES256", "typ": "JWT", "crit": ["exp-policy"], "exp-policy": "strict"});
    let response = me(signed(&second, &critical, &claims("kc-1"))).await.unwrap();
    let problem = assert_problem(response, 401, "/problems/unauthorized").await;
    assert!(problem["detail"].as_str().unwrap().contains("crit"), "{problem}");
}
