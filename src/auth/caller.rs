//! The `Caller` of a request, from its `Authorization` header: anonymous, a local account, a
//! service token or a user of the external identity provider.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use super::tokens::{TokenKeys, Verified, hash_service_token};
use super::{Caller, Principal, SERVICE_TOKEN_PREFIX, invalid_token};
use crate::db::Db;
use crate::error::AppError;
use crate::models::accounts;

/// What authenticating a request needs besides the database: the token keys and whether
/// anonymous callers may read (`IKZ_PUBLIC_READ`). Built once at start-up, shared as app data.
pub struct Authenticator {
    /// Keys and rules of the tokens.
    pub tokens: TokenKeys,
    /// `IKZ_PUBLIC_READ`.
    pub public_read: bool,
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let db = req.app_data::<web::Data<Db>>().cloned();
        let auth = req.app_data::<web::Data<Authenticator>>().cloned();
        let header = req.headers().get(actix_web::http::header::AUTHORIZATION).map(|v| v.to_str().map(str::to_owned));
        Box::pin(async move {
            let (Some(db), Some(auth)) = (db, auth) else {
                return Err(AppError::Internal("database handle or authenticator missing".into()));
            };
            let public_read = auth.public_read;
            let anonymous = Caller { principal: Principal::Anonymous, role: None, partner_ids: vec![], public_read };
            let token = match header {
                None => return Ok(anonymous),
                Some(Err(_)) => return Err(invalid_token("the Authorization header is not readable text")),
                Some(Ok(value)) => bearer(&value)?,
            };
            let mut caller = authenticate(&db, &auth.tokens, token).await?;
            caller.public_read = public_read;
            Ok(caller)
        })
    }
}

fn bearer(value: &str) -> Result<String, AppError> {
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(invalid_token("expected `Authorization: Bearer <token>`"));
    }
    Ok(token.trim().to_owned())
}

impl Caller {
    /// An active local account, with its role and partners: what the CLI acts as with `--as`.
    pub fn of_account(conn: &mut crate::db::AnyConnection, username: &str) -> Result<Self, AppError> {
        let user = accounts::find_user_by_name(conn, username)?
            .filter(|u| u.active)
            .ok_or_else(|| AppError::NotFound(format!("there is no active account `{username}`")))?;
        let partner_ids = accounts::user_partner_ids(conn, user.id)?;
        Ok(Caller {
            role: Some(user.role),
            principal: Principal::User { id: user.id, username: user.username },
            partner_ids,
            public_read: false,
        })
    }
}

async fn authenticate(db: &Db, tokens: &TokenKeys, token: String) -> Result<Caller, AppError> {
    if let Some(secret) = token.strip_prefix(SERVICE_TOKEN_PREFIX) {
        let hash = hash_service_token(secret);
        return db
            .read(move |conn| {
                let (token, partner_ids) = accounts::active_service_token(conn, &hash, crate::models::now())?
                    .ok_or_else(|| invalid_token("the service token is unknown, revoked or expired"))?;
                let role = Some(token.role);
                Ok(Caller {
                    principal: Principal::ServiceToken { id: token.id, name: token.name },
                    role,
                    partner_ids,
                    public_read: false,
                })
            })
            .await;
    }
    match tokens.verify(&token)? {
        Verified::External(caller) => Ok(caller),
        Verified::User { id, version } => {
            db.read(move |conn| {
                let user = accounts::find_user(conn, id)?
                    .filter(|u| u.active)
                    .ok_or_else(|| invalid_token("the account of this token is deactivated or deleted"))?;
                if user.credentials_version != version {
                    return Err(invalid_token("the password of this account has changed since the token was issued"));
                }
                let partner_ids = accounts::user_partner_ids(conn, id)?;
                Ok(Caller {
                    role: Some(user.role),
                    principal: Principal::User { id, username: user.username },
                    partner_ids,
                    public_read: false,
                })
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_needs_the_scheme_and_a_token() {
        assert_eq!(bearer("Bearer abc").unwrap(), "abc");
        assert_eq!(bearer("bearer  abc ").unwrap(), "abc");
        assert!(bearer("Basic abc").is_err());
        assert!(bearer("Bearer ").is_err());
        assert!(bearer("abc").is_err());
    }
}
