//! `leaklab capacity`: size the TPM/HSM fleet for a workload and strategy, or (direct mode,
//! `--arrival-rate` + `--service-time-ms`) run the signing queue itself. The model, the defaults
//! and the merging with a scenario's `[capacity]` table are in `leaklab_capacity`; rendering and
//! files in `leaklab_report`. This file parses flags and prints.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use leaklab_capacity::{CapacityFlags, CapacityOutput, ServiceModel};
use leaklab_report::{capacity_text, write_capacity};

use super::Outcome;

#[derive(Clone, Copy, ValueEnum)]
pub enum Service {
    Exponential,
    Deterministic,
}

#[derive(Args)]
#[command(
    after_help = "Planner: --agents, --edges-per-agent, --calls-per-s, --at-lifetime and \
--device (from flags or a --scenario file's [capacity] table, whose keys are the flag names in \
snake_case).\nDirect queue mode: --arrival-rate L --service-time-ms D [--devices C] [--service M] \
[--arrivals N] [--seed S] [--json]."
)]
pub struct CapacityArgs {
    /// Number of agents.
    #[arg(long)]
    agents: Option<u64>,
    /// Edge workloads per agent (each holds its own access token).
    #[arg(long)]
    edges_per_agent: Option<u64>,
    /// API calls per second per edge workload.
    #[arg(long, visible_alias = "calls-per-sec", allow_negative_numbers = true)]
    calls_per_s: Option<f64>,
    /// Access-token lifetime, e.g. 15m, 1h, 900s.
    #[arg(long)]
    at_lifetime: Option<String>,
    /// Refresh interval of each edge token (default: the AT lifetime).
    #[arg(long)]
    refresh_interval: Option<String>,
    /// How long an edge keeps a connection (mTLS signs once per connection; default 1h).
    #[arg(long)]
    connection_lifetime: Option<String>,
    /// bearer, mtls, jwks, single-dpop, split-dpop or all (default all).
    #[arg(long)]
    strategy: Option<String>,
    /// Device profile name (see --list-profiles).
    #[arg(long)]
    device: Option<String>,
    /// Planner: fixed number of devices (default: the smallest meeting the SLO and headroom).
    /// Direct mode: number of parallel servers c.
    #[arg(long)]
    devices: Option<u64>,
    /// SLO on the p99 signing latency (queueing + signing), ms (default 100).
    #[arg(long, allow_negative_numbers = true)]
    slo_p99_ms: Option<f64>,
    /// Largest per-device utilisation, in (0, 1] (default 0.7 for throughput-only profiles, else 1).
    #[arg(long, allow_negative_numbers = true)]
    headroom: Option<f64>,
    /// Scenario TOML file with a [capacity] table (flags override its values).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Write capacity.csv/.parquet, the sweep table, capacity.json and plots into DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Published profiles TOML (default: the built-in scenarios/device-profiles.toml).
    #[arg(long, value_name = "FILE")]
    profiles: Option<PathBuf>,
    /// Measured profiles from `leaklab bench signers` (default: results/signers.csv if present).
    #[arg(long, value_name = "FILE")]
    signers_csv: Option<PathBuf>,
    /// List the available device profiles and exit.
    #[arg(long)]
    list_profiles: bool,
    /// Upper bound of the device-count search (default 10,000,000).
    #[arg(long)]
    max_devices: Option<u64>,
    /// Simulated arrivals per device queue in planner mode (default 200,000; 10% warm-up).
    #[arg(long)]
    sim_arrivals: Option<u64>,
    /// Seed of the simulation's random streams (default 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Service-time model: direct mode (default exponential); in planner mode it replaces the
    /// profile's model, keeping its mean.
    #[arg(long, value_enum)]
    service: Option<Service>,
    /// Direct mode: Poisson arrival rate (per second, at most 1e9).
    #[arg(long, allow_negative_numbers = true)]
    arrival_rate: Option<f64>,
    /// Direct mode: mean service time (ms, at most one day).
    #[arg(long, allow_negative_numbers = true)]
    service_time_ms: Option<f64>,
    /// Direct mode: arrivals to simulate (default 1,000,000).
    #[arg(long)]
    arrivals: Option<u64>,
    /// Arrivals discarded as warm-up (default: 10% of the arrivals).
    #[arg(long)]
    warmup: Option<u64>,
}

pub fn run(a: CapacityArgs) -> anyhow::Result<Outcome> {
    let flags = CapacityFlags {
        agents: a.agents,
        edges_per_agent: a.edges_per_agent,
        calls_per_s: a.calls_per_s,
        at_lifetime: a.at_lifetime,
        refresh_interval: a.refresh_interval,
        connection_lifetime: a.connection_lifetime,
        strategy: a.strategy,
        device: a.device,
        devices: a.devices,
        slo_p99_ms: a.slo_p99_ms,
        headroom: a.headroom,
        scenario: a.scenario,
        out: a.out.clone(),
        profiles: a.profiles,
        signers_csv: a.signers_csv,
        list_profiles: a.list_profiles,
        max_devices: a.max_devices,
        sim_arrivals: a.sim_arrivals,
        seed: a.seed,
        service: a.service.map(|s| match s {
            Service::Exponential => ServiceModel::Exponential,
            Service::Deterministic => ServiceModel::Deterministic,
        }),
        arrival_rate: a.arrival_rate,
        service_time_ms: a.service_time_ms,
        arrivals: a.arrivals,
        warmup: a.warmup,
    };
    let mut output = leaklab_capacity::run(flags)?;
    if let (Some(dir), CapacityOutput::Plan(report)) = (&a.out, &mut output) {
        let written = write_capacity(dir, report, &report.sweeps()?)?;
        report.files = written
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        report.notes.extend(written.notes);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        print!("{}", capacity_text(&output));
        if let (Some(dir), CapacityOutput::Plan(report)) = (&a.out, &output) {
            println!("wrote {} files to {}", report.files.len(), dir.display());
        }
    }
    Ok(Outcome::Success)
}
