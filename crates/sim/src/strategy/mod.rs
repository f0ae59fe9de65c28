//! Binding strategies: one module each, behind one trait.
//!
//! A strategy answers one question per customer: given what the leak compromised, until when can
//! the attacker satisfy the token binding — for redeeming the stolen refresh token, for using
//! stolen access tokens, and for using access tokens it minted itself? The grant-level rules
//! (revocation, expiry, rotation and reuse detection) are the same for every strategy and live
//! in [`crate::model`].
//!
//! The answers are windows `[0, until)`: `0` means never usable, `f64::INFINITY` means usable for
//! as long as the grant is. Window ends become events in the per-customer simulation.

mod bearer;
mod jwks;
mod mtls;
pub mod rules;
mod single_dpop;
mod split_dpop;

use super::customer::Customer;
use super::scenario::{AttackerPolicy, Compromise, KeyStorage, StrategyConfig, StrategyKind};
use super::world::World;

/// Everything a strategy may look at for one customer.
pub struct Context<'a> {
    pub world: &'a World,
    pub customer: &'a Customer,
    pub compromise: Compromise,
    pub storage: KeyStorage,
    pub policy: AttackerPolicy,
    /// How long proofs signed ahead stay usable (`Dpop::presign_horizon`).
    pub presign_horizon: f64,
}

impl Context<'_> {
    /// A uniform draw from a per-customer stream (by [`leaklab_base::rng::stream_id`]) (common across strategies).
    pub fn uniform(&self, stream: u64) -> f64 {
        self.world.customer_uniform(stream, self.customer.id)
    }

    /// Until when the attacker can sign JWS (DPoP proofs, client assertions) with a key kept in
    /// the core's key storage: for ever if it is a software key on a compromised disk; if it is
    /// an HSM/TPM key on a compromised host (a signing oracle), until eviction or the kill
    /// switch, plus the shelf life of proofs signed ahead when the attacker pre-signs; never
    /// otherwise.
    pub fn core_key(&self) -> f64 {
        let oracle = self.core_tls_key();
        if oracle > 0.0 && oracle.is_finite() && self.policy.presigns() {
            oracle + self.presign_horizon
        } else {
            oracle
        }
    }

    /// As [`Context::core_key`] for an interactive use (a TLS handshake) that cannot be signed
    /// ahead.
    pub fn core_tls_key(&self) -> f64 {
        match self.storage {
            KeyStorage::Disk if self.compromise.core_disk || self.compromise.core_host => {
                f64::INFINITY
            }
            KeyStorage::Tpm | KeyStorage::Hsm if self.compromise.core_host => {
                self.world.oracle_end()
            }
            _ => 0.0,
        }
    }

    /// Until when an attacker who holds an edge can have the core's HSM/TPM sign for it, in the
    /// designs where edges ask the core to sign (single DPoP with the key in the core device,
    /// mTLS with the client key there): only an attacker that keeps its foothold on the edge,
    /// until eviction or until the edge is recycled; `presign` adds the shelf life of proofs
    /// signed ahead.
    pub fn edge_oracle(&self, presign: bool) -> f64 {
        if !(self.compromise.edge_host && self.storage.is_device() && self.policy.foothold()) {
            return 0.0;
        }
        let end = self.world.oracle_end().min(self.customer.edge_recycled_at);
        if presign && self.policy.presigns() && end.is_finite() {
            end + self.presign_horizon
        } else {
            end
        }
    }

    /// Whether the core's keys are HSM/TPM keys (their use by an attacker needs the oracle).
    pub fn core_key_is_oracle(&self) -> bool {
        self.storage.is_device() && self.compromise.core_host
    }
}

/// Until when (seconds after the leak) the attacker can satisfy each binding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bindings {
    /// Redeeming the stolen refresh token (beyond the grant being alive).
    pub refresh: f64,
    /// Calling APIs with the access tokens stolen from edges.
    pub stolen_access: f64,
    /// Calling APIs with access tokens the attacker obtained by refreshing.
    pub minted_access: f64,
    /// Each attacker refresh makes the victim's HSM/TPM sign (oracle use).
    pub refresh_signs_on_device: bool,
    /// Each attacker API call makes the victim's HSM/TPM sign (oracle use).
    pub call_signs_on_device: bool,
}

impl Bindings {
    /// No binding at all (bearer tokens).
    pub const NONE: Bindings = Bindings {
        refresh: f64::INFINITY,
        stolen_access: f64::INFINITY,
        minted_access: f64::INFINITY,
        refresh_signs_on_device: false,
        call_signs_on_device: false,
    };
}

/// A binding strategy. What the legitimate agent signs is not a strategy's own answer: it comes
/// from the catalogue (`StrategyConfig::device_signs`), shared with the capacity planner.
pub trait Strategy: Send + Sync {
    /// Until when the attacker can satisfy each binding for this customer.
    fn bindings(&self, ctx: &Context<'_>) -> Bindings;

    /// Until when the attacker can have the victim's key sign for it as it goes, not counting
    /// proofs signed ahead: `f64::INFINITY` for a key it copied (a software key, a leaked client
    /// credential), the end of its hold on the host that may ask the device for an HSM/TPM key,
    /// `0` for no use at all. The binding windows are built from it; the live drill takes the
    /// device away from its attacker at this time.
    fn victim_key_until(&self, _ctx: &Context<'_>) -> f64 {
        0.0
    }

    /// When this customer's authorization server stops accepting the agent's binding credential
    /// (a revoked client certificate seen through the CRL, a JWKS key removed and aged out of the
    /// cache), whoever holds it; infinite for strategies without such a credential. The live
    /// drill performs the revocation at this time.
    fn credential_disabled_at(&self, _ctx: &Context<'_>) -> f64 {
        f64::INFINITY
    }

    /// With the JWKS host's TLS key stolen (the attacker serves its own JWKS under the host's
    /// name): when this customer's authorization server stops trusting that certificate and when
    /// its cached copy of the attacker's JWKS ages out after that. `None` for strategies
    /// without a JWKS host and for leaks that spare it. The live drill acts at these times.
    fn jwks_host_end(&self, _ctx: &Context<'_>) -> Option<JwksHostEnd> {
        None
    }
}

/// See [`Strategy::jwks_host_end`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JwksHostEnd {
    /// The customer's JWKS fetcher checks the host certificate's revocation (CRL); otherwise it
    /// trusts the certificate until it expires.
    pub checks_revocation: bool,
    /// From then on the fetcher refuses the host: it holds a CRL listing the certificate, or
    /// the certificate has expired.
    pub rejected_at: f64,
    /// The cached copy fetched from the attacker ages out (the next fetch fails).
    pub cache_expires_at: f64,
}

/// Builds the strategy module for a configuration.
pub fn build(config: &StrategyConfig) -> Box<dyn Strategy> {
    match &config.kind {
        StrategyKind::Bearer => Box::new(bearer::Bearer),
        StrategyKind::Mtls(p) => Box::new(mtls::Mtls(p.clone())),
        StrategyKind::Jwks(p) => Box::new(jwks::Jwks(p.clone())),
        StrategyKind::SingleDpop { key } => Box::new(single_dpop::SingleDpop {
            key: *key,
            rules: rules::single_dpop(),
        }),
        StrategyKind::SplitDpop => Box::new(split_dpop::SplitDpop {
            rules: rules::split_dpop(),
        }),
    }
}
