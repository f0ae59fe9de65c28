//! Closed-form mean waiting times (time in queue, before service starts), in seconds.
//!
//! Each returns `None` when the queue is unstable (ρ ≥ 1) or a parameter is not a positive
//! finite number. Sources: <https://en.wikipedia.org/wiki/M/M/1_queue>,
//! <https://en.wikipedia.org/wiki/M/D/1_queue>, <https://en.wikipedia.org/wiki/M/M/c_queue> and
//! <https://en.wikipedia.org/wiki/Pollaczek%E2%80%93Khinchine_formula>.

use leaklab_base::dist::Dist;

fn ok(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// M/M/1: Wq = ρ / (μ − λ), with μ = 1 / mean service time and ρ = λ/μ.
pub fn mm1_mean_wait(lambda: f64, mean_service: f64) -> Option<f64> {
    if !ok(lambda) || !ok(mean_service) {
        return None;
    }
    let mu = 1.0 / mean_service;
    let rho = lambda / mu;
    (rho < 1.0).then(|| rho / (mu - lambda))
}

/// M/D/1 (Pollaczek–Khinchine with E\[S²\] = d²): Wq = ρ·d / (2(1 − ρ)).
pub fn md1_mean_wait(lambda: f64, d: f64) -> Option<f64> {
    if !ok(lambda) || !ok(d) {
        return None;
    }
    let rho = lambda * d;
    (rho < 1.0).then(|| rho * d / (2.0 * (1.0 - rho)))
}

/// M/G/1 Pollaczek–Khinchine: Wq = λ·E\[S²\] / (2(1 − ρ)), ρ = λ·E\[S\].
pub fn mg1_mean_wait(lambda: f64, mean: f64, second_moment: f64) -> Option<f64> {
    if !ok(lambda) || !ok(mean) || !ok(second_moment) {
        return None;
    }
    let rho = lambda * mean;
    (rho < 1.0).then(|| lambda * second_moment / (2.0 * (1.0 - rho)))
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue with offered load
/// `a = λ/μ` Erlangs. Computed through the Erlang B recursion
/// B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)), then C = c·B / (c − a·(1 − B)),
/// which is stable for large c (no factorials or powers). `None` unless 0 < a < c.
pub fn erlang_c(servers: u32, a: f64) -> Option<f64> {
    if servers == 0 || !ok(a) || a >= f64::from(servers) {
        return None;
    }
    let mut b = 1.0;
    for k in 1..=servers {
        b = a * b / (f64::from(k) + a * b);
    }
    let c = f64::from(servers);
    Some(c * b / (c - a * (1.0 - b)))
}

/// M/M/c: Wq = C(c, a) / (c·μ − λ).
pub fn mmc_mean_wait(lambda: f64, mean_service: f64, servers: u32) -> Option<f64> {
    if !ok(lambda) || !ok(mean_service) {
        return None;
    }
    let mu = 1.0 / mean_service;
    let pw = erlang_c(servers, lambda / mu)?;
    Some(pw / (f64::from(servers) * mu - lambda))
}

/// The exact closed form for this queue when one exists: M/G/1 (covers M/M/1, M/D/1 and the
/// empirical distribution) through Pollaczek–Khinchine, M/M/c through Erlang C. M/D/c and
/// M/G/c with c > 1 have no simple exact mean and give `None`.
pub fn mean_wait(lambda: f64, service: &Dist, servers: u32) -> Option<f64> {
    match (servers, service) {
        (1, s) => mg1_mean_wait(lambda, s.mean(), s.second_moment()),
        (c, Dist::Exponential { mean }) => mmc_mean_wait(lambda, *mean, c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm1_and_md1_known_values() {
        // ρ = 0.5, mean service 1 s: Wq = 0.5 / (1 - 0.5) = 1 s; M/D/1 half of it.
        assert!((mm1_mean_wait(0.5, 1.0).unwrap() - 1.0).abs() < 1e-12);
        assert!((md1_mean_wait(0.5, 1.0).unwrap() - 0.5).abs() < 1e-12);
        // ρ = 0.9: M/M/1 Wq = 9 s, M/D/1 = 4.5 s.
        assert!((mm1_mean_wait(0.9, 1.0).unwrap() - 9.0).abs() < 1e-9);
        assert!((md1_mean_wait(0.9, 1.0).unwrap() - 4.5).abs() < 1e-9);
        assert_eq!(mm1_mean_wait(1.0, 1.0), None);
        assert_eq!(md1_mean_wait(-1.0, 1.0), None);
    }

    #[test]
    fn pk_reduces_to_mm1_and_md1() {
        let mm1 = mg1_mean_wait(0.7, 1.0, 2.0).unwrap();
        assert!((mm1 - mm1_mean_wait(0.7, 1.0).unwrap()).abs() < 1e-12);
        let md1 = mg1_mean_wait(0.7, 1.0, 1.0).unwrap();
        assert!((md1 - md1_mean_wait(0.7, 1.0).unwrap()).abs() < 1e-12);
    }

    #[test]
    fn erlang_c_known_values() {
        // c = 1: C = ρ.
        assert!((erlang_c(1, 0.6).unwrap() - 0.6).abs() < 1e-12);
        // c = 2, a = 1: C = (a^2/2 · 1/(1-0.5)) / (1 + a + 1) = 1 / 3.
        assert!((erlang_c(2, 1.0).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        // M/M/c with c = 1 equals M/M/1.
        let w = mmc_mean_wait(0.8, 1.0, 1).unwrap();
        assert!((w - mm1_mean_wait(0.8, 1.0).unwrap()).abs() < 1e-12);
        // Large c does not overflow.
        let big = erlang_c(10_000, 9_900.0).unwrap();
        assert!(big > 0.0 && big < 1.0);
        assert_eq!(erlang_c(4, 4.0), None);
        assert_eq!(erlang_c(0, 0.5), None);
    }
}
