//! Who is calling, and what may they do: roles, principals and the caller's scope. The rooms:
//! `caller` (the request extractor), `tokens` (local JWTs and service tokens), `oidc` (an external
//! identity provider), `passwords` (argon2). Failed logins are counted in `models::accounts`.
//!
//! Invariants:
//! - a request without `Authorization` is anonymous; a request with a bad one is rejected (401),
//!   never downgraded to anonymous;
//! - local tokens are HS256 JWTs (`iss`/`aud` = `ikz-api`); `alg: none` and any algorithm other than
//!   the configured ones are rejected; role and partner scope are read from the database at every
//!   request, so deactivating a user or revoking a service token takes effect at once;
//! - service tokens are opaque (`ikz_st_…`); only their SHA-256 is stored;
//! - tokens of an external OpenID Connect provider (RS256/ES256) are accepted when configured; their
//!   role and partner scope come from configurable claims.

mod caller;
pub mod login;
mod oidc;
mod passwords;
mod tokens;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use caller::Authenticator;
pub use passwords::{hash_password, random_password, verify_password};
pub use tokens::{Claims, TokenKeys, bootstrap, new_service_token};

use crate::error::AppError;

/// Issuer and audience of the tokens this service issues.
pub const LOCAL_ISSUER: &str = "ikz-api";

/// Prefix of service token values.
pub const SERVICE_TOKEN_PREFIX: &str = "ikz_st_";

/// Allowed clock difference between instances and identity providers, in seconds.
const LEEWAY_SECONDS: u64 = 30;

/// What a caller may do; each role includes the ones below it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// Reads everything, including contacts.
    Viewer,
    /// Also writes the records of its own partners and of their cooperations.
    Editor,
    /// Everything, including users and service tokens.
    Admin,
}

impl Role {
    /// The stored and transmitted name.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No `Authorization` header.
    Anonymous,
    /// A local account.
    User { id: i64, username: String },
    /// A service token.
    ServiceToken { id: i64, name: String },
    /// A user of the external identity provider.
    External { subject: String },
    /// The service itself acting from the command line or a background job (seed, CLI, sync).
    System { name: String },
}

/// The authenticated caller of a request, with its role and partner scope.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub principal: Principal,
    /// Role; `None` for anonymous callers and external users without a recognised role.
    pub role: Option<Role>,
    /// Partners an editor acts for.
    pub partner_ids: Vec<i64>,
    /// Whether anonymous reads of non-personal data are allowed (`IKZ_PUBLIC_READ`).
    public_read: bool,
}

impl Caller {
    /// The service itself, with the rights of an admin: what the seed, the CLI and background
    /// jobs act as when they call the model rules.
    pub fn system(name: &str) -> Self {
        Caller {
            principal: Principal::System { name: name.to_owned() },
            role: Some(Role::Admin),
            partner_ids: vec![],
            public_read: true,
        }
    }

    /// Who did something, as recorded in the history.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::Anonymous => "anonymous".into(),
            Principal::User { id, username } => format!("user:{id} ({username})"),
            Principal::ServiceToken { id, name } => format!("service_token:{id} ({name})"),
            Principal::External { subject } => format!("external:{subject}"),
            Principal::System { name } => format!("system ({name})"),
        }
    }

    /// Whose `Idempotency-Key`s a request's key is among: the account, the service token or the
    /// external identity (of the one configured issuer); `None` for anonymous and system callers.
    pub fn idempotency_scope(&self) -> Option<String> {
        match &self.principal {
            Principal::User { id, .. } => Some(format!("user:{id}")),
            Principal::ServiceToken { id, .. } => Some(format!("service_token:{id}")),
            Principal::External { subject } => Some(format!("external:{subject}")),
            Principal::Anonymous | Principal::System { .. } => None,
        }
    }

    /// Read access to non-personal data (partners, fields, cooperations, measures).
    pub fn may_read_public(&self) -> Result<(), AppError> {
        if self.public_read || self.role.is_some() { Ok(()) } else { Err(self.refuse("read this data")) }
    }

    /// Requires at least `role`; `action` completes "… needed to <action>".
    pub fn require(&self, role: Role, action: &str) -> Result<(), AppError> {
        match self.role {
            Some(have) if have >= role => Ok(()),
            _ => Err(self.refuse_with(role, action)),
        }
    }

    /// Admin, or an editor acting for `partner_id`.
    pub fn require_partner(&self, partner_id: i64, action: &str) -> Result<(), AppError> {
        match self.role {
            Some(Role::Admin) => Ok(()),
            Some(Role::Editor) if self.partner_ids.contains(&partner_id) => Ok(()),
            Some(Role::Editor) => Err(AppError::Forbidden(format!(
                "you may {action} only for the partners you act for ({}); partner {partner_id} is not among them",
                list(&self.partner_ids)
            ))),
            _ => Err(self.refuse_with(Role::Editor, action)),
        }
    }

    /// Admin, or an editor acting for one of `member_ids` (the partners of a cooperation).
    pub fn require_member(&self, member_ids: &[i64], action: &str) -> Result<(), AppError> {
        match self.role {
            Some(Role::Admin) => Ok(()),
            Some(Role::Editor) if member_ids.iter().any(|id| self.partner_ids.contains(id)) => Ok(()),
            Some(Role::Editor) => Err(AppError::Forbidden(format!(
                "you may {action} only in cooperations that one of your partners ({}) belongs to",
                list(&self.partner_ids)
            ))),
            _ => Err(self.refuse_with(Role::Editor, action)),
        }
    }

    /// Whether the caller is an admin (who needs no scope check).
    pub fn is_admin(&self) -> bool {
        self.role == Some(Role::Admin)
    }

    fn refuse(&self, action: &str) -> AppError {
        self.refuse_with(Role::Viewer, action)
    }

    fn refuse_with(&self, role: Role, action: &str) -> AppError {
        match self.principal {
            Principal::Anonymous => AppError::Unauthorized {
                detail: format!("authentication required to {action}: send `Authorization: Bearer <token>`"),
                invalid_token: false,
            },
            _ => AppError::Forbidden(format!(
                "the role `{}` is needed to {action}; you have {}",
                role.as_str(),
                self.role.map_or("no role".to_owned(), |r| format!("`{}`", r.as_str()))
            )),
        }
    }
}

fn list(ids: &[i64]) -> String {
    if ids.is_empty() { "none".into() } else { ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ") }
}

fn invalid_token(detail: impl Into<String>) -> AppError {
    AppError::Unauthorized { detail: detail.into(), invalid_token: true }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_viewer_editor_admin() {
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!("editor".parse::<Role>().unwrap(), Role::Editor);
    }
}
