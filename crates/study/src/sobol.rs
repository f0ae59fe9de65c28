//! Variance-based sensitivity: first-order and total Sobol indices from a Saltelli design, with
//! bootstrap confidence intervals.
//!
//! Estimators (Saltelli et al. 2010, "Variance based sensitivity analysis of model output",
//! Computer Physics Communications 181, https://doi.org/10.1016/j.cpc.2009.09.018): with f_A,
//! f_B and f_ABi the outputs at the rows of A, B and A-with-column-i-from-B,
//! S_i = mean(f_B · (f_ABi − f_A)) / V and (Jansen) S_Ti = mean((f_A − f_ABi)²) / (2V),
//! V the variance of f_A and f_B together.

use leaklab_base::rng::Rng;

/// One parameter's indices and their 95% bootstrap intervals.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SobolIndex {
    pub first: f64,
    pub first_low: f64,
    pub first_high: f64,
    pub total: f64,
    pub total_low: f64,
    pub total_high: f64,
}

/// The outputs of a Saltelli design, read back in point order (see `design::saltelli`):
/// per base row, f_A, f_B, then f_ABi for each of `k` parameters.
pub struct SaltelliLayout {
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    /// `ab[i][j]`: parameter i, base row j.
    pub ab: Vec<Vec<f64>>,
}

impl SaltelliLayout {
    /// Splits outputs in point order; `None` unless `outputs.len()` is a multiple of k + 2.
    pub fn from_point_order(outputs: &[f64], k: usize) -> Option<SaltelliLayout> {
        let stride = k + 2;
        if outputs.is_empty() || outputs.len() % stride != 0 {
            return None;
        }
        let n = outputs.len() / stride;
        let row = |j: usize, m: usize| outputs[j * stride + m];
        Some(SaltelliLayout {
            a: (0..n).map(|j| row(j, 0)).collect(),
            b: (0..n).map(|j| row(j, 1)).collect(),
            ab: (0..k)
                .map(|i| (0..n).map(|j| row(j, 2 + i)).collect())
                .collect(),
        })
    }
}

fn estimate(l: &SaltelliLayout, rows: &[usize]) -> Vec<(f64, f64)> {
    let n = rows.len() as f64;
    let all = rows.iter().flat_map(|&j| [l.a[j], l.b[j]]);
    let mean = all.clone().sum::<f64>() / (2.0 * n);
    let var = all.map(|x| (x - mean).powi(2)).sum::<f64>() / (2.0 * n - 1.0);
    l.ab.iter()
        .map(|abi| {
            if var <= 0.0 {
                return (0.0, 0.0);
            }
            let first = rows
                .iter()
                .map(|&j| l.b[j] * (abi[j] - l.a[j]))
                .sum::<f64>()
                / n
                / var;
            let total =
                rows.iter().map(|&j| (l.a[j] - abi[j]).powi(2)).sum::<f64>() / (2.0 * n) / var;
            (first, total)
        })
        .collect()
}

/// First-order and total indices per parameter, with percentile intervals from `resamples`
/// bootstrap resamples of the base rows (seeded: the same inputs give the same intervals).
pub fn indices(layout: &SaltelliLayout, resamples: usize, seed: u64) -> Vec<SobolIndex> {
    let n = layout.a.len();
    let all: Vec<usize> = (0..n).collect();
    let point = estimate(layout, &all);
    let mut rng = Rng::stream(seed, 0, 0x50B0_1B00_7000_0000, 0);
    let mut boot: Vec<Vec<(f64, f64)>> = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let rows: Vec<usize> = (0..n)
            .map(|_| ((rng.uniform() * n as f64) as usize).min(n - 1))
            .collect();
        boot.push(estimate(layout, &rows));
    }
    let pct = |mut v: Vec<f64>, q: f64| {
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)]
    };
    point
        .iter()
        .enumerate()
        .map(|(i, &(first, total))| {
            let f: Vec<f64> = boot.iter().map(|b| b[i].0).collect();
            let t: Vec<f64> = boot.iter().map(|b| b[i].1).collect();
            SobolIndex {
                first,
                first_low: pct(f.clone(), 0.025),
                first_high: pct(f, 0.975),
                total,
                total_low: pct(t.clone(), 0.025),
                total_high: pct(t, 0.975),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::design::points;
    use crate::spec::{Design, Domain, Parameter, Scale, SweepSpec};
    use std::f64::consts::PI;

    /// The Ishigami function (a = 7, b = 0.1) has known indices (Sobol' & Levitan 1999):
    /// S1 = 0.3139, S2 = 0.4424, S3 = 0; ST1 = 0.5576, ST2 = 0.4424, ST3 = 0.2437.
    #[test]
    fn ishigami_indices_are_recovered() {
        let param = |key: &str| Parameter {
            key: key.into(),
            domain: Domain::Range {
                min: -PI,
                max: PI,
                scale: Scale::Linear,
                integer: false,
            },
            balance: None,
        };
        let spec = SweepSpec {
            design: Design::Saltelli { base: 20_000 },
            parameters: vec![param("x.1"), param("x.2"), param("x.3")],
            seed: 3,
            replications: None,
            customers: None,
            metric: "f".into(),
            scenario: None,
            claims: false,
        };
        let f: Vec<f64> = points(&spec)
            .iter()
            .map(|p| {
                let x = &p.numeric;
                x[0].sin() + 7.0 * x[1].sin().powi(2) + 0.1 * x[2].powi(4) * x[0].sin()
            })
            .collect();
        let layout = SaltelliLayout::from_point_order(&f, 3).expect("layout");
        let s = indices(&layout, 100, 1);
        let expect_first = [0.3139, 0.4424, 0.0];
        let expect_total = [0.5576, 0.4424, 0.2437];
        for i in 0..3 {
            assert!(
                (s[i].first - expect_first[i]).abs() < 0.03,
                "S{}: {:?}",
                i + 1,
                s[i]
            );
            assert!(
                (s[i].total - expect_total[i]).abs() < 0.03,
                "ST{}: {:?}",
                i + 1,
                s[i]
            );
            assert!(s[i].first_low <= s[i].first && s[i].first <= s[i].first_high);
            assert!(s[i].total_low <= s[i].total && s[i].total <= s[i].total_high);
        }
    }
}
