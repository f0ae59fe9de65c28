//! A queueing model for sizing HSM/TPM signing capacity.
//!
//! The question it answers: when a client's DPoP key lives in a TPM or an HSM, how many devices
//! does an estate need so that the p99 signing latency stays under an SLO, and how does that
//! change when the device signs every API call (single DPoP) instead of only refreshes (split
//! DPoP / DPoP-RT, <https://datatracker.ietf.org/doc/draft-rosomakho-oauth-dpop-rt/>)?
//!
//! * [`dist`]: service-time distributions (exponential, deterministic, and an empirical one that
//!   interpolates a measured quantile table).
//! * [`queue`]: a discrete-event FCFS multi-server queue with Poisson arrivals (M/G/c).
//! * [`closed_form`]: M/M/1, M/D/1, M/G/1 (Pollaczek–Khinchine) and M/M/c (Erlang C) mean
//!   waiting times, used to check the simulator and printed next to its results.
//! * [`profile`]: device profiles: published figures (with their source URL) and profiles built
//!   from `leaklab bench signers` measurements.
//! * [`planner`]: turns a workload (agents, edge workloads, call rate, refresh interval) and a
//!   token-binding strategy into device signatures per second, then sizes the device fleet.
//! * [`scenario`]: the `[capacity]` table of a scenario file, validated key by key.
//! * [`duration`]: `15m`, `1h`, `900s` style durations.
//!
//! Everything here is sans-IO: callers pass text (TOML, CSV) and seeds in; the CLI reads files
//! and writes results. All times inside the module are `f64` seconds.

pub mod closed_form;
pub mod dist;
pub mod duration;
pub mod planner;
pub mod profile;
pub mod queue;
pub mod scenario;

pub use dist::{QuantileTable, ServiceDist};
pub use planner::{Strategy, Workload};
pub use profile::{DeviceProfile, ProfileSet};
pub use queue::{simulate, QueueConfig, QueueStats, Summary};

/// Errors of the capacity model. Every variant names the offending input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CapacityError {
    /// A numeric parameter is out of range (zero, negative, NaN, …).
    #[error("invalid {name}: {message}")]
    InvalidParameter { name: String, message: String },
    /// A duration string could not be parsed.
    #[error("invalid duration `{input}`: {reason}")]
    InvalidDuration { input: String, reason: String },
    /// A quantile table is not a valid inverse CDF.
    #[error("invalid quantile table: {0}")]
    InvalidQuantiles(String),
    /// A device-profile source (TOML or CSV) is malformed.
    #[error("{source_name}: {message}")]
    ProfileSource {
        source_name: String,
        message: String,
    },
    /// A profile name that is not in the loaded set.
    #[error("unknown device profile `{name}`; available: {}", available.join(", "))]
    UnknownProfile {
        name: String,
        available: Vec<String>,
    },
    /// A scenario file problem, naming the file and the key.
    #[error("{file}: key `{key}`: {message}")]
    Scenario {
        file: String,
        key: String,
        message: String,
    },
    /// A file that is not valid TOML (message on one line, with line and column).
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    /// An unknown strategy name.
    #[error("unknown strategy `{name}`; allowed: {}", allowed.join(", "))]
    UnknownStrategy { name: String, allowed: Vec<String> },
}

impl CapacityError {
    pub(crate) fn param(name: &str, message: impl Into<String>) -> Self {
        CapacityError::InvalidParameter {
            name: name.to_string(),
            message: message.into(),
        }
    }
}

/// Checks that `value` is finite and strictly positive.
pub(crate) fn positive(name: &str, value: f64) -> Result<f64, CapacityError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(CapacityError::param(
            name,
            format!("must be a finite number > 0, got {value}"),
        ))
    }
}
