//! The output edge: tidy tables, charts, HTML pages and atomically published result
//! directories. Nothing in the simulator or the protocol core writes files; they hand data to
//! this crate, one call per command:
//! - [`write_run`] (`leaklab run`): tables, chart files, `summary.md`, `index.html`, manifest;
//! - [`write_capacity`] and [`capacity_text`] (`leaklab capacity`);
//! - [`ShardDir`] (`leaklab sweep`) and [`merge`] (`leaklab merge`);
//! - [`write_signers`] (`leaklab bench signers`);
//! - [`drill_output`] and [`load_output`] (the testbed's commands).
//!
//! Inside, every table is written from a row type (`table`), every chart is one value of the
//! chart model (`chart`) drawn by plotters into files (`plot`) or inline on a page (`html`),
//! and every directory or file is published atomically (`atomic`).

mod atomic;
mod capacity_output;
mod chart;
pub mod drill_output;
mod format;
mod html;
pub mod load_output;
mod merge;
mod plot;
mod run_output;
mod run_page;
mod run_report;
mod shard;
mod signers_output;
mod sweep_page;
mod sweep_run;
mod table;

pub use capacity_output::{capacity_text, write_capacity, WrittenCapacity};
pub use merge::{merge, Merged};
pub use run_output::{summary_markdown, write_run, Timings, WrittenRun};
pub use shard::{PointVerdict, ShardDir};
pub use signers_output::write_signers;
pub use sweep_run::{shard_dir_name, ShardEvent, Study, StudyError};

use leaklab_study::shards::ShardError;

/// Errors while writing results.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error("I/O error at {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("table `{table}`: {source}")]
    Table {
        table: String,
        source: polars::error::PolarsError,
    },
    #[error("JSON for {path}: {message}")]
    Json {
        path: std::path::PathBuf,
        message: String,
    },
    /// A row type that cannot be a table row (a bug in the row type, not in the data).
    #[error("table row `{row}`: {message}")]
    RowType { row: &'static str, message: String },
    #[error("plot `{plot}`: {message}")]
    Plot { plot: String, message: String },
    /// A sweep shard or a set of shards that cannot be used (mismatched, missing, incomplete).
    #[error(transparent)]
    Shard(#[from] ShardError),
    /// A shard's point file that does not read as CSV.
    #[error("{}: {message}", .path.display())]
    PointFile {
        path: std::path::PathBuf,
        message: String,
    },
    /// A line of a shard's point file without the expected fields.
    #[error("{}: line {line} is malformed", .path.display())]
    MalformedPoint {
        path: std::path::PathBuf,
        line: usize,
    },
    #[error("writing a point file: {0}")]
    WritePoint(String),
}

impl ReportError {
    pub(crate) fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn malformed(path: &std::path::Path, line: usize) -> Self {
        ReportError::MalformedPoint {
            path: path.to_path_buf(),
            line,
        }
    }
}

/// SHA-256 (hex) of every file in `dir` except those named in `skip`, by file name (manifests).
pub(crate) fn file_digests(
    dir: &std::path::Path,
    skip: &[&str],
) -> Result<std::collections::BTreeMap<String, String>, ReportError> {
    use sha2::{Digest, Sha256};
    let mut digests = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(|e| ReportError::io(dir, e))? {
        let entry = entry.map_err(|e| ReportError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if skip.contains(&name.as_str()) {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| ReportError::io(entry.path(), e))?;
        digests.insert(name, hex::encode(Sha256::digest(&bytes)));
    }
    Ok(digests)
}

/// SHA-256 (hex) of one file's bytes.
pub(crate) fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Writes `value` as pretty JSON with a final newline (run manifests, timings, capacity reports).
pub(crate) fn write_json(
    path: &std::path::Path,
    value: &impl serde::Serialize,
) -> Result<(), ReportError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| ReportError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    text.push('\n');
    std::fs::write(path, text).map_err(|e| ReportError::io(path, e))
}
