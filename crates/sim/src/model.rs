//! The per-customer discrete-event model: what one attacker policy does with one customer's
//! stolen material, event by event, against the customer, the vendor, the provider and the
//! legitimate client, until the material is useless (the time to disable) or the horizon.
//!
//! Grant-level rules, the same for every strategy:
//! * a revocation (the customer's, the vendor's mass revocation, a false reuse detection) kills
//!   the refresh token; access tokens die with it only when resource servers introspect
//!   (`at_revocation = "introspection"`), otherwise at expiry. The provider's app-wide
//!   revocation kills both;
//! * an absolute refresh-token lifetime ends the grant;
//! * with rotation, a refresh invalidates the presented refresh token. Whoever refreshes second
//!   (attacker or legitimate client) presents a stale token: with reuse detection the whole token
//!   family is revoked (RFC 6819 §5.2.2.3, RFC 9700 §4.14.2), without it that party is locked out.
//!   An attacker with a foothold on the core host re-reads the current token until eviction.
//!
//! The strategy's [`Bindings`] say until when the attacker can satisfy the token binding.
//!
//! **Attacker policies** ([`AttackerPolicy`]): the maximal attacker refreshes in the instant
//! before any event that would end its ability to refresh (the supremum of what it could do; the
//! one tie rule of the model: at equal times it moves first), and when refreshing would fork a
//! rotating family under reuse detection it refreshes *only* then.
//!
//! **Events** are state changes of an actor: the attacker starting, its refresh attempts, the
//! legitimate client's refreshes that matter (those that expose or end a fork), the customer's,
//! vendor's and provider's revocations, expiries, the end of each binding window and of the
//! attacker's foothold. **API calls** are a Poisson stream; whether a call succeeds is constant
//! between two events, so the calls in each interval are counted in distribution (a Poisson
//! count of rate × usable time), exactly. **Refresh chains** are collapsed the same way: while
//! nothing else is pending, each periodic refresh succeeds.
//!
//! **Detection** sources driven by the attack are recorded as this customer's first alert
//! ([`Outcome::first_alert`]); the runner turns the earliest over all customers into the
//! vendor's detection time.
//!
//! TTD is the time after which the stolen material can no longer be used: no usable access token
//! and no redeemable refresh token.

use super::customer::Customer;
use super::engine::EventQueue;
use super::scenario::{
    Alert, AtRevocation, AttackerPolicy, AttackerRefresh, Compromise, Scenario, StrategyConfig,
};
use super::strategy::Bindings;
use super::world::World;
use leaklab_base::dist::poisson;
use leaklab_base::rng::{stream_id, Rng};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    AttackerStart,
    AttackerRefresh,
    StolenAccessExpiry,
    LegitRefresh,
    CustomerRevokes,
    VendorRevokes,
    ProviderRevokes,
    FalseReuse,
    RefreshTokenExpiry,
    RefreshBindingLost,
    StolenBindingLost,
    MintedBindingLost,
    FootholdLost,
    /// The attacker loses the edge it holds: eviction, or the edge is recycled (churn).
    EdgeFootholdLost,
    /// One attacker API call (only on the event-by-event path, see [`Run::event_by_event`]).
    AttackerCall,
    Horizon,
}

/// What the attacker did with its access: counted per customer ([`Outcome`]) and summed per
/// cell (`metrics::Accumulator`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counters {
    /// Attacker-usable access-token time while the attacker was active (seconds).
    pub usable_seconds: f64,
    pub calls_ok: u64,
    pub calls_failed: u64,
    pub refresh_ok: u64,
    pub refresh_failed: u64,
    /// Signatures the victim's HSM/TPM made for the attacker.
    pub oracle_signatures: u64,
}

impl std::ops::AddAssign for Counters {
    fn add_assign(&mut self, other: Counters) {
        self.usable_seconds += other.usable_seconds;
        self.calls_ok += other.calls_ok;
        self.calls_failed += other.calls_failed;
        self.refresh_ok += other.refresh_ok;
        self.refresh_failed += other.refresh_failed;
        self.oracle_signatures += other.oracle_signatures;
    }
}

/// What happened to one customer under one strategy and attacker policy.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Time to disable (seconds after the leak); `INFINITY` when still exploitable at the horizon.
    pub ttd: f64,
    /// What the attacker did while it was active.
    pub counters: Counters,
    /// Earliest time something this attacker did alerts the vendor (infinite: nothing).
    pub first_alert: f64,
    /// Seconds the legitimate client was locked out (until re-consent or the horizon).
    pub lockout_seconds: f64,
}

/// Everything one run needs besides the event queue.
pub struct Run<'a> {
    pub scenario: &'a Scenario,
    pub strategy: &'a StrategyConfig,
    pub bindings: Bindings,
    pub compromise: Compromise,
    pub world: &'a World,
    pub customer: &'a Customer,
    pub policy: AttackerPolicy,
    /// The first pass only needs alerts before the vendor's own detection: simulate up to
    /// `until` and skip what only the outputs need (call counts, lockout).
    pub alerts_only_until: Option<f64>,
    /// Simulate every API call and every refresh as its own event instead of counting them in
    /// closed form: the reference path the shortcuts are tested against (slow).
    pub event_by_event: bool,
}

struct State {
    has_rt: bool,
    grant_alive: bool,
    grant_dead_at: f64,
    ats_revoked: bool,
    attacker_rt_current: bool,
    legit_rt_current: bool,
    refresh_binding: bool,
    stolen_binding: bool,
    minted_binding: bool,
    stolen_expiry: f64,
    minted_expiry: f64,
    active: bool,
    core_foothold: bool,
    edge_foothold: bool,
    /// Time of the one pending legitimate refresh that matters (infinite: none).
    legit_next: f64,
    /// The legitimate client was locked out by the attack from this time.
    attack_lockout: f64,
    first_alert: f64,
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

/// Which detection source an alert comes from (each has its own streams).
#[derive(Clone, Copy)]
enum Source {
    Reuse,
    Binding,
    CustomerReport,
}

struct Sim<'r, 'q> {
    run: &'r Run<'r>,
    queue: &'q mut EventQueue<Event>,
    s: State,
    out: Outcome,
    introspection: bool,
    /// Call inter-arrival draws on the event-by-event path.
    calls: Option<Rng>,
}

/// Runs one customer. `queue` is reused across customers (its allocation survives `reset`).
pub fn simulate(queue: &mut EventQueue<Event>, run: &Run<'_>) -> Outcome {
    queue.reset();
    let (scenario, customer, c) = (run.scenario, run.customer, run.compromise);
    let b = run.bindings;
    let has_rt = c.core_disk || c.core_host;
    let foothold = run.policy.foothold();
    let edge_foothold = foothold && c.edge_host;
    let s = State {
        has_rt,
        grant_alive: true,
        grant_dead_at: f64::INFINITY,
        ats_revoked: false,
        attacker_rt_current: has_rt,
        legit_rt_current: true,
        refresh_binding: b.refresh > 0.0,
        stolen_binding: b.stolen_access > 0.0,
        minted_binding: b.minted_access > 0.0,
        stolen_expiry: if edge_foothold {
            f64::INFINITY
        } else if c.edge_host {
            customer.edge_at_expires_at
        } else {
            0.0
        },
        minted_expiry: 0.0,
        active: false,
        core_foothold: foothold && c.core_host,
        edge_foothold,
        legit_next: f64::INFINITY,
        attack_lockout: f64::INFINITY,
        first_alert: f64::INFINITY,
    };
    let mut sim = Sim {
        run,
        queue,
        s,
        out: Outcome {
            ttd: f64::INFINITY,
            first_alert: f64::INFINITY,
            ..Outcome::default()
        },
        introspection: scenario.grant.at_revocation == AtRevocation::Introspection,
        calls: run.event_by_event.then(|| {
            run.world
                .customer_stream(const { stream_id("attacker/call-times") }, customer.id)
        }),
    };
    if !sim.s.exploitable(0.0) {
        sim.out.ttd = 0.0;
        if run.policy.probes() && has_rt && customer.attacker_start < scenario.horizon {
            // Useless as the stolen token is, a probing attacker still presents it once: the
            // provider sees a failed binding (or a stale token).
            sim.s.active = true;
            sim.failed_refresh(customer.attacker_start);
        }
        return sim.finish(0.0, 0.0);
    }
    sim.schedule_all();
    sim.event_loop()
}

/// The availability outcome of a customer the leak did not touch: only defenders act.
pub fn unaffected(run: &Run<'_>) -> Outcome {
    let mut out = Outcome {
        first_alert: f64::INFINITY,
        ..Outcome::default()
    };
    out.lockout_seconds = lockout(run, f64::INFINITY);
    out
}

/// Seconds the legitimate client is locked out: from the first event that kills its grant
/// (the attack, or a defender whatever the attack) until the customer authorizes again.
fn lockout(run: &Run<'_>, attack_lockout: f64) -> f64 {
    let from = attack_lockout.min(
        run.customer
            .defender_kill(run.world, run.strategy.reuse_detection),
    );
    let horizon = run.scenario.horizon;
    if from < horizon {
        (from + run.customer.reconsent_delay).min(horizon) - from
    } else {
        0.0
    }
}

impl Sim<'_, '_> {
    fn schedule_all(&mut self) {
        let run = self.run;
        let (customer, world, b) = (run.customer, run.world, run.bindings);
        let q = &mut *self.queue;
        q.schedule(customer.attacker_start, Event::AttackerStart);
        if run.strategy.rotation && self.s.has_rt && !self.s.core_foothold {
            // Without a foothold, the client's first refresh makes the stolen copy stale.
            self.s.legit_next = customer.legit_refresh_at;
            q.schedule(customer.legit_refresh_at, Event::LegitRefresh);
        }
        q.schedule(customer.revokes_at(world), Event::CustomerRevokes);
        q.schedule(
            world.vendor_revokes(customer.vendor_rank),
            Event::VendorRevokes,
        );
        q.schedule(world.provider_revoke_all, Event::ProviderRevokes);
        if run.strategy.reuse_detection {
            q.schedule(customer.false_reuse_at, Event::FalseReuse);
        }
        q.schedule(customer.rt_expires_at, Event::RefreshTokenExpiry);
        if self.s.stolen_expiry > 0.0 {
            q.schedule(self.s.stolen_expiry, Event::StolenAccessExpiry);
        }
        for (until, event) in [
            (b.refresh, Event::RefreshBindingLost),
            (b.stolen_access, Event::StolenBindingLost),
            (b.minted_access, Event::MintedBindingLost),
        ] {
            if until > 0.0 {
                q.schedule(until, event);
            }
        }
        if self.s.core_foothold {
            q.schedule(world.eviction, Event::FootholdLost);
        }
        if self.s.edge_foothold {
            q.schedule(
                world.eviction.min(customer.edge_recycled_at),
                Event::EdgeFootholdLost,
            );
        }
        q.schedule(
            run.alerts_only_until
                .map_or(run.scenario.horizon, |u| u.min(run.scenario.horizon)),
            Event::Horizon,
        );
        self.next_call(customer.attacker_start);
    }

    fn event_loop(mut self) -> Outcome {
        let run = self.run;
        let rate = run.scenario.attacker.calls_per_hour(run.policy) / 3600.0;
        let volume = run.scenario.detection.volume_alert_per_call * rate;
        // Exp(1) threshold of this customer's volume-alert clock (cumulative hazard).
        let volume_threshold = if volume > 0.0 {
            -(1.0
                - run
                    .world
                    .customer_uniform(const { stream_id("detect/volume") }, run.customer.id))
            .ln()
        } else {
            f64::INFINITY
        };
        let mut hazard = 0.0;
        let mut last = 0.0;
        let mut active_seconds = 0.0;
        while let Some((t, event)) = self.queue.pop() {
            if self.s.active {
                let dt = t - last;
                active_seconds += dt;
                if self.s.holds_usable_token(last) {
                    self.out.counters.usable_seconds += dt;
                    if volume > 0.0 && hazard < volume_threshold {
                        let next = hazard + volume * dt;
                        if next >= volume_threshold {
                            let at = last + (volume_threshold - hazard) / volume;
                            self.s.first_alert = self.s.first_alert.min(at);
                        }
                        hazard = next;
                    }
                }
            }
            last = t;
            if event == Event::Horizon {
                break;
            }
            if self.ends_refresh(t, event) && self.s.active && self.s.can_refresh() {
                // The maximal attacker's last-moment refresh: the instant before the event.
                self.refresh(t, false);
            }
            self.apply(t, event);
            if !self.s.exploitable(t) {
                self.out.ttd = t;
                break;
            }
        }
        self.finish(rate, active_seconds)
    }

    /// Whether `event` at `t` would end the maximal attacker's ability to refresh.
    fn ends_refresh(&self, t: f64, event: Event) -> bool {
        if !self.run.policy.last_moment() {
            return false;
        }
        match event {
            Event::CustomerRevokes
            | Event::VendorRevokes
            | Event::ProviderRevokes
            | Event::FalseReuse
            | Event::RefreshTokenExpiry
            | Event::RefreshBindingLost => true,
            // The client's refresh makes the attacker's copy stale (no fork yet, no foothold).
            Event::LegitRefresh => {
                t == self.s.legit_next && self.s.legit_rt_current && !self.foothold_active(t)
            }
            _ => false,
        }
    }

    fn foothold_active(&self, t: f64) -> bool {
        self.s.core_foothold && t < self.run.world.eviction
    }

    /// Whether refreshing would fork a rotating family whose reuse the provider detects: then
    /// the maximal attacker refreshes only at the last moment.
    fn defers(&self) -> bool {
        let st = self.run.strategy;
        self.run.policy.last_moment() && st.rotation && st.reuse_detection
    }

    /// Whether this policy refreshes when it has no usable access token left.
    fn refreshes_on_expiry(&self) -> bool {
        if self.run.policy.last_moment() {
            !self.defers()
        } else {
            self.run.scenario.attacker.refresh != AttackerRefresh::Never
        }
    }

    fn apply(&mut self, t: f64, event: Event) {
        match event {
            Event::Horizon => {}
            Event::AttackerStart => {
                self.s.active = true;
                let wants = if self.run.policy.last_moment() {
                    !self.defers()
                } else {
                    match self.run.scenario.attacker.refresh {
                        AttackerRefresh::AtStart => true,
                        AttackerRefresh::OnExpiry => !self.s.holds_usable_token(t),
                        AttackerRefresh::Never => false,
                    }
                };
                if wants {
                    self.try_refresh(t);
                }
            }
            Event::AttackerRefresh => {
                if t == self.s.minted_expiry && self.refreshes_on_expiry() {
                    self.try_refresh(t);
                }
            }
            Event::StolenAccessExpiry => {
                if t == self.s.stolen_expiry
                    && self.s.active
                    && self.refreshes_on_expiry()
                    && self.s.minted_expiry <= t
                {
                    self.try_refresh(t);
                }
            }
            Event::LegitRefresh => {
                if t != self.s.legit_next {
                    return; // superseded by an earlier one
                }
                self.s.legit_next = f64::INFINITY;
                if !self.s.grant_alive {
                    return;
                }
                if !self.s.legit_rt_current {
                    // The attacker rotated first; the client presents a stale token.
                    if self.run.strategy.reuse_detection {
                        self.alert(Source::Reuse, t);
                        self.grant_dies(t, self.introspection);
                    }
                    self.locked_out_by_attack(t);
                } else if self.foothold_active(t) {
                    // The client rotates; the attacker reads the new token from the store.
                } else {
                    self.s.attacker_rt_current = false;
                }
            }
            Event::CustomerRevokes | Event::VendorRevokes | Event::FalseReuse => {
                self.grant_dies(t, self.introspection)
            }
            Event::ProviderRevokes => self.grant_dies(t, true),
            Event::RefreshTokenExpiry => self.grant_dies(t, false),
            Event::RefreshBindingLost => self.s.refresh_binding = false,
            Event::StolenBindingLost => self.s.stolen_binding = false,
            Event::MintedBindingLost => self.s.minted_binding = false,
            Event::AttackerCall => {
                if self.s.holds_usable_token(t) {
                    self.out.counters.calls_ok += 1;
                } else {
                    self.out.counters.calls_failed += 1;
                }
                self.next_call(t);
            }
            Event::EdgeFootholdLost => {
                if self.s.edge_foothold {
                    self.edge_foothold_ends(t);
                }
            }
            Event::FootholdLost => {
                if self.s.core_foothold
                    && self.run.strategy.rotation
                    && self.s.grant_alive
                    && self.s.legit_rt_current
                {
                    // The client's next refresh makes the attacker's copy stale.
                    self.legit_refresh_after(t);
                }
                self.s.core_foothold = false;
            }
        }
    }

    /// Schedules the attacker's next API call after `t` (event-by-event path only).
    fn next_call(&mut self, t: f64) {
        let rate = self.run.scenario.attacker.calls_per_hour(self.run.policy) / 3600.0;
        if let (Some(rng), true) = (self.calls.as_mut(), rate > 0.0) {
            let gap = -(1.0 - rng.uniform()).ln() / rate;
            self.queue.schedule(t + gap, Event::AttackerCall);
        }
    }

    /// The attacker leaves edge memory with the freshest access token there (edges get no new
    /// tokens after the grant died).
    fn edge_foothold_ends(&mut self, t: f64) {
        let run = self.run;
        let at = t.min(self.s.grant_dead_at);
        self.s.stolen_expiry =
            run.customer
                .freshest_edge_expiry_at(run.world, run.scenario.grant.edges, at);
        self.s.edge_foothold = false;
        self.queue
            .schedule(self.s.stolen_expiry, Event::StolenAccessExpiry);
    }

    fn grant_dies(&mut self, t: f64, revoke_ats: bool) {
        if self.s.grant_alive {
            self.s.grant_alive = false;
            self.s.grant_dead_at = t;
            if self.s.edge_foothold {
                self.edge_foothold_ends(t);
            }
        }
        self.s.ats_revoked |= revoke_ats;
    }

    fn locked_out_by_attack(&mut self, t: f64) {
        self.s.attack_lockout = self.s.attack_lockout.min(t);
        self.alert(Source::CustomerReport, t);
    }

    /// Schedules the client's first refresh at or after `t` as the one that matters.
    fn legit_refresh_after(&mut self, t: f64) {
        let c = self.run.customer;
        let (phase, period) = (c.legit_refresh_at, c.refresh_interval);
        let next = if t <= phase {
            phase
        } else {
            phase + ((t - phase) / period).ceil() * period
        };
        if next < self.s.legit_next {
            self.s.legit_next = next;
            self.queue.schedule(next, Event::LegitRefresh);
        }
    }

    /// A detection source fires for this customer: each source fires at most once per
    /// customer, with its probability, its delay after the triggering event.
    fn alert(&mut self, source: Source, t: f64) {
        let d = &self.run.scenario.detection;
        let (alert, coin, delay): (&Option<Alert>, u64, u64) = match source {
            Source::Reuse => (
                &d.reuse_alert,
                const { stream_id("detect/reuse-coin") },
                const { stream_id("detect/reuse-delay") },
            ),
            Source::Binding => (
                &d.binding_alert,
                const { stream_id("detect/binding-coin") },
                const { stream_id("detect/binding-delay") },
            ),
            Source::CustomerReport => (
                &d.customer_report,
                const { stream_id("detect/report-coin") },
                const { stream_id("detect/report-delay") },
            ),
        };
        let Some(a) = alert else { return };
        let u = |stream| {
            self.run
                .world
                .customer_uniform(stream, self.run.customer.id)
        };
        if u(coin) < a.probability {
            let at = t + a.delay.quantile(u(delay));
            self.s.first_alert = self.s.first_alert.min(at);
        }
    }

    /// A refresh attempt by a policy that only tries what can work, unless it probes.
    fn try_refresh(&mut self, t: f64) {
        if self.s.can_refresh() {
            self.refresh(t, true);
        } else if self.run.policy.probes() {
            self.failed_refresh(t);
        }
    }

    fn failed_refresh(&mut self, t: f64) {
        if !self.s.has_rt {
            return;
        }
        self.out.counters.refresh_failed += 1;
        if self.s.grant_alive && self.run.strategy.reuse_detection && !self.s.attacker_rt_current {
            // A stale (already rotated) refresh token is presented: the family is revoked.
            self.alert(Source::Reuse, t);
            self.grant_dies(t, self.introspection);
            self.locked_out_by_attack(t);
        } else if self.s.grant_alive && self.s.attacker_rt_current && !self.s.refresh_binding {
            self.alert(Source::Binding, t);
        }
    }

    /// A successful refresh at `t`; with `chain`, also every periodic refresh up to the next
    /// pending event (nothing can change state in between).
    fn refresh(&mut self, t: f64, chain: bool) {
        let run = self.run;
        let at_lifetime = run.customer.at_lifetime;
        if run.strategy.rotation {
            if self.s.legit_rt_current && self.s.grant_alive && self.s.legit_next.is_infinite() {
                // This refresh forks the family: it shows at the client's next refresh (when one
                // is already pending, it is that one).
                self.legit_refresh_after(t);
            }
            self.s.legit_rt_current = false;
        }
        let extra = if chain && !run.event_by_event {
            let next_pending = self.queue.peek_time().unwrap_or(f64::INFINITY);
            if next_pending.is_finite() {
                (((next_pending - t) / at_lifetime).ceil() - 1.0).max(0.0)
            } else {
                0.0
            }
        } else {
            0.0
        };
        // `extra` is huge (or infinite) when the AT lifetime is tiny: the cast saturates and the
        // counters saturate rather than wrap.
        let successes = (extra as u64).saturating_add(1);
        self.out.counters.refresh_ok = self.out.counters.refresh_ok.saturating_add(successes);
        if run.bindings.refresh_signs_on_device {
            self.out.counters.oracle_signatures = self
                .out
                .counters
                .oracle_signatures
                .saturating_add(successes);
        }
        self.s.minted_expiry = t + extra * at_lifetime + at_lifetime;
        self.queue
            .schedule(self.s.minted_expiry, Event::AttackerRefresh);
    }

    fn finish(mut self, rate: f64, active_seconds: f64) -> Outcome {
        let run = self.run;
        self.out.first_alert = self.s.first_alert;
        if run.alerts_only_until.is_some() {
            return self.out;
        }
        if rate > 0.0 && active_seconds > 0.0 && !run.event_by_event {
            let mut calls = run
                .world
                .customer_stream(const { stream_id("attacker/calls") }, run.customer.id);
            self.out.counters.calls_ok =
                poisson(&mut calls, rate * self.out.counters.usable_seconds);
            self.out.counters.calls_failed = poisson(
                &mut calls,
                rate * (active_seconds - self.out.counters.usable_seconds).max(0.0),
            );
        }
        if run.bindings.call_signs_on_device {
            self.out.counters.oracle_signatures += self.out.counters.calls_ok;
        }
        self.out.lockout_seconds = lockout(run, self.s.attack_lockout);
        self.out
    }
}
