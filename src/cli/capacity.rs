//! `leaklab capacity plan|queue|profiles`: size the TPM/HSM fleet for a workload and strategy,
//! run one signing queue, or list the device profiles. Each subcommand's flags are checked here
//! (one value parser per kind of value) and become the model's request
//! (`leaklab_capacity::{PlanRequest, QueueRequest, ProfileSources}`); rendering and files are
//! `leaklab_report::capacity_output`'s. The deprecated flat form is [`flat`].

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use leaklab_base::catalogue::Binding;
use leaklab_base::duration::{parse_duration, Policy};
use leaklab_capacity::command::{
    DEFAULT_CONNECTION_LIFETIME_S, DEFAULT_MAX_DEVICES, DEFAULT_QUEUE_ARRIVALS, DEFAULT_SEED,
    DEFAULT_SIM_ARRIVALS, DEFAULT_SLO_MS,
};
use leaklab_capacity::planner::Workload;
use leaklab_capacity::{
    check_positive, CapacityOutput, PlanRequest, ProfileSources, QueueRequest, ServiceModel,
    MAX_RATE_PER_S, MAX_SERVICE_TIME_S,
};
use leaklab_report::capacity_output;

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
    #[arg(long, allow_negative_numbers = true, value_parser = slo_ms)]
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
    #[arg(long, allow_negative_numbers = true, value_parser = service_ms)]
    service_time_ms: f64,
    /// Number of parallel servers c.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    devices: u32,
    /// Service-time model.
    #[arg(long, value_enum, default_value_t = Service::Exponential)]
    service: Service,
    /// Arrivals to simulate.
    #[arg(long, default_value_t = DEFAULT_QUEUE_ARRIVALS)]
    arrivals: u64,
    /// Arrivals discarded as warm-up (default: 10% of the arrivals).
    #[arg(long)]
    warmup: Option<u64>,
    /// Seed of the simulation's random streams.
    #[arg(long, default_value_t = DEFAULT_SEED)]
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

/// A rate per second in (0, 1e9].
fn rate(s: &str) -> Result<f64, String> {
    number(s, MAX_RATE_PER_S)
}

/// Milliseconds of service time, in (0, one day].
fn service_ms(s: &str) -> Result<f64, String> {
    number(s, MAX_SERVICE_TIME_S * 1e3)
}

/// A latency objective in milliseconds, in (0, one day].
fn slo_ms(s: &str) -> Result<f64, String> {
    number(s, MAX_SERVICE_TIME_S * 1e3)
}

fn number(s: &str, max: f64) -> Result<f64, String> {
    let v: f64 = s.trim().parse().map_err(|_| "not a number".to_string())?;
    check_positive(v, max)
}

fn headroom(s: &str) -> Result<f64, String> {
    let h: f64 = s.trim().parse().map_err(|_| "not a number".to_string())?;
    if h > 0.0 && h <= 1.0 {
        Ok(h)
    } else {
        Err(format!("must be a target utilisation in (0, 1], got {h}"))
    }
}

/// A positive duration with a unit, in seconds.
fn duration(s: &str) -> Result<f64, String> {
    parse_duration(s, Policy::UnitRequiredPositive).map_err(|e| e.to_string())
}

impl PlanArgs {
    fn request(self) -> PlanRequest {
        let arrivals = self.sim_arrivals.unwrap_or(DEFAULT_SIM_ARRIVALS);
        PlanRequest {
            workload: Workload {
                agents: self.agents,
                edges_per_agent: self.edges_per_agent,
                calls_per_s: self.calls_per_s,
                at_lifetime_s: self.at_lifetime,
                refresh_interval_s: self.refresh_interval.unwrap_or(self.at_lifetime),
                connection_lifetime_s: self
                    .connection_lifetime
                    .unwrap_or(DEFAULT_CONNECTION_LIFETIME_S),
            },
            strategies: self.strategy.bindings(),
            device: self.device,
            slo_p99_s: self.slo_p99_ms.unwrap_or(DEFAULT_SLO_MS) / 1e3,
            headroom: self.headroom,
            devices: self.devices,
            max_devices: self.max_devices.unwrap_or(DEFAULT_MAX_DEVICES),
            arrivals,
            warmup: self.warmup.unwrap_or(arrivals / 10),
            seed: self.seed.unwrap_or(DEFAULT_SEED),
            service: self.service.map(ServiceModel::from),
            sources: self.sources.into(),
        }
    }
}

impl QueueArgs {
    fn request(&self) -> QueueRequest {
        QueueRequest {
            arrival_rate: self.arrival_rate,
            service_time_s: self.service_time_ms / 1e3,
            service: self.service.into(),
            servers: self.devices,
            arrivals: self.arrivals,
            warmup: self.warmup.unwrap_or(self.arrivals / 10),
            seed: self.seed,
        }
    }
}

pub fn run(cmd: CapacityCommand) -> anyhow::Result<Outcome> {
    match cmd {
        CapacityCommand::Plan(args) => plan(args),
        CapacityCommand::Queue(args) => {
            let report = leaklab_capacity::run_queue(&args.request())?;
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
    let mut report = leaklab_capacity::plan(&args.request())?;
    if let Some(dir) = &out {
        let written = capacity_output::write(dir, &report, &report.sweeps()?)?;
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
        print!("{}", capacity_output::render_text(output));
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: CapacityCommand,
    }

    fn parse(args: &[&str]) -> Result<CapacityCommand, String> {
        Cli::try_parse_from(std::iter::once("capacity").chain(args.iter().copied()))
            .map(|c| c.command)
            .map_err(|e| e.to_string())
    }

    /// `capacity plan` with a small workload, `set` replacing or adding flags.
    fn plan_request(set: &[(&str, &str)]) -> Result<PlanRequest, String> {
        let mut flags = vec![
            ("--agents", "10"),
            ("--edges-per-agent", "2"),
            ("--calls-per-s", "1"),
            ("--at-lifetime", "15m"),
            ("--device", "tpm-infineon-slb9670"),
        ];
        for &(flag, value) in set {
            match flags.iter_mut().find(|(f, _)| *f == flag) {
                Some(entry) => entry.1 = value,
                None => flags.push((flag, value)),
            }
        }
        let args: Vec<&str> = std::iter::once("plan")
            .chain(flags.iter().flat_map(|(f, v)| [*f, *v]))
            .collect();
        match parse(&args)? {
            CapacityCommand::Plan(a) => Ok(a.request()),
            _ => panic!("not a plan"),
        }
    }

    #[test]
    fn defaults_are_applied_once() {
        let r = plan_request(&[]).unwrap();
        assert_eq!(r.workload.refresh_interval_s, 900.0);
        assert_eq!(r.workload.connection_lifetime_s, 3600.0);
        assert_eq!(r.strategies, Binding::ALL.to_vec());
        assert_eq!(r.slo_p99_s, DEFAULT_SLO_MS / 1e3);
        use leaklab_capacity::command::DEFAULT_THROUGHPUT_HEADROOM;
        assert_eq!(r.settings(true).headroom, DEFAULT_THROUGHPUT_HEADROOM);
        assert_eq!(r.settings(false).headroom, 1.0);
        assert_eq!((r.arrivals, r.warmup), (200_000, 20_000));
        r.validate().unwrap();
    }

    #[test]
    fn bad_flags_are_refused() {
        let e = |flag: &str, value: &str| plan_request(&[(flag, value)]).unwrap_err();
        assert!(e("--headroom", "0").contains("--headroom"));
        assert!(e("--headroom", "1.01").contains("(0, 1]"));
        assert!(e("--at-lifetime", "900").contains("--at-lifetime"));
        assert!(e("--connection-lifetime", "0s").contains("--connection-lifetime"));
        let calls = e("--calls-per-s", "1e300");
        assert!(
            calls.contains("--calls-per-s") && calls.contains("maximum"),
            "{calls}"
        );
        assert!(e("--strategy", "dpop").contains("split-dpop"));
        let direct = parse(&[
            "queue",
            "--arrival-rate",
            "1e300",
            "--service-time-ms",
            "10",
        ])
        .err()
        .unwrap();
        assert!(
            direct.contains("--arrival-rate") && direct.contains("maximum"),
            "{direct}"
        );
    }

    #[test]
    fn strategy_names() {
        let of = |name: &str| Strategies::from_str(name, false).map(Strategies::bindings);
        assert_eq!(of("all").unwrap(), Binding::ALL.to_vec());
        assert_eq!(of("split-dpop").unwrap(), vec![Binding::SplitDpop]);
        // Every catalogue name is a value, and nothing else but `all`.
        for b in Binding::ALL {
            assert_eq!(of(b.name()).unwrap(), vec![b]);
        }
        assert_eq!(Strategies::value_variants().len(), Binding::ALL.len() + 1);
        let e = plan_request(&[("--strategy", "dpop")]).unwrap_err();
        for name in ["bearer", "mtls", "jwks", "single-dpop", "split-dpop", "all"] {
            assert!(e.contains(name), "{e}");
        }
    }

    #[test]
    fn queue_defaults() {
        let CapacityCommand::Queue(q) =
            parse(&["queue", "--arrival-rate", "5", "--service-time-ms", "100"]).unwrap()
        else {
            panic!("not a queue")
        };
        let r = q.request();
        assert_eq!(
            (r.servers, r.arrivals, r.warmup, r.seed),
            (1, 1_000_000, 100_000, 1)
        );
        assert_eq!(r.service, ServiceModel::Exponential);
        assert_eq!(r.service_time_s, 0.1);
    }
}
