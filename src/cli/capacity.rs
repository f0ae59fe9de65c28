//! `leaklab capacity plan|queue|profiles`: size the TPM/HSM fleet for a workload and strategy,
//! run one signing queue, or list the device profiles. The flags become the model's options
//! (`leaklab_capacity::{PlanOptions, QueueOptions}`, which apply the defaults; the value checks
//! are `leaklab_capacity::request::parse`'s); rendering and files are
//! `leaklab_report`'s. The deprecated flat form is [`flat`].

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use leaklab_base::catalogue::Binding;
use leaklab_capacity::request::parse::{duration, headroom, millis, rate};
use leaklab_capacity::{CapacityOutput, PlanOptions, ProfileSources, QueueOptions, ServiceModel};
use leaklab_report::{capacity_text, write_capacity};

use super::Outcome;

pub mod flat;

#[derive(Subcommand)]
// `plan`'s flags make it the largest variant; parsed once per process, so not boxed.
#[allow(clippy::large_enum_variant)]
pub enum CapacityCommand {
    /// Size the fleet: devices per strategy so that the p99 signing latency meets the SLO.
    Plan(PlanArgs),
    /// Simulate one M/M/c or M/D/c signing queue and compare it with its closed form.
    Queue(QueueArgs),
    /// List the device profiles (published and measured) and their short names.
    Profiles(ProfilesArgs),
}

/// Which strategies to size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Strategies {
    Bearer,
    Mtls,
    Jwks,
    SingleDpop,
    SplitDpop,
    /// Every strategy, in the catalogue's order.
    All,
}

impl Strategies {
    fn bindings(self) -> Vec<Binding> {
        match self {
            Strategies::Bearer => vec![Binding::Bearer],
            Strategies::Mtls => vec![Binding::Mtls],
            Strategies::Jwks => vec![Binding::Jwks],
            Strategies::SingleDpop => vec![Binding::SingleDpop],
            Strategies::SplitDpop => vec![Binding::SplitDpop],
            Strategies::All => Binding::ALL.to_vec(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Service {
    Exponential,
    Deterministic,
}

impl From<Service> for ServiceModel {
    fn from(s: Service) -> Self {
        match s {
            Service::Exponential => ServiceModel::Exponential,
            Service::Deterministic => ServiceModel::Deterministic,
        }
    }
}

/// Where device profiles come from.
#[derive(Args, Debug)]
pub struct SourceArgs {
    /// Published profiles TOML (default: the built-in scenarios/device-profiles.toml).
    #[arg(long, value_name = "FILE")]
    profiles: Option<PathBuf>,
    /// Measured profiles from `leaklab bench signers` (default: results/signers.csv if present).
    #[arg(long, value_name = "FILE")]
    signers_csv: Option<PathBuf>,
}

impl From<SourceArgs> for ProfileSources {
    fn from(a: SourceArgs) -> Self {
        ProfileSources {
            profiles: a.profiles,
            signers_csv: a.signers_csv,
        }
    }
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Number of agents.
    #[arg(long)]
    agents: u64,
    /// Edge workloads per agent (each holds its own access token).
    #[arg(long)]
    edges_per_agent: u64,
    /// API calls per second per edge workload.
    #[arg(long, visible_alias = "calls-per-sec", allow_negative_numbers = true,
          value_parser = rate)]
    calls_per_s: f64,
    /// Access-token lifetime, e.g. 15m, 1h, 900s.
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    at_lifetime: f64,
    /// Refresh interval of each edge token (default: the AT lifetime).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    refresh_interval: Option<f64>,
    /// How long an edge keeps a connection (mTLS signs once per connection; default 1h).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    connection_lifetime: Option<f64>,
    /// Strategy to size.
    #[arg(long, value_enum, default_value_t = Strategies::All)]
    strategy: Strategies,
    /// Device profile name (see `leaklab capacity profiles`).
    #[arg(long)]
    device: String,
    /// Fixed number of devices (default: the smallest meeting the SLO and headroom).
    #[arg(long)]
    devices: Option<u64>,
    /// SLO on the p99 signing latency (queueing + signing), ms (default 100).
    #[arg(long, allow_negative_numbers = true, value_parser = millis)]
    slo_p99_ms: Option<f64>,
    /// Largest per-device utilisation, in (0, 1] (default 0.7 for throughput-only profiles, else 1).
    #[arg(long, allow_negative_numbers = true, value_parser = headroom)]
    headroom: Option<f64>,
    /// Upper bound of the device-count search (default 10,000,000).
    #[arg(long)]
    max_devices: Option<u64>,
    /// Simulated arrivals per device queue (default 200,000).
    #[arg(long)]
    sim_arrivals: Option<u64>,
    /// Arrivals discarded as warm-up (default: 10% of the arrivals).
    #[arg(long)]
    warmup: Option<u64>,
    /// Seed of the simulation's random streams (default 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Replace the profile's service-time model, keeping its mean.
    #[arg(long, value_enum)]
    service: Option<Service>,
    #[command(flatten)]
    sources: SourceArgs,
    /// Write capacity.csv/.parquet, the sweep table, capacity.json and plots into DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct QueueArgs {
    /// Poisson arrival rate (per second, at most 1e9).
    #[arg(long, allow_negative_numbers = true, value_parser = rate)]
    arrival_rate: f64,
    /// Mean service time (ms, at most one day).
    #[arg(long, allow_negative_numbers = true, value_parser = millis)]
    service_time_ms: f64,
    /// Number of parallel servers c.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    devices: u32,
    /// Service-time model.
    #[arg(long, value_enum, default_value_t = Service::Exponential)]
    service: Service,
    /// Arrivals to simulate.
    #[arg(long, default_value_t = QueueOptions::default().arrivals)]
    arrivals: u64,
    /// Arrivals discarded as warm-up (default: 10% of the arrivals).
    #[arg(long)]
    warmup: Option<u64>,
    /// Seed of the simulation's random streams.
    #[arg(long, default_value_t = QueueOptions::default().seed)]
    seed: u64,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct ProfilesArgs {
    #[command(flatten)]
    sources: SourceArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl From<PlanArgs> for PlanOptions {
    fn from(a: PlanArgs) -> Self {
        PlanOptions {
            agents: a.agents,
            edges_per_agent: a.edges_per_agent,
            calls_per_s: a.calls_per_s,
            at_lifetime_s: a.at_lifetime,
            refresh_interval_s: a.refresh_interval,
            connection_lifetime_s: a.connection_lifetime,
            strategies: Some(a.strategy.bindings()),
            device: a.device,
            devices: a.devices,
            slo_p99_ms: a.slo_p99_ms,
            headroom: a.headroom,
            max_devices: a.max_devices,
            sim_arrivals: a.sim_arrivals,
            warmup: a.warmup,
            seed: a.seed,
            service: a.service.map(ServiceModel::from),
            sources: a.sources.into(),
        }
    }
}

impl From<&QueueArgs> for QueueOptions {
    fn from(a: &QueueArgs) -> Self {
        QueueOptions {
            arrival_rate: a.arrival_rate,
            service_time_ms: a.service_time_ms,
            servers: a.devices,
            service: a.service.into(),
            arrivals: a.arrivals,
            warmup: a.warmup,
            seed: a.seed,
        }
    }
}

pub fn run(cmd: CapacityCommand) -> anyhow::Result<Outcome> {
    match cmd {
        CapacityCommand::Plan(args) => plan(args),
        CapacityCommand::Queue(args) => {
            let report = leaklab_capacity::run_queue(&QueueOptions::from(&args).into())?;
            print(&CapacityOutput::Queue(Box::new(report)), args.json)
        }
        CapacityCommand::Profiles(args) => {
            let listing = leaklab_capacity::list_profiles(&args.sources.into())?;
            print(&CapacityOutput::Profiles(listing), args.json)
        }
    }
}

fn plan(args: PlanArgs) -> anyhow::Result<Outcome> {
    let (out, json) = (args.out.clone(), args.json);
    let mut report = leaklab_capacity::plan(&PlanOptions::from(args).into())?;
    if let Some(dir) = &out {
        let written = write_capacity(dir, &report, &report.sweeps()?)?;
        report.files = written
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        report.notes.extend(written.notes);
    }
    let files = report.files.len();
    print(&CapacityOutput::Plan(Box::new(report)), json)?;
    if let (Some(dir), false) = (&out, json) {
        println!("wrote {files} files to {}", dir.display());
    }
    Ok(Outcome::Success)
}

fn print(output: &CapacityOutput, json: bool) -> anyhow::Result<Outcome> {
    if json {
        println!("{}", serde_json::to_string_pretty(output)?);
    } else {
        print!("{}", capacity_text(output));
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_names() {
        let of = |name: &str| Strategies::from_str(name, false).map(Strategies::bindings);
        assert_eq!(of("all").unwrap(), Binding::ALL.to_vec());
        // Every catalogue name is a value, and nothing else but `all`.
        for b in Binding::ALL {
            assert_eq!(of(b.name()).unwrap(), vec![b]);
        }
        assert_eq!(Strategies::value_variants().len(), Binding::ALL.len() + 1);
    }
}
