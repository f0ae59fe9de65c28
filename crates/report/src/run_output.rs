//! Writes a simulator run: tidy tables (Parquet + CSV), plots (SVG + PNG), `summary.md`,
//! `manifest.json` and `timings.json`, all staged and published atomically.
//!
//! Everything except `timings.json` is a pure function of (scenario, seed): two runs of the same
//! scenario give byte-identical files. Wall-clock timings live in their own file for that reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::OutputDir;
use crate::format::{duration_ci, hours_ci, number_ci, share_ci};
use crate::plot::{write_bar_chart, write_line_chart};
use crate::run_report::{RunReport, CONTAINMENT, TTD_CDF};
use crate::table::TableBuilder;
use crate::{write_json, ReportError};
use leaklab_base::duration::DAY;
use leaklab_sim::runner::RunResults;
use leaklab_sim::summary::{find, find_for};

/// Wall-clock facts about a run (not part of the deterministic outputs).
#[derive(Clone, Debug)]
pub struct Timings {
    pub wall_seconds: f64,
    pub threads: usize,
}

/// What was written where.
#[derive(Clone, Debug)]
pub struct WrittenRun {
    pub dir: PathBuf,
    pub files: Vec<String>,
    pub notes: Vec<String>,
}

/// Writes `results` to `dest` (replacing it as a whole, atomically).
pub fn write_run(
    results: &RunResults,
    scenario_file: &str,
    scenario_text: &str,
    dest: &Path,
    per_customer: bool,
    timings: &Timings,
) -> Result<WrittenRun, ReportError> {
    let out = OutputDir::create(dest)?;
    let dir = out.path();
    let report = RunReport::new(results);
    write_tables(dir, &report, per_customer)?;
    let notes = write_plots(dir, &report)?;
    let summary = dir.join("summary.md");
    std::fs::write(&summary, summary_markdown(results, &report.rows))
        .map_err(|e| ReportError::io(&summary, e))?;
    let scenario = dir.join("scenario.toml");
    std::fs::write(&scenario, scenario_text).map_err(|e| ReportError::io(&scenario, e))?;
    write_json(
        &dir.join("timings.json"),
        &TimingsFile::new(results, timings),
    )?;
    let files = write_page_and_manifest(dir, &report, scenario_file, scenario_text)?;
    let dir = out.commit()?;
    Ok(WrittenRun { dir, files, notes })
}

/// `replications`: one row per replication and metric.
#[derive(Serialize, Deserialize)]
struct ReplicationRow {
    strategy: String,
    leak: String,
    attacker: String,
    replication: u64,
    metric: String,
    value: f64,
}

/// `summary`: each metric's mean over replications with its 95% interval.
#[derive(Serialize, Deserialize)]
struct SummaryTableRow {
    strategy: String,
    leak: String,
    attacker: String,
    metric: String,
    mean: f64,
    ci95_low: f64,
    ci95_high: f64,
    replications: u64,
}

/// `containment`: the share of affected customers still exploitable over time.
#[derive(Serialize, Deserialize)]
struct ContainmentRow {
    strategy: String,
    leak: String,
    attacker: String,
    t_s: f64,
    share_exploitable: f64,
    ci95_low: f64,
    ci95_high: f64,
}

/// `customers` (`--per-customer`): one row per simulated customer.
#[derive(Serialize, Deserialize)]
struct CustomerRow {
    strategy: String,
    leak: String,
    attacker: String,
    replication: u64,
    customer: u64,
    response: String,
    ttd_s: f64,
    usable_s: f64,
    attacker_calls_ok: u64,
    attacker_refresh_ok: u64,
}

/// `replications`, `summary`, `containment` and, on request, `customers`.
fn write_tables(dir: &Path, report: &RunReport<'_>, per_customer: bool) -> Result<(), ReportError> {
    let results = report.results;
    let sc = &results.scenario;
    let names = |c: &leaklab_sim::runner::Cell| {
        (
            sc.strategies[c.strategy].name.clone(),
            sc.leaks[c.leak].name.clone(),
            sc.attacker.policies[c.attacker].name().to_string(),
        )
    };
    let replications: Vec<ReplicationRow> = results
        .cells
        .iter()
        .flat_map(|c| {
            let (strategy, leak, attacker) = names(c);
            c.acc
                .metrics()
                .into_iter()
                .map(move |(metric, value)| ReplicationRow {
                    strategy: strategy.clone(),
                    leak: leak.clone(),
                    attacker: attacker.clone(),
                    replication: c.replication as u64,
                    metric: metric.to_string(),
                    value,
                })
        })
        .collect();
    TableBuilder::from_rows(&replications)?.write(dir, "replications")?;

    let summary: Vec<SummaryTableRow> = report
        .rows
        .iter()
        .map(|r| SummaryTableRow {
            strategy: r.strategy.clone(),
            leak: r.leak.clone(),
            attacker: r.attacker.to_string(),
            metric: r.metric.to_string(),
            mean: r.interval.mean,
            ci95_low: r.interval.low,
            ci95_high: r.interval.high,
            replications: r.interval.n as u64,
        })
        .collect();
    TableBuilder::from_rows(&summary)?.write(dir, "summary")?;

    let containment: Vec<ContainmentRow> = sc
        .leaks
        .iter()
        .zip(&report.curves)
        .flat_map(|(leak, curves)| {
            curves.iter().flat_map(move |c| {
                c.points.iter().map(move |&(t, i)| ContainmentRow {
                    strategy: c.strategy.clone(),
                    leak: leak.name.clone(),
                    attacker: c.attacker.clone(),
                    t_s: t,
                    share_exploitable: i.mean,
                    ci95_low: i.low,
                    ci95_high: i.high,
                })
            })
        })
        .collect();
    TableBuilder::from_rows(&containment)?.write(dir, "containment")?;

    if per_customer {
        let customers: Vec<CustomerRow> = results
            .cells
            .iter()
            .flat_map(|c| {
                let (strategy, leak, attacker) = names(c);
                c.customers.iter().map(move |row| CustomerRow {
                    strategy: strategy.clone(),
                    leak: leak.clone(),
                    attacker: attacker.clone(),
                    replication: c.replication as u64,
                    customer: row.customer,
                    response: ["immediate", "eventual", "never"][row.response_class as usize % 3]
                        .to_string(),
                    ttd_s: row.ttd,
                    usable_s: row.usable_seconds,
                    attacker_calls_ok: row.calls_ok,
                    attacker_refresh_ok: row.refresh_ok,
                })
            })
            .collect();
        TableBuilder::from_rows(&customers)?.write(dir, "customers")?;
    }
    Ok(())
}

/// The chart files: containment and TTD CDF per leak for the headline attacker, signing load
/// per strategy. Returns the notes of the plot writer.
fn write_plots(dir: &Path, report: &RunReport<'_>) -> Result<Vec<String>, ReportError> {
    let sc = &report.results.scenario;
    let headline = report.headline();
    let mut notes = Vec::new();
    for (leak, charts) in sc.leaks.iter().zip(&report.charts) {
        let title =
            |subject: &str| format!("Leak \"{}\", {headline} attacker: {subject}", leak.name);
        for (stem, chart, subject) in [
            ("containment", &charts.containment, CONTAINMENT),
            ("ttd_cdf", &charts.ttd_cdf, TTD_CDF),
        ] {
            let file = crate::chart::LineChart {
                title: title(subject),
                ..chart.of_attacker(headline)
            };
            let stem = format!("{stem}_{}", file_safe(&leak.name));
            notes.extend(write_line_chart(dir, &stem, &file)?.notes);
        }
    }
    let signing = crate::chart::BarChart {
        title: format!(
            "Legitimate HSM/TPM signatures per second, {} customers (strategies with none omitted)",
            sc.customers
        ),
        lines: Vec::new(),
        ..report.signing.clone()
    };
    notes.extend(write_bar_chart(dir, "signing_load", &signing)?.notes);
    Ok(notes)
}

/// `index.html` and `manifest.json`: the manifest lists a digest of every deterministic output
/// (the page too), the page every other output's. Returns every file name of the run.
fn write_page_and_manifest(
    dir: &Path,
    report: &RunReport<'_>,
    scenario_file: &str,
    scenario_text: &str,
) -> Result<Vec<String>, ReportError> {
    let results = report.results;
    let sc = &results.scenario;
    let mut digests = crate::file_digests(dir, &["timings.json"])?;
    let html = crate::run_page::render(report, &digests);
    let index = dir.join("index.html");
    std::fs::write(&index, &html).map_err(|e| ReportError::io(&index, e))?;
    digests.insert("index.html".into(), crate::digest(html.as_bytes()));
    let mut files: Vec<String> = digests.keys().cloned().collect();
    files.push("timings.json".into());
    let manifest = Manifest {
        leaklab_version: env!("CARGO_PKG_VERSION"),
        scenario: &sc.name,
        scenario_file,
        scenario_sha256: crate::digest(scenario_text.as_bytes()),
        seed: sc.seed,
        replications: sc.replications,
        customers: sc.customers,
        horizon_s: sc.horizon,
        strategies: sc.strategies.iter().map(|s| s.name.as_str()).collect(),
        leaks: sc.leaks.iter().map(|l| l.name.as_str()).collect(),
        attackers: sc.attacker.policies.iter().map(|p| p.name()).collect(),
        events: results.events,
        timings: "timings.json",
        files_sha256: digests,
    };
    write_json(&dir.join("manifest.json"), &manifest)?;
    files.push("manifest.json".into());
    files.sort();
    Ok(files)
}

/// `timings.json`: the one output that differs between two runs of the same scenario and seed.
#[derive(Serialize)]
struct TimingsFile {
    wall_seconds: f64,
    threads: usize,
    /// Actor state changes (refresh attempts, revocations, expiries, binding and foothold ends,
    /// detections), both passes; API calls are counted in closed form and are not events.
    events: u64,
    events_per_second: f64,
    /// Customer × strategy × attacker-policy simulations, both passes.
    customer_runs: u64,
    customer_runs_per_second: f64,
}

impl TimingsFile {
    fn new(results: &RunResults, timings: &Timings) -> TimingsFile {
        let per_second = |n: u64| n as f64 / timings.wall_seconds.max(1e-9);
        TimingsFile {
            wall_seconds: timings.wall_seconds,
            threads: timings.threads,
            events: results.events,
            events_per_second: per_second(results.events),
            customer_runs: results.customer_runs,
            customer_runs_per_second: per_second(results.customer_runs),
        }
    }
}

/// `manifest.json`: the inputs and a SHA-256 of every deterministic output.
#[derive(Serialize)]
struct Manifest<'a> {
    leaklab_version: &'static str,
    scenario: &'a str,
    scenario_file: &'a str,
    scenario_sha256: String,
    seed: u64,
    replications: u32,
    customers: u64,
    horizon_s: f64,
    strategies: Vec<&'a str>,
    leaks: Vec<&'a str>,
    attackers: Vec<&'static str>,
    events: u64,
    timings: &'static str,
    files_sha256: BTreeMap<String, String>,
}

fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The summary table (Markdown): per leak, per strategy, the headline metrics with 95% CIs.
pub fn summary_markdown(results: &RunResults, rows: &[leaklab_sim::summary::SummaryRow]) -> String {
    let sc = &results.scenario;
    let mut md = String::new();
    let _ = writeln!(md, "# leaklab results: {}\n", sc.name);
    if !sc.description.is_empty() {
        let _ = writeln!(md, "{}\n", sc.description);
    }
    let _ = writeln!(
        md,
        "{} customers, {} replications, seed {}, horizon {:.0} days. Values are means over replications with 95% confidence intervals. TTD = time to disable, measured from the leak; \"never\" = still exploitable at the horizon.\n",
        sc.customers,
        sc.replications,
        sc.seed,
        sc.horizon / DAY
    );
    let headline = sc.attacker.policies.first().map_or("", |p| p.name());
    for leak in &sc.leaks {
        let _ = writeln!(md, "## Leak: {} ({} attacker)\n", leak.name, headline);
        let _ = writeln!(md, "| strategy | mean TTD (censored) | median TTD | p99 TTD | never | disabled ≤ 1 d | attacker calls ok | attacker refreshes | detection | lockout h per customer |");
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
        for s in &sc.strategies {
            let get = |m: &str| find(rows, &s.name, &leak.name, m).map(|r| r.interval);
            let (
                Some(mean),
                Some(p50),
                Some(p99),
                Some(never),
                Some(d1),
                Some(calls),
                Some(refr),
                Some(det),
                Some(lock),
            ) = (
                get("ttd_mean_censored_s"),
                get("ttd_p50_s"),
                get("ttd_p99_s"),
                get("share_never"),
                get("share_disabled_within_1d"),
                get("attacker_calls_ok"),
                get("attacker_refresh_ok"),
                get("detection_h"),
                get("lockout_h_per_customer"),
            )
            else {
                continue;
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} |",
                s.name,
                duration_ci(&mean),
                duration_ci(&p50),
                duration_ci(&p99),
                share_ci(&never),
                share_ci(&d1),
                calls.mean,
                refr.mean,
                hours_ci(&det),
                number_ci(&lock)
            );
        }
        let _ = writeln!(md);
        if sc.attacker.policies.len() > 1 {
            let _ = writeln!(md, "Mean TTD (censored) by attacker policy:\n");
            let names: Vec<&str> = sc.attacker.policies.iter().map(|p| p.name()).collect();
            let _ = writeln!(md, "| strategy | {} |", names.join(" | "));
            let _ = writeln!(md, "|---|{}", "---|".repeat(names.len()));
            for s in &sc.strategies {
                let cells: Vec<String> = names
                    .iter()
                    .map(|a| {
                        find_for(rows, &s.name, &leak.name, a, "ttd_mean_censored_s")
                            .map_or("–".into(), |r| duration_ci(&r.interval))
                    })
                    .collect();
                let _ = writeln!(md, "| {} | {} |", s.name, cells.join(" | "));
            }
            let _ = writeln!(md);
        }
    }
    md
}
