//! Split DPoP / DPoP-RT (draft-rosomakho-oauth-dpop-rt,
//! <https://datatracker.ietf.org/doc/html/draft-rosomakho-oauth-dpop-rt-00>).
//!
//! The refresh token is bound to a refresh-token key kept in the core's key storage; access
//! tokens are bound to ephemeral edge keys. Consequences, each asked of the protocol core's
//! token-endpoint rules ([`super::rules::split_dpop`]):
//! * a refresh needs a DPoP-RT proof by the refresh-token key (draft §6.1 plus the key-binding
//!   check the draft leaves implicit), so stolen refresh tokens alone are useless;
//! * the new access token is bound to whatever key the `DPoP` proof shows (draft §4.2), so an
//!   attacker who can refresh binds its tokens to its own keys;
//! * an edge compromise yields access tokens and their keys, but never the refresh token: it is
//!   contained by the access-token lifetime.

use super::rules::RefreshRules;
use super::{Bindings, Context, Strategy};

pub struct SplitDpop {
    /// The token-endpoint rules, from the protocol core.
    pub rules: RefreshRules,
}

impl Strategy for SplitDpop {
    /// The refresh-token key in the core's key storage ([`Context::core_key`] adds proofs
    /// signed ahead).
    fn victim_key_until(&self, ctx: &Context<'_>) -> f64 {
        ctx.core_tls_key()
    }

    fn bindings(&self, ctx: &Context<'_>) -> Bindings {
        Bindings {
            refresh: if self.rules.without_victim_key {
                f64::INFINITY
            } else {
                ctx.core_key()
            },
            // Stolen access tokens come with the edge keys they are bound to.
            stolen_access: f64::INFINITY,
            minted_access: if self.rules.minted_bound_to_attacker {
                f64::INFINITY
            } else {
                ctx.core_key()
            },
            refresh_signs_on_device: ctx.core_key_is_oracle(),
            call_signs_on_device: false,
        }
    }
}
