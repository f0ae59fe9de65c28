//! Single-key DPoP (RFC 9449, <https://www.rfc-editor.org/rfc/rfc9449>): one key binds the
//! refresh token and every access token (RFC 9449 §5: the refresh request must prove the same
//! key, and the new access token is bound to it).
//!
//! Two placements of that key:
//! * `shared-software`: a software key the core keeps with the refresh token and the edges hold
//!   in memory to sign their proofs. Any of core disk, core host or edge compromise yields it;
//!   with the refresh token it gives the attacker the grant for as long as the grant lives.
//! * `core-device`: the key never leaves the core's HSM/TPM, which signs a proof for *every*
//!   API call (the signing bottleneck of the IETF 124 slides). An attacker can use it only as an
//!   oracle while it holds the core host; edges hold no key, so a stolen edge token is useless.

use super::rules::RefreshRules;
use super::{Bindings, Context, Strategy};
use crate::scenario::SingleDpopKey;

pub struct SingleDpop {
    pub key: SingleDpopKey,
    /// The token-endpoint rules, from the protocol core ([`super::rules::single_dpop`]).
    pub rules: RefreshRules,
}

impl SingleDpop {
    /// Until when the attacker can sign with the one key. Where it lives decides who holds it:
    /// a shared software key is copied by any of core disk, core host or edge compromise; the
    /// core device signs while the attacker holds the core host, or an edge that asks it to
    /// (with proofs signed ahead when `ahead`).
    fn key_until(&self, ctx: &Context<'_>, ahead: bool) -> f64 {
        match self.key {
            SingleDpopKey::SharedSoftware => {
                let c = ctx.compromise;
                if c.core_disk || c.core_host || c.edge_host {
                    f64::INFINITY
                } else {
                    0.0
                }
            }
            SingleDpopKey::CoreDevice if ahead => ctx.core_key().max(ctx.edge_oracle(true)),
            SingleDpopKey::CoreDevice => ctx.core_tls_key().max(ctx.edge_oracle(false)),
        }
    }
}

impl Strategy for SingleDpop {
    fn victim_key_until(&self, ctx: &Context<'_>) -> f64 {
        self.key_until(ctx, false)
    }

    fn bindings(&self, ctx: &Context<'_>) -> Bindings {
        let key = self.key_until(ctx, true);
        let oracle = match self.key {
            SingleDpopKey::SharedSoftware => false,
            SingleDpopKey::CoreDevice => ctx.core_key_is_oracle() || ctx.edge_oracle(false) > 0.0,
        };
        Bindings {
            refresh: if self.rules.without_victim_key {
                f64::INFINITY
            } else {
                key
            },
            stolen_access: key,
            minted_access: if self.rules.minted_bound_to_attacker {
                f64::INFINITY
            } else {
                key
            },
            refresh_signs_on_device: oracle,
            call_signs_on_device: oracle,
        }
    }
}
