//! Integration tests: the real server on a real database (SQLite, or PostgreSQL when
//! `IKZ_TEST_POSTGRES_URL` is set), one fresh database per test.

mod auth_rules;
mod auth_tokens;
mod changes;
mod contacts;
mod cooperations;
mod council_decisions;
mod events;
mod exchange;
mod fields;
mod health;
mod helpers;
mod import;
mod measures;
mod migrations;
mod oparl_server;
mod openapi;
mod partners;
mod partners_errors;
mod progress;
mod robustness;
mod savings;
mod security;
mod seed;
mod sign_offs;
mod stored_values;
mod sync;
mod versions;
mod vocabularies;
mod webhooks;
mod working_groups;
