//! Accounts as written: the input of a new or changed account, its rules and its storage
//! (the API and the CLI's `user create` alike). Rows and queries are in `accounts`.

use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::{self, Caller, Principal, Role};
use crate::changes::{self, Op, Resource};
use crate::db::AnyConnection;
use crate::db::Timestamp;
use crate::db::keyset::{After, paginate};
use crate::db::schema::users;
use crate::domain;
use crate::error::AppError;
use crate::models::accounts::{self, User, UserData};
use crate::models::input::Normalize;
use crate::models::partners;
use crate::models::record::{IfMatch, Patch, not_found};

/// A new account. For a change (`PATCH`) the same fields apply; a `password` there sets a new one.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// Login name: 3–64 of `a-z 0-9 . _ - @`, stored in lower case.
    #[validate(custom(function = "validate_username"))]
    #[schema(example = "m.mustermann", min_length = 3, max_length = 64, pattern = "^[a-z0-9][a-z0-9._@-]{2,63}$")]
    pub username: String,
    /// Password, 12–1024 characters; required on create, write-only.
    #[validate(length(min = 12, max = 1024, message = "must be 12 to 1024 characters"))]
    #[serde(default)]
    #[schema(format = Password, min_length = 12, max_length = 1024, write_only)]
    pub password: Option<String>,
    /// Name shown to people.
    #[validate(length(max = 200, message = "must be at most 200 characters"))]
    #[serde(default)]
    #[schema(max_length = 200)]
    pub display_name: Option<String>,
    /// E-mail address.
    #[validate(email(message = "must be an e-mail address"))]
    #[serde(default)]
    #[schema(format = Email)]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// Partners the account acts for.
    #[serde(default)]
    pub partner_ids: Vec<i64>,
    /// Whether the account may log in (default true).
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn validate_username(name: &str) -> Result<(), validator::ValidationError> {
    let ok = (3..=64).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(validator::ValidationError::new("username").with_message("must be 3 to 64 of a-z 0-9 . _ - @".into()))
    }
}

impl Normalize for CreateUser {
    const NOT_NULL: &'static [&'static str] = &["active"];

    fn normalize(&mut self) {
        self.username = self.username.trim().to_lowercase();
        domain::trim_opt(&mut self.display_name);
        domain::trim_opt(&mut self.email);
        self.partner_ids.sort_unstable();
        self.partner_ids.dedup();
    }
}

/// Checks the parts of an account that need the database: unique name, existing partners.
fn check_references(conn: &mut AnyConnection, input: &CreateUser, id: Option<i64>) -> Result<(), AppError> {
    use diesel::prelude::*;
    let mut clash = users::table.filter(users::username.eq(&input.username)).select(users::id).into_boxed();
    if let Some(id) = id {
        clash = clash.filter(users::id.ne(id));
    }
    if clash.first::<i64>(conn).optional()?.is_some() {
        return Err(AppError::Conflict(format!("the username `{}` is taken", input.username)));
    }
    let unknown = partners::unknown_partner_errors(conn, "partner_ids", &input.partner_ids)?;
    if unknown.is_empty() { Ok(()) } else { Err(AppError::Validation(unknown)) }
}

/// Whether an account is an active admin (whose removal [`keep_an_admin`] guards).
pub fn is_active_admin(user: &User) -> bool {
    user.active && user.role == Role::Admin
}

/// Refuses a change that would leave no active admin.
pub fn keep_an_admin(conn: &mut AnyConnection) -> Result<(), AppError> {
    use diesel::prelude::*;
    let admins: i64 =
        users::table.filter(users::role.eq("admin")).filter(users::active.eq(true)).count().get_result(conn)?;
    if admins == 0 {
        return Err(AppError::Conflict("at least one active admin must remain".into()));
    }
    Ok(())
}

/// A password hashed before the write: argon2 takes tens of milliseconds, which the write
/// transaction (on SQLite the one writer thread) should not spend.
pub struct HashedAhead {
    /// The password as given.
    pub plain: String,
    /// Its argon2 hash.
    pub hash: String,
}

/// Validates references, hashes the password (unless `ahead` holds its hash) and stores the
/// account (API and CLI alike).
pub fn save(
    conn: &mut AnyConnection,
    input: CreateUser,
    current: Option<&User>,
    ahead: Option<HashedAhead>,
) -> Result<(User, Vec<i64>), AppError> {
    check_references(conn, &input, current.map(|u| u.id))?;
    let password_hash = match (&input.password, current) {
        (Some(password), _) => match ahead {
            Some(ahead) if ahead.plain == *password => ahead.hash,
            _ => auth::hash_password(password)?,
        },
        (None, Some(user)) => user.password_hash.clone(),
        (None, None) => return Err(AppError::invalid_field("password", "required", "is required")),
    };
    // A new password ends every token issued before it.
    let credentials_version = current.map_or(0, |u| u.credentials_version + i64::from(input.password.is_some()));
    let data = UserData {
        username: input.username,
        password_hash,
        display_name: input.display_name,
        email: input.email,
        role: input.role.as_str().into(),
        active: input.active,
        credentials_version,
    };
    let now = crate::models::now();
    let user = match current {
        None => accounts::insert_user(conn, &data, now)?,
        Some(user) => accounts::update_user(conn, user.id, &data, user.updated_at, now)?
            .ok_or_else(|| AppError::PreconditionFailed("the user changed during the update; retry".into()))?,
    };
    accounts::set_user_partners(conn, user.id, &input.partner_ids)?;
    // Only a change of an active admin can remove the last one; creating an editor on a
    // database whose admin is not set up yet (`ikz-api user create` before the first start) must work.
    if current.is_some_and(is_active_admin) {
        keep_an_admin(conn)?;
    }
    Ok((user, input.partner_ids))
}

/// An account with the partners it acts for, as answered.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub user: User,
    pub partner_ids: Vec<i64>,
}

/// What an account may change of itself without being an admin.
const OWN_FIELDS: [&str; 3] = ["password", "display_name", "email"];

/// Whether `caller` is the account `id`.
pub fn is_own(caller: &Caller, id: i64) -> bool {
    matches!(caller.principal, Principal::User { id: me, .. } if me == id)
}

/// An admin cannot lock themselves out: no demotion, deactivation or deletion of one's own account.
fn refuse_self_lockout(action: &str) -> AppError {
    AppError::Conflict(format!("you cannot {action} your own account; ask another admin"))
}

/// Whether the caller may make this change at all: admins change any account, every account its
/// own `password`, `display_name` and `email`. (Checked before a password is hashed.)
pub fn may_change(caller: &Caller, id: i64, patch: &Patch) -> Result<(), AppError> {
    if is_own(caller, id) && patch.0.keys().all(|k| OWN_FIELDS.contains(&k.as_str())) {
        Ok(())
    } else {
        caller.require(Role::Admin, "manage users")
    }
}

/// One page of accounts by id, with the cursor of the next page.
pub fn page(
    conn: &mut AnyConnection,
    after: Option<i64>,
    limit: i64,
    updated_since: Option<Timestamp>,
) -> Result<(Vec<UserRecord>, Option<String>), AppError> {
    let rows = accounts::list_users(conn, after, limit, updated_since)?;
    let (rows, next) = paginate(rows, limit, "id", |u| After { key: String::new(), id: u.id });
    let records = rows
        .into_iter()
        .map(|user| Ok(UserRecord { partner_ids: accounts::user_partner_ids(conn, user.id)?, user }))
        .collect::<Result<_, AppError>>()?;
    Ok((records, next))
}

/// One account, or 404.
pub fn get(conn: &mut AnyConnection, id: i64) -> Result<UserRecord, AppError> {
    let user = accounts::find_user(conn, id)?.ok_or_else(|| not_found("user", id))?;
    Ok(UserRecord { partner_ids: accounts::user_partner_ids(conn, id)?, user })
}

/// Creates an account (its password hashed ahead, outside the write).
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: CreateUser,
    ahead: Option<HashedAhead>,
) -> Result<UserRecord, AppError> {
    let (user, partner_ids) = save(conn, input, None, ahead)?;
    changes::changed(conn, caller, Resource::Users, user.id, Op::Created, user.updated_at)?;
    Ok(UserRecord { user, partner_ids })
}

/// Applies a merge patch to the locked account; refused if no active admin would remain or an
/// admin would demote or deactivate their own account.
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: i64,
    patch: Patch,
    if_match: &IfMatch,
    ahead: Option<HashedAhead>,
) -> Result<UserRecord, AppError> {
    crate::db::lock_row(conn, crate::db::Locked::Users, id)?;
    let current = get(conn, id)?;
    let base = serde_json::json!({
        "username": current.user.username, "display_name": current.user.display_name,
        "email": current.user.email, "role": current.user.role, "partner_ids": current.partner_ids,
        "active": current.user.active,
    });
    let input: CreateUser = patch.apply(&base)?;
    if_match.check_version(current.user.updated_at)?;
    if is_own(caller, id) && is_active_admin(&current.user) {
        if input.role != Role::Admin {
            return Err(refuse_self_lockout("demote"));
        }
        if !input.active {
            return Err(refuse_self_lockout("deactivate"));
        }
    }
    let (user, partner_ids) = save(conn, input, Some(&current.user), ahead)?;
    changes::changed(conn, caller, Resource::Users, id, Op::Updated, user.updated_at)?;
    Ok(UserRecord { user, partner_ids })
}

/// Deletes an account other than the caller's own; refused if no active admin would remain.
pub fn delete(conn: &mut AnyConnection, caller: &Caller, id: i64, if_match: &IfMatch) -> Result<(), AppError> {
    if is_own(caller, id) {
        return Err(refuse_self_lockout("delete"));
    }
    crate::db::lock_row(conn, crate::db::Locked::Users, id)?;
    let user = accounts::find_user(conn, id)?.ok_or_else(|| not_found("user", id))?;
    if_match.check_version(user.updated_at)?;
    accounts::delete_user(conn, id)?;
    if is_active_admin(&user) {
        keep_an_admin(conn)?;
    }
    changes::deleted(conn, caller, Resource::Users, id, crate::models::now())?;
    Ok(())
}

/// The account with this login name (case-insensitive), or 404.
fn by_name(conn: &mut AnyConnection, username: &str) -> Result<User, AppError> {
    accounts::find_user_by_name(conn, &username.to_lowercase())?
        .ok_or_else(|| AppError::NotFound(format!("there is no user named {username}")))
}

/// Sets a new password (12 to 1024 characters, as through the API); every token issued before
/// it stops working.
pub fn set_password(
    conn: &mut AnyConnection,
    caller: &Caller,
    username: &str,
    password: &str,
) -> Result<User, AppError> {
    if !(12..=1024).contains(&password.chars().count()) {
        return Err(AppError::invalid_field("password", "length", "must be 12 to 1024 characters"));
    }
    let user = by_name(conn, username)?;
    let now = crate::models::now();
    accounts::set_password(conn, user.id, &auth::hash_password(password)?, now)?;
    changes::changed(conn, caller, Resource::Users, user.id, Op::Updated, now)?;
    Ok(user)
}

/// Deactivates an account: it can no longer log in and its tokens are refused.
pub fn deactivate(conn: &mut AnyConnection, caller: &Caller, username: &str) -> Result<User, AppError> {
    let user = by_name(conn, username)?;
    let now = crate::models::now();
    accounts::set_active(conn, user.id, false, now)?;
    changes::changed(conn, caller, Resource::Users, user.id, Op::Updated, now)?;
    Ok(user)
}
