//! What the drill replays: scenario features it cannot drive (an error for the whole drill) and
//! cells it leaves out (named in the results, never silently dropped).

use leaklab_sim::scenario::{
    AttackerPolicy, KeyStorage, Leak, Scenario, StrategyConfig, StrategyKind,
};

use crate::Unsupported;

pub(crate) fn check_supported(scenario: &Scenario) -> Result<(), Unsupported> {
    if scenario.dpop.nonce_lifetime.is_finite() {
        return Err(Unsupported::ServerNonces);
    }
    if scenario.grant.rt_lifetime.is_some() {
        return Err(Unsupported::RtLifetime);
    }
    if scenario.grant.false_reuse_per_refresh > 0.0 {
        return Err(Unsupported::FalseReuse);
    }
    Ok(())
}

/// Why a cell is outside what the drill replays.
pub(crate) fn skip_reason(
    scenario: &Scenario,
    strategy: &StrategyConfig,
    leak: &Leak,
    policy: AttackerPolicy,
) -> Option<String> {
    let compromise = leak.compromise;
    let steals_rt = compromise.core_disk || compromise.core_host;
    if strategy.rotation && steals_rt && scenario.attacker.start_delay.upper_bound() > 0.0 {
        return Some("refresh-token rotation with an attacker start delay: the simulator's client may rotate the token between the leak and the attacker's start, while the drill's thief copies it when it starts".into());
    }
    if strategy.rotation && steals_rt && compromise.edge_host {
        return Some("refresh-token rotation with both the refresh token and an edge stolen: the simulator draws the client's refresh phase apart from the edges' phases, while the drill's edges refresh through the same rotating token".into());
    }
    // The JWKS host's TLS key matters to `private_key_jwt` only. Replayed when it is the
    // attacker's only way in; with the signing key usable too, the simulator ages the provider's
    // one JWKS cache independently for the two ways, which no live cache can do.
    let key_usable = compromise.client_credential
        || compromise.core_host
        || (compromise.core_disk && scenario.core_key_storage == KeyStorage::Disk);
    if compromise.jwks_host && matches!(strategy.kind, StrategyKind::Jwks(_)) && key_usable {
        return Some("a JWKS-host leak together with the JWKS signing key: the simulator draws the provider's cache age apart for the two ways in, while the testbed's provider has one cache".into());
    }
    if matches!(policy, AttackerPolicy::Greedy | AttackerPolicy::Stealthy) {
        return Some(format!(
            "attacker policy {} is not replayed (maximal and at-expiry are)",
            policy.name()
        ));
    }
    None
}
