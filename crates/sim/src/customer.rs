//! One customer's draws: everything about a customer that does not depend on the strategy.
//!
//! Each quantity comes from its own named stream keyed by the customer's index, so a customer is
//! the same customer under every strategy (common random numbers) and whatever the chunking.

use super::scenario::Scenario;
use super::world::World;
use leaklab_base::rng::stream_id;

/// A customer's grant and behaviour, in absolute seconds after the leak.
#[derive(Clone, Debug, PartialEq)]
pub struct Customer {
    pub id: u64,
    /// Whether this leak hit this customer's tokens at all.
    pub affected: bool,
    /// From being told (`World::notify`) to revoking the grant (infinite: never).
    pub response_delay: f64,
    /// Response class: 0 immediate, 1 eventual, 2 never.
    pub response_class: u8,
    pub at_lifetime: f64,
    pub refresh_interval: f64,
    /// The legitimate client's first refresh after the leak.
    pub legit_refresh_at: f64,
    /// The refresh token's absolute expiry (infinite: none).
    pub rt_expires_at: f64,
    /// Expiry of the freshest access token among the customer's edges at the leak.
    pub edge_at_expires_at: f64,
    pub attacker_start: f64,
    /// From losing its grant to authorizing the integration again.
    pub reconsent_delay: f64,
    /// A legitimate refresh retried into a false reuse detection (infinite: none).
    pub false_reuse_at: f64,
    /// When the edge the attacker holds is recycled (churn; infinite: edges live for ever).
    pub edge_recycled_at: f64,
    /// Position in the vendor's random mass-revocation order (set by the runner, which sees
    /// every customer).
    pub vendor_rank: u64,
}

impl Customer {
    /// Expiry of the freshest access token any of the customer's `edges` holds at time `t`
    /// (each edge refreshes every `refresh_interval` from its own phase): what an attacker
    /// reading edge memory until `t` leaves with.
    pub fn freshest_edge_expiry_at(&self, world: &World, edges: u32, t: f64) -> f64 {
        let mut phases =
            world.customer_stream(const { stream_id("customer/edge-at-phase") }, self.id);
        let (l, i) = (self.at_lifetime, self.refresh_interval);
        (0..edges)
            .map(|_| {
                let issued = l * phases.uniform_open0() - l;
                let k = ((t - issued) / i).floor().max(0.0);
                issued + k * i + l
            })
            .fold(0.0, f64::max)
    }

    /// When the customer revokes the grant in `world` (infinite: never).
    pub fn revokes_at(&self, world: &World) -> f64 {
        world.notify + self.response_delay
    }

    /// When a defender kills this customer's grant regardless of the attack: its own
    /// revocation, the vendor's or provider's mass revocation, a false reuse detection.
    pub fn defender_kill(&self, world: &World, reuse_detection: bool) -> f64 {
        let false_reuse = if reuse_detection {
            self.false_reuse_at
        } else {
            f64::INFINITY
        };
        self.revokes_at(world)
            .min(world.vendor_revokes(self.vendor_rank))
            .min(world.provider_revoke_all)
            .min(false_reuse)
    }

    /// Draws customer `id`. Only `world`'s per-customer streams are read, so any world of the
    /// same (replication, leak) gives the same customer.
    pub fn draw(scenario: &Scenario, world: &World, id: u64) -> Customer {
        let u = |stream: u64| world.customer_uniform(stream, id);
        let leak = &scenario.leaks[world.leak as usize];
        let affected = leak.affected_share >= 1.0
            || u(const { stream_id("customer/affected") }) < leak.affected_share;
        let g = &scenario.grant;
        let at_lifetime = g
            .at_lifetime
            .quantile(u(const { stream_id("customer/at-lifetime") }))
            .max(1.0);
        let refresh_interval = match &g.refresh_interval {
            Some(d) => d
                .quantile(u(const { stream_id("customer/refresh-interval") }))
                .max(1.0),
            None => at_lifetime,
        };
        let legit_refresh_at = refresh_interval * u(const { stream_id("customer/refresh-phase") });
        let rt_expires_at = match &g.rt_lifetime {
            // The grant's age at the leak is uniform over its lifetime (steady state).
            Some(d) => {
                d.quantile(u(const { stream_id("customer/rt-lifetime") }))
                    * u(const { stream_id("customer/rt-age") })
            }
            None => f64::INFINITY,
        };
        // Each edge refreshed its access token at an independent uniform phase.
        let mut edges = world.customer_stream(const { stream_id("customer/edge-at-phase") }, id);
        let edge_at_expires_at = (0..g.edges)
            .map(|_| at_lifetime * edges.uniform_open0())
            .fold(0.0, f64::max);
        let r = &scenario.response;
        let class = u(const { stream_id("customer/response-class") });
        let delay = u(const { stream_id("customer/response-delay") });
        let (response_class, response_delay) = if class < r.immediate_share {
            (0, r.immediate_delay.quantile(delay))
        } else if class < r.immediate_share + r.eventual_share {
            (1, r.eventual_delay.quantile(delay))
        } else {
            (2, f64::INFINITY)
        };
        // The core refreshes once per edge token: false reuse detections arrive at rate
        // share × edges / interval.
        let false_reuse_rate = g.false_reuse_per_refresh * f64::from(g.edges) / refresh_interval;
        let false_reuse_at = if false_reuse_rate > 0.0 {
            -(1.0 - u(const { stream_id("customer/false-reuse") })).ln() / false_reuse_rate
        } else {
            f64::INFINITY
        };
        Customer {
            id,
            affected,
            response_delay,
            response_class,
            at_lifetime,
            refresh_interval,
            legit_refresh_at,
            rt_expires_at,
            edge_at_expires_at,
            attacker_start: scenario
                .attacker
                .start_delay
                .quantile(u(const { stream_id("customer/attacker-start") })),
            reconsent_delay: r
                .reconsent_delay
                .quantile(u(const { stream_id("customer/reconsent") })),
            false_reuse_at,
            // The held edge is a random age into its life at the leak (steady state).
            edge_recycled_at: g.edge_lifetime.as_ref().map_or(f64::INFINITY, |d| {
                d.quantile(u(const { stream_id("customer/edge-lifetime") }))
                    * u(const { stream_id("customer/edge-age") })
            }),
            vendor_rank: id,
        }
    }
}
