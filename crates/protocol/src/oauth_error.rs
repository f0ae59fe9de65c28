//! OAuth error codes that leaklab's checks can produce.
//!
//! * RFC 6749 §5.2 token endpoint codes (`invalid_request`, `invalid_client`, `invalid_grant`).
//! * RFC 6750 §3.1 `invalid_token` (resource server), used for a failed DPoP key binding as in
//!   RFC 9449 §7.1 (<https://www.rfc-editor.org/rfc/rfc9449#section-7.1>).
//! * RFC 9449 §12.2 `invalid_dpop_proof`, `use_dpop_nonce`.
//! * draft-rosomakho-oauth-dpop-rt §9.2 `invalid_dpop_rt_proof`, `use_dpop_rt_nonce`
//!   (<https://datatracker.ietf.org/doc/html/draft-rosomakho-oauth-dpop-rt-00>).

use std::fmt;

/// An OAuth `error` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OAuthError {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidToken,
    InvalidDpopProof,
    UseDpopNonce,
    InvalidDpopRtProof,
    UseDpopRtNonce,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
}

impl OAuthError {
    /// The registered string, e.g. `invalid_dpop_proof`.
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::InvalidToken => "invalid_token",
            OAuthError::InvalidDpopProof => "invalid_dpop_proof",
            OAuthError::UseDpopNonce => "use_dpop_nonce",
            OAuthError::InvalidDpopRtProof => "invalid_dpop_rt_proof",
            OAuthError::UseDpopRtNonce => "use_dpop_rt_nonce",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
        }
    }
}

/// The value is not an error code leaklab knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown OAuth error code `{0}`")]
pub struct UnknownOAuthError(pub String);

impl std::str::FromStr for OAuthError {
    type Err = UnknownOAuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL.iter()
            .copied()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownOAuthError(s.to_string()))
    }
}

const ALL: [OAuthError; 9] = [
    OAuthError::InvalidRequest,
    OAuthError::InvalidClient,
    OAuthError::InvalidGrant,
    OAuthError::InvalidToken,
    OAuthError::InvalidDpopProof,
    OAuthError::UseDpopNonce,
    OAuthError::InvalidDpopRtProof,
    OAuthError::UseDpopRtNonce,
    OAuthError::UnsupportedGrantType,
];

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
