//! base64url without padding (RFC 7515 §2) and SHA-256 helpers shared by every binding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// base64url-encode without padding.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url decode without padding (non-canonical trailing bits are rejected).
pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

/// base64url(SHA-256(bytes)): the construction behind `ath`, `rth`, `jkt` and `x5t#S256`.
pub fn sha256_b64(bytes: impl AsRef<[u8]>) -> String {
    encode(Sha256::digest(bytes.as_ref()))
}
