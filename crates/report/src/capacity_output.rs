//! `leaklab capacity` output: the text rendering of every answer, and the `--out DIR` files of a
//! plan (tables, plots, `capacity.json`), published atomically.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use leaklab_capacity::planner::Sizing;
use leaklab_capacity::{
    CapacityOutput, CapacityReport, ProfileListing, QueueReport, QueueStats, StrategySweep, Summary,
};

use crate::output_dir::OutputDir;
use crate::plot::{self, BarChart, LineChart, Series};
use crate::table::TableBuilder;
use crate::ReportError;

/// What [`write`] produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// Things to tell the user (e.g. a PNG skipped for want of a font).
    pub notes: Vec<String>,
}

// ---------------------------------------------------------------- text

/// The answer as text for a terminal.
pub fn render_text(output: &CapacityOutput) -> String {
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
    out
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
pub fn write(
    dir: &Path,
    report: &CapacityReport,
    sweeps: &[StrategySweep],
) -> Result<Written, ReportError> {
    let staging = OutputDir::create(dir)?;
    let mut files: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    plans_table(report).write(staging.path(), "capacity")?;
    files.extend(["capacity.csv".into(), "capacity.parquet".into()]);
    sweep_table(sweeps).write(staging.path(), "capacity-sweep")?;
    files.extend(["capacity-sweep.csv".into(), "capacity-sweep.parquet".into()]);

    let mut plot_files = |stem: String, f: plot::PlotFiles| {
        files.push(format!("{stem}.svg"));
        if f.png.is_some() {
            files.push(format!("{stem}.png"));
        }
        notes.extend(f.notes.into_iter().map(|n| format!("{stem}: {n}")));
    };
    for sw in sweeps {
        let stem = format!("capacity-{}", sw.strategy);
        let f = plot::write_line_chart(staging.path(), &stem, &sweep_chart(report, sw))?;
        plot_files(stem, f);
    }
    let f = plot::write_bar_chart(staging.path(), "capacity-devices", &devices_chart(report))?;
    plot_files("capacity-devices".into(), f);

    crate::write_json(&staging.path().join("capacity.json"), report)?;
    files.push("capacity.json".into());

    // index.html: the same tables and plots on one page.
    let mut page = crate::html::Page::new("leaklab capacity plan");
    page.section("plan", "Plan per strategy");
    page.data_table(&plans_table(report).cells());
    page.raw("<p>The full report: <a href=\"capacity.json\">capacity.json</a>; tables as <a href=\"capacity.csv\">capacity.csv</a> and <a href=\"capacity-sweep.csv\">capacity-sweep.csv</a>.</p>");
    page.section("devices", "Devices per strategy");
    let read_svg = |stem: &str| {
        let path = staging.path().join(format!("{stem}.svg"));
        std::fs::read_to_string(&path).map_err(|e| ReportError::io(&path, e))
    };
    page.inline_svg(
        "Devices needed per strategy",
        &read_svg("capacity-devices")?,
    );
    page.section("latency", "Latency against load");
    for sw in sweeps {
        let stem = format!("capacity-{}", sw.strategy);
        page.inline_svg(
            &format!("{}: latency against load", sw.strategy),
            &read_svg(&stem)?,
        );
    }
    page.raw("<details><summary>Table view</summary>");
    page.data_table(&sweep_table(sweeps).cells());
    page.raw("</details>");
    let index = staging.path().join("index.html");
    std::fs::write(&index, page.finish()).map_err(|e| ReportError::io(&index, e))?;
    files.push("index.html".into());

    let dest = staging.commit()?;
    Ok(Written {
        files: files.into_iter().map(|f| dest.join(f)).collect(),
        notes,
    })
}

fn plans_table(r: &CapacityReport) -> TableBuilder {
    let plans = &r.plans;
    let n = plans.len();
    let w = &r.workload.workload;
    let stat = |f: fn(&QueueStats) -> f64| -> Vec<Option<f64>> {
        plans.iter().map(|p| p.per_device.as_ref().map(f)).collect()
    };
    let opt = |f: &dyn Fn(&leaklab_capacity::StrategyPlan) -> Option<f64>| -> Vec<Option<f64>> {
        plans.iter().map(f).collect()
    };
    TableBuilder::new()
        .text(
            "strategy",
            plans
                .iter()
                .map(|p| p.strategy.name().to_string())
                .collect(),
        )
        .text(
            "device_profile",
            plans.iter().map(|p| p.profile.clone()).collect(),
        )
        .int("agents", vec![w.agents; n])
        .int("edges_per_agent", vec![w.edges_per_agent; n])
        .float("calls_per_s", vec![w.calls_per_s; n])
        .float("at_lifetime_s", vec![w.at_lifetime_s; n])
        .float("refresh_interval_s", vec![w.refresh_interval_s; n])
        .float("connection_lifetime_s", vec![w.connection_lifetime_s; n])
        .float(
            "device_signs_per_s",
            plans.iter().map(|p| p.load.device_signs_per_s).collect(),
        )
        .float(
            "device_signs_calls_per_s",
            plans.iter().map(|p| p.load.device_signs.calls).collect(),
        )
        .float(
            "device_signs_refreshes_per_s",
            plans
                .iter()
                .map(|p| p.load.device_signs.refreshes)
                .collect(),
        )
        .float(
            "device_signs_connections_per_s",
            plans
                .iter()
                .map(|p| p.load.device_signs.connections)
                .collect(),
        )
        .float(
            "software_signs_per_s",
            plans.iter().map(|p| p.load.software_signs_per_s).collect(),
        )
        .text(
            "sizing",
            plans.iter().map(|p| p.sizing.name().to_string()).collect(),
        )
        .text_opt(
            "limited_by",
            plans
                .iter()
                .map(|p| p.limited_by.map(|l| l.name().to_string()))
                .collect(),
        )
        .int_opt("devices", plans.iter().map(|p| p.devices).collect())
        .int(
            "min_devices_for_stability",
            plans.iter().map(|p| p.min_devices_for_stability).collect(),
        )
        .int(
            "min_devices_for_headroom",
            plans.iter().map(|p| p.min_devices_for_headroom).collect(),
        )
        .float("headroom", vec![r.headroom; n])
        .float_opt("per_device_signs_per_s", opt(&|p| p.per_device_signs_per_s))
        .float_opt("utilisation", stat(|s| s.offered_utilisation))
        .float_opt("measured_utilisation", stat(|s| s.utilisation))
        .float_opt("wait_mean_ms", stat(|s| s.waiting.mean * 1e3))
        .float_opt("wait_p50_ms", stat(|s| s.waiting.p50 * 1e3))
        .float_opt("wait_p90_ms", stat(|s| s.waiting.p90 * 1e3))
        .float_opt("wait_p99_ms", stat(|s| s.waiting.p99 * 1e3))
        .float_opt("wait_p999_ms", stat(|s| s.waiting.p999 * 1e3))
        .float_opt("sojourn_mean_ms", stat(|s| s.sojourn.mean * 1e3))
        .float_opt("sojourn_p50_ms", stat(|s| s.sojourn.p50 * 1e3))
        .float_opt("sojourn_p90_ms", stat(|s| s.sojourn.p90 * 1e3))
        .float_opt("sojourn_p99_ms", stat(|s| s.sojourn.p99 * 1e3))
        .float_opt("sojourn_p999_ms", stat(|s| s.sojourn.p999 * 1e3))
        .float_opt(
            "closed_form_wait_mean_ms",
            opt(&|p| p.closed_form_mean_wait_s.map(|w| w * 1e3)),
        )
        .float("slo_p99_ms", vec![r.slo_p99_s * 1e3; n])
        .text_opt(
            "slo_met",
            plans
                .iter()
                .map(|p| p.slo_met.map(|b| b.to_string()))
                .collect(),
        )
        .text_opt(
            "headroom_met",
            plans
                .iter()
                .map(|p| p.headroom_met.map(|b| b.to_string()))
                .collect(),
        )
        .float_opt(
            "dedicated_signs_per_s",
            opt(&|p| p.dedicated.as_ref().map(|d| d.signs_per_s)),
        )
        .float_opt(
            "dedicated_utilisation",
            opt(&|p| p.dedicated.as_ref().map(|d| d.queue.utilisation)),
        )
        .float_opt(
            "dedicated_sojourn_p99_ms",
            opt(&|p| p.dedicated.as_ref().map(|d| d.queue.sojourn.p99 * 1e3)),
        )
        .text("note", plans.iter().map(|p| p.note.clone()).collect())
}

fn sweep_table(sweeps: &[StrategySweep]) -> TableBuilder {
    let rows: Vec<(&StrategySweep, &leaklab_capacity::planner::SweepPoint)> = sweeps
        .iter()
        .flat_map(|s| s.points.iter().map(move |p| (s, p)))
        .collect();
    let col = |f: fn(&leaklab_capacity::planner::SweepPoint) -> f64| -> Vec<f64> {
        rows.iter().map(|(_, p)| f(p)).collect()
    };
    TableBuilder::new()
        .text(
            "strategy",
            rows.iter().map(|(s, _)| s.strategy.to_string()).collect(),
        )
        .int("devices", rows.iter().map(|(s, _)| s.devices).collect())
        .float("rho", col(|p| p.rho))
        .float("offered_signs_per_s", col(|p| p.offered_signs_per_s))
        .float("utilisation", col(|p| p.stats.utilisation))
        .float("wait_mean_ms", col(|p| p.stats.waiting.mean * 1e3))
        .float("sojourn_mean_ms", col(|p| p.stats.sojourn.mean * 1e3))
        .float("sojourn_p99_ms", col(|p| p.stats.sojourn.p99 * 1e3))
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
    let mut series = vec![
        Series {
            name: "p99 sojourn".into(),
            points: line(|s| s.sojourn.p99),
        },
        Series {
            name: "mean sojourn".into(),
            points: line(|s| s.sojourn.mean),
        },
        Series {
            name: format!("SLO {slo_ms} ms"),
            points: vec![(x0, slo_ms), (x1, slo_ms)],
        },
    ];
    let capacity = r.profile.capacity_per_s() * sw.devices as f64;
    series.push(Series {
        name: format!("headroom ρ = {}", r.headroom),
        points: vec![(r.headroom * capacity, slo_ms)],
    });
    if let Some(p) = r.plans.iter().find(|p| p.strategy.name() == sw.strategy) {
        if let Some(st) = &p.per_device {
            series.push(Series {
                name: "required load".into(),
                points: vec![(p.load.device_signs_per_s, st.sojourn.p99 * 1e3)],
            });
        }
    }
    LineChart {
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
    }
}

fn devices_chart(r: &CapacityReport) -> BarChart {
    BarChart {
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
    }
}
