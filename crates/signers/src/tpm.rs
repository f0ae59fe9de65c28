//! ES256 signing with a key that never leaves a TPM 2.0, through the in-process ESAPI
//! (`tss-esapi` over the system `libtss2`).
//!
//! Design choices:
//! * The TPM is named by a TCTI string from the environment, so the same code drives `swtpm` on
//!   loopback (`swtpm:host=127.0.0.1,port=2321`) and real hardware (`device:/dev/tpmrm0`).
//!   Variables, first set wins: `LEAKLAB_TCTI`, `TPM2TOOLS_TCTI` (what tpm2-tools reads,
//!   <https://tpm2-tools.readthedocs.io/en/latest/man/common/tcti/>), `TCTI`.
//! * The key is an ECC NIST P-256 **primary** key in the owner hierarchy with `fixedTPM`,
//!   `fixedParent`, `sensitiveDataOrigin`, `userWithAuth` and `sign`, not `restricted`, scheme
//!   ECDSA-SHA256. It is created with `TPM2_CreatePrimary`, so it is derived from the owner seed
//!   and the template: the same TPM yields the same key (and DPoP `jkt`) on every run, and its
//!   private part cannot be exported (TPM 2.0 Part 1 §27.2,
//!   <https://trustedcomputinggroup.org/resource/tpm-library-specification/>).
//! * The key is loaded once per signer and flushed on drop: a TPM without a resource manager has
//!   only about three transient object slots.
//! * The message is hashed with SHA-256 in software and `TPM2_Sign` signs the digest. Since the
//!   key is not restricted, a NULL hash-check ticket is accepted (Part 3 §20.2).
//! * Authorisation uses a password session with the empty auth value: the cheapest session for
//!   a key whose security is "cannot leave this TPM", not a secret auth value.
//! * `r` and `s` come back as variable-length `TPM2B_ECC_PARAMETER`s and are left-padded to the
//!   JWS form by [`super::jws_signature`].

use std::str::FromStr;

use sha2::{Digest as _, Sha256};
use tss_esapi::constants::tss::{TPM2_RH_NULL, TPM2_ST_HASHCHECK};
use tss_esapi::handles::{KeyHandle, ObjectHandle};
use tss_esapi::interface_types::algorithm::HashingAlgorithm;
use tss_esapi::interface_types::ecc::EccCurve;
use tss_esapi::interface_types::resource_handles::Hierarchy;
use tss_esapi::interface_types::session_handles::AuthSession;
use tss_esapi::structures::{
    Digest, EccScheme, HashScheme, HashcheckTicket, Public, Signature, SignatureScheme,
};
use tss_esapi::tss2_esys::TPMT_TK_HASHCHECK;
use tss_esapi::{Context, TctiNameConf};

use super::{jws_signature, Signer, SignerError};
use leaklab_protocol::jwk::Jwk;

/// Environment variables naming the TPM, in order of precedence.
pub const TCTI_ENV_VARS: [&str; 3] = ["LEAKLAB_TCTI", "TPM2TOOLS_TCTI", "TCTI"];

/// The TCTI string named by the environment, with the variable it came from.
pub fn tcti_from_env() -> Option<(&'static str, String)> {
    TCTI_ENV_VARS.iter().find_map(|var| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| (*var, v))
    })
}

/// An ES256 key inside a TPM, with the ESAPI context that reaches it.
pub struct TpmSigner {
    context: Context,
    key: Option<KeyHandle>,
    jwk: Jwk,
    tcti: String,
}

impl TpmSigner {
    /// Opens the TPM named by the environment (see [`TCTI_ENV_VARS`]).
    pub fn from_env() -> Result<Self, SignerError> {
        let (_, tcti) = tcti_from_env().ok_or_else(|| SignerError::NotConfigured {
            what: "TPM",
            hint: format!(
                "set one of {} to a TCTI such as `device:/dev/tpmrm0` or \
                 `swtpm:host=127.0.0.1,port=2321`",
                TCTI_ENV_VARS.join(", ")
            ),
        })?;
        Self::open(&tcti)
    }

    /// Opens the TPM at `tcti` and creates (derives) the signing key in it.
    ///
    /// The TSS library logs its own WARNING/ERROR lines to stderr according to `TSS2_LOG`; this
    /// library leaves the environment alone, so a binary that wants quiet failures sets
    /// `TSS2_LOG` itself (the `leaklab` binary does, at start-up).
    pub fn open(tcti: &str) -> Result<Self, SignerError> {
        let device = || format!("TPM at `{tcti}`");
        let conf = TctiNameConf::from_str(tcti).map_err(|e| {
            SignerError::open(
                device(),
                format!(
                    "TCTI not understood ({e}); use device:PATH, swtpm:host=H,port=P, \
                     mssim:host=H,port=P or tabrmd"
                ),
            )
        })?;
        if let TctiNameConf::Device(_) = conf {
            let path = tcti.strip_prefix("device:").unwrap_or("/dev/tpmrm0");
            let path = if path.is_empty() { "/dev/tpmrm0" } else { path };
            if !std::path::Path::new(path).exists() {
                return Err(SignerError::open(
                    device(),
                    format!("{path} does not exist"),
                ));
            }
        }
        let mut context = Context::new(conf).map_err(|e| SignerError::open(device(), e))?;
        context.set_sessions((Some(AuthSession::Password), None, None));
        let template = signing_key_template()
            .map_err(|e| SignerError::operation(device(), "building the key template", e))?;
        let created = context
            .create_primary(Hierarchy::Owner, template, None, None, None, None)
            .map_err(|e| {
                SignerError::operation(device(), "TPM2_CreatePrimary (ECC P-256 signing key)", e)
            })?;
        let key = created.key_handle;
        let jwk = match public_jwk(&created.out_public) {
            Ok(jwk) => jwk,
            Err(e) => {
                let _ = context.flush_context(ObjectHandle::from(key));
                return Err(e);
            }
        };
        Ok(Self {
            context,
            key: Some(key),
            jwk,
            tcti: tcti.to_string(),
        })
    }

    /// The TCTI this signer talks to.
    pub fn tcti(&self) -> &str {
        &self.tcti
    }
}

/// The public template of the signing key (see the module documentation).
fn signing_key_template() -> tss_esapi::Result<Public> {
    tss_esapi::utils::create_unrestricted_signing_ecc_public(
        EccScheme::EcDsa(HashScheme::new(HashingAlgorithm::Sha256)),
        EccCurve::NistP256,
    )
}

/// The JWK of the created key; the point is checked to lie on P-256.
fn public_jwk(public: &Public) -> Result<Jwk, SignerError> {
    let Public::Ecc { unique, .. } = public else {
        return Err(SignerError::InvalidKey {
            reason: "TPM returned a non-ECC public area".into(),
        });
    };
    let coordinate = |c: &[u8]| {
        jws_signature::fixed_scalar(c).map_err(|_| SignerError::InvalidKey {
            reason: format!("TPM public key coordinate of {} bytes", c.len()),
        })
    };
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(&coordinate(unique.x().value())?);
    sec1.extend_from_slice(&coordinate(unique.y().value())?);
    let (x, y) = jws_signature::p256_point(&sec1)?;
    Ok(Jwk::p256(&x, &y))
}

fn null_hashcheck_ticket() -> tss_esapi::Result<HashcheckTicket> {
    HashcheckTicket::try_from(TPMT_TK_HASHCHECK {
        tag: TPM2_ST_HASHCHECK,
        hierarchy: TPM2_RH_NULL,
        digest: Default::default(),
    })
}

impl Signer for TpmSigner {
    fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        let device = || format!("TPM at `{}`", self.tcti);
        let fail = |e| SignerError::operation(device(), "TPM2_Sign", e);
        let key = self.key.ok_or_else(|| fail("the key was flushed".into()))?;
        let digest = Digest::try_from(Sha256::digest(message).to_vec())
            .map_err(|e| fail(format!("digest buffer: {e}")))?;
        let scheme = SignatureScheme::EcDsa {
            hash_scheme: HashScheme::new(HashingAlgorithm::Sha256),
        };
        let ticket =
            null_hashcheck_ticket().map_err(|e| fail(format!("NULL hash-check ticket: {e}")))?;
        let signature = self
            .context
            .sign(key, digest, scheme, ticket)
            .map_err(|e| fail(e.to_string()))?;
        match signature {
            Signature::EcDsa(sig) => {
                jws_signature::from_r_s(sig.signature_r().value(), sig.signature_s().value())
            }
            other => Err(SignerError::MalformedSignature {
                reason: format!(
                    "TPM2_Sign returned a {:?} signature, expected ECDSA",
                    other.algorithm()
                ),
            }),
        }
    }

    fn describe(&self) -> String {
        format!("tpm {}", self.tcti)
    }
}

impl Drop for TpmSigner {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            // Nothing useful can be done if the flush fails while dropping; the TPM frees the
            // slot at the next reset.
            let _ = self.context.flush_context(ObjectHandle::from(key));
        }
    }
}
