//! Shared by the workspace's integration tests (each test file is a crate of its own and uses
//! only part of this).
#![allow(dead_code)]

use std::path::PathBuf;

/// The package directory, read when the test runs: a compile-time `env!` would keep the path of
/// whichever checkout first built this test in a shared target directory.
pub fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for tests")
}

/// The repository root (the root package's directory).
pub fn repo() -> PathBuf {
    PathBuf::from(manifest_dir())
}

/// Whether the tests run in CI (`CI=true` or `CI=1`), where a missing real part fails a test
/// instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A real part (browser, Slurm, venv, device) is missing: fails in CI, skips loudly elsewhere.
/// The caller returns after it.
pub fn missing_part(what: &str) {
    assert!(!in_ci(), "{what}");
    eprintln!("skipping: {what}");
}
