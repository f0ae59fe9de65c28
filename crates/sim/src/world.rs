//! What every customer of one leak shares: the leak itself (at time 0), its detection, and the
//! platform's actions. Drawn once per (replication, leak) from named streams, so every strategy
//! faces the same timeline (common random numbers).

use super::scenario::Scenario;
use leaklab_base::rng::{stream_id, uniform_at, Rng};

/// Absolute times (seconds after the leak) of the global events of one leak.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    pub seed: u64,
    pub replication: u64,
    /// Index of the leak class: keys per-leak streams.
    pub leak: u64,
    /// The platform notices the leak.
    pub detection: f64,
    /// Customers are told to revoke.
    pub notify: f64,
    /// The attacker loses its foothold on compromised hosts (and with it any HSM/TPM oracle).
    pub eviction: f64,
    /// The platform acts on its credentials (rotates JWKS keys, revokes vendor-CA certificates,
    /// asks the web-PKI CA to revoke the JWKS host certificate).
    pub credential_action: f64,
    /// Hardware keys are disabled (infinite when the scenario has no kill switch).
    pub kill_switch: f64,
}

impl World {
    pub fn draw(scenario: &Scenario, replication: u64, leak: u64) -> World {
        let d = &scenario.detection;
        let rng = |name: &str| Rng::stream(scenario.seed, replication, stream_id(name), leak);
        let detection = d.delay.sample(&mut rng("world/detection"));
        World {
            seed: scenario.seed,
            replication,
            leak,
            detection,
            notify: detection + d.notify_delay.sample(&mut rng("world/notify")),
            eviction: detection + d.eviction_delay.sample(&mut rng("world/eviction")),
            credential_action: detection
                + d.credential_action_delay
                    .sample(&mut rng("world/credential-action")),
            kill_switch: d.kill_switch_delay.as_ref().map_or(f64::INFINITY, |k| {
                detection + k.sample(&mut rng("world/kill-switch"))
            }),
        }
    }

    /// Until when a stolen foothold lets the attacker use a non-exportable key as an oracle.
    pub fn oracle_end(&self) -> f64 {
        self.eviction.min(self.kill_switch)
    }

    /// One uniform on [0, 1) from a per-customer stream of this world (for single draws).
    #[inline]
    pub fn customer_uniform(&self, stream: u64, customer: u64) -> f64 {
        uniform_at(
            self.seed ^ self.leak.rotate_left(32),
            self.replication,
            stream,
            customer,
        )
    }

    /// A per-customer stream of this world, by stream id ([`stream_id`] of its name) (strategy-specific draws such as cache ages).
    pub fn customer_stream(&self, stream: u64, customer: u64) -> Rng {
        Rng::stream(
            self.seed ^ self.leak.rotate_left(32),
            self.replication,
            stream,
            customer,
        )
    }
}
