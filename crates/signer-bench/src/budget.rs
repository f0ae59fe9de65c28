//! How long each measurement runs, and at which concurrency levels.

use std::time::Duration;

use crate::{BenchError, ProgressUnit};

/// The longest time budget per measurement, in seconds.
pub const MAX_SECONDS: f64 = 3600.0;
/// The time budget when neither a time nor a count is given, in seconds.
pub const DEFAULT_SECONDS: u64 = 3;
/// The highest concurrency (threads, each with its own signer or a share of one).
pub const MAX_CONCURRENCY: usize = 1024;

/// How long each measurement (one signer at one concurrency) runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Until this much wall time has passed.
    Time(Duration),
    /// Until this many signatures completed, over all threads.
    Count(u64),
}

impl Budget {
    /// A validated budget from a time in seconds or a signature count (at most one of them);
    /// [`DEFAULT_SECONDS`] when neither is given.
    pub fn new(seconds: Option<f64>, count: Option<u64>) -> Result<Self, BenchError> {
        match (seconds, count) {
            (Some(_), Some(_)) => Err(BenchError::InvalidConfig(
                "give a time or a count of signatures per measurement, not both".into(),
            )),
            (None, Some(0)) => Err(BenchError::InvalidConfig(
                "the signature count per measurement must be at least 1, got 0".into(),
            )),
            (None, Some(n)) => Ok(Budget::Count(n)),
            (Some(s), None) if !(s.is_finite() && s > 0.0 && s <= MAX_SECONDS) => {
                Err(BenchError::InvalidConfig(format!(
                    "the seconds per measurement must be in (0, {MAX_SECONDS}], got {s}"
                )))
            }
            (Some(s), None) => Ok(Budget::Time(Duration::from_secs_f64(s))),
            (None, None) => Ok(Budget::Time(Duration::from_secs(DEFAULT_SECONDS))),
        }
    }

    /// The end of a progress count for this budget.
    pub(crate) fn progress_total(self) -> (u64, ProgressUnit) {
        match self {
            Budget::Time(d) => (millis(d), ProgressUnit::Millis),
            Budget::Count(n) => (n, ProgressUnit::Signatures),
        }
    }
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What [`crate::run`] measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    budget: Budget,
    concurrency: usize,
    compare: bool,
}

impl Config {
    /// `concurrency` is the second level measured after 1 (default: the CPU count); `compare`
    /// adds the `tpm2_sign` and `openssl speed` reference rows.
    pub fn new(
        budget: Budget,
        concurrency: Option<usize>,
        compare: bool,
    ) -> Result<Self, BenchError> {
        let concurrency = match concurrency {
            Some(c) if c == 0 || c > MAX_CONCURRENCY => {
                return Err(BenchError::InvalidConfig(format!(
                    "concurrency must be in 1..={MAX_CONCURRENCY}, got {c}"
                )))
            }
            Some(c) => c,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(MAX_CONCURRENCY),
        };
        Ok(Self {
            budget,
            concurrency,
            compare,
        })
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    pub fn compare(&self) -> bool {
        self.compare
    }

    /// The concurrency levels measured: 1, and the configured one if higher.
    pub fn levels(&self) -> Vec<usize> {
        let mut levels = vec![1];
        if self.concurrency > 1 {
            levels.push(self.concurrency);
        }
        levels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(r: Result<impl std::fmt::Debug, BenchError>) -> String {
        match r {
            Err(BenchError::InvalidConfig(m)) => m,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn budget_defaults_to_three_seconds() {
        assert_eq!(
            Budget::new(None, None).unwrap(),
            Budget::Time(Duration::from_secs(3))
        );
        assert_eq!(
            Budget::new(Some(0.5), None).unwrap(),
            Budget::Time(Duration::from_millis(500))
        );
        assert_eq!(Budget::new(None, Some(40)).unwrap(), Budget::Count(40));
    }

    #[test]
    fn budget_rejects_bad_values() {
        assert!(invalid(Budget::new(None, Some(0))).contains("at least 1"));
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY, 3600.5] {
            assert!(
                invalid(Budget::new(Some(s), None)).contains("(0, 3600]"),
                "{s}"
            );
        }
        assert!(invalid(Budget::new(Some(1.0), Some(5))).contains("not both"));
        assert!(Budget::new(Some(3600.0), None).is_ok());
    }

    #[test]
    fn concurrency_levels() {
        let b = Budget::Count(1);
        assert!(invalid(Config::new(b, Some(0), false)).contains("1..=1024"));
        assert!(invalid(Config::new(b, Some(1025), false)).contains("got 1025"));
        assert_eq!(Config::new(b, Some(1), false).unwrap().levels(), [1]);
        assert_eq!(Config::new(b, Some(8), true).unwrap().levels(), [1, 8]);
        let default = Config::new(b, None, true).unwrap();
        assert!((1..=MAX_CONCURRENCY).contains(&default.concurrency()));
    }
}
