//! `leaklab merge`: a checked set of shards ([`leaklab_study::shards`]) becomes one result
//! directory, written atomically: the dataset (Parquet), the design table, Sobol indices
//! (Saltelli designs), robust claim verdicts (sweeps that judge claims), the page and a
//! manifest with hashes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::OutputDir;
use crate::shard::{finished_points, read_info, read_point, read_verdicts, PointRow, PointVerdict};
use crate::table::{Cells, TableBuilder};
use crate::{write_json, ReportError};
use leaklab_study::design::{points, Point};
use leaklab_study::robust::{summarize as robust_summary, Judged, RobustVerdict};
use leaklab_study::shards::{ShardError, ShardInfo, ShardSet};
use leaklab_study::sobol::{indices, SaltelliLayout};
use leaklab_study::spec::{split, Design, SweepSpec};

/// What a merge wrote.
#[derive(Debug)]
pub struct Merged {
    pub dir: PathBuf,
    pub points: u64,
    pub shards: u64,
    pub robust: Option<String>,
}

/// The sweep the shards were computed from, as kept with them.
struct SweepFiles {
    sweep_text: String,
    scenario_text: Option<String>,
    spec: SweepSpec,
    design: Vec<Point>,
}

/// The shards' results, in point order.
pub(crate) struct Results {
    pub rows: Vec<(u64, Vec<PointRow>)>,
    pub verdicts: Vec<(u64, Vec<PointVerdict>)>,
}

/// Checks that `dirs` are the complete set of shards of one sweep and writes the merged
/// results to `out` (replacing it atomically).
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged, ReportError> {
    let set = read_shards(dirs, out)?;
    let sweep = read_sweep(&set)?;
    let results = read_results(&set, &sweep.design)?;
    let out_dir = OutputDir::create(out)?;
    let robust = write_merged(out_dir.path(), &set.info, &sweep, &results)?;
    let dir = out_dir.commit()?;
    Ok(Merged {
        dir,
        points: set.info.points_total,
        shards: set.info.shard_count,
        robust,
    })
}

/// The `shard.json` of every directory, checked to be one sweep's shards.
fn read_shards(dirs: &[PathBuf], out: &Path) -> Result<ShardSet, ReportError> {
    // The merge replaces `out` as a whole: never a shard it reads.
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    if let Some(target) = canonical(out) {
        if let Some(dir) = dirs.iter().find(|d| canonical(d).as_ref() == Some(&target)) {
            return Err(ShardError::OverwritesShard {
                out: out.to_path_buf(),
                shard: dir.clone(),
            }
            .into());
        }
    }
    let infos = dirs
        .iter()
        .map(|dir| Ok((dir.clone(), read_info(dir)?)))
        .collect::<Result<Vec<_>, ReportError>>()?;
    Ok(ShardSet::check(&infos)?)
}

/// The sweep file (and scenario) kept with the first shard, checked against the shards' hash.
fn read_sweep(set: &ShardSet) -> Result<SweepFiles, ReportError> {
    let first = set.dirs.values().next().ok_or(ShardError::NoShards)?;
    let sweep_path = first.join("sweep.toml");
    let sweep_text =
        std::fs::read_to_string(&sweep_path).map_err(|e| ReportError::io(&sweep_path, e))?;
    let scenario_path = first.join("scenario.toml");
    let scenario_text = if scenario_path.exists() {
        Some(
            std::fs::read_to_string(&scenario_path)
                .map_err(|e| ReportError::io(&scenario_path, e))?,
        )
    } else {
        None
    };
    set.check_sweep(&sweep_path, &sweep_text, scenario_text.as_deref())?;
    let (spec, _) =
        split(&sweep_path.display().to_string(), &sweep_text).map_err(ShardError::Spec)?;
    let design = points(&spec);
    Ok(SweepFiles {
        sweep_text,
        scenario_text,
        spec,
        design,
    })
}

/// Every point from exactly the shard that owns it.
fn read_results(set: &ShardSet, design: &[Point]) -> Result<Results, ReportError> {
    let mut rows = Vec::with_capacity(design.len());
    let mut verdicts = Vec::new();
    for (&index, dir) in &set.dirs {
        let expected = set.check_points(index, design, &finished_points(dir)?)?;
        for &p in &expected {
            rows.push((p, read_point(dir, p)?));
            if let Some(v) = read_verdicts(dir, p)? {
                verdicts.push((p, v));
            }
        }
    }
    rows.sort_by_key(|(p, _)| *p);
    verdicts.sort_by_key(|(p, _)| *p);
    Ok(Results { rows, verdicts })
}

/// Writes the merged directory's files into `dir`; returns the robust verdicts as Markdown
/// (sweeps that judge claims).
fn write_merged(
    dir: &Path,
    info: &ShardInfo,
    sweep: &SweepFiles,
    results: &Results,
) -> Result<Option<String>, ReportError> {
    let spec = &sweep.spec;
    write_dataset(dir, spec, &sweep.design, &results.rows)?;
    let sensitivity = match spec.design {
        Design::Saltelli { .. } => Some(write_sensitivity(dir, spec, &results.rows)?),
        _ => None,
    };
    let robust = if results.verdicts.is_empty() {
        None
    } else {
        Some(write_robust(dir, spec, &sweep.design, &results.verdicts)?)
    };
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(|e| ReportError::io(dir.join(name), e))
    };
    write("sweep.toml", &sweep.sweep_text)?;
    if let Some(text) = &sweep.scenario_text {
        write("scenario.toml", text)?;
    }
    let page = crate::sweep_page::render(
        spec,
        info,
        &sweep.design,
        &results.rows,
        robust.as_ref().map(|r| &r.1),
        sensitivity.as_ref(),
    );
    write("index.html", &page)?;
    let digests = crate::file_digests(dir, &[])?;
    write_json(
        &dir.join("manifest.json"),
        &MergeManifest {
            leaklab_version: &info.leaklab_version,
            sweep_sha256: &info.sweep_sha256,
            seed: info.seed,
            design: &info.design,
            points: info.points_total,
            files_sha256: digests,
        },
    )?;
    Ok(robust.map(|r| r.0))
}

#[derive(Serialize)]
struct MergeManifest<'a> {
    leaklab_version: &'a str,
    sweep_sha256: &'a str,
    seed: u64,
    design: &'a str,
    /// (How many shards were merged is not recorded: the merged files must not depend on it.)
    points: u64,
    files_sha256: BTreeMap<String, String>,
}

/// `sweep.parquet` (one row per point × summary row, with the point's parameters) and
/// `points` (the design).
fn write_dataset(
    dir: &Path,
    spec: &SweepSpec,
    design: &[Point],
    rows: &[(u64, Vec<PointRow>)],
) -> Result<(), ReportError> {
    let flat: Vec<(u64, &PointRow)> = rows
        .iter()
        .flat_map(|(p, point_rows)| point_rows.iter().map(move |r| (*p, r)))
        .collect();
    let mut t = TableBuilder::new().int("point", flat.iter().map(|(p, _)| *p).collect());
    for (i, param) in spec.parameters.iter().enumerate() {
        let values = flat.iter().map(|(p, _)| design[*p as usize].numeric[i]);
        t = t.float(&param.key, values.collect());
    }
    t.rows(flat.iter().map(|(_, r)| *r))?
        // Parquet only: as CSV, a study of a few hundred points is hundreds of megabytes.
        .write_parquet(dir, "sweep")?;
    let mut t = TableBuilder::new()
        .int("point", design.iter().map(|p| p.index).collect())
        .int("seed", design.iter().map(|p| p.seed).collect());
    for (i, p) in spec.parameters.iter().enumerate() {
        t = t.float(&p.key, design.iter().map(|d| d.numeric[i]).collect());
    }
    t.write(dir, "points")
}

/// `sensitivity`: Sobol indices of the sweep's metric per parameter.
#[derive(Serialize, Deserialize)]
struct SensitivityRow {
    strategy: String,
    leak: String,
    attacker: String,
    metric: String,
    parameter: String,
    first_order: f64,
    first_order_low: f64,
    first_order_high: f64,
    total: f64,
    total_low: f64,
    total_high: f64,
}

fn write_sensitivity(
    dir: &Path,
    spec: &SweepSpec,
    rows: &[(u64, Vec<PointRow>)],
) -> Result<Cells, ReportError> {
    // Per strategy × leak × attacker: the metric at every point, in point order.
    let mut series: BTreeMap<(String, String, String), Vec<f64>> = BTreeMap::new();
    let mut order: Vec<(String, String, String)> = Vec::new();
    for (_, point_rows) in rows {
        for r in point_rows.iter().filter(|r| r.metric == spec.metric) {
            let key = (r.strategy.clone(), r.leak.clone(), r.attacker.clone());
            if !series.contains_key(&key) {
                order.push(key.clone());
            }
            series.entry(key).or_default().push(r.mean);
        }
    }
    let k = spec.parameters.len();
    let mut table = Vec::new();
    for key in &order {
        let values = &series[key];
        if values.iter().any(|v| !v.is_finite()) {
            continue; // a metric that is "never" somewhere has no variance decomposition
        }
        let Some(layout) = SaltelliLayout::from_point_order(values, k) else {
            continue;
        };
        for (p, s) in spec.parameters.iter().zip(indices(&layout, 200, spec.seed)) {
            table.push(SensitivityRow {
                strategy: key.0.clone(),
                leak: key.1.clone(),
                attacker: key.2.clone(),
                metric: spec.metric.clone(),
                parameter: p.key.clone(),
                first_order: s.first,
                first_order_low: s.first_low,
                first_order_high: s.first_high,
                total: s.total,
                total_low: s.total_low,
                total_high: s.total_high,
            });
        }
    }
    let table = TableBuilder::from_rows(&table)?;
    let cells = table.cells();
    table.write(dir, "sensitivity")?;
    Ok(cells)
}

/// `verdicts`: each claim's verdict at each point.
#[derive(Serialize, Deserialize)]
struct VerdictRow {
    point: u64,
    claim: String,
    part: u64,
    /// `true`/`false` as text.
    holds: String,
}

/// `robust`: each claim over the whole parameter space.
#[derive(Serialize, Deserialize)]
struct RobustRow {
    claim: String,
    part: u64,
    points: u64,
    holds: u64,
    share: f64,
    share_low: f64,
    share_high: f64,
    top_parameter: Option<String>,
    top_correlation: Option<f64>,
    boundary_parameter: Option<String>,
    boundary_value: Option<f64>,
    holds_when: Option<String>,
    boundary_accuracy: Option<f64>,
}

impl RobustRow {
    fn new(claim: &(String, usize), v: &RobustVerdict) -> RobustRow {
        let top = v
            .influences
            .first()
            .filter(|_| v.holds > 0 && v.holds < v.points);
        let boundary = v.boundary.as_ref();
        RobustRow {
            claim: claim.0.clone(),
            part: claim.1 as u64,
            points: v.points as u64,
            holds: v.holds as u64,
            share: v.share,
            share_low: v.share_low,
            share_high: v.share_high,
            top_parameter: top.map(|i| i.parameter.clone()),
            top_correlation: top.map(|i| i.correlation),
            boundary_parameter: boundary.map(|b| b.parameter.clone()),
            boundary_value: boundary.map(|b| b.threshold),
            holds_when: boundary.map(|b| side(b.holds_above).to_string()),
            boundary_accuracy: boundary.map(|b| b.accuracy),
        }
    }
}

fn side(above: bool) -> &'static str {
    if above {
        "above"
    } else {
        "below"
    }
}

/// `verdicts`, `robust` and `robust.md`; returns the Markdown and the robust table's cells.
fn write_robust(
    dir: &Path,
    spec: &SweepSpec,
    design: &[Point],
    verdicts: &[(u64, Vec<PointVerdict>)],
) -> Result<(String, Cells), ReportError> {
    let names: Vec<String> = spec.parameters.iter().map(|p| p.key.clone()).collect();
    let mut by_claim: BTreeMap<(String, usize), Vec<Judged>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut verdict_rows = Vec::new();
    for (p, v) in verdicts {
        for (claim, part, holds) in v {
            let key = (claim.clone(), *part);
            if !by_claim.contains_key(&key) {
                order.push(key.clone());
            }
            by_claim.entry(key).or_default().push(Judged {
                numeric: design[*p as usize].numeric.clone(),
                holds: *holds,
            });
            verdict_rows.push(VerdictRow {
                point: *p,
                claim: claim.clone(),
                part: *part as u64,
                holds: holds.to_string(),
            });
        }
    }
    TableBuilder::from_rows(&verdict_rows)?.write(dir, "verdicts")?;
    let mut md = String::from("| claim | part | holds at | share (95% CI) | deciding parameters (rank correlation with holding) | boundary |\n|---|---|---|---|---|---|\n");
    let mut rows = Vec::new();
    for key in &order {
        let v = robust_summary(&names, &by_claim[key]);
        robust_line(&mut md, key, &v);
        rows.push(RobustRow::new(key, &v));
    }
    let table = TableBuilder::from_rows(&rows)?;
    let cells = table.cells();
    table.write(dir, "robust")?;
    std::fs::write(dir.join("robust.md"), &md)
        .map_err(|e| ReportError::io(dir.join("robust.md"), e))?;
    Ok((md, cells))
}

/// One claim's line of `robust.md`.
fn robust_line(md: &mut String, key: &(String, usize), v: &RobustVerdict) {
    // A claim that holds everywhere or nowhere has no deciding parameter.
    let decided = v.holds > 0 && v.holds < v.points;
    let influences: Vec<String> = v
        .influences
        .iter()
        .filter(|_| decided)
        .take(2)
        .map(|i| format!("`{}` {:+.2}", i.parameter, i.correlation))
        .collect();
    let influences = if influences.is_empty() {
        vec!["—".to_string()]
    } else {
        influences
    };
    let boundary = v.boundary.as_ref().map_or("—".to_string(), |b| {
        format!(
            "holds {} `{}` = {:.4} ({:.0}% of points on the predicted side)",
            side(b.holds_above),
            b.parameter,
            b.threshold,
            100.0 * b.accuracy
        )
    });
    let _ = writeln!(
        md,
        "| {} | {} | {}/{} points | {:.0}% ({:.0}–{:.0}%) | {} | {} |",
        key.0,
        key.1,
        v.holds,
        v.points,
        100.0 * v.share,
        100.0 * v.share_low,
        100.0 * v.share_high,
        influences.join(", "),
        boundary
    );
}
