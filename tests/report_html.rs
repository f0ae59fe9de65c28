//! The run directory's `index.html` in a real browser: headless Chromium loads it from
//! `file://` with the page's self-test (`#selftest`: every chart drawn, toggling a strategy hides
//! its curves, no resource loaded, no script error), no console error, and writes a screenshot
//! next to the test output. The page is byte-identical between two runs of the same seed. With
//! CI=true a missing browser fails the test.

mod common;
use common::{missing_part, repo};

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_leaklab");

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find_map(|b| which::which(b).ok())
}

/// Headless Chromium on `url` with a fresh profile, no extensions and no background networking
/// (this machine's network is closed), console messages on stderr; `extra` adds `--dump-dom` or
/// `--screenshot=…`.
fn headless(browser: &Path, url: &str, profile: &Path, extra: &[String]) -> std::process::Output {
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        o.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// What the page's `#selftest` script wrote to `body[data-selftest]`.
fn selftest_verdict(dom: &str) -> &str {
    dom.split("data-selftest=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("(no self-test result: the page's script did not run)")
}

fn run_into(dir: &Path) {
    let o = Command::new(BIN)
        .args([
            "run",
            "scenarios/ietf124.toml",
            "--replications",
            "2",
            "--customers",
            "300",
            "--quiet",
            "--out",
        ])
        .arg(dir)
        .current_dir(repo())
        .output()
        .expect("leaklab run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn the_run_page_is_deterministic_and_self_contained() {
    let t = tempfile::tempdir().expect("tempdir");
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    run_into(&a);
    run_into(&b);
    let page = std::fs::read(a.join("index.html")).expect("index.html");
    assert_eq!(
        page,
        std::fs::read(b.join("index.html")).expect("index.html")
    );
    let text = String::from_utf8(page).expect("UTF-8");
    // Nothing is fetched: no external script, style, image or font; links to sources are plain
    // anchors, which the browser does not load.
    for needle in ["<script src", "<link", "<img", "@import", "url("] {
        assert!(!text.contains(needle), "index.html contains {needle}");
    }
    assert!(text.contains("Content-Security-Policy"));
    // The committed default run carries its page too.
    assert!(repo().join("results/ietf124/index.html").exists());
}

#[test]
fn the_default_run_page_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        missing_part("no Chromium (scripts/setup installs Debian's chromium)");
        return;
    };
    let page = repo().join("results/ietf124/index.html");
    let url = format!("file://{}#selftest", page.display());
    let profile = tempfile::tempdir().expect("profile dir");
    let render = |extra: &[String]| headless(&browser, &url, profile.path(), extra);
    let dom = render(&["--dump-dom".to_string()]);
    let html = String::from_utf8_lossy(&dom.stdout);
    let verdict = selftest_verdict(&html);
    assert!(verdict.starts_with("pass"), "self-test: {verdict}");
    let charts: usize = verdict
        .trim_start_matches("pass: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(charts >= 13, "{verdict}");
    let stderr = String::from_utf8_lossy(&dom.stderr);
    for line in stderr.lines().filter(|l| l.contains("CONSOLE")) {
        assert!(
            !(line.contains("ERROR") || line.contains("Uncaught") || line.contains("Refused")),
            "console: {line}"
        );
    }
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ietf124-index.png");
    let _ = std::fs::remove_file(&shot);
    render(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1280,2400".to_string(),
    ]);
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} is {size} bytes",
        shot.display()
    );
    eprintln!("screenshot: {}", shot.display());
}

/// The drill and load pages: written by the report crate from the same rows as their tables,
/// loaded from `file://` in headless Chromium with the self-test (no script error, no resource
/// fetched).
#[test]
fn the_drill_and_load_pages_render_in_headless_chromium() {
    use leaklab_drill::{CellResult, CustomerResult};
    use leaklab_report::{drill_output, load_output};
    use leaklab_testbed::{LoadRow, Slice};
    let Some(browser) = chromium() else {
        missing_part("no Chromium (scripts/setup installs Debian's chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cell = |strategy: &str, customers: Vec<CustomerResult>, skipped: Option<&str>| CellResult {
        strategy: strategy.into(),
        leak: "edge".into(),
        policy: "maximal".into(),
        skipped: skipped.map(str::to_owned),
        customers,
    };
    let customer = CustomerResult {
        customer: 4,
        predicted_ttd_s: 17257.8,
        measured_ttd_s: 17256.0,
        requests: 12,
        agrees: true,
    };
    let drill = drill_output::write(
        &dir.path().join("drill"),
        "drill-small",
        &["test rows".into()],
        &[
            cell("split-dpop", vec![customer], None),
            cell("bearer-rotation", Vec::new(), Some("rotation")),
        ],
        3.0,
    )
    .unwrap();
    let slice = |per_server_cpu_s: f64| Slice {
        per_server_cpu_s,
        reference_per_s: Some(12000.0),
    };
    let load = load_output::write(
        &dir.path().join("load"),
        &[LoadRow {
            target: "resource server".into(),
            concurrency: 8,
            ok: 100,
            failed: 0,
            seconds: 1.0,
            per_s: 100.0,
            per_cpu_s: 90.0,
            per_server_cpu_s: 120.0,
            p50_us: 2000,
            p90_us: 4000,
            p99_us: 9000,
            p999_us: 12000,
            slices: vec![slice(108.0), slice(120.0), slice(132.0)],
            reference_error: None,
        }],
        &[],
    )
    .unwrap();
    for page in [drill.join("index.html"), load.join("index.html")] {
        let profile = tempfile::tempdir().unwrap();
        let url = format!("file://{}#selftest", page.display());
        let o = headless(&browser, &url, profile.path(), &["--dump-dom".to_string()]);
        let html = String::from_utf8_lossy(&o.stdout);
        let verdict = selftest_verdict(&html);
        assert!(verdict.starts_with("pass"), "{}: {verdict}", page.display());
        assert!(html.contains("<table"), "{}", page.display());
    }
}
