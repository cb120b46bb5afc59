//! Data exchange with spreadsheets and other systems: the one CSV layout of records, written
//! (export) here; the API streams it for every list.

pub mod csv;
