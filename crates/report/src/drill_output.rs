//! The leak drill's result directory: `drill.csv` / `drill.parquet` (one row per customer of
//! each strategy × leak: predicted and measured TTD) and `index.html` (per-cell agreement, then
//! every customer), written atomically.

use std::path::{Path, PathBuf};

use leaklab_drill::{CellResult, DrillRow};

use super::atomic::OutputDir;
use super::html::Page;
use super::table::TableBuilder;
use super::ReportError;

fn hours(s: Option<f64>) -> String {
    match s {
        Some(v) if v.is_finite() => format!("{:.4}", v / 3600.0),
        Some(_) => "beyond horizon".into(),
        None => String::new(),
    }
}

fn table(rows: &[DrillRow]) -> TableBuilder {
    let finite = |v: Option<f64>| v.filter(|x| x.is_finite());
    TableBuilder::new()
        .text(
            "strategy",
            rows.iter().map(|r| r.strategy.clone()).collect(),
        )
        .text("leak", rows.iter().map(|r| r.leak.clone()).collect())
        .text("attacker", rows.iter().map(|r| r.policy.clone()).collect())
        .int_opt("customer", rows.iter().map(|r| r.customer).collect())
        .float_opt(
            "predicted_ttd_s",
            rows.iter().map(|r| finite(r.predicted_ttd_s)).collect(),
        )
        .float_opt(
            "measured_ttd_s",
            rows.iter().map(|r| finite(r.measured_ttd_s)).collect(),
        )
        .text_opt(
            "beyond_horizon",
            rows.iter()
                .map(|r| {
                    r.measured_ttd_s.map(|m| {
                        format!(
                            "predicted={} measured={}",
                            !r.predicted_ttd_s.unwrap_or(0.0).is_finite(),
                            !m.is_finite()
                        )
                    })
                })
                .collect(),
        )
        .text_opt(
            "agrees",
            rows.iter()
                .map(|r| r.agrees.map(|a| a.to_string()))
                .collect(),
        )
        .int_opt(
            "attacker_requests",
            rows.iter().map(|r| r.requests).collect(),
        )
        .text_opt(
            "not_replayed",
            rows.iter().map(|r| r.skipped.clone()).collect(),
        )
}

/// Writes the drill directory `dest` (replaced as a whole) for the drill's `cells`. `meta`
/// lines go to the page's head.
pub fn write(
    dest: &Path,
    scenario: &str,
    meta: &[String],
    cells: &[CellResult],
    tolerance_s: f64,
) -> Result<PathBuf, ReportError> {
    let rows: Vec<DrillRow> = cells.iter().flat_map(CellResult::rows).collect();
    let rows = rows.as_slice();
    let staging = OutputDir::create(dest)?;
    table(rows).write(staging.path(), "drill")?;

    let mut page = Page::new(&format!("leaklab drill — {scenario}"));
    page.section("summary", "Measured versus simulated time to disable");
    page.text(&format!(
        "Each customer's attacker ran against live servers (HTTPS on 127.0.0.1, SQLite state) with the simulator's draws. A customer agrees when both are beyond the horizon, or both end within {tolerance_s} s."
    ));
    for m in meta {
        page.text(m);
    }
    // A cell without an affected customer has no row, and no line here.
    let summary: Vec<Vec<String>> = cells
        .iter()
        .filter(|c| c.skipped.is_some() || !c.customers.is_empty())
        .map(|c| {
            vec![
                c.strategy.clone(),
                c.leak.clone(),
                c.policy.clone(),
                match &c.skipped {
                    Some(why) => format!("not replayed: {why}"),
                    None => format!("{} of {} agree", c.agreeing(), c.customers.len()),
                },
                if c.skipped.is_some() {
                    String::new()
                } else {
                    format!("{:.1}", c.largest_gap_s())
                },
            ]
        })
        .collect();
    page.table(
        &[
            "strategy",
            "leak",
            "attacker",
            "agreement",
            "largest |measured − predicted| (s)",
        ],
        &summary,
        Some(0),
        None,
    );
    page.section("customers", "Every customer");
    let per: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.customer.is_some())
        .map(|r| {
            vec![
                r.strategy.clone(),
                r.leak.clone(),
                r.policy.clone(),
                r.customer.map(|c| c.to_string()).unwrap_or_default(),
                hours(r.predicted_ttd_s),
                hours(r.measured_ttd_s),
                r.agrees
                    .map(|a| if a { "yes" } else { "NO" }.to_owned())
                    .unwrap_or_default(),
                r.requests.map(|c| c.to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    page.table(
        &[
            "strategy",
            "leak",
            "attacker",
            "customer",
            "simulated TTD (h)",
            "measured TTD (h)",
            "agrees",
            "attacker requests",
        ],
        &per,
        Some(0),
        None,
    );
    std::fs::write(staging.path().join("index.html"), page.finish())
        .map_err(|e| ReportError::io(staging.path().join("index.html"), e))?;
    staging.commit()
}
