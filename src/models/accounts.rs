//! Users, their partner scope, service tokens, settings and failed-login counters.

use crate::db::Timestamp;
use chrono::Duration;
use diesel::prelude::*;

use crate::auth::Role;
use crate::changes::{Op, Resource};
use crate::db::AnyConnection;
use crate::db::schema::{login_failures, service_token_partners, service_tokens, settings, user_partners, users};
use crate::domain;
use crate::models::input::Normalize;
use crate::per_backend;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

/// A stored account.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    #[diesel(deserialize_as = String)]
    pub role: Role,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Raised at every password change; tokens issued at another value are refused.
    pub credentials_version: i64,
}

/// The writable columns of an account.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct UserData {
    pub username: String,
    pub password_hash: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub role: String,
    pub active: bool,
    pub credentials_version: i64,
}

crate::stored_enum!(Role);

/// A stored service token (without its value, which is never stored).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = service_tokens, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct ServiceToken {
    pub id: i64,
    pub name: String,
    pub token_hash: String,
    #[diesel(deserialize_as = String)]
    pub role: Role,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// A new service token.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = service_tokens)]
pub struct NewServiceToken {
    pub name: String,
    pub token_hash: String,
    pub role: String,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// Loads one account.
pub fn find_user(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<User>> {
    per_backend!(conn, |c| users::table.find(id).select(User::as_select()).first(c).optional())
}

/// Loads an account by login name.
pub fn find_user_by_name(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    users::table.filter(users::username.eq(username)).select(User::as_select()).first(conn).optional()
}

/// The partners an account acts for, ascending.
pub fn user_partner_ids(conn: &mut AnyConnection, user_id: i64) -> QueryResult<Vec<i64>> {
    per_backend!(conn, |c| user_partners::table
        .filter(user_partners::user_id.eq(user_id))
        .select(user_partners::partner_id)
        .order(user_partners::partner_id)
        .load(c))
}

/// Inserts an account.
pub fn insert_user(conn: &mut AnyConnection, data: &UserData, now: Timestamp) -> QueryResult<User> {
    let values = (data, users::created_at.eq(now), users::updated_at.eq(now));
    per_backend!(conn, |c| diesel::insert_into(users::table)
        .values(values)
        .returning(User::as_returning())
        .get_result(c))
}

/// Replaces an account's columns if it is still at version `seen`; `None` if it changed meanwhile.
pub fn update_user(
    conn: &mut AnyConnection,
    id: i64,
    data: &UserData,
    seen: Timestamp,
    now: Timestamp,
) -> QueryResult<Option<User>> {
    let target = users::table.find(id).filter(users::updated_at.eq(seen));
    let changed = diesel::update(target).set((data, users::updated_at.eq(now))).execute(conn)?;
    if changed == 0 { Ok(None) } else { find_user(conn, id) }
}

/// Sets only the password hash (CLI `set-password`).
pub fn set_password(conn: &mut AnyConnection, id: i64, hash: &str, now: Timestamp) -> QueryResult<bool> {
    let changed = diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::credentials_version.eq(users::credentials_version + 1),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(changed > 0)
}

/// Sets only the active flag (CLI `deactivate`).
pub fn set_active(conn: &mut AnyConnection, id: i64, active: bool, now: Timestamp) -> QueryResult<bool> {
    let changed = diesel::update(users::table.find(id))
        .set((users::active.eq(active), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(changed > 0)
}

/// Deletes an account; returns whether one was removed.
pub fn delete_user(conn: &mut AnyConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(users::table.find(id)).execute(conn)? > 0)
}

/// Replaces an account's partner scope.
pub fn set_user_partners(conn: &mut AnyConnection, user_id: i64, partner_ids: &[i64]) -> QueryResult<()> {
    diesel::delete(user_partners::table.filter(user_partners::user_id.eq(user_id))).execute(conn)?;
    for partner_id in partner_ids {
        diesel::insert_into(user_partners::table)
            .values((user_partners::user_id.eq(user_id), user_partners::partner_id.eq(partner_id)))
            .execute(conn)?;
    }
    Ok(())
}

/// One page of accounts ordered by id (`limit + 1` rows).
pub fn list_users(
    conn: &mut AnyConnection,
    after_id: Option<i64>,
    limit: i64,
    updated_since: Option<Timestamp>,
) -> QueryResult<Vec<User>> {
    let mut query = users::table.select(User::as_select()).order(users::id).into_boxed();
    if let Some(id) = after_id {
        query = query.filter(users::id.gt(id));
    }
    if let Some(since) = updated_since {
        query = query.filter(users::updated_at.ge(since));
    }
    query.limit(limit + 1).load(conn)
}

/// Creates `admin` with the given password hash if there is no account at all; returns whether it did.
pub fn create_first_admin(conn: &mut AnyConnection, hash: &str, now: Timestamp) -> QueryResult<bool> {
    crate::db::write(conn, |conn| {
        let count: i64 = users::table.count().get_result(conn)?;
        if count > 0 {
            return Ok(false);
        }
        let data = UserData {
            username: "admin".into(),
            password_hash: hash.into(),
            display_name: Some("Administrator".into()),
            email: None,
            role: "admin".into(),
            active: true,
            credentials_version: 0,
        };
        match insert_user(conn, &data, now) {
            Ok(admin) => {
                let startup = crate::auth::Caller::system("start-up");
                crate::changes::changed(conn, &startup, Resource::Users, admin.id, Op::Created, admin.updated_at)?;
                Ok(true)
            }
            // Another instance starting at the same moment created it first.
            Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    })
}

/// Returns the stored value of `key`, storing `value` first if there is none (first writer wins).
pub fn setting_or_insert(conn: &mut AnyConnection, key: &str, value: &str) -> QueryResult<String> {
    let insert = diesel::insert_into(settings::table).values((settings::key.eq(key), settings::value.eq(value)));
    per_backend!(&mut *conn, |c| insert.on_conflict_do_nothing().execute(c))?;
    settings::table.find(key).select(settings::value).first(conn)
}

pub use crate::db::statements::set_setting;

/// Inserts a service token with its partner scope.
pub fn insert_service_token(
    conn: &mut AnyConnection,
    token: &NewServiceToken,
    partner_ids: &[i64],
) -> QueryResult<ServiceToken> {
    let stored = per_backend!(&mut *conn, |c| diesel::insert_into(service_tokens::table)
        .values(token)
        .returning(ServiceToken::as_returning())
        .get_result(c))?;
    for partner_id in partner_ids {
        diesel::insert_into(service_token_partners::table)
            .values((service_token_partners::token_id.eq(stored.id), service_token_partners::partner_id.eq(partner_id)))
            .execute(conn)?;
    }
    Ok(stored)
}

/// Loads one service token.
pub fn find_service_token(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<ServiceToken>> {
    service_tokens::table.find(id).select(ServiceToken::as_select()).first(conn).optional()
}

/// The partner scope of a service token, ascending.
pub fn service_token_partner_ids(conn: &mut AnyConnection, token_id: i64) -> QueryResult<Vec<i64>> {
    service_token_partners::table
        .filter(service_token_partners::token_id.eq(token_id))
        .select(service_token_partners::partner_id)
        .order(service_token_partners::partner_id)
        .load(conn)
}

/// The service token with this hash, if it is neither revoked nor expired, and its partner scope.
pub fn active_service_token(
    conn: &mut AnyConnection,
    hash: &str,
    now: Timestamp,
) -> QueryResult<Option<(ServiceToken, Vec<i64>)>> {
    let token: Option<ServiceToken> = service_tokens::table
        .filter(service_tokens::token_hash.eq(hash))
        .filter(service_tokens::revoked_at.is_null())
        .filter(service_tokens::expires_at.is_null().or(service_tokens::expires_at.gt(now)))
        .select(ServiceToken::as_select())
        .first(conn)
        .optional()?;
    match token {
        Some(token) => {
            let partners = service_token_partner_ids(conn, token.id)?;
            Ok(Some((token, partners)))
        }
        None => Ok(None),
    }
}

/// Marks a token revoked; returns false if it was already revoked.
pub fn revoke_service_token(conn: &mut AnyConnection, id: i64, now: Timestamp) -> QueryResult<bool> {
    let target = service_tokens::table.find(id).filter(service_tokens::revoked_at.is_null());
    Ok(diesel::update(target).set(service_tokens::revoked_at.eq(now)).execute(conn)? > 0)
}

/// One page of service tokens ordered by id (`limit + 1` rows).
pub fn list_service_tokens(
    conn: &mut AnyConnection,
    after_id: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<ServiceToken>> {
    let mut query = service_tokens::table.select(ServiceToken::as_select()).order(service_tokens::id).into_boxed();
    if let Some(id) = after_id {
        query = query.filter(service_tokens::id.gt(id));
    }
    query.limit(limit + 1).load(conn)
}

/// Length of the failed-login window.
pub const LOGIN_WINDOW: Duration = Duration::minutes(15);

/// Counts one login attempt for each `(key, limit)` before the password is checked, in one
/// statement per key, so that parallel guesses are counted one after the other (PostgreSQL holds
/// the row lock of the upsert until the transaction ends; SQLite writes one at a time). A key
/// that already had `limit` attempts in its window fails with 429 and the seconds until the
/// window ends; the caller's transaction then rolls back, so a refused attempt counts nothing.
pub fn count_login_attempt(
    conn: &mut AnyConnection,
    keys: &[(&str, i32)],
    now: Timestamp,
) -> Result<(), crate::error::AppError> {
    for &(key, limit) in keys {
        let (failures, window_start) = crate::db::statements::count_attempt(conn, key, now, now - LOGIN_WINDOW)?;
        if failures > limit {
            let retry_after = (window_start + LOGIN_WINDOW - now).num_seconds().max(1);
            return Err(crate::error::AppError::TooManyRequests {
                detail: format!("too many failed logins; try again in {retry_after} seconds"),
                retry_after,
            });
        }
    }
    Ok(())
}

/// Takes back one counted attempt of `key` (a login from that address succeeded).
pub fn uncount_login_attempt(conn: &mut AnyConnection, key: &str) -> QueryResult<()> {
    let target = login_failures::table.find(key).filter(login_failures::failures.gt(0));
    diesel::update(target).set(login_failures::failures.eq(login_failures::failures - 1)).execute(conn).map(|_| ())
}

/// Forgets the failures of `key` (after a successful login).
pub fn clear_login_failures(conn: &mut AnyConnection, key: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.find(key)).execute(conn).map(|_| ())
}

/// A new service token.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceToken {
    /// What the token is for, 1–200 characters.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(example = "OParl sync Ratsinformationssystem Königsbrück", min_length = 1, max_length = 200)]
    pub name: String,
    /// Role the token acts with.
    pub role: Role,
    /// Partners the token acts for.
    #[serde(default)]
    pub partner_ids: Vec<i64>,
    /// Optional expiry (RFC 3339); must lie in the future.
    #[validate(custom(function = "crate::domain::validate_year"))]
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl Normalize for CreateServiceToken {
    fn normalize(&mut self) {
        domain::trim(&mut self.name);
        self.partner_ids.sort_unstable();
        self.partner_ids.dedup();
    }
}
