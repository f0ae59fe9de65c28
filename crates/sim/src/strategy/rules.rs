//! The protocol core's token-endpoint rules, asked symbolically.
//!
//! The DPoP strategies do not restate RFC 9449 / DPoP-RT binding rules: they ask
//! [`leaklab_protocol::token_endpoint::decide`] — the same pure function an authorization server
//! built on leaklab runs — what happens when an attacker presents a stolen refresh token with
//! the proofs it can make. Proof verification itself (signatures, `htu`, `iat`, replay) is not
//! at stake here: the question is which *keys* the proofs must be made with.

use leaklab_protocol::jwk::Jwk;
use leaklab_protocol::proof::ProofKind;
use leaklab_protocol::token_endpoint::{
    decide, AtBinding, ClientMetadata, ClientType, GrantType, ProofOutcome, RtBinding, TokenRequest,
};
use leaklab_protocol::verify::VerifiedProof;

/// Thumbprints standing for the keys in play.
pub const VICTIM_KEY: &str = "victim-key";
pub const ATTACKER_KEY: &str = "attacker-key";

fn proof(kind: ProofKind, jkt: &str, jti: &str) -> VerifiedProof {
    VerifiedProof {
        kind,
        jkt: jkt.to_string(),
        jwk: Jwk::Okp {
            crv: "Ed25519".into(),
            x: jkt.to_string(),
        },
        alg: "ES256".into(),
        jti: jti.to_string(),
        iat: 0,
        nonce: None,
        rth: (kind == ProofKind::DpopRt).then(|| "rth".to_string()),
    }
}

/// A refresh with a refresh token bound as `binding`, a `DPoP` proof by `dpop_key` and, if
/// given, a `DPoP-RT` proof by `dpop_rt_key`. Returns the new access token's binding, or `None`
/// when the authorization server refuses.
pub fn refresh(
    binding: &RtBinding,
    client_type: ClientType,
    metadata: &ClientMetadata,
    dpop_key: &str,
    dpop_rt_key: Option<&str>,
) -> Option<AtBinding> {
    let dpop = proof(ProofKind::Dpop, dpop_key, "jti-dpop");
    let dpop_rt = dpop_rt_key.map(|k| proof(ProofKind::DpopRt, k, "jti-dpop-rt"));
    let req = TokenRequest {
        grant_type: GrantType::RefreshToken,
        client_type,
        metadata,
        dpop: ProofOutcome::Verified(&dpop),
        dpop_rt: dpop_rt
            .as_ref()
            .map_or(ProofOutcome::Absent, ProofOutcome::Verified),
        presented_rt: Some(binding),
        issue_refresh_token: false,
    };
    decide(&req).ok().map(|d| d.access_token)
}

/// What the token endpoint lets an attacker do with a stolen refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshRules {
    /// Redeemable without any proof by the victim's key.
    pub without_victim_key: bool,
    /// With the victim's key, the new access token is bound to the attacker's own DPoP key.
    pub minted_bound_to_attacker: bool,
}

/// Single DPoP: a public client's refresh token bound to its DPoP key (RFC 9449 §5); the
/// attacker proves either its own key or, if it has it, the victim's.
pub fn single_dpop() -> RefreshRules {
    let binding = RtBinding::DpopJkt(VICTIM_KEY.into());
    let meta = ClientMetadata {
        dpop_bound_access_tokens: true,
        dpop_bound_refresh_tokens: false,
    };
    let with = refresh(&binding, ClientType::Public, &meta, VICTIM_KEY, None);
    RefreshRules {
        without_victim_key: refresh(&binding, ClientType::Public, &meta, ATTACKER_KEY, None)
            .is_some(),
        minted_bound_to_attacker: with == Some(AtBinding::Jkt(ATTACKER_KEY.into())),
    }
}

/// Split DPoP: the refresh token bound to the DPoP-RT key of a client registered with
/// `dpop_bound_refresh_tokens`; the attacker signs `DPoP` with its own key and `DPoP-RT` with the
/// victim's (when it can use it).
pub fn split_dpop() -> RefreshRules {
    let binding = RtBinding::DpopRtJkt(VICTIM_KEY.into());
    let meta = ClientMetadata {
        dpop_bound_access_tokens: true,
        dpop_bound_refresh_tokens: true,
    };
    let ct = ClientType::Confidential;
    let with = refresh(&binding, ct, &meta, ATTACKER_KEY, Some(VICTIM_KEY));
    RefreshRules {
        without_victim_key: refresh(&binding, ct, &meta, ATTACKER_KEY, None).is_some()
            || refresh(&binding, ct, &meta, ATTACKER_KEY, Some(ATTACKER_KEY)).is_some(),
        minted_bound_to_attacker: with == Some(AtBinding::Jkt(ATTACKER_KEY.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_protocol_core_decides_what_a_stolen_refresh_token_is_worth() {
        assert_eq!(
            single_dpop(),
            RefreshRules {
                without_victim_key: false,
                minted_bound_to_attacker: false
            }
        );
        assert_eq!(
            split_dpop(),
            RefreshRules {
                without_victim_key: false,
                minted_bound_to_attacker: true
            }
        );
    }
}
