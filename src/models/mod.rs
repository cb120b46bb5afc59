//! Diesel structs and plain query functions, one module per resource.

pub mod accounts;
pub mod contacts;
pub mod cooperations;
pub mod council;
pub mod events;
pub mod external_refs;
pub mod feed;
pub mod fields;
pub mod idempotency;
pub mod ids;
pub mod input;
pub mod measures;
pub mod partners;
pub mod record;
pub mod service_tokens;
pub mod sync_sources;
pub mod usage;
pub mod users;
pub mod vocabularies;
pub mod webhooks;
pub mod working_groups;

use crate::db::Timestamp;

/// Now, as stored (see [`Timestamp::now`]).
pub fn now() -> Timestamp {
    Timestamp::now()
}
