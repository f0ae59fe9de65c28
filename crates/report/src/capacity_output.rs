//! `leaklab capacity` output: the text rendering of every answer, and the `--out DIR` files of a
//! plan (tables, plots, `capacity.json`), published atomically.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use leaklab_capacity::planner::Sizing;
use leaklab_capacity::{
    CapacityOutput, CapacityReport, ProfileListing, QueueReport, QueueStats, StrategySweep, Summary,
};

use serde::{Deserialize, Serialize};

use crate::atomic::OutputDir;
use crate::chart::{BarChart, LineChart, Series};
use crate::plot;
use crate::table::TableBuilder;
use crate::ReportError;

/// What [`write_capacity`] produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WrittenCapacity {
    pub files: Vec<PathBuf>,
    /// Things to tell the user (e.g. a PNG skipped for want of a font).
    pub notes: Vec<String>,
}

// ---------------------------------------------------------------- text

/// The answer as text for a terminal.
pub fn capacity_text(output: &CapacityOutput) -> String {
    match output {
        CapacityOutput::Profiles(l) => profiles_text(l),
        CapacityOutput::Queue(q) => queue_text(q),
        CapacityOutput::Plan(r) => plan_text(r),
    }
}

fn fmt_opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.prec$}"))
}

fn summary_rows(out: &mut String, rows: &[(&str, &Summary)]) {
    let _ = writeln!(
        out,
        "{:<9} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "(ms)", "mean", "p50", "p90", "p99", "p999", "max"
    );
    for (name, s) in rows {
        let m = s.to_ms();
        let _ = writeln!(
            out,
            "{name:<9} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>12.4} {:>12.4}",
            m.mean, m.p50, m.p90, m.p99, m.p999, m.max
        );
    }
}

fn profiles_text(l: &ProfileListing) -> String {
    let mut out = String::new();
    for p in &l.profiles {
        let _ = writeln!(
            out,
            "{:<40} {:>10.1} signs/s  {}\n{:<40} source: {}",
            p.name, p.capacity_per_s, p.figure, "", p.source
        );
    }
    if !l.aliases.is_empty() {
        let _ = writeln!(out, "aliases: {}", l.aliases.join(", "));
    }
    for n in &l.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

fn queue_text(q: &QueueReport) -> String {
    let st = &q.stats;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} queue: λ = {}/s, service {} {} ms, {} server(s), {} arrivals ({} warm-up), seed {}",
        q.model,
        q.arrival_rate_per_s,
        q.service,
        q.service_time_s * 1e3,
        q.servers,
        q.arrivals,
        q.warmup,
        q.seed
    );
    let _ = writeln!(
        out,
        "offered utilisation ρ = {:.4}{}",
        st.offered_utilisation,
        if st.stable {
            ""
        } else {
            "  UNSTABLE (ρ ≥ 1): waits grow with the run length"
        }
    );
    let _ = writeln!(
        out,
        "measured utilisation {:.4}, throughput {:.3}/s, P(wait > 0) = {:.4}",
        st.utilisation, st.throughput, st.prob_wait
    );
    summary_rows(
        &mut out,
        &[("waiting", &st.waiting), ("sojourn", &st.sojourn)],
    );
    match q.closed_form_mean_wait_s {
        Some(w) => {
            let _ = writeln!(
                out,
                "closed-form mean wait: {:.4} ms (simulated {:.4} ms)",
                w * 1e3,
                st.waiting.mean * 1e3
            );
        }
        None if st.stable => {
            let _ = writeln!(out, "closed-form mean wait: none for {}", q.model);
        }
        None => {}
    }
    out
}

fn plan_text(r: &CapacityReport) -> String {
    let mut out = String::new();
    plan_inputs(&mut out, r);
    plan_table(&mut out, r);
    plan_details(&mut out, r);
    out
}

/// The workload, the device and the targets.
fn plan_inputs(out: &mut String, r: &CapacityReport) {
    let w = &r.workload;
    let d = &r.device;
    let _ = writeln!(
        out,
        "workload: {} agents × {} edge workloads × {} calls/s = {:.1} API calls/s; AT lifetime {}, \
         refresh every {} ({:.2} refreshes/s, one per edge token); connections live {} ({:.2}/s)",
        w.workload.agents,
        w.workload.edges_per_agent,
        w.workload.calls_per_s,
        w.api_calls_per_s,
        duration(w.workload.at_lifetime_s),
        duration(w.workload.refresh_interval_s),
        w.refreshes_per_s,
        duration(w.workload.connection_lifetime_s),
        w.connections_per_s,
    );
    let _ = writeln!(
        out,
        "device: {} — {} ({} service, mean {:.4} ms, p99 {:.4} ms, {} server(s): {:.2} signs/s per device)",
        d.name, d.description, d.service, d.mean_service_ms, d.p99_service_ms, d.servers, d.capacity_per_s
    );
    let _ = writeln!(out, "  figure: {}\n  source: {}", d.figure, d.source);
    let _ = writeln!(
        out,
        "SLO: p99 signing latency (queueing + signing) ≤ {} ms; headroom: per-device utilisation ≤ {}; \
         {} simulated arrivals per device queue ({} warm-up), seed {}",
        r.slo_p99_s * 1e3,
        r.headroom,
        r.simulation.arrivals_per_queue,
        r.simulation.warmup,
        r.simulation.seed
    );
}

/// One line per strategy: load, devices, latency, SLO.
fn plan_table(out: &mut String, r: &CapacityReport) {
    let _ = writeln!(
        out,
        "\n{:<12} {:>14} {:>14} {:>9} {:>9} {:>9} {:>10} {:>7} {:>11} {:>13} {:>5}",
        "strategy",
        "device sig/s",
        "software sig/s",
        "devices",
        "min(ρ<1)",
        "limit",
        "sig/s/dev",
        "util",
        "wait p99ms",
        "sojourn p99ms",
        "SLO"
    );
    for p in &r.plans {
        let st: Option<&QueueStats> = p.per_device.as_ref();
        let devices = match (p.sizing, p.devices) {
            (Sizing::SloBelowServiceTime | Sizing::CapReached, _) => "none".to_string(),
            (_, Some(d)) => d.to_string(),
            (_, None) => "-".to_string(),
        };
        let limit = match (p.sizing, p.limited_by) {
            (Sizing::Given, _) => "given".to_string(),
            (_, Some(l)) => l.name().to_string(),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{:<12} {:>14.1} {:>14.1} {:>9} {:>9} {:>9} {:>10} {:>7} {:>11} {:>13} {:>5}",
            p.strategy.name(),
            p.load.device_signs_per_s,
            p.load.software_signs_per_s,
            devices,
            p.min_devices_for_stability,
            limit,
            fmt_opt(p.per_device_signs_per_s, 2),
            fmt_opt(st.map(|s| s.offered_utilisation), 3),
            fmt_opt(st.map(|s| s.waiting.p99 * 1e3), 2),
            fmt_opt(st.map(|s| s.sojourn.p99 * 1e3), 2),
            match p.slo_met {
                Some(true) => "met",
                Some(false) => "MISS",
                None => "-",
            }
        );
    }
}

/// Dedicated devices, what each strategy's device signs, and notes.
fn plan_details(out: &mut String, r: &CapacityReport) {
    let _ = writeln!(
        out,
        "\none device per agent (e.g. a TPM in each agent's host):"
    );
    for p in &r.plans {
        if let Some(d) = p.dedicated.as_ref().filter(|d| d.signs_per_s > 0.0) {
            let _ = writeln!(
                out,
                "  {:<12} {:>10.4} signs/s per device, utilisation {:.4}{}, p99 sojourn {:.2} ms: SLO {}",
                p.strategy.name(),
                d.signs_per_s,
                d.queue.utilisation,
                if d.queue.stable { "" } else { " (UNSTABLE)" },
                d.queue.sojourn.p99 * 1e3,
                if d.slo_met { "met" } else { "MISSED" }
            );
        }
    }
    let _ = writeln!(out, "\nwhat the device signs:");
    for p in &r.plans {
        let _ = writeln!(out, "  {}: {}", p.strategy.name(), p.load.basis);
        if !p.note.is_empty() {
            let _ = writeln!(out, "    note: {}", p.note);
        }
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
}

/// `900` → `15m`, `3600` → `1h`, else seconds: exact for the round values plans use.
fn duration(seconds: f64) -> String {
    if seconds >= 3600.0 && seconds % 3600.0 == 0.0 {
        format!("{}h", seconds / 3600.0)
    } else if seconds >= 60.0 && seconds % 60.0 == 0.0 {
        format!("{}m", seconds / 60.0)
    } else {
        format!("{seconds}s")
    }
}

// ---------------------------------------------------------------- files

/// Writes into `dir`, atomically: `capacity.csv`/`.parquet` (one row per strategy),
/// `capacity-sweep.csv`/`.parquet` (latency against load on each strategy's fleet),
/// `capacity.json` (the report), `capacity-<strategy>.svg`/`.png` and `capacity-devices.svg`/`.png`.
pub fn write_capacity(
    dir: &Path,
    report: &CapacityReport,
    sweeps: &[StrategySweep],
) -> Result<WrittenCapacity, ReportError> {
    let staging = OutputDir::create(dir)?;
    let mut files: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    let plans = TableBuilder::from_rows(&plan_rows(report))?;
    let plan_cells = plans.cells();
    plans.write(staging.path(), "capacity")?;
    files.extend(["capacity.csv".into(), "capacity.parquet".into()]);
    let sweep = TableBuilder::from_rows(&sweep_rows(sweeps))?;
    let sweep_cells = sweep.cells();
    sweep.write(staging.path(), "capacity-sweep")?;
    files.extend(["capacity-sweep.csv".into(), "capacity-sweep.parquet".into()]);

    let mut plot_files = |stem: &str, f: plot::PlotFiles| {
        files.push(format!("{stem}.svg"));
        if f.png.is_some() {
            files.push(format!("{stem}.png"));
        }
        notes.extend(f.notes.iter().map(|n| format!("{stem}: {n}")));
        f.svg_markup
    };
    let mut latency = Vec::new();
    for sw in sweeps {
        let stem = format!("capacity-{}", sw.strategy);
        let f = plot::write_line_chart(staging.path(), &stem, &sweep_chart(report, sw))?;
        latency.push((sw.strategy, plot_files(&stem, f)));
    }
    let f = plot::write_bar_chart(staging.path(), "capacity-devices", &devices_chart(report))?;
    let devices = plot_files("capacity-devices", f);

    crate::write_json(&staging.path().join("capacity.json"), report)?;
    files.push("capacity.json".into());

    // index.html: the same tables, and the chart files' SVG inlined.
    let mut page = crate::html::Page::new("leaklab capacity plan");
    page.section("plan", "Plan per strategy");
    page.data_table(&plan_cells);
    page.raw("<p>The full report: <a href=\"capacity.json\">capacity.json</a>; tables as <a href=\"capacity.csv\">capacity.csv</a> and <a href=\"capacity-sweep.csv\">capacity-sweep.csv</a>.</p>");
    page.section("devices", "Devices per strategy");
    page.inline_svg("Devices needed per strategy", &devices);
    page.section("latency", "Latency against load");
    for (strategy, svg) in &latency {
        page.inline_svg(&format!("{strategy}: latency against load"), svg);
    }
    page.raw("<details><summary>Table view</summary>");
    page.data_table(&sweep_cells);
    page.raw("</details>");
    let index = staging.path().join("index.html");
    std::fs::write(&index, page.finish()).map_err(|e| ReportError::io(&index, e))?;
    files.push("index.html".into());

    let dest = staging.commit()?;
    Ok(WrittenCapacity {
        files: files.into_iter().map(|f| dest.join(f)).collect(),
        notes,
    })
}

/// `capacity`: one row per strategy, the workload repeated on each.
#[derive(Serialize, Deserialize)]
struct PlanRow {
    strategy: String,
    device_profile: String,
    agents: u64,
    edges_per_agent: u64,
    calls_per_s: f64,
    at_lifetime_s: f64,
    refresh_interval_s: f64,
    connection_lifetime_s: f64,
    device_signs_per_s: f64,
    device_signs_calls_per_s: f64,
    device_signs_refreshes_per_s: f64,
    device_signs_connections_per_s: f64,
    software_signs_per_s: f64,
    sizing: String,
    limited_by: Option<String>,
    devices: Option<u64>,
    min_devices_for_stability: u64,
    min_devices_for_headroom: u64,
    headroom: f64,
    per_device_signs_per_s: Option<f64>,
    utilisation: Option<f64>,
    measured_utilisation: Option<f64>,
    wait_mean_ms: Option<f64>,
    wait_p50_ms: Option<f64>,
    wait_p90_ms: Option<f64>,
    wait_p99_ms: Option<f64>,
    wait_p999_ms: Option<f64>,
    sojourn_mean_ms: Option<f64>,
    sojourn_p50_ms: Option<f64>,
    sojourn_p90_ms: Option<f64>,
    sojourn_p99_ms: Option<f64>,
    sojourn_p999_ms: Option<f64>,
    closed_form_wait_mean_ms: Option<f64>,
    slo_p99_ms: f64,
    /// `true`/`false` as text (the table's type since it was first written).
    slo_met: Option<String>,
    headroom_met: Option<String>,
    dedicated_signs_per_s: Option<f64>,
    dedicated_utilisation: Option<f64>,
    dedicated_sojourn_p99_ms: Option<f64>,
    note: String,
}

/// Seconds as milliseconds.
fn ms(seconds: f64) -> f64 {
    seconds * 1e3
}

fn plan_rows(r: &CapacityReport) -> Vec<PlanRow> {
    let w = &r.workload.workload;
    r.plans
        .iter()
        .map(|p| {
            let stat = |f: fn(&QueueStats) -> f64| p.per_device.as_ref().map(f);
            PlanRow {
                strategy: p.strategy.name().to_string(),
                device_profile: p.profile.clone(),
                agents: w.agents,
                edges_per_agent: w.edges_per_agent,
                calls_per_s: w.calls_per_s,
                at_lifetime_s: w.at_lifetime_s,
                refresh_interval_s: w.refresh_interval_s,
                connection_lifetime_s: w.connection_lifetime_s,
                device_signs_per_s: p.load.device_signs_per_s,
                device_signs_calls_per_s: p.load.device_signs.calls,
                device_signs_refreshes_per_s: p.load.device_signs.refreshes,
                device_signs_connections_per_s: p.load.device_signs.connections,
                software_signs_per_s: p.load.software_signs_per_s,
                sizing: p.sizing.name().to_string(),
                limited_by: p.limited_by.map(|l| l.name().to_string()),
                devices: p.devices,
                min_devices_for_stability: p.min_devices_for_stability,
                min_devices_for_headroom: p.min_devices_for_headroom,
                headroom: r.headroom,
                per_device_signs_per_s: p.per_device_signs_per_s,
                utilisation: stat(|s| s.offered_utilisation),
                measured_utilisation: stat(|s| s.utilisation),
                wait_mean_ms: stat(|s| ms(s.waiting.mean)),
                wait_p50_ms: stat(|s| ms(s.waiting.p50)),
                wait_p90_ms: stat(|s| ms(s.waiting.p90)),
                wait_p99_ms: stat(|s| ms(s.waiting.p99)),
                wait_p999_ms: stat(|s| ms(s.waiting.p999)),
                sojourn_mean_ms: stat(|s| ms(s.sojourn.mean)),
                sojourn_p50_ms: stat(|s| ms(s.sojourn.p50)),
                sojourn_p90_ms: stat(|s| ms(s.sojourn.p90)),
                sojourn_p99_ms: stat(|s| ms(s.sojourn.p99)),
                sojourn_p999_ms: stat(|s| ms(s.sojourn.p999)),
                closed_form_wait_mean_ms: p.closed_form_mean_wait_s.map(ms),
                slo_p99_ms: ms(r.slo_p99_s),
                slo_met: p.slo_met.map(|b| b.to_string()),
                headroom_met: p.headroom_met.map(|b| b.to_string()),
                dedicated_signs_per_s: p.dedicated.as_ref().map(|d| d.signs_per_s),
                dedicated_utilisation: p.dedicated.as_ref().map(|d| d.queue.utilisation),
                dedicated_sojourn_p99_ms: p.dedicated.as_ref().map(|d| ms(d.queue.sojourn.p99)),
                note: p.note.clone(),
            }
        })
        .collect()
}

/// `capacity-sweep`: latency against load on each strategy's fleet.
#[derive(Serialize, Deserialize)]
struct SweepRow {
    strategy: String,
    devices: u64,
    rho: f64,
    offered_signs_per_s: f64,
    utilisation: f64,
    wait_mean_ms: f64,
    sojourn_mean_ms: f64,
    sojourn_p99_ms: f64,
}

fn sweep_rows(sweeps: &[StrategySweep]) -> Vec<SweepRow> {
    sweeps
        .iter()
        .flat_map(|s| {
            s.points.iter().map(move |p| SweepRow {
                strategy: s.strategy.to_string(),
                devices: s.devices,
                rho: p.rho,
                offered_signs_per_s: p.offered_signs_per_s,
                utilisation: p.stats.utilisation,
                wait_mean_ms: p.stats.waiting.mean * 1e3,
                sojourn_mean_ms: p.stats.sojourn.mean * 1e3,
                sojourn_p99_ms: p.stats.sojourn.p99 * 1e3,
            })
        })
        .collect()
}

fn sweep_chart(r: &CapacityReport, sw: &StrategySweep) -> LineChart {
    let slo_ms = r.slo_p99_s * 1e3;
    let pts = &sw.points;
    let (x0, x1) = (
        pts.first().map_or(0.0, |p| p.offered_signs_per_s),
        pts.last().map_or(1.0, |p| p.offered_signs_per_s),
    );
    let line = |f: fn(&QueueStats) -> f64| -> Vec<(f64, f64)> {
        pts.iter()
            .map(|p| (p.offered_signs_per_s, f(&p.stats) * 1e3))
            .collect()
    };
    let capacity = r.profile.capacity_per_s() * sw.devices as f64;
    let mut series = vec![
        Series::new("p99 sojourn", line(|s| s.sojourn.p99)),
        Series::new("mean sojourn", line(|s| s.sojourn.mean)),
        Series::new(format!("SLO {slo_ms} ms"), vec![(x0, slo_ms), (x1, slo_ms)]),
        Series::new(
            format!("headroom ρ = {}", r.headroom),
            vec![(r.headroom * capacity, slo_ms)],
        ),
    ];
    if let Some(p) = r.plans.iter().find(|p| p.strategy.name() == sw.strategy) {
        if let Some(st) = &p.per_device {
            series.push(Series::new(
                "required load",
                vec![(p.load.device_signs_per_s, st.sojourn.p99 * 1e3)],
            ));
        }
    }
    LineChart {
        id: format!("capacity-{}", sw.strategy),
        title: format!(
            "{}: {} × {} (p99 signing latency vs load)",
            sw.strategy, sw.devices, r.profile.name
        ),
        x_label: format!(
            "offered device signatures/s across {} device(s)",
            sw.devices
        ),
        y_label: "sojourn time (queueing + signing), ms".into(),
        log_x: false,
        log_y: true,
        series,
        x_range: None,
        y_range: None,
        table: None,
    }
}

fn devices_chart(r: &CapacityReport) -> BarChart {
    BarChart {
        id: "capacity-devices".into(),
        title: format!(
            "devices needed: {} (p99 ≤ {} ms, ρ ≤ {})",
            r.profile.name,
            r.slo_p99_s * 1e3,
            r.headroom
        ),
        x_label: "strategy (those without device signatures need none and are not shown)".into(),
        y_label: "devices".into(),
        log_y: true,
        bars: r
            .plans
            .iter()
            .filter(|p| p.sizing != Sizing::NoDeviceLoad)
            .map(|p| {
                (
                    p.strategy.name().to_string(),
                    p.devices.map_or(f64::NAN, |d| d as f64),
                )
            })
            .collect(),
        lines: Vec::new(),
    }
}
