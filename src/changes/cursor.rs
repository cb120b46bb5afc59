//! Change-feed cursors: opaque to clients, signed so that a made-up or altered one is refused
//! (400) instead of silently skipping changes, valid across restarts and instances (the key
//! derives from the token secret every instance shares).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::error::{AppError, FieldError};

/// The key cursors are signed with.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(…)")
    }
}

impl CursorKey {
    /// A key of its own, derived from the service's token secret.
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"ikz-api change-feed cursor v1\0");
        digest.update(secret);
        Self(digest.finalize().into())
    }

    fn tag(&self, position: i64) -> [u8; 16] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(&position.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&full[..16]);
        tag
    }

    /// The cursor of position `position` (the number of the last change seen; 0 before all).
    pub fn sign(&self, position: i64) -> String {
        let mut bytes = Vec::with_capacity(24);
        bytes.extend_from_slice(&position.to_be_bytes());
        bytes.extend_from_slice(&self.tag(position));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The position a cursor stands for; 400 for anything this service did not sign.
    pub fn read(&self, cursor: &str) -> Result<i64, AppError> {
        let invalid = || AppError::BadRequest {
            slug: "invalid-cursor",
            detail: "the cursor is not valid; use `next_cursor` of the previous page, or \
                     GET /api/v1/changes/cursor, unchanged"
                .into(),
            errors: vec![FieldError::new("cursor", "invalid_cursor", "not a cursor of this service")],
        };
        let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| invalid())?;
        let (position, tag) = bytes.split_at_checked(8).ok_or_else(invalid)?;
        let position = i64::from_be_bytes(position.try_into().map_err(|_| invalid())?);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(&position.to_be_bytes());
        // Constant-time comparison of the (truncated) tag.
        mac.verify_truncated_left(tag).map_err(|_| invalid())?;
        if tag.len() != 16 || position < 0 {
            return Err(invalid());
        }
        Ok(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_any_change_to_it_is_refused() {
        let key = CursorKey::from_secret(b"test-secret-test-secret-test-secret-0123");
        for position in [0, 1, 41, i64::MAX] {
            assert_eq!(key.read(&key.sign(position)).unwrap(), position);
        }
        let cursor = key.sign(41);
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        bytes[7] ^= 1; // another position, same tag
        assert!(key.read(&URL_SAFE_NO_PAD.encode(&bytes)).is_err());
        let other = CursorKey::from_secret(b"another-secret-another-secret-0123456");
        assert!(other.read(&cursor).is_err(), "signed by another service");
        for bad in ["", "abc", &cursor[..cursor.len() - 2], "not base64 ***"] {
            assert!(key.read(bad).is_err(), "{bad:?}");
        }
    }
}
