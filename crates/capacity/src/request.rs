//! The capacity requests built from the values a caller was given: the defaults where a value
//! is absent ([`PlanOptions`], [`QueueOptions`]) and the range checks of single values, with the
//! messages a command line shows next to the flag ([`parse`]).

use leaklab_base::catalogue::Binding;

use super::command::{
    DEFAULT_CONNECTION_LIFETIME_S, DEFAULT_MAX_DEVICES, DEFAULT_QUEUE_ARRIVALS, DEFAULT_SEED,
    DEFAULT_SIM_ARRIVALS, DEFAULT_SLO_MS,
};
use super::{PlanRequest, ProfileSources, QueueRequest, ServiceModel, Workload};

/// A fleet-sizing question as given: the workload's required values, `None` for a default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanOptions {
    pub agents: u64,
    pub edges_per_agent: u64,
    pub calls_per_s: f64,
    pub at_lifetime_s: f64,
    /// Default: the access-token lifetime.
    pub refresh_interval_s: Option<f64>,
    /// Default: [`DEFAULT_CONNECTION_LIFETIME_S`].
    pub connection_lifetime_s: Option<f64>,
    /// Default: every strategy, in the catalogue's order.
    pub strategies: Option<Vec<Binding>>,
    pub device: String,
    pub devices: Option<u64>,
    /// Default: [`DEFAULT_SLO_MS`].
    pub slo_p99_ms: Option<f64>,
    /// Default: by profile (see [`PlanRequest::headroom`]).
    pub headroom: Option<f64>,
    pub max_devices: Option<u64>,
    /// Simulated arrivals per device queue; default [`DEFAULT_SIM_ARRIVALS`].
    pub sim_arrivals: Option<u64>,
    /// Default: 10% of the arrivals.
    pub warmup: Option<u64>,
    pub seed: Option<u64>,
    pub service: Option<ServiceModel>,
    pub sources: ProfileSources,
}

impl From<PlanOptions> for PlanRequest {
    fn from(o: PlanOptions) -> Self {
        let arrivals = o.sim_arrivals.unwrap_or(DEFAULT_SIM_ARRIVALS);
        PlanRequest {
            workload: Workload {
                agents: o.agents,
                edges_per_agent: o.edges_per_agent,
                calls_per_s: o.calls_per_s,
                at_lifetime_s: o.at_lifetime_s,
                refresh_interval_s: o.refresh_interval_s.unwrap_or(o.at_lifetime_s),
                connection_lifetime_s: o
                    .connection_lifetime_s
                    .unwrap_or(DEFAULT_CONNECTION_LIFETIME_S),
            },
            strategies: o.strategies.unwrap_or_else(|| Binding::ALL.to_vec()),
            device: o.device,
            slo_p99_s: o.slo_p99_ms.unwrap_or(DEFAULT_SLO_MS) / 1e3,
            headroom: o.headroom,
            devices: o.devices,
            max_devices: o.max_devices.unwrap_or(DEFAULT_MAX_DEVICES),
            arrivals,
            warmup: o.warmup.unwrap_or(arrivals / 10),
            seed: o.seed.unwrap_or(DEFAULT_SEED),
            service: o.service,
            sources: o.sources,
        }
    }
}

/// One queue as given; `Default` is one exponential server with the default run size.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueOptions {
    pub arrival_rate: f64,
    pub service_time_ms: f64,
    pub servers: u32,
    pub service: ServiceModel,
    pub arrivals: u64,
    /// Default: 10% of the arrivals.
    pub warmup: Option<u64>,
    pub seed: u64,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            arrival_rate: 0.0,
            service_time_ms: 0.0,
            servers: 1,
            service: ServiceModel::Exponential,
            arrivals: DEFAULT_QUEUE_ARRIVALS,
            warmup: None,
            seed: DEFAULT_SEED,
        }
    }
}

impl From<QueueOptions> for QueueRequest {
    fn from(o: QueueOptions) -> Self {
        QueueRequest {
            arrival_rate: o.arrival_rate,
            service_time_s: o.service_time_ms / 1e3,
            service: o.service,
            servers: o.servers,
            arrivals: o.arrivals,
            warmup: o.warmup.unwrap_or(o.arrivals / 10),
            seed: o.seed,
        }
    }
}

/// Single values from text, checked; the error says what is wrong and the caller names the
/// flag or key (clap value parsers have this shape).
pub mod parse {
    use leaklab_base::duration::{parse_duration, Policy};

    use crate::{check_positive, MAX_RATE_PER_S, MAX_SERVICE_TIME_S};

    /// A rate per second in (0, 1e9].
    pub fn rate(s: &str) -> Result<f64, String> {
        number(s, MAX_RATE_PER_S)
    }

    /// Milliseconds (a service time or a latency objective) in (0, one day].
    pub fn millis(s: &str) -> Result<f64, String> {
        number(s, MAX_SERVICE_TIME_S * 1e3)
    }

    fn number(s: &str, max: f64) -> Result<f64, String> {
        let v: f64 = s.trim().parse().map_err(|_| "not a number".to_string())?;
        check_positive(v, max)
    }

    /// A target utilisation in (0, 1].
    pub fn headroom(s: &str) -> Result<f64, String> {
        let h: f64 = s.trim().parse().map_err(|_| "not a number".to_string())?;
        if h > 0.0 && h <= 1.0 {
            Ok(h)
        } else {
            Err(format!("must be a target utilisation in (0, 1], got {h}"))
        }
    }

    /// A positive duration with a unit, in seconds.
    pub fn duration(s: &str) -> Result<f64, String> {
        parse_duration(s, Policy::UnitRequiredPositive).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::DEFAULT_THROUGHPUT_HEADROOM;

    /// A small workload's options.
    fn plan() -> PlanOptions {
        PlanOptions {
            agents: 10,
            edges_per_agent: 2,
            calls_per_s: 1.0,
            at_lifetime_s: 900.0,
            device: "tpm-infineon-slb9670".into(),
            ..PlanOptions::default()
        }
    }

    #[test]
    fn defaults_are_applied_once() {
        let r = PlanRequest::from(plan());
        assert_eq!(r.workload.refresh_interval_s, 900.0);
        assert_eq!(r.workload.connection_lifetime_s, 3600.0);
        assert_eq!(r.strategies, Binding::ALL.to_vec());
        assert_eq!(r.slo_p99_s, DEFAULT_SLO_MS / 1e3);
        assert_eq!(r.settings(true).headroom, DEFAULT_THROUGHPUT_HEADROOM);
        assert_eq!(r.settings(false).headroom, 1.0);
        assert_eq!((r.arrivals, r.warmup), (200_000, 20_000));
        r.validate().unwrap();
        let given = PlanRequest::from(PlanOptions {
            refresh_interval_s: Some(60.0),
            strategies: Some(vec![Binding::SplitDpop]),
            sim_arrivals: Some(1000),
            ..plan()
        });
        assert_eq!(given.workload.refresh_interval_s, 60.0);
        assert_eq!(given.strategies, [Binding::SplitDpop]);
        assert_eq!((given.arrivals, given.warmup), (1000, 100));
    }

    #[test]
    fn queue_defaults() {
        let r = QueueRequest::from(QueueOptions {
            arrival_rate: 5.0,
            service_time_ms: 100.0,
            ..QueueOptions::default()
        });
        assert_eq!(
            (r.servers, r.arrivals, r.warmup, r.seed),
            (1, 1_000_000, 100_000, 1)
        );
        assert_eq!(r.service, ServiceModel::Exponential);
        assert_eq!(r.service_time_s, 0.1);
    }

    #[test]
    fn bad_values_say_why() {
        assert!(parse::headroom("0").unwrap_err().contains("(0, 1]"));
        assert!(parse::headroom("1.01").unwrap_err().contains("(0, 1]"));
        assert_eq!(parse::headroom("0.5"), Ok(0.5));
        assert!(parse::duration("900").is_err());
        assert!(parse::duration("0s").is_err());
        assert_eq!(parse::duration("15m"), Ok(900.0));
        assert!(parse::rate("1e300").unwrap_err().contains("maximum"));
        assert!(parse::rate("x").unwrap_err().contains("not a number"));
        assert!(parse::millis("-1").unwrap_err().contains("> 0"));
        assert!(parse::millis("1e300").unwrap_err().contains("maximum"));
    }
}
