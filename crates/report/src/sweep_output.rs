//! Sweep shards on disk and their merge.
//!
//! A shard directory holds `shard.json` (which sweep, which shard), `sweep.toml` (the sweep file
//! as given) and `points/<index>.csv`, one file per finished point, each renamed into place when
//! complete: an interrupted shard keeps its finished points and a rerun skips them.
//! [`merge`] checks that a set of shard directories is one complete sweep and writes one dataset
//! (Parquet + CSV), the design table, Sobol indices (Saltelli designs), robust claim verdicts
//! (sweeps that judge claims) and a manifest with hashes, atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::output_dir::OutputDir;
use super::table::TableBuilder;
use super::{write_json, ReportError};
use leaklab_sim::summary::SummaryRow;
use leaklab_study::design::{points, Point};
use leaklab_study::robust::{summarize as robust_summary, Judged};
use leaklab_study::sobol::{indices, SaltelliLayout};
use leaklab_study::spec::{split, Design, SweepSpec};
use leaklab_study::Shard;

/// `shard.json`: what a shard directory holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub leaklab_version: String,
    pub sweep_sha256: String,
    pub seed: u64,
    pub design: String,
    pub points_total: u64,
    pub shard_index: u64,
    pub shard_count: u64,
}

/// The hash that identifies a sweep: its file and, when it names one, the scenario it varies.
pub fn sweep_hash(sweep_text: &str, scenario_text: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(sweep_text.as_bytes());
    if let Some(s) = scenario_text {
        h.update([0u8]);
        h.update(s.as_bytes());
    }
    hex::encode(h.finalize())
}

impl ShardInfo {
    pub fn new(
        sweep_text: &str,
        scenario_text: Option<&str>,
        spec: &SweepSpec,
        shard: Shard,
    ) -> ShardInfo {
        ShardInfo {
            leaklab_version: env!("CARGO_PKG_VERSION").into(),
            sweep_sha256: sweep_hash(sweep_text, scenario_text),
            seed: spec.seed,
            design: spec.design.name().into(),
            points_total: spec.point_count() as u64,
            shard_index: shard.index,
            shard_count: shard.count,
        }
    }
}

/// One claim's verdict at one point: claim id, part (several rows of one claim, e.g. one per
/// device), whether it holds.
pub type PointVerdict = (String, usize, bool);

/// A shard directory being filled.
pub struct ShardDir {
    dir: PathBuf,
}

fn sweep_error(message: impl Into<String>) -> ReportError {
    ReportError::Sweep {
        message: message.into(),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".leaklab-partial-")
        .tempfile_in(dir)
        .map_err(|e| ReportError::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| ReportError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| ReportError::io(path, e.error))?;
    Ok(())
}

impl ShardDir {
    /// Opens (creating) the shard directory `dir` for `info`. A directory that already holds a
    /// shard must hold this one (same sweep, shard and version): its finished points are kept.
    pub fn open(
        dir: &Path,
        info: &ShardInfo,
        sweep_text: &str,
        scenario_text: Option<&str>,
    ) -> Result<ShardDir, ReportError> {
        let points_dir = dir.join("points");
        std::fs::create_dir_all(&points_dir).map_err(|e| ReportError::io(&points_dir, e))?;
        let info_path = dir.join("shard.json");
        if info_path.exists() {
            let found = read_info(dir)?;
            if &found != info {
                return Err(sweep_error(format!(
                    "{} holds a different shard ({} {}/{} of sweep {}, leaklab {}); use another --out or remove it",
                    dir.display(),
                    found.design,
                    found.shard_index,
                    found.shard_count,
                    &found.sweep_sha256[..12.min(found.sweep_sha256.len())],
                    found.leaklab_version
                )));
            }
        } else {
            write_atomic(&dir.join("sweep.toml"), sweep_text.as_bytes())?;
            if let Some(text) = scenario_text {
                write_atomic(&dir.join("scenario.toml"), text.as_bytes())?;
            }
            let json = serde_json::to_vec_pretty(info).map_err(|e| ReportError::Json {
                path: info_path.clone(),
                message: e.to_string(),
            })?;
            write_atomic(&info_path, &json)?;
        }
        // Partial files of an interrupted run are never read; clear them.
        if let Ok(entries) = std::fs::read_dir(&points_dir) {
            for e in entries.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(".leaklab-partial-")
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(ShardDir {
            dir: dir.to_path_buf(),
        })
    }

    /// Points already finished in this directory.
    pub fn finished(&self) -> Result<BTreeSet<u64>, ReportError> {
        finished_points(&self.dir)
    }

    /// Records one finished point (atomically).
    pub fn write_point(
        &self,
        index: u64,
        rows: &[SummaryRow],
        verdicts: Option<&[PointVerdict]>,
    ) -> Result<(), ReportError> {
        // Floats in Rust's shortest round-trip form ("inf" for a never-disabled maximum), so the
        // merge reads back exactly what was computed.
        let summary = csv_bytes(
            &[
                "strategy",
                "leak",
                "attacker",
                "metric",
                "mean",
                "ci_low",
                "ci_high",
                "replications",
            ],
            rows.iter().map(|r| {
                vec![
                    r.strategy.clone(),
                    r.leak.clone(),
                    r.attacker.to_string(),
                    r.metric.to_string(),
                    format!("{:?}", r.interval.mean),
                    format!("{:?}", r.interval.low),
                    format!("{:?}", r.interval.high),
                    r.interval.n.to_string(),
                ]
            }),
        )?;
        if let Some(v) = verdicts {
            let claims = csv_bytes(
                &["claim", "part", "holds"],
                v.iter().map(|(claim, part, holds)| {
                    vec![claim.clone(), part.to_string(), holds.to_string()]
                }),
            )?;
            write_atomic(
                &self
                    .dir
                    .join("points")
                    .join(format!("{index:08}.claims.csv")),
                &claims,
            )?;
        }
        // The summary file last: its presence marks the point finished.
        write_atomic(
            &self.dir.join("points").join(format!("{index:08}.csv")),
            &summary,
        )
    }
}

fn read_info(dir: &Path) -> Result<ShardInfo, ReportError> {
    let path = dir.join("shard.json");
    let text = std::fs::read_to_string(&path).map_err(|e| ReportError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| ReportError::Json {
        path,
        message: e.to_string(),
    })
}

fn finished_points(dir: &Path) -> Result<BTreeSet<u64>, ReportError> {
    let points_dir = dir.join("points");
    let entries = std::fs::read_dir(&points_dir).map_err(|e| ReportError::io(&points_dir, e))?;
    Ok(entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".csv")
                .filter(|stem| stem.len() == 8)
                .and_then(|stem| stem.parse::<u64>().ok())
        })
        .collect())
}

/// One row of a point's summary file.
struct PointRow {
    strategy: String,
    leak: String,
    attacker: String,
    metric: String,
    mean: f64,
    low: f64,
    high: f64,
    n: u64,
}

/// A CSV file (header line, then `rows`), quoted where a field needs it.
fn csv_bytes(
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, ReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| sweep_error(format!("writing a point file: {e}"));
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| sweep_error(format!("writing a point file: {e}")))
}

/// The records of a point file with exactly `fields` fields each, or an error naming the file
/// and line.
fn csv_records(path: &Path, fields: usize) -> Result<Vec<csv::StringRecord>, ReportError> {
    let mut r = csv::Reader::from_path(path)
        .map_err(|e| sweep_error(format!("{}: {e}", path.display())))?;
    r.records()
        .enumerate()
        .map(|(i, rec)| match rec {
            Ok(rec) if rec.len() == fields => Ok(rec),
            _ => Err(sweep_error(format!(
                "{}: line {} is malformed",
                path.display(),
                i + 2
            ))),
        })
        .collect()
}

fn read_point(dir: &Path, index: u64) -> Result<Vec<PointRow>, ReportError> {
    let path = dir.join("points").join(format!("{index:08}.csv"));
    csv_records(&path, 8)?
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let bad = || sweep_error(format!("{}: line {} is malformed", path.display(), i + 2));
            let num = |s: &str| s.parse::<f64>().map_err(|_| bad());
            Ok(PointRow {
                strategy: f[0].into(),
                leak: f[1].into(),
                attacker: f[2].into(),
                metric: f[3].into(),
                mean: num(&f[4])?,
                low: num(&f[5])?,
                high: num(&f[6])?,
                n: f[7].parse().map_err(|_| bad())?,
            })
        })
        .collect()
}

fn read_verdicts(dir: &Path, index: u64) -> Result<Option<Vec<PointVerdict>>, ReportError> {
    let path = dir.join("points").join(format!("{index:08}.claims.csv"));
    if !path.exists() {
        return Ok(None);
    }
    csv_records(&path, 3)?
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let bad = || sweep_error(format!("{}: line {} is malformed", path.display(), i + 2));
            Ok((
                f[0].to_string(),
                f[1].parse().map_err(|_| bad())?,
                f[2].parse().map_err(|_| bad())?,
            ))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// What a merge wrote.
#[derive(Debug)]
pub struct Merged {
    pub dir: PathBuf,
    pub points: u64,
    pub shards: u64,
    pub robust: Option<String>,
}

/// Checks that `dirs` are the complete set of shards of one sweep and writes the merged
/// results to `out` (replacing it atomically).
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<Merged, ReportError> {
    let Some(first) = dirs.first() else {
        return Err(sweep_error("no shard directories given"));
    };
    // The merge replaces `out` as a whole: never a shard it reads.
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    if let Some(target) = canonical(out) {
        if let Some(dir) = dirs.iter().find(|d| canonical(d).as_ref() == Some(&target)) {
            return Err(sweep_error(format!(
                "--out {} is one of the shards being merged ({}); merge into another directory",
                out.display(),
                dir.display()
            )));
        }
    }
    let reference = read_info(first)?;
    let mut by_index: BTreeMap<u64, &PathBuf> = BTreeMap::new();
    for dir in dirs {
        let info = read_info(dir)?;
        for (field, a, b) in [
            (
                "sweep file (SHA-256)",
                &reference.sweep_sha256,
                &info.sweep_sha256,
            ),
            (
                "leaklab version",
                &reference.leaklab_version,
                &info.leaklab_version,
            ),
            ("design", &reference.design, &info.design),
        ] {
            if a != b {
                return Err(sweep_error(format!(
                    "{} and {} are shards of different sweeps: {field} {a} vs {b}",
                    first.display(),
                    dir.display()
                )));
            }
        }
        if info.seed != reference.seed || info.shard_count != reference.shard_count {
            return Err(sweep_error(format!(
                "{} and {} disagree on seed or shard count ({}/{} vs {}/{})",
                first.display(),
                dir.display(),
                reference.seed,
                reference.shard_count,
                info.seed,
                info.shard_count
            )));
        }
        if let Some(other) = by_index.insert(info.shard_index, dir) {
            return Err(sweep_error(format!(
                "shard {}/{} given twice: {} and {}",
                info.shard_index,
                info.shard_count,
                other.display(),
                dir.display()
            )));
        }
    }
    let missing: Vec<String> = (0..reference.shard_count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| format!("{i}/{}", reference.shard_count))
        .collect();
    if !missing.is_empty() {
        return Err(sweep_error(format!(
            "missing shard(s): {} (of {} points)",
            missing.join(", "),
            reference.points_total
        )));
    }
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
    if sweep_hash(&sweep_text, scenario_text.as_deref()) != reference.sweep_sha256 {
        return Err(sweep_error(format!(
            "{} does not match the hash in its shard.json",
            sweep_path.display()
        )));
    }
    let (spec, _) = split(&sweep_path.display().to_string(), &sweep_text)
        .map_err(|e| sweep_error(e.to_string()))?;
    let design = points(&spec);
    // Every point from exactly the shard that owns it.
    let mut rows: Vec<(u64, Vec<PointRow>)> = Vec::with_capacity(design.len());
    let mut verdicts: Vec<(u64, Vec<PointVerdict>)> = Vec::new();
    for (&index, dir) in &by_index {
        let shard = Shard {
            index,
            count: reference.shard_count,
        };
        let done = finished_points(dir)?;
        let expected: BTreeSet<u64> = design
            .iter()
            .map(|p| p.index)
            .filter(|i| shard.has(*i))
            .collect();
        if let Some(gap) = expected.difference(&done).next() {
            return Err(sweep_error(format!(
                "{} (shard {index}/{}) is incomplete: {} of {} points done, point {gap} missing; rerun the shard to finish it",
                dir.display(),
                reference.shard_count,
                done.intersection(&expected).count(),
                expected.len()
            )));
        }
        for &p in &expected {
            rows.push((p, read_point(dir, p)?));
            if let Some(v) = read_verdicts(dir, p)? {
                verdicts.push((p, v));
            }
        }
    }
    rows.sort_by_key(|(p, _)| *p);
    verdicts.sort_by_key(|(p, _)| *p);

    let out_dir = OutputDir::create(out)?;
    let dir = out_dir.path().to_path_buf();
    write_dataset(&dir, &spec, &design, &rows)?;
    let sensitivity = match spec.design {
        Design::Saltelli { .. } => Some(write_sensitivity(&dir, &spec, &rows)?),
        _ => None,
    };
    let robust = if verdicts.is_empty() {
        None
    } else {
        Some(write_robust(&dir, &spec, &design, &verdicts)?)
    };
    std::fs::write(dir.join("sweep.toml"), &sweep_text)
        .map_err(|e| ReportError::io(dir.join("sweep.toml"), e))?;
    if let Some(text) = &scenario_text {
        std::fs::write(dir.join("scenario.toml"), text)
            .map_err(|e| ReportError::io(dir.join("scenario.toml"), e))?;
    }
    let page = sweep_page(
        &spec,
        &reference,
        &design,
        &rows,
        robust.as_ref(),
        sensitivity.as_ref(),
    );
    std::fs::write(dir.join("index.html"), page)
        .map_err(|e| ReportError::io(dir.join("index.html"), e))?;
    let digests = super::file_digests(&dir, &[])?;
    write_json(
        &dir.join("manifest.json"),
        &MergeManifest {
            leaklab_version: &reference.leaklab_version,
            sweep_sha256: &reference.sweep_sha256,
            seed: reference.seed,
            design: &reference.design,
            points: reference.points_total,
            files_sha256: digests,
        },
    )?;
    let dir = out_dir.commit()?;
    Ok(Merged {
        dir,
        points: reference.points_total,
        shards: reference.shard_count,
        robust: robust.map(|r| r.0),
    })
}

/// `index.html` of a merged sweep: the study, robust verdicts (bar chart of each claim's share
/// and the table), Sobol indices, the design.
fn sweep_page(
    spec: &SweepSpec,
    info: &ShardInfo,
    design: &[Point],
    rows: &[(u64, Vec<PointRow>)],
    robust: Option<&(String, TableCells)>,
    sensitivity: Option<&TableCells>,
) -> String {
    use super::html::{num, BarChart, Page};
    let mut page = Page::new("leaklab parameter study");
    page.section("study", "Study");
    page.text(&format!(
        "{} design, {} points, seed {}, leaklab {}. Each point is the scenario (scenario.toml or sweep.toml) with the parameters below set; the full dataset is sweep.parquet (one row per point × strategy × leak × attacker policy × metric).",
        info.design, info.points_total, info.seed, info.leaklab_version
    ));
    let params: Vec<Vec<String>> = spec
        .parameters
        .iter()
        .map(|p| {
            let (range, scale) = match &p.domain {
                leaklab_study::spec::Domain::Range {
                    min, max, scale, ..
                } => (
                    format!("{} – {}", num(*min), num(*max)),
                    format!("{scale:?}").to_lowercase(),
                ),
                leaklab_study::spec::Domain::Values(v) => (
                    v.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    "values".into(),
                ),
            };
            vec![p.key.clone(), range, scale]
        })
        .collect();
    page.table(
        &["parameter", "range (durations in seconds)", "scale"],
        &params,
        None,
        None,
    );
    if let Some((_, cells)) = robust {
        page.section("robust", "Robust verdicts");
        page.text("Each claim judged at every point: the share of points where it holds (95% Wilson interval), the parameter most correlated with holding, and the threshold that best separates the points where it holds from those where it fails.");
        let col = |name: &str| cells.0.iter().position(|h| h == name);
        if let (Some(c), Some(p), Some(sh)) = (col("claim"), col("part"), col("share")) {
            let bars = cells
                .1
                .iter()
                .map(|r| {
                    (
                        format!("{} #{}", r[c], r[p]),
                        r[sh].parse::<f64>().unwrap_or(0.0),
                    )
                })
                .collect();
            page.bar_chart(&BarChart {
                id: "robust-share".into(),
                title: "Share of the parameter space where each claim holds".into(),
                y_label: "share of points".into(),
                log_y: false,
                bars,
                lines: Vec::new(),
            });
        }
        page.data_table(cells);
    }
    if let Some(cells) = sensitivity {
        page.section("sensitivity", "Sensitivity (Sobol indices)");
        page.text(&format!("First-order (dark) and total (light, with its 95% bootstrap interval) Sobol indices of {} per parameter, for the first attacker policy; every policy is in sensitivity.csv.", spec.metric));
        sensitivity_tornados(&mut page, cells);
        page.raw("<details><summary>Table</summary>");
        page.data_table(cells);
        page.raw("</details>");
    }
    heat_maps(&mut page, spec, design, rows);

    page.section("design", "Design");
    let rows: Vec<Vec<String>> = design
        .iter()
        .map(|p| {
            std::iter::once(p.index.to_string())
                .chain(p.numeric.iter().map(|x| num(*x)))
                .collect()
        })
        .collect();
    let mut headers = vec!["point"];
    headers.extend(spec.parameters.iter().map(|p| p.key.as_str()));
    page.raw("<details><summary>Points</summary>");
    page.table(&headers, &rows, None, None);
    page.raw("</details>");
    page.finish()
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

fn write_dataset(
    dir: &Path,
    spec: &SweepSpec,
    design: &[Point],
    rows: &[(u64, Vec<PointRow>)],
) -> Result<(), ReportError> {
    let k = spec.parameters.len();
    let mut params: Vec<Vec<f64>> = vec![Vec::new(); k];
    let (mut point, mut st, mut lk, mut at, mut me) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut mean, mut low, mut high, mut n) = (vec![], vec![], vec![], vec![]);
    for (p, point_rows) in rows {
        for r in point_rows {
            point.push(*p);
            for (i, col) in params.iter_mut().enumerate() {
                col.push(design[*p as usize].numeric[i]);
            }
            st.push(r.strategy.clone());
            lk.push(r.leak.clone());
            at.push(r.attacker.clone());
            me.push(r.metric.clone());
            mean.push(r.mean);
            low.push(r.low);
            high.push(r.high);
            n.push(r.n);
        }
    }
    let mut t = TableBuilder::new().int("point", point);
    for (p, col) in spec.parameters.iter().zip(params) {
        t = t.float(&p.key, col);
    }
    t.text("strategy", st)
        .text("leak", lk)
        .text("attacker", at)
        .text("metric", me)
        .float("mean", mean)
        .float("ci95_low", low)
        .float("ci95_high", high)
        .int("replications", n)
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

fn write_sensitivity(
    dir: &Path,
    spec: &SweepSpec,
    rows: &[(u64, Vec<PointRow>)],
) -> Result<TableCells, ReportError> {
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
    let mut cols: (Vec<String>, Vec<String>, Vec<String>, Vec<String>) =
        (vec![], vec![], vec![], vec![]);
    let mut vals: [Vec<f64>; 6] = Default::default();
    for key in &order {
        let values = &series[key];
        if values.iter().any(|v| !v.is_finite()) {
            continue; // a metric that is "never" somewhere has no variance decomposition
        }
        let Some(layout) = SaltelliLayout::from_point_order(values, k) else {
            continue;
        };
        for (p, s) in spec.parameters.iter().zip(indices(&layout, 200, spec.seed)) {
            cols.0.push(key.0.clone());
            cols.1.push(key.1.clone());
            cols.2.push(key.2.clone());
            cols.3.push(p.key.clone());
            for (v, x) in vals.iter_mut().zip([
                s.first,
                s.first_low,
                s.first_high,
                s.total,
                s.total_low,
                s.total_high,
            ]) {
                v.push(x);
            }
        }
    }
    let [f, fl, fh, t, tl, th] = vals;
    let metric = vec![spec.metric.clone(); cols.0.len()];
    let table = TableBuilder::new()
        .text("strategy", cols.0)
        .text("leak", cols.1)
        .text("attacker", cols.2)
        .text("metric", metric)
        .text("parameter", cols.3)
        .float("first_order", f)
        .float("first_order_low", fl)
        .float("first_order_high", fh)
        .float("total", t)
        .float("total_low", tl)
        .float("total_high", th);
    let cells = table.cells();
    table.write(dir, "sensitivity")?;
    Ok(cells)
}

/// Headers and text rows of a table (as on the HTML page).
type TableCells = (Vec<String>, Vec<Vec<String>>);

fn write_robust(
    dir: &Path,
    spec: &SweepSpec,
    design: &[Point],
    verdicts: &[(u64, Vec<PointVerdict>)],
) -> Result<(String, TableCells), ReportError> {
    let names: Vec<String> = spec.parameters.iter().map(|p| p.key.clone()).collect();
    let mut by_claim: BTreeMap<(String, usize), Vec<Judged>> = BTreeMap::new();
    let mut order = Vec::new();
    let (mut vp, mut vc, mut vpart, mut vh) = (vec![], vec![], vec![], vec![]);
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
            vp.push(*p);
            vc.push(claim.clone());
            vpart.push(*part as u64);
            vh.push(holds.to_string());
        }
    }
    TableBuilder::new()
        .int("point", vp)
        .text("claim", vc)
        .int("part", vpart)
        .text("holds", vh)
        .write(dir, "verdicts")?;
    let mut md = String::from("| claim | part | holds at | share (95% CI) | deciding parameters (rank correlation with holding) | boundary |\n|---|---|---|---|---|---|\n");
    let mut t: (Vec<String>, Vec<u64>, Vec<u64>, Vec<u64>) = (vec![], vec![], vec![], vec![]);
    let mut shares: [Vec<f64>; 3] = Default::default();
    let (mut top, mut top_r, mut bp, mut bt, mut ba, mut bacc) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for key in &order {
        let v = robust_summary(&names, &by_claim[key]);
        t.0.push(key.0.clone());
        t.1.push(key.1 as u64);
        t.2.push(v.points as u64);
        t.3.push(v.holds as u64);
        shares[0].push(v.share);
        shares[1].push(v.share_low);
        shares[2].push(v.share_high);
        let first = v
            .influences
            .first()
            .filter(|_| v.holds > 0 && v.holds < v.points);
        top.push(first.map(|i| i.parameter.clone()));
        top_r.push(first.map(|i| i.correlation));
        bp.push(v.boundary.as_ref().map(|b| b.parameter.clone()));
        bt.push(v.boundary.as_ref().map(|b| b.threshold));
        ba.push(v.boundary.as_ref().map(|b| {
            if b.holds_above {
                "above".to_string()
            } else {
                "below".to_string()
            }
        }));
        bacc.push(v.boundary.as_ref().map(|b| b.accuracy));
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
                if b.holds_above { "above" } else { "below" },
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
    let [s, sl, sh] = shares;
    let table = TableBuilder::new()
        .text("claim", t.0)
        .int("part", t.1)
        .int("points", t.2)
        .int("holds", t.3)
        .float("share", s)
        .float("share_low", sl)
        .float("share_high", sh)
        .text_opt("top_parameter", top)
        .float_opt("top_correlation", top_r)
        .text_opt("boundary_parameter", bp)
        .float_opt("boundary_value", bt)
        .text_opt("holds_when", ba)
        .float_opt("boundary_accuracy", bacc);
    let cells = table.cells();
    table.write(dir, "robust")?;
    std::fs::write(dir.join("robust.md"), &md)
        .map_err(|e| ReportError::io(dir.join("robust.md"), e))?;
    Ok((md, cells))
}

/// One tornado chart per strategy × leak (first attacker policy), grouped by leak.
fn sensitivity_tornados(page: &mut super::html::Page, cells: &TableCells) {
    let col = |name: &str| cells.0.iter().position(|h| h == name);
    let (Some(cs), Some(cl), Some(ca), Some(cp), Some(cf), Some(ct), Some(ctl), Some(cth)) = (
        col("strategy"),
        col("leak"),
        col("attacker"),
        col("parameter"),
        col("first_order"),
        col("total"),
        col("total_low"),
        col("total_high"),
    ) else {
        return;
    };
    let headline = cells.1.first().map(|r| r[ca].clone()).unwrap_or_default();
    let f = |r: &[String], c: usize| r[c].parse::<f64>().unwrap_or(f64::NAN);
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in cells.1.iter().filter(|r| r[ca] == headline) {
        let key = (r[cl].clone(), r[cs].clone());
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    let mut current_leak = String::new();
    for (i, (leak, strategy)) in groups.iter().enumerate() {
        if *leak != current_leak {
            if !current_leak.is_empty() {
                page.raw("</details>");
            }
            page.raw(&format!(
                "<details><summary>Leak {}</summary>",
                super::html::esc(leak)
            ));
            current_leak = leak.clone();
        }
        let data: Vec<(String, f64, f64, f64, f64)> = cells
            .1
            .iter()
            .filter(|r| r[ca] == headline && &r[cl] == leak && &r[cs] == strategy)
            .map(|r| (r[cp].clone(), f(r, cf), f(r, ct), f(r, ctl), f(r, cth)))
            .collect();
        page.tornado(
            &format!("tornado-{i}"),
            &format!("{strategy}, leak {leak}, {headline} attacker"),
            &data,
        );
    }
    if !current_leak.is_empty() {
        page.raw("</details>");
    }
}

/// Heat maps of the sweep's metric over its first two parameters (5 × 5 bins, mean per bin), for
/// the first attacker policy, each strategy, on the leak `core-host` (or the first leak).
fn heat_maps(
    page: &mut super::html::Page,
    spec: &SweepSpec,
    design: &[Point],
    rows: &[(u64, Vec<PointRow>)],
) {
    use leaklab_study::spec::{Domain, Scale};
    const BINS: usize = 5;
    if spec.parameters.len() < 2 {
        return;
    }
    let Some((_, first)) = rows.first() else {
        return;
    };
    let Some(leak) = first
        .iter()
        .map(|x| x.leak.as_str())
        .find(|l| *l == "core-host")
        .or(first.first().map(|x| x.leak.as_str()))
        .map(str::to_string)
    else {
        return;
    };
    let attacker = first
        .first()
        .map(|x| x.attacker.clone())
        .unwrap_or_default();
    let mut strategies: Vec<String> = Vec::new();
    for r in first {
        if !strategies.contains(&r.strategy) {
            strategies.push(r.strategy.clone());
        }
    }
    // Bin edges per axis: log-spaced for log-scaled ranges.
    let edges = |i: usize| -> Vec<f64> {
        let values: Vec<f64> = design.iter().map(|p| p.numeric[i]).collect();
        let log = matches!(
            spec.parameters[i].domain,
            Domain::Range {
                scale: Scale::Log,
                ..
            }
        );
        let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (0..=BINS)
            .map(|k| {
                let u = k as f64 / BINS as f64;
                if log && lo > 0.0 {
                    (lo.ln() + u * (hi.ln() - lo.ln())).exp()
                } else {
                    lo + u * (hi - lo)
                }
            })
            .collect()
    };
    let (xe, ye) = (edges(0), edges(1));
    let bin = |e: &[f64], v: f64| (0..BINS).find(|k| v <= e[k + 1]).unwrap_or(BINS - 1);
    let label =
        |e: &[f64], k: usize| format!("{}–{}", super::html::num(e[k]), super::html::num(e[k + 1]));
    let x_ticks: Vec<String> = (0..BINS).map(|k| label(&xe, k)).collect();
    let y_ticks: Vec<String> = (0..BINS).map(|k| label(&ye, k)).collect();
    page.section("heat-maps", "Heat maps");
    page.text(&format!(
        "Mean {} over the points in each bin of {} × {} (leak {leak}, {attacker} attacker); durations in seconds.",
        spec.metric, spec.parameters[0].key, spec.parameters[1].key
    ));
    for (i, strategy) in strategies.iter().enumerate() {
        let mut sum = vec![vec![0.0; BINS]; BINS];
        let mut n = vec![vec![0u32; BINS]; BINS];
        for (p, point_rows) in rows {
            let Some(r) = point_rows.iter().find(|r| {
                &r.strategy == strategy
                    && r.leak == leak
                    && r.attacker == attacker
                    && r.metric == spec.metric
            }) else {
                continue;
            };
            if !r.mean.is_finite() {
                continue;
            }
            let d = &design[*p as usize];
            let (bx, by) = (bin(&xe, d.numeric[0]), bin(&ye, d.numeric[1]));
            sum[by][bx] += r.mean;
            n[by][bx] += 1;
        }
        let cells: Vec<Vec<Option<f64>>> = (0..BINS)
            .map(|y| {
                (0..BINS)
                    .map(|x| (n[y][x] > 0).then(|| sum[y][x] / f64::from(n[y][x])))
                    .collect()
            })
            .collect();
        page.heat_map(
            &format!("heat-{i}"),
            &format!("{strategy}: mean {}", spec.metric),
            &spec.parameters[0].key,
            &spec.parameters[1].key,
            &x_ticks,
            &y_ticks,
            &cells,
        );
    }
}
