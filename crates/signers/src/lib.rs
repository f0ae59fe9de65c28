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

use std::path::Path;

pub use leaklab_protocol::signer::{Signer, SignerError, SoftwareSigner};

/// Which back end to open (CLI `--signer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignerKind {
    Software,
    Tpm,
    Pkcs11,
}

impl SignerKind {
    pub const NAMES: [&'static str; 3] = ["software", "tpm", "pkcs11"];
}

impl std::str::FromStr for SignerKind {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "software" => Ok(SignerKind::Software),
            "tpm" => Ok(SignerKind::Tpm),
            "pkcs11" => Ok(SignerKind::Pkcs11),
            other => Err(format!(
                "unknown signer `{other}` (one of: {})",
                SignerKind::NAMES.join(", ")
            )),
        }
    }
}

/// Opens a signer of the given kind.
///
/// * `Software`: loads the key file if given (see [`software_from_key_file`]), else a fresh key.
/// * `Tpm`: a key created in the TPM named by the environment (TCTI), see the `tpm` module.
/// * `Pkcs11`: a key on the token named by the environment, see the `pkcs11` module.
pub fn open(kind: SignerKind, key_file: Option<&Path>) -> Result<Box<dyn Signer>, SignerError> {
    if let (Some(path), SignerKind::Tpm | SignerKind::Pkcs11) = (key_file, kind) {
        return Err(key_file_error(
            path,
            "a key file applies to the software signer only; TPM and PKCS#11 keys are created \
             in the device",
        ));
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
        SignerKind::Tpm => Err(SignerError::FeatureDisabled { feature: "tpm" }),
        #[cfg(feature = "pkcs11")]
        SignerKind::Pkcs11 => Ok(Box::new(pkcs11::Pkcs11Signer::from_env()?)),
        #[cfg(not(feature = "pkcs11"))]
        SignerKind::Pkcs11 => Err(SignerError::FeatureDisabled { feature: "pkcs11" }),
    }
}

fn key_file_error(path: &Path, reason: impl std::fmt::Display) -> SignerError {
    SignerError::KeyFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Loads a key file: a private EC P-256 JWK (`{"kty":"EC","crv":"P-256","x":…,"y":…,"d":…}`).
/// Public members that are present must match `d`, so a hand-edited file cannot sign with one
/// key while advertising another.
pub fn software_from_key_file(path: &Path) -> Result<SoftwareSigner, SignerError> {
    let text = std::fs::read_to_string(path).map_err(|e| key_file_error(path, e))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| key_file_error(path, format!("not JSON: {e}")))?;
    let d = value
        .get("d")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| key_file_error(path, "no private member `d` (a private EC P-256 JWK)"))?;
    let bytes = leaklab_protocol::b64::decode(d)
        .map_err(|_| key_file_error(path, "`d` is not base64url"))?;
    let signer = SoftwareSigner::from_scalar(&bytes).map_err(|e| key_file_error(path, e))?;
    let public = signer.public_jwk().to_json();
    for member in ["kty", "crv", "x", "y"] {
        if value
            .get(member)
            .is_some_and(|v| Some(v) != public.get(member))
        {
            return Err(key_file_error(
                path,
                format!("`{member}` does not match `d`"),
            ));
        }
    }
    Ok(signer)
}

/// Writes a fresh software key to `path` as a private JWK (see [`software_from_key_file`]) and
/// returns it. The file must not exist; on Unix it is created with mode 0600 since it holds `d`.
pub fn write_new_key_file(path: &Path) -> Result<SoftwareSigner, SignerError> {
    let key = SoftwareSigner::generate(&mut rand::rngs::OsRng);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| key_file_error(path, format!("cannot create: {e}")))?;
    let text = format!("{}\n", key.to_private_jwk_json());
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| key_file_error(path, format!("cannot write: {e}")))?;
    Ok(key)
}
