//! Per-cell accumulators (one cell = strategy × leak × attacker policy × replication) and the
//! metrics read off them.

use hdrhistogram::Histogram;

use super::model::{Counters, Outcome};
use leaklab_base::duration::{DAY, HOUR, WEEK};

/// Thresholds for the "disabled within" shares.
pub const WITHIN: [(&str, f64); 3] = [("1h", HOUR), ("1d", DAY), ("7d", WEEK)];

/// The time grid of containment curves: t = 0, then log-spaced from one minute to the horizon.
pub fn time_grid(horizon: f64, points: usize) -> Vec<f64> {
    let start = 60.0_f64.min(horizon / 10.0).max(1e-3);
    let ratio = (horizon / start).ln() / (points - 2).max(1) as f64;
    std::iter::once(0.0)
        .chain((0..points - 1).map(|i| start * (ratio * i as f64).exp()))
        .collect()
}

/// Everything accumulated for one cell.
#[derive(Clone, Debug)]
pub struct Accumulator {
    pub horizon: f64,
    pub affected: u64,
    pub never: u64,
    pub within: [u64; 3],
    /// Sum of TTDs, each censored at the horizon.
    pub ttd_censored_sum: f64,
    /// Largest finite TTD.
    pub ttd_max: f64,
    /// Finite, non-zero TTDs in seconds, 2 significant digits (percentiles within 1%; means and
    /// maxima are exact, from the sums). Zeros are counted in `zero_ttd`.
    pub ttd_hist: Histogram<u64>,
    pub zero_ttd: u64,
    /// `bucket[j]`: affected customers whose TTD lies in (grid[j-1], grid[j]] (`bucket[0]`: TTD
    /// 0; the last: beyond the grid). `containment` sums them from the end: the customers still
    /// exploitable at each grid time.
    pub bucket: Vec<u64>,
    /// The attacker's counters, summed over affected customers.
    pub counters: Counters,
    /// The legitimate fleet's HSM/TPM signatures per second for API calls and for refreshes
    /// (all customers, not only affected ones).
    pub device_call_signs_per_s: f64,
    pub device_refresh_signs_per_s: f64,
    pub device_connection_signs_per_s: f64,
    /// Extra round trips per second the legitimate fleet spends fetching DPoP server nonces
    /// (`use_dpop_nonce` challenges), all customers.
    pub nonce_round_trips_per_s: f64,
    /// Affected customers who never respond: what the binding alone achieves.
    pub nonresponders: u64,
    pub nonresponders_never: u64,
    pub nonresponders_ttd_censored_sum: f64,
    /// Every customer of the agent, affected or not (availability is everyone's).
    pub customers: u64,
    /// Seconds legitimate clients were locked out (until re-consent or the horizon), all
    /// customers.
    pub lockout_seconds: f64,
    /// Customers locked out at least once.
    pub locked_out: u64,
    /// Legitimate API calls per second of one customer (edges × calls per edge), to turn
    /// lockout time into failed requests.
    pub legit_calls_per_s: f64,
    /// When the vendor detected the leak (seconds; infinite: not within the horizon) and whether
    /// the attack itself gave it away (earlier than the exogenous detection).
    pub detection: f64,
    pub detected_by_attack: bool,
}

impl Accumulator {
    pub fn new(horizon: f64, grid_len: usize) -> Accumulator {
        let max = (horizon.ceil() as u64).max(2);
        Accumulator {
            horizon,
            affected: 0,
            never: 0,
            within: [0; 3],
            ttd_censored_sum: 0.0,
            ttd_max: 0.0,
            zero_ttd: 0,
            // `max >= 2` keeps `new_with_max` valid; `Histogram::new(3)` only fails for more than
            // 5 significant digits, so the fallback cannot fail.
            ttd_hist: Histogram::new_with_max(max, 2)
                .unwrap_or_else(|_| Histogram::new(3).expect("3 significant digits is valid")),
            bucket: vec![0; grid_len + 1],
            counters: Counters::default(),
            device_call_signs_per_s: 0.0,
            device_refresh_signs_per_s: 0.0,
            device_connection_signs_per_s: 0.0,
            nonce_round_trips_per_s: 0.0,
            nonresponders: 0,
            nonresponders_never: 0,
            nonresponders_ttd_censored_sum: 0.0,
            customers: 0,
            lockout_seconds: 0.0,
            locked_out: 0,
            legit_calls_per_s: 0.0,
            detection: f64::INFINITY,
            detected_by_attack: false,
        }
    }

    /// Records one customer's availability (every customer, affected or not).
    pub fn record_availability(&mut self, outcome: &Outcome) {
        self.customers += 1;
        self.lockout_seconds += outcome.lockout_seconds;
        self.locked_out += u64::from(outcome.lockout_seconds > 0.0);
    }

    /// Records one affected customer; `nonresponder` marks a customer who never revokes.
    pub fn record(&mut self, outcome: &Outcome, nonresponder: bool, horizon: f64, grid: &[f64]) {
        self.affected += 1;
        let ttd = outcome.ttd;
        if ttd == 0.0 {
            // Never exploitable (the common case for bound tokens): nothing else to accumulate.
            self.zero_ttd += 1;
            self.nonresponders += u64::from(nonresponder);
            self.bucket[0] += 1;
            for w in &mut self.within {
                *w += 1;
            }
            return;
        }
        if nonresponder {
            self.nonresponders += 1;
            self.nonresponders_never += u64::from(!ttd.is_finite());
            self.nonresponders_ttd_censored_sum += ttd.min(horizon);
        }
        if ttd.is_finite() {
            self.ttd_censored_sum += ttd.min(horizon);
            self.ttd_max = self.ttd_max.max(ttd);
            self.ttd_hist.saturating_record(ttd.ceil() as u64);
            for (i, (_, limit)) in WITHIN.iter().enumerate() {
                if ttd <= *limit {
                    self.within[i] += 1;
                }
            }
        } else {
            self.never += 1;
            self.ttd_censored_sum += horizon;
        }
        // Number of grid points strictly before the TTD: the customer counts as exploitable there.
        let j = grid.partition_point(|g| *g < ttd);
        self.bucket[j] += 1;
        self.counters += outcome.counters;
    }

    /// Adds another accumulator (callers merge in a fixed order so float sums are reproducible).
    pub fn merge(&mut self, other: &Accumulator) {
        self.affected += other.affected;
        self.never += other.never;
        for i in 0..3 {
            self.within[i] += other.within[i];
        }
        self.ttd_censored_sum += other.ttd_censored_sum;
        self.zero_ttd += other.zero_ttd;
        self.ttd_max = self.ttd_max.max(other.ttd_max);
        // Both histograms share the same bounds, so adding cannot fail.
        let _ = self.ttd_hist.add(&other.ttd_hist);
        for (a, b) in self.bucket.iter_mut().zip(&other.bucket) {
            *a += b;
        }
        self.counters += other.counters;
        self.device_call_signs_per_s += other.device_call_signs_per_s;
        self.device_refresh_signs_per_s += other.device_refresh_signs_per_s;
        self.device_connection_signs_per_s += other.device_connection_signs_per_s;
        self.nonce_round_trips_per_s += other.nonce_round_trips_per_s;
        self.nonresponders += other.nonresponders;
        self.nonresponders_never += other.nonresponders_never;
        self.nonresponders_ttd_censored_sum += other.nonresponders_ttd_censored_sum;
        self.customers += other.customers;
        self.lockout_seconds += other.lockout_seconds;
        self.locked_out += other.locked_out;
    }

    /// Share of affected customers still exploitable at each grid time.
    pub fn containment(&self) -> Vec<f64> {
        if self.affected == 0 {
            return vec![0.0; self.bucket.len() - 1];
        }
        // bucket[j] customers are exploitable at grid points 0..j.
        let mut alive = vec![0u64; self.bucket.len() - 1];
        let mut running = 0;
        for j in (1..self.bucket.len()).rev() {
            running += self.bucket[j];
            alive[j - 1] = running;
        }
        alive
            .iter()
            .map(|a| *a as f64 / self.affected as f64)
            .collect()
    }

    /// The q-quantile of TTD over affected customers; infinite when it falls among "never".
    pub fn ttd_quantile(&self, q: f64) -> f64 {
        if self.affected == 0 {
            return 0.0;
        }
        let disabled = self.affected - self.never;
        let rank = q * self.affected as f64;
        if rank > disabled as f64 || disabled == 0 {
            return f64::INFINITY;
        }
        if rank <= self.zero_ttd as f64 {
            return 0.0;
        }
        let nonzero = disabled - self.zero_ttd;
        let q_nonzero = ((rank - self.zero_ttd as f64) / nonzero as f64).clamp(0.0, 1.0);
        self.ttd_hist.value_at_quantile(q_nonzero) as f64
    }

    /// Named metrics of this cell, in a fixed order.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let a = self.affected.max(1) as f64;
        let mut m = vec![
            ("affected_customers", self.affected as f64),
            ("ttd_mean_censored_s", self.ttd_censored_sum / a),
            ("ttd_p50_s", self.ttd_quantile(0.5)),
            ("ttd_p90_s", self.ttd_quantile(0.9)),
            ("ttd_p99_s", self.ttd_quantile(0.99)),
            (
                "ttd_max_s",
                if self.never > 0 {
                    f64::INFINITY
                } else {
                    self.ttd_max
                },
            ),
            ("share_never", self.never as f64 / a),
            (
                "ttd_mean_censored_nonresponders_s",
                self.nonresponders_ttd_censored_sum / self.nonresponders.max(1) as f64,
            ),
            (
                "share_never_nonresponders",
                self.nonresponders_never as f64 / self.nonresponders.max(1) as f64,
            ),
        ];
        for (i, (label, _)) in WITHIN.iter().enumerate() {
            m.push((
                match *label {
                    "1h" => "share_disabled_within_1h",
                    "1d" => "share_disabled_within_1d",
                    _ => "share_disabled_within_7d",
                },
                self.within[i] as f64 / a,
            ));
        }
        m.extend([
            (
                "exposure_token_hours",
                self.counters.usable_seconds / 3600.0,
            ),
            ("attacker_calls_ok", self.counters.calls_ok as f64),
            ("attacker_calls_failed", self.counters.calls_failed as f64),
            ("attacker_refresh_ok", self.counters.refresh_ok as f64),
            (
                "attacker_refresh_failed",
                self.counters.refresh_failed as f64,
            ),
            ("oracle_signatures", self.counters.oracle_signatures as f64),
            (
                "device_signs_per_s",
                self.device_call_signs_per_s
                    + self.device_refresh_signs_per_s
                    + self.device_connection_signs_per_s,
            ),
            ("device_call_signs_per_s", self.device_call_signs_per_s),
            (
                "device_refresh_signs_per_s",
                self.device_refresh_signs_per_s,
            ),
            (
                "device_connection_signs_per_s",
                self.device_connection_signs_per_s,
            ),
            ("nonce_round_trips_per_s", self.nonce_round_trips_per_s),
        ]);
        let n = self.customers.max(1) as f64;
        m.extend([
            // Censored at the horizon so that a mean over replications exists.
            ("detection_h", self.detection.min(self.horizon) / HOUR),
            (
                "detected_by_attack",
                f64::from(u8::from(self.detected_by_attack)),
            ),
            ("share_locked_out", self.locked_out as f64 / n),
            ("lockout_h_per_customer", self.lockout_seconds / HOUR / n),
            (
                "legit_calls_failed_per_customer",
                self.lockout_seconds * self.legit_calls_per_s / n,
            ),
        ]);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ttd: f64) -> Outcome {
        Outcome {
            ttd,
            ..Outcome::default()
        }
    }

    #[test]
    fn containment_and_quantiles() {
        let grid = vec![0.0, 10.0, 100.0];
        let mut acc = Accumulator::new(1000.0, grid.len());
        for t in [0.0, 5.0, 50.0, f64::INFINITY] {
            acc.record(&outcome(t), false, 1000.0, &grid);
        }
        assert_eq!(acc.containment(), vec![0.75, 0.5, 0.25]);
        assert_eq!(acc.ttd_quantile(0.9), f64::INFINITY);
        assert!((acc.ttd_quantile(0.5) - 5.0).abs() < 0.01);
        assert_eq!(acc.never, 1);
    }

    #[test]
    fn grid_is_increasing_and_ends_at_horizon() {
        let g = time_grid(90.0 * DAY, 200);
        assert_eq!(g.len(), 200);
        assert!(g.windows(2).all(|w| w[0] < w[1]));
        assert!((g[199] - 90.0 * DAY).abs() < 1.0);
    }
}
