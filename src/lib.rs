//! ikz-api: REST/JSON backend for inter-municipal cooperation (Interkommunale Zusammenarbeit).
//!
//! `main.rs` only parses the command line; everything it starts is built here so that the
//! integration tests start exactly what production starts (see `startup`).

pub mod api;
pub mod auth;
pub mod changes;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod exchange;
pub mod models;
pub mod openapi;
pub mod outbound;
pub mod progress;
pub mod seed;
pub mod startup;
pub mod sync;
