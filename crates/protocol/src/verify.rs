//! DPoP (RFC 9449 §4.3) and DPoP-RT (draft-rosomakho-oauth-dpop-rt §6.1) proof verification.
//!
//! Every check is a distinct [`ProofError`] variant with a short [`ProofError::reason`] and an
//! OAuth error code ([`ProofRejection::oauth_error`]). The verifier is a pure function of the
//! request, the policy, `now` (captured once by the caller and passed in) and a replay store.
//!
//! Order of checks (RFC 9449 allows any order; the DPoP-RT draft lists signature, typ, htm/htu,
//! iat/jti, nonce, rth "in order"; `docs/protocol-notes.md#check-order`). Cheap syntactic checks
//! that need no trust run first, the signature next, then the semantic checks, and the replay
//! store last:
//! 1. header count (0 = `missing_header`, >1 = `header_count`, check 1), then the size bound
//!    *before* any parsing ([`VerifyPolicy::max_proof_bytes`]);
//! 2. single well-formed JWT (check 2), `typ` (check 4), `alg` (check 5: never `none`, never a
//!    MAC, allow-listed, supported), `jwk` present, public and usable (check 7);
//! 3. the signature with the header `jwk` (check 6);
//! 4. required claims `jti htm htu iat` (check 3), `htm` (check 8), `htu` after RFC 3986
//!    normalisation of both sides (check 9, see [`super::uri`]), `nonce` (check 10), the `iat`
//!    window with separate past (`max_age_secs`) and future (`max_future_skew_secs`) bounds
//!    (check 11), `ath` (check 12, when an access token is presented), `rth` (DPoP-RT: required
//!    iff a refresh token is presented), `jti` distinct from the other proof of the request
//!    (DPoP-RT), key binding to the expected thumbprint (`cnf.jkt` for an access token, the
//!    stored RT-key thumbprint for DPoP-RT: the check the draft leaves implicit,
//!    `docs/protocol-notes.md#dpop-rt-key-binding`);
//! 5. the `jti` is burnt in the replay store only after every other check passed, so a rejected
//!    proof never consumes store capacity and a legitimate retry is not blocked by a failed
//!    attempt. A full store rejects (fail closed).
//!
//! For DPoP-RT the nonce check runs before `rth`, matching the draft's order (a stale nonce and
//! a bad `rth` together give `use_dpop_rt_nonce`).

use serde_json::Value;

use super::jwk::{Jwk, JwkError};
use super::jws::{self, AlgError, JwsError, SignatureError};
use super::oauth_error::OAuthError;
use super::proof::{self, ProofKind};
use super::replay::{ReplayError, ReplayKey, ReplayStore};
use super::uri::{NormalizedUri, UriError};

/// Server policy for proofs.
#[derive(Clone, Debug)]
pub struct VerifyPolicy {
    /// Largest accepted header value in bytes, checked before parsing.
    pub max_proof_bytes: usize,
    /// Acceptable `alg` values (the AS's `dpop_signing_alg_values_supported`, applied to DPoP-RT
    /// proofs too: `docs/protocol-notes.md#alg-allow-list`). `none` and `HS*` are refused even if
    /// listed.
    pub allowed_algs: Vec<String>,
    /// How far in the past `iat` may be (seconds).
    pub max_age_secs: i64,
    /// How far in the future `iat` may be (seconds), for client clock skew.
    pub max_future_skew_secs: i64,
    /// The ES256 signature check (injected crypto; default: pure-Rust `p256`).
    pub es256: jws::Es256Verify,
}

impl Default for VerifyPolicy {
    /// 8 KiB, ES256, `iat` within 60 s in the past and 10 s in the future: the FAPI 2.0 guidance
    /// cited in keycloak#34894 (accept up to 10 s ahead, reject more than 60 s old).
    fn default() -> Self {
        Self {
            max_proof_bytes: 8192,
            allowed_algs: vec!["ES256".into()],
            max_age_secs: 60,
            max_future_skew_secs: 10,
            es256: jws::verify_es256_p256,
        }
    }
}

/// Server-nonce requirement for this request.
#[derive(Clone, Copy, Debug, Default)]
pub enum NonceCheck<'a> {
    /// The server has not issued a nonce of this kind to the client.
    #[default]
    NotRequired,
    /// The proof's `nonce` must equal one of these recently issued values.
    OneOf(&'a [&'a str]),
}

/// The request a proof arrives with, as the server sees it.
#[derive(Clone, Debug)]
pub struct ProofRequest<'a> {
    pub kind: ProofKind,
    /// Every value of the `DPoP` (or `DPoP-RT`) header field in the request.
    pub header_values: &'a [&'a str],
    /// The request method.
    pub htm: &'a str,
    /// The request target URI, normalised.
    pub htu: &'a NormalizedUri,
    pub nonce: NonceCheck<'a>,
    /// At a resource server: the access token sent with the proof (`ath` is then required).
    pub access_token: Option<&'a str>,
    /// The thumbprint the proof key must have: the access token's `cnf.jkt` at a resource server,
    /// or the RT record's stored thumbprint for DPoP-RT.
    pub expected_jkt: Option<&'a str>,
    /// DPoP-RT: the `refresh_token` parameter of the request (`rth` required iff present).
    pub refresh_token: Option<&'a str>,
    /// DPoP-RT: the `jti` of the DPoP proof in the same request, which must differ.
    pub other_jti: Option<&'a str>,
}

impl<'a> ProofRequest<'a> {
    /// A request with no nonce, access token, key binding or refresh token.
    pub fn new(
        kind: ProofKind,
        header_values: &'a [&'a str],
        htm: &'a str,
        htu: &'a NormalizedUri,
    ) -> Self {
        Self {
            kind,
            header_values,
            htm,
            htu,
            nonce: NonceCheck::NotRequired,
            access_token: None,
            expected_jkt: None,
            refresh_token: None,
            other_jti: None,
        }
    }
}

/// A proof that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedProof {
    pub kind: ProofKind,
    /// RFC 7638 thumbprint of the proof key (`jkt`).
    pub jkt: String,
    pub jwk: Jwk,
    pub alg: String,
    pub jti: String,
    pub iat: i64,
    pub nonce: Option<String>,
    /// DPoP-RT: the verified `rth` (present iff a refresh token was presented).
    pub rth: Option<String>,
}

/// One failed check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    #[error("no proof header")]
    MissingHeader,
    #[error("{0} proof header fields (at most one allowed)")]
    MultipleHeaders(usize),
    #[error("proof is {len} bytes, more than the {max} allowed")]
    TooLarge { len: usize, max: usize },
    #[error("not a single well-formed JWT: {0}")]
    Malformed(JwsError),
    #[error("typ is {found:?}, expected {expected}")]
    Typ {
        found: Option<String>,
        expected: &'static str,
    },
    #[error("alg missing")]
    AlgMissing,
    #[error(transparent)]
    Alg(AlgError),
    #[error("jwk header missing")]
    JwkMissing,
    #[error("jwk contains private key member `{0}`")]
    JwkPrivate(String),
    #[error("jwk unusable: {0}")]
    JwkInvalid(JwkError),
    #[error("signature: {0}")]
    Signature(SignatureError),
    #[error("required claim `{0}` is missing or has the wrong type")]
    MissingClaim(&'static str),
    #[error("htm {found:?} does not match the request method")]
    HtmMismatch { found: String },
    #[error("htu is not a valid absolute URI: {0}")]
    HtuInvalid(UriError),
    #[error("htu {found:?} does not match the request URI")]
    HtuMismatch { found: String },
    #[error("nonce required but missing")]
    NonceMissing,
    #[error("nonce does not match a current server nonce")]
    NonceMismatch,
    #[error("iat {iat} is more than {max_age}s before now ({now})")]
    IatTooOld { iat: i64, now: i64, max_age: i64 },
    #[error("iat {iat} is more than {skew}s after now ({now})")]
    IatInFuture { iat: i64, now: i64, skew: i64 },
    #[error("ath missing although an access token is presented")]
    AthMissing,
    #[error("ath does not match the access token")]
    AthMismatch,
    #[error("rth missing although a refresh token is presented")]
    RthMissing,
    #[error("rth does not match the refresh token")]
    RthMismatch,
    #[error("rth present although no refresh token is presented")]
    RthUnexpected,
    #[error("jti equals the jti of the other proof in this request")]
    JtiNotDistinct,
    #[error("proof key thumbprint does not match the token binding")]
    KeyBindingMismatch,
    #[error("jti already used within the replay window")]
    Replayed,
    #[error("replay store is full (failing closed)")]
    ReplayStoreFull,
}

impl ProofError {
    /// A short name of the failed check, stable for logs and the CLI's `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ProofError::MissingHeader => "missing_header",
            ProofError::MultipleHeaders(_) => "header_count",
            ProofError::TooLarge { .. } => "size",
            ProofError::Malformed(_) => "jwt_syntax",
            ProofError::Typ { .. } => "typ",
            ProofError::AlgMissing => "alg_missing",
            ProofError::Alg(AlgError::NotAsymmetric(_)) => "alg_not_asymmetric",
            ProofError::Alg(AlgError::NotAllowed(_)) => "alg_not_allowed",
            ProofError::Alg(AlgError::Unsupported(_)) => "alg_unsupported",
            ProofError::JwkMissing => "jwk_missing",
            ProofError::JwkPrivate(_) => "jwk_private",
            ProofError::JwkInvalid(_) => "jwk_invalid",
            ProofError::Signature(_) => "signature",
            ProofError::MissingClaim(_) => "required_claims",
            ProofError::HtmMismatch { .. } => "htm",
            ProofError::HtuInvalid(_) => "htu_invalid",
            ProofError::HtuMismatch { .. } => "htu",
            ProofError::NonceMissing => "nonce_missing",
            ProofError::NonceMismatch => "nonce_mismatch",
            ProofError::IatTooOld { .. } => "iat_too_old",
            ProofError::IatInFuture { .. } => "iat_in_future",
            ProofError::AthMissing => "ath_missing",
            ProofError::AthMismatch => "ath_mismatch",
            ProofError::RthMissing => "rth_missing",
            ProofError::RthMismatch => "rth_mismatch",
            ProofError::RthUnexpected => "rth_unexpected",
            ProofError::JtiNotDistinct => "jti_not_distinct",
            ProofError::KeyBindingMismatch => "key_binding",
            ProofError::Replayed => "jti_replay",
            ProofError::ReplayStoreFull => "replay_store_full",
        }
    }
}

/// A failed verification: which kind of proof, and which check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} proof rejected ({}): {error}", kind.header_name(), error.reason())]
pub struct ProofRejection {
    pub kind: ProofKind,
    pub error: ProofError,
}

impl ProofRejection {
    /// The OAuth error code:
    /// * nonce missing/mismatched: `use_dpop_nonce` / `use_dpop_rt_nonce` (RFC 9449 §8, §9;
    ///   DPoP-RT draft §6.1 step 5);
    /// * a DPoP proof whose key does not match the access token's `cnf.jkt`: `invalid_token`
    ///   (RFC 9449 §7.1 example "Invalid DPoP key binding");
    /// * a DPoP-RT key that does not match the RT's binding: `invalid_dpop_rt_proof`
    ///   (`docs/protocol-notes.md#dpop-rt-key-binding`);
    /// * everything else: `invalid_dpop_proof` / `invalid_dpop_rt_proof`.
    pub fn oauth_error(&self) -> OAuthError {
        match (&self.error, self.kind) {
            (ProofError::NonceMissing | ProofError::NonceMismatch, kind) => kind.nonce_error(),
            (ProofError::KeyBindingMismatch, ProofKind::Dpop) => OAuthError::InvalidToken,
            (_, kind) => kind.invalid_error(),
        }
    }

    /// Short name of the failed check.
    pub fn reason(&self) -> &'static str {
        self.error.reason()
    }
}

/// Verifies the proof in `req`. See the module doc for the checks and their order.
pub fn verify(
    req: &ProofRequest<'_>,
    policy: &VerifyPolicy,
    now: i64,
    replay: &mut dyn ReplayStore,
) -> Result<VerifiedProof, ProofRejection> {
    check(req, policy, now, replay).map_err(|error| ProofRejection {
        kind: req.kind,
        error,
    })
}

fn check(
    req: &ProofRequest<'_>,
    policy: &VerifyPolicy,
    now: i64,
    replay: &mut dyn ReplayStore,
) -> Result<VerifiedProof, ProofError> {
    let text = match req.header_values {
        [] => return Err(ProofError::MissingHeader),
        [one] => *one,
        many => return Err(ProofError::MultipleHeaders(many.len())),
    };
    if text.len() > policy.max_proof_bytes {
        return Err(ProofError::TooLarge {
            len: text.len(),
            max: policy.max_proof_bytes,
        });
    }
    let jws = jws::parse(text).map_err(ProofError::Malformed)?;

    // Header: typ, alg, jwk.
    let expected_typ = req.kind.typ();
    match jws.header_str("typ") {
        Some(t) if t == expected_typ => {}
        other => {
            return Err(ProofError::Typ {
                found: other.map(str::to_owned),
                expected: expected_typ,
            })
        }
    }
    let alg = jws.header_str("alg").ok_or(ProofError::AlgMissing)?;
    jws::check_alg(alg, &policy.allowed_algs).map_err(ProofError::Alg)?;
    let jwk_value = jws.header.get("jwk").ok_or(ProofError::JwkMissing)?;
    let jwk = Jwk::from_json(jwk_value).map_err(|e| match e {
        JwkError::PrivateKeyMember(m) => ProofError::JwkPrivate(m),
        other => ProofError::JwkInvalid(other),
    })?;

    // Signature with the header key.
    jws.verify_with(alg, &jwk, policy.es256)
        .map_err(ProofError::Signature)?;

    // Claims.
    let claims = &jws.claims;
    let claim_str = |name: &'static str| claims.get(name).and_then(Value::as_str);
    let jti = claim_str("jti")
        .filter(|j| !j.is_empty())
        .ok_or(ProofError::MissingClaim("jti"))?;
    let htm = claim_str("htm").ok_or(ProofError::MissingClaim("htm"))?;
    let htu = claim_str("htu").ok_or(ProofError::MissingClaim("htu"))?;
    let iat = claims
        .get("iat")
        .and_then(numeric_date)
        .ok_or(ProofError::MissingClaim("iat"))?;

    if htm != req.htm {
        return Err(ProofError::HtmMismatch {
            found: htm.to_owned(),
        });
    }
    // A client that sends the normal form itself (most do) matches without a parse: the normal
    // form is a fixed point of normalisation.
    if htu != req.htu.as_str()
        && NormalizedUri::parse(htu).map_err(ProofError::HtuInvalid)? != *req.htu
    {
        return Err(ProofError::HtuMismatch {
            found: htu.to_owned(),
        });
    }

    let nonce = claims.get("nonce").and_then(Value::as_str);
    if let NonceCheck::OneOf(accepted) = req.nonce {
        match nonce {
            None => return Err(ProofError::NonceMissing),
            Some(n) if !accepted.contains(&n) => return Err(ProofError::NonceMismatch),
            Some(_) => {}
        }
    }

    if iat < now.saturating_sub(policy.max_age_secs) {
        return Err(ProofError::IatTooOld {
            iat,
            now,
            max_age: policy.max_age_secs,
        });
    }
    if iat > now.saturating_add(policy.max_future_skew_secs) {
        return Err(ProofError::IatInFuture {
            iat,
            now,
            skew: policy.max_future_skew_secs,
        });
    }

    if let Some(at) = req.access_token {
        match claim_str("ath") {
            None => return Err(ProofError::AthMissing),
            Some(a) if a != proof::ath(at) => return Err(ProofError::AthMismatch),
            Some(_) => {}
        }
    }

    let rth = claim_str("rth");
    if req.kind == ProofKind::DpopRt {
        match (req.refresh_token, rth) {
            (Some(_), None) => return Err(ProofError::RthMissing),
            (Some(rt), Some(r)) if r != proof::rth(rt) => return Err(ProofError::RthMismatch),
            (None, Some(_)) => return Err(ProofError::RthUnexpected),
            _ => {}
        }
        if req.other_jti == Some(jti) {
            return Err(ProofError::JtiNotDistinct);
        }
    }

    let jkt = jwk.thumbprint();
    if let Some(expected) = req.expected_jkt {
        if expected != jkt {
            return Err(ProofError::KeyBindingMismatch);
        }
    }

    // Burn the jti last. The entry lives through the last second the proof could still pass the
    // iat window (iat + max_age inclusive).
    let expires_at = iat.saturating_add(policy.max_age_secs).saturating_add(1);
    replay
        .check_and_insert(ReplayKey::proof(req.htu.as_str(), jti), now, expires_at)
        .map_err(|e| match e {
            ReplayError::Replayed => ProofError::Replayed,
            ReplayError::Full => ProofError::ReplayStoreFull,
        })?;

    Ok(VerifiedProof {
        kind: req.kind,
        jkt,
        jwk,
        alg: alg.to_owned(),
        jti: jti.to_owned(),
        iat,
        nonce: nonce.map(str::to_owned),
        rth: if req.kind == ProofKind::DpopRt {
            rth.map(str::to_owned)
        } else {
            None
        },
    })
}

/// A JWT NumericDate (RFC 7519 §2): an integer, or a finite number truncated to whole seconds.
pub(crate) fn numeric_date(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.floor() as i64)
    })
}
