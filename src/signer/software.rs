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
