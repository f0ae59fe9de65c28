//! Access-token validation with `jsonwebtoken` (ES256 on aws-lc-rs), as resource servers and
//! introspection do it: RFC 9068 §4 (`typ` `at+jwt`, `iss`, `aud`, signature) with `exp` checked
//! against the injected clock instead of the wall clock, and RFC 7515 §4.1.11 `crit` refused
//! (no critical extension is understood).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use leaklab_protocol::access_token::AccessTokenClaims;
use leaklab_protocol::jwk::Jwk;

/// Largest access token accepted, bytes (checked before any parsing).
pub const MAX_ACCESS_TOKEN_BYTES: usize = 4096;

#[derive(Clone)]
pub struct AccessValidator {
    key: Option<DecodingKey>,
    validation: Validation,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error("access token over {MAX_ACCESS_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("access token: {0}")]
    Invalid(String),
    #[error("access token typ is not at+jwt")]
    Typ,
    #[error("access token header has crit; no critical extension is supported")]
    Critical,
    #[error("access token expired")]
    Expired,
}

impl AccessValidator {
    pub fn new(issuer: &str, audience: &str, as_key: &Jwk) -> Self {
        let key = match as_key {
            Jwk::Ec { x, y, .. } => DecodingKey::from_ec_components(x, y).ok(),
            _ => None,
        };
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self { key, validation }
    }
}

/// Validates `token` at `now`.
pub fn validate(
    token: &str,
    v: &AccessValidator,
    now: i64,
) -> Result<AccessTokenClaims, AccessError> {
    if token.len() > MAX_ACCESS_TOKEN_BYTES {
        return Err(AccessError::TooLarge);
    }
    let key = v
        .key
        .as_ref()
        .ok_or_else(|| AccessError::Invalid("the AS key is not a P-256 key".into()))?;
    let data = jsonwebtoken::decode::<AccessTokenClaims>(token, key, &v.validation)
        .map_err(|e| AccessError::Invalid(e.to_string()))?;
    if data.header.crit.is_some() {
        return Err(AccessError::Critical);
    }
    match data.header.typ.as_deref() {
        Some(t)
            if t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt") => {
        }
        _ => return Err(AccessError::Typ),
    }
    if now >= data.claims.exp {
        return Err(AccessError::Expired);
    }
    Ok(data.claims)
}
