//! `leaklab validate`, `leaklab run` and `leaklab reproduce`: the simulator's edges.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use leaklab_claims::{evaluate, ClaimsReport};
use leaklab_report::{summary_markdown, write_run, Timings};
use leaklab_sim::runner::{run, threads, total_runs, Progress, RunResults, Silent};
use leaklab_sim::scenario::{Overrides, Scenario};
use leaklab_sim::summary::summarize;

use super::Outcome;

#[derive(Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
}

#[derive(Args)]
pub struct RunArgs {
    /// Scenario file (TOML), e.g. scenarios/ietf124.toml.
    pub file: PathBuf,
    /// Output directory (default: results/<scenario name>). Replaced as a whole on success.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Also write one row per affected customer, strategy, leak and replication.
    #[arg(long)]
    pub per_customer: bool,
}

/// The run-size flags `run` and `reproduce` share.
#[derive(Args)]
pub struct OverrideArgs {
    /// Override the number of replications (at least 2, for confidence intervals).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=10_000))]
    pub replications: Option<u32>,
    /// Override the number of customers.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub customers: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl OverrideArgs {
    fn with_seed(&self, seed: Option<u64>) -> Overrides {
        Overrides {
            seed,
            replications: self.replications,
            customers: self.customers,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Claims {
    Ietf124,
}

#[derive(Args)]
pub struct ReproduceArgs {
    /// Which set of claims.
    pub claims: Claims,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Use this scenario file instead of the built-in scenarios/ietf124.toml.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Judge the claims over the sourced parameter ranges (scenarios/ietf124-robust.toml)
    /// instead of at one point; writes results/ietf124-robust/.
    #[arg(long)]
    pub robust: bool,
    /// With --robust: compute only shard I of N (merge the shards with `leaklab merge`).
    #[arg(long, requires = "robust")]
    pub shard: Option<leaklab_study::Shard>,
    /// With --robust: the output directory (a shard directory when --shard is given).
    #[arg(long, requires = "robust")]
    pub out: Option<PathBuf>,
}

fn load(file: &Path) -> anyhow::Result<(Scenario, String)> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    let scenario = Scenario::from_toml(&file.display().to_string(), &text)?;
    Ok((scenario, text))
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<Outcome> {
    let (s, _) = load(&args.file)?;
    println!("{}: ok — {}", args.file.display(), s.describe());
    Ok(Outcome::Success)
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn advance(&self, runs: u64) {
        self.0.inc(runs);
    }
}

fn simulate(scenario: &Scenario, per_customer: bool, quiet: bool) -> (RunResults, f64) {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total_runs(scenario))
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent}% customer runs, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let start = Instant::now();
    let results = run(scenario, per_customer, &Bar(bar.clone()));
    bar.finish_and_clear();
    (results, start.elapsed().as_secs_f64())
}

pub fn run_scenario(args: RunArgs) -> anyhow::Result<Outcome> {
    let (mut scenario, mut text) = load(&args.file)?;
    let overrides = scenario.apply(args.overrides.with_seed(args.seed));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(&scenario.name));
    // Refuse before simulating: results replace a directory as a whole, never a file.
    if out.exists() && !out.is_dir() {
        anyhow::bail!("output {}: exists and is not a directory", out.display());
    }
    eprintln!(
        "leaklab: running {} on {} threads",
        scenario.describe(),
        threads()
    );
    let (results, wall) = simulate(&scenario, args.per_customer, args.overrides.quiet);
    // The run's overrides are part of what was simulated: record them with the scenario text.
    text.extend(overrides);
    let written = write_run(
        &results,
        &args.file.display().to_string(),
        &text,
        &out,
        args.per_customer,
        &Timings {
            wall_seconds: wall,
            threads: threads(),
        },
    )
    .with_context(|| format!("writing results to {}", out.display()))?;
    println!("{}", summary_markdown(&results, &summarize(&results)));
    eprintln!(
        "leaklab: {} events in {:.1} s ({:.1} M events/s); wrote {} files to {}",
        results.events,
        wall,
        results.events as f64 / wall.max(1e-9) / 1e6,
        written.files.len(),
        written.dir.display()
    );
    for note in written.notes {
        eprintln!("leaklab: note: {note}");
    }
    Ok(Outcome::Success)
}

pub fn reproduce(args: ReproduceArgs) -> anyhow::Result<Outcome> {
    let Claims::Ietf124 = args.claims;
    if args.robust {
        let o = &args.overrides;
        if args.scenario.is_some() || o.replications.is_some() || o.customers.is_some() {
            anyhow::bail!("--robust runs the built-in study scenarios/ietf124-robust.toml; --scenario, --replications and --customers do not apply (use `leaklab sweep` for a study of your own)");
        }
        return super::sweep::robust(
            args.shard.unwrap_or(leaklab_study::Shard::ALL),
            args.out,
            o.quiet,
        );
    }
    let (mut scenario, file) = match &args.scenario {
        Some(f) => (load(f)?.0, f.display().to_string()),
        None => (
            Scenario::from_toml(
                "scenarios/ietf124.toml (built in)",
                leaklab_claims::IETF124_SCENARIO,
            )?,
            "built-in ietf124".into(),
        ),
    };
    scenario.apply(args.overrides.with_seed(None));
    if !args.json {
        eprintln!(
            "leaklab: simulating {file}: {} customers, {} replications",
            scenario.customers, scenario.replications
        );
    }
    let (results, _) = simulate(&scenario, false, args.overrides.quiet || args.json);
    let claims = evaluate(&results)?;
    if !args.json {
        eprintln!("leaklab: judging the findings beyond the slides (small variant runs)");
    }
    let report = ClaimsReport {
        findings: leaklab_claims::findings::evaluate(&scenario, &results, &Silent)?,
        scenario: scenario.name,
        claims,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(Outcome::Success)
}
