//! ES256 signing with a non-extractable key on a PKCS#11 token (`cryptoki`): SoftHSM2 locally,
//! any vendor module in production.
//!
//! Design choices:
//! * Module, token and PIN come from the environment: `LEAKLAB_PKCS11_MODULE` (default: the
//!   first existing of [`DEFAULT_MODULES`], SoftHSM2's Debian paths), `LEAKLAB_PKCS11_TOKEN`
//!   (token label) and `LEAKLAB_PKCS11_PIN` (user PIN).
//! * Each signer opens its own read-write session, logs the user in (PKCS#11 login state is
//!   shared by all sessions of an application, so `CKR_USER_ALREADY_LOGGED_IN` is fine), and
//!   generates a fresh P-256 key pair with `CKM_EC_KEY_PAIR_GEN` as **session objects**
//!   (`CKA_TOKEN` false): the private key is `CKA_SENSITIVE` and not `CKA_EXTRACTABLE`, and it
//!   disappears with the session, so nothing accumulates on the token.
//! * The message is hashed with SHA-256 in software and signed with `CKM_ECDSA` (raw ECDSA over
//!   the digest), which every module supports, unlike `CKM_ECDSA_SHA256`. The result is `r || s`
//!   (PKCS#11 v3.1 §2.3.1,
//!   <https://docs.oasis-open.org/pkcs11/pkcs11-spec/v3.1/os/pkcs11-spec-v3.1-os.html>), still
//!   normalised by [`super::jws_signature::from_pkcs11`] in case a module returns DER or a short
//!   half.
//! * A module is loaded and `C_Initialize`d once per process and kept in a process-wide table, as
//!   PKCS#11 requires one initialisation per application.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use sha2::{Digest as _, Sha256};

use super::{jws_signature, Signer, SignerError};
use leaklab_protocol::jwk::Jwk;

/// Module paths tried when `LEAKLAB_PKCS11_MODULE` is unset: SoftHSM2 on Debian/Ubuntu.
pub use super::lab::SOFTHSM_MODULES as DEFAULT_MODULES;

/// DER of the named-curve OID prime256v1 / secp256r1 (1.2.840.10045.3.1.7), for `CKA_EC_PARAMS`.
const P256_EC_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// Which module, token and PIN to use.
#[derive(Clone, Debug)]
pub struct Pkcs11Config {
    pub module: PathBuf,
    pub token_label: String,
    pub pin: String,
}

impl Pkcs11Config {
    /// Reads `LEAKLAB_PKCS11_MODULE`, `LEAKLAB_PKCS11_TOKEN` and `LEAKLAB_PKCS11_PIN`.
    pub fn from_env() -> Result<Self, SignerError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let module = match var("LEAKLAB_PKCS11_MODULE") {
            Some(m) => PathBuf::from(m),
            None => default_module().ok_or_else(|| SignerError::NotConfigured {
                what: "PKCS#11 module",
                hint: format!(
                    "set LEAKLAB_PKCS11_MODULE, or install SoftHSM2 (apt package libsofthsm2) \
                     so that one of {} exists",
                    DEFAULT_MODULES.join(", ")
                ),
            })?,
        };
        let token_label =
            var("LEAKLAB_PKCS11_TOKEN").ok_or_else(|| SignerError::NotConfigured {
                what: "PKCS#11 token",
                hint: "set LEAKLAB_PKCS11_TOKEN to its label".into(),
            })?;
        let pin = var("LEAKLAB_PKCS11_PIN").ok_or_else(|| SignerError::NotConfigured {
            what: "PKCS#11 user PIN",
            hint: "set LEAKLAB_PKCS11_PIN".into(),
        })?;
        Ok(Self {
            module,
            token_label,
            pin,
        })
    }
}

/// The first of [`DEFAULT_MODULES`] that exists.
pub fn default_module() -> Option<PathBuf> {
    DEFAULT_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Loads and initialises `module` once per process.
fn module(path: &Path) -> Result<Pkcs11, SignerError> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let table = MODULES.get_or_init(|| Mutex::new(HashMap::new()));
    let device = || format!("PKCS#11 module {}", path.display());
    // A panic elsewhere while holding the lock leaves the table itself intact.
    let mut table = table
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(ctx) = table.get(path) {
        return Ok(ctx.clone());
    }
    if !path.exists() {
        return Err(SignerError::open(device(), "no such file"));
    }
    let ctx = Pkcs11::new(path).map_err(|e| SignerError::open(device(), e))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(SignerError::open(device(), format!("C_Initialize: {e}"))),
    }
    table.insert(path.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// A P-256 key pair on a PKCS#11 token and the session that holds it.
pub struct Pkcs11Signer {
    session: Session,
    private_key: ObjectHandle,
    jwk: Jwk,
    description: String,
}

impl Pkcs11Signer {
    /// Opens the token named by the environment (see [`Pkcs11Config::from_env`]).
    pub fn from_env() -> Result<Self, SignerError> {
        Self::open(&Pkcs11Config::from_env()?)
    }

    /// Opens a session on the token, logs in and generates the key pair.
    pub fn open(config: &Pkcs11Config) -> Result<Self, SignerError> {
        let ctx = module(&config.module)?;
        let description = format!(
            "pkcs11 {} token `{}`",
            config.module.display(),
            config.token_label
        );
        let dev = |op: &'static str, e: CkError| SignerError::operation(&description, op, e);
        let slots = ctx
            .get_slots_with_initialized_token()
            .map_err(|e| dev("C_GetSlotList", e))?;
        let mut found = None;
        for slot in slots {
            let info = ctx
                .get_token_info(slot)
                .map_err(|e| dev("C_GetTokenInfo", e))?;
            if info.label().trim_end() == config.token_label {
                found = Some(slot);
                break;
            }
        }
        let slot = found.ok_or_else(|| {
            SignerError::open(&description, "no initialised token has this label")
        })?;
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| dev("C_OpenSession", e))?;
        let pin = AuthPin::from(config.pin.clone());
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                return Err(SignerError::open(
                    &description,
                    "the token refused the user PIN",
                ))
            }
            Err(e) => return Err(dev("C_Login", e)),
        }
        let public_template = [
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(P256_EC_PARAMS.to_vec()),
            Attribute::Verify(true),
        ];
        let private_template = [
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
        ];
        let (public_key, private_key) = session
            .generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(|e| dev("C_GenerateKeyPair (CKM_EC_KEY_PAIR_GEN, P-256)", e))?;
        let attrs = session
            .get_attributes(public_key, &[AttributeType::EcPoint])
            .map_err(|e| dev("C_GetAttributeValue(CKA_EC_POINT)", e))?;
        let point = attrs
            .into_iter()
            .find_map(|a| match a {
                Attribute::EcPoint(p) => Some(p),
                _ => None,
            })
            .ok_or_else(|| SignerError::InvalidKey {
                reason: "the token returned no CKA_EC_POINT".into(),
            })?;
        let (x, y) = jws_signature::p256_point(&point)?;
        Ok(Self {
            session,
            private_key,
            jwk: Jwk::p256(&x, &y),
            description,
        })
    }
}

impl Signer for Pkcs11Signer {
    fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    fn sign(&mut self, message: &[u8]) -> Result<[u8; 64], SignerError> {
        let digest = Sha256::digest(message);
        let raw = self
            .session
            .sign(&Mechanism::Ecdsa, self.private_key, &digest)
            .map_err(|e| SignerError::operation(&self.description, "C_Sign (CKM_ECDSA)", e))?;
        jws_signature::from_pkcs11(&raw)
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
