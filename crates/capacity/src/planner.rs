//! From a workload and a token-binding strategy to device signatures per second, then to the
//! number of devices that keeps the p99 signing latency under an SLO with utilisation headroom.
//!
//! # Workload model
//! `agents` agents each run `edges_per_agent` edge workloads; each edge workload makes
//! `calls_per_s` API calls per second, holds its own access token (refreshed once per
//! `refresh_interval`, which may not exceed the AT lifetime: a client that refreshes less often
//! than its AT expires would call with an expired token) and keeps its connection to the resource
//! server for `connection_lifetime`.
//!
//! # What the device signs
//! One model, shared with the simulator: [`leaklab_base::catalogue`]. Device signatures per
//! second are `binding.device_signs().rate(fleet traffic)`; software signatures are the rest of
//! `binding.signs()`. Refreshes count once per edge token (100,000 agents × 4 edges with
//! 15-minute ATs make 444 refreshes/s), and mTLS signs a TLS `CertificateVerify` per refresh and
//! per connection.
//!
//! # Fleet model
//! The device load is split evenly over `d` identical devices, each an independent M/G/c queue
//! (c = the profile's internal parallelism) with Poisson arrivals at `load / d`. Splitting a
//! Poisson stream at random gives Poisson streams, so this is exact for random assignment and
//! pessimistic for join-the-shortest-queue balancing. The search returns the smallest `d` with
//! ρ < 1 and ρ ≤ headroom whose simulated p99 sojourn (queueing + signing) is ≤ the SLO. With
//! common random numbers a larger `d` stretches every inter-arrival gap of the same sample path,
//! which can only shorten waits, so the simulated p99 is monotone in `d` and a galloping + binary
//! search is exact for the simulated values.

use leaklab_base::catalogue::{Binding, SignRates, Traffic};
use serde::Serialize;

use super::{
    as_ms, closed_form, positive, positive_at_most, service, simulate, CapacityError,
    DeviceProfile, QueueConfig, QueueStats, MAX_RATE_PER_S,
};

/// The estate being sized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub agents: u64,
    pub edges_per_agent: u64,
    /// API calls per second per edge workload.
    pub calls_per_s: f64,
    pub at_lifetime_s: f64,
    pub refresh_interval_s: f64,
    /// How long an edge keeps one connection to the resource server (mTLS signs per connection).
    pub connection_lifetime_s: f64,
}

impl Workload {
    pub fn validate(&self) -> Result<(), CapacityError> {
        if self.agents == 0 {
            return Err(CapacityError::param("agents", "must be at least 1"));
        }
        if self.edges_per_agent == 0 {
            return Err(CapacityError::param(
                "edges per agent",
                "must be at least 1",
            ));
        }
        positive_at_most("calls per second", self.calls_per_s, MAX_RATE_PER_S)?;
        positive("AT lifetime", self.at_lifetime_s)?;
        positive("refresh interval", self.refresh_interval_s)?;
        positive("connection lifetime", self.connection_lifetime_s)?;
        if self.refresh_interval_s > self.at_lifetime_s {
            return Err(CapacityError::param(
                "refresh interval",
                format!(
                    "{} s is longer than the AT lifetime {} s (the agent would call with an expired token)",
                    self.refresh_interval_s, self.at_lifetime_s
                ),
            ));
        }
        Ok(())
    }

    /// One agent's traffic in the catalogue's terms.
    pub fn agent_traffic(&self) -> Traffic {
        Traffic {
            edges: self.edges_per_agent as f64,
            calls_per_s_per_edge: self.calls_per_s,
            refresh_interval_s: self.refresh_interval_s,
            connection_lifetime_s: self.connection_lifetime_s,
        }
    }

    /// The whole estate's traffic.
    pub fn traffic(&self) -> Traffic {
        self.agent_traffic().times(self.agents as f64)
    }
}

/// Signatures per second a strategy needs across the estate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SigningLoad {
    /// Signatures the TPMs/HSMs must make, per second.
    pub device_signs_per_s: f64,
    /// Signatures made with software keys (not device load), per second.
    pub software_signs_per_s: f64,
    /// Device signatures per second by cause (calls, refreshes, connections).
    pub device_signs: SignRates,
    /// What the device signs, in words.
    pub basis: &'static str,
}

/// The signing load of `binding` on `workload`.
pub fn signing_load(workload: &Workload, binding: Binding) -> SigningLoad {
    let fleet = workload.traffic();
    let device = binding.device_signs().rate(&fleet);
    let all = binding.signs().rate(&fleet);
    SigningLoad {
        device_signs_per_s: device.total(),
        software_signs_per_s: all.total() - device.total(),
        device_signs: device,
        basis: binding.basis(),
    }
}

/// How to size and simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSettings {
    /// SLO on the p99 sojourn time (queueing + signing), seconds.
    pub slo_p99_s: f64,
    /// Largest per-device utilisation a plan may have, in (0, 1].
    pub headroom: f64,
    /// A fixed fleet size; `None` searches the smallest that meets the SLO and the headroom.
    pub devices: Option<u64>,
    /// Upper bound of the search.
    pub max_devices: u64,
    /// Arrivals per simulated device queue (including warm-up).
    pub arrivals: u64,
    /// Arrivals discarded per run.
    pub warmup: u64,
    pub seed: u64,
}

impl PlanSettings {
    pub fn validate(&self) -> Result<(), CapacityError> {
        positive("SLO p99", self.slo_p99_s)?;
        if !(self.headroom > 0.0 && self.headroom <= 1.0) {
            return Err(CapacityError::param(
                "headroom",
                format!(
                    "must be a target utilisation in (0, 1], got {}",
                    self.headroom
                ),
            ));
        }
        if self.devices == Some(0) {
            return Err(CapacityError::param("devices", "must be at least 1"));
        }
        if self.max_devices == 0 {
            return Err(CapacityError::param("max devices", "must be at least 1"));
        }
        if self.arrivals == 0 || self.warmup >= self.arrivals {
            return Err(CapacityError::param(
                "simulated arrivals",
                format!(
                    "need more arrivals ({}) than warm-up ({})",
                    self.arrivals, self.warmup
                ),
            ));
        }
        Ok(())
    }
}

/// How the device count was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sizing {
    /// No device signatures: nothing to size.
    NoDeviceLoad,
    /// The caller fixed the number of devices.
    Given,
    /// Smallest count meeting the SLO and the headroom.
    Searched,
    /// The device's own p99 service time exceeds the SLO: no fleet size can meet it.
    SloBelowServiceTime,
    /// The search reached `max_devices` without meeting the SLO and the headroom.
    CapReached,
}

impl Sizing {
    /// The name used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            Sizing::NoDeviceLoad => "no-device-load",
            Sizing::Given => "given",
            Sizing::Searched => "searched",
            Sizing::SloBelowServiceTime => "slo-below-service-time",
            Sizing::CapReached => "cap-reached",
        }
    }
}

/// Which requirement set a searched fleet size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// ρ < 1 alone: the smallest stable fleet already meets the SLO and the headroom.
    Stability,
    /// ρ ≤ headroom.
    Headroom,
    /// The p99 SLO needs more devices than stability and headroom.
    Slo,
}

impl Limit {
    /// The name used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Stability => "stability",
            Limit::Headroom => "headroom",
            Limit::Slo => "slo",
        }
    }
}

/// One device per agent (a TPM in each agent's host): the load each such device sees.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DedicatedDevice {
    pub signs_per_s: f64,
    pub slo_met: bool,
    pub queue: QueueStats,
}

/// The answer for one strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyPlan {
    pub strategy: Binding,
    pub profile: String,
    #[serde(flatten)]
    pub load: SigningLoad,
    pub sizing: Sizing,
    /// What set the size of a searched fleet.
    pub limited_by: Option<Limit>,
    /// The fleet size the statistics refer to (`None` if no size meets the SLO).
    pub devices: Option<u64>,
    /// Smallest count with ρ < 1 (0 when there is no device load).
    pub min_devices_for_stability: u64,
    /// Smallest count with ρ ≤ headroom (0 when there is no device load).
    pub min_devices_for_headroom: u64,
    /// Signatures per second per device at that size.
    pub per_device_signs_per_s: Option<f64>,
    /// Simulated per-device queue at that size.
    pub per_device: Option<QueueStats>,
    /// Pollaczek–Khinchine / Erlang C mean wait at that size where a closed form exists.
    #[serde(
        rename = "closed_form_waiting_mean_ms",
        serialize_with = "as_ms::option"
    )]
    pub closed_form_mean_wait_s: Option<f64>,
    pub slo_met: Option<bool>,
    /// Offered per-device utilisation ≤ headroom at that size.
    pub headroom_met: Option<bool>,
    /// The same load with one device per agent.
    #[serde(rename = "one_device_per_agent")]
    pub dedicated: Option<DedicatedDevice>,
    /// Caveats in words.
    pub note: String,
}

fn device_queue(rate: f64, profile: &DeviceProfile, s: &PlanSettings) -> QueueConfig {
    profile.queue(rate, s.arrivals, s.warmup, s.seed)
}

fn count(x: f64) -> u64 {
    if x >= u64::MAX as f64 {
        u64::MAX
    } else {
        x as u64
    }
}

/// Smallest device count with ρ = load·E\[S\]/(c·d) < 1.
pub fn min_devices_for_stability(load: f64, profile: &DeviceProfile) -> u64 {
    if load <= 0.0 {
        return 0;
    }
    count((load / profile.capacity_per_s()).floor()).saturating_add(1)
}

/// Smallest device count with ρ ≤ `headroom`.
pub fn min_devices_for_headroom(load: f64, profile: &DeviceProfile, headroom: f64) -> u64 {
    if load <= 0.0 {
        return 0;
    }
    count((load / (profile.capacity_per_s() * headroom)).ceil()).max(1)
}

/// Sizes the fleet for one strategy.
pub fn plan_strategy(
    workload: &Workload,
    binding: Binding,
    profile: &DeviceProfile,
    settings: &PlanSettings,
) -> Result<StrategyPlan, CapacityError> {
    workload.validate()?;
    settings.validate()?;
    service::validate(&profile.service)?;
    let load = signing_load(workload, binding);
    let rate = load.device_signs_per_s;
    let d_stable = min_devices_for_stability(rate, profile);
    let d_headroom = min_devices_for_headroom(rate, profile, settings.headroom);
    let mut plan = StrategyPlan {
        strategy: binding,
        profile: profile.name.clone(),
        load,
        sizing: Sizing::NoDeviceLoad,
        limited_by: None,
        devices: None,
        min_devices_for_stability: d_stable,
        min_devices_for_headroom: d_headroom,
        per_device_signs_per_s: None,
        per_device: None,
        closed_form_mean_wait_s: None,
        slo_met: None,
        headroom_met: None,
        dedicated: None,
        note: String::new(),
    };
    if rate <= 0.0 {
        plan.devices = Some(0);
        plan.note = "no device signatures: nothing to size".into();
        return Ok(plan);
    }
    let slo = settings.slo_p99_s;
    let eval = |d: u64| -> Result<QueueStats, CapacityError> {
        simulate(&device_queue(rate / d as f64, profile, settings))
    };
    // The search starts at `lower`, which already keeps ρ ≤ headroom; the SLO is checked here.
    let meets = |st: &QueueStats| st.stable && st.sojourn.p99 <= slo;
    let p99_service = service::quantile(&profile.service, 0.99);
    let lower = d_stable.max(d_headroom);

    let chosen: Option<(u64, QueueStats)> = if let Some(d) = settings.devices {
        plan.sizing = Sizing::Given;
        Some((d, eval(d)?))
    } else if p99_service > slo {
        plan.sizing = Sizing::SloBelowServiceTime;
        plan.note = format!(
            "the device's own p99 signing time ({:.3} ms) exceeds the SLO ({:.3} ms): no number of devices meets it",
            p99_service * 1e3,
            slo * 1e3
        );
        None
    } else {
        match search(lower, settings.max_devices, &eval, &meets)? {
            Some(found) => {
                plan.sizing = Sizing::Searched;
                plan.limited_by = Some(if found.0 > lower {
                    Limit::Slo
                } else if d_headroom > d_stable {
                    Limit::Headroom
                } else {
                    Limit::Stability
                });
                Some(found)
            }
            None => {
                plan.sizing = Sizing::CapReached;
                plan.note = format!(
                    "no fleet of up to {} devices meets the SLO and the headroom (needs at least {d_stable} for stability, {d_headroom} for ρ ≤ {})",
                    settings.max_devices, settings.headroom
                );
                None
            }
        }
    };
    if let Some((d, st)) = chosen {
        let per_device = rate / d as f64;
        plan.devices = Some(d);
        plan.per_device_signs_per_s = Some(per_device);
        plan.closed_form_mean_wait_s =
            closed_form::mean_wait(per_device, &profile.service, profile.servers);
        plan.slo_met = Some(meets(&st));
        // A relative tolerance absorbs the rounding between `capacity_per_s` and λ·E[S]/c.
        plan.headroom_met = Some(st.offered_utilisation <= settings.headroom * (1.0 + 1e-12));
        if !st.stable {
            plan.note = format!(
                "{d} devices are overloaded (ρ = {:.3} ≥ 1)",
                st.offered_utilisation
            );
        }
        plan.per_device = Some(st);
    }
    let per_agent = rate / workload.agents as f64;
    if per_agent <= MAX_RATE_PER_S {
        let st = simulate(&device_queue(per_agent, profile, settings))?;
        plan.dedicated = Some(DedicatedDevice {
            signs_per_s: per_agent,
            slo_met: meets(&st),
            queue: st,
        });
    }
    Ok(plan)
}

/// Galloping then binary search for the smallest `d` in `[d_min, cap]` with `meets(eval(d))`.
fn search(
    d_min: u64,
    cap: u64,
    eval: &dyn Fn(u64) -> Result<QueueStats, CapacityError>,
    meets: &dyn Fn(&QueueStats) -> bool,
) -> Result<Option<(u64, QueueStats)>, CapacityError> {
    if d_min > cap {
        return Ok(None);
    }
    let mut lo = d_min.saturating_sub(1); // largest count known to fail
    let mut step: u64 = 1;
    let mut hi = d_min;
    let mut best = loop {
        let st = eval(hi)?;
        if meets(&st) {
            break (hi, st);
        }
        if hi == cap {
            return Ok(None);
        }
        lo = hi;
        hi = d_min.saturating_add(step).min(cap);
        step = step.saturating_mul(2);
    };
    while best.0 - lo > 1 {
        let mid = lo + (best.0 - lo) / 2;
        let st = eval(mid)?;
        if meets(&st) {
            best = (mid, st);
        } else {
            lo = mid;
        }
    }
    Ok(Some(best))
}

/// One point of a latency-versus-load sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SweepPoint {
    /// Per-device offered utilisation.
    pub rho: f64,
    pub per_device_signs_per_s: f64,
    /// Offered signatures per second across the fleet.
    pub offered_signs_per_s: f64,
    pub stats: QueueStats,
}

/// Simulates a fleet of `devices` devices at each per-device utilisation in `rhos`.
pub fn sweep(
    profile: &DeviceProfile,
    devices: u64,
    rhos: &[f64],
    settings: &PlanSettings,
) -> Result<Vec<SweepPoint>, CapacityError> {
    settings.validate()?;
    if devices == 0 {
        return Err(CapacityError::param("devices", "must be at least 1"));
    }
    rhos.iter()
        .map(|&rho| {
            positive("sweep utilisation", rho)?;
            let per_device = rho * profile.capacity_per_s();
            let stats = simulate(&device_queue(per_device, profile, settings))?;
            Ok(SweepPoint {
                rho,
                per_device_signs_per_s: per_device,
                offered_signs_per_s: per_device * devices as f64,
                stats,
            })
        })
        .collect()
}

/// ρ = 0.05, 0.10, …, 0.95.
pub fn default_sweep_rhos() -> Vec<f64> {
    (1..=19).map(|i| f64::from(i) * 0.05).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::deterministic;

    fn workload() -> Workload {
        Workload {
            agents: 100_000,
            edges_per_agent: 4,
            calls_per_s: 1.0,
            at_lifetime_s: 900.0,
            refresh_interval_s: 900.0,
            connection_lifetime_s: 3600.0,
        }
    }

    fn device(ms: f64, throughput_only: bool) -> DeviceProfile {
        DeviceProfile {
            name: "dev".into(),
            kind: "tpm".into(),
            description: String::new(),
            source: String::new(),
            figure: String::new(),
            servers: 1,
            service: deterministic(ms / 1e3).unwrap(),
            throughput_only,
            notes: String::new(),
        }
    }

    fn settings() -> PlanSettings {
        PlanSettings {
            slo_p99_s: 0.25,
            headroom: 1.0,
            devices: None,
            max_devices: 10_000_000,
            arrivals: 50_000,
            warmup: 5_000,
            seed: 1,
        }
    }

    #[test]
    fn load_arithmetic_counts_one_refresh_per_edge_token() {
        let w = workload();
        let refreshes = 400_000.0 / 900.0; // 444.4/s
        let single = signing_load(&w, Binding::SingleDpop);
        assert!((single.device_signs_per_s - (400_000.0 + refreshes)).abs() < 1e-6);
        let split = signing_load(&w, Binding::SplitDpop);
        assert!((split.device_signs_per_s - 444.444).abs() < 1e-3);
        // per-call proofs plus the new AT key's proof at each refresh
        assert!((split.software_signs_per_s - (400_000.0 + refreshes)).abs() < 1e-6);
        assert_eq!(signing_load(&w, Binding::Bearer).device_signs_per_s, 0.0);
        let mtls = signing_load(&w, Binding::Mtls);
        let connections = 400_000.0 / 3600.0;
        assert!((mtls.device_signs_per_s - (refreshes + connections)).abs() < 1e-6);
        assert!((mtls.device_signs.connections - connections).abs() < 1e-9);
        assert!((signing_load(&w, Binding::Jwks).device_signs_per_s - refreshes).abs() < 1e-6);
    }

    #[test]
    fn workload_validation() {
        let mut w = workload();
        w.refresh_interval_s = 1000.0;
        assert!(w.validate().unwrap_err().to_string().contains("expired"));
        let mut w = workload();
        w.agents = 0;
        assert!(w.validate().is_err());
        let mut w = workload();
        w.calls_per_s = f64::NAN;
        assert!(w.validate().is_err());
        let mut w = workload();
        w.calls_per_s = 1e300;
        assert!(w.validate().unwrap_err().to_string().contains("maximum"));
    }

    #[test]
    fn search_finds_smallest_fleet() {
        let w = workload();
        let p = device(50.0, false);
        let s = settings();
        let plan = plan_strategy(&w, Binding::SplitDpop, &p, &s).unwrap();
        assert_eq!(plan.sizing, Sizing::Searched);
        let d = plan.devices.unwrap();
        // 444.4 × 0.05 = 22.2 Erlangs
        assert_eq!(plan.min_devices_for_stability, 23);
        assert!(d >= 23);
        assert_eq!(plan.slo_met, Some(true));
        let fewer = PlanSettings {
            devices: Some(d - 1),
            ..s.clone()
        };
        let worse = plan_strategy(&w, Binding::SplitDpop, &p, &fewer).unwrap();
        assert_eq!(worse.slo_met, Some(false));
    }

    #[test]
    fn headroom_caps_utilisation() {
        let w = workload();
        // A fast device: the SLO alone lets single DPoP run it at ρ close to 1.
        let p = device(1.0, true);
        let loose = plan_strategy(&w, Binding::SingleDpop, &p, &settings()).unwrap();
        let rho = loose.per_device.as_ref().unwrap().offered_utilisation;
        assert!(rho > 0.9, "{rho}");
        let s = PlanSettings {
            headroom: 0.7,
            ..settings()
        };
        let plan = plan_strategy(&w, Binding::SingleDpop, &p, &s).unwrap();
        let st = plan.per_device.as_ref().unwrap();
        assert!(st.offered_utilisation <= 0.7, "{}", st.offered_utilisation);
        assert_eq!(plan.limited_by, Some(Limit::Headroom));
        assert_eq!(plan.headroom_met, Some(true));
        let d = plan.devices.unwrap();
        assert_eq!(d, plan.min_devices_for_headroom);
        // One device fewer would exceed the headroom.
        let erlangs = plan.load.device_signs_per_s * 1e-3;
        assert!(erlangs / (d - 1) as f64 > 0.7 && erlangs / d as f64 <= 0.7);
        for bad in [0.0, 1.5, f64::NAN] {
            let s = PlanSettings {
                headroom: bad,
                ..settings()
            };
            assert!(
                plan_strategy(&w, Binding::SplitDpop, &p, &s).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn impossible_slo_and_cap_are_reported() {
        let w = workload();
        let s = PlanSettings {
            slo_p99_s: 0.04,
            ..settings()
        };
        let plan = plan_strategy(&w, Binding::SplitDpop, &device(50.0, false), &s).unwrap();
        assert_eq!(plan.sizing, Sizing::SloBelowServiceTime);
        assert_eq!(plan.devices, None);
        let s = PlanSettings {
            max_devices: 3,
            ..settings()
        };
        let plan = plan_strategy(&w, Binding::SplitDpop, &device(50.0, false), &s).unwrap();
        assert_eq!(plan.sizing, Sizing::CapReached);
    }

    #[test]
    fn no_load_needs_no_devices() {
        let plan = plan_strategy(
            &workload(),
            Binding::Bearer,
            &device(50.0, false),
            &settings(),
        )
        .unwrap();
        assert_eq!(plan.sizing, Sizing::NoDeviceLoad);
        assert_eq!(plan.devices, Some(0));
    }
}
