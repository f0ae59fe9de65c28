//! Aggregation over replications: one row per strategy × leak × metric with the mean and its
//! 95% confidence interval, and mean containment curves. Pure functions of [`RunResults`].

use super::runner::RunResults;
use super::stats::Interval;

/// One metric of one strategy × leak over the replications.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub strategy: String,
    pub leak: String,
    pub metric: &'static str,
    pub interval: Interval,
}

/// Every metric of every strategy × leak, in scenario order.
pub fn summarize(results: &RunResults) -> Vec<SummaryRow> {
    let sc = &results.scenario;
    let mut rows = Vec::new();
    for (l, leak) in sc.leaks.iter().enumerate() {
        for (s, strategy) in sc.strategies.iter().enumerate() {
            let per_rep: Vec<Vec<(&'static str, f64)>> = results
                .replications_of(s, l)
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
                    metric,
                    interval: Interval::of(&values),
                });
            }
        }
    }
    rows
}

/// Looks a row up.
pub fn find<'a>(
    rows: &'a [SummaryRow],
    strategy: &str,
    leak: &str,
    metric: &str,
) -> Option<&'a SummaryRow> {
    rows.iter()
        .find(|r| r.strategy == strategy && r.leak == leak && r.metric == metric)
}

/// Containment curve of one strategy × leak: per grid time, the mean share still exploitable and
/// its 95% interval over replications.
pub fn containment(results: &RunResults, strategy: usize, leak: usize) -> Vec<(f64, Interval)> {
    let curves: Vec<Vec<f64>> = results
        .replications_of(strategy, leak)
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
