//! From a workload and a token-binding strategy to device signatures per second, then to the
//! number of devices that keeps the p99 signing latency under an SLO.
//!
//! # Workload model
//! `agents` agents each run `edges_per_agent` edge workloads; each edge workload makes
//! `calls_per_sec` API calls per second. Each agent refreshes its access token(s) once per
//! `refresh_interval` (which may not exceed the AT lifetime: an agent that refreshes less often
//! than its AT expires would call with an expired token). The agent's core holds the refresh
//! token and refreshes on behalf of its edges, so refreshes are `agents / refresh_interval` per
//! second for every strategy.
//!
//! # What the device signs, per strategy
//! * `single-dpop` (RFC 9449, <https://www.rfc-editor.org/rfc/rfc9449>) with the DPoP key in the
//!   TPM/HSM: one proof per API call plus one per refresh.
//! * `split-dpop` (DPoP-RT, <https://datatracker.ietf.org/doc/draft-rosomakho-oauth-dpop-rt/>):
//!   the device key signs one DPoP-RT proof per refresh; per-call AT proofs use a software key
//!   at the edges (counted as software signatures, not device load).
//! * `bearer`: no signatures at all.
//! * `mtls` (RFC 8705, <https://www.rfc-editor.org/rfc/rfc8705>): no per-call signature; the
//!   TLS handshake signs once per connection, not per call, and is not modelled.
//! * `jwks` (`private_key_jwt`, RFC 7523 §2.2, <https://www.rfc-editor.org/rfc/rfc7523>): no
//!   per-call signature; the client assertion at each refresh is device-signed when the client
//!   key lives in the device, so one device signature per refresh.
//!
//! # Fleet model
//! The device load is split evenly over `d` identical devices, each an independent M/G/c queue
//! (c = the profile's internal parallelism) with Poisson arrivals at `load / d`. Splitting a
//! Poisson stream at random gives Poisson streams, so this is exact for random assignment and
//! pessimistic for join-the-shortest-queue balancing. The search returns the smallest `d` with
//! ρ < 1 whose simulated p99 sojourn (queueing + signing) is ≤ the SLO. With common random
//! numbers a larger `d` stretches every inter-arrival gap of the same sample path, which can
//! only shorten waits, so the simulated p99 is monotone in `d` and a galloping + binary search
//! is exact for the simulated values.

use serde::Serialize;

use super::{
    closed_form, positive, simulate, CapacityError, DeviceProfile, QueueConfig, QueueStats,
};

/// A token-binding strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    SingleDpop,
    SplitDpop,
    Bearer,
    Mtls,
    Jwks,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [
        Strategy::SingleDpop,
        Strategy::SplitDpop,
        Strategy::Bearer,
        Strategy::Mtls,
        Strategy::Jwks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::SingleDpop => "single-dpop",
            Strategy::SplitDpop => "split-dpop",
            Strategy::Bearer => "bearer",
            Strategy::Mtls => "mtls",
            Strategy::Jwks => "jwks",
        }
    }

    /// Parses one strategy name, or `all`.
    pub fn parse_list(name: &str) -> Result<Vec<Strategy>, CapacityError> {
        if name == "all" {
            return Ok(Strategy::ALL.to_vec());
        }
        Strategy::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .map(|s| vec![s])
            .ok_or_else(|| {
                let mut allowed: Vec<String> =
                    Strategy::ALL.iter().map(|s| s.name().to_string()).collect();
                allowed.push("all".into());
                CapacityError::UnknownStrategy {
                    name: name.to_string(),
                    allowed,
                }
            })
    }

    fn basis(self) -> &'static str {
        match self {
            Strategy::SingleDpop => "device signs one DPoP proof per API call and one per refresh",
            Strategy::SplitDpop => {
                "device signs one DPoP-RT proof per refresh per agent; per-call AT proofs are software-signed at the edges"
            }
            Strategy::Bearer => "no signatures",
            Strategy::Mtls => "no per-call signature (TLS handshake signs per connection, not modelled)",
            Strategy::Jwks => "device signs one private_key_jwt client assertion per refresh per agent",
        }
    }
}

/// The estate being sized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub agents: u64,
    pub edges_per_agent: u64,
    /// API calls per second per edge workload.
    pub calls_per_sec: f64,
    pub at_lifetime_s: f64,
    pub refresh_interval_s: f64,
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
        positive("calls per second", self.calls_per_sec)?;
        positive("AT lifetime", self.at_lifetime_s)?;
        positive("refresh interval", self.refresh_interval_s)?;
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

    /// All API calls of the estate per second.
    pub fn api_calls_per_s(&self) -> f64 {
        self.agents as f64 * self.edges_per_agent as f64 * self.calls_per_sec
    }

    /// Token refreshes of the estate per second.
    pub fn refreshes_per_s(&self) -> f64 {
        self.agents as f64 / self.refresh_interval_s
    }
}

/// Signatures per second a strategy needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SigningLoad {
    /// Signatures the TPMs/HSMs must make, per second, across the estate.
    pub device_signs_per_s: f64,
    /// Signatures made with software keys (not device load), per second.
    pub software_signs_per_s: f64,
    /// What is signed, in words.
    pub basis: &'static str,
}

/// The signing load of `strategy` on `workload`.
pub fn signing_load(workload: &Workload, strategy: Strategy) -> SigningLoad {
    let (calls, refreshes) = (workload.api_calls_per_s(), workload.refreshes_per_s());
    let (device, software) = match strategy {
        Strategy::SingleDpop => (calls + refreshes, 0.0),
        Strategy::SplitDpop => (refreshes, calls),
        Strategy::Bearer | Strategy::Mtls => (0.0, 0.0),
        Strategy::Jwks => (refreshes, 0.0),
    };
    SigningLoad {
        device_signs_per_s: device,
        software_signs_per_s: software,
        basis: strategy.basis(),
    }
}

/// How to size and simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSettings {
    /// SLO on the p99 sojourn time (queueing + signing), seconds.
    pub slo_p99_s: f64,
    /// A fixed fleet size; `None` searches the smallest that meets the SLO.
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
    /// Smallest count meeting the SLO.
    Searched,
    /// The device's own p99 service time exceeds the SLO: no fleet size can meet it.
    SloBelowServiceTime,
    /// The search reached `max_devices` without meeting the SLO.
    CapReached,
}

/// One device per agent (a TPM in each agent's host): the load each such device sees.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DedicatedDevice {
    pub signs_per_s: f64,
    pub stats: QueueStats,
    pub slo_met: bool,
}

/// The answer for one strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StrategyPlan {
    pub strategy: Strategy,
    pub profile: String,
    pub load: SigningLoad,
    /// Smallest count with ρ < 1 (0 when there is no device load).
    pub min_devices_for_stability: u64,
    pub sizing: Sizing,
    /// The fleet size the statistics refer to (`None` if no size meets the SLO).
    pub devices: Option<u64>,
    /// Signatures per second per device at that size.
    pub per_device_signs_per_s: Option<f64>,
    /// Simulated per-device queue at that size.
    pub stats: Option<QueueStats>,
    /// Pollaczek–Khinchine / Erlang C mean wait at that size where a closed form exists (s).
    pub closed_form_mean_wait_s: Option<f64>,
    pub slo_met: Option<bool>,
    /// The same load with one device per agent.
    pub dedicated: Option<DedicatedDevice>,
    /// Caveats in words.
    pub note: String,
}

fn device_queue(rate: f64, profile: &DeviceProfile, s: &PlanSettings) -> QueueConfig {
    QueueConfig {
        arrival_rate: rate,
        servers: profile.servers,
        service: profile.service.clone(),
        arrivals: s.arrivals,
        warmup: s.warmup,
        seed: s.seed,
    }
}

/// Smallest device count with ρ = load·E\[S\]/(c·d) < 1.
pub fn min_devices_for_stability(load: f64, profile: &DeviceProfile) -> u64 {
    if load <= 0.0 {
        return 0;
    }
    let x = load / profile.capacity_per_s();
    if x >= u64::MAX as f64 {
        u64::MAX
    } else {
        x.floor() as u64 + 1
    }
}

/// Sizes the fleet for one strategy.
pub fn plan_strategy(
    workload: &Workload,
    strategy: Strategy,
    profile: &DeviceProfile,
    settings: &PlanSettings,
) -> Result<StrategyPlan, CapacityError> {
    workload.validate()?;
    settings.validate()?;
    profile.service.validate()?;
    let load = signing_load(workload, strategy);
    let rate = load.device_signs_per_s;
    let d_min = min_devices_for_stability(rate, profile);
    let mut plan = StrategyPlan {
        strategy,
        profile: profile.name.clone(),
        load,
        min_devices_for_stability: d_min,
        sizing: Sizing::NoDeviceLoad,
        devices: None,
        per_device_signs_per_s: None,
        stats: None,
        closed_form_mean_wait_s: None,
        slo_met: None,
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
    let meets = |st: &QueueStats| st.stable && st.sojourn.p99 <= slo;

    let chosen: Option<(u64, QueueStats)> = if let Some(d) = settings.devices {
        plan.sizing = Sizing::Given;
        Some((d, eval(d)?))
    } else if profile.service.quantile(0.99) > slo {
        plan.sizing = Sizing::SloBelowServiceTime;
        plan.note = format!(
            "the device's own p99 signing time ({:.3} ms) exceeds the SLO ({:.3} ms): no number of devices meets it",
            profile.service.quantile(0.99) * 1e3,
            slo * 1e3
        );
        None
    } else {
        match search(d_min, settings.max_devices, &eval, &meets)? {
            Some(found) => {
                plan.sizing = Sizing::Searched;
                Some(found)
            }
            None => {
                plan.sizing = Sizing::CapReached;
                plan.note = format!(
                    "no fleet of up to {} devices meets the SLO (needs at least {d_min} for stability)",
                    settings.max_devices
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
        if !st.stable {
            plan.note = format!(
                "{d} devices are overloaded (ρ = {:.3} ≥ 1)",
                st.offered_utilisation
            );
        }
        plan.stats = Some(st);
    }
    let per_agent = rate / workload.agents as f64;
    let st = simulate(&device_queue(per_agent, profile, settings))?;
    plan.dedicated = Some(DedicatedDevice {
        signs_per_s: per_agent,
        slo_met: meets(&st),
        stats: st,
    });
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
    let mut lo = d_min.saturating_sub(1); // largest count known to fail (ρ ≥ 1 below d_min)
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
    use crate::capacity::ServiceDist;

    fn workload() -> Workload {
        Workload {
            agents: 100_000,
            edges_per_agent: 4,
            calls_per_sec: 1.0,
            at_lifetime_s: 900.0,
            refresh_interval_s: 900.0,
        }
    }

    fn tpm(ms: f64) -> DeviceProfile {
        DeviceProfile {
            name: "tpm".into(),
            kind: "tpm".into(),
            description: String::new(),
            source: String::new(),
            figure: String::new(),
            servers: 1,
            service: ServiceDist::deterministic(ms / 1e3).unwrap(),
            notes: String::new(),
        }
    }

    fn settings() -> PlanSettings {
        PlanSettings {
            slo_p99_s: 0.25,
            devices: None,
            max_devices: 10_000_000,
            arrivals: 50_000,
            warmup: 5_000,
            seed: 1,
        }
    }

    #[test]
    fn load_arithmetic() {
        let w = workload();
        let single = signing_load(&w, Strategy::SingleDpop);
        assert!((single.device_signs_per_s - (400_000.0 + 100_000.0 / 900.0)).abs() < 1e-6);
        let split = signing_load(&w, Strategy::SplitDpop);
        assert!((split.device_signs_per_s - 111.111).abs() < 1e-3);
        assert_eq!(split.software_signs_per_s, 400_000.0);
        assert_eq!(signing_load(&w, Strategy::Bearer).device_signs_per_s, 0.0);
        assert_eq!(signing_load(&w, Strategy::Mtls).device_signs_per_s, 0.0);
        assert!((signing_load(&w, Strategy::Jwks).device_signs_per_s - 111.111).abs() < 1e-3);
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
        w.calls_per_sec = f64::NAN;
        assert!(w.validate().is_err());
    }

    #[test]
    fn search_finds_smallest_fleet() {
        let w = workload();
        let p = tpm(50.0);
        let s = settings();
        let plan = plan_strategy(&w, Strategy::SplitDpop, &p, &s).unwrap();
        assert_eq!(plan.sizing, Sizing::Searched);
        let d = plan.devices.unwrap();
        assert!(d >= plan.min_devices_for_stability);
        assert_eq!(plan.min_devices_for_stability, 6); // 111.1 × 0.05 = 5.56
        assert_eq!(plan.slo_met, Some(true));
        // One fewer device misses the SLO (or is unstable).
        let fewer = PlanSettings {
            devices: Some(d - 1),
            ..s.clone()
        };
        let worse = plan_strategy(&w, Strategy::SplitDpop, &p, &fewer).unwrap();
        assert_eq!(worse.slo_met, Some(false));
    }

    #[test]
    fn impossible_slo_and_cap_are_reported() {
        let w = workload();
        let s = PlanSettings {
            slo_p99_s: 0.04,
            ..settings()
        };
        let plan = plan_strategy(&w, Strategy::SplitDpop, &tpm(50.0), &s).unwrap();
        assert_eq!(plan.sizing, Sizing::SloBelowServiceTime);
        assert_eq!(plan.devices, None);
        let s = PlanSettings {
            max_devices: 3,
            ..settings()
        };
        let plan = plan_strategy(&w, Strategy::SplitDpop, &tpm(50.0), &s).unwrap();
        assert_eq!(plan.sizing, Sizing::CapReached);
    }

    #[test]
    fn no_load_needs_no_devices() {
        let plan = plan_strategy(&workload(), Strategy::Bearer, &tpm(50.0), &settings()).unwrap();
        assert_eq!(plan.sizing, Sizing::NoDeviceLoad);
        assert_eq!(plan.devices, Some(0));
    }

    #[test]
    fn strategy_names() {
        assert_eq!(Strategy::parse_list("all").unwrap().len(), 5);
        assert_eq!(
            Strategy::parse_list("split-dpop").unwrap(),
            vec![Strategy::SplitDpop]
        );
        let e = Strategy::parse_list("dpop").unwrap_err().to_string();
        assert!(e.contains("single-dpop") && e.contains("all"), "{e}");
    }
}
