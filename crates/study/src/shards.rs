//! Shards of a sweep: what each says about itself (`shard.json`), and the check that a set of
//! shards is one complete sweep: every shard of the same sweep file, version, design, seed and
//! shard count, each once, none missing, each with all of its points. Reading and writing the
//! files is the report crate's; the directories appear here only as labels in errors.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use leaklab_base::toml_reader::ScenarioError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::design::Point;
use crate::spec::SweepSpec;
use crate::Shard;

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

    /// The start of the sweep hash, enough to tell sweeps apart in a message.
    pub fn short_hash(&self) -> &str {
        &self.sweep_sha256[..12.min(self.sweep_sha256.len())]
    }
}

/// Why a shard or a set of shards cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    #[error("no shard directories given")]
    NoShards,
    /// A directory to write a shard into already holds another.
    #[error(
        "{} holds a different shard ({} {}/{} of sweep {}, leaklab {}); use another --out or remove it",
        .dir.display(), .found.design, .found.shard_index, .found.shard_count,
        .found.short_hash(), .found.leaklab_version
    )]
    Foreign { dir: PathBuf, found: Box<ShardInfo> },
    /// The merge would replace one of its own inputs.
    #[error(
        "--out {} is one of the shards being merged ({}); merge into another directory",
        .out.display(), .shard.display()
    )]
    OverwritesShard { out: PathBuf, shard: PathBuf },
    #[error(
        "{} and {} are shards of different sweeps: {field} {ours} vs {theirs}",
        .first.display(), .other.display()
    )]
    Mismatch {
        first: PathBuf,
        other: PathBuf,
        field: &'static str,
        ours: String,
        theirs: String,
    },
    #[error(
        "{} and {} disagree on seed or shard count ({}/{} vs {}/{})",
        .first.display(), .other.display(), .seeds.0, .counts.0, .seeds.1, .counts.1
    )]
    SeedOrCountMismatch {
        first: PathBuf,
        other: PathBuf,
        seeds: (u64, u64),
        counts: (u64, u64),
    },
    #[error(
        "shard {index}/{count} given twice: {} and {}",
        .first.display(), .second.display()
    )]
    Duplicate {
        index: u64,
        count: u64,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "missing shard(s): {} (of {points} points)",
        .shards.iter().map(|i| format!("{i}/{count}")).collect::<Vec<_>>().join(", ")
    )]
    Missing {
        shards: Vec<u64>,
        count: u64,
        points: u64,
    },
    /// The sweep file kept with the shards is not the one they were computed from.
    #[error("{} does not match the hash in its shard.json", .path.display())]
    Altered { path: PathBuf },
    /// The sweep file kept with the shards does not read.
    #[error("{0}")]
    Spec(ScenarioError),
    #[error(
        "{} (shard {index}/{count}) is incomplete: {done} of {expected} points done, point {gap} missing; rerun the shard to finish it",
        .dir.display()
    )]
    Incomplete {
        dir: PathBuf,
        index: u64,
        count: u64,
        done: usize,
        expected: usize,
        gap: u64,
    },
}

/// Shards that form one sweep, each once, none missing (their points not yet checked).
#[derive(Clone, Debug)]
pub struct ShardSet {
    /// What every shard agrees on (the first shard's `shard.json`).
    pub info: ShardInfo,
    /// The directory of each shard, by shard index.
    pub dirs: BTreeMap<u64, PathBuf>,
}

impl ShardSet {
    /// Checks that `shards` (directory, its `shard.json`) are the shards of one sweep, each
    /// given once, none missing.
    pub fn check(shards: &[(PathBuf, ShardInfo)]) -> Result<ShardSet, ShardError> {
        let Some((first, reference)) = shards.first() else {
            return Err(ShardError::NoShards);
        };
        let mut dirs: BTreeMap<u64, PathBuf> = BTreeMap::new();
        for (dir, info) in shards {
            same_sweep(first, reference, dir, info)?;
            if let Some(other) = dirs.insert(info.shard_index, dir.clone()) {
                return Err(ShardError::Duplicate {
                    index: info.shard_index,
                    count: info.shard_count,
                    first: other,
                    second: dir.clone(),
                });
            }
        }
        let missing: Vec<u64> = (0..reference.shard_count)
            .filter(|i| !dirs.contains_key(i))
            .collect();
        if !missing.is_empty() {
            return Err(ShardError::Missing {
                shards: missing,
                count: reference.shard_count,
                points: reference.points_total,
            });
        }
        Ok(ShardSet {
            info: reference.clone(),
            dirs,
        })
    }

    /// Checks that the sweep file kept at `path` (and its scenario) is the one hashed in the
    /// shards' `shard.json`.
    pub fn check_sweep(
        &self,
        path: &Path,
        sweep_text: &str,
        scenario_text: Option<&str>,
    ) -> Result<(), ShardError> {
        if sweep_hash(sweep_text, scenario_text) == self.info.sweep_sha256 {
            Ok(())
        } else {
            Err(ShardError::Altered {
                path: path.to_path_buf(),
            })
        }
    }

    /// The points of `design` that shard `index` owns, once `done` (its finished points)
    /// holds every one of them.
    pub fn check_points(
        &self,
        index: u64,
        design: &[Point],
        done: &BTreeSet<u64>,
    ) -> Result<BTreeSet<u64>, ShardError> {
        let shard = Shard {
            index,
            count: self.info.shard_count,
        };
        let expected: BTreeSet<u64> = design
            .iter()
            .map(|p| p.index)
            .filter(|i| shard.has(*i))
            .collect();
        match expected.difference(done).next() {
            None => Ok(expected),
            Some(&gap) => Err(ShardError::Incomplete {
                dir: self.dirs.get(&index).cloned().unwrap_or_default(),
                index,
                count: self.info.shard_count,
                done: done.intersection(&expected).count(),
                expected: expected.len(),
                gap,
            }),
        }
    }
}

/// Whether `info` (of `dir`) is a shard of the same sweep as `reference` (of `first`).
fn same_sweep(
    first: &Path,
    reference: &ShardInfo,
    dir: &Path,
    info: &ShardInfo,
) -> Result<(), ShardError> {
    for (field, ours, theirs) in [
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
        if ours != theirs {
            return Err(ShardError::Mismatch {
                first: first.to_path_buf(),
                other: dir.to_path_buf(),
                field,
                ours: ours.clone(),
                theirs: theirs.clone(),
            });
        }
    }
    if info.seed != reference.seed || info.shard_count != reference.shard_count {
        return Err(ShardError::SeedOrCountMismatch {
            first: first.to_path_buf(),
            other: dir.to_path_buf(),
            seeds: (reference.seed, info.seed),
            counts: (reference.shard_count, info.shard_count),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(index: u64, count: u64) -> ShardInfo {
        ShardInfo {
            leaklab_version: "1".into(),
            sweep_sha256: "abc".into(),
            seed: 7,
            design: "grid".into(),
            points_total: 4,
            shard_index: index,
            shard_count: count,
        }
    }

    fn dir(name: &str) -> PathBuf {
        PathBuf::from(name)
    }

    #[test]
    fn a_complete_set_checks() {
        let set = ShardSet::check(&[(dir("b"), info(1, 2)), (dir("a"), info(0, 2))]).unwrap();
        assert_eq!(set.dirs.keys().copied().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(set.info.shard_count, 2);
    }

    #[test]
    fn each_failure_is_named() {
        let e = ShardSet::check(&[]).unwrap_err();
        assert!(matches!(e, ShardError::NoShards));
        let e = ShardSet::check(&[(dir("a"), info(0, 2))]).unwrap_err();
        assert_eq!(e.to_string(), "missing shard(s): 1/2 (of 4 points)");
        let e = ShardSet::check(&[(dir("a"), info(0, 2)), (dir("b"), info(0, 2))]).unwrap_err();
        assert_eq!(e.to_string(), "shard 0/2 given twice: a and b");
        let mut other = info(1, 2);
        other.design = "lhs".into();
        let e = ShardSet::check(&[(dir("a"), info(0, 2)), (dir("b"), other)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a and b are shards of different sweeps: design grid vs lhs"
        );
        let e = ShardSet::check(&[(dir("a"), info(0, 2)), (dir("b"), info(1, 3))]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a and b disagree on seed or shard count (7/2 vs 7/3)"
        );
    }

    #[test]
    fn a_shard_needs_all_of_its_points() {
        let set = ShardSet::check(&[(dir("a"), info(0, 1))]).unwrap();
        let design: Vec<Point> = (0..3)
            .map(|index| Point {
                index,
                seed: index,
                values: Vec::new(),
                numeric: Vec::new(),
            })
            .collect();
        let done: BTreeSet<u64> = [0, 2].into();
        let e = set.check_points(0, &design, &done).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a (shard 0/1) is incomplete: 2 of 3 points done, point 1 missing; rerun the shard to finish it"
        );
        let done: BTreeSet<u64> = [0, 1, 2].into();
        assert_eq!(set.check_points(0, &design, &done).unwrap().len(), 3);
    }
}
