//! DPoP (RFC 9449 §4.2) and DPoP-RT (draft-rosomakho-oauth-dpop-rt §5) proof creation.
//!
//! A proof is a compact JWS signed through a [`Signer`], so software, TPM and PKCS#11 keys make
//! identical proofs. The header is `{"typ", "alg", "jwk"}` (the signer's public JWK, RFC 7638
//! members only, so no private member can leak). Claims are `jti`, `htm`, `htu`, `iat`, plus
//! `ath` (DPoP at a resource server), `rth` (DPoP-RT with a refresh token) and `nonce` when given.
//!
//! * `jti` is 128 bits from the caller's RNG, base64url (RFC 9449 §4.2 asks for >= 96 bits); the
//!   RNG is a parameter so the simulator can use seeded streams.
//! * `htu` is the target URI with query and fragment removed (RFC 9449 §4.2); it is not otherwise
//!   rewritten, the verifier normalises both sides.
//! * `iat` is the caller's `now`: the core reads no clock.

use rand::{CryptoRng, RngCore};
use serde_json::{Map, Value};

use super::b64;
use super::jws;
use super::oauth_error::OAuthError;
use super::uri::strip_query_and_fragment;
use crate::signer::{Signer, SignerError};

/// Which proof: a `DPoP` header proof or a `DPoP-RT` header proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProofKind {
    /// RFC 9449 proof, `typ` `dpop+jwt`, header `DPoP`.
    Dpop,
    /// DPoP-RT proof, `typ` `dpop-rt+jwt`, header `DPoP-RT`.
    DpopRt,
}

impl ProofKind {
    /// The required `typ` header value.
    pub fn typ(self) -> &'static str {
        match self {
            ProofKind::Dpop => "dpop+jwt",
            ProofKind::DpopRt => "dpop-rt+jwt",
        }
    }

    /// The HTTP header field carrying the proof.
    pub fn header_name(self) -> &'static str {
        match self {
            ProofKind::Dpop => "DPoP",
            ProofKind::DpopRt => "DPoP-RT",
        }
    }

    /// The HTTP header field carrying this kind's server nonce.
    pub fn nonce_header_name(self) -> &'static str {
        match self {
            ProofKind::Dpop => "DPoP-Nonce",
            ProofKind::DpopRt => "DPoP-RT-Nonce",
        }
    }

    /// The error for an invalid proof of this kind.
    pub fn invalid_error(self) -> OAuthError {
        match self {
            ProofKind::Dpop => OAuthError::InvalidDpopProof,
            ProofKind::DpopRt => OAuthError::InvalidDpopRtProof,
        }
    }

    /// The error demanding a (fresh) nonce for this kind.
    pub fn nonce_error(self) -> OAuthError {
        match self {
            ProofKind::Dpop => OAuthError::UseDpopNonce,
            ProofKind::DpopRt => OAuthError::UseDpopRtNonce,
        }
    }
}

/// What goes into a proof.
#[derive(Clone, Debug)]
pub struct ProofParams<'a> {
    pub kind: ProofKind,
    /// HTTP method, e.g. `POST`.
    pub htm: &'a str,
    /// Target URI; query and fragment are stripped.
    pub htu: &'a str,
    /// Creation time (unix seconds): the caller's `now`.
    pub iat: i64,
    /// The latest server nonce of this kind (`DPoP-Nonce` / `DPoP-RT-Nonce`).
    pub nonce: Option<&'a str>,
    /// DPoP only: the access token sent along (adds `ath`).
    pub access_token: Option<&'a str>,
    /// DPoP-RT only: the refresh token presented in the same request (adds `rth`).
    pub refresh_token: Option<&'a str>,
}

impl<'a> ProofParams<'a> {
    /// A proof of `kind` for `htm htu` at `iat`, without optional claims.
    pub fn new(kind: ProofKind, htm: &'a str, htu: &'a str, iat: i64) -> Self {
        Self {
            kind,
            htm,
            htu,
            iat,
            nonce: None,
            access_token: None,
            refresh_token: None,
        }
    }
}

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofBuildError {
    #[error("ath (an access token) applies only to DPoP proofs, not DPoP-RT")]
    AthOnDpopRt,
    #[error("rth (a refresh token) applies only to DPoP-RT proofs, not DPoP")]
    RthOnDpop,
    #[error(transparent)]
    Signer(#[from] SignerError),
}

/// `ath`: base64url(SHA-256(ASCII(access_token))) (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    b64::sha256_b64(access_token)
}

/// `rth`: base64url(SHA-256(refresh_token)) (DPoP-RT draft §5.2), the same construction as `ath`.
pub fn rth(refresh_token: &str) -> String {
    b64::sha256_b64(refresh_token)
}

/// A fresh `jti`: 128 random bits, base64url (22 characters).
pub fn new_jti(rng: &mut (impl RngCore + CryptoRng)) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    b64::encode(bytes)
}

/// Creates and signs a proof; returns the compact JWS for the `DPoP` / `DPoP-RT` header.
pub fn create(
    params: &ProofParams<'_>,
    signer: &mut dyn Signer,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<String, ProofBuildError> {
    match params.kind {
        ProofKind::DpopRt if params.access_token.is_some() => {
            return Err(ProofBuildError::AthOnDpopRt)
        }
        ProofKind::Dpop if params.refresh_token.is_some() => {
            return Err(ProofBuildError::RthOnDpop)
        }
        _ => {}
    }
    let mut header = Map::new();
    header.insert("typ".into(), params.kind.typ().into());
    header.insert("alg".into(), signer.alg().into());
    header.insert("jwk".into(), signer.public_jwk().to_json());
    let mut claims = Map::new();
    claims.insert("jti".into(), new_jti(rng).into());
    claims.insert("htm".into(), params.htm.into());
    claims.insert("htu".into(), strip_query_and_fragment(params.htu).into());
    claims.insert("iat".into(), params.iat.into());
    if let Some(at) = params.access_token {
        claims.insert("ath".into(), ath(at).into());
    }
    if let Some(rt) = params.refresh_token {
        claims.insert("rth".into(), rth(rt).into());
    }
    if let Some(nonce) = params.nonce {
        claims.insert("nonce".into(), Value::String(nonce.into()));
    }
    Ok(jws::sign(header, &claims, signer)?)
}
