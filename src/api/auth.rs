//! `/api/v1/auth`: log in for a token, and ask who you are.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::extract::JsonBody;
use crate::auth::login::{self, TokenRequest};
use crate::auth::{Authenticator, Caller, Principal, Role};
use crate::db::Db;
use crate::error::{AppError, Problem};

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
    let credentials = body.decode()?;
    let address = client_address(&req, state.trust_forwarded_for);
    let access_token = login::log_in(&db, &authenticator, credentials, &address).await?;
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
        Principal::System { name } => ("system", None, name.clone()),
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
