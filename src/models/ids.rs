//! Ids that travel side by side where a swap would silently act on the wrong record: a
//! membership names a cooperation and a partner, and so do the checks before it is removed.
//! (A few types where the risk is real, not one per table.)

use std::fmt;

/// The id of a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartnerId(pub i64);

/// The id of a cooperation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CooperationId(pub i64);

impl fmt::Display for PartnerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for CooperationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
