//! Sweep shards on disk. A shard directory holds `shard.json` (which sweep, which shard),
//! `sweep.toml` (the sweep file as given) and `points/<index>.csv`, one file per finished point,
//! each renamed into place when complete: an interrupted shard keeps its finished points and a
//! rerun skips them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::{write_atomic, PARTIAL_PREFIX};
use crate::ReportError;
use leaklab_sim::summary::SummaryRow;
use leaklab_study::shards::{ShardError, ShardInfo};

/// One claim's verdict at one point: claim id, part (several rows of one claim, e.g. one per
/// device), whether it holds.
pub type PointVerdict = (String, usize, bool);

/// A shard directory being filled.
pub struct ShardDir {
    dir: PathBuf,
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
                return Err(ShardError::Foreign {
                    dir: dir.to_path_buf(),
                    found: Box::new(found),
                }
                .into());
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
                if e.file_name().to_string_lossy().starts_with(PARTIAL_PREFIX) {
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

pub(crate) fn read_info(dir: &Path) -> Result<ShardInfo, ReportError> {
    let path = dir.join("shard.json");
    let text = std::fs::read_to_string(&path).map_err(|e| ReportError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| ReportError::Json {
        path,
        message: e.to_string(),
    })
}

pub(crate) fn finished_points(dir: &Path) -> Result<BTreeSet<u64>, ReportError> {
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

/// One row of a point's summary file, as read back (and as the merged dataset's columns).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PointRow {
    pub strategy: String,
    pub leak: String,
    pub attacker: String,
    pub metric: String,
    pub mean: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
    pub replications: u64,
}

/// A CSV file (header line, then `rows`), quoted where a field needs it.
fn csv_bytes(
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, ReportError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| ReportError::WritePoint(e.to_string());
    w.write_record(header).map_err(err)?;
    for r in rows {
        w.write_record(&r).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| ReportError::WritePoint(e.to_string()))
}

/// The records of a point file with exactly `fields` fields each, or an error naming the file
/// and line.
fn csv_records(path: &Path, fields: usize) -> Result<Vec<csv::StringRecord>, ReportError> {
    let mut r = csv::Reader::from_path(path).map_err(|e| ReportError::PointFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    r.records()
        .enumerate()
        .map(|(i, rec)| match rec {
            Ok(rec) if rec.len() == fields => Ok(rec),
            _ => Err(ReportError::malformed(path, i + 2)),
        })
        .collect()
}

pub(crate) fn read_point(dir: &Path, index: u64) -> Result<Vec<PointRow>, ReportError> {
    let path = dir.join("points").join(format!("{index:08}.csv"));
    csv_records(&path, 8)?
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let bad = || ReportError::malformed(&path, i + 2);
            let num = |s: &str| s.parse::<f64>().map_err(|_| bad());
            Ok(PointRow {
                strategy: f[0].into(),
                leak: f[1].into(),
                attacker: f[2].into(),
                metric: f[3].into(),
                mean: num(&f[4])?,
                ci95_low: num(&f[5])?,
                ci95_high: num(&f[6])?,
                replications: f[7].parse().map_err(|_| bad())?,
            })
        })
        .collect()
}

pub(crate) fn read_verdicts(
    dir: &Path,
    index: u64,
) -> Result<Option<Vec<PointVerdict>>, ReportError> {
    let path = dir.join("points").join(format!("{index:08}.claims.csv"));
    if !path.exists() {
        return Ok(None);
    }
    csv_records(&path, 3)?
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let bad = || ReportError::malformed(&path, i + 2);
            Ok((
                f[0].to_string(),
                f[1].parse().map_err(|_| bad())?,
                f[2].parse().map_err(|_| bad())?,
            ))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
