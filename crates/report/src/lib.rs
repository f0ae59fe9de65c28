//! The output edge: tidy tables, plots and atomically published result directories.
//!
//! Nothing in the simulator or the protocol core writes files; they hand data to this module.

pub mod atomic_file;
pub mod capacity_output;
pub mod drill_output;
pub mod html;
pub mod load_output;
pub mod output_dir;
pub mod plot;
pub mod run_output;
pub mod run_page;
pub mod signers_output;
pub mod sweep_output;
pub mod sweep_run;
pub mod table;

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
    #[error("plot `{plot}`: {message}")]
    Plot { plot: String, message: String },
    /// A sweep shard or a set of shards that cannot be used (mismatched, missing, incomplete).
    #[error("{message}")]
    Sweep { message: String },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
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
