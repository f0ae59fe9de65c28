//! The capacity command's three requests and their answers: list the device profiles, run one
//! signing queue, or size a fleet. Each request is a plain value (the command line builds it,
//! `leaklab capacity profiles|queue|plan`), each answer derives `Serialize`; the caller prints it
//! (JSON or text) and writes files.

use std::path::{Path, PathBuf};

use leaklab_base::catalogue::Binding;
use leaklab_base::dist::Dist;
use serde::Serialize;

use super::closed_form;
use super::planner::{self, PlanSettings, StrategyPlan, SweepPoint, Workload};
use super::profile::{parse_measured_csv, parse_published, DeviceProfile, ProfileSummary};
use super::queue::{simulate, QueueConfig, QueueStats, PRECISION_NOTE};
use super::{as_ms, service, CapacityError, ProfileSet};

/// p99 signing-latency SLO when none is given (ms).
pub const DEFAULT_SLO_MS: f64 = 100.0;
/// Target utilisation of throughput-only profiles (cloud HSM/KMS, whose vendors publish no
/// latency, so the SLO alone would let a plan run the devices at ρ ≈ 0.99).
pub const DEFAULT_THROUGHPUT_HEADROOM: f64 = 0.7;
/// Connection lifetime when none is given (1 h): a connection pool's usual maximum age.
pub const DEFAULT_CONNECTION_LIFETIME_S: f64 = 3600.0;
/// Simulated arrivals per device queue when planning.
pub const DEFAULT_SIM_ARRIVALS: u64 = 200_000;
/// Simulated arrivals of one queue run directly.
pub const DEFAULT_QUEUE_ARRIVALS: u64 = 1_000_000;
pub const DEFAULT_MAX_DEVICES: u64 = 10_000_000;
pub const DEFAULT_SEED: u64 = 1;
/// Where `leaklab bench signers` writes its measurements (read when present).
pub const DEFAULT_SIGNERS_CSV: &str = "results/signers.csv";

/// A service-time model chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceModel {
    Exponential,
    Deterministic,
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

    /// Checks what can be checked before the profile is loaded.
    pub fn validate(&self) -> Result<(), CapacityError> {
        self.workload.validate()?;
        self.settings(false).validate()
    }
}

pub(crate) fn read(path: &Path) -> Result<String, CapacityError> {
    std::fs::read_to_string(path).map_err(|reason| CapacityError::Io {
        path: path.to_path_buf(),
        reason,
    })
}

/// The published profiles shipped with leaklab (used unless another file is named).
const BUILTIN_PROFILES: &str = include_str!("../data/device-profiles.toml");
const BUILTIN_PROFILES_NAME: &str = "scenarios/device-profiles.toml (built in)";

/// The answer to one request.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CapacityOutput {
    Profiles(ProfileListing),
    Queue(Box<QueueReport>),
    Plan(Box<CapacityReport>),
}

/// The available device profiles.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileListing {
    pub profiles: Vec<ProfileSummary>,
    /// Short names of measured profiles.
    pub aliases: Vec<String>,
    /// Non-fatal problems (e.g. an unreadable default signers.csv).
    pub notes: Vec<String>,
}

/// One queue's statistics.
#[derive(Debug, Clone, Serialize)]
pub struct QueueReport {
    pub mode: &'static str,
    /// Kendall notation, e.g. `M/D/4`.
    pub model: String,
    pub arrival_rate_per_s: f64,
    #[serde(rename = "service_time_ms", serialize_with = "as_ms::seconds")]
    pub service_time_s: f64,
    pub service: &'static str,
    pub servers: u32,
    pub arrivals: u64,
    pub warmup: u64,
    pub seed: u64,
    #[serde(flatten)]
    pub stats: QueueStats,
    #[serde(
        rename = "closed_form_waiting_mean_ms",
        serialize_with = "as_ms::option"
    )]
    pub closed_form_mean_wait_s: Option<f64>,
    pub precision: &'static str,
}

/// The workload with the rates derived from it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkloadSummary {
    #[serde(flatten)]
    pub workload: Workload,
    pub api_calls_per_s: f64,
    /// One refresh per edge token per refresh interval.
    pub refreshes_per_s: f64,
    /// Edge connections to the resource server opened per second.
    pub connections_per_s: f64,
}

/// How the queues were simulated.
#[derive(Debug, Clone, Serialize)]
pub struct SimulationSummary {
    pub arrivals_per_queue: u64,
    pub warmup: u64,
    pub seed: u64,
    pub max_devices: u64,
    pub precision: &'static str,
}

/// The planner's answer.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityReport {
    pub mode: &'static str,
    pub workload: WorkloadSummary,
    pub device: ProfileSummary,
    #[serde(rename = "slo_p99_ms", serialize_with = "as_ms::seconds")]
    pub slo_p99_s: f64,
    /// Largest per-device utilisation a plan may have.
    pub headroom: f64,
    pub simulation: SimulationSummary,
    pub plans: Vec<StrategyPlan>,
    /// Files the caller wrote (filled in by the caller).
    pub files: Vec<String>,
    pub notes: Vec<String>,
    /// The profile and settings the plans used (for sweeps and plots).
    #[serde(skip)]
    pub profile: DeviceProfile,
    #[serde(skip)]
    pub settings: PlanSettings,
}

/// Latency against load for one strategy's fleet.
#[derive(Debug, Clone, Serialize)]
pub struct StrategySweep {
    pub strategy: &'static str,
    pub devices: u64,
    pub points: Vec<SweepPoint>,
}

impl CapacityReport {
    /// For each strategy with device load: ρ = 0.05…0.95 on its planned fleet (or the smallest
    /// stable one when no size met the SLO).
    pub fn sweeps(&self) -> Result<Vec<StrategySweep>, CapacityError> {
        let rhos = planner::default_sweep_rhos();
        self.plans
            .iter()
            .filter(|p| p.load.device_signs_per_s > 0.0)
            .map(|p| {
                let devices = p
                    .devices
                    .filter(|&d| d > 0)
                    .unwrap_or(p.min_devices_for_stability.max(1));
                Ok(StrategySweep {
                    strategy: p.strategy.name(),
                    devices,
                    points: planner::sweep(&self.profile, devices, &rhos, &self.settings)?,
                })
            })
            .collect()
    }
}

/// The published device profiles built into leaklab (`scenarios/device-profiles.toml`): the one
/// place each device figure is stored.
pub fn builtin_profiles() -> Result<ProfileSet, CapacityError> {
    let mut set = ProfileSet::new();
    set.extend(parse_published(BUILTIN_PROFILES, BUILTIN_PROFILES_NAME)?);
    Ok(set)
}

/// Published profiles plus measured ones; notes are non-fatal problems.
pub fn load_profiles(sources: &ProfileSources) -> Result<(ProfileSet, Vec<String>), CapacityError> {
    let mut set = ProfileSet::new();
    let mut notes = Vec::new();
    match &sources.profiles {
        Some(path) => set.extend(parse_published(&read(path)?, &path.display().to_string())?),
        None => set.extend(parse_published(BUILTIN_PROFILES, BUILTIN_PROFILES_NAME)?),
    }
    match &sources.signers_csv {
        Some(path) => {
            parse_measured_csv(&read(path)?, &path.display().to_string())?.add_to(&mut set)
        }
        None => {
            let path = Path::new(DEFAULT_SIGNERS_CSV);
            if path.exists() {
                match read(path).and_then(|t| parse_measured_csv(&t, DEFAULT_SIGNERS_CSV)) {
                    Ok(m) => m.add_to(&mut set),
                    Err(e) => notes.push(format!("measured profiles not loaded: {e}")),
                }
            }
        }
    }
    Ok((set, notes))
}

/// `leaklab capacity profiles`: every profile the sources give, with their short names.
pub fn list_profiles(sources: &ProfileSources) -> Result<ProfileListing, CapacityError> {
    let (set, notes) = load_profiles(sources)?;
    Ok(ProfileListing {
        profiles: set.profiles().iter().map(DeviceProfile::summary).collect(),
        aliases: set.names().into_iter().skip(set.profiles().len()).collect(),
        notes,
    })
}

fn service_dist(model: ServiceModel, mean_s: f64) -> Result<Dist, CapacityError> {
    match model {
        ServiceModel::Exponential => service::exponential(mean_s),
        ServiceModel::Deterministic => service::deterministic(mean_s),
    }
}

/// One M/M/c or M/D/c queue, simulated and set against its closed form.
pub fn run_queue(q: &QueueRequest) -> Result<QueueReport, CapacityError> {
    let dist = service_dist(q.service, q.service_time_s)?;
    let cfg = QueueConfig {
        arrival_rate: q.arrival_rate,
        servers: q.servers,
        service: dist.clone(),
        arrivals: q.arrivals,
        warmup: q.warmup,
        seed: q.seed,
    };
    let stats = simulate(&cfg)?;
    let letter = match q.service {
        ServiceModel::Exponential => "M",
        ServiceModel::Deterministic => "D",
    };
    Ok(QueueReport {
        mode: "queue",
        model: format!("M/{letter}/{}", q.servers),
        arrival_rate_per_s: q.arrival_rate,
        service_time_s: q.service_time_s,
        service: service::kind(&dist),
        servers: q.servers,
        arrivals: q.arrivals,
        warmup: q.warmup,
        seed: q.seed,
        stats,
        closed_form_mean_wait_s: closed_form::mean_wait(q.arrival_rate, &dist, q.servers),
        precision: PRECISION_NOTE,
    })
}

/// Sizes the fleet for every requested strategy.
pub fn plan(r: &PlanRequest) -> Result<CapacityReport, CapacityError> {
    r.validate()?;
    let (set, mut notes) = load_profiles(&r.sources)?;
    let mut profile = set.get(&r.device)?.clone();
    if let Some(model) = r.service {
        profile.service = service_dist(model, profile.service.mean())?;
        notes.push(format!(
            "service model of `{}` replaced by {} with the same mean",
            profile.name,
            service::kind(&profile.service)
        ));
    }
    let settings = r.settings(profile.throughput_only);
    settings.validate()?;
    if r.headroom.is_none() && profile.throughput_only {
        notes.push(format!(
            "`{}` publishes a throughput, not a latency: plans keep per-device utilisation ≤ {} (--headroom)",
            profile.name, settings.headroom
        ));
    }
    let plans = r
        .strategies
        .iter()
        .map(|&b| planner::plan_strategy(&r.workload, b, &profile, &settings))
        .collect::<Result<Vec<_>, _>>()?;
    let fleet = r.workload.traffic();
    Ok(CapacityReport {
        mode: "plan",
        workload: WorkloadSummary {
            workload: r.workload.clone(),
            api_calls_per_s: fleet.calls_per_s(),
            refreshes_per_s: fleet.refreshes_per_s(),
            connections_per_s: fleet.connections_per_s(),
        },
        device: profile.summary(),
        slo_p99_s: settings.slo_p99_s,
        headroom: settings.headroom,
        simulation: SimulationSummary {
            arrivals_per_queue: settings.arrivals,
            warmup: settings.warmup,
            seed: settings.seed,
            max_devices: settings.max_devices,
            precision: PRECISION_NOTE,
        },
        plans,
        files: Vec::new(),
        notes,
        profile,
        settings,
    })
}
