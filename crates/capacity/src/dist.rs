//! Service-time distributions for the signing queue (all values in seconds).
//!
//! * `Exponential(mean)`: the M/M/· textbook case; memoryless, so it overstates the variance of
//!   a constant-time signing operation but is a fair model for a remote service whose latency
//!   is dominated by other tenants' load.
//! * `Deterministic(d)`: a constant-time device (a TPM doing one ECDSA sign at a time). Gives
//!   the M/D/· case, whose mean waiting time is half of M/M/·'s at the same load.
//! * `Empirical(table)`: a measured latency distribution given by a few quantiles (e.g. p10,
//!   p50, p90, p99, p999 from `leaklab bench signers`). Sampling is by inversion of a
//!   piecewise-linear inverse CDF through those points.

use rand::Rng;

use super::CapacityError;

/// A service-time distribution. Construct through [`ServiceDist::exponential`],
/// [`ServiceDist::deterministic`] or [`QuantileTable::new`] to get validated values;
/// [`ServiceDist::validate`] re-checks a value built by hand.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceDist {
    /// Exponential with this mean (seconds).
    Exponential(f64),
    /// Always exactly this long (seconds).
    Deterministic(f64),
    /// Piecewise-linear inverse CDF through measured quantiles.
    Empirical(QuantileTable),
}

impl ServiceDist {
    pub fn exponential(mean_s: f64) -> Result<Self, CapacityError> {
        Ok(ServiceDist::Exponential(super::positive(
            "exponential mean service time",
            mean_s,
        )?))
    }

    pub fn deterministic(value_s: f64) -> Result<Self, CapacityError> {
        Ok(ServiceDist::Deterministic(super::positive(
            "deterministic service time",
            value_s,
        )?))
    }

    /// Checks the parameters (for values built directly from the enum).
    pub fn validate(&self) -> Result<(), CapacityError> {
        match self {
            ServiceDist::Exponential(m) => {
                super::positive("exponential mean service time", *m).map(|_| ())
            }
            ServiceDist::Deterministic(d) => {
                super::positive("deterministic service time", *d).map(|_| ())
            }
            ServiceDist::Empirical(t) => QuantileTable::new(t.points().to_vec()).map(|_| ()),
        }
    }

    /// A short model name: `exponential`, `deterministic` or `empirical`.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceDist::Exponential(_) => "exponential",
            ServiceDist::Deterministic(_) => "deterministic",
            ServiceDist::Empirical(_) => "empirical",
        }
    }

    /// E\[S\].
    pub fn mean(&self) -> f64 {
        match self {
            ServiceDist::Exponential(m) => *m,
            ServiceDist::Deterministic(d) => *d,
            ServiceDist::Empirical(t) => t.mean(),
        }
    }

    /// E\[S²\] (needed by the Pollaczek–Khinchine formula).
    pub fn second_moment(&self) -> f64 {
        match self {
            ServiceDist::Exponential(m) => 2.0 * m * m,
            ServiceDist::Deterministic(d) => d * d,
            ServiceDist::Empirical(t) => t.second_moment(),
        }
    }

    /// The `p`-quantile of the service time (`p` clamped to \[0, 1\]; p = 1 of the exponential
    /// is infinite).
    pub fn quantile(&self, p: f64) -> f64 {
        let p = if p.is_nan() { 0.5 } else { p.clamp(0.0, 1.0) };
        match self {
            ServiceDist::Exponential(m) => -m * (1.0 - p).ln(),
            ServiceDist::Deterministic(d) => *d,
            ServiceDist::Empirical(t) => t.quantile(p),
        }
    }

    /// Draws one service time.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match self {
            ServiceDist::Exponential(m) => exponential(rng, *m),
            ServiceDist::Deterministic(d) => *d,
            ServiceDist::Empirical(t) => t.quantile(rng.gen::<f64>()),
        }
    }

    /// The same distribution with every time multiplied by `factor` (> 0).
    pub fn scaled(&self, factor: f64) -> ServiceDist {
        match self {
            ServiceDist::Exponential(m) => ServiceDist::Exponential(m * factor),
            ServiceDist::Deterministic(d) => ServiceDist::Deterministic(d * factor),
            ServiceDist::Empirical(t) => ServiceDist::Empirical(QuantileTable {
                points: t.points.iter().map(|&(p, v)| (p, v * factor)).collect(),
            }),
        }
    }
}

/// Exponential variate by inversion: `-mean · ln(1 - U)` with U in \[0, 1), so the logarithm's
/// argument is in (0, 1] and never zero.
pub(crate) fn exponential<R: Rng + ?Sized>(rng: &mut R, mean: f64) -> f64 {
    let u: f64 = rng.gen();
    -mean * (1.0 - u).ln()
}

/// A monotone quantile table `(p, value)`, p strictly increasing in \[0, 1\], values
/// non-decreasing, finite and ≥ 0. It is completed to cover p = 0 and p = 1 by holding the
/// first and last values flat, so a table that stops at p999 truncates the extreme tail at the
/// p999 value unless [`QuantileTable::with_tail_for_mean`] gives it a tail that restores a
/// measured mean.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileTable {
    points: Vec<(f64, f64)>,
}

impl QuantileTable {
    pub fn new(mut points: Vec<(f64, f64)>) -> Result<Self, CapacityError> {
        let bad = |m: String| CapacityError::InvalidQuantiles(m);
        if points.is_empty() {
            return Err(bad("no points".into()));
        }
        for (i, &(p, v)) in points.iter().enumerate() {
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                return Err(bad(format!("point {i}: probability {p} is not in [0, 1]")));
            }
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(format!(
                    "point {i}: value {v} is not a finite number >= 0"
                )));
            }
            if i > 0 {
                let (pp, pv) = points[i - 1];
                if p <= pp {
                    return Err(bad(format!(
                        "point {i}: probabilities must increase ({pp} then {p})"
                    )));
                }
                if v < pv {
                    return Err(bad(format!(
                        "point {i}: values must not decrease ({pv} then {v})"
                    )));
                }
            }
        }
        if let Some(&(p0, v0)) = points.first() {
            if p0 > 0.0 {
                points.insert(0, (0.0, v0));
            }
        }
        if let Some(&(p1, v1)) = points.last() {
            if p1 < 1.0 {
                points.push((1.0, v1));
            }
        }
        if points.iter().all(|&(_, v)| v == 0.0) {
            return Err(bad("all values are zero".into()));
        }
        Ok(Self { points })
    }

    /// Replaces the flat segment above the last measured quantile by a linear one whose end
    /// value makes the distribution's mean equal `mean` (a measured mean carries the tail that
    /// the quantiles do not show). The end value is capped at `max` when given, and never below
    /// the last quantile, so a mean that the quantiles already exceed leaves the table as is.
    pub fn with_tail_for_mean(
        mut self,
        mean: f64,
        max: Option<f64>,
    ) -> Result<Self, CapacityError> {
        if !(mean.is_finite() && mean > 0.0) {
            return Err(CapacityError::InvalidQuantiles(format!(
                "mean {mean} is not a finite number > 0"
            )));
        }
        let n = self.points.len();
        if n < 2 {
            return Ok(self);
        }
        let (p_last, v_last) = self.points[n - 2];
        let mass = 1.0 - p_last;
        if mass <= 0.0 {
            return Ok(self);
        }
        let body: f64 = self.points[..n - 1]
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum();
        // body + mass·(v_last + end)/2 = mean
        let mut end = 2.0 * (mean - body) / mass - v_last;
        if let Some(m) = max.filter(|m| m.is_finite()) {
            end = end.min(m);
        }
        self.points[n - 1].1 = end.max(v_last);
        Ok(self)
    }

    /// The completed points, from p = 0 to p = 1.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// Linear interpolation between the surrounding points.
    pub fn quantile(&self, p: f64) -> f64 {
        let pts = &self.points;
        let i = pts.partition_point(|&(q, _)| q < p);
        if i == 0 {
            return pts[0].1;
        }
        if i >= pts.len() {
            return pts[pts.len() - 1].1;
        }
        let (p0, v0) = pts[i - 1];
        let (p1, v1) = pts[i];
        v0 + (v1 - v0) * (p - p0) / (p1 - p0)
    }

    /// Exact mean of the interpolated distribution: each segment is uniform between its ends.
    pub fn mean(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
            .sum()
    }

    /// Exact E\[S²\]: a segment uniform on \[a, b\] with mass w contributes w·(a²+ab+b²)/3.
    pub fn second_moment(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| {
                let (a, b) = (w[0].1, w[1].1);
                (w[1].0 - w[0].0) * (a * a + a * b + b * b) / 3.0
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn quantile_table_interpolates_and_holds_ends() {
        let t = QuantileTable::new(vec![(0.1, 1.0), (0.5, 2.0), (0.9, 4.0)]).unwrap();
        assert_eq!(t.points().first(), Some(&(0.0, 1.0)));
        assert_eq!(t.points().last(), Some(&(1.0, 4.0)));
        assert_eq!(t.quantile(0.0), 1.0);
        assert_eq!(t.quantile(0.3), 1.5);
        assert_eq!(t.quantile(0.7), 3.0);
        assert_eq!(t.quantile(1.0), 4.0);
        // mean = 0.1*1 + 0.4*1.5 + 0.4*3 + 0.1*4
        assert!((t.mean() - 2.3).abs() < 1e-12);
    }

    #[test]
    fn tail_matches_measured_mean() {
        let t = QuantileTable::new(vec![(0.5, 1.0), (0.9, 2.0)]).unwrap();
        // flat tail: mean = 0.5*1 + 0.4*1.5 + 0.1*2 = 1.3
        assert!((t.mean() - 1.3).abs() < 1e-12);
        let t2 = t.clone().with_tail_for_mean(1.4, None).unwrap();
        assert!((t2.mean() - 1.4).abs() < 1e-12);
        assert!((t2.points()[t2.points().len() - 1].1 - 4.0).abs() < 1e-9);
        let capped = t.clone().with_tail_for_mean(1.4, Some(3.0)).unwrap();
        assert_eq!(capped.points().last(), Some(&(1.0, 3.0)));
        let lower = t.clone().with_tail_for_mean(1.0, None).unwrap();
        assert_eq!(lower.points().last(), Some(&(1.0, 2.0)));
        assert!(t.with_tail_for_mean(f64::NAN, None).is_err());
    }

    #[test]
    fn quantile_table_rejects_bad_tables() {
        assert!(QuantileTable::new(vec![]).is_err());
        assert!(QuantileTable::new(vec![(0.5, 2.0), (0.4, 3.0)]).is_err());
        assert!(QuantileTable::new(vec![(0.4, 2.0), (0.5, 1.0)]).is_err());
        assert!(QuantileTable::new(vec![(0.5, f64::NAN)]).is_err());
        assert!(QuantileTable::new(vec![(1.5, 1.0)]).is_err());
        assert!(QuantileTable::new(vec![(0.5, 0.0)]).is_err());
    }

    #[test]
    fn sample_moments_match_exact_moments() {
        let t = QuantileTable::new(vec![(0.1, 1.0), (0.5, 2.0), (0.9, 4.0), (0.99, 9.0)]).unwrap();
        let dists = [
            ServiceDist::exponential(2.0).unwrap(),
            ServiceDist::deterministic(2.0).unwrap(),
            ServiceDist::Empirical(t),
        ];
        for d in dists {
            let mut rng = ChaCha8Rng::seed_from_u64(7);
            let n = 400_000;
            let (mut s1, mut s2) = (0.0, 0.0);
            for _ in 0..n {
                let x = d.sample(&mut rng);
                s1 += x;
                s2 += x * x;
            }
            let (m1, m2) = (s1 / n as f64, s2 / n as f64);
            assert!((m1 / d.mean() - 1.0).abs() < 0.01, "{d:?} mean {m1}");
            assert!(
                (m2 / d.second_moment() - 1.0).abs() < 0.03,
                "{d:?} E[S^2] {m2}"
            );
        }
    }

    #[test]
    fn constructors_validate() {
        assert!(ServiceDist::exponential(0.0).is_err());
        assert!(ServiceDist::deterministic(-1.0).is_err());
        assert!(ServiceDist::deterministic(f64::INFINITY).is_err());
        assert!(ServiceDist::Exponential(f64::NAN).validate().is_err());
    }
}
