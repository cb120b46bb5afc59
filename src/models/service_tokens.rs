//! Service tokens as managed: who may create and revoke them and what a new one needs. Rows and
//! queries are in `accounts`; the token values and hashes come from `auth`.

use crate::db::Timestamp;
use chrono::Utc;

use crate::auth::{self, Caller, Principal};
use crate::changes::{self, Op, Resource};
use crate::db::AnyConnection;
use crate::db::keyset::{After, paginate};
use crate::error::{AppError, FieldError};
use crate::models::accounts::{self, CreateServiceToken, NewServiceToken, ServiceToken};
use crate::models::record::not_found;

/// A service token with the partners it acts for and, right after creation only, its value.
#[derive(Debug, Clone)]
pub struct ServiceTokenRecord {
    pub token: ServiceToken,
    pub partner_ids: Vec<i64>,
    pub value: Option<String>,
}

/// One page of service tokens by id (without values), with the cursor of the next page.
pub fn page(
    conn: &mut AnyConnection,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<ServiceTokenRecord>, Option<String>), AppError> {
    let rows = accounts::list_service_tokens(conn, after, limit)?;
    let (rows, next) = paginate(rows, limit, "id", |t| After { key: String::new(), id: t.id });
    let records = rows
        .into_iter()
        .map(|token| {
            let partner_ids = accounts::service_token_partner_ids(conn, token.id)?;
            Ok(ServiceTokenRecord { token, partner_ids, value: None })
        })
        .collect::<Result<_, AppError>>()?;
    Ok((records, next))
}

/// One service token (without its value), or 404.
pub fn get(conn: &mut AnyConnection, id: i64) -> Result<ServiceTokenRecord, AppError> {
    let token = accounts::find_service_token(conn, id)?.ok_or_else(|| not_found("service token", id))?;
    let partner_ids = accounts::service_token_partner_ids(conn, id)?;
    Ok(ServiceTokenRecord { token, partner_ids, value: None })
}

/// Creates a service token; the record carries its value, which is never stored.
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: CreateServiceToken,
    now: Timestamp,
) -> Result<ServiceTokenRecord, AppError> {
    let mut errors = crate::models::partners::unknown_partner_errors(conn, "partner_ids", &input.partner_ids)?;
    if input.expires_at.is_some_and(|t| t <= Utc::now()) {
        errors.push(FieldError::new("expires_at", "in_past", "must lie in the future"));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let created_by = match caller.principal {
        Principal::User { id, .. } => Some(id),
        _ => None,
    };
    let (value, token_hash) = auth::new_service_token();
    let new = NewServiceToken {
        name: input.name,
        token_hash,
        role: input.role.as_str().into(),
        created_by,
        created_at: now,
        expires_at: input.expires_at.map(Timestamp::from),
    };
    let token = accounts::insert_service_token(conn, &new, &input.partner_ids)?;
    changes::unversioned(conn, caller, Resource::ServiceTokens, token.id, Op::Created, token.created_at)?;
    Ok(ServiceTokenRecord { token, partner_ids: input.partner_ids, value: Some(value) })
}

/// Revokes a service token (harmless twice); a token cannot revoke itself.
pub fn revoke(conn: &mut AnyConnection, caller: &Caller, id: i64, now: Timestamp) -> Result<(), AppError> {
    if matches!(caller.principal, Principal::ServiceToken { id: own, .. } if own == id) {
        return Err(AppError::Conflict("a service token cannot revoke itself; revoke it with another token".into()));
    }
    accounts::find_service_token(conn, id)?.ok_or_else(|| not_found("service token", id))?;
    // Revoking twice changes nothing, and records nothing.
    if accounts::revoke_service_token(conn, id, now)? {
        changes::unversioned(conn, caller, Resource::ServiceTokens, id, Op::Updated, now)?;
    }
    Ok(())
}
