//! Output analysis: means and Student-t confidence intervals over replications, and the
//! Kolmogorov–Smirnov distance used by the closed-form tests.

/// Mean and 95% confidence interval of independent replications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    pub n: usize,
}

impl Interval {
    /// Student-t interval at 95%. Non-finite inputs (e.g. an infinite percentile) give a
    /// non-finite mean and bounds, which reports show as "never".
    pub fn of(values: &[f64]) -> Interval {
        let n = values.len();
        if n == 0 {
            return Interval {
                mean: f64::NAN,
                low: f64::NAN,
                high: f64::NAN,
                n,
            };
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n < 2 || !mean.is_finite() {
            return Interval {
                mean,
                low: mean,
                high: mean,
                n,
            };
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let half = t_quantile_975(n - 1) * (var / n as f64).sqrt();
        Interval {
            mean,
            low: mean - half,
            high: mean + half,
            n,
        }
    }

    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom: exact table to 30, then the
/// Cornish–Fisher expansion around the normal quantile (error below 1e-4).
pub fn t_quantile_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    if df == 0 {
        return f64::INFINITY;
    }
    if df <= 30 {
        return TABLE[df - 1];
    }
    let z: f64 = 1.959_963_984_540_054;
    let v = df as f64;
    z + (z.powi(3) + z) / (4.0 * v)
        + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
}

/// Largest vertical distance between an empirical survival curve, given at `points` as
/// `(t, share still alive)`, and the analytic survival function `survival(t)`.
pub fn ks_distance(points: &[(f64, f64)], survival: impl Fn(f64) -> f64) -> f64 {
    points
        .iter()
        .map(|&(t, s)| (s - survival(t)).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_of_known_sample() {
        let i = Interval::of(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(i.mean, 3.0);
        // sd = 1.5811, se = 0.7071, t(4) = 2.776 → half-width 1.963
        assert!((i.high - 4.963).abs() < 1e-3, "{i:?}");
        assert!(i.contains(3.0) && !i.contains(5.0));
    }

    #[test]
    fn t_quantile_continues_smoothly() {
        assert!((t_quantile_975(40) - 2.021).abs() < 1e-3);
        assert!((t_quantile_975(120) - 1.980).abs() < 1e-3);
    }
}
