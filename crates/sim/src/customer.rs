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
    /// When the customer revokes the grant (infinite: never).
    pub revokes_at: f64,
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
}

impl Customer {
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
        let (response_class, revokes_at) = if class < r.immediate_share {
            (0, world.notify + r.immediate_delay.quantile(delay))
        } else if class < r.immediate_share + r.eventual_share {
            (1, world.notify + r.eventual_delay.quantile(delay))
        } else {
            (2, f64::INFINITY)
        };
        Customer {
            id,
            affected,
            revokes_at,
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
        }
    }
}
