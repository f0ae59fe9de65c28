//! What a run's outputs show, computed once from the results: the summary rows, the
//! containment curves and the charts drawn from them, the judged claims and the device
//! capacities. The files ([`crate::run_output`]) and the page ([`crate::run_page`]) only format it.

use leaklab_capacity::builtin_profiles;
use leaklab_claims::{evaluate, Claim, ClaimsError};
use leaklab_sim::runner::RunResults;
use leaklab_sim::stats::Interval;
use leaklab_sim::summary::{containment, find_for, summarize, SummaryRow};

use crate::chart::{BarChart, LineChart, Series, TableView};
use crate::format::duration;

/// The containment curve of one strategy and attacker policy (of one leak).
#[derive(Clone, Debug)]
pub(crate) struct Curve {
    pub strategy: String,
    pub attacker: String,
    /// (seconds after the leak, share still exploitable)
    pub points: Vec<(f64, Interval)>,
}

/// The two charts of one leak's curves, one series per strategy × attacker policy.
pub(crate) struct LeakCharts {
    pub containment: LineChart,
    pub ttd_cdf: LineChart,
}

/// A run's results, summarised, judged and charted.
pub(crate) struct RunReport<'a> {
    pub results: &'a RunResults,
    pub rows: Vec<SummaryRow>,
    /// Per leak, per strategy then attacker policy.
    pub curves: Vec<Vec<Curve>>,
    /// Per leak.
    pub charts: Vec<LeakCharts>,
    /// Legitimate device signatures per second per strategy (those that sign on a device),
    /// against the capacity of each device of the scenario.
    pub signing: BarChart,
    pub claims: Result<Vec<Claim>, ClaimsError>,
}

impl<'a> RunReport<'a> {
    pub fn new(results: &'a RunResults) -> RunReport<'a> {
        let rows = summarize(results);
        let curves = curves(results);
        let charts = curves
            .iter()
            .enumerate()
            .map(|(l, c)| leak_charts(results, l, c))
            .collect();
        let signing = signing_chart(results, &rows);
        RunReport {
            results,
            rows,
            curves,
            charts,
            signing,
            claims: evaluate(results),
        }
    }

    /// The headline attacker policy (the scenario's first).
    pub fn headline(&self) -> &'static str {
        let policies = &self.results.scenario.attacker.policies;
        policies.first().map_or("", |p| p.name())
    }
}

fn curves(results: &RunResults) -> Vec<Vec<Curve>> {
    let sc = &results.scenario;
    (0..sc.leaks.len())
        .map(|l| {
            let mut leak = Vec::new();
            for (s, strategy) in sc.strategies.iter().enumerate() {
                for (a, policy) in sc.attacker.policies.iter().enumerate() {
                    leak.push(Curve {
                        strategy: strategy.name.clone(),
                        attacker: policy.name().to_string(),
                        points: containment(results, s, l, a),
                    });
                }
            }
            leak
        })
        .collect()
}

/// What the containment chart shows.
pub(crate) const CONTAINMENT: &str = "share of affected customers still exploitable";
/// What the TTD chart shows.
pub(crate) const TTD_CDF: &str = "CDF of time to disable";

fn leak_charts(results: &RunResults, l: usize, curves: &[Curve]) -> LeakCharts {
    let sc = &results.scenario;
    let leak = &sc.leaks[l].name;
    let horizon_h = sc.horizon / 3600.0;
    let x0 = results.grid.get(1).copied().unwrap_or(60.0) / 3600.0;
    let table = TableView {
        value: "share".into(),
        at: [1.0, 4.0, 24.0, 168.0, 720.0]
            .into_iter()
            .filter(|h| *h < horizon_h)
            .map(|h| (duration(h * 3600.0), h))
            .chain(std::iter::once(("the horizon".to_string(), horizon_h)))
            .collect(),
    };
    let chart =
        |id: String, subject: &str, y_label: &str, x_label: &str, f: fn(f64) -> f64| LineChart {
            id,
            title: format!("Leak \"{leak}\": {subject}"),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: true,
            log_y: false,
            series: curves
                .iter()
                .map(|c| Series {
                    name: c.strategy.clone(),
                    attacker: Some(c.attacker.clone()),
                    points: c
                        .points
                        .iter()
                        .filter(|(t, _)| *t > 0.0)
                        .map(|(t, i)| (t / 3600.0, f(i.mean)))
                        .collect(),
                })
                .collect(),
            x_range: Some((x0, horizon_h)),
            y_range: Some((0.0, 1.0)),
            table: Some(table.clone()),
        };
    LeakCharts {
        containment: chart(
            format!("containment-{l}"),
            CONTAINMENT,
            "share still exploitable",
            "hours after the leak (log)",
            |v| v,
        ),
        ttd_cdf: chart(
            format!("ttd-cdf-{l}"),
            TTD_CDF,
            "share of affected customers disabled",
            "time to disable, hours (log)",
            |v| 1.0 - v,
        ),
    }
}

fn signing_chart(results: &RunResults, rows: &[SummaryRow]) -> BarChart {
    let sc = &results.scenario;
    let headline = sc.attacker.policies.first().map_or("", |p| p.name());
    let first_leak = sc.leaks.first().map_or("", |l| l.name.as_str());
    let bars = sc
        .strategies
        .iter()
        .map(|s| {
            let v = find_for(rows, &s.name, first_leak, headline, "device_signs_per_s")
                .map_or(0.0, |r| r.interval.mean);
            (s.name.clone(), v)
        })
        // Strategies that never sign on a device have no bar on a log axis: leave them out.
        .filter(|(_, v)| *v > 0.0)
        .collect();
    BarChart {
        id: "signing-load".into(),
        title: format!(
            "Legitimate HSM/TPM signatures per second for {} customers, against device capacity",
            sc.customers
        ),
        x_label: "strategy".into(),
        y_label: "signatures per second (log)".into(),
        log_y: true,
        bars,
        lines: device_capacities(results),
    }
}

/// (label, signatures per second) of each device of the scenario with a built-in profile.
fn device_capacities(results: &RunResults) -> Vec<(String, f64)> {
    let Ok(profiles) = builtin_profiles() else {
        return Vec::new();
    };
    results
        .scenario
        .devices
        .iter()
        .filter_map(|d| {
            profiles
                .get(&d.profile)
                .ok()
                .map(|p| (format!("{} capacity", d.profile), p.capacity_per_s()))
        })
        .collect()
}
