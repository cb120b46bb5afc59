//! Logging in with username and password, and the throttle that keeps guessing slow.

use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::{Authenticator, verify_password};
use crate::db::Db;
use crate::error::AppError;
use crate::models::accounts;
use crate::models::input::Normalize;

/// Failed logins allowed per username in 15 minutes.
pub const USER_FAILURE_LIMIT: i32 = 5;
/// Failed logins allowed per client address in 15 minutes.
pub const ADDRESS_FAILURE_LIMIT: i32 = 20;

/// Credentials of a local account.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Login name (case-insensitive).
    #[validate(length(min = 1, max = 64, message = "must be 1 to 64 characters"))]
    #[schema(example = "admin", min_length = 1, max_length = 64)]
    pub username: String,
    /// Password.
    #[validate(length(min = 1, max = 1024, message = "must be 1 to 1024 characters"))]
    #[schema(format = Password, min_length = 1, max_length = 1024)]
    pub password: String,
}

impl Normalize for TokenRequest {
    fn normalize(&mut self) {
        self.username = self.username.trim().to_lowercase();
    }
}

/// Checks the credentials and issues an access token. Every attempt is counted, per username and
/// per client address, before the password is checked (so that parallel guesses cannot all pass
/// the limit: 429 once it is reached); a successful one is taken back.
pub async fn log_in(
    db: &Db,
    authenticator: &Authenticator,
    credentials: TokenRequest,
    client_address: &str,
) -> Result<String, AppError> {
    let TokenRequest { username, password } = credentials;
    let address_key = format!("ip:{client_address}");
    let user_key = format!("user:{username}");
    let now = crate::models::now();
    let keys = [(user_key.clone(), USER_FAILURE_LIMIT), (address_key.clone(), ADDRESS_FAILURE_LIMIT)];
    db.write(move |c| {
        let keys: Vec<(&str, i32)> = keys.iter().map(|(key, limit)| (key.as_str(), *limit)).collect();
        accounts::count_login_attempt(c, &keys, now)
    })
    .await?;
    let checked = db
        .blocking(move |conn| {
            let user = accounts::find_user_by_name(conn, &username)?;
            let password_ok = verify_password(&password, user.as_ref().map(|u| u.password_hash.as_str()));
            let Some(user) = user.filter(|u| password_ok && u.active) else { return Ok(None) };
            let partner_ids = accounts::user_partner_ids(conn, user.id)?;
            Ok(Some((user, partner_ids)))
        })
        .await?;
    let Some((user, partner_ids)) = checked else {
        return Err(AppError::Unauthorized { detail: "invalid username or password".into(), invalid_token: false });
    };
    db.write(move |c| {
        accounts::clear_login_failures(c, &user_key)?;
        Ok(accounts::uncount_login_attempt(c, &address_key)?)
    })
    .await?;
    authenticator.tokens.issue(&user, partner_ids)
}
