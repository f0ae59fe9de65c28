//! Software P-256 signer (RustCrypto `p256`).

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};

use super::{Signer, SignerError};
use crate::protocol::jwk::Jwk;

/// An ES256 key held in process memory.
pub struct SoftwareSigner {
    key: SigningKey,
    jwk: Jwk,
}

impl SoftwareSigner {
    /// A fresh key from the given RNG (the caller chooses OS randomness or a seeded stream).
    pub fn generate(rng: &mut (impl rand::RngCore + rand::CryptoRng)) -> Self {
        Self::from_key(SigningKey::random(rng))
    }

    /// A key from its 32-byte big-endian scalar.
    pub fn from_scalar(bytes: &[u8]) -> Result<Self, SignerError> {
        SigningKey::from_slice(bytes)
            .map(Self::from_key)
            .map_err(|_| SignerError::InvalidKey("not a valid P-256 private scalar".into()))
    }

    /// Loads a key file: a private EC P-256 JWK (`{"kty":"EC","crv":"P-256","x":…,"y":…,"d":…}`).
    pub fn from_key_file(path: &std::path::Path) -> Result<Self, SignerError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SignerError::InvalidKey(format!("{}: {e}", path.display())))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| SignerError::InvalidKey(format!("{}: not JSON: {e}", path.display())))?;
        let d = value
            .get("d")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| SignerError::InvalidKey(format!("{}: no private member `d`", path.display())))?;
        let bytes = crate::protocol::b64::decode(d)
            .map_err(|_| SignerError::InvalidKey(format!("{}: `d` is not base64url", path.display())))?;
        Self::from_scalar(&bytes)
    }

    /// The private JWK for a key file (includes `d`: keep it secret).
    pub fn to_private_jwk_json(&self) -> serde_json::Value {
        let mut v = self.jwk.to_json();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("d".into(), crate::protocol::b64::encode(self.scalar_bytes()).into());
        }
        v
    }

    fn from_key(key: SigningKey) -> Self {
        let jwk = Jwk::from_p256(key.verifying_key());
        Self { key, jwk }
    }

    /// The 32-byte private scalar (for writing a key file).
    pub fn scalar_bytes(&self) -> [u8; 32] {
        self.key.to_bytes().into()
    }
}

impl Signer for SoftwareSigner {
    fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        let sig: Signature = self.key.sign(message);
        Ok(sig.to_bytes().into())
    }

    fn describe(&self) -> String {
        "software p256".into()
    }
}
