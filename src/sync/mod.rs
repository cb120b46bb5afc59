//! Connectors that copy from other systems into the service's own records. Each calls out only
//! through [`crate::outbound::Client`] and writes only through the models.

pub mod oparl;
