//! JWT access tokens (RFC 9068, `typ` `at+jwt`) with a `cnf` confirmation: `jkt` for DPoP
//! (RFC 9449 §6.1) or `x5t#S256` for mTLS (RFC 8705 §3.1).
//!
//! The AS signs through a [`Signer`] (so the AS key can live in an HSM like any other key) and a
//! resource server verifies with the AS's public JWK. `x5t#S256` is computed as
//! base64url(SHA-256(certificate DER)) and compared as an opaque string, never decoded: the
//! RFC 8705 example value is not canonical base64url (`docs/protocol-notes.md#x5t-s256-example`).
//! <https://www.rfc-editor.org/rfc/rfc9068>, <https://www.rfc-editor.org/rfc/rfc8705#section-3.1>

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::b64;
use super::jwk::Jwk;
use super::jws::{self, AlgError, JwsError, SignatureError};
use crate::signer::{Signer, SignerError};

/// The `cnf` claim (RFC 7800): serialises as `{"jkt": …}` or `{"x5t#S256": …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Confirmation {
    /// RFC 7638 thumbprint of the DPoP key.
    #[serde(rename = "jkt")]
    Jkt(String),
    /// base64url SHA-256 of the client certificate's DER.
    #[serde(rename = "x5t#S256")]
    X5tS256(String),
}

impl Confirmation {
    /// Whether a DPoP proof key with thumbprint `jkt` satisfies this confirmation.
    pub fn matches_jkt(&self, jkt: &str) -> bool {
        matches!(self, Confirmation::Jkt(j) if j == jkt)
    }

    /// Whether the TLS client certificate `cert_der` satisfies this confirmation (string
    /// comparison of the computed thumbprint, RFC 8705 §3.1).
    pub fn matches_certificate(&self, cert_der: &[u8]) -> bool {
        matches!(self, Confirmation::X5tS256(t) if *t == x5t_s256(cert_der))
    }
}

/// RFC 8705 `x5t#S256`: base64url(SHA-256(DER)).
pub fn x5t_s256(cert_der: &[u8]) -> String {
    b64::sha256_b64(cert_der)
}

/// `aud`: one string or an array (RFC 7519 §4.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(v) => v.iter().any(|a| a == aud),
        }
    }
}

/// RFC 9068 §2.2 claims (all required ones, plus `scope` and `cnf`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub exp: i64,
    pub aud: Audience,
    pub sub: String,
    pub client_id: String,
    pub iat: i64,
    pub jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// Issues an `at+jwt` signed by the AS signer; `kid` names the AS key in its JWKS.
pub fn issue(
    claims: &AccessTokenClaims,
    signer: &mut dyn Signer,
    kid: Option<&str>,
) -> Result<String, SignerError> {
    let mut header = Map::new();
    header.insert("typ".into(), "at+jwt".into());
    header.insert("alg".into(), signer.alg().into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    let claims = match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => m,
        // A derived Serialize of a struct with string keys always yields an object.
        _ => Map::new(),
    };
    jws::sign(header, &claims, signer)
}

/// What a resource server expects of an access token.
#[derive(Clone, Debug)]
pub struct AtValidation<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub allowed_algs: &'a [String],
    /// Clock leeway for `exp` (seconds).
    pub leeway_secs: i64,
    pub max_bytes: usize,
}

/// Why an access token is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessTokenError {
    #[error("access token is {0} bytes, over the limit")]
    TooLarge(usize),
    #[error("access token is not a JWS: {0}")]
    Malformed(JwsError),
    #[error("typ is not at+jwt")]
    Typ,
    #[error(transparent)]
    Alg(AlgError),
    #[error("signature: {0}")]
    Signature(SignatureError),
    #[error("claims do not match RFC 9068: {0}")]
    Claims(String),
    #[error("wrong issuer")]
    Issuer,
    #[error("wrong audience")]
    Audience,
    #[error("expired")]
    Expired,
}

/// Verifies an `at+jwt` with the AS public key at `now`. RFC 9068 §4: `typ` must be `at+jwt`
/// (or `application/at+jwt`), the signature must verify, `iss` and `aud` must match, `exp` must
/// be in the future (within `leeway_secs`).
pub fn verify(
    token: &str,
    as_key: &Jwk,
    v: &AtValidation<'_>,
    now: i64,
) -> Result<AccessTokenClaims, AccessTokenError> {
    if token.len() > v.max_bytes {
        return Err(AccessTokenError::TooLarge(token.len()));
    }
    let jws = jws::parse(token).map_err(AccessTokenError::Malformed)?;
    match jws.header_str("typ") {
        Some(t)
            if t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt") => {
        }
        _ => return Err(AccessTokenError::Typ),
    }
    let alg = jws.header_str("alg").unwrap_or("");
    jws::check_alg(alg, v.allowed_algs).map_err(AccessTokenError::Alg)?;
    jws.verify(alg, as_key)
        .map_err(AccessTokenError::Signature)?;
    let claims: AccessTokenClaims = serde_json::from_value(Value::Object(jws.claims))
        .map_err(|e| AccessTokenError::Claims(e.to_string()))?;
    if claims.iss != v.issuer {
        return Err(AccessTokenError::Issuer);
    }
    if !claims.aud.contains(v.audience) {
        return Err(AccessTokenError::Audience);
    }
    if now.saturating_sub(v.leeway_secs) >= claims.exp {
        return Err(AccessTokenError::Expired);
    }
    Ok(claims)
}
