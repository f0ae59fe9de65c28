//! Robust verdicts: a claim judged at every point of a parameter study, summarised as the share
//! of the parameter space in which it holds, the parameters that decide it, and the boundary.

/// The verdict of one claim at one point, with the point's parameter values.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub numeric: Vec<f64>,
    pub holds: bool,
}

/// How strongly one parameter decides the verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Influence {
    pub parameter: String,
    /// Rank (Spearman-type) correlation between the parameter and the verdict (1 = holds):
    /// positive when the claim holds more often for larger values.
    pub correlation: f64,
}

/// The single-parameter threshold that best separates the points where the claim holds from
/// those where it fails (a decision stump).
#[derive(Clone, Debug, PartialEq)]
pub struct Boundary {
    pub parameter: String,
    pub threshold: f64,
    /// The claim holds above the threshold (else below).
    pub holds_above: bool,
    /// Share of points the threshold classifies correctly.
    pub accuracy: f64,
}

/// One claim over the whole study.
#[derive(Clone, Debug, PartialEq)]
pub struct RobustVerdict {
    pub points: usize,
    pub holds: usize,
    /// Share of points where it holds, with a 95% Wilson interval.
    pub share: f64,
    pub share_low: f64,
    pub share_high: f64,
    /// Parameters by decreasing |correlation|.
    pub influences: Vec<Influence>,
    /// `None` when the claim holds everywhere or nowhere.
    pub boundary: Option<Boundary>,
}

/// Wilson score interval at 95% for `k` successes in `n` trials.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.959_963_984_540_054);
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt() / (1.0 + z * z / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    if vx <= 0.0 || vy <= 0.0 {
        0.0
    } else {
        cov / (vx * vy).sqrt()
    }
}

/// Summarises one claim's verdicts over the points; `names` are the parameters' keys.
pub fn summarize(names: &[String], judged: &[Judged]) -> RobustVerdict {
    let n = judged.len();
    let holds = judged.iter().filter(|j| j.holds).count();
    let (share_low, share_high) = wilson(holds, n);
    let y: Vec<f64> = judged
        .iter()
        .map(|j| f64::from(u8::from(j.holds)))
        .collect();
    let mut influences: Vec<Influence> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let x: Vec<f64> = judged.iter().map(|j| j.numeric[i]).collect();
            Influence {
                parameter: name.clone(),
                correlation: correlation(&ranks(&x), &y),
            }
        })
        .collect();
    influences.sort_by(|a, b| {
        b.correlation
            .abs()
            .total_cmp(&a.correlation.abs())
            .then(a.parameter.cmp(&b.parameter))
    });
    let boundary = (holds > 0 && holds < n)
        .then(|| best_stump(names, judged))
        .flatten();
    RobustVerdict {
        points: n,
        holds,
        share: if n == 0 { 0.0 } else { holds as f64 / n as f64 },
        share_low,
        share_high,
        influences,
        boundary,
    }
}

/// The threshold on one parameter that classifies the most points correctly (ties: the first
/// parameter, then the lower threshold).
fn best_stump(names: &[String], judged: &[Judged]) -> Option<Boundary> {
    let n = judged.len();
    let mut best: Option<Boundary> = None;
    for (i, name) in names.iter().enumerate() {
        let mut order: Vec<&Judged> = judged.iter().collect();
        order.sort_by(|a, b| a.numeric[i].total_cmp(&b.numeric[i]));
        let total_holds = order.iter().filter(|j| j.holds).count();
        let mut holds_below = 0;
        for cut in 1..n {
            holds_below += usize::from(order[cut - 1].holds);
            let (lo, hi) = (order[cut - 1].numeric[i], order[cut].numeric[i]);
            if lo == hi {
                continue;
            }
            let fails_below = cut - holds_below;
            let holds_above = total_holds - holds_below;
            // Holds above: correct = fails below + holds above; holds below: the complement.
            let above = (fails_below + holds_above) as f64 / n as f64;
            let (accuracy, holds_above_cut) = if above >= 0.5 {
                (above, true)
            } else {
                (1.0 - above, false)
            };
            if best.as_ref().is_none_or(|b| accuracy > b.accuracy) {
                best = Some(Boundary {
                    parameter: name.clone(),
                    threshold: (lo + hi) / 2.0,
                    holds_above: holds_above_cut,
                    accuracy,
                });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_threshold_claim_is_found_with_its_boundary() {
        // Holds when x > 0.6, whatever y.
        let judged: Vec<Judged> = (0..100)
            .map(|i| {
                let x = i as f64 / 100.0;
                let y = ((i * 37) % 100) as f64;
                Judged {
                    numeric: vec![y, x],
                    holds: x > 0.6,
                }
            })
            .collect();
        let v = summarize(&["y".into(), "x".into()], &judged);
        assert_eq!(v.holds, 39);
        assert!(v.share_low < 0.39 && 0.39 < v.share_high);
        assert_eq!(v.influences[0].parameter, "x");
        let b = v.boundary.expect("boundary");
        assert_eq!(b.parameter, "x");
        assert!(b.holds_above && (b.threshold - 0.605).abs() < 1e-9 && b.accuracy == 1.0);
    }

    #[test]
    fn wilson_interval_contains_the_share() {
        let (lo, hi) = wilson(0, 20);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.1 && hi < 0.2);
    }
}
