//! The leak drill's result directory: `drill.csv` / `drill.parquet` (one row per customer of
//! each strategy × leak: predicted and measured TTD) and `index.html` (per-cell agreement, then
//! every customer), written atomically.

use std::path::{Path, PathBuf};

use super::atomic::OutputDir;
use super::html::Page;
use super::table::TableBuilder;
use super::ReportError;

/// One customer of one cell (or a skipped cell, with `skipped` set and no customer).
#[derive(Clone, Debug)]
pub struct DrillRow {
    pub strategy: String,
    pub leak: String,
    pub policy: String,
    pub customer: Option<u64>,
    pub predicted_ttd_s: Option<f64>,
    pub measured_ttd_s: Option<f64>,
    pub agrees: Option<bool>,
    pub requests: Option<u64>,
    pub skipped: Option<String>,
}

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

/// Writes the drill directory `dest` (replaced as a whole). `meta` lines go to the page's head.
pub fn write(
    dest: &Path,
    scenario: &str,
    meta: &[String],
    rows: &[DrillRow],
    tolerance_s: f64,
) -> Result<PathBuf, ReportError> {
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
    let mut cells: Vec<(String, String, String)> = Vec::new();
    for r in rows {
        let k = (r.strategy.clone(), r.leak.clone(), r.policy.clone());
        if !cells.contains(&k) {
            cells.push(k);
        }
    }
    let summary: Vec<Vec<String>> = cells
        .iter()
        .map(|(s, l, p)| {
            let of: Vec<&DrillRow> = rows
                .iter()
                .filter(|r| &r.strategy == s && &r.leak == l && &r.policy == p)
                .collect();
            let skipped = of.iter().find_map(|r| r.skipped.clone());
            let n = of.iter().filter(|r| r.customer.is_some()).count();
            let agree = of.iter().filter(|r| r.agrees == Some(true)).count();
            let worst = of
                .iter()
                .filter_map(|r| Some((r.predicted_ttd_s?, r.measured_ttd_s?)))
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            vec![
                s.clone(),
                l.clone(),
                p.clone(),
                match &skipped {
                    Some(why) => format!("not replayed: {why}"),
                    None => format!("{agree} of {n} agree"),
                },
                if skipped.is_some() {
                    String::new()
                } else {
                    format!("{worst:.1}")
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
