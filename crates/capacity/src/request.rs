//! What a caller (the command line) asks for, merged with a scenario's `[capacity]` table and the
//! defaults, written once here: flags override the table, the table overrides the defaults.

use std::path::{Path, PathBuf};

use leaklab_base::catalogue::Binding;
use leaklab_base::duration::{parse_duration, Policy};

use super::planner::{parse_strategies, PlanSettings, Workload};
use super::scenario::{parse_capacity_table, CapacityScenario};
use super::{positive_at_most, CapacityError, MAX_RATE_PER_S, MAX_SERVICE_TIME_S};

/// p99 signing-latency SLO when none is given (ms).
pub const DEFAULT_SLO_MS: f64 = 100.0;
/// Target utilisation of throughput-only profiles (cloud HSM/KMS, whose vendors publish no
/// latency, so the SLO alone would let a plan run the devices at ρ ≈ 0.99).
pub const DEFAULT_THROUGHPUT_HEADROOM: f64 = 0.7;
/// Connection lifetime when none is given (1 h): a connection pool's usual maximum age.
pub const DEFAULT_CONNECTION_LIFETIME_S: f64 = 3600.0;
pub const DEFAULT_SIM_ARRIVALS: u64 = 200_000;
pub const DEFAULT_DIRECT_ARRIVALS: u64 = 1_000_000;
pub const DEFAULT_MAX_DEVICES: u64 = 10_000_000;
pub const DEFAULT_SEED: u64 = 1;
/// Where `leaklab bench signers` writes its measurements (read when present).
pub const DEFAULT_SIGNERS_CSV: &str = "results/signers.csv";

/// A service-time model chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceModel {
    Exponential,
    Deterministic,
}

/// Command-line values; `None` / `false` where a flag was not given.
#[derive(Debug, Clone, Default)]
pub struct CapacityFlags {
    pub agents: Option<u64>,
    pub edges_per_agent: Option<u64>,
    pub calls_per_s: Option<f64>,
    pub at_lifetime: Option<String>,
    pub refresh_interval: Option<String>,
    pub connection_lifetime: Option<String>,
    pub strategy: Option<String>,
    pub device: Option<String>,
    pub devices: Option<u64>,
    pub slo_p99_ms: Option<f64>,
    pub headroom: Option<f64>,
    pub scenario: Option<PathBuf>,
    /// Only checked here (direct mode refuses it); the caller writes the files.
    pub out: Option<PathBuf>,
    pub profiles: Option<PathBuf>,
    pub signers_csv: Option<PathBuf>,
    pub list_profiles: bool,
    pub max_devices: Option<u64>,
    pub sim_arrivals: Option<u64>,
    pub seed: Option<u64>,
    pub service: Option<ServiceModel>,
    pub arrival_rate: Option<f64>,
    pub service_time_ms: Option<f64>,
    pub arrivals: Option<u64>,
    pub warmup: Option<u64>,
}

/// Where device profiles come from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileSources {
    /// Published profiles TOML (default: the built-in `scenarios/device-profiles.toml`).
    pub profiles: Option<PathBuf>,
    /// Measured profiles (default: `results/signers.csv` if present).
    pub signers_csv: Option<PathBuf>,
}

/// One queue, simulated directly.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRequest {
    pub arrival_rate: f64,
    pub service_time_s: f64,
    pub service: ServiceModel,
    pub servers: u32,
    pub arrivals: u64,
    pub warmup: u64,
    pub seed: u64,
}

/// A fleet-sizing question.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRequest {
    pub workload: Workload,
    pub strategies: Vec<Binding>,
    pub device: String,
    pub slo_p99_s: f64,
    /// `None`: [`DEFAULT_THROUGHPUT_HEADROOM`] for throughput-only profiles, 1 otherwise.
    pub headroom: Option<f64>,
    pub devices: Option<u64>,
    pub max_devices: u64,
    pub arrivals: u64,
    pub warmup: u64,
    pub seed: u64,
    /// Replaces the profile's service model, keeping its mean.
    pub service: Option<ServiceModel>,
    pub sources: ProfileSources,
}

impl PlanRequest {
    /// The planner settings once the profile (and so the default headroom) is known.
    pub fn settings(&self, throughput_only: bool) -> PlanSettings {
        PlanSettings {
            slo_p99_s: self.slo_p99_s,
            headroom: self.headroom.unwrap_or(if throughput_only {
                DEFAULT_THROUGHPUT_HEADROOM
            } else {
                1.0
            }),
            devices: self.devices,
            max_devices: self.max_devices,
            arrivals: self.arrivals,
            warmup: self.warmup,
            seed: self.seed,
        }
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    ListProfiles(ProfileSources),
    Queue(QueueRequest),
    Plan(PlanRequest),
}

pub(crate) fn read(path: &Path) -> Result<String, CapacityError> {
    std::fs::read_to_string(path).map_err(|source| CapacityError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn flag_number(flag: &str, v: f64, max: f64) -> Result<f64, CapacityError> {
    positive_at_most(&format!("--{flag}"), v, max)
}

fn flag_duration(flag: &str, text: Option<&str>) -> Result<Option<f64>, CapacityError> {
    text.map(|t| {
        parse_duration(t, Policy::UnitRequiredPositive).map_err(|reason| {
            CapacityError::InvalidDuration {
                flag: format!("--{flag}"),
                input: t.to_string(),
                reason,
            }
        })
    })
    .transpose()
}

impl CapacityFlags {
    /// Checks the flags, reads the scenario file and applies the defaults.
    pub fn into_request(self) -> Result<Request, CapacityError> {
        let sources = ProfileSources {
            profiles: self.profiles.clone(),
            signers_csv: self.signers_csv.clone(),
        };
        if self.list_profiles {
            return Ok(Request::ListProfiles(sources));
        }
        if self.arrival_rate.is_some() || self.service_time_ms.is_some() {
            return self.queue_request().map(Request::Queue);
        }
        self.plan_request(sources).map(Request::Plan)
    }

    fn queue_request(&self) -> Result<QueueRequest, CapacityError> {
        let planner_flags = [
            ("agents", self.agents.is_some()),
            ("edges-per-agent", self.edges_per_agent.is_some()),
            ("calls-per-s", self.calls_per_s.is_some()),
            ("at-lifetime", self.at_lifetime.is_some()),
            ("refresh-interval", self.refresh_interval.is_some()),
            ("connection-lifetime", self.connection_lifetime.is_some()),
            ("strategy", self.strategy.is_some()),
            ("device", self.device.is_some()),
            ("slo-p99-ms", self.slo_p99_ms.is_some()),
            ("headroom", self.headroom.is_some()),
            ("scenario", self.scenario.is_some()),
            ("out", self.out.is_some()),
            ("max-devices", self.max_devices.is_some()),
            ("sim-arrivals", self.sim_arrivals.is_some()),
        ];
        let clash: Vec<String> = planner_flags
            .iter()
            .filter(|(_, set)| *set)
            .map(|(n, _)| format!("--{n}"))
            .collect();
        if !clash.is_empty() {
            return Err(CapacityError::Conflict(format!(
                "direct queue mode (--arrival-rate/--service-time-ms) does not take planner flags: {}",
                clash.join(", ")
            )));
        }
        let missing =
            |flag: &str| CapacityError::Conflict(format!("direct queue mode needs --{flag}"));
        let rate = self.arrival_rate.ok_or_else(|| missing("arrival-rate"))?;
        let ms = self
            .service_time_ms
            .ok_or_else(|| missing("service-time-ms"))?;
        let servers = self.devices.unwrap_or(1);
        let servers = u32::try_from(servers)
            .ok()
            .filter(|&c| c >= 1)
            .ok_or_else(|| {
                CapacityError::param(
                    "--devices",
                    format!("must be between 1 and {}, got {servers}", u32::MAX),
                )
            })?;
        let arrivals = self.arrivals.unwrap_or(DEFAULT_DIRECT_ARRIVALS);
        Ok(QueueRequest {
            arrival_rate: flag_number("arrival-rate", rate, MAX_RATE_PER_S)?,
            service_time_s: flag_number("service-time-ms", ms, MAX_SERVICE_TIME_S * 1e3)? / 1e3,
            service: self.service.unwrap_or(ServiceModel::Exponential),
            servers,
            arrivals,
            warmup: self.warmup.unwrap_or(arrivals / 10),
            seed: self.seed.unwrap_or(DEFAULT_SEED),
        })
    }

    fn plan_request(&self, sources: ProfileSources) -> Result<PlanRequest, CapacityError> {
        if self.arrivals.is_some() {
            return Err(CapacityError::Conflict(
                "--arrivals belongs to direct queue mode; in planner mode use --sim-arrivals"
                    .into(),
            ));
        }
        let sc = match &self.scenario {
            Some(path) => parse_capacity_table(&read(path)?, &path.display().to_string())?,
            None => CapacityScenario::default(),
        };
        let need = |flag: &str, key: &str| CapacityError::Missing {
            flag: flag.into(),
            key: key.into(),
        };
        let agents = self
            .agents
            .or(sc.agents)
            .ok_or_else(|| need("agents", "agents"))?;
        let edges = (self.edges_per_agent.or(sc.edges_per_agent))
            .ok_or_else(|| need("edges-per-agent", "edges_per_agent"))?;
        let calls = match self.calls_per_s {
            Some(v) => flag_number("calls-per-s", v, MAX_RATE_PER_S)?,
            None => sc
                .calls_per_s
                .ok_or_else(|| need("calls-per-s", "calls_per_s"))?,
        };
        let at = flag_duration("at-lifetime", self.at_lifetime.as_deref())?
            .or(sc.at_lifetime_s)
            .ok_or_else(|| need("at-lifetime", "at_lifetime"))?;
        let refresh = flag_duration("refresh-interval", self.refresh_interval.as_deref())?
            .or(sc.refresh_interval_s)
            .unwrap_or(at);
        let connection = flag_duration("connection-lifetime", self.connection_lifetime.as_deref())?
            .or(sc.connection_lifetime_s)
            .unwrap_or(DEFAULT_CONNECTION_LIFETIME_S);
        let strategy = self
            .strategy
            .clone()
            .or(sc.strategy)
            .unwrap_or_else(|| "all".into());
        let device = self
            .device
            .clone()
            .or(sc.device)
            .ok_or_else(|| need("device", "device"))?;
        let slo_ms = match self.slo_p99_ms {
            Some(v) => flag_number("slo-p99-ms", v, MAX_SERVICE_TIME_S * 1e3)?,
            None => sc.slo_p99_ms.unwrap_or(DEFAULT_SLO_MS),
        };
        let headroom = match self.headroom {
            Some(h) if h > 0.0 && h <= 1.0 => Some(h),
            Some(h) => {
                return Err(CapacityError::param(
                    "--headroom",
                    format!("must be a target utilisation in (0, 1], got {h}"),
                ))
            }
            None => sc.headroom,
        };
        let arrivals = self
            .sim_arrivals
            .or(sc.sim_arrivals)
            .unwrap_or(DEFAULT_SIM_ARRIVALS);
        let workload = Workload {
            agents,
            edges_per_agent: edges,
            calls_per_s: calls,
            at_lifetime_s: at,
            refresh_interval_s: refresh,
            connection_lifetime_s: connection,
        };
        workload.validate()?;
        let request = PlanRequest {
            workload,
            strategies: parse_strategies(&strategy)?,
            device,
            slo_p99_s: slo_ms / 1e3,
            headroom,
            devices: self.devices.or(sc.devices),
            max_devices: self
                .max_devices
                .or(sc.max_devices)
                .unwrap_or(DEFAULT_MAX_DEVICES),
            arrivals,
            warmup: self.warmup.unwrap_or(arrivals / 10),
            seed: self.seed.or(sc.seed).unwrap_or(DEFAULT_SEED),
            service: self.service,
            sources,
        };
        request.settings(false).validate()?;
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_flags() -> CapacityFlags {
        CapacityFlags {
            agents: Some(10),
            edges_per_agent: Some(2),
            calls_per_s: Some(1.0),
            at_lifetime: Some("15m".into()),
            device: Some("tpm-infineon-slb9670".into()),
            ..CapacityFlags::default()
        }
    }

    #[test]
    fn defaults_are_applied_once() {
        let Request::Plan(r) = plan_flags().into_request().unwrap() else {
            panic!("not a plan")
        };
        assert_eq!(r.workload.refresh_interval_s, 900.0);
        assert_eq!(r.workload.connection_lifetime_s, 3600.0);
        assert_eq!(r.strategies, Binding::ALL.to_vec());
        assert_eq!(r.slo_p99_s, DEFAULT_SLO_MS / 1e3);
        assert_eq!(r.settings(true).headroom, DEFAULT_THROUGHPUT_HEADROOM);
        assert_eq!(r.settings(false).headroom, 1.0);
        assert_eq!((r.arrivals, r.warmup), (200_000, 20_000));
    }

    #[test]
    fn bad_flags_are_refused() {
        let with = |f: fn(&mut CapacityFlags)| {
            let mut flags = plan_flags();
            f(&mut flags);
            flags.into_request().unwrap_err().to_string()
        };
        assert!(with(|f| f.headroom = Some(0.0)).contains("--headroom"));
        assert!(with(|f| f.headroom = Some(1.01)).contains("(0, 1]"));
        assert!(with(|f| f.at_lifetime = Some("900".into())).contains("--at-lifetime"));
        assert!(
            with(|f| f.connection_lifetime = Some("0s".into())).contains("--connection-lifetime")
        );
        assert!(with(|f| f.calls_per_s = Some(1e300)).contains("--calls-per-s"));
        assert!(with(|f| f.strategy = Some("dpop".into())).contains("split-dpop"));
        let direct = CapacityFlags {
            arrival_rate: Some(1e300),
            service_time_ms: Some(10.0),
            ..CapacityFlags::default()
        };
        let e = direct.into_request().unwrap_err().to_string();
        assert!(e.contains("--arrival-rate") && e.contains("maximum"), "{e}");
    }
}
