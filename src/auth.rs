//! Who is calling, and what may they do.
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

use std::sync::OnceLock;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::config::{Config, OidcConfig};
use crate::db::AnyConnection;
use crate::db::Db;
use crate::error::AppError;
use crate::models::accounts;

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

/// Claims of the tokens issued by `POST /api/v1/auth/token`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// `user:<id>`.
    pub sub: String,
    /// Role at issue time (the role in force is read from the database).
    pub role: Role,
    /// Partner scope at issue time.
    pub partner_ids: Vec<i64>,
    /// Login name.
    pub name: String,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires at.
    pub exp: i64,
    /// Issuer, `ikz-api`.
    pub iss: String,
    /// Audience, `ikz-api`.
    pub aud: String,
    /// Unique token id.
    pub jti: String,
    /// The account's credentials version at issue time: a password change raises the account's,
    /// which ends every token issued before it.
    #[serde(default)]
    pub ver: i64,
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

/// Keys and rules for verifying and issuing tokens; built once at start-up.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_seconds: i64,
    oidc: Option<Oidc>,
}

struct Oidc {
    keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
    issuer: String,
    audience: String,
    role_claim: String,
    partners_claim: String,
}

impl TokenKeys {
    /// Keys from the HS256 secret and, if configured, the identity provider's public key(s).
    pub fn new(secret: &[u8], config: &Config) -> Result<Self, String> {
        let oidc = config.oidc.as_ref().map(load_oidc).transpose()?;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_seconds: config.token_ttl_seconds,
            oidc,
        })
    }

    /// Lifetime of issued tokens in seconds.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// Issues an access token for a user.
    pub fn issue(&self, user: &accounts::User, partner_ids: Vec<i64>) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        let mut jti = [0u8; 16];
        rand::rng().fill_bytes(&mut jti);
        let claims = Claims {
            sub: format!("user:{}", user.id),
            role: user
                .role
                .parse()
                .map_err(|_| AppError::Internal(format!("user {} has role {}", user.id, user.role)))?,
            partner_ids,
            name: user.username.clone(),
            iat: now,
            nbf: now,
            exp: now + self.ttl_seconds,
            iss: LOCAL_ISSUER.into(),
            aud: LOCAL_ISSUER.into(),
            jti: URL_SAFE_NO_PAD.encode(jti),
            ver: user.credentials_version,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::Internal(format!("token signing failed: {e}")))
    }

    /// Checks a JWT's signature, algorithm, time window, issuer and audience.
    fn verify(&self, token: &str) -> Result<Verified, AppError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid_token(format!("malformed token: {e}")))?;
        if header.alg == Algorithm::HS256 {
            let data = jsonwebtoken::decode::<Claims>(
                token,
                &self.decoding,
                &validation(Algorithm::HS256, LOCAL_ISSUER, LOCAL_ISSUER),
            )
            .map_err(rejection)?;
            let id = data.claims.sub.strip_prefix("user:").and_then(|id| id.parse().ok());
            let version = data.claims.ver;
            return id
                .map(|id| Verified::User { id, version })
                .ok_or_else(|| invalid_token("token subject is not a user"));
        }
        let Some(oidc) = &self.oidc else {
            return Err(invalid_token(format!("tokens signed with {:?} are not accepted", header.alg)));
        };
        refuse_critical_extensions(token)?;
        // A token without `kid` (or keys without one) is tried against every key of its
        // algorithm; the first whose signature fits decides.
        let candidates = oidc.keys.iter().filter(|(kid, alg, _)| {
            *alg == header.alg && (header.kid.is_none() || kid.is_none() || *kid == header.kid)
        });
        let mut outcome = Err(invalid_token(format!("no trusted key for algorithm {:?} and this key id", header.alg)));
        for (_, alg, key) in candidates {
            outcome = jsonwebtoken::decode::<Value>(token, key, &validation(*alg, &oidc.issuer, &oidc.audience))
                .map_err(rejection);
            if !matches!(&outcome, Err(AppError::Unauthorized { detail, .. }) if detail == SIGNATURE_MISMATCH) {
                break;
            }
        }
        let data = outcome?;
        if data.claims["sub"].as_str().is_none_or(|sub| sub.trim().is_empty()) {
            return Err(invalid_token("the token lacks a subject (`sub` is empty)"));
        }
        Ok(Verified::External(oidc.map_claims(&data.claims)))
    }
}

enum Verified {
    User { id: i64, version: i64 },
    External(Caller),
}

fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation
}

/// The detail of a token whose signature does not fit the key it was checked with.
const SIGNATURE_MISMATCH: &str = "the token signature is invalid";

/// RFC 7515 §4.1.11: a recipient must reject a token whose `crit` header names extensions it
/// does not understand; this service understands none, so any `crit` is refused.
fn refuse_critical_extensions(token: &str) -> Result<(), AppError> {
    let header = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| invalid_token("malformed token header"))?;
    let header: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| invalid_token("malformed token header"))?;
    match header.get("crit") {
        None => Ok(()),
        Some(_) => Err(invalid_token("the token header lists critical extensions (`crit`), which are not supported")),
    }
}

fn rejection(err: jsonwebtoken::errors::Error) -> AppError {
    use jsonwebtoken::errors::ErrorKind as K;
    let why = match err.kind() {
        K::ExpiredSignature => "the token has expired".to_owned(),
        K::ImmatureSignature => "the token is not valid yet".to_owned(),
        K::InvalidIssuer => "the token has the wrong issuer".to_owned(),
        K::InvalidAudience => "the token has the wrong audience".to_owned(),
        K::InvalidSignature => SIGNATURE_MISMATCH.to_owned(),
        K::InvalidAlgorithm => "the token algorithm is not accepted".to_owned(),
        K::MissingRequiredClaim(claim) => format!("the token lacks the `{claim}` claim"),
        other => format!("the token is invalid ({other:?})"),
    };
    invalid_token(why)
}

impl Oidc {
    fn map_claims(&self, claims: &Value) -> Caller {
        let subject = claims["sub"].as_str().unwrap_or_default().to_owned();
        let role = claim_strings(claims, &self.role_claim).iter().filter_map(|r| r.parse::<Role>().ok()).max();
        let partner_ids = claim_strings(claims, &self.partners_claim).iter().filter_map(|p| p.parse().ok()).collect();
        Caller { principal: Principal::External { subject }, role, partner_ids, public_read: false }
    }
}

/// The strings at a dotted claim path: a string, a number, or an array of them.
fn claim_strings(claims: &Value, path: &str) -> Vec<String> {
    let value = path.split('.').try_fold(claims, |v, key| v.get(key));
    let as_string = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(as_string).collect(),
        Some(other) => as_string(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn load_oidc(config: &OidcConfig) -> Result<Oidc, String> {
    let mut keys = Vec::new();
    if let Some(path) = &config.public_key_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let key = match DecodingKey::from_rsa_pem(&pem) {
            Ok(key) => (None, Algorithm::RS256, key),
            Err(_) => DecodingKey::from_ec_pem(&pem)
                .map(|key| (None, Algorithm::ES256, key))
                .map_err(|e| format!("{} is neither an RSA nor an EC public key in PEM: {e}", path.display()))?,
        };
        keys.push(key);
    }
    if let Some(path) = &config.jwks_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let set: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(&text).map_err(|e| format!("{} is not a JWKS: {e}", path.display()))?;
        for jwk in &set.keys {
            let alg = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                _ => continue,
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key in {}: {e}", path.display()))?;
            keys.push((jwk.common.key_id.clone(), alg, key));
        }
    }
    if keys.is_empty() {
        return Err("the OIDC configuration holds no usable RS256 or ES256 key".into());
    }
    Ok(Oidc {
        keys,
        issuer: config.issuer.clone(),
        audience: config.audience.clone(),
        role_claim: config.role_claim.clone(),
        partners_claim: config.partners_claim.clone(),
    })
}

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

async fn authenticate(db: &Db, tokens: &TokenKeys, token: String) -> Result<Caller, AppError> {
    if let Some(secret) = token.strip_prefix(SERVICE_TOKEN_PREFIX) {
        let hash = hash_service_token(secret);
        return db
            .read(move |conn| {
                let (token, partner_ids) = accounts::active_service_token(conn, &hash, crate::models::now())?
                    .ok_or_else(|| invalid_token("the service token is unknown, revoked or expired"))?;
                let role = token.role.parse().ok();
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
                    role: user.role.parse().ok(),
                    principal: Principal::User { id, username: user.username },
                    partner_ids,
                    public_read: false,
                })
            })
            .await
        }
    }
}

/// A new service token value and its stored hash.
pub fn new_service_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_service_token(&secret);
    (format!("{SERVICE_TOKEN_PREFIX}{secret}"), hash)
}

fn hash_service_token(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Hashes a password with argon2id and a random salt (slow on purpose; call it off the event loop).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
}

/// Checks a password against a stored hash; with `None` it checks against a dummy hash, so that
/// an unknown username costs the same time as a wrong password.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("dummy password for timing").unwrap_or_default());
    let hash = stored.unwrap_or(dummy);
    let ok = PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok());
    ok && stored.is_some()
}

/// A random password for the bootstrap admin.
pub fn random_password() -> String {
    let mut bytes = [0u8; 18];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Start-up: the HS256 secret (from the environment, or generated once and kept in the database so
/// that restarts and other instances agree) and the first admin on an empty database.
pub fn bootstrap(conn: &mut AnyConnection, config: &Config) -> Result<TokenKeys, String> {
    let secret = match &config.jwt_secret {
        Some(secret) => secret.clone().into_bytes(),
        None => {
            let generated = {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                URL_SAFE_NO_PAD.encode(bytes)
            };
            let stored = accounts::setting_or_insert(conn, "jwt_secret", &generated).map_err(|e| e.to_string())?;
            if stored == generated {
                log::info!("generated a new token signing secret and stored it in the database");
            }
            URL_SAFE_NO_PAD.decode(&stored).unwrap_or_else(|_| stored.into_bytes())
        }
    };
    let (password, from_env) = match &config.bootstrap_admin_password {
        Some(p) => (p.clone(), true),
        None => (random_password(), false),
    };
    let hash = hash_password(&password).map_err(|e| e.to_string())?;
    if accounts::create_first_admin(conn, &hash, crate::models::now()).map_err(|e| e.to_string())? {
        if from_env {
            log::warn!("created the first administrator `admin` with the password from IKZ_BOOTSTRAP_ADMIN_PASSWORD");
        } else {
            log::warn!("created the first administrator `admin` with password: {password}  (shown once; change it)");
        }
    }
    TokenKeys::new(&secret, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_viewer_editor_admin() {
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!("editor".parse::<Role>().unwrap(), Role::Editor);
    }

    #[test]
    fn claims_are_read_from_dotted_paths_strings_numbers_and_arrays() {
        let claims =
            serde_json::json!({"realm_access": {"roles": ["offline", "editor"]}, "p": [3, "4"], "r": "viewer"});
        assert_eq!(claim_strings(&claims, "realm_access.roles"), ["offline", "editor"]);
        assert_eq!(claim_strings(&claims, "p"), ["3", "4"]);
        assert_eq!(claim_strings(&claims, "r"), ["viewer"]);
        assert!(claim_strings(&claims, "missing.path").is_empty());
    }

    #[test]
    fn password_hashes_verify_only_the_right_password() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong", Some(&hash)));
        assert!(!verify_password("correct horse battery", None));
    }

    #[test]
    fn bearer_header_needs_the_scheme_and_a_token() {
        assert_eq!(bearer("Bearer abc").unwrap(), "abc");
        assert_eq!(bearer("bearer  abc ").unwrap(), "abc");
        assert!(bearer("Basic abc").is_err());
        assert!(bearer("Bearer ").is_err());
        assert!(bearer("abc").is_err());
    }

    #[test]
    fn service_tokens_are_prefixed_and_stored_hashed() {
        let (value, hash) = new_service_token();
        assert!(value.starts_with(SERVICE_TOKEN_PREFIX));
        assert_eq!(hash, hash_service_token(value.strip_prefix(SERVICE_TOKEN_PREFIX).unwrap()));
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(value.strip_prefix(SERVICE_TOKEN_PREFIX).unwrap()));
    }
}
