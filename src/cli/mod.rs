//! Argument parsing and dispatch. Exit codes: 0 success, 1 a negative verdict (e.g. a proof that
//! does not verify), 2 bad input or any other error (one line on stderr, never a backtrace).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod capacity;
mod dpop;
mod sim;
mod sweep;
mod testbed;

#[derive(Parser)]
#[command(
    name = "leaklab",
    version,
    about = "Simulate and benchmark the containment of leaked OAuth tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario: simulate every strategy against every leak, write tables, plots and a summary.
    Run(sim::RunArgs),
    /// Check a scenario file without running it.
    Validate(sim::ValidateArgs),
    /// Re-run the IETF 124 slide claims and judge each from the simulation.
    Reproduce(sim::ReproduceArgs),
    /// Run a parameter study (or one shard of it): a scenario plus a [sweep] table.
    Sweep(sweep::SweepArgs),
    /// Join the shards of one sweep into one dataset, with sensitivity indices and robust verdicts.
    Merge(sweep::MergeArgs),
    /// Create, inspect and verify DPoP and DPoP-RT proofs.
    #[command(subcommand)]
    Dpop(dpop::DpopCommand),
    /// Measure signing devices (e.g. `bench signers`) for capacity planning.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Size the HSM/TPM signing fleet for a workload (`plan`), run one signing queue (`queue`),
    /// or list the device profiles (`profiles`).
    #[command(subcommand)]
    Capacity(capacity::CapacityCommand),
    /// Leak drill: play a scenario's draws against live servers (AS, RS, agent, attacker on
    /// 127.0.0.1) and compare each customer's measured time to disable with the simulator's.
    Drill(testbed::DrillArgs),
    /// The live testbed's servers for outside clients (`testbed serve`).
    #[command(subcommand)]
    Testbed(testbed::TestbedCommand),
}

/// What a command asks `main` to exit with, besides errors.
pub enum Outcome {
    Success,
    /// A negative verdict that is not an error (exit code 1).
    Negative,
}

pub fn main() -> ExitCode {
    quiet_tss_logging();
    let args = match capacity::flat::expand(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(err) => return error(&err),
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let result = match cli.command {
        Command::Run(args) => sim::run_scenario(args),
        Command::Validate(args) => sim::validate(args),
        Command::Reproduce(args) => sim::reproduce(args),
        Command::Sweep(args) => sweep::sweep(args),
        Command::Merge(args) => sweep::merge(args),
        Command::Dpop(cmd) => dpop::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Capacity(cmd) => capacity::run(cmd),
        Command::Drill(args) => testbed::drill(args),
        Command::Testbed(cmd) => testbed::run(cmd),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(err) => error(&err),
    }
}

fn error(err: &anyhow::Error) -> ExitCode {
    eprintln!("leaklab: error: {}", one_line(&format!("{err:#}")));
    ExitCode::from(2)
}

/// The TPM stack (tpm2-tss) logs its own WARNING/ERROR lines to stderr, so a missing TPM would
/// print several lines before leaklab's one error line. Unless the user set `TSS2_LOG` (e.g.
/// `TSS2_LOG=all+debug` to debug a TPM), it is set to `all+NONE` here, in the binary and before
/// any thread starts: the signers library leaves a caller's environment alone.
fn quiet_tss_logging() {
    if std::env::var_os("TSS2_LOG").is_none() {
        std::env::set_var("TSS2_LOG", "all+NONE");
    }
}

/// Command-line syntax errors follow the same contract as every other error: exit code 2 and
/// one `leaklab: error: ...` line (clap's own rendering spans several lines with a usage block).
/// `--help` and `--version` are not errors and keep clap's output and exit code. `leaklab` (or
/// `leaklab dpop`) without a subcommand prints that command's help, as clap tools do: on stderr,
/// exit code 2 (clap's `arg_required_else_help`).
fn usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let rendered = err.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let message = if message.is_empty() {
        "missing subcommand"
    } else {
        message
    };
    eprintln!(
        "leaklab: error: {} (see `leaklab --help`)",
        one_line(message)
    );
    ExitCode::from(2)
}

/// Joins a possibly multi-line message (e.g. a parser's report with a source excerpt) into one
/// line, so stderr carries exactly one error line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
