//! Tokens this service issues and checks: HS256 JWTs for accounts (`iss`/`aud` = `ikz-api`) and
//! opaque service tokens (`ikz_st_…`, only their SHA-256 kept); start-up's secret and first admin.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::oidc::{Oidc, load_oidc, refuse_critical_extensions};
use super::passwords::{hash_password, random_password};
use super::{Caller, LEEWAY_SECONDS, LOCAL_ISSUER, Role, SERVICE_TOKEN_PREFIX, invalid_token};
use crate::config::Config;
use crate::db::AnyConnection;
use crate::error::AppError;
use crate::models::accounts;

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

/// Keys and rules for verifying and issuing tokens; built once at start-up.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_seconds: i64,
    oidc: Option<Oidc>,
    cursors: crate::changes::cursor::CursorKey,
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
            cursors: crate::changes::cursor::CursorKey::from_secret(secret),
        })
    }

    /// The key change-feed cursors are signed with (derived from the same secret).
    pub fn cursors(&self) -> &crate::changes::cursor::CursorKey {
        &self.cursors
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
            role: user.role,
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
    pub(super) fn verify(&self, token: &str) -> Result<Verified, AppError> {
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

pub(super) enum Verified {
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

/// A new service token value and its stored hash.
pub fn new_service_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_service_token(&secret);
    (format!("{SERVICE_TOKEN_PREFIX}{secret}"), hash)
}

pub(super) fn hash_service_token(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
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
    fn service_tokens_are_prefixed_and_stored_hashed() {
        let (value, hash) = new_service_token();
        assert!(value.starts_with(SERVICE_TOKEN_PREFIX));
        assert_eq!(hash, hash_service_token(value.strip_prefix(SERVICE_TOKEN_PREFIX).unwrap()));
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(value.strip_prefix(SERVICE_TOKEN_PREFIX).unwrap()));
    }
}
