//! The authorization server's binding decision for one token request (RFC 9449 §5 and
//! draft-rosomakho-oauth-dpop-rt §4, §6.2, §7), as a pure function.
//!
//! Input: grant type, client type, client metadata, the outcome of verifying the `DPoP` and
//! `DPoP-RT` proofs (absent, rejected, or verified by [`super::verify`]) and, at refresh, the
//! binding stored with the presented refresh token. Output: how to bind the access token
//! (`cnf.jkt` or Bearer), what happens to the refresh token (issued, rotated or kept, and its
//! binding), or the exact OAuth error.
//!
//! Where the specs leave gaps, this module follows the choices recorded in
//! `docs/protocol-notes.md`; each rule cites its heading there:
//! * **Confidential clients** (`#confidential-clients`): a valid `DPoP-RT` proof is honoured for
//!   every client type, so a confidential client gets key binding *in addition to* client
//!   authentication (`dpop-rt-jkt`). Without `DPoP-RT` the RFC 9449 §5 rule stays: confidential
//!   RTs are bound by client authentication (`client-auth`), public ones to the DPoP key
//!   (`dpop-jkt`), and a public client with no proof at all gets an unbound RT (`none`).
//! * **Legacy RTs bound by plain DPoP** (`dpop-jkt`, `#legacy-dpop-bound-rts`): RFC 9449
//!   applies: possession of the bound key K must be shown in this request, by the `DPoP` proof
//!   *or* by a `DPoP-RT` proof made with K.
//! * **Upgrade path** (`#upgrade-path`): when such a legacy (or `none` / `client-auth`) RT is
//!   redeemed together with a valid `DPoP-RT` proof and the RT is rotated, the new RT is bound to
//!   the DPoP-RT key (`dpop-rt-jkt`), reading draft §4.1 ("If a valid DPoP-RT proof is
//!   provided, the AS MUST bind any issued refresh token") together with §6.2's rotation rule,
//!   which then pins that key. Without rotation the record keeps its binding: the upgrade rides
//!   on rotation only, so one RT string never changes meaning.
//! * **`dpop_bound_refresh_tokens` = true** (draft §7.1, `#dpop_bound_refresh_tokens`): every RT
//!   use and every RT issuance needs a valid `DPoP-RT` proof. "Unbound" RTs are rejected with
//!   `invalid_grant`: `none` and `client-auth` count as unbound (no key), `dpop-jkt` counts as
//!   bound (it has a key and can take the upgrade path).
//! * **Which error wins** when both proofs are bad (`#which-error-wins`): the `DPoP` proof's
//!   error is reported first, since the access token is the request's primary product.
//! * A key-binding failure of a refresh token is reported as an error of the proof that was
//!   supposed to show the key (`invalid_dpop_proof` for `dpop-jkt`, `invalid_dpop_rt_proof` for
//!   `dpop-rt-jkt`; `#key-binding-errors`).
//! * Never is the new access-token key taken from earlier state (draft §4.2): the AT is bound to
//!   this request's `DPoP` proof or is Bearer.

use serde::{Deserialize, Serialize};

use super::oauth_error::OAuthError;
use super::proof::ProofKind;
use super::verify::{ProofRejection, VerifiedProof};

/// The `grant_type` of the token request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    /// Any other grant (client credentials, device code, token exchange, …): treated like the
    /// authorization code grant for binding purposes (`docs/protocol-notes.md#other-grants`).
    Other,
}

/// RFC 6749 §2.1 client type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    Public,
    Confidential,
}

/// The client registration metadata that affects binding (RFC 7591 members).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// RFC 9449 §5.2: when true, token requests without `DPoP` are rejected.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// DPoP-RT draft §7. The snapshot spelling `drop_bound_refresh_tokens` is accepted on input
    /// as a read-only alias (`docs/protocol-notes.md#alias-names`); output always uses `dpop_`.
    #[serde(default, alias = "drop_bound_refresh_tokens")]
    pub dpop_bound_refresh_tokens: bool,
}

/// What became of one proof header of the request.
#[derive(Clone, Copy, Debug)]
pub enum ProofOutcome<'a> {
    /// The header was not sent.
    Absent,
    /// The header was sent and failed verification.
    Rejected(&'a ProofRejection),
    /// The header was sent and verified.
    Verified(&'a VerifiedProof),
}

impl<'a> ProofOutcome<'a> {
    fn verified(self) -> Option<&'a VerifiedProof> {
        match self {
            ProofOutcome::Verified(p) => Some(p),
            _ => None,
        }
    }
}

/// How a refresh token is bound, stored with the RT record
/// (`docs/protocol-notes.md#rt-binding-record`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "jkt", rename_all = "kebab-case")]
pub enum RtBinding {
    /// Not sender-constrained.
    None,
    /// Bound through client authentication (RFC 9449 §5 confidential clients).
    ClientAuth,
    /// Bound to the DPoP key with this thumbprint (RFC 9449 §5 public clients).
    DpopJkt(String),
    /// Bound to the DPoP-RT key with this thumbprint (DPoP-RT draft §6.2).
    DpopRtJkt(String),
}

impl RtBinding {
    /// `none`, `client-auth`, `dpop-jkt` or `dpop-rt-jkt`.
    pub fn kind(&self) -> &'static str {
        match self {
            RtBinding::None => "none",
            RtBinding::ClientAuth => "client-auth",
            RtBinding::DpopJkt(_) => "dpop-jkt",
            RtBinding::DpopRtJkt(_) => "dpop-rt-jkt",
        }
    }

    /// The bound key's thumbprint, if the binding is to a key.
    pub fn jkt(&self) -> Option<&str> {
        match self {
            RtBinding::DpopJkt(j) | RtBinding::DpopRtJkt(j) => Some(j),
            _ => None,
        }
    }
}

/// One token request, as far as binding is concerned.
#[derive(Clone, Debug)]
pub struct TokenRequest<'a> {
    pub grant_type: GrantType,
    pub client_type: ClientType,
    pub metadata: &'a ClientMetadata,
    pub dpop: ProofOutcome<'a>,
    pub dpop_rt: ProofOutcome<'a>,
    /// Refresh grant: the binding stored with the presented refresh token.
    pub presented_rt: Option<&'a RtBinding>,
    /// AS policy: whether this response carries a (new or rotated) refresh token.
    pub issue_refresh_token: bool,
}

/// How the access token is bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AtBinding {
    Bearer,
    /// `cnf.jkt` with this thumbprint.
    Jkt(String),
}

impl AtBinding {
    /// The `token_type` of the token response (RFC 9449 §5).
    pub fn token_type(&self) -> &'static str {
        match self {
            AtBinding::Bearer => "Bearer",
            AtBinding::Jkt(_) => "DPoP",
        }
    }
}

/// What happens to the refresh token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtOutcome {
    /// No refresh token in the response.
    NotIssued,
    /// A new grant's refresh token, with its binding.
    Issued(RtBinding),
    /// The presented RT is replaced by a new one with this binding.
    Rotated(RtBinding),
    /// The presented RT stays valid, with its binding unchanged.
    Kept(RtBinding),
}

/// A successful decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenDecision {
    pub access_token: AtBinding,
    pub refresh_token: RtOutcome,
}

/// A refused request: the OAuth error and the rule that refused it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {reason}")]
pub struct TokenError {
    pub error: OAuthError,
    pub reason: &'static str,
}

fn fail(error: OAuthError, reason: &'static str) -> Result<TokenDecision, TokenError> {
    Err(TokenError { error, reason })
}

/// Decides the bindings for one token request. See the module doc for the rules.
pub fn decide(req: &TokenRequest<'_>) -> Result<TokenDecision, TokenError> {
    use OAuthError::*;
    let refresh = req.grant_type == GrantType::RefreshToken;

    // Proof outcomes: rejections are reported as the verifier classified them, DPoP first.
    for (outcome, kind) in [
        (req.dpop, ProofKind::Dpop),
        (req.dpop_rt, ProofKind::DpopRt),
    ] {
        match outcome {
            ProofOutcome::Rejected(r) => {
                return Err(TokenError {
                    error: r.oauth_error(),
                    reason: r.reason(),
                })
            }
            ProofOutcome::Verified(p) if p.kind != kind => {
                return fail(InvalidRequest, "proof_kind")
            }
            _ => {}
        }
    }
    let dpop = req.dpop.verified();
    let dpop_rt = req.dpop_rt.verified();

    // RFC 9449 §5.2 / draft §4.2: a DPoP-bound-AT client must send DPoP.
    if dpop.is_none() && req.metadata.dpop_bound_access_tokens {
        return fail(InvalidDpopProof, "dpop_required");
    }
    if let (Some(d), Some(r)) = (dpop, dpop_rt) {
        if d.jti == r.jti {
            return fail(InvalidDpopRtProof, "jti_not_distinct");
        }
    }
    // Draft §6.1 step 6: rth iff a refresh token is presented.
    if let Some(r) = dpop_rt {
        match (refresh, r.rth.is_some()) {
            (true, false) => return fail(InvalidDpopRtProof, "rth_missing"),
            (false, true) => return fail(InvalidDpopRtProof, "rth_unexpected"),
            _ => {}
        }
    }
    // Draft §7.1: such a client must use DPoP-RT for every RT use and issuance.
    let rt_involved = refresh || req.issue_refresh_token;
    if req.metadata.dpop_bound_refresh_tokens && rt_involved && dpop_rt.is_none() {
        return fail(InvalidDpopRtProof, "dpop_rt_required");
    }

    let access_token = match dpop {
        Some(d) => AtBinding::Jkt(d.jkt.clone()),
        None => AtBinding::Bearer,
    };

    if !refresh {
        if req.presented_rt.is_some() {
            return fail(InvalidRequest, "refresh_token_not_expected");
        }
        let refresh_token = if req.issue_refresh_token {
            RtOutcome::Issued(issuance_binding(req, dpop, dpop_rt))
        } else {
            RtOutcome::NotIssued
        };
        return Ok(TokenDecision {
            access_token,
            refresh_token,
        });
    }

    let Some(binding) = req.presented_rt else {
        return fail(InvalidRequest, "refresh_token_missing");
    };
    let strict = req.metadata.dpop_bound_refresh_tokens;
    let rotated = match binding {
        RtBinding::None => {
            if strict {
                return fail(InvalidGrant, "rt_unbound");
            }
            issuance_binding(req, dpop, dpop_rt)
        }
        RtBinding::ClientAuth => {
            if req.client_type != ClientType::Confidential {
                return fail(InvalidGrant, "rt_client_auth_requires_confidential_client");
            }
            if strict {
                return fail(InvalidGrant, "rt_unbound");
            }
            issuance_binding(req, dpop, dpop_rt)
        }
        RtBinding::DpopJkt(k) => {
            let by_dpop = dpop.is_some_and(|d| &d.jkt == k);
            let by_dpop_rt = dpop_rt.is_some_and(|r| &r.jkt == k);
            if !by_dpop && !by_dpop_rt {
                return match (dpop, dpop_rt) {
                    (None, None) => fail(InvalidDpopProof, "dpop_required"),
                    (_, Some(_)) => fail(InvalidDpopRtProof, "rt_key_binding"),
                    (Some(_), None) => fail(InvalidDpopProof, "rt_key_binding"),
                };
            }
            match dpop_rt {
                Some(r) => RtBinding::DpopRtJkt(r.jkt.clone()),
                None => RtBinding::DpopJkt(k.clone()),
            }
        }
        RtBinding::DpopRtJkt(j) => {
            let Some(r) = dpop_rt else {
                return fail(InvalidDpopRtProof, "dpop_rt_required");
            };
            if &r.jkt != j {
                return fail(InvalidDpopRtProof, "rt_key_binding");
            }
            RtBinding::DpopRtJkt(j.clone())
        }
    };
    let refresh_token = if req.issue_refresh_token {
        RtOutcome::Rotated(rotated)
    } else {
        RtOutcome::Kept(binding.clone())
    };
    Ok(TokenDecision {
        access_token,
        refresh_token,
    })
}

/// The binding of a newly issued RT (`docs/protocol-notes.md#confidential-clients`).
fn issuance_binding(
    req: &TokenRequest<'_>,
    dpop: Option<&VerifiedProof>,
    dpop_rt: Option<&VerifiedProof>,
) -> RtBinding {
    match (dpop_rt, req.client_type, dpop) {
        (Some(r), _, _) => RtBinding::DpopRtJkt(r.jkt.clone()),
        (None, ClientType::Confidential, _) => RtBinding::ClientAuth,
        (None, ClientType::Public, Some(d)) => RtBinding::DpopJkt(d.jkt.clone()),
        (None, ClientType::Public, None) => RtBinding::None,
    }
}
