//! Tokens of an external OpenID Connect provider (RS256/ES256): its keys, and the role and partner
//! scope read from configurable claims.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::{Caller, Principal, Role, invalid_token};
use crate::config::OidcConfig;
use crate::error::AppError;

pub(super) struct Oidc {
    /// Trusted keys with their key id, if any.
    pub(super) keys: Vec<(Option<String>, Algorithm, DecodingKey)>,
    /// Expected `iss`.
    pub(super) issuer: String,
    /// Expected `aud`.
    pub(super) audience: String,
    role_claim: String,
    partners_claim: String,
}

/// RFC 7515 §4.1.11: a recipient must reject a token whose `crit` header names extensions it
/// does not understand; this service understands none, so any `crit` is refused.
pub(super) fn refuse_critical_extensions(token: &str) -> Result<(), AppError> {
    let header = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(header).map_err(|_| invalid_token("malformed token header"))?;
    let header: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| invalid_token("malformed token header"))?;
    match header.get("crit") {
        None => Ok(()),
        Some(_) => Err(invalid_token("the token header lists critical extensions (`crit`), which are not supported")),
    }
}

impl Oidc {
    pub(super) fn map_claims(&self, claims: &Value) -> Caller {
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

pub(super) fn load_oidc(config: &OidcConfig) -> Result<Oidc, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_from_dotted_paths_strings_numbers_and_arrays() {
        let claims =
            serde_json::json!({"realm_access": {"roles": ["offline", "editor"]}, "p": [3, "4"], "r": "viewer"});
        assert_eq!(claim_strings(&claims, "realm_access.roles"), ["offline", "editor"]);
        assert_eq!(claim_strings(&claims, "p"), ["3", "4"]);
        assert_eq!(claim_strings(&claims, "r"), ["viewer"]);
        assert!(claim_strings(&claims, "missing.path").is_empty());
    }
}
