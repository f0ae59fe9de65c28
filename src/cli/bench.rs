//! `leaklab bench signers`: the signer harness (`leaklab_signer_bench`) with a progress bar, its
//! table on stdout and in `<out>/signers.{csv,parquet}` (`leaklab_report::write_signers`).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};
use leaklab_signer_bench::{Budget, Config, Progress, ProgressUnit};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Measure ES256 signing on each available signer (software p256, aws-lc-rs, TPM, PKCS#11)
    /// and write <out>/signers.csv and <out>/signers.parquet.
    Signers(SignersArgs),
}

#[derive(Args)]
pub struct SignersArgs {
    /// Measure each signer and concurrency for this many seconds (default 3).
    #[arg(long, conflicts_with = "count")]
    seconds: Option<f64>,
    /// Measure each signer and concurrency for this many signatures instead.
    #[arg(long)]
    count: Option<u64>,
    /// The second concurrency level (threads, each with its own key/session/context; a TPM
    /// without a resource manager is shared and serialises them). Default: CPU count.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Directory for signers.csv and signers.parquet (other files there are left alone).
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Skip the tpm2_sign and openssl comparison rows.
    #[arg(long)]
    no_compare: bool,
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<super::Outcome> {
    match cmd {
        BenchCommand::Signers(args) => signers(args),
    }
}

fn signers(args: SignersArgs) -> anyhow::Result<super::Outcome> {
    // The library's errors say what is wrong; the flag that carried it is the CLI's to name.
    let flag = if args.count.is_some() {
        "--count"
    } else {
        "--seconds"
    };
    let budget = Budget::new(args.seconds, args.count).map_err(|e| anyhow!("{flag}: {e}"))?;
    let config = Config::new(budget, args.concurrency, !args.no_compare)
        .map_err(|e| anyhow!("--concurrency: {e}"))?;
    let report = leaklab_signer_bench::run(&config, &mut Bar(None))?;
    for skipped in &report.skipped {
        eprintln!("leaklab: {skipped}");
    }
    let written = leaklab_report::write_signers(&args.out, &report)?;
    print!("{report}");
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(super::Outcome::Success)
}

/// One indicatif bar per measurement.
struct Bar(Option<indicatif::ProgressBar>);

impl Progress for Bar {
    fn start(&mut self, label: &str, total: u64, unit: ProgressUnit) {
        let bar = indicatif::ProgressBar::new(total);
        let template = format!("{{msg:32}} [{{bar:30}}] {{pos}}/{{len}} {}", unit.as_str());
        let style = indicatif::ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(label.to_string());
        self.0 = Some(bar);
    }

    fn update(&mut self, position: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(position);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}
