//! `testbed load`'s result directory: `load.csv` / `load.parquet` (one row per target) and
//! `index.html` (the same table, the reference and the ratio), written atomically.

use std::path::{Path, PathBuf};

use leaklab_testbed::{LoadRow, Reference};

use super::atomic::OutputDir;
use super::html::Page;
use super::table::TableBuilder;
use super::ReportError;

/// Writes `dest` for the load run's `rows`. `meta` lines go to the page's head.
pub fn write(dest: &Path, rows: &[LoadRow], meta: &[String]) -> Result<PathBuf, ReportError> {
    let staging = OutputDir::create(dest)?;
    let table = TableBuilder::new()
        .text("target", rows.iter().map(|r| r.target.clone()).collect())
        .int(
            "concurrency",
            rows.iter().map(|r| r.concurrency as u64).collect(),
        )
        .int("answered_ok", rows.iter().map(|r| r.ok).collect())
        .int("failed", rows.iter().map(|r| r.failed).collect())
        .float("seconds", rows.iter().map(|r| r.seconds).collect())
        .float("ok_per_s", rows.iter().map(|r| r.per_s).collect())
        .float(
            "ok_per_process_cpu_s",
            rows.iter().map(|r| r.per_cpu_s).collect(),
        )
        .float(
            "ok_per_server_cpu_s",
            rows.iter().map(|r| r.per_server_cpu_s).collect(),
        )
        .int("p50_us", rows.iter().map(|r| r.p50_us).collect())
        .int("p90_us", rows.iter().map(|r| r.p90_us).collect())
        .int("p99_us", rows.iter().map(|r| r.p99_us).collect())
        .int("p999_us", rows.iter().map(|r| r.p999_us).collect())
        .int(
            "slices",
            rows.iter().map(|r| r.slices.len() as u64).collect(),
        )
        .float_opt(
            "openssl_verify_per_s",
            rows.iter().map(LoadRow::reference_per_s).collect(),
        )
        .float_opt(
            "ratio_to_openssl_verify_per_core",
            rows.iter().map(LoadRow::ratio).collect(),
        )
        .float_opt(
            "ratio_min",
            rows.iter().map(|r| r.ratio_range().map(|r| r.0)).collect(),
        )
        .float_opt(
            "ratio_max",
            rows.iter().map(|r| r.ratio_range().map(|r| r.1)).collect(),
        );
    let cells = table.cells();
    table.write(staging.path(), "load")?;
    let mut page = Page::new("leaklab testbed load");
    page.section("load", "Closed-loop load on the live servers");
    page.text("Each client sends its next request when the previous one is answered. Latency is per HTTP request (proof signing excluded). Clients and servers share one process: ok_per_process_cpu_s counts the whole process's CPU time (servers, TLS on both ends, the clients' signing) per answered request; ok_per_server_cpu_s counts only the servers' threads (their own runtime, two worker threads).");
    let reference = Reference::of(rows);
    match &reference {
        Reference::Measured | Reference::Partial(_) => page.text("Reference measured in the same run: each target runs in slices, each slice followed by openssl speed ecdsap256 (one thread, verify/s). ratio_to_openssl_verify_per_core is the median over slices of the slice's ok_per_server_cpu_s / the reference measured right after it (ratio_min, ratio_max: the extremes); alternating keeps a drift of the machine's speed out of the ratio."),
        Reference::Missing(why) => page.text(&format!("No openssl reference: {why}.")),
    }
    for m in meta {
        page.text(m);
    }
    if let Reference::Partial(_) = &reference {
        page.text(&reference.to_string());
    }
    page.data_table(&cells);
    let index = staging.path().join("index.html");
    std::fs::write(&index, page.finish()).map_err(|e| ReportError::io(index.clone(), e))?;
    staging.commit()
}
