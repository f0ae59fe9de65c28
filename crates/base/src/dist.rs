//! Probability distributions for delays, lifetimes and cache ages (all in seconds).
//!
//! Sampling is by inversion wherever a closed-form quantile exists, so each draw consumes a
//! fixed number of uniforms from its stream (this keeps common random numbers aligned).

use crate::rng::Rng;

/// A distribution of non-negative durations (seconds).
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always `value`.
    Fixed(f64),
    /// Uniform on `[min, max]`.
    Uniform { min: f64, max: f64 },
    /// Exponential with the given mean.
    Exponential { mean: f64 },
    /// Lognormal given by its median `exp(mu)` and the log-space standard deviation `sigma`.
    LogNormal { median: f64, sigma: f64 },
    /// Weibull with `shape` k and `scale` λ: F(x) = 1 − exp(−(x/λ)^k).
    Weibull { shape: f64, scale: f64 },
    /// An empirical CDF: points `(x, F(x))` with x and F non-decreasing, F ending at 1;
    /// F is interpolated linearly and is 0 below the first point's x if that point's F is 0,
    /// otherwise the first point carries an atom.
    Empirical { points: Vec<(f64, f64)> },
}

impl std::fmt::Display for Dist {
    /// A duration-valued distribution in words (reports).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::duration::format_duration as d;
        match self {
            Dist::Fixed(x) => write!(f, "{}", d(*x)),
            Dist::Uniform { min, max } => write!(f, "uniform {} – {}", d(*min), d(*max)),
            Dist::Exponential { mean } => write!(f, "exponential, mean {}", d(*mean)),
            Dist::LogNormal { median, sigma } => {
                write!(f, "lognormal, median {}, σ {sigma}", d(*median))
            }
            Dist::Weibull { shape, scale } => {
                write!(f, "Weibull, shape {shape}, scale {}", d(*scale))
            }
            Dist::Empirical { points } => write!(
                f,
                "empirical: {}",
                points
                    .iter()
                    .map(|(x, p)| format!("{} ≤ {p}", d(*x)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

impl Dist {
    /// Draws one value.
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        let u = rng.uniform();
        self.quantile(u)
    }

    /// The quantile function F⁻¹(u) for u in [0, 1).
    pub fn quantile(&self, u: f64) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform { min, max } => min + (max - min) * u,
            Dist::Exponential { mean } => -mean * (1.0 - u).ln(),
            Dist::LogNormal { median, sigma } => median * (sigma * normal_quantile(u)).exp(),
            Dist::Weibull { shape, scale } => scale * (-(1.0 - u).ln()).powf(1.0 / shape),
            Dist::Empirical { points } => empirical_quantile(points, u),
        }
    }

    /// The CDF F(x) (used by tests against closed forms).
    pub fn cdf(&self, x: f64) -> f64 {
        if x < 0.0 {
            return 0.0;
        }
        match self {
            Dist::Fixed(v) => f64::from(u8::from(x >= *v)),
            Dist::Uniform { min, max } => {
                if x < *min {
                    0.0
                } else if x >= *max {
                    1.0
                } else {
                    (x - min) / (max - min)
                }
            }
            Dist::Exponential { mean } => 1.0 - (-x / mean).exp(),
            Dist::LogNormal { median, sigma } => {
                if x <= 0.0 {
                    0.0
                } else {
                    normal_cdf((x / median).ln() / sigma)
                }
            }
            Dist::Weibull { shape, scale } => 1.0 - (-(x / scale).powf(*shape)).exp(),
            Dist::Empirical { points } => {
                let mut prev = (0.0, 0.0);
                for &(px, pf) in points {
                    if x < px {
                        if px == prev.0 {
                            return prev.1;
                        }
                        return prev.1 + (pf - prev.1) * (x - prev.0) / (px - prev.0);
                    }
                    prev = (px, pf);
                }
                1.0
            }
        }
    }

    /// The mean (used for sanity checks and reports).
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform { min, max } => (min + max) / 2.0,
            Dist::Exponential { mean } => *mean,
            Dist::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Dist::Weibull { shape, scale } => scale * gamma(1.0 + 1.0 / shape),
            Dist::Empirical { points } => {
                let mut mean = 0.0;
                let mut prev = (0.0, 0.0);
                for &(x, f) in points {
                    mean += (f - prev.1) * (x + prev.0) / 2.0;
                    prev = (x, f);
                }
                mean
            }
        }
    }

    /// Largest value the distribution can produce (infinite for unbounded ones).
    pub fn upper_bound(&self) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Uniform { max, .. } => *max,
            Dist::Empirical { points } => points.last().map_or(0.0, |p| p.0),
            _ => f64::INFINITY,
        }
    }

    /// E\[X²\] (the Pollaczek–Khinchine mean wait of an M/G/1 queue needs it). Empirical
    /// segments are uniform between their ends, as in [`Dist::mean`].
    pub fn second_moment(&self) -> f64 {
        match self {
            Dist::Fixed(v) => v * v,
            Dist::Uniform { min, max } => (min * min + min * max + max * max) / 3.0,
            Dist::Exponential { mean } => 2.0 * mean * mean,
            Dist::LogNormal { median, sigma } => median * median * (2.0 * sigma * sigma).exp(),
            Dist::Weibull { shape, scale } => scale * scale * gamma(1.0 + 2.0 / shape),
            Dist::Empirical { points } => {
                let mut m2 = 0.0;
                let mut prev = (0.0, 0.0);
                for &(x, f) in points {
                    m2 += (f - prev.1) * (prev.0 * prev.0 + prev.0 * x + x * x) / 3.0;
                    prev = (x, f);
                }
                m2
            }
        }
    }

    /// The same distribution with every value multiplied by `factor` (e.g. a service time
    /// rescaled to another mean).
    pub fn scaled(&self, factor: f64) -> Dist {
        match self {
            Dist::Fixed(v) => Dist::Fixed(v * factor),
            Dist::Uniform { min, max } => Dist::Uniform {
                min: min * factor,
                max: max * factor,
            },
            Dist::Exponential { mean } => Dist::Exponential {
                mean: mean * factor,
            },
            Dist::LogNormal { median, sigma } => Dist::LogNormal {
                median: median * factor,
                sigma: *sigma,
            },
            Dist::Weibull { shape, scale } => Dist::Weibull {
                shape: *shape,
                scale: scale * factor,
            },
            Dist::Empirical { points } => Dist::Empirical {
                points: points.iter().map(|&(x, f)| (x * factor, f)).collect(),
            },
        }
    }
}

fn empirical_quantile(points: &[(f64, f64)], u: f64) -> f64 {
    let mut prev = (points.first().map_or(0.0, |p| p.0), 0.0);
    for &(x, f) in points {
        if u < f {
            if f <= prev.1 {
                return x;
            }
            return prev.0 + (x - prev.0) * (u - prev.1) / (f - prev.1);
        }
        prev = (x, f);
    }
    prev.0
}

/// Standard normal quantile (Acklam's rational approximation, relative error below 1.15e-9;
/// <https://web.archive.org/web/20151030215612/http://home.online.no/~pjacklam/notes/invnorm/>).
// The coefficients are kept digit for digit as published, so they can be checked against the
// source; the surplus digits round to the same f64.
#[allow(clippy::excessive_precision)]
pub fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.383577518672690e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-03,
        3.224671290700398e-01,
        2.445134137142996e+00,
        3.754408661907416e+00,
    ];
    let plow = 0.02425;
    if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// Standard normal CDF via erfc.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function (W. J. Cody's rational Chebyshev approximation as given in
/// Numerical Recipes `erfcc`, fractional error < 1.2e-7) — enough for CDF checks.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Lanczos approximation of Γ(x) for x > 0.
fn gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma(1.0 - x))
    } else {
        let x = x - 1.0;
        let mut a = G[0];
        let t = x + 7.5;
        for (i, g) in G.iter().enumerate().skip(1) {
            a += g / (x + i as f64);
        }
        (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
    }
}

/// A Poisson variate with mean `lambda`: inversion for small means, PTRS (Hörmann 1993,
/// "The transformed rejection method for generating Poisson random variables") otherwise.
pub fn poisson(rng: &mut Rng, lambda: f64) -> u64 {
    if lambda <= 0.0 || !lambda.is_finite() {
        return 0;
    }
    if lambda < 10.0 {
        let l = (-lambda).exp();
        let mut k = 0u64;
        let mut p = rng.uniform_open0();
        while p > l {
            k += 1;
            p *= rng.uniform_open0();
        }
        return k;
    }
    let slam = lambda.sqrt();
    let loglam = lambda.ln();
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let invalpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = rng.uniform() - 0.5;
        let v = rng.uniform();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + lambda + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k as u64;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if (v * invalpha / (a / (us * us) + b)).ln() <= -lambda + k * loglam - ln_factorial(k) {
            return k as u64;
        }
    }
}

fn ln_factorial(k: f64) -> f64 {
    // Stirling series; exact enough for k >= 10, tabulated below.
    if k < 10.0 {
        let mut f = 1.0;
        let mut i = 2.0;
        while i <= k {
            f *= i;
            i += 1.0;
        }
        return f64::ln(f);
    }
    let x = k + 1.0;
    (x - 0.5) * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x.powi(3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn sample_mean(d: &Dist, n: usize) -> f64 {
        let mut r = Rng::stream(9, 0, 3, 0);
        (0..n).map(|_| d.sample(&mut r)).sum::<f64>() / n as f64
    }

    #[test]
    fn means_match_closed_forms() {
        let cases = [
            Dist::Exponential { mean: 5.0 },
            Dist::LogNormal {
                median: 2.0,
                sigma: 0.5,
            },
            Dist::Weibull {
                shape: 1.5,
                scale: 3.0,
            },
            Dist::Uniform { min: 1.0, max: 3.0 },
            Dist::Empirical {
                points: vec![(0.0, 0.0), (10.0, 0.5), (20.0, 1.0)],
            },
        ];
        for d in cases {
            let m = sample_mean(&d, 400_000);
            assert!(
                (m - d.mean()).abs() / d.mean() < 0.01,
                "{d:?}: {m} vs {}",
                d.mean()
            );
        }
    }

    #[test]
    fn second_moments_match_samples_and_scale() {
        let cases = [
            Dist::Fixed(2.0),
            Dist::Exponential { mean: 5.0 },
            Dist::LogNormal {
                median: 2.0,
                sigma: 0.5,
            },
            Dist::Weibull {
                shape: 1.5,
                scale: 3.0,
            },
            Dist::Uniform { min: 1.0, max: 3.0 },
            // An atom of 0.1 at 1.0, then linear segments.
            Dist::Empirical {
                points: vec![(1.0, 0.0), (1.0, 0.1), (2.0, 0.5), (4.0, 1.0)],
            },
        ];
        for d in cases {
            let mut r = Rng::stream(9, 0, 5, 0);
            let n = 400_000;
            let m2 = (0..n).map(|_| d.sample(&mut r).powi(2)).sum::<f64>() / n as f64;
            let exact = d.second_moment();
            assert!((m2 - exact).abs() / exact < 0.02, "{d:?}: {m2} vs {exact}");
            let s = d.scaled(3.0);
            assert!(
                (s.mean() - 3.0 * d.mean()).abs() < 1e-9 * d.mean().max(1.0),
                "{d:?}"
            );
            assert!(
                (s.second_moment() - 9.0 * exact).abs() < 1e-9 * exact.max(1.0),
                "{d:?}"
            );
        }
    }

    #[test]
    fn quantile_inverts_cdf() {
        let d = Dist::LogNormal {
            median: 100.0,
            sigma: 1.2,
        };
        for u in [0.01, 0.1, 0.5, 0.9, 0.99] {
            assert!((d.cdf(d.quantile(u)) - u).abs() < 1e-6);
        }
        assert!((normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-8);
    }

    #[test]
    fn poisson_mean_and_variance() {
        let mut r = Rng::stream(5, 0, 4, 0);
        for lambda in [0.5, 3.0, 40.0, 5000.0] {
            let n = 100_000;
            let xs: Vec<f64> = (0..n).map(|_| poisson(&mut r, lambda) as f64).collect();
            let m = xs.iter().sum::<f64>() / n as f64;
            let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
            assert!((m - lambda).abs() / lambda < 0.02, "mean {m} for {lambda}");
            assert!((v - lambda).abs() / lambda < 0.05, "var {v} for {lambda}");
        }
    }
}
