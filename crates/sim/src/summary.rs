//! Aggregation over replications: one row per strategy × leak × attacker policy × metric with the
//! mean and its 95% confidence interval, and mean containment curves. Pure functions of
//! [`RunResults`].

use super::runner::RunResults;
use super::stats::Interval;

/// One metric of one strategy × leak over the replications.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub strategy: String,
    pub leak: String,
    pub attacker: &'static str,
    pub metric: &'static str,
    pub interval: Interval,
}

/// Every metric of every strategy × leak, in scenario order.
pub fn summarize(results: &RunResults) -> Vec<SummaryRow> {
    let sc = &results.scenario;
    let mut rows = Vec::new();
    for (l, leak) in sc.leaks.iter().enumerate() {
        for (s, strategy) in sc.strategies.iter().enumerate() {
            for (a, policy) in sc.attacker.policies.iter().enumerate() {
                let per_rep: Vec<Vec<(&'static str, f64)>> = results
                    .replications_of(s, l, a)
                    .map(|c| c.acc.metrics())
                    .collect();
                let Some(first) = per_rep.first() else {
                    continue;
                };
                for (i, (metric, _)) in first.iter().enumerate() {
                    let values: Vec<f64> = per_rep.iter().map(|m| m[i].1).collect();
                    rows.push(SummaryRow {
                        strategy: strategy.name.clone(),
                        leak: leak.name.clone(),
                        attacker: policy.name(),
                        metric,
                        interval: Interval::of(&values),
                    });
                }
            }
        }
    }
    rows
}

/// Looks a row up for the headline attacker policy (the scenario's first: rows list it first).
pub fn find<'a>(
    rows: &'a [SummaryRow],
    strategy: &str,
    leak: &str,
    metric: &str,
) -> Option<&'a SummaryRow> {
    rows.iter()
        .find(|r| r.strategy == strategy && r.leak == leak && r.metric == metric)
}

/// Looks a row up for one attacker policy.
pub fn find_for<'a>(
    rows: &'a [SummaryRow],
    strategy: &str,
    leak: &str,
    attacker: &str,
    metric: &str,
) -> Option<&'a SummaryRow> {
    rows.iter().find(|r| {
        r.strategy == strategy && r.leak == leak && r.attacker == attacker && r.metric == metric
    })
}

/// Containment curve of one strategy × leak × attacker policy: per grid time, the mean share
/// still exploitable and its 95% interval over replications.
pub fn containment(
    results: &RunResults,
    strategy: usize,
    leak: usize,
    attacker: usize,
) -> Vec<(f64, Interval)> {
    let curves: Vec<Vec<f64>> = results
        .replications_of(strategy, leak, attacker)
        .map(|c| c.acc.containment())
        .collect();
    results
        .grid
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                *t,
                Interval::of(&curves.iter().map(|c| c[i]).collect::<Vec<_>>()),
            )
        })
        .collect()
}
