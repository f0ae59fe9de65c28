//! Compact JWS (RFC 7515 §7.1): the one parser, signer and signature verifier shared by DPoP /
//! DPoP-RT proofs, RFC 9068 access tokens and RFC 7523 client assertions.
//!
//! Design choices:
//! * Parsing is strict and allocation-bounded by the input: the value must be exactly three
//!   non-empty base64url parts (RFC 9449 §4.3 check 2, "a single well-formed JWT"). Characters
//!   outside the base64url alphabet and `.` are refused up front, which also enforces the
//!   `token68` syntax of the `DPoP` header (RFC 9449 §4.1). An empty signature (the shape of an
//!   `alg: none` JWT) never parses.
//! * Header and payload must be JSON objects. Duplicate member names resolve to the lexically
//!   last one, which RFC 7515 §5.2 permits ("reject … or use only the lexically last").
//! * Only ES256 (ECDSA P-256 / SHA-256, RFC 7518 §3.4, signature `r || s`) is verified:
//!   every leaklab signer produces ES256. `none` and MAC algorithms (`HS*`) are refused before any
//!   allow-list is consulted (RFC 9449 §11.6), so a misconfigured allow-list cannot enable them.

use p256::ecdsa::signature::Verifier as _;
use serde_json::{Map, Value};

use super::b64;
use super::jwk::{Jwk, JwkError};
use crate::signer::{Signer, SignerError};

/// JWS algorithms this crate can verify.
pub const SUPPORTED_ALGS: &[&str] = &["ES256"];

/// Which part of a compact JWS an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Header,
    Payload,
    Signature,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Header => "header",
            Part::Payload => "payload",
            Part::Signature => "signature",
        })
    }
}

/// Why a value is not a well-formed compact JWS.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    #[error("character at byte {0} is not base64url or '.'")]
    BadCharacter(usize),
    #[error("compact JWS must have exactly 3 dot-separated parts, found {0}")]
    PartCount(usize),
    #[error("JWS {0} is empty")]
    EmptyPart(Part),
    #[error("JWS {0} is not base64url")]
    Base64(Part),
    #[error("JWS {0} is not a JSON object")]
    NotJsonObject(Part),
    /// RFC 7515 §4.1.11: `crit` names extensions the recipient must understand; leaklab
    /// understands none, so any `crit` (also an empty or malformed one) is refused.
    #[error("JWS header has `crit` ({0}); no critical extension is supported")]
    Critical(String),
}

/// Why an `alg` value is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgError {
    #[error("alg `{0}` is not an asymmetric signature algorithm")]
    NotAsymmetric(String),
    #[error("alg `{0}` is not in the allow-list")]
    NotAllowed(String),
    #[error("alg `{0}` is allowed but not supported")]
    Unsupported(String),
}

/// Why a signature does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("alg `{0}` is not supported")]
    UnsupportedAlg(String),
    #[error("key does not fit the alg: {0}")]
    KeyMismatch(JwkError),
    #[error("signature does not verify")]
    Invalid,
}

/// A parsed (not yet verified) compact JWS.
#[derive(Clone, Debug)]
pub struct Jws<'a> {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The payload (JWT claims set).
    pub claims: Map<String, Value>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

impl Jws<'_> {
    /// A string header member.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// Verifies the signature with `jwk` under `alg` (see [`verify_signature`]).
    pub fn verify(&self, alg: &str, jwk: &Jwk) -> Result<(), SignatureError> {
        verify_signature(alg, jwk, self.signing_input.as_bytes(), &self.signature)
    }

    /// As [`Jws::verify`], with the ES256 check `es256`.
    pub fn verify_with(
        &self,
        alg: &str,
        jwk: &Jwk,
        es256: Es256Verify,
    ) -> Result<(), SignatureError> {
        verify_signature_with(
            alg,
            jwk,
            self.signing_input.as_bytes(),
            &self.signature,
            es256,
        )
    }
}

/// Parses a compact JWS. Never panics; see the module doc for the rules.
pub fn parse(text: &str) -> Result<Jws<'_>, JwsError> {
    if let Some(pos) = text
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.'))
    {
        return Err(JwsError::BadCharacter(pos));
    }
    let parts: Vec<&str> = text.split('.').collect();
    let [h, p, s] = parts[..] else {
        return Err(JwsError::PartCount(parts.len()));
    };
    let header = decode_object(h, Part::Header)?;
    if let Some(crit) = header.get("crit") {
        return Err(JwsError::Critical(crit.to_string()));
    }
    let claims = decode_object(p, Part::Payload)?;
    if s.is_empty() {
        return Err(JwsError::EmptyPart(Part::Signature));
    }
    let signature = b64::decode(s).map_err(|_| JwsError::Base64(Part::Signature))?;
    let signing_input = &text[..h.len() + 1 + p.len()];
    Ok(Jws {
        header,
        claims,
        signing_input,
        signature,
    })
}

fn decode_object(part: &str, which: Part) -> Result<Map<String, Value>, JwsError> {
    if part.is_empty() {
        return Err(JwsError::EmptyPart(which));
    }
    let bytes = b64::decode(part).map_err(|_| JwsError::Base64(which))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwsError::NotJsonObject(which)),
    }
}

/// Checks `alg` against the rules every leaklab verifier shares: never `none` or a MAC
/// (RFC 9449 §4.3 check 5, §11.6), then the caller's allow-list, then [`SUPPORTED_ALGS`].
pub fn check_alg(alg: &str, allowed: &[String]) -> Result<(), AlgError> {
    if alg.eq_ignore_ascii_case("none") || alg.starts_with("HS") || alg.is_empty() {
        return Err(AlgError::NotAsymmetric(alg.to_string()));
    }
    if !allowed.iter().any(|a| a == alg) {
        return Err(AlgError::NotAllowed(alg.to_string()));
    }
    if !SUPPORTED_ALGS.contains(&alg) {
        return Err(AlgError::Unsupported(alg.to_string()));
    }
    Ok(())
}

/// An ES256 signature check: the key, the signing input, the 64-byte `r || s`. The protocol core
/// takes it as a value (crypto injected, as rustls takes its provider): [`verify_es256_p256`] is
/// the pure-Rust default; `leaklab_signers` offers an aws-lc-rs one for servers.
pub type Es256Verify = fn(&Jwk, &[u8], &[u8]) -> Result<(), SignatureError>;

/// ES256 with the pure-Rust `p256` crate.
pub fn verify_es256_p256(
    jwk: &Jwk,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    let key = jwk.to_p256().map_err(SignatureError::KeyMismatch)?;
    let sig = p256::ecdsa::Signature::from_slice(signature).map_err(|_| SignatureError::Invalid)?;
    key.verify(signing_input, &sig)
        .map_err(|_| SignatureError::Invalid)
}

/// Verifies a JWS signature. Only ES256 is supported: `signature` must be the 64-byte `r || s`.
pub fn verify_signature(
    alg: &str,
    jwk: &Jwk,
    signing_input: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    verify_signature_with(alg, jwk, signing_input, signature, verify_es256_p256)
}

/// As [`verify_signature`], with the ES256 check `es256`.
pub fn verify_signature_with(
    alg: &str,
    jwk: &Jwk,
    signing_input: &[u8],
    signature: &[u8],
    es256: Es256Verify,
) -> Result<(), SignatureError> {
    if alg != "ES256" {
        return Err(SignatureError::UnsupportedAlg(alg.to_string()));
    }
    es256(jwk, signing_input, signature)
}

/// Signs `claims` under `header` (the signer's `alg` is set in the header, overriding any value
/// there) and returns the compact serialization.
pub fn sign(
    mut header: Map<String, Value>,
    claims: &Map<String, Value>,
    signer: &mut dyn Signer,
) -> Result<String, SignerError> {
    header.insert("alg".into(), Value::String(signer.alg().to_string()));
    let mut out = b64::encode(Value::Object(header).to_string());
    out.push('.');
    out.push_str(&b64::encode(Value::Object(claims.clone()).to_string()));
    let signature = signer.sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&b64::encode(signature));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(header: &str) -> String {
        format!(
            "{}.{}.{}",
            b64::encode(header),
            b64::encode(r#"{"jti":"x"}"#),
            b64::encode([1u8; 64])
        )
    }

    /// RFC 7515 §4.1.11: no critical extension is understood, so any `crit` is refused, also an
    /// empty list; the same header without it parses.
    #[test]
    fn crit_is_refused_whatever_it_lists() {
        for crit in [r#"["exp"]"#, "[]", r#""b64""#] {
            let text = compact(&format!(r#"{{"alg":"ES256","crit":{crit}}}"#));
            assert!(
                matches!(parse(&text), Err(JwsError::Critical(_))),
                "crit {crit}"
            );
        }
        assert!(parse(&compact(r#"{"alg":"ES256"}"#)).is_ok());
    }
}
