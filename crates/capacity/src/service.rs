//! Service times of one signing operation, as [`Dist`] values shared with the simulator (all in
//! seconds).
//!
//! * `deterministic` ([`Dist::Fixed`]): a constant-time device (a TPM doing one ECDSA sign at a
//!   time). Gives the M/D/· queue, whose mean wait is half of M/M/·'s at the same load.
//! * `exponential` ([`Dist::Exponential`]): the M/M/· textbook case; memoryless, a fair model
//!   for a remote service whose latency is dominated by other tenants' load.
//! * `empirical` ([`Dist::Empirical`]): a measured latency distribution given by a few quantiles
//!   (p10, p50, p90, p99, p999 from `leaklab bench signers`), see [`from_quantiles`].
//!
//! Other [`Dist`] variants are accepted too (validated by [`validate`]).

use leaklab_base::dist::Dist;

use super::{positive_at_most, CapacityError, MAX_SERVICE_TIME_S};

/// A constant service time.
pub fn deterministic(seconds: f64) -> Result<Dist, CapacityError> {
    positive_at_most(
        "deterministic service time (s)",
        seconds,
        MAX_SERVICE_TIME_S,
    )
    .map(Dist::Fixed)
}

/// An exponential service time with this mean.
pub fn exponential(mean_s: f64) -> Result<Dist, CapacityError> {
    positive_at_most(
        "exponential mean service time (s)",
        mean_s,
        MAX_SERVICE_TIME_S,
    )
    .map(|mean| Dist::Exponential { mean })
}

/// The queueing name of a service distribution: `deterministic`, `exponential`, `empirical`, …
pub fn kind(d: &Dist) -> &'static str {
    match d {
        Dist::Fixed(_) => "deterministic",
        Dist::Exponential { .. } => "exponential",
        Dist::Empirical { .. } => "empirical",
        Dist::Uniform { .. } => "uniform",
        Dist::LogNormal { .. } => "lognormal",
        Dist::Weibull { .. } => "weibull",
    }
}

/// The `p`-quantile (`p` clamped to \[0, 0.999999\] so that unbounded tails stay finite).
pub fn quantile(d: &Dist, p: f64) -> f64 {
    let p = if p.is_nan() {
        0.5
    } else {
        p.clamp(0.0, 0.999_999)
    };
    d.quantile(p)
}

/// Checks that `d` can drive the queue: valid parameters, a mean in (0, 1 day], finite E\[S²\].
pub fn validate(d: &Dist) -> Result<(), CapacityError> {
    let bad = |m: String| Err(CapacityError::InvalidService(m));
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    match d {
        Dist::Fixed(v) if !ok(*v) => return bad(format!("fixed value {v}")),
        Dist::Uniform { min, max } if !(ok(*min) && ok(*max) && min <= max) => {
            return bad(format!("uniform [{min}, {max}]"))
        }
        Dist::LogNormal { median, sigma } if !(ok(*median) && ok(*sigma)) => {
            return bad(format!("lognormal median {median}, sigma {sigma}"))
        }
        Dist::Weibull { shape, scale } if !(ok(*scale) && shape.is_finite() && *shape > 0.0) => {
            return bad(format!("weibull shape {shape}, scale {scale}"))
        }
        Dist::Empirical { points } => {
            let ordered = points
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1);
            let in_range = points
                .iter()
                .all(|&(x, f)| ok(x) && (0.0..=1.0).contains(&f));
            let ends_at_one = points.last().is_some_and(|p| (p.1 - 1.0).abs() < 1e-9);
            if !(ordered && in_range && ends_at_one) {
                return bad(
                    "empirical points must be (seconds, F) pairs, both non-decreasing, F ending at 1"
                        .into(),
                );
            }
        }
        _ => {}
    }
    let (mean, m2) = (d.mean(), d.second_moment());
    if !(mean.is_finite() && mean > 0.0 && mean <= MAX_SERVICE_TIME_S) {
        return bad(format!(
            "mean {mean} s is not in (0, {MAX_SERVICE_TIME_S}] s"
        ));
    }
    if !m2.is_finite() {
        return bad(format!("{} has no finite second moment", kind(d)));
    }
    Ok(())
}

/// An empirical service time through measured quantiles `(p, seconds)` (p strictly increasing
/// in \[0, 1\], values non-decreasing), as [`Dist::Empirical`] `(x, F)` points:
///
/// * below the first quantile the value is held at it (an atom of mass `p` at the first value);
/// * between quantiles it is linear (each segment uniform between its ends);
/// * above the last quantile it rises linearly to an end value chosen so that the mean equals
///   `mean` (a measured mean carries the tail that the quantiles do not show), capped at `max`
///   and never below the last quantile. Without `mean` the tail stays flat.
pub fn from_quantiles(
    quantiles: &[(f64, f64)],
    mean: Option<f64>,
    max: Option<f64>,
) -> Result<Dist, CapacityError> {
    let bad = |m: String| CapacityError::InvalidService(format!("quantile table: {m}"));
    let Some(&(_, first)) = quantiles.first() else {
        return Err(bad("no points".into()));
    };
    for (i, &(p, v)) in quantiles.iter().enumerate() {
        if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
            return Err(bad(format!("point {i}: probability {p} is not in [0, 1]")));
        }
        if !(v.is_finite() && v >= 0.0) {
            return Err(bad(format!(
                "point {i}: value {v} is not a finite number >= 0"
            )));
        }
        if let Some(&(pp, pv)) = i.checked_sub(1).and_then(|j| quantiles.get(j)) {
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
    if quantiles.iter().all(|&(_, v)| v == 0.0) {
        return Err(bad("all values are zero".into()));
    }
    // (first, 0) then (first, p_first): F jumps at the first value, so `Dist::mean` and
    // `Dist::cdf` agree with the quantile function on the atom.
    let mut points: Vec<(f64, f64)> = std::iter::once((first, 0.0))
        .chain(quantiles.iter().map(|&(p, v)| (v, p)))
        .collect();
    let &(last, p_last) = points.last().unwrap_or(&(first, 0.0));
    if p_last < 1.0 {
        let mut end = last;
        if let Some(mean) = mean {
            if !(mean.is_finite() && mean > 0.0) {
                return Err(bad(format!("mean {mean} is not a finite number > 0")));
            }
            let body = Dist::Empirical {
                points: points.clone(),
            }
            .mean();
            // body + (1 − p_last)·(last + end)/2 = mean
            end = 2.0 * (mean - body) / (1.0 - p_last) - last;
            if let Some(m) = max.filter(|m| m.is_finite()) {
                end = end.min(m);
            }
        }
        points.push((end.max(last), 1.0));
    }
    let d = Dist::Empirical { points };
    validate(&d)?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_table_interpolates_and_holds_ends() {
        let d = from_quantiles(&[(0.1, 1.0), (0.5, 2.0), (0.9, 4.0)], None, None).unwrap();
        assert_eq!(d.quantile(0.0), 1.0);
        assert_eq!(d.quantile(0.05), 1.0);
        assert_eq!(d.quantile(0.3), 1.5);
        assert_eq!(d.quantile(0.7), 3.0);
        assert_eq!(d.quantile(0.95), 4.0);
        // mean = 0.1·1 + 0.4·1.5 + 0.4·3 + 0.1·4
        assert!((d.mean() - 2.3).abs() < 1e-12);
        assert_eq!(d.cdf(0.99), 0.0);
    }

    #[test]
    fn tail_matches_measured_mean() {
        let q = [(0.5, 1.0), (0.9, 2.0)];
        // flat tail: mean = 0.5·1 + 0.4·1.5 + 0.1·2 = 1.3
        let flat = from_quantiles(&q, None, None).unwrap();
        assert!((flat.mean() - 1.3).abs() < 1e-12);
        let d = from_quantiles(&q, Some(1.4), None).unwrap();
        assert!((d.mean() - 1.4).abs() < 1e-12);
        assert!((d.upper_bound() - 4.0).abs() < 1e-9);
        let capped = from_quantiles(&q, Some(1.4), Some(3.0)).unwrap();
        assert_eq!(capped.upper_bound(), 3.0);
        let lower = from_quantiles(&q, Some(1.0), None).unwrap();
        assert_eq!(lower.upper_bound(), 2.0);
        assert!(from_quantiles(&q, Some(f64::NAN), None).is_err());
    }

    #[test]
    fn bad_tables_and_parameters_are_refused() {
        assert!(from_quantiles(&[], None, None).is_err());
        assert!(from_quantiles(&[(0.5, 2.0), (0.4, 3.0)], None, None).is_err());
        assert!(from_quantiles(&[(0.4, 2.0), (0.5, 1.0)], None, None).is_err());
        assert!(from_quantiles(&[(0.5, f64::NAN)], None, None).is_err());
        assert!(from_quantiles(&[(1.5, 1.0)], None, None).is_err());
        assert!(from_quantiles(&[(0.5, 0.0)], None, None).is_err());
        assert!(exponential(0.0).is_err());
        assert!(deterministic(-1.0).is_err());
        assert!(deterministic(f64::INFINITY).is_err());
        assert!(deterministic(1e300).is_err());
        assert!(validate(&Dist::Exponential { mean: f64::NAN }).is_err());
        assert!(validate(&Dist::Empirical {
            points: vec![(1.0, 0.5)]
        })
        .is_err());
    }
}
