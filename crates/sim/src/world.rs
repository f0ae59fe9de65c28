//! What every customer of one leak shares: the leak itself (at time 0), its detection, and the
//! defenders' actions that follow it.
//!
//! A [`Timeline`] is drawn once per (replication, leak) from named streams: the exogenous
//! detection delay and every response delay *relative to detection*. Detection itself may come
//! earlier, from what the attacker does (reuse alerts, failed binding attempts, call volume,
//! customer reports), so it differs per strategy and attacker policy; [`Timeline::world`] places
//! the same response delays after whichever detection time applies (common random numbers).

use super::scenario::Scenario;
use leaklab_base::rng::{stream_id, uniform_at, Rng};

/// The draws of one (replication, leak) that do not depend on the attack.
#[derive(Clone, Debug, PartialEq)]
pub struct Timeline {
    pub seed: u64,
    pub replication: u64,
    pub leak: u64,
    /// The vendor notices the leak on its own (seconds after the leak).
    pub exogenous_detection: f64,
    notify_delay: f64,
    eviction_delay: f64,
    credential_action_delay: f64,
    kill_switch_delay: f64,
    mass_revoke_delay: f64,
    mass_revoke_rate: f64,
    provider_delay: f64,
}

impl Timeline {
    pub fn draw(scenario: &Scenario, replication: u64, leak: u64) -> Timeline {
        let d = &scenario.detection;
        let rng = |name: &str| Rng::stream(scenario.seed, replication, stream_id(name), leak);
        let optional = |dist: Option<&leaklab_base::dist::Dist>, name: &str| {
            dist.map_or(f64::INFINITY, |k| k.sample(&mut rng(name)))
        };
        let mass = scenario.vendor.mass_revoke.as_ref();
        Timeline {
            seed: scenario.seed,
            replication,
            leak,
            exogenous_detection: d.delay.sample(&mut rng("world/detection")),
            notify_delay: d.notify_delay.sample(&mut rng("world/notify")),
            eviction_delay: d.eviction_delay.sample(&mut rng("world/eviction")),
            credential_action_delay: d
                .credential_action_delay
                .sample(&mut rng("world/credential-action")),
            kill_switch_delay: optional(d.kill_switch_delay.as_ref(), "world/kill-switch"),
            mass_revoke_delay: optional(mass.map(|m| &m.delay), "world/mass-revoke"),
            mass_revoke_rate: mass.map_or(0.0, |m| m.rate_per_s),
            provider_delay: optional(
                scenario.provider.revoke_all_delay.as_ref(),
                "world/provider-revoke",
            ),
        }
    }

    /// The world in which the vendor detects the leak at `detection` (infinite: never).
    pub fn world(&self, detection: f64) -> World {
        let after = |delay: f64| detection + delay;
        World {
            seed: self.seed,
            replication: self.replication,
            leak: self.leak,
            detection,
            notify: after(self.notify_delay),
            eviction: after(self.eviction_delay),
            credential_action: after(self.credential_action_delay),
            kill_switch: after(self.kill_switch_delay),
            mass_revoke_start: after(self.mass_revoke_delay),
            mass_revoke_rate: self.mass_revoke_rate,
            provider_revoke_all: after(self.provider_delay),
        }
    }

    /// The world before any detection: no defender acts (the first pass of attack-driven
    /// detection, see `runner`).
    pub fn undetected(&self) -> World {
        self.world(f64::INFINITY)
    }
}

/// Absolute times (seconds after the leak) of the global events of one leak, for one detection
/// time.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    pub seed: u64,
    pub replication: u64,
    /// Index of the leak class: keys per-leak streams.
    pub leak: u64,
    /// The vendor detects the leak.
    pub detection: f64,
    /// Customers are told to revoke.
    pub notify: f64,
    /// The attacker loses its foothold on compromised hosts (and with it any HSM/TPM oracle).
    pub eviction: f64,
    /// The platform acts on its credentials (rotates JWKS keys, revokes vendor-CA certificates,
    /// asks the web-PKI CA to revoke the JWKS host certificate).
    pub credential_action: f64,
    /// Hardware keys are disabled or the refresh tokens rebound to new ones (infinite when the
    /// scenario has no kill switch).
    pub kill_switch: f64,
    /// The vendor's first mass revocation (infinite: no mass-revocation playbook).
    pub mass_revoke_start: f64,
    /// Its revocations per second.
    pub mass_revoke_rate: f64,
    /// The provider revokes every grant of the integration (infinite: never).
    pub provider_revoke_all: f64,
}

impl World {
    /// Until when a stolen foothold lets the attacker use a non-exportable key as an oracle.
    pub fn oracle_end(&self) -> f64 {
        self.eviction.min(self.kill_switch)
    }

    /// When the vendor's mass revocation reaches the grant revoked `rank`-th (0-based) in its
    /// random order: the grants go one per 1/rate seconds.
    pub fn vendor_revokes(&self, rank: u64) -> f64 {
        if self.mass_revoke_rate > 0.0 {
            self.mass_revoke_start + (rank as f64 + 1.0) / self.mass_revoke_rate
        } else {
            f64::INFINITY
        }
    }

    /// One uniform on [0, 1) from a per-customer stream of this leak (for single draws).
    #[inline]
    pub fn customer_uniform(&self, stream: u64, customer: u64) -> f64 {
        uniform_at(
            self.seed ^ self.leak.rotate_left(32),
            self.replication,
            stream,
            customer,
        )
    }

    /// A per-customer stream of this leak, by stream id ([`stream_id`] of its name).
    pub fn customer_stream(&self, stream: u64, customer: u64) -> Rng {
        Rng::stream(
            self.seed ^ self.leak.rotate_left(32),
            self.replication,
            stream,
            customer,
        )
    }
}
