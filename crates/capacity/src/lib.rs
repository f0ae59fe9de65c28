//! A queueing model for sizing HSM/TPM signing capacity.
//!
//! The question it answers: when a client's key lives in a TPM or an HSM, how many devices does
//! an estate need so that the p99 signing latency stays under an SLO and the devices keep some
//! headroom, and how does that change when the device signs every API call (single DPoP) instead
//! of only refreshes (split DPoP / DPoP-RT,
//! <https://datatracker.ietf.org/doc/draft-rosomakho-oauth-dpop-rt/>)?
//!
//! * [`service`]: service times as [`leaklab_base::dist::Dist`] values (validated constructors,
//!   and the empirical distribution built from measured quantiles).
//! * [`queue`]: a discrete-event FCFS multi-server queue with Poisson arrivals (M/G/c), drawing
//!   from [`leaklab_base::rng::Rng`] streams.
//! * [`closed_form`]: M/M/1, M/D/1, M/G/1 (Pollaczek–Khinchine) and M/M/c (Erlang C) mean
//!   waiting times, used to check the simulator and printed next to its results.
//! * [`profile`]: device profiles: published figures (with their source URL) and profiles built
//!   from `leaklab bench signers` measurements.
//! * [`planner`]: a workload and a binding strategy from [`leaklab_base::catalogue`] give device
//!   signatures per second; the planner sizes the device fleet for them.
//! * [`command`]: the capacity command's requests (list profiles, run a queue, plan a fleet),
//!   and one serialisable answer each ([`command::CapacityOutput`]).
//! * [`request`]: the requests built from the values a caller was given (defaults applied), and
//!   the checks of single values a command line's flags use.
//! * [`table`]: the deprecated `[capacity]` table of a scenario file, read strictly for the
//!   flat `leaklab capacity --…` form, which goes in the next release.
//!
//! All times inside the crate are `f64` seconds; reports name their unit in each field.

pub mod closed_form;
pub mod command;
pub mod planner;
pub mod profile;
pub mod queue;
pub mod request;
pub mod service;
pub mod table;

pub use command::{
    builtin_profiles, list_profiles, load_profiles, plan, run_queue, CapacityOutput,
    CapacityReport, PlanRequest, ProfileListing, ProfileSources, QueueReport, QueueRequest,
    ServiceModel, StrategySweep,
};
pub use planner::{StrategyPlan, Workload};
pub use profile::{DeviceProfile, ProfileSet};
pub use queue::{simulate, QueueConfig, QueueStats, Summary};
pub use request::{PlanOptions, QueueOptions};

use leaklab_base::duration::DurationError;
use leaklab_base::toml_reader::ScenarioError;

/// Largest arrival rate the queue accepts (per second): one arrival per nanosecond, the
/// resolution of the latency histograms. Larger finite rates are refused, not simulated.
pub const MAX_RATE_PER_S: f64 = 1e9;
/// Largest mean service time the queue accepts (seconds): one day, well inside the latency
/// histograms' range of 2⁵⁰ ns ≈ 13 days.
pub const MAX_SERVICE_TIME_S: f64 = 86_400.0;

/// Errors of the capacity model. Every variant names the offending input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CapacityError {
    /// A numeric parameter is out of range (zero, negative, NaN, too large, …).
    #[error("invalid {name}: {message}")]
    InvalidParameter { name: String, message: String },
    /// A duration flag could not be parsed.
    // `reason`, not `source`: the message already says it, and a source would print it twice
    // in an error chain.
    #[error("{flag}: `{input}`: {reason}")]
    InvalidDuration {
        flag: String,
        input: String,
        reason: DurationError,
    },
    /// A service-time distribution is not usable (e.g. an empirical table that is not a CDF).
    #[error("invalid service-time distribution: {0}")]
    InvalidService(String),
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
    /// A scenario file problem, naming the file, the key, the value and what is allowed.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A file that cannot be read. (`reason`, not `source`: as for durations, the message
    /// says it, and a chained source would print it twice.)
    #[error("cannot read {path}: {reason}")]
    Io {
        path: std::path::PathBuf,
        reason: std::io::Error,
    },
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
    check_positive(value, f64::INFINITY).map_err(|message| CapacityError::param(name, message))
}

/// Checks that `value` is in (0, `max`].
pub(crate) fn positive_at_most(name: &str, value: f64, max: f64) -> Result<f64, CapacityError> {
    check_positive(value, max).map_err(|message| CapacityError::param(name, message))
}

/// `value` if it is in (0, `max`], else why not: the one wording of the model's range checks,
/// also used by the command line's value parsers (which name the flag themselves).
pub fn check_positive(value: f64, max: f64) -> Result<f64, String> {
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("must be a finite number > 0, got {value}"));
    }
    if value > max {
        // Scientific notation: a rate like 1e308 would otherwise print 309 digits.
        return Err(format!("{value:e} is above the supported maximum {max:e}"));
    }
    Ok(value)
}

/// Serialises seconds as milliseconds (reports name the unit in the field: `*_ms`).
pub(crate) mod as_ms {
    use serde::Serializer;

    pub fn seconds<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(v * 1e3)
    }

    pub fn option<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => s.serialize_some(&(x * 1e3)),
            None => s.serialize_none(),
        }
    }
}
