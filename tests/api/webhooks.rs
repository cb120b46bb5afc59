//! Webhooks: signed deliveries of the change feed, at least once, in feed order, retried,
//! paused and resumed; and the outbound policy that keeps them off private networks. Every
//! receiver here listens on 127.0.0.1 only.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use ikz_api::db::{AnyConnection, ConnectionManager};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_across_instances, spawn_app_with};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

/// A webhook receiver on 127.0.0.1 that records what it gets and answers `status`.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    fn start() -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(204));
        let (g, s) = (got.clone(), status.clone());
        let server = HttpServer::new(move || {
            let (g, s) = (g.clone(), s.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (g, s) = (g.clone(), s.clone());
                async move {
                    let header = |name: &str| {
                        req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                    };
                    g.lock().unwrap().push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let code = actix_web::http::StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap();
                    HttpResponse::build(code).body("receiver says so")
                }
            }))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Self { url: format!("http://127.0.0.1:{port}/hooks"), got, status }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came (at most 20 s).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            if self.received().len() >= n {
                return self.received();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {} requests, not {n}", self.received().len());
    }
}

async fn create_webhook(app: &TestApp, body: Value) -> Value {
    let response = app.post_json("/api/v1/webhooks", &body).await;
    assert_eq!(response.status(), 201, "{body}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.as_admin(Method::GET, path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Polls `path` until `done` holds for its JSON (at most 20 s).
async fn wait_until(app: &TestApp, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..400 {
        let value = get_json(app, path).await;
        if done(&value) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{path} never reached the expected state: {}", get_json(app, path).await);
}

/// The signature check of the specification, written out independently of the service.
fn signed_by(secret: &str, r: &Received) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

/// Verifies a delivery with the specification's reference library (`standardwebhooks` on PyPI).
/// Without it the check is skipped, unless `IKZ_REQUIRE_STANDARDWEBHOOKS` is set (`.ci/run`
/// installs the library and sets it).
fn verified_by_reference_library(secret: &str, r: &Received) -> Option<bool> {
    let script = r#"
import json, sys
from standardwebhooks import Webhook
secret, msg_id, ts, sig, body = sys.argv[1:6]
Webhook(secret).verify(body, {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig})
print("verified")
"#;
    let has_library = std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_library {
        assert!(
            std::env::var_os("IKZ_REQUIRE_STANDARDWEBHOOKS").is_none(),
            "IKZ_REQUIRE_STANDARDWEBHOOKS is set, but python3 cannot import standardwebhooks"
        );
        eprintln!("note: python3 has no standardwebhooks (pip install standardwebhooks); reference check skipped");
        return None;
    }
    let out = std::process::Command::new("python3")
        .args(["-c", script, secret, &r.id, &r.timestamp, &r.signature, &r.body])
        .output()
        .unwrap();
    Some(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("verified"))
}

fn own_connection(app: &TestApp) -> AnyConnection {
    ConnectionManager::new(&app._db.direct_url()).establish().expect("connect")
}

#[tokio::test]
async fn a_delivery_is_signed_as_standard_webhooks_specifies() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    let webhook = create_webhook(&app, json!({"url": receiver.url, "resources": ["partners"]})).await;
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let shown = get_json(&app, &format!("/api/v1/webhooks/{}", webhook["id"])).await;
    assert!(shown.get("secret").is_none(), "the secret is shown once: {shown}");

    let partner = app.create_partner(json!({"name": "Gemeinde Signiert", "kind": "municipality"})).await;
    let got = receiver.wait_for(1).await;
    let delivery = &got[0];
    let body: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(body["resource"], "partners");
    assert_eq!(body["id"], partner["id"]);
    assert_eq!(body["op"], "created");
    assert!(body["cursor"].is_string() && body.get("record").is_none(), "a thin payload: {body}");
    assert!(delivery.id.starts_with("msg_"), "{delivery:?}");
    let ts: i64 = delivery.timestamp.parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - ts).abs() < 60, "the timestamp is now, in seconds");
    assert!(signed_by(&secret, delivery), "{delivery:?}");
    assert!(!signed_by("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", delivery), "another secret does not verify");
    if let Some(verified) = verified_by_reference_library(&secret, delivery) {
        assert!(verified, "the reference library refuses {delivery:?}");
    }

    // The item is the feed's item for the change.
    let feed: Value =
        app.as_admin(Method::GET, "/api/v1/changes?resource=partners").send().await.unwrap().json().await.unwrap();
    assert_eq!(feed["items"][0], body);
}

#[tokio::test]
async fn deliveries_follow_the_feed_in_order_once_each_and_only_of_their_resources_across_instances() {
    // Every instance's sender competes for the webhook (two or more on PostgreSQL).
    let app = spawn_app_across_instances().await;
    let receiver = Receiver::start();
    create_webhook(&app, json!({"url": receiver.url, "resources": ["fields", "partners"]})).await;
    let mut expected = Vec::new();
    for i in 0..40 {
        let partner = app.create_partner(json!({"name": format!("Gemeinde {i}"), "kind": "other"})).await;
        expected.push(("partners".to_owned(), partner["id"].as_i64().unwrap()));
        // Not subscribed: never delivered.
        app.post_json("/api/v1/cooperations", &json!({"name": format!("IKZ {i}")})).await;
    }
    let got = receiver.wait_for(expected.len()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_all = receiver.received();
    assert_eq!(got_all.len(), got.len(), "nothing more than the subscribed changes");
    let items: Vec<Value> = got_all.iter().map(|r| serde_json::from_str(&r.body).unwrap()).collect();
    let seen: Vec<(String, i64)> =
        items.iter().map(|i| (i["resource"].as_str().unwrap().to_owned(), i["id"].as_i64().unwrap())).collect();
    assert_eq!(seen, expected, "every change once, in feed order");
    let mut ids: Vec<&str> = got_all.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), got_all.len(), "each delivery has its own webhook-id");
}

#[tokio::test]
async fn a_failing_receiver_is_retried_later_and_a_delivery_can_be_sent_again() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    receiver.status.store(503, Ordering::SeqCst);
    let webhook = create_webhook(&app, json!({"url": receiver.url, "resources": ["fields"]})).await;
    let deliveries = format!("/api/v1/webhooks/{}/deliveries", webhook["id"]);
    app.post_json("/api/v1/fields", &json!({"key": "erster", "name_de": "Erster", "name_en": "First"})).await;
    let page = wait_until(&app, &deliveries, |p| p["items"][0]["attempts"] == 1).await;
    let first = &page["items"][0];
    assert_eq!(first["status"], "pending", "{first}");
    assert_eq!(first["last_status"], 503);
    assert!(first["last_error"].as_str().unwrap().contains("503"), "{first}");
    let last: chrono::DateTime<chrono::Utc> = first["last_attempt_at"].as_str().unwrap().parse().unwrap();
    let next: chrono::DateTime<chrono::Utc> = first["next_attempt_at"].as_str().unwrap().parse().unwrap();
    let delay = (next - last).num_milliseconds();
    assert!((2_500..=5_000).contains(&delay), "the first retry comes after 2.5–5 s, not {delay} ms");

    // A later change waits behind the failing one: deliveries keep the feed's order.
    app.post_json("/api/v1/fields", &json!({"key": "zweiter", "name_de": "Zweiter", "name_en": "Second"})).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 1, "nothing overtakes the failing delivery");

    receiver.status.store(200, Ordering::SeqCst);
    let resend = app.as_admin(Method::POST, &format!("{deliveries}/{}/resend", first["id"])).send().await.unwrap();
    assert_eq!(resend.status(), 202);
    let got = receiver.wait_for(3).await;
    let keys: Vec<String> =
        got.iter().map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["id"].to_string()).collect();
    assert_eq!(keys[0], keys[1], "the failed delivery came again");
    assert_ne!(keys[1], keys[2], "then the next one");
    assert_eq!(got[0].id, got[1].id, "the same webhook-id: receivers drop duplicates by it");
    let page =
        wait_until(&app, &deliveries, |p| p["items"].as_array().unwrap().iter().all(|d| d["status"] == "delivered"))
            .await;
    assert_eq!(page["items"][1]["attempts"], 2);
    assert_eq!(page["items"][0]["attempts"], 1);
    let missing = app.as_admin(Method::POST, &format!("{deliveries}/999999/resend")).send().await.unwrap();
    assert_problem(missing, 404, "/problems/not-found").await;
}

#[tokio::test]
async fn a_webhook_failing_for_the_whole_retry_period_is_paused_and_can_be_resumed() {
    let app = spawn_app_with(|c| c.webhook_retry = chrono::Duration::zero()).await;
    let receiver = Receiver::start();
    receiver.status.store(500, Ordering::SeqCst);
    let webhook = create_webhook(&app, json!({"url": receiver.url, "resources": ["partners"]})).await;
    let w = format!("/api/v1/webhooks/{}", webhook["id"]);
    let partner = app.create_partner(json!({"name": "Gemeinde Fehler", "kind": "other"})).await;
    let paused = wait_until(&app, &w, |w| w["paused_reason"] == "failing").await;
    assert_eq!(paused["active"], false);
    let page = get_json(&app, &format!("{w}/deliveries?status=failed")).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["payload"]["id"], partner["id"]);
    // The pause is a change of the webhook, made by the service.
    let feed: Value =
        app.as_admin(Method::GET, "/api/v1/changes?resource=webhooks").send().await.unwrap().json().await.unwrap();
    let last = feed["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["op"].as_str(), last["actor"].as_str()), (Some("updated"), Some("system (webhook delivery)")));

    // Paused: changes queue, nothing is sent.
    app.create_partner(json!({"name": "Gemeinde Wartet", "kind": "other"})).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.received().len(), 1);

    receiver.status.store(204, Ordering::SeqCst);
    let resumed = app.patch_json(&w, &json!({"active": true})).await;
    assert_eq!(resumed.status(), 200);
    let resumed: Value = resumed.json().await.unwrap();
    assert_eq!((resumed["active"].as_bool(), &resumed["paused_reason"]), (Some(true), &Value::Null));
    let got = receiver.wait_for(3).await;
    let ids: Vec<Value> = got.iter().map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["id"].clone()).collect();
    assert_eq!(ids[1], partner["id"], "the failed delivery first, then the queued one");
    wait_until(&app, &format!("{w}/deliveries?status=pending"), |p| p["items"].as_array().unwrap().is_empty()).await;
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    let webhook = create_webhook(&app, json!({"url": receiver.url, "resources": ["fields"]})).await;
    let old = webhook["secret"].as_str().unwrap().to_owned();
    let rotated =
        app.as_admin(Method::POST, &format!("/api/v1/webhooks/{}/secret", webhook["id"])).send().await.unwrap();
    assert_eq!(rotated.status(), 200);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated: Value = rotated.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_until"].is_string());
    app.post_json("/api/v1/fields", &json!({"key": "rotiert", "name_de": "Rotiert", "name_en": "Rotated"})).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].signature.split(' ').count(), 2, "{:?}", got[0]);
    assert!(signed_by(&new, &got[0]) && signed_by(&old, &got[0]));
    for secret in [&new, &old] {
        if let Some(verified) = verified_by_reference_library(secret, &got[0]) {
            assert!(verified, "the reference library refuses the delivery with one of the secrets");
        }
    }
}

#[tokio::test]
async fn a_lease_held_by_a_dead_instance_is_taken_over_once_it_runs_out() {
    let app = spawn_app().await;
    let receiver = Receiver::start();
    let webhook = create_webhook(&app, json!({"url": receiver.url, "resources": ["fields"]})).await;
    let id = webhook["id"].as_i64().unwrap();
    let mut conn = own_connection(&app);
    let hold = |conn: &mut AnyConnection, until: &str| {
        use ikz_api::db::schema::webhooks;
        let until: ikz_api::db::Timestamp =
            chrono::NaiveDateTime::parse_from_str(until, "%Y-%m-%d %H:%M:%S").unwrap().into();
        diesel::update(webhooks::table.find(id))
            .set((webhooks::lease_owner.eq("an instance that died"), webhooks::lease_until.eq(until)))
            .execute(conn)
            .unwrap();
    };
    hold(&mut conn, "2999-01-01 00:00:00");
    app.post_json("/api/v1/fields", &json!({"key": "geleast", "name_de": "Geleast", "name_en": "Leased"})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(receiver.received().is_empty(), "another instance holds the lease: nothing is sent");
    hold(&mut conn, "2000-01-01 00:00:00");
    receiver.wait_for(1).await;
}

#[tokio::test]
async fn only_admins_manage_webhooks_and_the_outbound_policy_guards_the_url() {
    let app = spawn_app().await;
    let body = json!({"url": "http://127.0.0.1:9/hooks", "resources": ["partners"]});
    let anonymous = app.client.post(app.url("/api/v1/webhooks")).json(&body).send().await.unwrap();
    assert_problem(anonymous, 401, "/problems/unauthorized").await;
    let editor = app.token_for("e.ditor", "editor", &[]).await;
    let refused = app.request(Method::GET, "/api/v1/webhooks", Some(&editor)).send().await.unwrap();
    assert_problem(refused, 403, "/problems/forbidden").await;

    for url in [
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/",
        "http://[::1]/",
        "https://hooks.example.org/not-in-the-allow-list",
        "ftp://127.0.0.1/",
        "http://user:pw@127.0.0.1/",
        "kein url",
    ] {
        let response = app.post_json("/api/v1/webhooks", &json!({"url": url, "resources": ["partners"]})).await;
        let problem = assert_problem(response, 422, "/problems/validation").await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }
    let none = app.post_json("/api/v1/webhooks", &json!({"url": "http://127.0.0.1:9/", "resources": []})).await;
    assert_problem(none, 422, "/problems/validation").await;
    let unknown = app.post_json("/api/v1/webhooks", &json!({"url": "http://127.0.0.1:9/", "resources": ["x"]})).await;
    assert!(unknown.status() == 422 || unknown.status() == 400, "{}", unknown.status());

    let webhook = create_webhook(&app, body).await;
    let w = format!("/api/v1/webhooks/{}", webhook["id"]);
    let moved = app.patch_json(&w, &json!({"url": "http://192.168.0.10/hooks"})).await;
    assert_problem(moved, 422, "/problems/validation").await;
    let unchanged = get_json(&app, &w).await;
    assert_eq!(unchanged["url"], "http://127.0.0.1:9/hooks", "a refused change changes nothing");
    let deleted = app.delete(&w).await;
    assert_eq!(deleted.status(), 204);
    let gone = app.as_admin(Method::GET, &w).send().await.unwrap();
    assert_problem(gone, 404, "/problems/not-found").await;
}
