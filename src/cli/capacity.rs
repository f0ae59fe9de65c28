//! `leaklab capacity`: size the TPM/HSM fleet for a workload and strategy, or (direct mode,
//! `--arrival-rate` + `--service-time-ms`) run the signing queue itself and print its
//! statistics. The model is in `leaklab_capacity`; this file reads files, merges flags with a
//! scenario's `[capacity]` table, and writes tables and plots.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use leaklab_capacity::{
    closed_form,
    duration::{format_duration, parse_duration},
    planner::{self, PlanSettings, Sizing, StrategyPlan},
    profile::{parse_measured_csv, parse_published},
    scenario::{parse_capacity_table, CapacityScenario},
    simulate, DeviceProfile, ProfileSet, QueueConfig, QueueStats, ServiceDist, Strategy, Summary,
    Workload,
};
use leaklab_report::{
    output_dir::OutputDir,
    plot::{self, BarChart, LineChart, Series},
    table::write_table,
};

use super::Outcome;

/// The published profiles shipped with leaklab (used unless `--profiles` names another file).
const BUILTIN_PROFILES: &str = include_str!("../../scenarios/device-profiles.toml");
const BUILTIN_PROFILES_NAME: &str = "scenarios/device-profiles.toml (built in)";
/// Where `leaklab bench signers` writes its measurements.
const DEFAULT_SIGNERS_CSV: &str = "results/signers.csv";

const DEFAULT_SLO_MS: f64 = 100.0;
const DEFAULT_SIM_ARRIVALS: u64 = 200_000;
const DEFAULT_DIRECT_ARRIVALS: u64 = 1_000_000;
const DEFAULT_MAX_DEVICES: u64 = 10_000_000;
const DEFAULT_SEED: u64 = 1;

#[derive(Clone, Copy, ValueEnum)]
pub enum ServiceModel {
    Exponential,
    Deterministic,
}

#[derive(Args)]
#[command(
    after_help = "Planner: --agents, --edges-per-agent, --calls-per-sec, --at-lifetime and \
--device (from flags or a --scenario file's [capacity] table).\n\
Direct queue mode: --arrival-rate L --service-time-ms D [--devices C] [--service M] [--arrivals N] [--seed S] [--json]."
)]
pub struct CapacityArgs {
    /// Number of agents.
    #[arg(long)]
    agents: Option<u64>,
    /// Edge workloads per agent.
    #[arg(long)]
    edges_per_agent: Option<u64>,
    /// API calls per second per edge workload.
    #[arg(long, allow_negative_numbers = true)]
    calls_per_sec: Option<f64>,
    /// Access-token lifetime, e.g. 15m, 1h, 900s.
    #[arg(long)]
    at_lifetime: Option<String>,
    /// Refresh interval (default: the AT lifetime).
    #[arg(long)]
    refresh_interval: Option<String>,
    /// single-dpop, split-dpop, bearer, mtls, jwks or all (default all).
    #[arg(long)]
    strategy: Option<String>,
    /// Device profile name (see --list-profiles).
    #[arg(long)]
    device: Option<String>,
    /// Planner: fixed number of devices (default: search the smallest meeting the SLO).
    /// Direct mode: number of parallel servers c.
    #[arg(long)]
    devices: Option<u64>,
    /// SLO on the p99 signing latency (queueing + signing), ms (default 100).
    #[arg(long, allow_negative_numbers = true)]
    slo_p99_ms: Option<f64>,
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
    service: Option<ServiceModel>,
    /// Direct mode: Poisson arrival rate (per second).
    #[arg(long, allow_negative_numbers = true)]
    arrival_rate: Option<f64>,
    /// Direct mode: mean service time (ms).
    #[arg(long, allow_negative_numbers = true)]
    service_time_ms: Option<f64>,
    /// Direct mode: arrivals to simulate (default 1,000,000).
    #[arg(long)]
    arrivals: Option<u64>,
    /// Arrivals discarded as warm-up (default: 10% of the arrivals).
    #[arg(long)]
    warmup: Option<u64>,
}

pub fn run(args: CapacityArgs) -> anyhow::Result<Outcome> {
    if args.list_profiles {
        let (set, notes) = load_profiles(&args)?;
        for n in notes {
            eprintln!("leaklab: note: {n}");
        }
        return list_profiles(&set, args.json);
    }
    if args.arrival_rate.is_some() || args.service_time_ms.is_some() {
        direct(&args)
    } else {
        plan(&args)
    }
}

fn positive_flag(name: &str, v: f64) -> anyhow::Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        bail!("--{name} must be a number > 0, got {v}")
    }
}

fn summary_json(s: &Summary) -> Value {
    let ms = s.to_ms();
    json!({ "mean": ms.mean, "p50": ms.p50, "p90": ms.p90, "p99": ms.p99, "p999": ms.p999, "max": ms.max })
}

const PRECISION_NOTE: &str = "means exact; percentiles from an HDR histogram with 3 significant digits (<= 0.1% relative error)";

// ---------------------------------------------------------------- direct mode

fn direct(a: &CapacityArgs) -> anyhow::Result<Outcome> {
    let planner_flags = [
        ("agents", a.agents.is_some()),
        ("edges-per-agent", a.edges_per_agent.is_some()),
        ("calls-per-sec", a.calls_per_sec.is_some()),
        ("at-lifetime", a.at_lifetime.is_some()),
        ("refresh-interval", a.refresh_interval.is_some()),
        ("strategy", a.strategy.is_some()),
        ("device", a.device.is_some()),
        ("slo-p99-ms", a.slo_p99_ms.is_some()),
        ("scenario", a.scenario.is_some()),
        ("out", a.out.is_some()),
        ("max-devices", a.max_devices.is_some()),
        ("sim-arrivals", a.sim_arrivals.is_some()),
    ];
    let clash: Vec<String> = planner_flags
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| format!("--{n}"))
        .collect();
    if !clash.is_empty() {
        bail!(
            "direct queue mode (--arrival-rate/--service-time-ms) does not take planner flags: {}",
            clash.join(", ")
        );
    }
    let rate = positive_flag(
        "arrival-rate",
        a.arrival_rate
            .ok_or_else(|| anyhow!("direct queue mode needs --arrival-rate"))?,
    )?;
    let service_ms = positive_flag(
        "service-time-ms",
        a.service_time_ms
            .ok_or_else(|| anyhow!("direct queue mode needs --service-time-ms"))?,
    )?;
    let servers = a.devices.unwrap_or(1);
    let servers = u32::try_from(servers)
        .ok()
        .filter(|&c| c >= 1)
        .ok_or_else(|| {
            anyhow!(
                "--devices must be between 1 and {}, got {servers}",
                u32::MAX
            )
        })?;
    let model = a.service.unwrap_or(ServiceModel::Exponential);
    let service = match model {
        ServiceModel::Exponential => ServiceDist::exponential(service_ms / 1e3)?,
        ServiceModel::Deterministic => ServiceDist::deterministic(service_ms / 1e3)?,
    };
    let arrivals = a.arrivals.unwrap_or(DEFAULT_DIRECT_ARRIVALS);
    let warmup = a.warmup.unwrap_or(arrivals / 10);
    let cfg = QueueConfig {
        arrival_rate: rate,
        servers,
        service: service.clone(),
        arrivals,
        warmup,
        seed: a.seed.unwrap_or(DEFAULT_SEED),
    };
    let st = simulate(&cfg)?;
    let closed = closed_form::mean_wait(rate, &service, servers);
    let model_name = format!(
        "M/{}/{servers}",
        match model {
            ServiceModel::Exponential => "M",
            ServiceModel::Deterministic => "D",
        }
    );
    if a.json {
        let out = json!({
            "mode": "queue",
            "model": model_name,
            "arrival_rate_per_s": rate,
            "service_time_ms": service_ms,
            "service": service.kind(),
            "servers": servers,
            "arrivals": arrivals,
            "warmup": warmup,
            "seed": cfg.seed,
            "offered_utilisation": st.offered_utilisation,
            "unstable": !st.stable,
            "utilisation": st.utilisation,
            "throughput_per_s": st.throughput,
            "prob_wait": st.prob_wait,
            "waiting_ms": summary_json(&st.waiting),
            "sojourn_ms": summary_json(&st.sojourn),
            "closed_form_waiting_mean_ms": closed.map(|w| w * 1e3),
            "clamped_values": st.clamped,
            "precision": PRECISION_NOTE,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{model_name} queue: λ = {rate}/s, service {} {service_ms} ms, {servers} server(s), {} arrivals ({} warm-up), seed {}",
            service.kind(),
            arrivals,
            warmup,
            cfg.seed
        );
        println!(
            "offered utilisation ρ = {:.4}{}",
            st.offered_utilisation,
            if st.stable {
                ""
            } else {
                "  UNSTABLE (ρ ≥ 1): waits grow with the run length"
            }
        );
        println!(
            "measured utilisation {:.4}, throughput {:.3}/s, P(wait > 0) = {:.4}",
            st.utilisation, st.throughput, st.prob_wait
        );
        print_summary_header();
        print_summary("waiting", &st.waiting);
        print_summary("sojourn", &st.sojourn);
        match closed {
            Some(w) => println!(
                "closed-form mean wait: {:.4} ms (simulated {:.4} ms)",
                w * 1e3,
                st.waiting.mean * 1e3
            ),
            None if st.stable => println!("closed-form mean wait: none for {model_name}"),
            None => {}
        }
    }
    Ok(Outcome::Success)
}

fn print_summary_header() {
    println!(
        "{:<9} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "(ms)", "mean", "p50", "p90", "p99", "p999", "max"
    );
}

fn print_summary(name: &str, s: &Summary) {
    let m = s.to_ms();
    println!(
        "{name:<9} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>12.4}",
        m.mean, m.p50, m.p90, m.p99, m.p999, m.max
    );
}

// ---------------------------------------------------------------- profiles

/// Published profiles plus measured ones; notes are non-fatal problems to print.
fn load_profiles(a: &CapacityArgs) -> anyhow::Result<(ProfileSet, Vec<String>)> {
    let mut set = ProfileSet::new();
    let mut notes = Vec::new();
    match &a.profiles {
        Some(path) => {
            let text = read(path)?;
            set.extend(parse_published(&text, &path.display().to_string())?);
        }
        None => set.extend(parse_published(BUILTIN_PROFILES, BUILTIN_PROFILES_NAME)?),
    }
    match &a.signers_csv {
        Some(path) => {
            let text = read(path)?;
            parse_measured_csv(&text, &path.display().to_string())?.add_to(&mut set);
        }
        None => {
            let path = Path::new(DEFAULT_SIGNERS_CSV);
            if path.exists() {
                match read(path).and_then(|t| Ok(parse_measured_csv(&t, DEFAULT_SIGNERS_CSV)?)) {
                    Ok(m) => m.add_to(&mut set),
                    Err(e) => notes.push(format!("measured profiles not loaded: {e:#}")),
                }
            }
        }
    }
    Ok((set, notes))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn list_profiles(set: &ProfileSet, as_json: bool) -> anyhow::Result<Outcome> {
    if as_json {
        let items: Vec<Value> = set.profiles().iter().map(profile_json).collect();
        let aliases: Vec<String> = set.names().into_iter().skip(set.profiles().len()).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "profiles": items, "aliases": aliases }))?
        );
    } else {
        for p in set.profiles() {
            println!(
                "{:<40} {:>10.1} signs/s  {}\n{:<40} source: {}",
                p.name,
                p.capacity_per_s(),
                p.figure,
                "",
                p.source
            );
        }
        let aliases: Vec<String> = set.names().into_iter().skip(set.profiles().len()).collect();
        if !aliases.is_empty() {
            println!("aliases: {}", aliases.join(", "));
        }
    }
    Ok(Outcome::Success)
}

fn profile_json(p: &DeviceProfile) -> Value {
    json!({
        "name": p.name,
        "kind": p.kind,
        "description": p.description,
        "figure": p.figure,
        "source": p.source,
        "servers": p.servers,
        "service": p.service.kind(),
        "mean_service_ms": p.service.mean() * 1e3,
        "p99_service_ms": p.service.quantile(0.99) * 1e3,
        "capacity_per_s": p.capacity_per_s(),
        "notes": p.notes,
    })
}

// ---------------------------------------------------------------- planner

struct PlanInputs {
    workload: Workload,
    strategies: Vec<Strategy>,
    device: String,
    settings: PlanSettings,
}

fn merge_inputs(a: &CapacityArgs) -> anyhow::Result<PlanInputs> {
    if a.arrivals.is_some() {
        bail!("--arrivals belongs to direct queue mode; in planner mode use --sim-arrivals");
    }
    let sc = match &a.scenario {
        Some(path) => parse_capacity_table(&read(path)?, &path.display().to_string())?,
        None => CapacityScenario::default(),
    };
    let need =
        |name: &str| anyhow!("missing --{name} (or `{name}` in the scenario's [capacity] table)");
    let duration = |flag: &Option<String>, name: &str| -> anyhow::Result<Option<f64>> {
        flag.as_deref()
            .map(|s| parse_duration(s).map_err(|e| anyhow!("--{name}: {e}")))
            .transpose()
    };
    let agents = a.agents.or(sc.agents).ok_or_else(|| need("agents"))?;
    let edges = a
        .edges_per_agent
        .or(sc.edges_per_agent)
        .ok_or_else(|| need("edges-per-agent"))?;
    let calls = positive_flag(
        "calls-per-sec",
        a.calls_per_sec
            .or(sc.calls_per_sec)
            .ok_or_else(|| need("calls-per-sec"))?,
    )?;
    let at = duration(&a.at_lifetime, "at-lifetime")?
        .or(sc.at_lifetime_s)
        .ok_or_else(|| need("at-lifetime"))?;
    let refresh = duration(&a.refresh_interval, "refresh-interval")?
        .or(sc.refresh_interval_s)
        .unwrap_or(at);
    let strategy = a
        .strategy
        .clone()
        .or(sc.strategy)
        .unwrap_or_else(|| "all".into());
    let strategies = Strategy::parse_list(&strategy)?;
    let device = a
        .device
        .clone()
        .or(sc.device)
        .ok_or_else(|| need("device"))?;
    let slo_ms = positive_flag(
        "slo-p99-ms",
        a.slo_p99_ms.or(sc.slo_p99_ms).unwrap_or(DEFAULT_SLO_MS),
    )?;
    let arrivals = a
        .sim_arrivals
        .or(sc.sim_arrivals)
        .unwrap_or(DEFAULT_SIM_ARRIVALS);
    let workload = Workload {
        agents,
        edges_per_agent: edges,
        calls_per_sec: calls,
        at_lifetime_s: at,
        refresh_interval_s: refresh,
    };
    workload.validate()?;
    let settings = PlanSettings {
        slo_p99_s: slo_ms / 1e3,
        devices: a.devices.or(sc.devices),
        max_devices: a
            .max_devices
            .or(sc.max_devices)
            .unwrap_or(DEFAULT_MAX_DEVICES),
        arrivals,
        warmup: a.warmup.unwrap_or(arrivals / 10),
        seed: a.seed.or(sc.seed).unwrap_or(DEFAULT_SEED),
    };
    settings.validate()?;
    Ok(PlanInputs {
        workload,
        strategies,
        device,
        settings,
    })
}

fn plan(a: &CapacityArgs) -> anyhow::Result<Outcome> {
    let inputs = merge_inputs(a)?;
    let (set, mut notes) = load_profiles(a)?;
    let mut profile = set.get(&inputs.device)?.clone();
    if let Some(model) = a.service {
        let mean = profile.service.mean();
        profile.service = match model {
            ServiceModel::Exponential => ServiceDist::exponential(mean)?,
            ServiceModel::Deterministic => ServiceDist::deterministic(mean)?,
        };
        notes.push(format!(
            "service model of `{}` replaced by {} with the same mean",
            profile.name,
            profile.service.kind()
        ));
    }
    let plans: Vec<StrategyPlan> = inputs
        .strategies
        .iter()
        .map(|&s| planner::plan_strategy(&inputs.workload, s, &profile, &inputs.settings))
        .collect::<Result<_, _>>()?;

    let mut written: Vec<PathBuf> = Vec::new();
    if let Some(dir) = &a.out {
        let (files, plot_notes) = write_outputs(dir, &inputs, &profile, &plans)?;
        written = files;
        notes.extend(plot_notes);
    }
    if a.json {
        let out = json!({
            "mode": "plan",
            "workload": {
                "agents": inputs.workload.agents,
                "edges_per_agent": inputs.workload.edges_per_agent,
                "calls_per_sec": inputs.workload.calls_per_sec,
                "at_lifetime_s": inputs.workload.at_lifetime_s,
                "refresh_interval_s": inputs.workload.refresh_interval_s,
                "api_calls_per_s": inputs.workload.api_calls_per_s(),
                "refreshes_per_s": inputs.workload.refreshes_per_s(),
            },
            "device": profile_json(&profile),
            "slo_p99_ms": inputs.settings.slo_p99_s * 1e3,
            "simulation": {
                "arrivals_per_queue": inputs.settings.arrivals,
                "warmup": inputs.settings.warmup,
                "seed": inputs.settings.seed,
                "max_devices": inputs.settings.max_devices,
                "precision": PRECISION_NOTE,
            },
            "plans": plans.iter().map(plan_json).collect::<Vec<_>>(),
            "files": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "notes": notes,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_plans(&inputs, &profile, &plans);
        for n in &notes {
            println!("note: {n}");
        }
        if let Some(dir) = &a.out {
            println!("wrote {} files to {}", written.len(), dir.display());
        }
    }
    Ok(Outcome::Success)
}

fn stats_json(st: &QueueStats) -> Value {
    json!({
        "offered_utilisation": st.offered_utilisation,
        "utilisation": st.utilisation,
        "unstable": !st.stable,
        "throughput_per_s": st.throughput,
        "prob_wait": st.prob_wait,
        "waiting_ms": summary_json(&st.waiting),
        "sojourn_ms": summary_json(&st.sojourn),
    })
}

fn plan_json(p: &StrategyPlan) -> Value {
    json!({
        "strategy": p.strategy.name(),
        "basis": p.load.basis,
        "device_signs_per_s": p.load.device_signs_per_s,
        "software_signs_per_s": p.load.software_signs_per_s,
        "sizing": p.sizing,
        "devices": p.devices,
        "min_devices_for_stability": p.min_devices_for_stability,
        "per_device_signs_per_s": p.per_device_signs_per_s,
        "per_device": p.stats.as_ref().map(stats_json),
        "closed_form_waiting_mean_ms": p.closed_form_mean_wait_s.map(|w| w * 1e3),
        "slo_met": p.slo_met,
        "one_device_per_agent": p.dedicated.as_ref().map(|d| json!({
            "signs_per_s": d.signs_per_s,
            "slo_met": d.slo_met,
            "queue": stats_json(&d.stats),
        })),
        "note": p.note,
    })
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.prec$}"))
}

fn print_plans(inputs: &PlanInputs, profile: &DeviceProfile, plans: &[StrategyPlan]) {
    let w = &inputs.workload;
    println!(
        "workload: {} agents × {} edge workloads × {} calls/s = {:.1} API calls/s; AT lifetime {}, refresh every {} ({:.2} refreshes/s)",
        w.agents,
        w.edges_per_agent,
        w.calls_per_sec,
        w.api_calls_per_s(),
        format_duration(w.at_lifetime_s),
        format_duration(w.refresh_interval_s),
        w.refreshes_per_s()
    );
    println!(
        "device: {} — {} ({} service, mean {:.4} ms, p99 {:.4} ms, {} server(s): {:.2} signs/s per device)",
        profile.name,
        profile.description,
        profile.service.kind(),
        profile.service.mean() * 1e3,
        profile.service.quantile(0.99) * 1e3,
        profile.servers,
        profile.capacity_per_s()
    );
    println!("  figure: {}\n  source: {}", profile.figure, profile.source);
    println!(
        "SLO: p99 signing latency (queueing + signing) ≤ {} ms; {} simulated arrivals per device queue ({} warm-up), seed {}",
        inputs.settings.slo_p99_s * 1e3,
        inputs.settings.arrivals,
        inputs.settings.warmup,
        inputs.settings.seed
    );
    println!();
    println!(
        "{:<12} {:>14} {:>14} {:>10} {:>10} {:>10} {:>7} {:>11} {:>13} {:>5}",
        "strategy",
        "device sig/s",
        "software sig/s",
        "devices",
        "min(ρ<1)",
        "sig/s/dev",
        "util",
        "wait p99ms",
        "sojourn p99ms",
        "SLO"
    );
    for p in plans {
        let st = p.stats.as_ref();
        let devices = match (p.sizing, p.devices) {
            (Sizing::SloBelowServiceTime, _) | (Sizing::CapReached, _) => "none".to_string(),
            (_, Some(d)) => d.to_string(),
            (_, None) => "-".to_string(),
        };
        println!(
            "{:<12} {:>14.1} {:>14.1} {:>10} {:>10} {:>10} {:>7} {:>11} {:>13} {:>5}",
            p.strategy.name(),
            p.load.device_signs_per_s,
            p.load.software_signs_per_s,
            devices,
            p.min_devices_for_stability,
            fmt_opt(p.per_device_signs_per_s, 2),
            fmt_opt(st.map(|s| s.utilisation), 3),
            fmt_opt(st.map(|s| s.waiting.p99 * 1e3), 2),
            fmt_opt(st.map(|s| s.sojourn.p99 * 1e3), 2),
            match p.slo_met {
                Some(true) => "met",
                Some(false) => "MISS",
                None => "-",
            }
        );
    }
    println!();
    println!("one device per agent (e.g. a TPM in each agent's host):");
    for p in plans {
        if let Some(d) = &p.dedicated {
            println!(
                "  {:<12} {:>10.4} signs/s per device, utilisation {:.4}{}, p99 sojourn {:.2} ms: SLO {}",
                p.strategy.name(),
                d.signs_per_s,
                d.stats.utilisation,
                if d.stats.stable { "" } else { " (UNSTABLE)" },
                d.stats.sojourn.p99 * 1e3,
                if d.slo_met { "met" } else { "MISSED" }
            );
        }
    }
    println!();
    println!("what the device signs:");
    for p in plans {
        println!("  {}: {}", p.strategy.name(), p.load.basis);
        if !p.note.is_empty() {
            println!("    note: {}", p.note);
        }
    }
}

// ---------------------------------------------------------------- outputs

fn write_outputs(
    dir: &Path,
    inputs: &PlanInputs,
    profile: &DeviceProfile,
    plans: &[StrategyPlan],
) -> anyhow::Result<(Vec<PathBuf>, Vec<String>)> {
    use polars::prelude::{Column, DataFrame};
    let staging = OutputDir::create(dir)?;
    let mut files: Vec<String> = Vec::new();
    let mut notes = Vec::new();

    // One row per strategy.
    let col_f = |name: &str, f: &dyn Fn(&StrategyPlan) -> Option<f64>| {
        Column::new(
            name.into(),
            plans.iter().map(f).collect::<Vec<Option<f64>>>(),
        )
    };
    let stat = |f: fn(&QueueStats) -> f64| move |p: &StrategyPlan| p.stats.as_ref().map(f);
    let columns = vec![
        Column::new(
            "strategy".into(),
            plans.iter().map(|p| p.strategy.name()).collect::<Vec<_>>(),
        ),
        Column::new(
            "device_profile".into(),
            plans.iter().map(|p| p.profile.clone()).collect::<Vec<_>>(),
        ),
        Column::new("agents".into(), vec![inputs.workload.agents; plans.len()]),
        Column::new(
            "edges_per_agent".into(),
            vec![inputs.workload.edges_per_agent; plans.len()],
        ),
        Column::new(
            "calls_per_sec".into(),
            vec![inputs.workload.calls_per_sec; plans.len()],
        ),
        Column::new(
            "at_lifetime_s".into(),
            vec![inputs.workload.at_lifetime_s; plans.len()],
        ),
        Column::new(
            "refresh_interval_s".into(),
            vec![inputs.workload.refresh_interval_s; plans.len()],
        ),
        Column::new(
            "device_signs_per_s".into(),
            plans
                .iter()
                .map(|p| p.load.device_signs_per_s)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "software_signs_per_s".into(),
            plans
                .iter()
                .map(|p| p.load.software_signs_per_s)
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "sizing".into(),
            plans
                .iter()
                .map(|p| {
                    serde_json::to_value(p.sizing)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "devices".into(),
            plans
                .iter()
                .map(|p| p.devices)
                .collect::<Vec<Option<u64>>>(),
        ),
        Column::new(
            "min_devices_for_stability".into(),
            plans
                .iter()
                .map(|p| p.min_devices_for_stability)
                .collect::<Vec<_>>(),
        ),
        col_f("per_device_signs_per_s", &|p| p.per_device_signs_per_s),
        col_f("utilisation", &stat(|s| s.utilisation)),
        col_f("wait_mean_ms", &stat(|s| s.waiting.mean * 1e3)),
        col_f("wait_p50_ms", &stat(|s| s.waiting.p50 * 1e3)),
        col_f("wait_p90_ms", &stat(|s| s.waiting.p90 * 1e3)),
        col_f("wait_p99_ms", &stat(|s| s.waiting.p99 * 1e3)),
        col_f("wait_p999_ms", &stat(|s| s.waiting.p999 * 1e3)),
        col_f("sojourn_mean_ms", &stat(|s| s.sojourn.mean * 1e3)),
        col_f("sojourn_p50_ms", &stat(|s| s.sojourn.p50 * 1e3)),
        col_f("sojourn_p90_ms", &stat(|s| s.sojourn.p90 * 1e3)),
        col_f("sojourn_p99_ms", &stat(|s| s.sojourn.p99 * 1e3)),
        col_f("sojourn_p999_ms", &stat(|s| s.sojourn.p999 * 1e3)),
        col_f("closed_form_wait_mean_ms", &|p| {
            p.closed_form_mean_wait_s.map(|w| w * 1e3)
        }),
        Column::new(
            "slo_p99_ms".into(),
            vec![inputs.settings.slo_p99_s * 1e3; plans.len()],
        ),
        Column::new(
            "slo_met".into(),
            plans
                .iter()
                .map(|p| p.slo_met)
                .collect::<Vec<Option<bool>>>(),
        ),
        col_f("dedicated_signs_per_s", &|p| {
            p.dedicated.as_ref().map(|d| d.signs_per_s)
        }),
        col_f("dedicated_utilisation", &|p| {
            p.dedicated.as_ref().map(|d| d.stats.utilisation)
        }),
        col_f("dedicated_sojourn_p99_ms", &|p| {
            p.dedicated.as_ref().map(|d| d.stats.sojourn.p99 * 1e3)
        }),
        Column::new(
            "note".into(),
            plans.iter().map(|p| p.note.clone()).collect::<Vec<_>>(),
        ),
    ];
    let mut df = DataFrame::new_infer_height(columns)?;
    write_table(staging.path(), "capacity", &mut df)?;
    files.extend(["capacity.csv".into(), "capacity.parquet".into()]);

    // Latency against offered load, per strategy with device load, on its own fleet size.
    let rhos = planner::default_sweep_rhos();
    let (mut sw_strategy, mut sw_devices, mut sw_rho, mut sw_offered) =
        (vec![], vec![], vec![], vec![]);
    let (mut sw_util, mut sw_wait_mean, mut sw_p99, mut sw_sojourn_mean) =
        (vec![], vec![], vec![], vec![]);
    for p in plans.iter().filter(|p| p.load.device_signs_per_s > 0.0) {
        let devices = p
            .devices
            .filter(|&d| d > 0)
            .unwrap_or(p.min_devices_for_stability.max(1));
        let points = planner::sweep(profile, devices, &rhos, &inputs.settings)?;
        for pt in &points {
            sw_strategy.push(p.strategy.name());
            sw_devices.push(devices);
            sw_rho.push(pt.rho);
            sw_offered.push(pt.offered_signs_per_s);
            sw_util.push(pt.stats.utilisation);
            sw_wait_mean.push(pt.stats.waiting.mean * 1e3);
            sw_p99.push(pt.stats.sojourn.p99 * 1e3);
            sw_sojourn_mean.push(pt.stats.sojourn.mean * 1e3);
        }
        let slo_ms = inputs.settings.slo_p99_s * 1e3;
        let (x0, x1) = (
            points.first().map_or(0.0, |pt| pt.offered_signs_per_s),
            points.last().map_or(1.0, |pt| pt.offered_signs_per_s),
        );
        let mut series = vec![
            Series {
                name: "p99 sojourn".into(),
                points: points
                    .iter()
                    .map(|pt| (pt.offered_signs_per_s, pt.stats.sojourn.p99 * 1e3))
                    .collect(),
            },
            Series {
                name: "mean sojourn".into(),
                points: points
                    .iter()
                    .map(|pt| (pt.offered_signs_per_s, pt.stats.sojourn.mean * 1e3))
                    .collect(),
            },
            Series {
                name: format!("SLO {slo_ms} ms"),
                points: vec![(x0, slo_ms), (x1, slo_ms)],
            },
        ];
        if let Some(st) = &p.stats {
            series.push(Series {
                name: "required load".into(),
                points: vec![(p.load.device_signs_per_s, st.sojourn.p99 * 1e3)],
            });
        }
        let chart = LineChart {
            title: format!(
                "{}: {} × {} (p99 signing latency vs load)",
                p.strategy.name(),
                devices,
                profile.name
            ),
            x_label: format!("offered device signatures/s across {devices} device(s)"),
            y_label: "sojourn time (queueing + signing), ms".into(),
            log_x: false,
            log_y: true,
            series,
            x_range: None,
            y_range: None,
        };
        let stem = format!("capacity-{}", p.strategy.name());
        let f = plot::write_line_chart(staging.path(), &stem, &chart)?;
        files.push(format!("{stem}.svg"));
        if f.png.is_some() {
            files.push(format!("{stem}.png"));
        }
        notes.extend(f.notes.into_iter().map(|n| format!("{stem}: {n}")));
    }
    let columns = vec![
        Column::new("strategy".into(), sw_strategy),
        Column::new("devices".into(), sw_devices),
        Column::new("rho".into(), sw_rho),
        Column::new("offered_signs_per_s".into(), sw_offered),
        Column::new("utilisation".into(), sw_util),
        Column::new("wait_mean_ms".into(), sw_wait_mean),
        Column::new("sojourn_mean_ms".into(), sw_sojourn_mean),
        Column::new("sojourn_p99_ms".into(), sw_p99),
    ];
    let mut df = DataFrame::new_infer_height(columns)?;
    write_table(staging.path(), "capacity-sweep", &mut df)?;
    files.extend(["capacity-sweep.csv".into(), "capacity-sweep.parquet".into()]);

    let bars = BarChart {
        title: format!(
            "devices needed: {} (p99 ≤ {} ms)",
            profile.name,
            inputs.settings.slo_p99_s * 1e3
        ),
        x_label: "strategy (those without device signatures need none and are not shown)".into(),
        y_label: "devices".into(),
        log_y: true,
        bars: plans
            .iter()
            .filter(|p| p.sizing != Sizing::NoDeviceLoad)
            .map(|p| {
                (
                    p.strategy.name().to_string(),
                    p.devices.map_or(f64::NAN, |d| d as f64),
                )
            })
            .collect(),
    };
    let f = plot::write_bar_chart(staging.path(), "capacity-devices", &bars)?;
    files.push("capacity-devices.svg".into());
    if f.png.is_some() {
        files.push("capacity-devices.png".into());
    }
    notes.extend(
        f.notes
            .into_iter()
            .map(|n| format!("capacity-devices: {n}")),
    );

    let summary = json!({
        "device": profile_json(profile),
        "slo_p99_ms": inputs.settings.slo_p99_s * 1e3,
        "plans": plans.iter().map(plan_json).collect::<Vec<_>>(),
    });
    let json_path = staging.path().join("capacity.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&summary)? + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    files.push("capacity.json".into());

    let dest = staging.commit()?;
    Ok((files.into_iter().map(|f| dest.join(f)).collect(), notes))
}
