//! Every notebook under notebooks/ executes headless, without error, against the committed
//! results, in the venv the setup script builds outside the clone ($LEAKLAB_VENV). With CI=true a
//! missing venv fails the test instead of skipping it.

mod common;
use common::{missing_part, repo};

use std::path::PathBuf;
use std::process::Command;

#[test]
fn every_notebook_executes_without_error() {
    let venv = std::env::var("LEAKLAB_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/leaklab-venv")
        });
    let python = venv.join("bin/python");
    if !python.exists() {
        missing_part(&format!(
            "no notebook venv at {} (scripts/setup creates it)",
            venv.display()
        ));
        return;
    }
    let mut notebooks: Vec<PathBuf> = std::fs::read_dir(repo().join("notebooks"))
        .expect("notebooks/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
        .collect();
    notebooks.sort();
    assert!(notebooks.len() >= 3, "notebooks: {notebooks:?}");
    let out = tempfile::tempdir().expect("tempdir");
    for nb in &notebooks {
        let o = Command::new(&python)
            .args([
                "-m",
                "jupyter",
                "nbconvert",
                "--to",
                "notebook",
                "--execute",
            ])
            .arg("--ExecutePreprocessor.timeout=600")
            .arg("--output-dir")
            .arg(out.path())
            .arg(nb)
            .current_dir(repo())
            .env("MPLBACKEND", "Agg")
            .output()
            .expect("run nbconvert");
        assert!(
            o.status.success(),
            "{} failed:\n{}",
            nb.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
