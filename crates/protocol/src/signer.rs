//! The signing seam: the protocol core signs through [`Signer`] and never touches a device itself
//! (time and crypto are injected, as rustls does with its `SigningKey`). Every signer returns a
//! JWS-form ECDSA signature (RFC 7518 §3.4: `r || s`, each left-padded to 32 bytes,
//! <https://www.rfc-editor.org/rfc/rfc7518#section-3.4>), so one verifier checks proofs from
//! software, TPM and PKCS#11 keys alike. Device back ends live in `leaklab-signers`.

use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};

use crate::jwk::Jwk;

/// Errors a signer can report. Device back ends map their library errors into these; the
/// library's own message goes into `reason` (its error types live in optional crates this one
/// cannot name).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The environment does not name the device, module, token or PIN to use.
    #[error("{what} not configured: {hint}")]
    NotConfigured { what: &'static str, hint: String },
    /// This build does not include the back end.
    #[error("built without the `{feature}` feature (rebuild with `--features {feature}`)")]
    FeatureDisabled { feature: &'static str },
    /// The device or module is named but cannot be reached, loaded or logged in to.
    #[error("cannot open {device}: {reason}")]
    Open { device: String, reason: String },
    /// An opened device (or the code sharing it) failed an operation, e.g. `TPM2_Sign`.
    #[error("{device}: {op} failed: {reason}")]
    Operation {
        device: String,
        op: &'static str,
        reason: String,
    },
    /// The device returned a signature that is not a P-256 ECDSA signature in any known form.
    #[error("malformed ECDSA signature from the device: {reason}")]
    MalformedSignature { reason: String },
    /// A key (a scalar, or a device's public point) is not a usable P-256 key.
    #[error("invalid key: {reason}")]
    InvalidKey { reason: String },
    /// A key file cannot be read, parsed, written, or does not apply.
    #[error("key file {}: {reason}", path.display())]
    KeyFile {
        path: std::path::PathBuf,
        reason: String,
    },
}

impl SignerError {
    /// An [`SignerError::Operation`] failure.
    pub fn operation(
        device: impl Into<String>,
        op: &'static str,
        reason: impl std::fmt::Display,
    ) -> Self {
        SignerError::Operation {
            device: device.into(),
            op,
            reason: reason.to_string(),
        }
    }

    /// An [`SignerError::Open`] failure.
    pub fn open(device: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        SignerError::Open {
            device: device.into(),
            reason: reason.to_string(),
        }
    }

    /// True when the error means "no such device here" (not configured, not built in, or not
    /// reachable), as opposed to a device that was reached and failed.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            SignerError::NotConfigured { .. }
                | SignerError::FeatureDisabled { .. }
                | SignerError::Open { .. }
        )
    }
}

/// An ES256 (ECDSA P-256 + SHA-256) signing key.
///
/// `sign` takes `&mut self` because device sessions (TPM ESAPI contexts, PKCS#11 sessions) are
/// stateful and not shareable across threads.
pub trait Signer: Send {
    /// JWS `alg` value; `ES256` for every signer in leaklab.
    fn alg(&self) -> &'static str {
        "ES256"
    }
    /// The public key as a JWK (for the DPoP `jwk` header and thumbprints).
    fn public_jwk(&self) -> &Jwk;
    /// Signs `message` (the JWS signing input; hashing with SHA-256 is the signer's job) and
    /// returns the 64-byte JWS signature `r || s`.
    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], SignerError>;
    /// A short human description of the device, e.g. `software p256` or `tpm swtpm:port=2321`.
    fn describe(&self) -> String;
}

/// An ES256 key held in process memory (RustCrypto `p256`).
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
            .map_err(|_| SignerError::InvalidKey {
                reason: "not a valid P-256 private scalar".into(),
            })
    }

    /// The private JWK for a key file (includes `d`: keep it secret).
    pub fn to_private_jwk_json(&self) -> serde_json::Value {
        let mut v = self.jwk.to_json();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("d".into(), crate::b64::encode(self.scalar_bytes()).into());
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
