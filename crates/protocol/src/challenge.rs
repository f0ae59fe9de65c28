//! `WWW-Authenticate` challenges for the `DPoP` (RFC 9449 §7.1) and `Bearer` (RFC 6750 §3)
//! schemes.
//!
//! Parameters are written in the order they are added, because the RFC 9449 examples (vector
//! V12) use different orders in different challenges (`error, error_description, algs` in one,
//! `algs, error, error_description` in another). Values are quoted strings; characters RFC 6750
//! §3 does not allow in them (`"`, `\`, controls, non-ASCII) are refused rather than escaped, so a
//! challenge built from an error description can never inject header syntax.
//! <https://www.rfc-editor.org/rfc/rfc9449#section-7.1>

use super::oauth_error::OAuthError;
use super::verify::ProofRejection;

/// A character that cannot appear in a challenge parameter value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("challenge parameter `{param}` contains a character not allowed in a quoted value")]
pub struct ChallengeError {
    pub param: &'static str,
}

/// One challenge: a scheme and ordered parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    scheme: &'static str,
    params: Vec<(&'static str, String)>,
}

impl Challenge {
    /// A `DPoP` challenge.
    pub fn dpop() -> Self {
        Self {
            scheme: "DPoP",
            params: Vec::new(),
        }
    }

    /// A `Bearer` challenge.
    pub fn bearer() -> Self {
        Self {
            scheme: "Bearer",
            params: Vec::new(),
        }
    }

    pub fn realm(self, realm: &str) -> Self {
        self.param("realm", realm)
    }

    pub fn scope(self, scope: &str) -> Self {
        self.param("scope", scope)
    }

    pub fn error(self, error: OAuthError) -> Self {
        self.param("error", error.as_str())
    }

    pub fn error_description(self, description: &str) -> Self {
        self.param("error_description", description)
    }

    /// `algs`: space-separated acceptable JWS algorithms (DPoP only).
    pub fn algs<S: AsRef<str>>(self, algs: &[S]) -> Self {
        let joined = algs.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(" ");
        self.param("algs", &joined)
    }

    /// A resource server's `DPoP` challenge for a rejected proof (RFC 9449 §7.1, §9): `error`
    /// from the rejection (`invalid_dpop_proof`, `use_dpop_nonce`, `invalid_token`), an
    /// `error_description` naming the failed check, and `algs`.
    pub fn for_rejection<S: AsRef<str>>(rejection: &ProofRejection, algs: &[S]) -> Self {
        let description = format!("DPoP proof check failed: {}", rejection.reason());
        Self::dpop()
            .error(rejection.oauth_error())
            .error_description(&description)
            .algs(algs)
    }

    fn param(mut self, name: &'static str, value: &str) -> Self {
        self.params.push((name, value.to_string()));
        self
    }

    /// The challenge text, e.g. `DPoP error="invalid_token", algs="ES256"`.
    pub fn render(&self) -> Result<String, ChallengeError> {
        let mut out = self.scheme.to_string();
        for (i, (name, value)) in self.params.iter().enumerate() {
            // RFC 6750 §3: %x20-21 / %x23-5B / %x5D-7E.
            if !value
                .bytes()
                .all(|c| (0x20..=0x7e).contains(&c) && c != b'"' && c != b'\\')
            {
                return Err(ChallengeError { param: name });
            }
            out.push_str(if i == 0 { " " } else { ", " });
            out.push_str(name);
            out.push_str("=\"");
            out.push_str(value);
            out.push('"');
        }
        Ok(out)
    }
}

/// A full `WWW-Authenticate` value from several challenges, joined by `", "`.
pub fn www_authenticate(challenges: &[Challenge]) -> Result<String, ChallengeError> {
    let parts = challenges
        .iter()
        .map(Challenge::render)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join(", "))
}
