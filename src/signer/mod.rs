//! ES256 signers behind one trait.
//!
//! Every signer returns a JWS-form ECDSA signature (RFC 7518 §3.4: `r || s`, each left-padded to
//! 32 bytes), so one verifier checks proofs from software, TPM and PKCS#11 keys alike.

#[cfg(feature = "aws-lc")]
pub mod aws_lc;
pub mod jws_signature;
#[cfg(any(feature = "tpm", feature = "pkcs11"))]
pub mod lab;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
pub mod software;
#[cfg(feature = "tpm")]
pub mod tpm;

use crate::protocol::jwk::Jwk;

/// Errors a signer can report. Device back ends map their library errors into these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The device or module could not be found or opened (e.g. no TCTI, no PKCS#11 module).
    #[error("signing device unavailable: {0}")]
    Unavailable(String),
    /// The device answered with an error.
    #[error("signing device error: {0}")]
    Device(String),
    /// A key file or key parameter was unusable.
    #[error("invalid key: {0}")]
    InvalidKey(String),
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

/// Which back end to open (CLI `--signer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignerKind {
    Software,
    Tpm,
    Pkcs11,
}

/// Opens a signer of the given kind.
///
/// * `Software`: loads the key file if given (see `software` for its format), else a fresh key.
/// * `Tpm`: a key created in the TPM named by the environment (TCTI), see the `tpm` module.
/// * `Pkcs11`: a key on the token named by the environment, see the `pkcs11` module.
pub fn open(kind: SignerKind, key_file: Option<&std::path::Path>) -> Result<Box<dyn Signer>, SignerError> {
    if let (Some(path), SignerKind::Tpm | SignerKind::Pkcs11) = (key_file, kind) {
        return Err(SignerError::InvalidKey(format!(
            "{}: a key file applies to the software signer only; TPM and PKCS#11 keys are created in the device",
            path.display()
        )));
    }
    match kind {
        SignerKind::Software => {
            let signer = match key_file {
                Some(path) => software::SoftwareSigner::from_key_file(path)?,
                None => software::SoftwareSigner::generate(&mut rand::rngs::OsRng),
            };
            Ok(Box::new(signer))
        }
        #[cfg(feature = "tpm")]
        SignerKind::Tpm => Ok(Box::new(tpm::TpmSigner::from_env()?)),
        #[cfg(not(feature = "tpm"))]
        SignerKind::Tpm => Err(SignerError::Unavailable(
            "this leaklab was built without the `tpm` feature (cargo build --features tpm)".into(),
        )),
        #[cfg(feature = "pkcs11")]
        SignerKind::Pkcs11 => Ok(Box::new(pkcs11::Pkcs11Signer::from_env()?)),
        #[cfg(not(feature = "pkcs11"))]
        SignerKind::Pkcs11 => Err(SignerError::Unavailable(
            "this leaklab was built without the `pkcs11` feature (cargo build --features pkcs11)".into(),
        )),
    }
}
