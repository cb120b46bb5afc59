//! Concurrency and crash safety on the real database.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestDb, login, spawn_app_with};

#[tokio::test]
async fn sixty_four_clients_writing_at_once_never_get_a_server_error() {
    let app = spawn_app_with(|c| {
        c.workers = 2;
        c.db_pool_size = 8;
    })
    .await;
    sixty_four_clients_write_and_all_writes_are_read_back(&app).await;
}

#[tokio::test]
async fn a_memory_mapped_sqlite_file_takes_concurrent_writes_and_reads_them_back() {
    // IKZ_SQLITE_MMAP_MB: reads go through the mapping, which SQLite extends as the file grows
    // under the writes (ignored on PostgreSQL, where the same test runs unmapped).
    let app = spawn_app_with(|c| {
        c.workers = 2;
        c.db_pool_size = 8;
        c.sqlite_mmap_bytes = 64 * 1024 * 1024;
    })
    .await;
    sixty_four_clients_write_and_all_writes_are_read_back(&app).await;
}

#[test]
fn a_memory_map_beyond_sqlites_limit_is_refused_at_start() {
    let db = TestDb::new();
    let migrate = |mib: &str| {
        Command::new(env!("CARGO_BIN_EXE_ikz-api"))
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env("IKZ_SQLITE_MMAP_MB", mib)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let refused = migrate("4096");
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("IKZ_SQLITE_MMAP_MB") && message.contains("2047"), "{message}");
    assert!(migrate("2047").status.success());
}

async fn sixty_four_clients_write_and_all_writes_are_read_back(app: &crate::helpers::TestApp) {
    let target = app.create_partner(json!({"name": "Kamenz", "kind": "municipality"})).await["id"].clone();
    let mut tasks = Vec::new();
    for client in 0..64 {
        let create = app.as_admin(Method::POST, "/api/v1/partners");
        let patch = app.as_admin(Method::PATCH, &format!("/api/v1/partners/{target}"));
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for round in 0..5 {
                let request = if client % 2 == 0 {
                    create.try_clone().unwrap().json(&json!({"name": format!("P {client}-{round}"), "kind": "other"}))
                } else {
                    patch.try_clone().unwrap().json(&json!({"population": client * 100 + round}))
                };
                statuses.push(request.send().await.unwrap().status().as_u16());
            }
            statuses
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.extend(task.await.unwrap());
    }
    assert!(statuses.iter().all(|s| *s == 200 || *s == 201), "{statuses:?}");
    assert_eq!(app.collect_all("/api/v1/partners?limit=200").await.len(), 1 + 32 * 5);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_server(db: &TestDb, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ikz-api"))
        .env("DATABASE_URL", db.url())
        .env("IKZ_BIND", format!("127.0.0.1:{port}"))
        .env("IKZ_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("IKZ_WORKERS", "2")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if client.get(format!("{base}/health/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

#[tokio::test]
async fn a_killed_server_keeps_every_acknowledged_write_and_no_half_written_one() {
    let db = TestDb::new();
    let (port, client) = (free_port(), reqwest::Client::new());
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start_server(&db, port);
    wait_ready(&client, &base).await;
    let token = login(&client, &base, "admin", ADMIN_PASSWORD).await.unwrap();
    let post = |path: &str, body: Value| client.post(format!("{base}{path}")).bearer_auth(&token).json(&body).send();
    let id = |v: Value| v["id"].as_i64().unwrap();
    let a =
        id(post("/api/v1/partners", json!({"name": "A", "kind": "municipality"})).await.unwrap().json().await.unwrap());
    let b =
        id(post("/api/v1/partners", json!({"name": "B", "kind": "municipality"})).await.unwrap().json().await.unwrap());
    let coop = id(post("/api/v1/cooperations", json!({"name": "C"})).await.unwrap().json().await.unwrap());
    for p in [a, b] {
        post(&format!("/api/v1/cooperations/{coop}/members"), json!({"partner_id": p, "role": "member"}))
            .await
            .unwrap();
    }

    // Eight writers create measures (each one row in three tables) until the server dies.
    let acks = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, base, token, acks) = (client.clone(), base.clone(), token.clone(), acks.clone());
        writers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let title = format!("M {w}-{n}");
                let body = json!({"cooperation_id": coop, "field_id": 1, "title": title, "partner_ids": [a, b], "benefit": 3, "cost": 3, "effort": 3});
                match client.post(format!("{base}/api/v1/measures")).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status() == 201 => {
                        acknowledged.push(title);
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => panic!("unexpected {} before the crash", r.status()),
                    Err(_) => return acknowledged,
                }
            }
            acknowledged
        }));
    }
    // Kill once the burst is well under way, however fast this machine is.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.load(Ordering::SeqCst) < 20 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill().expect("SIGKILL");
    server.wait().unwrap();
    let mut acknowledged = BTreeSet::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(acknowledged.len() >= 20, "the burst was under way: {}", acknowledged.len());

    let mut restarted = start_server(&db, port);
    wait_ready(&client, &base).await;
    let mut stored = Vec::new();
    let mut path = format!("/api/v1/measures?cooperation_id={coop}&limit=200&sort=title");
    loop {
        let page: Value = client.get(format!("{base}{path}")).send().await.unwrap().json().await.unwrap();
        stored.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/measures?cooperation_id={coop}&limit=200&sort=title&cursor={c}"),
            None => break,
        }
    }
    let titles: BTreeSet<String> = stored.iter().map(|m| m["title"].as_str().unwrap().to_owned()).collect();
    let lost: Vec<_> = acknowledged.difference(&titles).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(titles.len() <= acknowledged.len() + 8, "at most one unacknowledged write per writer");
    for m in &stored {
        assert_eq!(m["partner_ids"], json!([a, b]), "half-written measure: {m}");
        assert_eq!(m["priority_score"], 50);
    }
    let sample = &stored[stored.len() / 2];
    let history: Value = client
        .get(format!("{base}/api/v1/measures/{}/history", sample["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["items"][0]["event"], "created", "the history row came with the measure");
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}
