//! Attacks a hostile or careless caller can make, each answered with a clear problem and
//! without harm: oversized work, characters or dates the databases cannot hold, races on the
//! login throttle, stale tokens after a password change, self-lockout, probing of ids.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, assert_problem, error_fields, login, spawn_app, spawn_app_with};

async fn partner(app: &TestApp, name: &str) -> i64 {
    app.create_partner(json!({"name": name, "kind": "municipality"})).await["id"].as_i64().unwrap()
}

async fn cooperation_with_member(app: &TestApp, partner_id: i64) -> i64 {
    let response = app.post_json("/api/v1/cooperations", &json!({"name": "IKZ Probe"})).await;
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let member = json!({"partner_id": partner_id, "role": "member"});
    assert_eq!(app.post_json(&format!("/api/v1/cooperations/{id}/members"), &member).await.status(), 201);
    id
}

/// One of the fields of action every database starts with.
async fn field(app: &TestApp) -> i64 {
    let fields: Value = app.get("/api/v1/fields").await.json().await.unwrap();
    fields["items"][0]["id"].as_i64().expect("the migrations bring the standard fields")
}

#[tokio::test]
async fn a_body_with_thousands_of_unknown_fields_is_refused_with_a_bounded_list() {
    let app = spawn_app().await;
    let mut body = serde_json::Map::new();
    body.insert("username".into(), json!("admin"));
    body.insert("password".into(), json!("wrong"));
    for i in 0..16_000 {
        body.insert(format!("k{i}"), json!(0));
    }
    let response = app.client.post(app.url("/api/v1/auth/token")).json(&Value::Object(body)).send().await.unwrap();
    let problem = assert_problem(response, 422, "/problems/validation").await;
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 51, "50 named, the rest counted");
    assert_eq!(errors[0]["field"], "k0");
    assert_eq!(errors[0]["code"], "unknown_field");
    assert!(errors[0]["message"].as_str().unwrap().contains("`username`"), "{}", errors[0]);
    assert_eq!(errors[50]["message"], "15950 more unknown fields");
    // Nothing was counted against the account: the body never reached the password check.
    login(&app.client, &app.address, "admin", ADMIN_PASSWORD).await.expect("admin still logs in");
}

#[tokio::test]
async fn a_query_with_thousands_of_repeated_pairs_names_each_parameter_once() {
    let app = spawn_app().await;
    let query: Vec<String> =
        (0..5_000).map(|i| if i % 2 == 0 { "colour=red".into() } else { "size=xl".into() }).collect();
    let response = app.get(&format!("/api/v1/partners?{}", query.join("&"))).await;
    let problem = assert_problem(response, 400, "/problems/invalid-parameter").await;
    assert_eq!(error_fields(&problem), ["colour", "size"]);
}

#[tokio::test]
async fn a_nul_character_is_refused_in_every_resource_and_in_queries() {
    let app = spawn_app().await;
    let own = partner(&app, "Königsbrück").await;
    let field_id = field(&app).await;
    let cooperation = cooperation_with_member(&app, own).await;
    let bodies = [
        ("/api/v1/partners", json!({"name": "Nul\u{0}stadt", "kind": "municipality"}), "name"),
        ("/api/v1/fields", json!({"key": "it", "name_de": "IT\u{0}", "name_en": "IT"}), "name_de"),
        ("/api/v1/cooperations", json!({"name": "IKZ\u{0}"}), "name"),
        (
            "/api/v1/measures",
            json!({"cooperation_id": cooperation, "field_id": field_id, "title": "x", "council_refs": ["https://a.example/\u{0}"]}),
            "council_refs[0]",
        ),
        ("/api/v1/contacts", json!({"partner_id": own, "name": "Max\u{0}Mustermann"}), "name"),
        ("/api/v1/users", json!({"username": "nul", "password": "a long password\u{0}", "role": "viewer"}), "password"),
        ("/api/v1/service-tokens", json!({"name": "sync\u{0}", "role": "viewer"}), "name"),
    ];
    for (path, body, field) in bodies {
        let problem = assert_problem(app.post_json(path, &body).await, 422, "/problems/validation").await;
        assert_eq!(error_fields(&problem), [field], "{path}");
        assert_eq!(problem["errors"][0]["code"], "nul_character", "{path}");
    }
    let patch = app.patch_json(&format!("/api/v1/partners/{own}"), &json!({"description": "a\u{0}b"})).await;
    assert_eq!(error_fields(&assert_problem(patch, 422, "/problems/validation").await), ["description"]);
    let login =
        app.client.post(app.url("/api/v1/auth/token")).json(&json!({"username": "ad\u{0}min", "password": "x"}));
    assert_problem(login.send().await.unwrap(), 422, "/problems/validation").await;

    for path in ["/api/v1/partners?q=%00", "/api/v1/measures?q=a%00b", "/api/v1/contacts?q=%00"] {
        let response = app.as_admin(Method::GET, path).send().await.unwrap();
        assert_eq!(error_fields(&assert_problem(response, 400, "/problems/invalid-parameter").await), ["q"], "{path}");
    }
    use base64::Engine;
    let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"s":"name","k":"a\u0000","i":1}"#);
    let response = app.get(&format!("/api/v1/partners?cursor={cursor}")).await;
    assert_problem(response, 400, "/problems/invalid-cursor").await;
    // Nothing of it was stored.
    let partners: Value = app.get("/api/v1/partners").await.json().await.unwrap();
    assert_eq!(partners["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn dates_outside_the_years_0001_to_9999_are_refused_wherever_a_date_is_written() {
    let app = spawn_app().await;
    let own = partner(&app, "Königsbrück").await;
    let field_id = field(&app).await;
    let cooperation = cooperation_with_member(&app, own).await;
    for date in ["-4714-11-24", "0000-12-31", "+10000-01-01"] {
        let cases = [
            ("/api/v1/cooperations".to_owned(), json!({"name": "IKZ", "started_on": date}), "started_on"),
            (
                "/api/v1/measures".to_owned(),
                json!({"cooperation_id": cooperation, "field_id": field_id, "title": "x", "planned_end": date}),
                "planned_end",
            ),
            (
                format!("/api/v1/cooperations/{cooperation}/members"),
                json!({"partner_id": partner(&app, &format!("P {date}")).await, "role": "member", "joined_on": date}),
                "joined_on",
            ),
            (
                "/api/v1/service-tokens".to_owned(),
                json!({"name": "sync", "role": "viewer", "expires_at": format!("{date}T00:00:00Z")}),
                "expires_at",
            ),
        ];
        for (path, body, field) in cases {
            let problem = assert_problem(app.post_json(&path, &body).await, 422, "/problems/validation").await;
            assert_eq!(error_fields(&problem), [field], "{path} {date}: {problem}");
        }
    }
    let boundary = json!({"name": "IKZ Grenzfall", "started_on": "0001-01-01", "ended_on": "9999-12-31"});
    assert_eq!(app.post_json("/api/v1/cooperations", &boundary).await.status(), 201);
}

#[tokio::test]
async fn a_service_token_that_expires_in_the_last_year_the_api_accepts_works_from_the_start() {
    let app = spawn_app().await;
    let body = json!({"name": "long-lived sync", "role": "viewer", "expires_at": "9999-12-31T23:59:59Z"});
    let created: Value = app.post_json("/api/v1/service-tokens", &body).await.json().await.unwrap();
    let token = created["token"].as_str().expect("the token value is shown once");
    let me = app.request(Method::GET, "/api/v1/auth/me", Some(token)).send().await.unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn parallel_wrong_guesses_for_one_account_are_all_counted() {
    let app = spawn_app().await;
    let guesses = (0..12).map(|_| login(&app.client, &app.address, "admin", "wrong password"));
    let answers = futures_util::future::join_all(guesses).await;
    let statuses: Vec<u16> = answers.into_iter().map(|a| a.unwrap_err().status().as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 7, "{statuses:?}");
    let right = login(&app.client, &app.address, "admin", ADMIN_PASSWORD).await.unwrap_err();
    assert_eq!(right.status(), 429, "the right password waits for the window too");
}

#[tokio::test]
async fn a_password_change_ends_older_tokens_and_hands_the_changer_a_fresh_one() {
    let app = spawn_app().await;
    let me = |token: &str| app.request(Method::GET, "/api/v1/auth/me", Some(token)).send();
    let viewer = app.token_for("vera", "viewer", &[]).await;
    let vera: Value = me(&viewer).await.unwrap().json().await.unwrap();
    let vera_id = vera["id"].as_i64().unwrap();
    let second_session = login(&app.client, &app.address, "vera", "vera-password-123").await.unwrap();

    // The account changes its own password.
    let changed = app
        .request(Method::PATCH, &format!("/api/v1/users/{vera_id}"), Some(&viewer))
        .json(&json!({"password": "a brand new password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    let fresh = changed["access_token"]["access_token"].as_str().expect("a fresh token").to_owned();
    for stale in [&viewer, &second_session] {
        assert_problem(me(stale).await.unwrap(), 401, "/problems/unauthorized").await;
    }
    assert_eq!(me(&fresh).await.unwrap().status(), 200);
    assert!(login(&app.client, &app.address, "vera", "vera-password-123").await.is_err());
    login(&app.client, &app.address, "vera", "a brand new password").await.expect("the new password works");

    // An account may change only its own name and password, not its role.
    let promote = app
        .request(Method::PATCH, &format!("/api/v1/users/{vera_id}"), Some(&fresh))
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_problem(promote, 403, "/problems/forbidden").await;

    // An admin changing someone else's password ends that account's tokens; the admin's stay.
    let other = app.token_for("otto", "viewer", &[]).await;
    let otto_id = me(&other).await.unwrap().json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let reset = app.patch_json(&format!("/api/v1/users/{otto_id}"), &json!({"password": "reset by the admin"})).await;
    let reset: Value = reset.json().await.unwrap();
    assert!(reset.get("access_token").is_none(), "only the changer of their own password gets a token: {reset}");
    assert_problem(me(&other).await.unwrap(), 401, "/problems/unauthorized").await;
    assert_eq!(me(&app.admin_token).await.unwrap().status(), 200);
}

#[tokio::test]
async fn an_admin_cannot_demote_deactivate_or_delete_their_own_account() {
    let app = spawn_app().await;
    let me: Value = app.as_admin(Method::GET, "/api/v1/auth/me").send().await.unwrap().json().await.unwrap();
    let id = me["id"].as_i64().unwrap();
    // A second admin exists, so "the last admin" is not what refuses these.
    app.token_for("second-admin", "admin", &[]).await;
    for change in [json!({"role": "editor"}), json!({"active": false})] {
        let response = app.patch_json(&format!("/api/v1/users/{id}"), &change).await;
        assert_problem(response, 409, "/problems/conflict").await;
    }
    assert_problem(app.delete(&format!("/api/v1/users/{id}")).await, 409, "/problems/conflict").await;
    let still: Value =
        app.as_admin(Method::GET, &format!("/api/v1/users/{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!((still["role"].as_str(), still["active"].as_bool()), (Some("admin"), Some(true)));
}

#[tokio::test]
async fn without_public_read_an_anonymous_caller_cannot_tell_existing_ids_from_missing_ones() {
    let app = spawn_app_with(|c| c.public_read = false).await;
    let own = partner(&app, "Königsbrück").await;
    let existing = cooperation_with_member(&app, own).await;
    let client = &app.client;
    for id in [existing, 999_999] {
        let reads = [format!("/api/v1/cooperations/{id}"), format!("/api/v1/cooperations/{id}/measures")];
        for path in reads {
            assert_problem(app.get(&path).await, 401, "/problems/unauthorized").await;
        }
        let patch = client
            .patch(app.url(&format!("/api/v1/cooperations/{id}")))
            .json(&json!({"name": "Übernommen"}))
            .send()
            .await
            .unwrap();
        assert_problem(patch, 401, "/problems/unauthorized").await;
        let delete = client.delete(app.url(&format!("/api/v1/cooperations/{id}/members/{own}"))).send().await.unwrap();
        assert_problem(delete, 401, "/problems/unauthorized").await;
    }
}

#[tokio::test]
async fn an_integer_written_with_a_zero_fraction_is_taken_as_the_integer_it_is() {
    let app = spawn_app().await;
    let population = json!({"name": "Ganzzahl", "kind": "municipality", "population": 3186.0});
    let created = app.create_partner(population).await;
    assert_eq!(created["population"], 3186);
    let id = created["id"].as_i64().unwrap();
    let patched = app.patch_json(&format!("/api/v1/partners/{id}"), &json!({"population": 4400.0})).await;
    assert_eq!(patched.json::<Value>().await.unwrap()["population"], 4400);
    let fraction = app.patch_json(&format!("/api/v1/partners/{id}"), &json!({"population": 4400.5})).await;
    assert_eq!(error_fields(&assert_problem(fraction, 422, "/problems/validation").await), ["population"]);
}

#[tokio::test]
async fn a_service_token_cannot_revoke_itself() {
    let app = spawn_app().await;
    let created: Value = app
        .post_json("/api/v1/service-tokens", &json!({"name": "admin job", "role": "admin"}))
        .await
        .json()
        .await
        .unwrap();
    let (id, token) = (created["id"].as_i64().unwrap(), created["token"].as_str().unwrap().to_owned());
    let own = app.request(Method::DELETE, &format!("/api/v1/service-tokens/{id}"), Some(&token)).send().await.unwrap();
    assert_problem(own, 409, "/problems/conflict").await;
    let me = app.request(Method::GET, "/api/v1/auth/me", Some(&token)).send().await.unwrap();
    assert_eq!(me.status(), 200, "still works");
    assert_eq!(app.delete(&format!("/api/v1/service-tokens/{id}")).await.status(), 204, "another caller may");
}
