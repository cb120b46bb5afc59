//! Diesel structs and plain query functions, one module per resource.

pub mod accounts;
pub mod contacts;
pub mod cooperations;
pub mod fields;
pub mod input;
pub mod measures;
pub mod partners;
pub mod record;
pub mod service_tokens;
pub mod usage;
pub mod users;

use chrono::{NaiveDateTime, SubsecRound, Utc};

/// Current UTC time truncated to microseconds, the precision both backends store, so that a
/// value read back equals the value written (ETags and cursors depend on it).
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}
