//! The points of a sweep design, each a value per parameter, and each point's seed.
//!
//! Everything is a pure function of the [`SweepSpec`]: any shard computes the same point `i`
//! with the same seed, so the union of shards equals an unsharded run.

use leaklab_base::rng::{splitmix64, Rng};

use super::spec::{Design, Domain, Parameter, Scale, SweepSpec};

/// One point of the design.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub index: u64,
    /// The seed of this point's simulation: a mix of the sweep seed and the index.
    pub seed: u64,
    /// Per parameter, the value written into the scenario.
    pub values: Vec<toml::Value>,
    /// Per parameter, the value as a number for analysis (a list value's position when it is
    /// not a number or a duration).
    pub numeric: Vec<f64>,
}

/// The seed of point `index` of a sweep with `seed`.
pub fn point_seed(seed: u64, index: u64) -> u64 {
    let mut s = seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    splitmix64(&mut s) >> 1 // scenarios take seeds up to i64::MAX
}

/// Every point of the design, in index order.
pub fn points(spec: &SweepSpec) -> Vec<Point> {
    let k = spec.parameters.len();
    let unit: Vec<Vec<f64>> = match spec.design {
        Design::Grid { levels } => grid(&spec.parameters, levels),
        Design::LatinHypercube { points } => latin_hypercube(points, k, spec.seed),
        Design::Saltelli { base } => saltelli(base, k, spec.seed),
    };
    unit.into_iter()
        .enumerate()
        .map(|(i, u)| {
            let (values, numeric) = spec
                .parameters
                .iter()
                .zip(&u)
                .map(|(p, &x)| value_at(p, x))
                .unzip();
            Point {
                index: i as u64,
                seed: point_seed(spec.seed, i as u64),
                values,
                numeric,
            }
        })
        .collect()
}

/// The value of parameter `p` at position `u` in [0, 1] (grid positions hit the ends).
fn value_at(p: &Parameter, u: f64) -> (toml::Value, f64) {
    match &p.domain {
        Domain::Range {
            min,
            max,
            scale,
            integer,
        } => {
            let x = match scale {
                Scale::Linear => min + u * (max - min),
                Scale::Log => (min.ln() + u * (max.ln() - min.ln())).exp(),
            }
            .clamp(*min, *max);
            if *integer {
                let r = x.round();
                (toml::Value::Integer(r as i64), r)
            } else {
                (toml::Value::Float(x), x)
            }
        }
        Domain::Values(values) => {
            let i = ((u * values.len() as f64) as usize).min(values.len() - 1);
            let v = values[i].clone();
            let numeric = match &v {
                toml::Value::Integer(n) => *n as f64,
                toml::Value::Float(f) => *f,
                toml::Value::String(s) => leaklab_base::duration::parse_duration(
                    s,
                    leaklab_base::duration::Policy::BareSecondsAllowed,
                )
                .unwrap_or(i as f64),
                toml::Value::Boolean(b) => f64::from(u8::from(*b)),
                _ => i as f64,
            };
            (v, numeric)
        }
    }
}

/// Grid positions: ranges at `levels` evenly spaced positions, lists at their elements' centres;
/// the first parameter varies slowest.
fn grid(parameters: &[Parameter], levels: usize) -> Vec<Vec<f64>> {
    let axes: Vec<Vec<f64>> = parameters
        .iter()
        .map(|p| match &p.domain {
            Domain::Range { .. } => (0..levels)
                .map(|i| i as f64 / (levels - 1) as f64)
                .collect(),
            Domain::Values(v) => (0..v.len())
                .map(|i| (i as f64 + 0.5) / v.len() as f64)
                .collect(),
        })
        .collect();
    let mut out = vec![Vec::new()];
    for axis in &axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                axis.iter().map(move |x| {
                    let mut p = prefix.clone();
                    p.push(*x);
                    p
                })
            })
            .collect();
    }
    out
}

fn design_rng(seed: u64, which: u64) -> Rng {
    Rng::stream(seed, 0, 0x5EED_DE51_6000_0000 ^ which, 0)
}

/// Latin hypercube: per dimension, a random permutation of `n` strata, uniform within each.
fn latin_hypercube(n: usize, k: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = design_rng(seed, 1);
    let mut columns = Vec::with_capacity(k);
    for _ in 0..k {
        let mut strata: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (rng.uniform() * (i + 1) as f64) as usize;
            strata.swap(i, j.min(i));
        }
        columns.push(
            strata
                .into_iter()
                .map(|s| (s as f64 + rng.uniform()) / n as f64)
                .collect::<Vec<f64>>(),
        );
    }
    (0..n)
        .map(|i| columns.iter().map(|c| c[i]).collect())
        .collect()
}

/// Saltelli's scheme: for each base row j, the points A_j, B_j, then A_j with column i from B_j
/// for each parameter i. [`crate::sobol::SaltelliLayout`] reads results back in this order.
fn saltelli(base: usize, k: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = design_rng(seed, 2);
    let mut out = Vec::with_capacity(base * (k + 2));
    for _ in 0..base {
        let a: Vec<f64> = (0..k).map(|_| rng.uniform()).collect();
        let b: Vec<f64> = (0..k).map(|_| rng.uniform()).collect();
        out.push(a.clone());
        out.push(b.clone());
        for i in 0..k {
            let mut ab = a.clone();
            ab[i] = b[i];
            out.push(ab);
        }
    }
    out
}

/// Which points belong to shard `index` of `count`: every `count`-th point from `index`, so each
/// shard gets an even share of every region of the design.
pub fn in_shard(point: u64, index: u64, count: u64) -> bool {
    point % count == index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(min: f64, max: f64) -> Parameter {
        Parameter {
            key: "a.b".into(),
            domain: Domain::Range {
                min,
                max,
                scale: Scale::Linear,
                integer: false,
            },
            balance: None,
        }
    }

    #[test]
    fn latin_hypercube_hits_each_stratum_once() {
        let pts = latin_hypercube(50, 3, 9);
        for d in 0..3 {
            let mut strata: Vec<usize> = pts.iter().map(|p| (p[d] * 50.0) as usize).collect();
            strata.sort_unstable();
            assert_eq!(strata, (0..50).collect::<Vec<_>>());
        }
    }

    #[test]
    fn grid_is_the_cartesian_product_with_ends() {
        let spec = SweepSpec {
            design: Design::Grid { levels: 3 },
            parameters: vec![range(0.0, 10.0), range(1.0, 2.0)],
            seed: 1,
            replications: None,
            customers: None,
            metric: "m".into(),
            scenario: None,
            claims: false,
        };
        let p = points(&spec);
        assert_eq!(p.len(), 9);
        assert_eq!(p[0].numeric, vec![0.0, 1.0]);
        assert_eq!(p[8].numeric, vec![10.0, 2.0]);
        assert_eq!(p[3].numeric, vec![5.0, 1.0]);
    }

    #[test]
    fn saltelli_rows_share_a_and_b() {
        let s = saltelli(4, 3, 5);
        assert_eq!(s.len(), 4 * 5);
        let (a, b, ab1) = (&s[0], &s[1], &s[3]);
        assert_eq!(ab1[0], a[0]);
        assert_eq!(ab1[1], b[1]);
        assert_eq!(ab1[2], a[2]);
    }
}
