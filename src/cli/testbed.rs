//! `leaklab drill`: the leak drill against live servers (the testbed crate), results through
//! the report crate.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::{Args, ValueEnum};
use leaklab_drill::{DrillOptions, DrillSummary, TOLERANCE_S};
use leaklab_protocol::signer::Signer;
use leaklab_report::drill_output;
use leaklab_sim::scenario::{AttackerPolicy, KeyStorage, Scenario};

use super::Outcome;

#[derive(Args, Debug)]
pub struct DrillArgs {
    /// Scenario file (its strategies × leaks are drilled).
    pub scenario: PathBuf,
    /// Customers per strategy × leak (the first N of the replication; unaffected ones skipped).
    #[arg(long, default_value_t = 24)]
    pub customers: u64,
    /// Simulated seconds per wall second, to watch a drill (default: as fast as the servers answer).
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// Attacker policy (default: the scenario's first).
    #[arg(long, value_enum)]
    pub policy: Option<DrillPolicy>,
    /// Replication whose draws are replayed.
    #[arg(long, default_value_t = 0)]
    pub replication: u32,
    /// Output directory (default: results/drill-<scenario name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The attacker policies the drill can play.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DrillPolicy {
    Maximal,
    AtExpiry,
}

impl From<DrillPolicy> for AttackerPolicy {
    fn from(p: DrillPolicy) -> Self {
        match p {
            DrillPolicy::Maximal => AttackerPolicy::Maximal,
            DrillPolicy::AtExpiry => AttackerPolicy::AtExpiry,
        }
    }
}

/// The core device: a key in a swtpm this process starts (the lab's harness), so the drill
/// needs no TPM of the machine's own; the first value keeps swtpm running.
#[cfg(feature = "tpm")]
fn device() -> anyhow::Result<(Box<dyn std::any::Any>, Box<dyn Signer>)> {
    let tpm =
        leaklab_signers::lab::Swtpm::start().context("starting swtpm for the core device key")?;
    let signer =
        leaklab_signers::tpm::TpmSigner::open(&tpm.tcti()).context("opening a key in swtpm")?;
    Ok((Box::new(tpm), Box::new(signer)))
}

#[cfg(not(feature = "tpm"))]
fn device() -> anyhow::Result<(Box<dyn std::any::Any>, Box<dyn Signer>)> {
    anyhow::bail!("the scenario keeps core keys on a device; build with --features tpm (the README's commands do)")
}

pub fn drill(args: DrillArgs) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(&args.scenario)
        .with_context(|| format!("{}: cannot read", args.scenario.display()))?;
    let scenario = Scenario::from_toml(&args.scenario.display().to_string(), &text)?;
    let policy = args.policy.map(AttackerPolicy::from);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("results/drill-{}", scenario.name)));
    let (_tpm, device) = if scenario.core_key_storage != KeyStorage::Disk {
        let (t, s) = device()?;
        (Some(t), Some(Arc::new(Mutex::new(s))))
    } else {
        (None, None)
    };
    let state = tempfile::Builder::new()
        .prefix("leaklab-drill-")
        .tempdir()?;
    let opts = DrillOptions {
        customers: args.customers,
        replication: args.replication,
        policy,
        time_scale: args.time_scale,
        state_dir: state.path().to_owned(),
        device,
        progress: Box::new(|cell| eprintln!("leaklab drill: {cell} done")),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let started = std::time::Instant::now();
    let cells = runtime.block_on(leaklab_drill::run(&scenario, &opts))?;
    for cell in &cells {
        println!("{cell}");
    }
    // The page and tables hold only what the draws determine (same scenario + seed => same
    // bytes); the wall time goes to the terminal.
    let meta = vec![format!(
        "Scenario {} (seed {}), replication {}, first {} customers.",
        scenario.name, scenario.seed, args.replication, args.customers
    )];
    eprintln!("leaklab drill: {:.1} s", started.elapsed().as_secs_f64());
    let dir = drill_output::write(&out, &scenario.name, &meta, &cells, TOLERANCE_S)?;
    let summary = DrillSummary::of(&cells);
    println!(
        "{} of {} customers agree within {TOLERANCE_S} s; results in {}",
        summary.agreeing,
        summary.customers,
        dir.display()
    );
    Ok(if summary.all_agree() {
        Outcome::Success
    } else {
        Outcome::Negative
    })
}

#[derive(clap::Subcommand, Debug)]
pub enum TestbedCommand {
    /// Start the authorization server and two resource servers on 127.0.0.1 and print one JSON
    /// line (URLs, client_id, a fresh refresh token, the CA certificate); stop with SIGINT/SIGTERM.
    Serve(ServeArgs),
    /// Closed-loop load on the resource server (DPoP calls) and the authorization server
    /// (DPoP + DPoP-RT refreshes, software and swtpm keys): throughput, latency percentiles and
    /// the ratio to `openssl speed ecdsap256` verify/s measured in the same run.
    Load(LoadArgs),
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Seconds per target (each target also stops at 2,000,000 requests).
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Slices per target, each followed by the openssl reference (the ratio is their median).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Skip the swtpm refresh target.
    #[arg(long)]
    pub no_device: bool,
    /// Output directory.
    #[arg(long, default_value = "results/testbed-load")]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Config file with a [testbed] table (at_lifetime, proof_window, nonce_lifetime,
    /// at_revocation, rotation, reuse_detection, port).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where the servers keep their SQLite state (kept across restarts; default: a fresh
    /// temporary directory removed on exit).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

pub fn run(cmd: TestbedCommand) -> anyhow::Result<Outcome> {
    match cmd {
        TestbedCommand::Serve(args) => serve(args),
        TestbedCommand::Load(args) => load(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    use leaklab_testbed::{announce, ServeConfig};
    let temp;
    let state_dir = match &args.state_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("leaklab-testbed-")
                .tempdir()?;
            temp.path().to_owned()
        }
    };
    let config = match &args.config {
        Some(f) => ServeConfig::from_file(f, &state_dir)?,
        None => ServeConfig::defaults(&state_dir),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let bed = leaklab_testbed::Testbed::start(
            &config.bed,
            std::sync::Arc::new(leaklab_testbed::SystemClock),
        )
        .await
        .context("starting the testbed")?;
        let line = announce(&bed, &config, &state_dir).await?;
        println!("{line}");
        use std::io::Write as _;
        std::io::stdout().flush()?;
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        bed.stop().await;
        eprintln!("leaklab testbed: stopped");
        anyhow::Ok(())
    })?;
    Ok(Outcome::Success)
}

fn load(args: LoadArgs) -> anyhow::Result<Outcome> {
    use leaklab_report::load_output;
    use leaklab_testbed::{LoadOptions, Reference};
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        anyhow::bail!(
            "--seconds {}: expected more than 0 and at most 3600",
            args.seconds
        );
    }
    if !(1..=1024).contains(&args.concurrency) {
        anyhow::bail!("--concurrency {}: expected 1 to 1024", args.concurrency);
    }
    if !(1..=100).contains(&args.rounds) {
        anyhow::bail!("--rounds {}: expected 1 to 100", args.rounds);
    }
    let (_tpm, device) = if args.no_device {
        (None, None)
    } else {
        let (t, s) = device()?;
        (Some(t), Some(("swtpm".to_owned(), Arc::new(Mutex::new(s)))))
    };
    let state = tempfile::Builder::new().prefix("leaklab-load-").tempdir()?;
    let opts = LoadOptions {
        seconds: args.seconds,
        concurrency: args.concurrency,
        state_dir: state.path().to_owned(),
        device,
        rounds: args.rounds,
        // As long a run of openssl after each slice (at least the 1 s `openssl speed` allows):
        // on this kind of shared VM one-second runs of openssl alone spread ±15%.
        reference: Some(|slice| {
            leaklab_signer_bench::openssl_verify_per_s(slice.round().max(1.0) as u64)
        }),
    };
    eprintln!(
        "leaklab testbed load: {} s per target in {} slices, {} clients",
        args.seconds, args.rounds, args.concurrency
    );
    let rows = leaklab_testbed::run_load(&opts)?;
    for row in &rows {
        println!("{row}");
    }
    let reference = Reference::of(&rows);
    if reference != Reference::Measured {
        println!("{reference}");
    }
    let meta = vec![leaklab_signer_bench::host_description()];
    let dir = load_output::write(&args.out, &rows, &meta)?;
    println!("results in {}", dir.display());
    Ok(Outcome::Success)
}
