//! A council information system for tests and the sync benchmark: an OParl 1.1 server on
//! 127.0.0.1 with synthetic data generated from a seed (System, Body, organisations, meetings
//! with agenda items, papers with consultations), lists with paging and `modified_since`,
//! deletions listed as tombstones under `modified_since` (as OParl 1.1 does), and each vendor
//! quirk the sync must handle, switched on one at a time.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::{DateTime, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Vendor quirks seen in the wild; each is off unless a test switches it on.
#[derive(Debug, Clone, Default)]
pub struct Quirks {
    /// An empty list is answered with a bare `[]`.
    pub bare_empty_list: bool,
    /// An empty list is answered with 404 and an error object.
    pub not_found_empty_list: bool,
    /// Deleted entries come without `type`.
    pub deleted_without_type: bool,
    /// The body list is answered with the (first) body object itself.
    pub single_body_object: bool,
    /// AGSs are sent as numbers would print them: without their leading zero.
    pub ags_without_leading_zero: bool,
    /// `"N/A"` and blank strings where a value is missing.
    pub placeholders: bool,
    /// Single objects where arrays belong (`keyword`, `auxiliaryFile`, one consultation).
    pub object_for_array: bool,
    /// Embedded objects (consultations, agenda items, files) without `type`.
    pub embedded_without_type: bool,
    /// Paper names with raw (unescaped) control characters in the JSON.
    pub control_characters: bool,
    /// The first try of every list page answers HTTP 500.
    pub first_try_fails: bool,
    /// `next` links that drop `modified_since`.
    pub next_drops_modified_since: bool,
    /// The System's `id` differs from the URL it is fetched from.
    pub id_differs_from_url: bool,
    /// Each page repeats the last entry of the page before it.
    pub duplicates_across_pages: bool,
    /// `Retry-After: 1` with a 503 on the first try of the System.
    pub retry_after: bool,
}

#[derive(Debug, Clone)]
pub struct Body {
    pub n: usize,
    pub name: String,
    pub ags: String,
    pub classification: String,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Organization {
    pub n: usize,
    pub body: usize,
    pub name: String,
    pub modified: DateTime<Utc>,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct AgendaItem {
    pub n: usize,
    pub paper: usize,
    pub number: String,
    pub result: String,
}

#[derive(Debug, Clone)]
pub struct Meeting {
    pub n: usize,
    pub body: usize,
    pub organization: usize,
    pub name: String,
    pub start: DateTime<Utc>,
    pub items: Vec<AgendaItem>,
    pub modified: DateTime<Utc>,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub struct Consultation {
    pub n: usize,
    pub meeting: usize,
    pub agenda_item: usize,
    pub organization: usize,
    pub authoritative: bool,
    pub role: String,
}

#[derive(Debug, Clone)]
pub struct Paper {
    pub n: usize,
    pub body: usize,
    pub name: String,
    pub reference: String,
    pub date: NaiveDate,
    pub keywords: Vec<String>,
    pub consultations: Vec<Consultation>,
    pub modified: DateTime<Utc>,
    pub deleted: bool,
    /// Not listed at all (as servers hide what is not public yet), and not deleted.
    pub hidden: bool,
}

/// Everything the server publishes, and what it saw.
#[derive(Debug, Default)]
pub struct World {
    pub bodies: Vec<Body>,
    pub organizations: Vec<Organization>,
    pub meetings: Vec<Meeting>,
    pub papers: Vec<Paper>,
    pub quirks: Quirks,
    pub page_size: usize,
    /// Path and query of every request, in order.
    pub requests: Vec<String>,
    /// Tries seen per page (for `first_try_fails`).
    tries: HashMap<String, u32>,
    /// The server's clock for changes made by tests (after every generated `modified`).
    pub clock: DateTime<Utc>,
    /// Requests for paper pages beyond this many stall for a minute (to kill a run mid-way).
    pub stall_after_paper_pages: Option<usize>,
    paper_pages_served: usize,
    /// This page of every paper list answers 404 (a page that went missing mid-list).
    pub missing_paper_page: Option<usize>,
}

/// How much to generate.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub bodies: usize,
    pub papers_per_body: usize,
    pub meetings_per_body: usize,
    pub organizations_per_body: usize,
}

impl Size {
    pub fn small() -> Self {
        Self { bodies: 2, papers_per_body: 7, meetings_per_body: 3, organizations_per_body: 2 }
    }
}

const RESULTS: [&str; 6] =
    ["beschlossen", "einstimmig beschlossen", "abgelehnt", "vertagt", "zur Kenntnis genommen", ""];
const TOPICS: [&str; 6] = [
    "Interkommunale Zusammenarbeit der Bauhöfe",
    "Haushaltssatzung",
    "Bebauungsplan Nr.",
    "Gemeinsame Beschaffung von Feuerwehrfahrzeugen",
    "Straßenbeleuchtung",
    "Kooperation IT-Dienstleister",
];

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

impl World {
    /// Synthetic data from `seed`: modified times spread over the year before 2026-11-01.
    pub fn generate(seed: u64, size: Size) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let start = at("2025-11-01T00:00:00Z");
        let span = (at("2026-11-01T00:00:00Z") - start).num_seconds();
        let modified = |rng: &mut StdRng| start + chrono::Duration::seconds(rng.random_range(0..span));
        let mut world = World { page_size: 100, clock: at("2026-12-01T08:00:00Z"), ..World::default() };
        for b in 0..size.bodies {
            world.bodies.push(Body {
                n: b,
                name: format!("Gemeinde Testdorf {b}"),
                // North Rhine-Westphalia (05…): the state key's leading zero is what gets lost.
                ags: format!("0595{:04}", 8000 + b),
                classification: if b % 5 == 4 { "Landkreis".into() } else { "Gemeinde".into() },
                modified: modified(&mut rng),
            });
            let orgs: Vec<usize> = (0..size.organizations_per_body)
                .map(|o| {
                    let n = world.organizations.len();
                    world.organizations.push(Organization {
                        n,
                        body: b,
                        name: if o == 0 { "Gemeinderat".into() } else { format!("Ausschuss {o}") },
                        modified: modified(&mut rng),
                        deleted: false,
                    });
                    n
                })
                .collect();
            let meetings: Vec<usize> = (0..size.meetings_per_body)
                .map(|m| {
                    let n = world.meetings.len();
                    let organization = orgs[m % orgs.len()];
                    world.meetings.push(Meeting {
                        n,
                        body: b,
                        organization,
                        name: format!("{}. Sitzung", m + 1),
                        start: at("2026-01-15T18:00:00Z") + chrono::Duration::days(7 * m as i64),
                        items: Vec::new(),
                        modified: modified(&mut rng),
                        deleted: false,
                    });
                    n
                })
                .collect();
            for p in 0..size.papers_per_body {
                let n = world.papers.len();
                let topic = TOPICS[rng.random_range(0..TOPICS.len())];
                let mut consultations = Vec::new();
                for c in 0..rng.random_range(1..=2usize) {
                    let meeting = meetings[(p + c) % meetings.len()];
                    let item = world.meetings[meeting].items.len();
                    let result = RESULTS[rng.random_range(0..RESULTS.len())].to_owned();
                    world.meetings[meeting].items.push(AgendaItem {
                        n: item,
                        paper: n,
                        number: format!("Ö {}", item + 1),
                        result,
                    });
                    consultations.push(Consultation {
                        n: n * 10 + c,
                        meeting,
                        agenda_item: item,
                        organization: world.meetings[meeting].organization,
                        authoritative: c == 0,
                        role: if c == 0 { "Beschlussfassung".into() } else { "Vorberatung".into() },
                    });
                }
                world.papers.push(Paper {
                    n,
                    body: b,
                    name: format!("{topic} {n}"),
                    reference: format!("VO/2026/{n:05}"),
                    date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days((n % 300) as i64),
                    keywords: if topic.contains("Interkommunal") { vec!["IKZ".into()] } else { vec![] },
                    consultations,
                    modified: modified(&mut rng),
                    deleted: false,
                    hidden: false,
                });
            }
        }
        world
    }

    /// Changes the first `count` papers (a new name), at the server's clock, which moves on.
    pub fn change_papers(&mut self, count: usize) {
        self.clock += chrono::Duration::minutes(1);
        for paper in self.papers.iter_mut().filter(|p| !p.deleted).take(count) {
            paper.name = format!("{} (geändert)", paper.name);
            paper.modified = self.clock;
        }
    }

    /// Deletes paper `n` (listed as a tombstone under `modified_since` from now on).
    pub fn delete_paper(&mut self, n: usize) {
        self.clock += chrono::Duration::minutes(1);
        self.papers[n].deleted = true;
        self.papers[n].modified = self.clock;
    }

    /// How many different pages of body lists (organisations, meetings, papers) were asked for.
    pub fn list_pages_asked(&self) -> u64 {
        let pages: std::collections::HashSet<&String> =
            self.requests.iter().filter(|r| r.starts_with("/oparl/body/")).collect();
        pages.len() as u64
    }

    /// How many requests asked for a list of `kind` (`paper`, `meeting`, `organization`).
    pub fn list_requests(&self, kind: &str) -> usize {
        self.requests.iter().filter(|r| r.contains(&format!("/{kind}s"))).count()
    }
}

/// The server: its base URL and its world.
#[derive(Clone)]
pub struct OparlServer {
    pub base: String,
    pub world: Arc<Mutex<World>>,
}

impl OparlServer {
    /// Starts the server on 127.0.0.1 (a free port) with `world`, on the current runtime.
    pub fn start(world: World) -> Self {
        let world = Arc::new(Mutex::new(world));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = (world.clone(), base.clone());
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new().default_service(web::to(move |req: HttpRequest| {
                let (world, base) = state.clone();
                async move { answer(&world, &base, &req).await }
            }))
        })
        .workers(2)
        .listen(listener)
        .unwrap();
        tokio::spawn(server.run());
        Self { base, world }
    }

    /// The System's URL.
    pub fn system_url(&self) -> String {
        format!("{}/oparl/system", self.base)
    }

    /// Runs `f` on the world.
    pub fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.world.lock().unwrap())
    }
}

fn json_answer(status: u16, value: &Value, world: &World) -> HttpResponse {
    let mut text = value.to_string();
    if world.quirks.control_characters {
        text = text.replace("CTRL", "\t").replace("LINE", "\n");
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(text)
}

fn query_of(req: &HttpRequest) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.query_string().as_bytes()).into_owned().collect()
}

async fn answer(world: &Arc<Mutex<World>>, base: &str, req: &HttpRequest) -> HttpResponse {
    let path = req.path().to_owned();
    let full = format!("{path}?{}", req.query_string());
    let stall = {
        let mut w = world.lock().unwrap();
        w.requests.push(full.clone());
        if path.ends_with("/papers") {
            w.paper_pages_served += 1;
            w.stall_after_paper_pages.is_some_and(|n| w.paper_pages_served > n)
        } else {
            false
        }
    };
    if stall {
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let mut w = world.lock().unwrap();
    if path == "/control/change-papers" {
        let n = query_of(req).get("count").and_then(|c| c.parse().ok()).unwrap_or(0);
        w.change_papers(n);
        return HttpResponse::NoContent().finish();
    }
    let first_try = {
        let tries = w.tries.entry(full.clone()).or_insert(0);
        *tries += 1;
        *tries == 1
    };
    if path == "/oparl/moved" {
        return HttpResponse::PermanentRedirect().insert_header(("Location", "/oparl/system")).finish();
    }
    if path == "/oparl/loop" {
        return HttpResponse::Found().insert_header(("Location", "/oparl/loop")).finish();
    }
    if path == "/oparl/system" {
        if w.quirks.retry_after && first_try {
            return HttpResponse::ServiceUnavailable().insert_header(("Retry-After", "1")).body("busy");
        }
        let id = if w.quirks.id_differs_from_url { format!("{base}/oparl/v1/system") } else { format!("{base}{path}") };
        let system = json!({"id": id, "type": "https://schema.oparl.org/1.1/System", "oparlVersion": "https://schema.oparl.org/1.1/",
            "name": "Ratsinformationssystem Test", "body": format!("{base}/oparl/bodies")});
        return json_answer(200, &system, &w);
    }
    if w.quirks.first_try_fails && first_try && path != "/oparl/bodies" {
        return HttpResponse::InternalServerError().body("Internal Server Error");
    }
    let query = query_of(req);
    let since = query.get("modified_since").map(|s| DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)));
    let since = match since {
        Some(Ok(at)) => Some(at),
        Some(Err(_)) => return json_answer(400, &json!({"type": "Error", "message": "bad modified_since"}), &w),
        None => None,
    };
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let parts: Vec<&str> = path.trim_start_matches("/oparl/").split('/').collect();
    if path.ends_with("/papers") && w.missing_paper_page == Some(page) {
        return json_answer(404, &json!({"type": "https://schema.oparl.org/1.1/Error", "message": "not found"}), &w);
    }
    // Only the page's entries are turned into JSON (the list is filtered first), so that a
    // page costs what a page costs and the server does not dominate what a benchmark measures.
    let size = w.page_size.max(1);
    let from = (page - 1) * size;
    let repeat = w.quirks.duplicates_across_pages && from > 0;
    let window = |total: usize| (from - usize::from(repeat), (from + size).min(total));
    let (entries_len, data): (usize, Vec<Value>) = match parts.as_slice() {
        ["bodies"] => {
            let bodies: Vec<Value> = w.bodies.iter().map(|b| body_json(&w, base, b)).collect();
            if w.quirks.single_body_object {
                return json_answer(200, &bodies[0], &w);
            }
            (bodies.len(), bodies.into_iter().skip(from).take(size).collect())
        }
        ["body", b, kind] => {
            let Ok(b) = b.parse::<usize>() else { return HttpResponse::NotFound().finish() };
            let visible = |modified: DateTime<Utc>, deleted: bool| match since {
                Some(since) => modified >= since,
                None => !deleted,
            };
            match *kind {
                "organizations" => {
                    let all: Vec<&Organization> =
                        w.organizations.iter().filter(|o| o.body == b && visible(o.modified, o.deleted)).collect();
                    let (start, end) = window(all.len());
                    let page = all.get(start..end).unwrap_or_default().iter().map(|o| {
                        if o.deleted {
                            tombstone(&w, base, "organization", o.n, o.modified)
                        } else {
                            org_json(&w, base, o)
                        }
                    });
                    (all.len(), page.collect())
                }
                "meetings" => {
                    let all: Vec<&Meeting> =
                        w.meetings.iter().filter(|m| m.body == b && visible(m.modified, m.deleted)).collect();
                    let (start, end) = window(all.len());
                    let page = all.get(start..end).unwrap_or_default().iter().map(|m| {
                        if m.deleted {
                            tombstone(&w, base, "meeting", m.n, m.modified)
                        } else {
                            meeting_json(&w, base, m)
                        }
                    });
                    (all.len(), page.collect())
                }
                "papers" => {
                    let all: Vec<&Paper> = w
                        .papers
                        .iter()
                        .filter(|p| p.body == b && !p.hidden && visible(p.modified, p.deleted))
                        .collect();
                    let (start, end) = window(all.len());
                    let page = all.get(start..end).unwrap_or_default().iter().map(|p| {
                        if p.deleted { tombstone(&w, base, "paper", p.n, p.modified) } else { paper_json(&w, base, p) }
                    });
                    (all.len(), page.collect())
                }
                _ => return HttpResponse::NotFound().finish(),
            }
        }
        _ => return HttpResponse::NotFound().finish(),
    };
    if entries_len == 0 {
        if w.quirks.bare_empty_list {
            return json_answer(200, &json!([]), &w);
        }
        if w.quirks.not_found_empty_list {
            return json_answer(
                404,
                &json!({"type": "https://schema.oparl.org/1.1/Error", "message": "Keine Einträge"}),
                &w,
            );
        }
    }
    let mut links = json!({});
    if from + size < entries_len {
        let mut next = url::Url::parse(&format!("{base}{path}")).unwrap();
        next.query_pairs_mut().append_pair("page", &(page + 1).to_string());
        if let (Some(s), false) = (query.get("modified_since"), w.quirks.next_drops_modified_since) {
            next.query_pairs_mut().append_pair("modified_since", s);
        }
        links["next"] = json!(next.to_string());
    }
    let list = json!({"data": data, "pagination": {"totalElements": entries_len, "elementsPerPage": size,
        "currentPage": page, "totalPages": entries_len.div_ceil(size)}, "links": links});
    json_answer(200, &list, &w)
}

fn typed(w: &World, mut v: Value, kind: &str, embedded: bool) -> Value {
    if !(embedded && w.quirks.embedded_without_type) {
        v["type"] = json!(format!("https://schema.oparl.org/1.1/{kind}"));
    }
    v
}

fn tombstone(w: &World, base: &str, kind: &str, n: usize, modified: DateTime<Utc>) -> Value {
    let v = json!({"id": format!("{base}/oparl/{kind}/{n}"), "deleted": true, "modified": modified.to_rfc3339()});
    if w.quirks.deleted_without_type {
        v
    } else {
        let mut kind = kind.to_owned();
        kind[..1].make_ascii_uppercase();
        typed(w, v, &kind, false)
    }
}

fn body_json(w: &World, base: &str, b: &Body) -> Value {
    let ags = if w.quirks.ags_without_leading_zero { b.ags.trim_start_matches('0').to_owned() } else { b.ags.clone() };
    typed(
        w,
        json!({"id": format!("{base}/oparl/body/{}", b.n), "system": format!("{base}/oparl/system"), "name": b.name,
        "shortName": b.name, "ags": ags, "classification": b.classification,
        "organization": format!("{base}/oparl/body/{}/organizations", b.n),
        "meeting": format!("{base}/oparl/body/{}/meetings", b.n),
        "paper": format!("{base}/oparl/body/{}/papers", b.n),
        "person": format!("{base}/oparl/body/{}/people", b.n),
        "modified": b.modified.to_rfc3339()}),
        "Body",
        false,
    )
}

fn org_json(w: &World, base: &str, o: &Organization) -> Value {
    typed(
        w,
        json!({"id": format!("{base}/oparl/organization/{}", o.n), "name": o.name, "organizationType": "Gremium",
        "classification": if o.name == "Gemeinderat" { "Gemeinderat" } else { "Ausschuss" },
        "body": format!("{base}/oparl/body/{}", o.body), "modified": o.modified.to_rfc3339()}),
        "Organization",
        false,
    )
}

fn meeting_json(w: &World, base: &str, m: &Meeting) -> Value {
    let items: Vec<Value> = m
        .items
        .iter()
        .map(|i| {
            typed(
                w,
                json!({"id": format!("{base}/oparl/meeting/{}/item/{}", m.n, i.n), "number": i.number,
                "name": w.papers[i.paper].name, "public": true, "result": i.result,
                "consultation": format!("{base}/oparl/consultation/{}", consultation_n(w, m.n, i.n))}),
                "AgendaItem",
                true,
            )
        })
        .collect();
    typed(
        w,
        json!({"id": format!("{base}/oparl/meeting/{}", m.n), "name": m.name, "start": m.start.to_rfc3339(),
        "end": (m.start + chrono::Duration::hours(2)).to_rfc3339(), "cancelled": false,
        "organization": [format!("{base}/oparl/organization/{}", m.organization)],
        "location": {"id": format!("{base}/oparl/location/{}", m.body), "description": "Ratssaal, Rathaus"},
        "agendaItem": items, "web": format!("{base}/si/{}", m.n), "modified": m.modified.to_rfc3339()}),
        "Meeting",
        false,
    )
}

fn consultation_n(w: &World, meeting: usize, item: usize) -> usize {
    let paper = w.meetings[meeting].items[item].paper;
    w.papers[paper].consultations.iter().find(|c| c.meeting == meeting && c.agenda_item == item).map_or(0, |c| c.n)
}

fn paper_json(w: &World, base: &str, p: &Paper) -> Value {
    let q = &w.quirks;
    let consultations: Vec<Value> = p
        .consultations
        .iter()
        .map(|c| {
            let org = format!("{base}/oparl/organization/{}", c.organization);
            typed(
                w,
                json!({"id": format!("{base}/oparl/consultation/{}", c.n), "paper": format!("{base}/oparl/paper/{}", p.n),
                "meeting": format!("{base}/oparl/meeting/{}", c.meeting),
                "agendaItem": format!("{base}/oparl/meeting/{}/item/{}", c.meeting, c.agenda_item),
                "organization": if q.object_for_array { json!(org) } else { json!([org]) },
                "authoritative": c.authoritative, "role": c.role}),
                "Consultation",
                true,
            )
        })
        .collect();
    let name = if q.control_characters { format!("{}CTRLTeilLINE1", p.name) } else { p.name.clone() };
    let mut v = json!({"id": format!("{base}/oparl/paper/{}", p.n), "body": format!("{base}/oparl/body/{}", p.body),
        "name": name, "reference": p.reference, "date": p.date.to_string(), "paperType": "Beschlussvorlage",
        "keyword": p.keywords, "web": format!("{base}/vo/{}", p.n),
        "mainFile": typed(w, json!({"id": format!("{base}/oparl/file/{}", p.n), "accessUrl": format!("{base}/files/{}.pdf", p.n)}), "File", true),
        "consultation": consultations, "modified": p.modified.to_rfc3339(), "created": p.modified.to_rfc3339()});
    if q.object_for_array {
        v["auxiliaryFile"] = json!({"id": format!("{base}/oparl/file/{}-1", p.n)});
        if let [one] = p.keywords.as_slice() {
            v["keyword"] = json!(one);
        }
        if let [one] = v["consultation"].as_array().cloned().unwrap_or_default().as_slice() {
            v["consultation"] = one.clone();
        }
    }
    if q.placeholders {
        v["paperType"] = json!("N/A");
        v["reference"] = json!(" ");
    }
    typed(w, v, "Paper", false)
}
