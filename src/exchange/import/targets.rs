//! The resources an import writes, each through its own model functions and with the rights
//! its API operations demand: a new row as `POST`, a changed one as `PATCH`.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::cells::{Column, columns_of};
use crate::auth::{Caller, Role};
use crate::changes::Resource;
use crate::db::{AnyConnection, Timestamp};
use crate::error::AppError;
use crate::models::input::decode;
use crate::models::record::{IfMatch, Patch};
use crate::models::{contacts, cooperations, fields, measures, partners};

/// What an import creates or changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ImportResource {
    Partners,
    Fields,
    Cooperations,
    Measures,
    Contacts,
}

/// A record's identity and version after a row was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub id: i64,
    pub updated_at: Timestamp,
}

impl ImportResource {
    /// The resource as the change feed names it.
    pub fn resource(self) -> Resource {
        match self {
            Self::Partners => Resource::Partners,
            Self::Fields => Resource::Fields,
            Self::Cooperations => Resource::Cooperations,
            Self::Measures => Resource::Measures,
            Self::Contacts => Resource::Contacts,
        }
    }

    /// The fields a row may set: those of the create body.
    pub fn writable(self) -> &'static [Column] {
        use std::sync::OnceLock;
        static COLUMNS: [OnceLock<Vec<Column>>; 5] = [const { OnceLock::new() }; 5];
        let own = self.resource();
        COLUMNS[self as usize].get_or_init(|| match self {
            Self::Partners => columns_of::<partners::CreatePartner>(own),
            Self::Fields => columns_of::<fields::CreateField>(own),
            Self::Cooperations => columns_of::<cooperations::CreateCooperation>(own),
            Self::Measures => columns_of::<measures::CreateMeasure>(own),
            Self::Contacts => columns_of::<contacts::CreateContact>(own),
        })
    }

    /// The exported fields a row cannot set: it must leave them empty or as exported.
    pub fn read_only(self) -> &'static [&'static str] {
        match self {
            Self::Measures => &[
                "id",
                "status",
                "priority_score",
                "councils_agreed",
                "savings_eur",
                "savings_percent",
                "description_signed_on",
                "progress_derived",
                "created_at",
                "updated_at",
            ],
            Self::Contacts => &["id", "phone_normalized", "created_at", "updated_at"],
            Self::Partners | Self::Fields | Self::Cooperations => &["id", "created_at", "updated_at"],
        }
    }

    /// Exported fields that embed another record (only with `?include=…`): ignored on import.
    pub fn embedded(self) -> &'static [&'static str] {
        match self {
            Self::Partners => &["contacts"],
            Self::Measures => &["responsible_contact", "council_decisions", "sign_offs"],
            Self::Fields | Self::Cooperations | Self::Contacts => &[],
        }
    }

    /// The role a new record needs, as its `POST` demands (the model checks the rest).
    fn allow_create(self, caller: &Caller) -> Result<(), AppError> {
        match self {
            Self::Partners => caller.require(Role::Admin, "create partners"),
            Self::Fields => caller.require(Role::Admin, "create fields"),
            Self::Cooperations => caller.require(Role::Admin, "create cooperations"),
            Self::Measures => caller.require(Role::Editor, "create measures"),
            Self::Contacts => caller.require(Role::Editor, "add contacts"),
        }
    }

    /// The role a change needs, as its `PATCH` demands (the model checks the rest).
    fn allow_update(self, caller: &Caller, id: i64) -> Result<(), AppError> {
        match self {
            Self::Partners => caller.require_partner(id, "change partners"),
            Self::Fields => caller.require(Role::Admin, "change fields"),
            Self::Cooperations => Ok(()),
            Self::Measures => caller.require(Role::Editor, "change measures"),
            Self::Contacts => caller.require(Role::Editor, "change contacts"),
        }
    }

    /// Checks a new record from a row's values as [`Self::create`] would, reading only.
    pub fn check_create(self, conn: &mut AnyConnection, caller: &Caller, values: Value) -> Result<(), AppError> {
        self.allow_create(caller)?;
        match self {
            Self::Partners => partners::check_create(conn, &decode(values)?),
            Self::Fields => fields::check_create(conn, &decode(values)?),
            Self::Cooperations => cooperations::check_create(conn, &decode(values)?),
            Self::Measures => measures::check_create(conn, caller, &decode(values)?),
            Self::Contacts => contacts::check_create(conn, caller, &decode(values)?),
        }
    }

    /// Checks a change by a row's values as [`Self::update`] would, reading only: `true` when
    /// it changes the record.
    pub fn check_update(
        self,
        conn: &mut AnyConnection,
        caller: &Caller,
        id: i64,
        patch: Patch,
        if_match: &IfMatch,
    ) -> Result<bool, AppError> {
        self.allow_update(caller, id)?;
        match self {
            Self::Partners => partners::check_update(conn, id, patch, if_match),
            Self::Fields => fields::check_update(conn, id, patch, if_match),
            Self::Cooperations => cooperations::check_update(conn, caller, id, patch, if_match),
            Self::Measures => measures::check_update(conn, caller, id, patch, if_match),
            Self::Contacts => contacts::check_update(conn, caller, id, patch, if_match),
        }
    }

    /// Creates a record from a row's values, as `POST /api/v1/<resource>` would.
    pub fn create(
        self,
        conn: &mut AnyConnection,
        caller: &Caller,
        values: Value,
        now: Timestamp,
    ) -> Result<Version, AppError> {
        self.allow_create(caller)?;
        let version = |id, updated_at| Version { id, updated_at };
        match self {
            Self::Partners => partners::create(conn, caller, decode(values)?, now).map(|p| version(p.id, p.updated_at)),
            Self::Fields => fields::create(conn, caller, decode(values)?, now).map(|f| version(f.id, f.updated_at)),
            Self::Cooperations => {
                cooperations::create(conn, caller, decode(values)?, now).map(|c| version(c.id, c.updated_at))
            }
            Self::Measures => measures::create(conn, caller, decode(values)?, now)
                .map(|m| version(m.measure.id, m.measure.updated_at)),
            Self::Contacts => contacts::create(conn, caller, decode(values)?, now)
                .map(|c| version(c.contact.id, c.contact.updated_at)),
        }
    }

    /// Changes a record by a row's values (absent fields unchanged), as `PATCH` would.
    pub fn update(
        self,
        conn: &mut AnyConnection,
        caller: &Caller,
        id: i64,
        patch: Patch,
        if_match: &IfMatch,
        now: Timestamp,
    ) -> Result<Version, AppError> {
        self.allow_update(caller, id)?;
        let version = |id, updated_at| Version { id, updated_at };
        match self {
            Self::Partners => {
                partners::update(conn, caller, id, patch, if_match, now).map(|p| version(p.id, p.updated_at))
            }
            Self::Fields => fields::update(conn, caller, id, patch, if_match, now).map(|f| version(f.id, f.updated_at)),
            Self::Cooperations => {
                cooperations::update(conn, caller, id, patch, if_match, now).map(|c| version(c.id, c.updated_at))
            }
            Self::Measures => measures::update(conn, caller, id, patch, if_match, now)
                .map(|m| version(m.measure.id, m.measure.updated_at)),
            Self::Contacts => contacts::update(conn, caller, id, patch, if_match, now)
                .map(|c| version(c.contact.id, c.contact.updated_at)),
        }
    }

    /// The read-only fields of a stored record as the export writes them; `None` when there is
    /// no record with this id.
    pub fn stored(self, conn: &mut AnyConnection, id: i64) -> Result<Option<Map<String, Value>>, AppError> {
        let missing = |e: AppError| if matches!(e, AppError::NotFound(_)) { Ok(None) } else { Err(e) };
        let found = match self {
            Self::Partners => partners::get(conn, id).map(|p| (p.created_at, p.updated_at, vec![])),
            Self::Fields => fields::get(conn, id).map(|f| (f.created_at, f.updated_at, vec![])),
            Self::Cooperations => cooperations::get(conn, id).map(|c| (c.created_at, c.updated_at, vec![])),
            Self::Measures => measures::get(conn, id, false).map(|r| {
                let m = r.measure;
                let derived = vec![
                    ("status", Value::from(m.status.as_str())),
                    ("priority_score", Value::from(m.priority_score)),
                    ("councils_agreed", Value::from(m.councils_agreed)),
                    ("savings_eur", Value::from(m.savings_eur)),
                    ("savings_percent", Value::from(m.savings_percent_tenths.map(|t| f64::from(t) / 10.0))),
                    ("description_signed_on", serde_json::to_value(m.description_signed_on).unwrap_or_default()),
                    ("progress_derived", Value::from(!m.progress_manual)),
                ];
                (m.created_at, m.updated_at, derived)
            }),
            Self::Contacts => contacts::get(conn, id).map(|r| {
                let c = r.contact;
                (c.created_at, c.updated_at, vec![("phone_normalized", Value::from(c.phone_normalized))])
            }),
        };
        let (created_at, updated_at, derived) = match found {
            Ok(found) => found,
            Err(e) => return missing(e),
        };
        let timestamp = |t: Timestamp| serde_json::to_value(t).unwrap_or_default();
        let mut values = Map::new();
        values.insert("id".into(), Value::from(id));
        values.insert("created_at".into(), timestamp(created_at));
        values.insert("updated_at".into(), timestamp(updated_at));
        values.extend(derived.into_iter().map(|(k, v)| (k.to_owned(), v)));
        Ok(Some(values))
    }
}
