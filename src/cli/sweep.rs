//! `leaklab sweep`, `leaklab merge` and `leaklab reproduce ietf124 --robust`: parameter studies.
//! The design and analysis are `leaklab_study`'s, the shard files and the merge
//! `leaklab_report`'s; this module runs the points.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _};
use clap::Args;

use leaklab_claims::{evaluate, Verdict};
use leaklab_report::{merge as merge_shards, PointVerdict, ShardDir};
use leaklab_sim::runner::{run, Silent};
use leaklab_sim::scenario::Scenario;
use leaklab_sim::summary::summarize;
use leaklab_study::apply::apply;
use leaklab_study::design::{points, Point};
use leaklab_study::shards::ShardInfo;
use leaklab_study::spec::{split, SweepSpec};
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
pub const IETF124_ROBUST_SWEEP: &str = include_str!("../../scenarios/ietf124-robust.toml");

/// A sweep ready to run: its texts, specification, base scenario table and design.
struct Study {
    label: String,
    sweep_text: String,
    /// The referenced scenario's text (when the sweep names one).
    scenario_text: Option<String>,
    spec: SweepSpec,
    base: toml::Table,
    design: Vec<Point>,
}

impl Study {
    fn load(file: &Path) -> anyhow::Result<Study> {
        let label = file.display().to_string();
        let text =
            std::fs::read_to_string(file).with_context(|| format!("{label}: cannot read"))?;
        let dir = file.parent().unwrap_or(Path::new("."));
        Study::from_text(&label, text, |name| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).with_context(|| {
                format!("{label}: [sweep] scenario {}: cannot read", path.display())
            })
        })
    }

    fn from_text(
        label: &str,
        sweep_text: String,
        read_scenario: impl Fn(&str) -> anyhow::Result<String>,
    ) -> anyhow::Result<Study> {
        let (spec, own) = split(label, &sweep_text)?;
        let (base, scenario_text) = match &spec.scenario {
            Some(name) => {
                if !own.is_empty() {
                    bail!("{label}: [sweep] names scenario \"{name}\", so the file must hold only [sweep] (found: {})", own.keys().cloned().collect::<Vec<_>>().join(", "));
                }
                let text = read_scenario(name)?;
                let table: toml::Table = text
                    .parse()
                    .with_context(|| format!("{label}: [sweep] scenario {name}: not TOML"))?;
                (table, Some(text))
            }
            None => (own, None),
        };
        let design = points(&spec);
        let study = Study {
            label: label.to_string(),
            sweep_text,
            scenario_text,
            spec,
            base,
            design,
        };
        // Every point must make a valid scenario: check them all before simulating any.
        for p in &study.design {
            study.scenario(p)?;
        }
        Ok(study)
    }

    /// The scenario of point `p`: parameters applied, the point's seed, the sweep's run size.
    fn scenario(&self, p: &Point) -> anyhow::Result<Scenario> {
        let table =
            apply(&self.base, &self.spec.parameters, p).with_context(|| self.label.clone())?;
        let text = toml::to_string(&table).context("serialising a sweep point")?;
        let mut s = Scenario::from_toml(&format!("{} (point {})", self.label, p.index), &text)?;
        s.seed = p.seed;
        if let Some(r) = self.spec.replications {
            s.replications = r;
        }
        if let Some(n) = self.spec.customers {
            s.customers = n;
        }
        Ok(s)
    }

    fn name(&self) -> String {
        self.base
            .get("scenario")
            .and_then(|s| s.get("name"))
            .and_then(toml::Value::as_str)
            .unwrap_or("sweep")
            .to_string()
    }

    /// Runs this shard's unfinished points into `dir`.
    fn run_shard(&self, shard: Shard, dir: &Path, quiet: bool) -> anyhow::Result<()> {
        let info = ShardInfo::new(
            &self.sweep_text,
            self.scenario_text.as_deref(),
            &self.spec,
            shard,
        );
        let out = ShardDir::open(dir, &info, &self.sweep_text, self.scenario_text.as_deref())?;
        let finished = out.finished()?;
        let mine: Vec<&Point> = self.design.iter().filter(|p| shard.has(p.index)).collect();
        let todo: Vec<&Point> = mine
            .iter()
            .copied()
            .filter(|p| !finished.contains(&p.index))
            .collect();
        if !quiet {
            eprintln!(
                "leaklab: sweep {} ({} design, {} points): shard {}/{} has {} points, {} already done, writing to {}",
                self.label,
                self.spec.design.name(),
                self.design.len(),
                shard.index,
                shard.count,
                mine.len(),
                mine.len() - todo.len(),
                dir.display()
            );
        }
        let start = Instant::now();
        for (done, p) in todo.iter().enumerate() {
            let scenario = self.scenario(p)?;
            let results = run(&scenario, false, &Silent);
            let rows = summarize(&results);
            let verdicts = if self.spec.claims {
                let claims = evaluate(&results)
                    .with_context(|| format!("judging the claims at point {}", p.index))?;
                let mut v: Vec<PointVerdict> = Vec::new();
                for c in &claims {
                    let part = v.iter().filter(|(id, _, _)| id == c.id).count();
                    v.push((c.id.to_string(), part, c.verdict == Verdict::Reproduced));
                }
                Some(v)
            } else {
                None
            };
            out.write_point(p.index, &rows, verdicts.as_deref())?;
            if !quiet {
                let elapsed = start.elapsed().as_secs_f64();
                let rate = (done + 1) as f64 / elapsed.max(1e-9);
                eprintln!(
                    "leaklab: point {} done ({}/{} of this shard, {:.2} points/s, eta {:.0} s)",
                    p.index,
                    done + 1,
                    todo.len(),
                    rate,
                    (todo.len() - done - 1) as f64 / rate
                );
            }
        }
        Ok(())
    }
}

pub fn sweep(args: SweepArgs) -> anyhow::Result<Outcome> {
    let study = Study::load(&args.file)?;
    let dir = args.out.unwrap_or_else(|| {
        Path::new("results")
            .join(format!("{}-sweep", study.name()))
            .join(format!(
                "shard-{}-of-{}",
                args.shard.index, args.shard.count
            ))
    });
    study.run_shard(args.shard, &dir, args.quiet)?;
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
    if let Some(md) = merged.robust {
        print!("{md}");
    }
    Ok(Outcome::Success)
}

/// `reproduce ietf124 --robust`: the claims judged at every point of the built-in robust study.
/// Unsharded, it runs every point and writes the merged results to `out`; with a shard, it
/// writes that shard's directory for a later `leaklab merge`.
pub fn robust(shard: Shard, out: Option<PathBuf>, quiet: bool) -> anyhow::Result<Outcome> {
    let study = Study::from_text(
        "scenarios/ietf124-robust.toml (built in)",
        IETF124_ROBUST_SWEEP.to_string(),
        |name| {
            if name == "ietf124.toml" {
                Ok(leaklab_claims::IETF124_SCENARIO.to_string())
            } else {
                bail!("the built-in robust study names an unknown scenario {name}")
            }
        },
    )?;
    if shard != Shard::ALL {
        let dir = out.unwrap_or_else(|| {
            Path::new("results")
                .join("ietf124-robust-shards")
                .join(format!("shard-{}-of-{}", shard.index, shard.count))
        });
        study.run_shard(shard, &dir, quiet)?;
        eprintln!(
            "leaklab: robust shard {}/{} written to {}; merge every shard with `leaklab merge <dirs> --out results/ietf124-robust`",
            shard.index,
            shard.count,
            dir.display()
        );
        return Ok(Outcome::Success);
    }
    let out = out.unwrap_or_else(|| PathBuf::from("results/ietf124-robust"));
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("{}", parent.display()))?;
    // The shard lives beside the output (a rerun after an interruption resumes; a finished one
    // only merges again).
    let work = parent.join(format!(
        ".{}.shard",
        out.file_name().and_then(|n| n.to_str()).unwrap_or("robust")
    ));
    study.run_shard(Shard::ALL, &work, quiet)?;
    // The shard stays (hidden, beside the output): a rerun resumes or re-merges from it.
    let merged = merge_shards(std::slice::from_ref(&work), &out)?;
    eprintln!(
        "leaklab: robust verdicts over {} points written to {}",
        merged.points,
        merged.dir.display()
    );
    if let Some(md) = merged.robust {
        print!("{md}");
    }
    Ok(Outcome::Success)
}
