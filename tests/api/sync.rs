//! The council sync (OParl): first and incremental runs, deletions, full runs, the vendor
//! quirks (each switched on alone), leases, resuming after `kill -9`, the command line, links
//! to measures and the read API. The council system is `oparl_server`, on 127.0.0.1 only.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app_with};
use crate::oparl_server::{OparlServer, Quirks, Size, World};

/// The service with fast retries and no scheduler in the way (a test starts its runs).
pub async fn spawn_sync_app() -> TestApp {
    spawn_app_with(|c| {
        c.sync.fetch.retry_base = Duration::from_millis(5);
        c.sync.fetch.min_interval = Duration::ZERO;
        c.sync.schedule_every = Duration::from_secs(3600);
    })
    .await
}

fn small_world(quirks: Quirks) -> World {
    let mut world = World::generate(7, Size::small());
    world.quirks = quirks;
    world.page_size = 3;
    world
}

pub async fn create_source(app: &TestApp, url: &str) -> i64 {
    let response = app.post_json("/api/v1/sync-sources", &json!({"system_url": url, "active": false})).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// Starts a run through the API and waits for its end (at most 30 s).
pub async fn run_sync(app: &TestApp, source: i64, query: &str) -> Value {
    let response =
        app.as_admin(Method::POST, &format!("/api/v1/sync-sources/{source}/runs{query}")).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    for _ in 0..600 {
        let run: Value = app.as_admin(Method::GET, &location).send().await.unwrap().json().await.unwrap();
        if run["state"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the run did not end");
}

async fn source(app: &TestApp, id: i64) -> Value {
    app.as_admin(Method::GET, &format!("/api/v1/sync-sources/{id}")).send().await.unwrap().json().await.unwrap()
}

fn tally(run: &Value, kind: &str) -> (u64, u64, u64, u64) {
    let t = &run["counts"]["objects"][kind];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    (n("seen"), n("created"), n("updated"), n("deleted"))
}

#[tokio::test]
async fn a_first_run_copies_the_council_system_and_matches_bodies_to_partners_by_ags() {
    let app = spawn_sync_app().await;
    let known = app.create_partner(json!({"name": "Stadt Testdorf", "kind": "municipality", "ags": "05958000"})).await;
    let server = OparlServer::start(small_world(Quirks::default()));
    let id = create_source(&app, &server.system_url()).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["full"], true, "a first run reads everything");
    assert_eq!(tally(&run, "paper"), (14, 14, 0, 0));
    assert_eq!(tally(&run, "meeting"), (6, 6, 0, 0));
    assert_eq!(tally(&run, "organization"), (4, 4, 0, 0));
    assert_eq!(tally(&run, "body").1, 2);
    assert_eq!(tally(&run, "partner").1, 1, "the body without a partner got one");
    assert!(run["counts"]["requests"].as_u64().unwrap() >= 1 + 1 + 2 * 3);

    // The second body became a partner carrying its OParl id; the first found the known one.
    let created = app.collect_all("/api/v1/partners?ref_source=oparl").await;
    assert_eq!(created.len(), 1);
    let made = &created[0];
    assert_eq!((made["name"].as_str(), made["ags"].as_str()), (Some("Gemeinde Testdorf 1"), Some("05958001")));
    assert_eq!((made["kind"].as_str(), made["state"].as_str()), (Some("municipality"), Some("DE-NW")));
    assert_eq!(made["external_refs"], json!([{"source": "oparl", "id": format!("{}/oparl/body/1", server.base)}]));

    let papers = app.collect_all("/api/v1/council-papers?limit=5").await;
    assert_eq!(papers.len(), 14);
    let expected = server.with(|w| w.papers.clone());
    for paper in &papers {
        let n: usize = paper["oparl_id"].as_str().unwrap().rsplit('/').next().unwrap().parse().unwrap();
        let source = &expected[n];
        assert_eq!(paper["name"], source.name.as_str());
        assert_eq!(paper["reference"], source.reference.as_str());
        assert_eq!(paper["date"], source.date.to_string());
        let partner = if source.body == 0 { known["id"].clone() } else { made["id"].clone() };
        assert_eq!(paper["partner_id"], partner);
        assert_eq!(paper["main_file_url"], format!("{}/files/{n}.pdf", server.base));
        assert_eq!(paper["consultations"].as_array().unwrap().len(), source.consultations.len());
        let first = &paper["consultations"][0];
        let c = &source.consultations[0];
        assert_eq!(first["authoritative"], true);
        assert_eq!(first["role"], "Beschlussfassung");
        let result = server.with(|w| w.meetings[c.meeting].items[c.agenda_item].result.clone());
        let shown = first["agenda_item"]["result"].as_str().map(str::to_owned);
        assert_eq!(shown, Some(result).filter(|r| !r.is_empty()), "{first}");
        assert!(first["meeting"]["id"].is_i64(), "{first}");
        assert!(first["organizations"][0]["name"].is_string(), "{first}");
    }
    let dates: Vec<&str> = papers.iter().map(|p| p["date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first: {dates:?}");
    let meetings = app.collect_all("/api/v1/council-meetings").await;
    assert_eq!(meetings.len(), 6);
    assert!(meetings.iter().all(|m| m["agenda_items"].as_array().is_some_and(|a| !a.is_empty())));
    assert_eq!(meetings[0]["location"], "Ratssaal, Rathaus");

    let health = source(&app, id).await;
    assert_eq!(health["health"]["state"], "succeeded");
    assert_eq!(health["health"]["stale"], false);
    assert_eq!(health["health"]["last_error"], Value::Null);
    let newest = server.with(|w| {
        let all = w.papers.iter().map(|p| p.modified).chain(w.meetings.iter().map(|m| m.modified));
        all.chain(w.organizations.iter().map(|o| o.modified)).chain(w.bodies.iter().map(|b| b.modified)).max().unwrap()
    });
    let watermark = chrono::DateTime::parse_from_rfc3339(health["health"]["watermark"].as_str().unwrap()).unwrap();
    assert_eq!(watermark, newest, "the watermark is the server's newest `modified`");
    let mut partners: Vec<i64> =
        health["partner_ids"].as_array().unwrap().iter().map(|p| p.as_i64().unwrap()).collect();
    partners.sort();
    assert_eq!(partners, vec![known["id"].as_i64().unwrap(), made["id"].as_i64().unwrap()]);
}

async fn feed_cursor(app: &TestApp) -> Value {
    app.get("/api/v1/changes/cursor").await.json::<Value>().await.unwrap()["cursor"].clone()
}

#[tokio::test]
async fn running_again_changes_nothing() {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(small_world(Quirks::default()));
    let id = create_source(&app, &server.system_url()).await;
    assert_eq!(run_sync(&app, id, "").await["state"], "succeeded");
    let before = feed_cursor(&app).await;
    let paper = app.collect_all("/api/v1/council-papers").await.remove(0);
    let etag = app.get(&format!("/api/v1/council-papers/{}", paper["id"])).await.headers()["etag"].clone();
    for query in ["", "?full=true"] {
        let again = run_sync(&app, id, query).await;
        assert_eq!(again["state"], "succeeded");
        for kind in ["paper", "meeting", "organization", "body"] {
            let (_, created, updated, deleted) = tally(&again, kind);
            assert_eq!((created, updated, deleted), (0, 0, 0), "{kind} in {again}");
        }
    }
    assert_eq!(feed_cursor(&app).await, before, "nothing new in the change feed");
    let now = app.get(&format!("/api/v1/council-papers/{}", paper["id"])).await;
    assert_eq!(now.headers()["etag"], etag);
}

#[tokio::test]
async fn incremental_runs_ask_since_the_watermark_and_take_changes_and_explicit_deletions_only() {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(small_world(Quirks::default()));
    let id = create_source(&app, &server.system_url()).await;
    assert_eq!(run_sync(&app, id, "").await["state"], "succeeded");
    let head = feed_cursor(&app).await.as_str().unwrap().to_owned();
    let watermark = source(&app, id).await["health"]["watermark"].as_str().unwrap().to_owned();
    server.with(|w| {
        w.requests.clear();
        w.change_papers(3);
        w.delete_paper(5);
        w.papers[6].hidden = true;
    });
    let run = run_sync(&app, id, "").await;
    assert_eq!((run["state"].as_str(), run["full"].as_bool()), (Some("succeeded"), Some(false)), "{run}");
    let (_, created, updated, deleted) = tally(&run, "paper");
    assert_eq!((created, updated, deleted), (0, 3, 1));

    // Asked with watermark − one day, as a whole-second date-time, URL-encoded.
    let since = (chrono::DateTime::parse_from_rfc3339(&watermark).unwrap() - chrono::Duration::days(1))
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H%%3A%M%%3A%S%%2B00%%3A00")
        .to_string();
    let asked = server.with(|w| w.requests.clone());
    let paper_lists: Vec<&String> = asked.iter().filter(|r| r.contains("/papers")).collect();
    assert!(!paper_lists.is_empty());
    assert!(paper_lists.iter().all(|r| r.contains(&format!("modified_since={since}"))), "{paper_lists:?}");

    let papers = app.collect_all("/api/v1/council-papers").await;
    assert_eq!(papers.len(), 13, "the deleted paper is gone, the hidden one stays");
    let base = server.base.clone();
    assert!(!papers.iter().any(|p| p["oparl_id"] == format!("{base}/oparl/paper/5")));
    assert!(papers.iter().any(|p| p["oparl_id"] == format!("{base}/oparl/paper/6")));
    assert_eq!(papers.iter().filter(|p| p["name"].as_str().unwrap().ends_with("(geändert)")).count(), 3);

    let feed: Value =
        app.get(&format!("/api/v1/changes?cursor={head}&resource=council_papers")).await.json().await.unwrap();
    let ops: Vec<&str> = feed["items"].as_array().unwrap().iter().map(|c| c["op"].as_str().unwrap()).collect();
    assert_eq!(ops.iter().filter(|o| **o == "updated").count(), 3, "{feed}");
    assert_eq!(ops.iter().filter(|o| **o == "deleted").count(), 1, "{feed}");

    // A full run asks from an early date (OParl 1.1 lists deletions only under modified_since).
    server.with(|w| w.requests.clear());
    let full = run_sync(&app, id, "?full=true").await;
    assert_eq!((full["state"].as_str(), full["full"].as_bool()), (Some("succeeded"), Some(true)));
    let asked = server.with(|w| w.requests.clone());
    assert!(
        asked
            .iter()
            .filter(|r| r.contains("/papers"))
            .all(|r| r.contains("modified_since=1970-01-01T00%3A00%3A00%2B00%3A00"))
    );
    assert_eq!(app.collect_all("/api/v1/council-papers").await.len(), 13);
}

/// Runs a first sync against a server with `quirks` and checks that it completed, counted
/// `quirk`, and copied every paper with its consultations as without the quirk.
async fn survives(quirks: Quirks, quirk: Option<&str>) -> (TestApp, OparlServer, Value) {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(small_world(quirks));
    let id = create_source(&app, &server.system_url()).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    if let Some(quirk) = quirk {
        assert!(run["counts"]["quirks"][quirk].as_u64().unwrap_or(0) > 0, "{quirk} not counted: {run}");
    }
    let expected = server.with(|w| w.papers.iter().filter(|p| !p.deleted).count());
    if quirk != Some("single_object_for_list") {
        let papers = app.collect_all("/api/v1/council-papers").await;
        assert_eq!(papers.len(), expected, "{quirk:?}");
        assert!(papers.iter().all(|p| !p["consultations"].as_array().unwrap().is_empty()), "{quirk:?}");
    }
    (app, server, run)
}

#[tokio::test]
async fn quirk_an_empty_list_as_a_bare_array() {
    let mut world = small_world(Quirks { bare_empty_list: true, ..Quirks::default() });
    world.organizations.clear();
    let app = spawn_sync_app().await;
    let server = OparlServer::start(world);
    let id = create_source(&app, &server.system_url()).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["quirks"]["bare_array_list"], 2, "{run}");
    assert_eq!(app.collect_all("/api/v1/council-papers").await.len(), 14);
}

#[tokio::test]
async fn quirk_an_empty_list_as_a_404_error_object() {
    let mut world = small_world(Quirks { not_found_empty_list: true, ..Quirks::default() });
    world.organizations.clear();
    let app = spawn_sync_app().await;
    let server = OparlServer::start(world);
    let id = create_source(&app, &server.system_url()).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["quirks"]["not_found_for_empty_list"], 2, "{run}");
    assert_eq!(app.collect_all("/api/v1/council-papers").await.len(), 14);
}

#[tokio::test]
async fn quirk_deleted_entries_without_type() {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(small_world(Quirks { deleted_without_type: true, ..Quirks::default() }));
    let id = create_source(&app, &server.system_url()).await;
    assert_eq!(run_sync(&app, id, "").await["state"], "succeeded");
    server.with(|w| w.delete_paper(2));
    let run = run_sync(&app, id, "").await;
    assert_eq!(tally(&run, "paper").3, 1, "{run}");
    assert_eq!(run["counts"]["quirks"]["deleted_without_type"], 1);
    assert_eq!(app.collect_all("/api/v1/council-papers").await.len(), 13);
}

#[tokio::test]
async fn quirk_a_body_list_answered_with_a_single_object() {
    let (app, _server, run) =
        survives(Quirks { single_body_object: true, ..Quirks::default() }, Some("single_object_for_list")).await;
    assert_eq!(tally(&run, "body").1, 1);
    assert_eq!(app.collect_all("/api/v1/council-papers").await.len(), 7, "the one body's papers");
}

#[tokio::test]
async fn quirk_an_ags_without_its_leading_zero() {
    let app = spawn_sync_app().await;
    let known = app.create_partner(json!({"name": "Stadt Testdorf", "kind": "municipality", "ags": "05958000"})).await;
    let server = OparlServer::start(small_world(Quirks { ags_without_leading_zero: true, ..Quirks::default() }));
    let id = create_source(&app, &server.system_url()).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["counts"]["quirks"]["ags_without_leading_zero"], 2, "{run}");
    let papers = app.collect_all(&format!("/api/v1/council-papers?partner_id={}", known["id"])).await;
    assert_eq!(papers.len(), 7, "5958000 matched the partner with 05958000");
    assert_eq!(app.collect_all("/api/v1/partners?ags=05958001").await.len(), 1, "the new partner has all 8 digits");
}

#[tokio::test]
async fn quirk_placeholders_and_blank_strings() {
    let (app, _server, _) =
        survives(Quirks { placeholders: true, ..Quirks::default() }, Some("placeholder_or_blank_string")).await;
    let papers = app.collect_all("/api/v1/council-papers").await;
    assert!(papers.iter().all(|p| p["paper_type"].is_null() && p["reference"].is_null()), "{:?}", papers[0]);
}

#[tokio::test]
async fn quirk_an_object_where_an_array_belongs() {
    let (app, _server, _) =
        survives(Quirks { object_for_array: true, ..Quirks::default() }, Some("object_for_array")).await;
    let papers = app.collect_all("/api/v1/council-papers").await;
    assert!(papers.iter().all(|p| p["consultations"][0]["organizations"].as_array().unwrap().len() == 1));
    let ikz = app.collect_all("/api/v1/council-papers?keyword=ikz").await;
    assert!(!ikz.is_empty() && ikz.iter().all(|p| p["keywords"] == json!(["IKZ"])));
}

#[tokio::test]
async fn quirk_embedded_objects_without_type() {
    let (app, _server, _) = survives(Quirks { embedded_without_type: true, ..Quirks::default() }, None).await;
    let papers = app.collect_all("/api/v1/council-papers").await;
    assert!(papers.iter().all(|p| p["main_file_url"].is_string() && p["consultations"][0]["agenda_item"].is_object()));
}

#[tokio::test]
async fn quirk_unescaped_control_characters_in_json() {
    let (app, _server, _) =
        survives(Quirks { control_characters: true, ..Quirks::default() }, Some("unescaped_control_characters")).await;
    let papers = app.collect_all("/api/v1/council-papers").await;
    assert!(papers.iter().all(|p| p["name"].as_str().unwrap().contains("\tTeil\n1")), "{:?}", papers[0]["name"]);
}

#[tokio::test]
async fn quirk_server_errors_that_succeed_on_retry() {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(small_world(Quirks { first_try_fails: true, ..Quirks::default() }));
    let id = create_source(&app, &server.system_url()).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let pages = server.with(|w| w.list_pages_asked());
    assert_eq!(run["counts"]["retries"].as_u64().unwrap(), pages, "one retry per list page");
    assert_eq!(app.collect_all("/api/v1/council-papers").await.len(), 14);
}

#[tokio::test]
async fn quirk_retry_after_is_honoured() {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(small_world(Quirks { retry_after: true, ..Quirks::default() }));
    let id = create_source(&app, &server.system_url()).await;
    let started = std::time::Instant::now();
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["counts"]["retries"], 1);
    assert!(started.elapsed() >= Duration::from_secs(1), "waited as Retry-After asked, not 5 ms");
}

#[tokio::test]
async fn quirk_next_links_that_drop_modified_since() {
    let (_app, server, _) = survives(
        Quirks { next_drops_modified_since: true, ..Quirks::default() },
        Some("next_link_drops_modified_since"),
    )
    .await;
    let asked = server.with(|w| w.requests.clone());
    let later_pages: Vec<&String> = asked.iter().filter(|r| r.contains("/papers") && r.contains("page=")).collect();
    assert!(!later_pages.is_empty());
    assert!(later_pages.iter().all(|r| r.contains("modified_since=")), "{later_pages:?}");
}

#[tokio::test]
async fn quirk_an_id_that_differs_from_the_url_it_was_fetched_from() {
    survives(Quirks { id_differs_from_url: true, ..Quirks::default() }, Some("id_differs_from_url")).await;
}

#[tokio::test]
async fn quirk_duplicate_entries_across_pages() {
    let (_app, _server, run) =
        survives(Quirks { duplicates_across_pages: true, ..Quirks::default() }, Some("duplicate_entries")).await;
    assert_eq!(tally(&run, "paper").1, 14, "each paper once: {run}");
}

#[tokio::test]
async fn a_system_that_cannot_be_reached_fails_the_run_loudly() {
    let app = spawn_sync_app().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/oparl/system", closed.local_addr().unwrap().port());
    drop(closed);
    let id = create_source(&app, &url).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "failed");
    assert!(run["error"].as_str().unwrap().contains("gave up after 5 tries"), "{run}");
    let health = source(&app, id).await["health"].clone();
    assert_eq!(health["state"], "failed");
    assert_eq!(health["last_error"], run["error"]);
    assert_eq!(health["last_success_at"], Value::Null);
}

#[tokio::test]
async fn a_page_that_goes_missing_fails_the_run_and_the_next_run_resumes_there() {
    let app = spawn_sync_app().await;
    let mut world = small_world(Quirks::default());
    world.missing_paper_page = Some(2);
    let server = OparlServer::start(world);
    let id = create_source(&app, &server.system_url()).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "failed", "a list is never given up silently: {run}");
    assert!(run["error"].as_str().unwrap().contains("404 for a page its list linked to"), "{run}");
    assert_eq!(source(&app, id).await["health"]["state"], "failed");
    assert_eq!(app.collect_all("/api/v1/council-papers").await.len(), 3, "the first page of the first body");
    server.with(|w| {
        w.missing_paper_page = None;
        w.requests.clear();
    });
    let again = run_sync(&app, id, "").await;
    assert_eq!((again["state"].as_str(), again["resumed"].as_bool()), (Some("succeeded"), Some(true)), "{again}");
    let asked = server.with(|w| w.requests.clone());
    assert!(!asked.iter().any(|r| r.starts_with("/oparl/body/0/papers?modified_since")), "page 1 not again: {asked:?}");
    assert_eq!(app.collect_all("/api/v1/council-papers").await.len(), 14);
    assert_eq!(source(&app, id).await["health"]["last_error"], Value::Null);
}

#[tokio::test]
async fn answers_are_size_limited_and_redirects_are_followed_a_few_times_only() {
    let app = spawn_app_with(|c| {
        c.sync.fetch.retry_base = Duration::from_millis(5);
        c.sync.schedule_every = Duration::from_secs(3600);
        c.sync.fetch.max_bytes = 1500;
    })
    .await;
    let server = OparlServer::start(small_world(Quirks::default()));
    let id = create_source(&app, &server.system_url()).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "failed");
    assert!(run["error"].as_str().unwrap().contains("larger than 1500 bytes"), "{run}");

    let app = spawn_sync_app().await;
    let moved = create_source(&app, &format!("{}/oparl/moved", server.base)).await;
    let run = run_sync(&app, moved, "").await;
    assert_eq!(run["state"], "succeeded", "a moved System is followed: {run}");
    let looping = create_source(&app, &format!("{}/oparl/loop", server.base)).await;
    let run = run_sync(&app, looping, "").await;
    assert_eq!(run["state"], "failed");
    assert!(run["error"].as_str().unwrap().contains("too many redirects"), "{run}");
}

#[tokio::test]
async fn a_server_that_does_not_answer_times_out_and_fails_the_run_after_its_retries() {
    let app = spawn_app_with(|c| {
        c.sync.fetch.retry_base = Duration::from_millis(5);
        c.sync.schedule_every = Duration::from_secs(3600);
        c.sync.fetch.timeout = Duration::from_millis(200);
    })
    .await;
    let mut world = small_world(Quirks::default());
    world.stall_after_paper_pages = Some(0);
    let server = OparlServer::start(world);
    let id = create_source(&app, &server.system_url()).await;
    let run = run_sync(&app, id, "").await;
    assert_eq!(run["state"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("timed out") && error.contains("gave up after 5 tries"), "{run}");
    assert_eq!(run["counts"]["retries"], 4, "{run}");
}

#[tokio::test]
async fn two_runs_of_one_source_never_overlap() {
    let app = spawn_sync_app().await;
    let mut world = small_world(Quirks::default());
    world.stall_after_paper_pages = Some(0);
    let server = OparlServer::start(world);
    let id = create_source(&app, &server.system_url()).await;
    let first = app.as_admin(Method::POST, &format!("/api/v1/sync-sources/{id}/runs")).send().await.unwrap();
    assert_eq!(first.status(), 202);
    let second = app.as_admin(Method::POST, &format!("/api/v1/sync-sources/{id}/runs")).send().await.unwrap();
    let problem = assert_problem(second, 409, "/problems/conflict").await;
    assert!(problem["detail"].as_str().unwrap().contains("another run of this source is going on"), "{problem}");
    assert_eq!(source(&app, id).await["health"]["state"], "running");
}

#[tokio::test]
async fn the_service_runs_due_sources_on_their_interval() {
    let app = spawn_app_with(|c| {
        c.sync.fetch.retry_base = Duration::from_millis(5);
        c.sync.schedule_every = Duration::from_millis(100);
    })
    .await;
    let server = OparlServer::start(small_world(Quirks::default()));
    let response = app.post_json("/api/v1/sync-sources", &json!({"system_url": server.system_url()})).await;
    let id = response.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    for _ in 0..200 {
        let runs: Value = app
            .as_admin(Method::GET, &format!("/api/v1/sync-sources/{id}/runs"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(run) = runs["items"].as_array().unwrap().first().filter(|r| r["state"] == "succeeded") {
            assert_eq!(run["trigger"], "schedule");
            let next = source(&app, id).await["next_run_at"].as_str().unwrap().to_owned();
            let next = chrono::DateTime::parse_from_rfc3339(&next).unwrap();
            assert!(next > chrono::Utc::now() + chrono::Duration::minutes(55), "next in an hour: {next}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the scheduler did not run the source");
}

#[tokio::test]
async fn sync_sources_are_for_admins_and_follow_the_outbound_policy() {
    let app = spawn_sync_app().await;
    assert_problem(app.get("/api/v1/sync-sources").await, 401, "/problems/unauthorized").await;
    let editor = app.token_for("redaktion", "editor", &[]).await;
    let denied = app.request(Method::GET, "/api/v1/sync-sources", Some(&editor)).send().await.unwrap();
    assert_problem(denied, 403, "/problems/forbidden").await;
    let refused = app.post_json("/api/v1/sync-sources", &json!({"system_url": "http://10.1.2.3/oparl/system"})).await;
    let problem = assert_problem(refused, 422, "/problems/validation").await;
    assert_eq!(problem["errors"][0]["field"], "system_url");
    assert_eq!(problem["errors"][0]["code"], "url_refused");
    let id = create_source(&app, "http://127.0.0.1:9/oparl/system").await;
    let twice = app.post_json("/api/v1/sync-sources", &json!({"system_url": "http://127.0.0.1:9/oparl/system"})).await;
    assert_problem(twice, 409, "/problems/conflict").await;
    let patched = app.patch_json(&format!("/api/v1/sync-sources/{id}"), &json!({"interval_minutes": 2})).await;
    assert_problem(patched, 422, "/problems/validation").await;
    let patched = app.patch_json(&format!("/api/v1/sync-sources/{id}"), &json!({"interval_minutes": 1440})).await;
    assert_eq!(patched.status(), 200);
    // Council papers are public records: read like partners, without a token.
    assert_eq!(app.get("/api/v1/council-papers").await.status(), 200);
    assert_eq!(app.get("/api/v1/council-meetings").await.status(), 200);
    assert_eq!(app.delete(&format!("/api/v1/sync-sources/{id}")).await.status(), 204);
}

#[tokio::test]
async fn papers_are_found_by_umlaut_insensitive_text_keyword_date_and_partner() {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(small_world(Quirks::default()));
    let id = create_source(&app, &server.system_url()).await;
    assert_eq!(run_sync(&app, id, "").await["state"], "succeeded");
    let all = app.collect_all("/api/v1/council-papers").await;
    let names = |items: &[Value]| items.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let expect = |pred: &dyn Fn(&Value) -> bool| names(&all.iter().filter(|p| pred(p)).cloned().collect::<Vec<_>>());
    let ikz = app.collect_all("/api/v1/council-papers?q=interkommunal").await;
    assert_eq!(names(&ikz), expect(&|p| p["name"].as_str().unwrap().contains("Interkommunale")));
    assert!(!ikz.is_empty());
    let strasse = app.collect_all("/api/v1/council-papers?q=STRASSENBELEUCHTUNG").await;
    assert_eq!(names(&strasse), expect(&|p| p["name"].as_str().unwrap().contains("Straßenbeleuchtung")));
    let keyword = app.collect_all("/api/v1/council-papers?keyword=ikz").await;
    assert_eq!(names(&keyword), expect(&|p| p["keywords"] == json!(["IKZ"])));
    let candidates = app.collect_all("/api/v1/council-papers?candidate=true").await;
    assert!(candidates.len() >= ikz.len() && candidates.iter().all(|p| p["candidate"] == true));
    let dated = app.collect_all("/api/v1/council-papers?date_from=2026-01-03&date_to=2026-01-05").await;
    assert_eq!(names(&dated), expect(&|p| ("2026-01-03"..="2026-01-05").contains(&p["date"].as_str().unwrap())));
    assert!(!dated.is_empty());
    let partner = all[0]["partner_id"].clone();
    let of_partner = app.collect_all(&format!("/api/v1/council-papers?partner_id={partner}")).await;
    assert_eq!(names(&of_partner), expect(&|p| p["partner_id"] == partner));
    let bad = app.get("/api/v1/council-papers?date_from=2026-02-01&date_to=2026-01-01").await;
    assert_problem(bad, 400, "/problems/invalid-parameter").await;
    let meetings = app.collect_all("/api/v1/council-meetings?date_from=2026-01-20").await;
    assert!(meetings.iter().all(|m| m["start"].as_str().unwrap() >= "2026-01-20"));
    assert_eq!(meetings.len(), 4, "one meeting a week from 15 January, three per body: two of each after the 20th");
}

#[tokio::test]
async fn measures_link_to_the_papers_their_council_refs_name() {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(small_world(Quirks::default()));
    let lead = app.create_partner(json!({"name": "Königsbrück", "kind": "municipality"})).await["id"].clone();
    let coop: Value =
        app.post_json("/api/v1/cooperations", &json!({"name": "IKZ Westlausitz"})).await.json().await.unwrap();
    let member = json!({"partner_id": lead, "role": "lead"});
    assert_eq!(app.post_json(&format!("/api/v1/cooperations/{}/members", coop["id"]), &member).await.status(), 201);
    let fields = app.collect_all("/api/v1/fields?limit=200").await;
    let bauhof = fields.iter().find(|f| f["key"] == "bauhof").unwrap()["id"].clone();
    // The web URL of paper 3 as someone copied it: https, host in capitals, trailing slash.
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let reference = format!("https://127.0.0.1:{port}/vo/3/");
    let measure = app
        .post_json(
            "/api/v1/measures",
            &json!({"cooperation_id": coop["id"], "field_id": bauhof, "title": "Gemeinsamer Bauhof",
                    "lead_partner_id": lead, "council_refs": [reference]}),
        )
        .await;
    assert_eq!(measure.status(), 201);
    let measure: Value = measure.json().await.unwrap();
    let id = create_source(&app, &server.system_url()).await;
    assert_eq!(run_sync(&app, id, "").await["state"], "succeeded");
    let linked = app.collect_all(&format!("/api/v1/council-papers?measure_id={}", measure["id"])).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["oparl_id"], format!("{}/oparl/paper/3", server.base));
    assert_eq!(linked[0]["measure_ids"], json!([measure["id"]]));
    let of_measure = app.collect_all(&format!("/api/v1/measures/{}/council-papers", measure["id"])).await;
    assert_eq!(of_measure, linked, "the measure shows its papers");
    assert_problem(app.get("/api/v1/measures/999999/council-papers").await, 404, "/problems/not-found").await;
    assert_eq!(app.collect_all("/api/v1/council-papers?linked=true").await.len(), 1);
    assert_eq!(app.collect_all("/api/v1/council-papers?linked=false").await.len(), 13);
    // Changing the refs moves the link, without another sync.
    let oparl_id = format!("{}/oparl/paper/4", server.base);
    let patched =
        app.patch_json(&format!("/api/v1/measures/{}", measure["id"]), &json!({"council_refs": [oparl_id]})).await;
    assert_eq!(patched.status(), 200);
    let linked = app.collect_all(&format!("/api/v1/council-papers?measure_id={}", measure["id"])).await;
    assert_eq!(linked.iter().map(|p| p["oparl_id"].clone()).collect::<Vec<_>>(), vec![json!(oparl_id)]);
}

/// Runs `ikz-api sync oparl …` on the app's database, off the runtime (the council system
/// answers on it meanwhile).
async fn cli(app: &TestApp, args: Vec<String>, env: Vec<(&'static str, String)>) -> std::process::Output {
    let database = app._db.url();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ikz-api"))
            .args(["sync", "oparl"])
            .args(args)
            .env("DATABASE_URL", database)
            .env("RUST_LOG", "warn")
            .env("IKZ_SYNC_RETRY_BASE_MS", "5")
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_runs_one_sync_and_exits_zero_or_says_why_not() {
    let app = spawn_sync_app().await;
    let server = OparlServer::start(small_world(Quirks { first_try_fails: true, ..Quirks::default() }));
    let done = cli(&app, vec![server.system_url()], vec![]).await;
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let counts: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(counts["objects"]["paper"]["created"], 14);
    let sources: Value = app.as_admin(Method::GET, "/api/v1/sync-sources").send().await.unwrap().json().await.unwrap();
    let source = &sources["items"][0];
    assert_eq!(source["system_url"], server.system_url());
    assert_eq!(source["health"]["state"], "succeeded");
    let runs: Value = app
        .as_admin(Method::GET, &format!("/api/v1/sync-sources/{}/runs", source["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(runs["items"][0]["trigger"], "cli");
    assert!(runs["items"][0]["counts"]["retries"].as_u64().unwrap() > 0, "500s retried and still a success");

    let failed = cli(&app, vec!["http://127.0.0.1:9/oparl/system".into()], vec![]).await;
    assert!(!failed.status.success());
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(said.contains("failed") && said.contains("127.0.0.1:9"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_with_kill_9_resumes_from_the_list_positions_it_saved() {
    let app = spawn_sync_app().await;
    let mut world = small_world(Quirks::default());
    world.page_size = 2;
    world.stall_after_paper_pages = Some(2);
    let server = OparlServer::start(world);
    let database = app._db.url();
    let url = server.system_url();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ikz-api"))
        .args(["sync", "oparl", &url])
        .env("DATABASE_URL", database)
        .env("RUST_LOG", "warn")
        .env("IKZ_SYNC_LEASE_SECONDS", "1")
        .env("IKZ_SYNC_CONCURRENCY", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stalled = || server.with(|w| w.list_requests("paper") >= 3);
    for _ in 0..400 {
        if stalled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(stalled(), "the third paper page was asked for");
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let copied = app.collect_all("/api/v1/council-papers").await.len();
    assert_eq!(copied, 4, "two pages of two papers were written before the kill");
    let first_page = server.with(|w| {
        w.stall_after_paper_pages = None;
        w.requests.iter().filter(|r| r.starts_with("/oparl/body/0/papers?") && !r.contains("page=")).count()
    });
    assert_eq!(first_page, 1);
    tokio::time::sleep(Duration::from_millis(1100)).await; // the dead run's lease runs out
    let sources: Value = app.as_admin(Method::GET, "/api/v1/sync-sources").send().await.unwrap().json().await.unwrap();
    let health = &sources["items"][0]["health"];
    assert_eq!(health["state"], "failed", "a dead run is not shown as running: {health}");
    assert!(health["last_error"].as_str().unwrap().contains("lease ran out"), "{health}");
    let done = cli(&app, vec![url], vec![("IKZ_SYNC_LEASE_SECONDS", "1".into())]).await;
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let again = server
        .with(|w| w.requests.iter().filter(|r| r.starts_with("/oparl/body/0/papers?") && !r.contains("page=")).count());
    assert_eq!(again, 1, "the first page was not read again");
    assert_eq!(app.collect_all("/api/v1/council-papers").await.len(), 14);
    let sources: Value = app.as_admin(Method::GET, "/api/v1/sync-sources").send().await.unwrap().json().await.unwrap();
    let runs: Value = app
        .as_admin(Method::GET, &format!("/api/v1/sync-sources/{}/runs", sources["items"][0]["id"]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let states: Vec<(&str, bool)> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["state"].as_str().unwrap(), r["resumed"] == true))
        .collect();
    assert_eq!(states, vec![("succeeded", true), ("interrupted", false)]);
    assert_eq!(runs["items"][0]["counts"]["objects"]["paper"]["created"], 14, "the counts carry over");
}
