//! Writes a simulator run: tidy tables (Parquet + CSV), plots (SVG + PNG), `summary.md`,
//! `manifest.json` and `timings.json`, all staged and published atomically.
//!
//! Everything except `timings.json` is a pure function of (scenario, seed): two runs of the same
//! scenario give byte-identical files. Wall-clock timings live in their own file for that reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::output_dir::OutputDir;
use super::plot::{write_bar_chart, write_line_chart, BarChart, LineChart, Series};
use super::table::TableBuilder;
use super::{write_json, ReportError};
use leaklab_base::duration::{format_duration, DAY};
use leaklab_sim::runner::RunResults;
use leaklab_sim::stats::Interval;
use leaklab_sim::summary::{containment, find, find_for, summarize};

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
    let dir = out.path().to_path_buf();
    let mut notes = Vec::new();
    let sc = &results.scenario;
    let io = |p: &Path, e| ReportError::io(p, e);

    // Per-replication tidy table.
    let (mut st, mut lk, mut at, mut rep, mut me, mut va) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for c in &results.cells {
        for (metric, value) in c.acc.metrics() {
            st.push(sc.strategies[c.strategy].name.clone());
            lk.push(sc.leaks[c.leak].name.clone());
            at.push(sc.attacker.policies[c.attacker].name().to_string());
            rep.push(c.replication as u64);
            me.push(metric.to_string());
            va.push(value);
        }
    }
    TableBuilder::new()
        .text("strategy", st)
        .text("leak", lk)
        .text("attacker", at)
        .int("replication", rep)
        .text("metric", me)
        .float("value", va)
        .write(&dir, "replications")?;

    // Summary over replications.
    let rows = summarize(results);
    TableBuilder::new()
        .text(
            "strategy",
            rows.iter().map(|r| r.strategy.clone()).collect(),
        )
        .text("leak", rows.iter().map(|r| r.leak.clone()).collect())
        .text(
            "attacker",
            rows.iter().map(|r| r.attacker.to_string()).collect(),
        )
        .text(
            "metric",
            rows.iter().map(|r| r.metric.to_string()).collect(),
        )
        .float("mean", rows.iter().map(|r| r.interval.mean).collect())
        .float("ci95_low", rows.iter().map(|r| r.interval.low).collect())
        .float("ci95_high", rows.iter().map(|r| r.interval.high).collect())
        .int(
            "replications",
            rows.iter().map(|r| r.interval.n as u64).collect(),
        )
        .write(&dir, "summary")?;

    // Containment curves, per leak, strategy and attacker policy (the table), and for the
    // headline policy per leak then strategy (the plots).
    let (mut st, mut lk, mut at, mut t, mut mean, mut low, mut high) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut curves: Vec<Vec<Vec<(f64, Interval)>>> = vec![Vec::new(); sc.leaks.len()];
    let mut page_curves: Vec<super::run_page::LeakCurves> = vec![Vec::new(); sc.leaks.len()];
    for (l, leak) in sc.leaks.iter().enumerate() {
        for (s, strategy) in sc.strategies.iter().enumerate() {
            for (a, policy) in sc.attacker.policies.iter().enumerate() {
                let curve = containment(results, s, l, a);
                for &(time, i) in &curve {
                    st.push(strategy.name.clone());
                    lk.push(leak.name.clone());
                    at.push(policy.name().to_string());
                    t.push(time);
                    mean.push(i.mean);
                    low.push(i.low);
                    high.push(i.high);
                }
                if a == 0 {
                    curves[l].push(curve.clone());
                }
                page_curves[l].push((strategy.name.clone(), policy.name().to_string(), curve));
            }
        }
    }
    TableBuilder::new()
        .text("strategy", st)
        .text("leak", lk)
        .text("attacker", at)
        .float("t_s", t)
        .float("share_exploitable", mean)
        .float("ci95_low", low)
        .float("ci95_high", high)
        .write(&dir, "containment")?;

    if per_customer {
        let (mut st, mut lk, mut rep, mut cu, mut rc, mut ttd, mut us, mut co, mut ro) = (
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        let mut at = vec![];
        for c in &results.cells {
            for row in &c.customers {
                at.push(sc.attacker.policies[c.attacker].name().to_string());
                st.push(sc.strategies[c.strategy].name.clone());
                lk.push(sc.leaks[c.leak].name.clone());
                rep.push(c.replication as u64);
                cu.push(row.customer);
                rc.push(
                    ["immediate", "eventual", "never"][row.response_class as usize % 3].to_string(),
                );
                ttd.push(row.ttd);
                us.push(row.usable_seconds);
                co.push(row.calls_ok);
                ro.push(row.refresh_ok);
            }
        }
        TableBuilder::new()
            .text("strategy", st)
            .text("leak", lk)
            .text("attacker", at)
            .int("replication", rep)
            .int("customer", cu)
            .text("response", rc)
            .float("ttd_s", ttd)
            .float("usable_s", us)
            .int("attacker_calls_ok", co)
            .int("attacker_refresh_ok", ro)
            .write(&dir, "customers")?;
    }

    // Plots: containment and TTD CDF per leak (headline attacker), signing load per strategy.
    let headline = sc.attacker.policies.first().map_or("", |p| p.name());
    for (l, leak) in sc.leaks.iter().enumerate() {
        let series = |f: &dyn Fn(f64) -> f64| -> Vec<Series> {
            sc.strategies
                .iter()
                .zip(&curves[l])
                .map(|(strategy, c)| Series {
                    name: strategy.name.clone(),
                    points: c
                        .iter()
                        .filter(|(t, _)| *t > 0.0)
                        .map(|(t, i)| (t / 3600.0, f(i.mean)))
                        .collect(),
                })
                .collect()
        };
        let x_range = Some((
            results.grid.get(1).copied().unwrap_or(60.0) / 3600.0,
            sc.horizon / 3600.0,
        ));
        let stem = format!("containment_{}", file_safe(&leak.name));
        let files = write_line_chart(
            &dir,
            &stem,
            &LineChart {
                title: format!(
                    "Leak \"{}\", {} attacker: share of affected customers still exploitable",
                    leak.name, headline
                ),
                x_label: "hours after the leak (log)".into(),
                y_label: "share still exploitable".into(),
                log_x: true,
                log_y: false,
                series: series(&|v| v),
                x_range,
                y_range: Some((0.0, 1.0)),
            },
        )?;
        notes.extend(files.notes);
        let stem = format!("ttd_cdf_{}", file_safe(&leak.name));
        let files = write_line_chart(
            &dir,
            &stem,
            &LineChart {
                title: format!(
                    "Leak \"{}\", {} attacker: CDF of time to disable",
                    leak.name, headline
                ),
                x_label: "time to disable, hours (log)".into(),
                y_label: "share of affected customers disabled".into(),
                log_x: true,
                log_y: false,
                series: series(&|v| 1.0 - v),
                x_range,
                y_range: Some((0.0, 1.0)),
            },
        )?;
        notes.extend(files.notes);
    }
    let first_leak = sc.leaks.first().map(|l| l.name.clone()).unwrap_or_default();
    let bars: Vec<(String, f64)> = sc
        .strategies
        .iter()
        .map(|s| {
            let v = find(&rows, &s.name, &first_leak, "device_signs_per_s")
                .map_or(0.0, |r| r.interval.mean);
            (s.name.clone(), v)
        })
        // Strategies that never sign on a device have no bar on a log axis: leave them out.
        .filter(|(_, v)| *v > 0.0)
        .collect();
    let files = write_bar_chart(
        &dir,
        "signing_load",
        &BarChart {
            title: format!("Legitimate HSM/TPM signatures per second, {} customers (strategies with none omitted)", sc.customers),
            x_label: "strategy".into(),
            y_label: "signatures per second (log)".into(),
            log_y: true,
            bars,
        },
    )?;
    notes.extend(files.notes);

    // summary.md
    let md = summary_markdown(results, &rows);
    std::fs::write(dir.join("summary.md"), md).map_err(|e| io(&dir.join("summary.md"), e))?;
    std::fs::write(dir.join("scenario.toml"), scenario_text)
        .map_err(|e| io(&dir.join("scenario.toml"), e))?;
    let timings_json = TimingsFile {
        wall_seconds: timings.wall_seconds,
        threads: timings.threads,
        events: results.events,
        events_per_second: results.events as f64 / timings.wall_seconds.max(1e-9),
        customer_runs: results.customer_runs,
        customer_runs_per_second: results.customer_runs as f64 / timings.wall_seconds.max(1e-9),
    };
    write_json(&dir.join("timings.json"), &timings_json)?;

    // Manifest: inputs and a digest of every deterministic output; the page lists the others'.
    let mut digests = super::file_digests(&dir, &["timings.json"])?;
    let html = super::run_page::render(results, &rows, &page_curves, &digests);
    std::fs::write(dir.join("index.html"), &html).map_err(|e| io(&dir.join("index.html"), e))?;
    digests.insert("index.html".into(), super::digest(html.as_bytes()));
    let mut files: Vec<String> = digests.keys().cloned().collect();
    files.push("timings.json".into());
    let manifest = Manifest {
        leaklab_version: env!("CARGO_PKG_VERSION"),
        scenario: &sc.name,
        scenario_file,
        scenario_sha256: super::digest(scenario_text.as_bytes()),
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
    let dir = out.commit()?;
    Ok(WrittenRun { dir, files, notes })
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

/// Formats an interval of seconds compactly.
pub(crate) fn duration_ci(i: &Interval) -> String {
    if !i.mean.is_finite() {
        return "never".into();
    }
    format!(
        "{} ({}–{})",
        format_duration(i.mean),
        format_duration(i.low.max(0.0)),
        format_duration(i.high)
    )
}

/// An interval of hours (e.g. `detection_h`) as durations.
pub(crate) fn hours_ci(i: &Interval) -> String {
    duration_ci(&Interval {
        mean: i.mean * 3600.0,
        low: i.low * 3600.0,
        high: i.high * 3600.0,
        ..*i
    })
}

/// A non-negative quantity with its interval, two decimals.
pub(crate) fn number_ci(i: &Interval) -> String {
    format!("{:.2} ({:.2}–{:.2})", i.mean, i.low.max(0.0), i.high)
}

pub(crate) fn share_ci(i: &Interval) -> String {
    format!(
        "{:.1}% ({:.1}–{:.1})",
        100.0 * i.mean,
        100.0 * i.low.max(0.0),
        100.0 * i.high.min(1.0)
    )
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
