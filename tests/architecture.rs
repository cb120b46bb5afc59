//! The floor plan (ARCHITECTURE.md), held against the code: data flows down the floors and
//! nothing calls upward.
//!
//! - only `src/api/`, `src/startup.rs`, `src/openapi*` and `src/cli.rs` may use `crate::api`
//!   (the two entry points, HTTP and the shell, sit above it; `ikz-api export` answers through
//!   the API's own list functions, so that its filters, rights and layout cannot drift);
//! - `src/models/`, `src/db/` and `src/domain/` know nothing of HTTP: no actix;
//! - `src/domain/` stands alone: no database, no models;
//! - `src/api/` leaves storage to the models: no diesel, no connection, no row lock;
//! - SQL written by hand (raw statements, hand-built query fragments) lives in `src/db/` only.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every line of `src/` (but comments) that names one of `needles`, as `path:line: text`,
/// for the files `applies` selects.
fn offending(needles: &[&str], applies: impl Fn(&str) -> bool) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        if !applies(&relative) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if needles.iter().any(|needle| code.contains(needle)) {
                found.push(format!("{relative}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn nothing_below_the_http_floor_imports_the_api() {
    let upward = offending(&["crate::api", "ikz_api::api", "super::api"], |path| {
        !(path.starts_with("src/api/")
            || path == "src/startup.rs"
            || path == "src/cli.rs"
            || path.starts_with("src/openapi"))
    });
    assert!(upward.is_empty(), "these lower floors reach up into the HTTP layer:\n{}", upward.join("\n"));
}

#[test]
fn models_database_and_domain_know_nothing_of_http() {
    let http = offending(&["actix_web", "actix_rt", "actix::", "HttpRequest", "HttpResponse"], |path| {
        path.starts_with("src/models/") || path.starts_with("src/db/") || path.starts_with("src/domain/")
    });
    assert!(http.is_empty(), "HTTP below the HTTP floor:\n{}", http.join("\n"));
}

#[test]
fn domain_rules_stand_alone() {
    let below = offending(&["crate::db", "crate::models", "diesel"], |path| path.starts_with("src/domain/"));
    assert!(below.is_empty(), "domain rules that reach into storage:\n{}", below.join("\n"));
}

#[test]
fn handlers_leave_the_database_to_the_models() {
    // A handler extracts, calls one model function and responds: the rules (locks, preconditions,
    // references) and the queries live in `models/`, so that the seed, the CLI and connectors
    // get the same rules.
    let storage = offending(&["diesel", "AnyConnection", "lock_row", "db::schema", "per_backend!"], |path| {
        path.starts_with("src/api/")
    });
    assert!(storage.is_empty(), "the HTTP floor reaches into storage:\n{}", storage.join("\n"));
}

#[test]
fn hand_written_sql_lives_in_the_database_floor() {
    // Backend-specific or hand-tuned statements are written once, in `src/db/`; models declare
    // or call them there and otherwise use diesel's query builder.
    let by_hand = offending(&["sql_query", "walk_ast", "QueryFragment"], |path| !path.starts_with("src/db/"));
    assert!(by_hand.is_empty(), "SQL written by hand outside src/db/:\n{}", by_hand.join("\n"));
    assert!(!offending(&["sql_query", "walk_ast"], |path| path.starts_with("src/db/")).is_empty());
}

#[test]
fn the_checker_sees_what_is_there() {
    // Start-up wires the API in, and the API is made of actix handlers: the same search finds
    // both, so an empty result above is a clean floor plan, not a search that finds nothing.
    assert!(!offending(&["crate::api"], |path| path == "src/startup.rs").is_empty());
    assert!(!offending(&["actix_web"], |path| path.starts_with("src/api/")).is_empty());
    assert!(!offending(&["lock_row", "diesel"], |path| path.starts_with("src/models/")).is_empty());
}
