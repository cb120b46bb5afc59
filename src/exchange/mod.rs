//! Data exchange with spreadsheets and other systems: the one CSV layout of records, written
//! here (export; the API streams it for every list) and read back (import, also NDJSON).

pub mod csv;
pub mod import;
pub mod titles;
pub mod xlsx;
