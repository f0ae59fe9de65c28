//! The output edge: tidy tables, plots and atomically published result directories.
//!
//! Nothing in the simulator or the protocol core writes files; they hand data to this module.

pub mod atomic_file;
pub mod capacity_output;
pub mod output_dir;
pub mod plot;
pub mod run_output;
pub mod signers_output;
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
}

impl ReportError {
    pub(crate) fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }
}
