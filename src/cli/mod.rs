//! Argument parsing and dispatch. Exit codes: 0 success, 1 a negative verdict (e.g. a proof that
//! does not verify), 2 bad input or any other error (one line on stderr, never a backtrace).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod capacity;
mod dpop;
mod sim;

#[derive(Parser)]
#[command(name = "leaklab", version, about = "Simulate and benchmark the containment of leaked OAuth tokens")]
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
    /// Create, inspect and verify DPoP and DPoP-RT proofs.
    #[command(subcommand)]
    Dpop(dpop::DpopCommand),
    /// Measure signing devices (e.g. `bench signers`) for capacity planning.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Size the HSM/TPM signing fleet for a workload, or run the signing queue (direct mode).
    Capacity(capacity::CapacityArgs),
}

/// What a command asks `main` to exit with, besides errors.
pub enum Outcome {
    Success,
    /// A negative verdict that is not an error (exit code 1).
    Negative,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => sim::run_scenario(args),
        Command::Validate(args) => sim::validate(args),
        Command::Reproduce(args) => sim::reproduce(args),
        Command::Dpop(cmd) => dpop::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Capacity(args) => capacity::run(args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Negative) => ExitCode::from(1),
        Err(err) => {
            eprintln!("leaklab: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
