//! `/api/v1/auth`: log in for a token, and ask who you are.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::AppState;
use super::extract::JsonBody;
use crate::auth::{self, Authenticator, Caller, Principal, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};
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

/// An access token (OAuth 2.0 style).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    #[schema(example = 3600)]
    pub expires_in: i64,
}

/// The caller as the service sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MeResponse {
    /// `user`, `service_token` or `external`.
    #[schema(example = "user")]
    pub kind: String,
    /// Account or service token id (`null` for external users).
    pub id: Option<i64>,
    /// Login name, token name or external subject.
    #[schema(example = "admin")]
    pub name: String,
    /// Role in force, if any.
    pub role: Option<Role>,
    /// Partners the caller acts for.
    pub partner_ids: Vec<i64>,
}

/// The client address used for throttling: the peer, or the forwarded one behind a trusted proxy.
fn client_address(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    let info = req.connection_info();
    let address = if trust_forwarded_for { info.realip_remote_addr() } else { info.peer_addr() };
    address.unwrap_or("unknown").to_owned()
}

/// Log in
///
/// Exchanges username and password for a bearer token. After 5 failed attempts for one username,
/// or 20 from one address, within 15 minutes, further attempts get 429 until the window ends.
#[utoipa::path(
    tag = "auth",
    request_body = TokenRequest,
    security(()),
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 401, description = "Wrong username or password (the answer does not tell which)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see `Retry-After`", body = Problem, content_type = "application/problem+json",
         headers(("Retry-After" = i64, description = "Seconds to wait"))),
    )
)]
#[post("/token")]
pub async fn create_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    db: web::Data<Db>,
    authenticator: web::Data<Authenticator>,
    body: JsonBody<TokenRequest>,
) -> Result<HttpResponse, AppError> {
    let TokenRequest { username, password } = body.decode()?;
    let address_key = format!("ip:{}", client_address(&req, state.trust_forwarded_for));
    let user_key = format!("user:{username}");
    let now = crate::models::now();
    // Counted before the password is checked, so that parallel guesses cannot all pass the limit.
    let keys = [(user_key.clone(), USER_FAILURE_LIMIT), (address_key.clone(), ADDRESS_FAILURE_LIMIT)];
    db.write(move |c| {
        let keys: Vec<(&str, i32)> = keys.iter().map(|(key, limit)| (key.as_str(), *limit)).collect();
        accounts::count_login_attempt(c, &keys, now)
    })
    .await?;
    let checked = db
        .blocking(move |conn| {
            let user = accounts::find_user_by_name(conn, &username)?;
            let password_ok = auth::verify_password(&password, user.as_ref().map(|u| u.password_hash.as_str()));
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
    let access_token = authenticator.tokens.issue(&user, partner_ids)?;
    let response =
        TokenResponse { access_token, token_type: "Bearer".into(), expires_in: authenticator.tokens.ttl_seconds() };
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(response))
}

/// Who am I?
///
/// The identity, role and partner scope the service derives from the bearer token.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = MeResponse))
)]
#[get("/me")]
pub async fn me(caller: Caller) -> Result<HttpResponse, AppError> {
    let (kind, id, name) = match &caller.principal {
        Principal::Anonymous => {
            return Err(AppError::Unauthorized {
                detail: "authentication required: send `Authorization: Bearer <token>`".into(),
                invalid_token: false,
            });
        }
        Principal::User { id, username } => ("user", Some(*id), username.clone()),
        Principal::ServiceToken { id, name } => ("service_token", Some(*id), name.clone()),
        Principal::External { subject } => ("external", None, subject.clone()),
    };
    Ok(HttpResponse::Ok().json(MeResponse {
        kind: kind.into(),
        id,
        name,
        role: caller.role,
        partner_ids: caller.partner_ids.clone(),
    }))
}

/// Registers the auth routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_token).service(me);
}
