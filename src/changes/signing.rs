//! Webhook signatures as the Standard Webhooks specification defines them
//! (<https://www.standardwebhooks.com/>): headers `webhook-id`, `webhook-timestamp` and
//! `webhook-signature`, the last holding `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`,
//! keyed with the secret's bytes (shown to the admin as `whsec_` + base64). During a rotation
//! both the new and the previous secret sign, separated by a space, as the specification allows.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a secret as shown to admins (and as the reference libraries take it).
pub const SECRET_PREFIX: &str = "whsec_";

/// A new random secret: 32 bytes, base64 (stored so; shown with [`SECRET_PREFIX`]).
pub fn new_secret() -> String {
    STANDARD.encode(rand::random::<[u8; 32]>())
}

/// The secret as shown once to the admin.
pub fn shown(secret: &str) -> String {
    format!("{SECRET_PREFIX}{secret}")
}

/// One `v1,` signature of `id.timestamp.body` with a stored (base64) secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let key = STANDARD.decode(secret).unwrap_or_default();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The three headers of one delivery, signed with every given secret.
pub fn headers(secrets: &[&str], id: &str, timestamp: i64, body: &str) -> Vec<(&'static str, String)> {
    let signatures: Vec<String> = secrets.iter().map(|s| sign(s, id, timestamp, body)).collect();
    vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signatures.join(" ")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries (their test suites use it):
    /// secret `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, id `msg_p5jXN8AQM9LWM0D4loKWxJek`,
    /// timestamp 1614265330, body `{"test": 2432232314}`.
    #[test]
    fn signs_the_specifications_example() {
        let secret = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, r#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let (new, old) = (new_secret(), new_secret());
        let headers = headers(&[&new, &old], "msg_1", 1, "{}");
        let signatures: Vec<&str> = headers[2].1.split(' ').collect();
        assert_eq!(signatures, [sign(&new, "msg_1", 1, "{}"), sign(&old, "msg_1", 1, "{}")]);
        assert!(shown(&new).starts_with("whsec_"));
    }
}
