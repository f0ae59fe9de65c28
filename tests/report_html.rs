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
    let headless = |extra: &[String]| {
        let o = Command::new(&browser)
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
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("run chromium");
        assert!(
            o.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };
    let dom = headless(&["--dump-dom".to_string()]);
    let html = String::from_utf8_lossy(&dom.stdout);
    let verdict = html
        .split("data-selftest=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("(no self-test result: the page's script did not run)");
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
    headless(&[
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
