//! The per-customer discrete-event model: what the attacker can do with one customer's stolen
//! material, event by event, until it can do nothing more (the time to disable) or the horizon.
//!
//! Grant-level rules, the same for every strategy:
//! * the customer's revocation kills the refresh token; access tokens die with it only when
//!   resource servers introspect (`at_revocation = "introspection"`), otherwise at expiry;
//! * an absolute refresh-token lifetime ends the grant;
//! * with rotation, a refresh invalidates the presented refresh token. Whoever refreshes second
//!   (attacker or legitimate client) presents a stale token: with reuse detection the whole token
//!   family is revoked (RFC 6819 §5.2.2.3, RFC 9700 §4.14.2), without it that party is locked out.
//!
//! The strategy's [`Bindings`] say until when the attacker can satisfy the token binding.
//!
//! **Events** are state changes: the attacker starting, its refresh attempts, the legitimate
//! client's refresh, the customer's revocation, refresh-token expiry, stolen access tokens
//! expiring, and the end of each binding window. **API calls** are a Poisson stream; whether a
//! call succeeds is constant between two events, so the calls in each interval are counted in
//! distribution (a Poisson count of rate × usable time) instead of being queued one by one — the
//! same outcome, exactly, at a fraction of the cost. **Refresh chains** are collapsed the same way:
//! while nothing else is pending, each of the attacker's periodic refreshes succeeds, so the run
//! of successes up to the next pending event is counted in one step.
//!
//! TTD is the time after which the stolen material can no longer be used: no usable access token
//! and no redeemable refresh token. It is a property of the capability, not of the attacker's
//! activity: material the attacker has not touched yet still counts as exploitable.

use super::customer::Customer;
use super::engine::EventQueue;
use super::scenario::{AtRevocation, AttackerRefresh, Compromise, Scenario, StrategyConfig};
use super::strategy::Bindings;
use super::world::World;
use leaklab_base::dist::poisson;
use leaklab_base::rng::stream_id;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    AttackerStart,
    AttackerRefresh,
    StolenAccessExpiry,
    LegitRefresh,
    CustomerRevokes,
    RefreshTokenExpiry,
    RefreshBindingLost,
    StolenBindingLost,
    MintedBindingLost,
    Horizon,
}

/// What happened to one customer under one strategy.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Time to disable (seconds after the leak); `INFINITY` when still exploitable at the horizon.
    pub ttd: f64,
    /// Attacker-usable access-token time while the attacker was active (seconds).
    pub usable_seconds: f64,
    pub calls_ok: u64,
    pub calls_failed: u64,
    pub refresh_ok: u64,
    pub refresh_failed: u64,
    /// Signatures the victim's HSM/TPM made for the attacker.
    pub oracle_signatures: u64,
}

struct State {
    has_rt: bool,
    grant_alive: bool,
    ats_revoked: bool,
    attacker_rt_current: bool,
    legit_rt_current: bool,
    refresh_binding: bool,
    stolen_binding: bool,
    minted_binding: bool,
    stolen_expiry: f64,
    minted_expiry: f64,
    active: bool,
}

impl State {
    fn can_refresh(&self) -> bool {
        self.has_rt && self.grant_alive && self.attacker_rt_current && self.refresh_binding
    }

    fn holds_usable_token(&self, t: f64) -> bool {
        !self.ats_revoked
            && ((self.stolen_expiry > t && self.stolen_binding)
                || (self.minted_expiry > t && self.minted_binding))
    }

    fn exploitable(&self, t: f64) -> bool {
        self.can_refresh() || self.holds_usable_token(t)
    }
}

/// Runs one customer. `queue` is reused across customers (its allocation survives `reset`).
#[allow(clippy::too_many_arguments)]
pub fn simulate(
    queue: &mut EventQueue<Event>,
    scenario: &Scenario,
    strategy: &StrategyConfig,
    bindings: Bindings,
    compromise: Compromise,
    world: &World,
    customer: &Customer,
) -> Outcome {
    queue.reset();
    let attacker = &scenario.attacker;
    let introspection = scenario.grant.at_revocation == AtRevocation::Introspection;
    let has_rt = compromise.core_disk || compromise.core_host;
    let mut s = State {
        has_rt,
        grant_alive: true,
        ats_revoked: false,
        attacker_rt_current: has_rt,
        legit_rt_current: true,
        refresh_binding: bindings.refresh > 0.0,
        stolen_binding: bindings.stolen_access > 0.0,
        minted_binding: bindings.minted_access > 0.0,
        stolen_expiry: if compromise.edge_host {
            customer.edge_at_expires_at
        } else {
            0.0
        },
        minted_expiry: 0.0,
        active: false,
    };
    let mut out = Outcome::default();
    if !s.exploitable(0.0) {
        return out;
    }
    let horizon = scenario.horizon;
    queue.schedule(customer.attacker_start, Event::AttackerStart);
    if strategy.rotation && has_rt {
        queue.schedule(customer.legit_refresh_at, Event::LegitRefresh);
    }
    queue.schedule(customer.revokes_at, Event::CustomerRevokes);
    queue.schedule(customer.rt_expires_at, Event::RefreshTokenExpiry);
    if s.stolen_expiry > 0.0 {
        queue.schedule(s.stolen_expiry, Event::StolenAccessExpiry);
    }
    for (until, event) in [
        (bindings.refresh, Event::RefreshBindingLost),
        (bindings.stolen_access, Event::StolenBindingLost),
        (bindings.minted_access, Event::MintedBindingLost),
    ] {
        if until > 0.0 {
            queue.schedule(until, event);
        }
    }
    queue.schedule(horizon, Event::Horizon);

    let mut last = 0.0;
    let mut active_seconds = 0.0;
    out.ttd = f64::INFINITY;
    while let Some((t, event)) = queue.pop() {
        if s.active {
            let dt = t - last;
            active_seconds += dt;
            if s.holds_usable_token(last) {
                out.usable_seconds += dt;
            }
        }
        last = t;
        match event {
            Event::Horizon => break,
            Event::AttackerStart => {
                s.active = true;
                let wants = match attacker.refresh {
                    AttackerRefresh::AtStart => true,
                    AttackerRefresh::OnExpiry => !s.holds_usable_token(t),
                    AttackerRefresh::Never => false,
                };
                if wants {
                    attempt_refresh(
                        queue,
                        &mut s,
                        &mut out,
                        t,
                        customer.at_lifetime,
                        strategy,
                        bindings,
                        introspection,
                    );
                }
            }
            Event::AttackerRefresh => attempt_refresh(
                queue,
                &mut s,
                &mut out,
                t,
                customer.at_lifetime,
                strategy,
                bindings,
                introspection,
            ),
            Event::StolenAccessExpiry => {
                if s.active && attacker.refresh == AttackerRefresh::OnExpiry && s.minted_expiry <= t
                {
                    attempt_refresh(
                        queue,
                        &mut s,
                        &mut out,
                        t,
                        customer.at_lifetime,
                        strategy,
                        bindings,
                        introspection,
                    );
                }
            }
            Event::LegitRefresh => {
                if s.grant_alive {
                    if s.legit_rt_current {
                        // The legitimate client rotates first: the attacker's copy is now stale.
                        s.attacker_rt_current = false;
                    } else if strategy.reuse_detection {
                        // The attacker rotated first; the client presents a stale token.
                        s.grant_alive = false;
                        s.ats_revoked |= introspection;
                    }
                }
            }
            Event::CustomerRevokes => {
                s.grant_alive = false;
                s.ats_revoked |= introspection;
            }
            Event::RefreshTokenExpiry => s.grant_alive = false,
            Event::RefreshBindingLost => s.refresh_binding = false,
            Event::StolenBindingLost => s.stolen_binding = false,
            Event::MintedBindingLost => s.minted_binding = false,
        }
        if !s.exploitable(t) {
            out.ttd = t;
            break;
        }
    }
    let rate = attacker.calls_per_hour / 3600.0;
    if rate > 0.0 && active_seconds > 0.0 {
        let mut calls = world.customer_stream(const { stream_id("attacker/calls") }, customer.id);
        out.calls_ok = poisson(&mut calls, rate * out.usable_seconds);
        out.calls_failed = poisson(
            &mut calls,
            rate * (active_seconds - out.usable_seconds).max(0.0),
        );
    }
    if bindings.call_signs_on_device {
        out.oracle_signatures += out.calls_ok;
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn attempt_refresh(
    queue: &mut EventQueue<Event>,
    s: &mut State,
    out: &mut Outcome,
    t: f64,
    at_lifetime: f64,
    strategy: &StrategyConfig,
    bindings: Bindings,
    introspection: bool,
) {
    if !s.has_rt {
        return;
    }
    if !s.can_refresh() {
        out.refresh_failed += 1;
        if s.grant_alive && strategy.reuse_detection && !s.attacker_rt_current {
            // A stale (already rotated) refresh token is presented: the family is revoked.
            s.grant_alive = false;
            s.ats_revoked |= introspection;
        }
        return;
    }
    if strategy.rotation {
        s.legit_rt_current = false;
    }
    // Every refresh in the run up to the next pending event succeeds: nothing can change state
    // in between. Count them at once and schedule the first one at or after that event.
    let next_pending = queue.peek_time().unwrap_or(f64::INFINITY);
    let extra = if next_pending.is_finite() {
        (((next_pending - t) / at_lifetime).ceil() - 1.0).max(0.0)
    } else {
        0.0
    };
    // `extra` is huge (or infinite) when the AT lifetime is tiny or zero: the cast saturates and
    // the counters saturate rather than wrap.
    let successes = (extra as u64).saturating_add(1);
    out.refresh_ok = out.refresh_ok.saturating_add(successes);
    if bindings.refresh_signs_on_device {
        out.oracle_signatures = out.oracle_signatures.saturating_add(successes);
    }
    let last_refresh = t + extra * at_lifetime;
    s.minted_expiry = last_refresh + at_lifetime;
    queue.schedule(s.minted_expiry, Event::AttackerRefresh);
}
