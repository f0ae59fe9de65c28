//! `leaklab sweep`, `leaklab merge` and `leaklab reproduce ietf124 --robust`: parameter studies
//! (`leaklab_report::Study` runs them, `leaklab_report::merge` merges); this module prints.

use std::path::{Path, PathBuf};

use clap::Args;
use leaklab_report::{merge as merge_shards, Merged};
use leaklab_report::{shard_dir_name, ShardEvent, Study, StudyError};
use leaklab_study::Shard;

use super::Outcome;

#[derive(Args)]
pub struct SweepArgs {
    /// Sweep file: a scenario plus a [sweep] table (see scenarios/README.md).
    pub file: PathBuf,
    /// Compute only shard I of N (points I, I+N, I+2N, …), e.g. a Slurm array task.
    #[arg(long, default_value = "0/1")]
    pub shard: Shard,
    /// Shard directory (default: results/<scenario>-sweep/shard-<I>-of-<N>). Finished points in
    /// it are kept: a rerun resumes.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args)]
pub struct MergeArgs {
    /// Shard directories written by `leaklab sweep` (every shard of one sweep, once).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Directory for the merged results (replaced as a whole).
    #[arg(long)]
    pub out: PathBuf,
}

/// The robust study of the IETF 124 claims, built in like the claims scenario.
const IETF124_ROBUST_SWEEP: &str = include_str!("../../scenarios/ietf124-robust.toml");

/// The progress lines of a shard run (none when `quiet`).
fn progress(study: &Study, quiet: bool) -> impl FnMut(ShardEvent) + '_ {
    move |event| {
        match event {
        _ if quiet => {}
        ShardEvent::Start { shard, dir, points, already_done } => eprintln!(
            "leaklab: sweep {} ({} design, {} points): shard {}/{} has {points} points, {already_done} already done, writing to {}",
            study.label(), study.design_name(), study.points(), shard.index, shard.count, dir.display()
        ),
        ShardEvent::PointDone { index, done, todo, elapsed } => {
            let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
            eprintln!(
                "leaklab: point {index} done ({done}/{todo} of this shard, {rate:.2} points/s, eta {:.0} s)",
                (todo - done) as f64 / rate
            );
        }
    }
    }
}

pub fn sweep(args: SweepArgs) -> anyhow::Result<Outcome> {
    let study = Study::load(&args.file)?;
    let dir = args
        .out
        .unwrap_or_else(|| study.default_shard_dir(args.shard));
    study.run_shard(args.shard, &dir, &mut progress(&study, args.quiet))?;
    if !args.quiet {
        eprintln!(
            "leaklab: shard {}/{} complete in {}; merge every shard with `leaklab merge <dirs> --out <dir>`",
            args.shard.index,
            args.shard.count,
            dir.display()
        );
    }
    Ok(Outcome::Success)
}

pub fn merge(args: MergeArgs) -> anyhow::Result<Outcome> {
    let merged = merge_shards(&args.dirs, &args.out)?;
    eprintln!(
        "leaklab: merged {} points from {} shard(s) into {}",
        merged.points,
        merged.shards,
        merged.dir.display()
    );
    print_robust(merged)
}

fn print_robust(merged: Merged) -> anyhow::Result<Outcome> {
    if let Some(md) = merged.robust {
        print!("{md}");
    }
    Ok(Outcome::Success)
}

/// `reproduce ietf124 --robust`: the claims judged at every point of the built-in robust study.
/// Unsharded, it runs every point and writes the merged results to `out`; with a shard, it
/// writes that shard's directory for a later `leaklab merge`.
pub fn robust(shard: Shard, out: Option<PathBuf>, quiet: bool) -> anyhow::Result<Outcome> {
    let label = "scenarios/ietf124-robust.toml (built in)";
    let study = Study::from_text(label, IETF124_ROBUST_SWEEP.to_string(), |name| {
        (name == "ietf124.toml")
            .then(|| leaklab_claims::IETF124_SCENARIO.to_string())
            .ok_or_else(|| StudyError::UnknownScenario {
                label: label.into(),
                name: name.into(),
            })
    })?;
    if shard != Shard::ALL {
        let dir = out.unwrap_or_else(|| {
            Path::new("results/ietf124-robust-shards").join(shard_dir_name(shard))
        });
        study.run_shard(shard, &dir, &mut progress(&study, quiet))?;
        eprintln!(
            "leaklab: robust shard {}/{} written to {}; merge every shard with `leaklab merge <dirs> --out results/ietf124-robust`",
            shard.index,
            shard.count,
            dir.display()
        );
        return Ok(Outcome::Success);
    }
    let out = out.unwrap_or_else(|| PathBuf::from("results/ietf124-robust"));
    let merged = study.run_merged(&out, &mut progress(&study, quiet))?;
    eprintln!(
        "leaklab: robust verdicts over {} points written to {}",
        merged.points,
        merged.dir.display()
    );
    print_robust(merged)
}
