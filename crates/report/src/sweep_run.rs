//! Runs a parameter study: loads a sweep (a scenario plus a `[sweep]` table), builds each
//! point's scenario, simulates it, judges the claims where the sweep asks for them, and records
//! the point in its shard directory ([`crate::ShardDir`]). It does not print: progress goes
//! to the caller's callback as [`ShardEvent`]s.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leaklab_base::toml_reader::ScenarioError;
use leaklab_claims::{evaluate, ClaimsError, Verdict};
use leaklab_sim::runner::{run, Silent};
use leaklab_sim::scenario::Scenario;
use leaklab_sim::summary::summarize;
use leaklab_study::apply::{apply, ApplyError};
use leaklab_study::design::{points, Point};
use leaklab_study::shards::ShardInfo;
use leaklab_study::spec::{split, SweepSpec};
use leaklab_study::Shard;

use crate::{merge, Merged, PointVerdict, ReportError, ShardDir};

/// Why a study could not be loaded or run. Each variant's message is the context; its source,
/// where there is one, the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StudyError {
    #[error("{what}: cannot read")]
    Read {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{label}: [sweep] names scenario \"{name}\", so the file must hold only [sweep] (found: {found})")]
    NotOnlySweep {
        label: String,
        name: String,
        found: String,
    },
    #[error("{label}: [sweep] scenario {name}: not TOML")]
    NotToml {
        label: String,
        name: String,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("{label} names an unknown scenario {name}")]
    UnknownScenario { label: String, name: String },
    #[error("{label}")]
    Apply {
        label: String,
        #[source]
        source: ApplyError,
    },
    #[error("serialising a sweep point")]
    Serialise(#[source] toml::ser::Error),
    #[error("judging the claims at point {point}")]
    Claims {
        point: u64,
        #[source]
        source: ClaimsError,
    },
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// Progress of [`Study::run_shard`].
#[derive(Debug, Clone, Copy)]
pub enum ShardEvent<'a> {
    /// Before the first point: the shard's points, and how many a previous run finished.
    Start {
        shard: Shard,
        dir: &'a Path,
        points: usize,
        already_done: usize,
    },
    /// One point written: `done` of the `todo` points this run computes, in `elapsed`.
    PointDone {
        index: u64,
        done: usize,
        todo: usize,
        elapsed: Duration,
    },
}

/// A sweep ready to run: its texts, specification, base scenario table and design.
pub struct Study {
    label: String,
    sweep_text: String,
    /// The referenced scenario's text (when the sweep names one).
    scenario_text: Option<String>,
    spec: SweepSpec,
    base: toml::Table,
    design: Vec<Point>,
}

impl Study {
    /// Reads a sweep file; a scenario it names is read from the file's directory.
    pub fn load(file: &Path) -> Result<Study, StudyError> {
        let label = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|source| StudyError::Read {
            what: label.clone(),
            source,
        })?;
        let dir = file.parent().unwrap_or(Path::new("."));
        Study::from_text(&label, text, |name| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| StudyError::Read {
                what: format!("{label}: [sweep] scenario {}", path.display()),
                source,
            })
        })
    }

    /// A sweep from its text; `read_scenario` gives the text of a scenario it names. Every
    /// point's scenario is checked before any is simulated.
    pub fn from_text(
        label: &str,
        sweep_text: String,
        read_scenario: impl Fn(&str) -> Result<String, StudyError>,
    ) -> Result<Study, StudyError> {
        let (spec, own) = split(label, &sweep_text)?;
        let (base, scenario_text) = match &spec.scenario {
            Some(name) => {
                if !own.is_empty() {
                    return Err(StudyError::NotOnlySweep {
                        label: label.to_string(),
                        name: name.clone(),
                        found: own.keys().cloned().collect::<Vec<_>>().join(", "),
                    });
                }
                let text = read_scenario(name)?;
                let table: toml::Table = text.parse().map_err(|e| StudyError::NotToml {
                    label: label.to_string(),
                    name: name.clone(),
                    source: Box::new(e),
                })?;
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
        for p in &study.design {
            study.scenario(p)?;
        }
        Ok(study)
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The design's name (`grid`, `latin-hypercube`, …).
    pub fn design_name(&self) -> &'static str {
        self.spec.design.name()
    }

    /// Number of points of the whole design.
    pub fn points(&self) -> usize {
        self.design.len()
    }

    /// The scenario of point `p`: parameters applied, the point's seed, the sweep's run size.
    pub fn scenario(&self, p: &Point) -> Result<Scenario, StudyError> {
        let table =
            apply(&self.base, &self.spec.parameters, p).map_err(|source| StudyError::Apply {
                label: self.label.clone(),
                source,
            })?;
        let text = toml::to_string(&table).map_err(StudyError::Serialise)?;
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

    /// The base scenario's name (`sweep` when it has none).
    pub fn name(&self) -> String {
        self.base
            .get("scenario")
            .and_then(|s| s.get("name"))
            .and_then(toml::Value::as_str)
            .unwrap_or("sweep")
            .to_string()
    }

    /// The shard directory used when none is given: `results/<name>-sweep/shard-I-of-N`.
    pub fn default_shard_dir(&self, shard: Shard) -> PathBuf {
        Path::new("results")
            .join(format!("{}-sweep", self.name()))
            .join(shard_dir_name(shard))
    }

    /// Runs this shard's unfinished points into `dir` (a rerun resumes).
    pub fn run_shard(
        &self,
        shard: Shard,
        dir: &Path,
        progress: &mut dyn FnMut(ShardEvent),
    ) -> Result<(), StudyError> {
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
        progress(ShardEvent::Start {
            shard,
            dir,
            points: mine.len(),
            already_done: mine.len() - todo.len(),
        });
        let start = Instant::now();
        for (done, p) in todo.iter().enumerate() {
            let results = run(&self.scenario(p)?, false, &Silent);
            let verdicts = if self.spec.claims {
                let claims = evaluate(&results).map_err(|source| StudyError::Claims {
                    point: p.index,
                    source,
                })?;
                let mut v: Vec<PointVerdict> = Vec::new();
                for c in &claims {
                    let part = v.iter().filter(|(id, _, _)| id == c.id).count();
                    v.push((c.id.to_string(), part, c.verdict == Verdict::Reproduced));
                }
                Some(v)
            } else {
                None
            };
            out.write_point(p.index, &summarize(&results), verdicts.as_deref())?;
            progress(ShardEvent::PointDone {
                index: p.index,
                done: done + 1,
                todo: todo.len(),
                elapsed: start.elapsed(),
            });
        }
        Ok(())
    }

    /// Runs every point and merges them into `out`. The one shard lives hidden beside `out`
    /// and stays there: a rerun after an interruption resumes, a finished one only merges again.
    pub fn run_merged(
        &self,
        out: &Path,
        progress: &mut dyn FnMut(ShardEvent),
    ) -> Result<Merged, StudyError> {
        let parent = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| ReportError::io(parent, e))?;
        let work = parent.join(format!(
            ".{}.shard",
            out.file_name().and_then(|n| n.to_str()).unwrap_or("robust")
        ));
        self.run_shard(Shard::ALL, &work, progress)?;
        Ok(merge(std::slice::from_ref(&work), out)?)
    }
}

/// `shard-I-of-N`.
pub fn shard_dir_name(shard: Shard) -> String {
    format!("shard-{}-of-{}", shard.index, shard.count)
}
