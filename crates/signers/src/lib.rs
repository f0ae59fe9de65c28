//! ES256 signing back ends behind the protocol core's [`Signer`] trait: software (`p256`, and
//! `aws-lc-rs` with the `aws-lc` feature), TPM 2.0 (`tpm` feature, `tss-esapi`) and PKCS#11
//! (`pkcs11` feature, `cryptoki`), the factory that opens one from files and the environment, and
//! the lab that starts real swtpm / SoftHSM2 devices for tests and benches.

#[cfg(feature = "aws-lc")]
pub mod aws_lc;
pub mod jws_signature;
#[cfg(any(feature = "tpm", feature = "pkcs11"))]
pub mod lab;
#[cfg(feature = "pkcs11")]
pub mod pkcs11;
#[cfg(feature = "tpm")]
pub mod tpm;

pub use leaklab_protocol::signer::{Signer, SignerError, SoftwareSigner};

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
                Some(path) => software_from_key_file(path)?,
                None => SoftwareSigner::generate(&mut rand::rngs::OsRng),
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

/// Loads a key file: a private EC P-256 JWK (`{"kty":"EC","crv":"P-256","x":…,"y":…,"d":…}`).
pub fn software_from_key_file(path: &std::path::Path) -> Result<SoftwareSigner, SignerError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SignerError::InvalidKey(format!("{}: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| SignerError::InvalidKey(format!("{}: not JSON: {e}", path.display())))?;
    let d = value
        .get("d")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| SignerError::InvalidKey(format!("{}: no private member `d`", path.display())))?;
    let bytes = leaklab_protocol::b64::decode(d)
        .map_err(|_| SignerError::InvalidKey(format!("{}: `d` is not base64url", path.display())))?;
    SoftwareSigner::from_scalar(&bytes)
}

