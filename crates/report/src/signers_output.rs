//! `signers.csv` / `signers.parquet`: the table `leaklab bench signers` writes and
//! `leaklab capacity` reads back (`leaklab_capacity::profile`), with the one column list
//! (`leaklab_base::signers_csv`).

use std::path::{Path, PathBuf};

use leaklab_base::signers_csv::COLUMNS;
use leaklab_signer_bench::{Latency, Report, Row};

use crate::atomic::StagedFiles;
use crate::table::TableBuilder;
use crate::ReportError;

/// The table's base name.
pub const TABLE: &str = "signers";

/// Writes `<out>/signers.csv` and `<out>/signers.parquet`, each replaced atomically; other files
/// in `out` are left alone. Returns the written paths.
pub fn write_signers(out: &Path, report: &Report) -> Result<Vec<PathBuf>, ReportError> {
    let staged = StagedFiles::create(out)?;
    table(report).write(staged.path(), TABLE)?;
    // index.html: the measurements, and links to the pages of the result directories beside
    // them (this directory is usually `results/`).
    let mut page = crate::html::Page::new("leaklab signer measurements");
    page.section("signers", "Signers");
    page.text(&format!("Measured on {} by leaklab {}; ops/s count completed signatures, latencies are per signature in microseconds.", report.host, env!("CARGO_PKG_VERSION")));
    page.data_table(&table(report).cells());
    page.raw("<p>As a table: <a href=\"signers.csv\">signers.csv</a>.</p>");
    let mut others: Vec<String> = std::fs::read_dir(out)
        .map_err(|e| ReportError::io(out, e))?
        .flatten()
        .filter(|e| e.path().join("index.html").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    others.sort();
    if !others.is_empty() {
        page.section("results", "Other results here");
        let links: String = others
            .iter()
            .map(|n| {
                let n = crate::html::esc(n);
                format!("<li><a href=\"{n}/index.html\">{n}</a></li>")
            })
            .collect();
        page.raw(&format!("<ul>{links}</ul>"));
    }
    let index = staged.path().join("index.html");
    std::fs::write(&index, page.finish()).map_err(|e| ReportError::io(&index, e))?;
    staged.commit()
}

/// The rows as a table, one column per [`COLUMNS`] entry in that order.
fn table(report: &Report) -> TableBuilder {
    let rows = &report.rows;
    let text = |f: fn(&Row) -> &str| rows.iter().map(|r| f(r).to_string()).collect();
    let latency =
        |f: fn(&Latency) -> f64| rows.iter().map(|r| r.latency_us.as_ref().map(f)).collect();
    let constant = |v: &str| vec![v.to_string(); rows.len()];
    TableBuilder::new()
        .text(COLUMNS[0], text(|r| &r.device))
        .text(COLUMNS[1], text(|r| &r.backend))
        .text(COLUMNS[2], text(|r| &r.operation))
        .uint32(COLUMNS[3], rows.iter().map(|r| r.concurrency).collect())
        .float(COLUMNS[4], rows.iter().map(|r| r.ops_per_s).collect())
        .float_opt(COLUMNS[5], rows.iter().map(|r| r.mean_us).collect())
        .float_opt(COLUMNS[6], latency(|l| l.p10))
        .float_opt(COLUMNS[7], latency(|l| l.p50))
        .float_opt(COLUMNS[8], latency(|l| l.p90))
        .float_opt(COLUMNS[9], latency(|l| l.p99))
        .float_opt(COLUMNS[10], latency(|l| l.p999))
        .float_opt(COLUMNS[11], latency(|l| l.max))
        .int_opt(COLUMNS[12], rows.iter().map(|r| r.samples).collect())
        .text_opt(
            COLUMNS[13],
            rows.iter().map(|r| r.reference.clone()).collect(),
        )
        .float_opt(
            COLUMNS[14],
            rows.iter().map(|r| r.ratio_to_reference).collect(),
        )
        .text(COLUMNS[15], constant(&report.host))
        .text(COLUMNS[16], constant(env!("CARGO_PKG_VERSION")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let row = Row {
            device: "software".into(),
            backend: "p256".into(),
            operation: leaklab_signer_bench::OPERATION.into(),
            concurrency: 1,
            ops_per_s: 4000.0,
            mean_us: Some(250.0),
            latency_us: Some(Latency {
                p10: 240.0,
                p50: 249.0,
                p90: 260.0,
                p99: 300.0,
                p999: 400.0,
                max: 500.0,
            }),
            samples: Some(40),
            reference: Some("openssl speed".into()),
            ratio_to_reference: Some(0.1),
        };
        let openssl = Row {
            device: "software".into(),
            backend: "OpenSSL 3.0.13".into(),
            operation: "openssl speed".into(),
            concurrency: 1,
            ops_per_s: 40000.0,
            mean_us: Some(25.0),
            latency_us: None,
            samples: None,
            reference: None,
            ratio_to_reference: None,
        };
        Report {
            rows: vec![row, openssl],
            skipped: Vec::new(),
            host: "Test CPU (2 cores)".into(),
        }
    }

    #[test]
    fn writes_the_columns_the_capacity_reader_expects() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("keep.txt"), "other results").expect("write");
        let written = write_signers(dir.path(), &report()).expect("write signers");
        assert_eq!(
            written,
            [
                dir.path().join("index.html"),
                dir.path().join("signers.csv"),
                dir.path().join("signers.parquet")
            ]
        );
        assert!(dir.path().join("keep.txt").exists());
        let csv = std::fs::read_to_string(dir.path().join("signers.csv")).expect("csv");
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(COLUMNS.join(",").as_str()));
        assert_eq!(
            lines.next(),
            Some(
                "software,p256,es256 sign,1,4000.0,250.0,240.0,249.0,260.0,300.0,400.0,500.0,40,\
                 openssl speed,0.1,Test CPU (2 cores),"
            )
            .map(|l| format!("{l}{}", env!("CARGO_PKG_VERSION")))
            .as_deref()
        );
        assert_eq!(
            lines.next(),
            Some(
                "software,OpenSSL 3.0.13,openssl speed,1,40000.0,25.0,,,,,,,,,,Test CPU (2 cores),"
            )
            .map(|l| format!("{l}{}", env!("CARGO_PKG_VERSION")))
            .as_deref()
        );
        // The capacity planner reads it back.
        let measured = leaklab_capacity::profile::parse_measured_csv(&csv, "signers.csv")
            .expect("capacity reads signers.csv");
        assert_eq!(measured.profiles.len(), 1);
    }
}
