//! `index.html` of a merged sweep: the study, robust verdicts (bar chart of each claim's share
//! and the table), Sobol indices (tornado charts), heat maps of the metric over the first two
//! parameters, and the design.

use leaklab_study::design::Point;
use leaklab_study::shards::ShardInfo;
use leaklab_study::spec::{Domain, Scale, SweepSpec};

use crate::chart::BarChart;
use crate::html::{esc, num, HeatMap, Page};
use crate::shard::PointRow;
use crate::table::Cells;

/// The page.
pub(crate) fn render(
    spec: &SweepSpec,
    info: &ShardInfo,
    design: &[Point],
    rows: &[(u64, Vec<PointRow>)],
    robust: Option<&Cells>,
    sensitivity: Option<&Cells>,
) -> String {
    let mut page = Page::new("leaklab parameter study");
    page.section("study", "Study");
    page.text(&format!(
        "{} design, {} points, seed {}, leaklab {}. Each point is the scenario (scenario.toml or sweep.toml) with the parameters below set; the full dataset is sweep.parquet (one row per point × strategy × leak × attacker policy × metric).",
        info.design, info.points_total, info.seed, info.leaklab_version
    ));
    let params: Vec<Vec<String>> = spec
        .parameters
        .iter()
        .map(|p| {
            let (range, scale) = match &p.domain {
                Domain::Range {
                    min, max, scale, ..
                } => (
                    format!("{} – {}", num(*min), num(*max)),
                    format!("{scale:?}").to_lowercase(),
                ),
                Domain::Values(v) => (
                    v.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    "values".into(),
                ),
            };
            vec![p.key.clone(), range, scale]
        })
        .collect();
    page.table(
        &["parameter", "range (durations in seconds)", "scale"],
        &params,
        None,
        None,
    );
    if let Some(cells) = robust {
        page.section("robust", "Robust verdicts");
        page.text("Each claim judged at every point: the share of points where it holds (95% Wilson interval), the parameter most correlated with holding, and the threshold that best separates the points where it holds from those where it fails.");
        let col = |name: &str| cells.column(name);
        if let (Some(c), Some(p), Some(sh)) = (col("claim"), col("part"), col("share")) {
            let bars = cells
                .rows
                .iter()
                .map(|r| {
                    (
                        format!("{} #{}", r[c], r[p]),
                        r[sh].parse::<f64>().unwrap_or(0.0),
                    )
                })
                .collect();
            page.bar_chart(&BarChart {
                id: "robust-share".into(),
                title: "Share of the parameter space where each claim holds".into(),
                x_label: String::new(),
                y_label: "share of points".into(),
                log_y: false,
                bars,
                lines: Vec::new(),
            });
        }
        page.data_table(cells);
    }
    if let Some(cells) = sensitivity {
        page.section("sensitivity", "Sensitivity (Sobol indices)");
        page.text(&format!("First-order (dark) and total (light, with its 95% bootstrap interval) Sobol indices of {} per parameter, for the first attacker policy; every policy is in sensitivity.csv.", spec.metric));
        sensitivity_tornados(&mut page, cells);
        page.raw("<details><summary>Table</summary>");
        page.data_table(cells);
        page.raw("</details>");
    }
    heat_maps(&mut page, spec, design, rows);

    page.section("design", "Design");
    let rows: Vec<Vec<String>> = design
        .iter()
        .map(|p| {
            std::iter::once(p.index.to_string())
                .chain(p.numeric.iter().map(|x| num(*x)))
                .collect()
        })
        .collect();
    let mut headers = vec!["point"];
    headers.extend(spec.parameters.iter().map(|p| p.key.as_str()));
    page.raw("<details><summary>Points</summary>");
    page.table(&headers, &rows, None, None);
    page.raw("</details>");
    page.finish()
}

/// One tornado chart per strategy × leak (first attacker policy), grouped by leak.
fn sensitivity_tornados(page: &mut Page, cells: &Cells) {
    let col = |name: &str| cells.column(name);
    let (Some(cs), Some(cl), Some(ca), Some(cp), Some(cf), Some(ct), Some(ctl), Some(cth)) = (
        col("strategy"),
        col("leak"),
        col("attacker"),
        col("parameter"),
        col("first_order"),
        col("total"),
        col("total_low"),
        col("total_high"),
    ) else {
        return;
    };
    let headline = cells
        .rows
        .first()
        .map(|r| r[ca].clone())
        .unwrap_or_default();
    let f = |r: &[String], c: usize| r[c].parse::<f64>().unwrap_or(f64::NAN);
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in cells.rows.iter().filter(|r| r[ca] == headline) {
        let key = (r[cl].clone(), r[cs].clone());
        if !groups.contains(&key) {
            groups.push(key);
        }
    }
    let mut current_leak = String::new();
    for (i, (leak, strategy)) in groups.iter().enumerate() {
        if *leak != current_leak {
            if !current_leak.is_empty() {
                page.raw("</details>");
            }
            page.raw(&format!("<details><summary>Leak {}</summary>", esc(leak)));
            current_leak = leak.clone();
        }
        let data: Vec<(String, f64, f64, f64, f64)> = cells
            .rows
            .iter()
            .filter(|r| r[ca] == headline && &r[cl] == leak && &r[cs] == strategy)
            .map(|r| (r[cp].clone(), f(r, cf), f(r, ct), f(r, ctl), f(r, cth)))
            .collect();
        page.tornado(
            &format!("tornado-{i}"),
            &format!("{strategy}, leak {leak}, {headline} attacker"),
            &data,
        );
    }
    if !current_leak.is_empty() {
        page.raw("</details>");
    }
}

/// The number of bins per axis of a heat map.
const BINS: usize = 5;

/// Heat maps of the sweep's metric over its first two parameters (5 × 5 bins, mean per bin), for
/// the first attacker policy, each strategy, on the leak `core-host` (or the first leak).
fn heat_maps(page: &mut Page, spec: &SweepSpec, design: &[Point], rows: &[(u64, Vec<PointRow>)]) {
    if spec.parameters.len() < 2 {
        return;
    }
    let Some((_, first)) = rows.first() else {
        return;
    };
    let Some(leak) = first
        .iter()
        .map(|x| x.leak.as_str())
        .find(|l| *l == "core-host")
        .or(first.first().map(|x| x.leak.as_str()))
        .map(str::to_string)
    else {
        return;
    };
    let attacker = first
        .first()
        .map(|x| x.attacker.clone())
        .unwrap_or_default();
    let mut strategies: Vec<String> = Vec::new();
    for r in first {
        if !strategies.contains(&r.strategy) {
            strategies.push(r.strategy.clone());
        }
    }
    let (xe, ye) = (bin_edges(spec, design, 0), bin_edges(spec, design, 1));
    let label = |e: &[f64], k: usize| format!("{}–{}", num(e[k]), num(e[k + 1]));
    let x_ticks: Vec<String> = (0..BINS).map(|k| label(&xe, k)).collect();
    let y_ticks: Vec<String> = (0..BINS).map(|k| label(&ye, k)).collect();
    page.section("heat-maps", "Heat maps");
    page.text(&format!(
        "Mean {} over the points in each bin of {} × {} (leak {leak}, {attacker} attacker); durations in seconds.",
        spec.metric, spec.parameters[0].key, spec.parameters[1].key
    ));
    for (i, strategy) in strategies.iter().enumerate() {
        let metric = |r: &&PointRow| {
            &r.strategy == strategy
                && r.leak == leak
                && r.attacker == attacker
                && r.metric == spec.metric
        };
        page.heat_map(&HeatMap {
            id: format!("heat-{i}"),
            title: format!("{strategy}: mean {}", spec.metric),
            x_label: spec.parameters[0].key.clone(),
            y_label: spec.parameters[1].key.clone(),
            x_ticks: x_ticks.clone(),
            y_ticks: y_ticks.clone(),
            cells: bin_means(design, rows, &metric, (&xe, &ye)),
        });
    }
}

/// Bin edges of parameter `i`: log-spaced for log-scaled ranges.
fn bin_edges(spec: &SweepSpec, design: &[Point], i: usize) -> Vec<f64> {
    let values: Vec<f64> = design.iter().map(|p| p.numeric[i]).collect();
    let log = matches!(
        spec.parameters[i].domain,
        Domain::Range {
            scale: Scale::Log,
            ..
        }
    );
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (0..=BINS)
        .map(|k| {
            let u = k as f64 / BINS as f64;
            if log && lo > 0.0 {
                (lo.ln() + u * (hi.ln() - lo.ln())).exp()
            } else {
                lo + u * (hi - lo)
            }
        })
        .collect()
}

/// The mean of the row `select` picks at each point, per bin of the first two parameters
/// (`cells[y][x]`); `None` where no point has a finite value.
fn bin_means(
    design: &[Point],
    rows: &[(u64, Vec<PointRow>)],
    select: &dyn Fn(&&PointRow) -> bool,
    (xe, ye): (&[f64], &[f64]),
) -> Vec<Vec<Option<f64>>> {
    let bin = |e: &[f64], v: f64| (0..BINS).find(|k| v <= e[k + 1]).unwrap_or(BINS - 1);
    let mut sum = vec![vec![0.0; BINS]; BINS];
    let mut n = vec![vec![0u32; BINS]; BINS];
    for (p, point_rows) in rows {
        let Some(r) = point_rows.iter().find(select) else {
            continue;
        };
        if !r.mean.is_finite() {
            continue;
        }
        let d = &design[*p as usize];
        let (bx, by) = (bin(xe, d.numeric[0]), bin(ye, d.numeric[1]));
        sum[by][bx] += r.mean;
        n[by][bx] += 1;
    }
    (0..BINS)
        .map(|y| {
            (0..BINS)
                .map(|x| (n[y][x] > 0).then(|| sum[y][x] / f64::from(n[y][x])))
                .collect()
        })
        .collect()
}
