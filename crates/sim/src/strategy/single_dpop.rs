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

impl Strategy for SingleDpop {
    fn bindings(&self, ctx: &Context<'_>) -> Bindings {
        // Where the one key lives decides who holds it, and whether its use needs the device.
        let (key, oracle) = match self.key {
            SingleDpopKey::SharedSoftware => {
                let c = ctx.compromise;
                let held = c.core_disk || c.core_host || c.edge_host;
                (if held { f64::INFINITY } else { 0.0 }, false)
            }
            SingleDpopKey::CoreDevice => (
                ctx.core_key().max(ctx.edge_oracle(true)),
                ctx.core_key_is_oracle() || ctx.edge_oracle(false) > 0.0,
            ),
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
