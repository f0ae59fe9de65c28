//! `leaklab sweep` / `merge` / `reproduce --robust` end to end: shards union to the unsharded
//! run byte for byte, bad shard sets are refused, an interrupted shard resumes to the same
//! bytes, and bad sweep files are named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_leaklab");

fn leaklab(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run leaklab")
}

fn ok(dir: &Path, args: &[&str]) {
    let o = leaklab(dir, args);
    assert!(
        o.status.success(),
        "leaklab {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn error_line(dir: &Path, args: &[&str]) -> String {
    let o = leaklab(dir, args);
    assert_eq!(o.status.code(), Some(2), "leaklab {args:?} should fail");
    let err = String::from_utf8_lossy(&o.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "one error line: {err}");
    err
}

const SWEEP: &str = r#"
[scenario]
name = "small"
seed = 5
replications = 3
customers = 200
horizon = "30d"
[response]
immediate = { share = 0.1 }
eventual = { share = 0.3 }
never = { share = 0.6 }
[detection]
reuse_alert = { probability = 0.5, delay = "1h" }
[attacker]
policies = ["maximal", "at-expiry"]
[[strategy]]
name = "bearer-rotation"
kind = "bearer"
rotation = true
reuse_detection = true
[[strategy]]
name = "split-dpop"
kind = "split-dpop"
[[leak]]
name = "core-host"
compromises = ["core-host"]

[sweep]
design = "saltelli"
points = 6
seed = 3
[[sweep.parameter]]
key = "detection.delay"
min = "0s"
max = "5d"
[[sweep.parameter]]
key = "response.never.share"
min = 0.4
max = 0.6
balance = "response.eventual.share"
[[sweep.parameter]]
key = "grant.at_lifetime"
values = ["15m", "1h", "8h"]
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("small.toml"), SWEEP).expect("write sweep");
    dir
}

/// Every file under `dir`, relative path → bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).expect("prefix").to_path_buf(),
                    std::fs::read(&p).expect("read"),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn shards_merge_to_the_unsharded_run_byte_for_byte() {
    let t = setup();
    let d = t.path();
    ok(d, &["sweep", "small.toml", "--out", "all", "--quiet"]);
    for i in 0..3 {
        let shard = format!("{i}/3");
        let out = format!("part{i}");
        ok(
            d,
            &[
                "sweep",
                "small.toml",
                "--shard",
                &shard,
                "--out",
                &out,
                "--quiet",
            ],
        );
    }
    ok(d, &["merge", "all", "--out", "merged-1"]);
    ok(
        d,
        &["merge", "part2", "part0", "part1", "--out", "merged-3"],
    );
    let (a, b) = (files(&d.join("merged-1")), files(&d.join("merged-3")));
    assert!(a.iter().any(|(p, _)| p == Path::new("sensitivity.parquet")));
    assert!(a.iter().any(|(p, _)| p == Path::new("sweep.parquet")));
    assert_eq!(
        a.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        b.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    for ((p, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{} differs between 1 and 3 shards", p.display());
    }
    // 6 base rows × (3 parameters + 2) points.
    let points = std::fs::read_to_string(d.join("merged-1/points.csv")).expect("points");
    assert_eq!(points.lines().count(), 1 + 30);
}

#[test]
fn merge_refuses_missing_duplicate_mismatched_and_incomplete_shards() {
    let t = setup();
    let d = t.path();
    ok(
        d,
        &[
            "sweep",
            "small.toml",
            "--shard",
            "0/2",
            "--out",
            "p0",
            "--quiet",
        ],
    );
    ok(
        d,
        &[
            "sweep",
            "small.toml",
            "--shard",
            "1/2",
            "--out",
            "p1",
            "--quiet",
        ],
    );
    assert!(error_line(d, &["merge", "p0", "--out", "m"]).contains("missing shard(s): 1/2"));
    assert!(error_line(d, &["merge", "p0", "p0", "p1", "--out", "m"]).contains("given twice"));
    // A shard of another sweep (different seed).
    std::fs::write(d.join("other.toml"), SWEEP.replace("seed = 3", "seed = 4")).expect("write");
    ok(
        d,
        &[
            "sweep",
            "other.toml",
            "--shard",
            "1/2",
            "--out",
            "q1",
            "--quiet",
        ],
    );
    assert!(error_line(d, &["merge", "p0", "q1", "--out", "m"]).contains("different sweeps"));
    // An incomplete shard: one point's file is gone.
    let victim = std::fs::read_dir(d.join("p1/points"))
        .expect("points")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "csv"))
        .expect("a point file");
    std::fs::remove_file(&victim).expect("remove");
    assert!(error_line(d, &["merge", "p0", "p1", "--out", "m"]).contains("is incomplete"));
    assert!(!d.join("m").exists(), "a refused merge writes nothing");
    // Merging into one of the shards would replace it.
    let e = error_line(d, &["merge", "p0", "q1", "--out", "p0"]);
    assert!(e.contains("is one of the shards"), "{e}");
    assert!(d.join("p0/shard.json").exists());
}

#[test]
fn an_interrupted_shard_resumes_to_the_same_bytes() {
    let t = setup();
    let d = t.path();
    ok(
        d,
        &[
            "sweep",
            "small.toml",
            "--shard",
            "1/2",
            "--out",
            "whole",
            "--quiet",
        ],
    );
    ok(
        d,
        &[
            "sweep",
            "small.toml",
            "--shard",
            "1/2",
            "--out",
            "resumed",
            "--quiet",
        ],
    );
    // Interrupt: drop half of the finished points and leave a partial file behind.
    let mut finished: Vec<PathBuf> = std::fs::read_dir(d.join("resumed/points"))
        .expect("points")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    finished.sort();
    let mut removed = 0;
    for p in finished.iter().step_by(2) {
        std::fs::remove_file(p).expect("remove");
        removed += 1;
    }
    assert!(removed > 0);
    std::fs::write(d.join("resumed/points/.leaklab-partial-x"), "half a file").expect("write");
    let o = leaklab(
        d,
        &["sweep", "small.toml", "--shard", "1/2", "--out", "resumed"],
    );
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("already done"), "{err}");
    assert_eq!(files(&d.join("whole")), files(&d.join("resumed")));
    // A shard directory of another shard is not reused.
    let e = error_line(
        d,
        &["sweep", "small.toml", "--shard", "0/2", "--out", "whole"],
    );
    assert!(e.contains("holds a different shard"), "{e}");
}

#[test]
fn bad_sweep_files_name_the_file_and_key() {
    let t = setup();
    let d = t.path();
    for (from, to, expected) in [
        (
            "design = \"saltelli\"",
            "design = \"sobol-ish\"",
            "sweep.design",
        ),
        (
            "key = \"grant.at_lifetime\"",
            "key = \"grant.at_lifetme\"",
            "grant.at_lifetme",
        ),
        (
            "key = \"detection.delay\"",
            "key = \"strategy.nope.x\"",
            "the scenario has no `strategy.nope`",
        ),
        ("min = 0.4", "min = 0.9", "sweep.parameter[1].max"),
    ] {
        std::fs::write(d.join("bad.toml"), SWEEP.replace(from, to)).expect("write");
        let e = error_line(d, &["sweep", "bad.toml", "--out", "x"]);
        assert!(
            e.contains("bad.toml") && e.contains(expected),
            "{from} → {to}: {e}"
        );
    }
    assert!(error_line(d, &["sweep", "small.toml", "--shard", "2/2"]).contains("0 <= I < N"));
}

/// The robust study of the claims, one shard of it: every claim gets a verdict at every point,
/// and the merged table reports each claim's share.
#[test]
fn robust_claims_run_shard_by_shard_and_merge() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    ok(
        d,
        &[
            "reproduce",
            "ietf124",
            "--robust",
            "--shard",
            "0/32",
            "--out",
            "r0",
            "--quiet",
        ],
    );
    let claims = std::fs::read_dir(d.join("r0/points"))
        .expect("points")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".claims.csv"))
        .count();
    assert_eq!(claims, 2, "64 points / 32 shards");
    let e = error_line(d, &["merge", "r0", "--out", "m"]);
    assert!(e.contains("missing shard(s)"), "{e}");
}

/// Strategy names are free text: a comma or a quote in one survives the point files and the
/// merge (CSV quoting).
#[test]
fn names_with_commas_and_quotes_survive_the_point_files() {
    let t = tempfile::tempdir().expect("tempdir");
    let d = t.path();
    let text = SWEEP.replace("name = \"split-dpop\"", "name = 'split, \"DPoP-RT\"'");
    assert_ne!(text, SWEEP);
    std::fs::write(d.join("odd.toml"), text).expect("write");
    ok(d, &["sweep", "odd.toml", "--out", "s", "--quiet"]);
    ok(d, &["merge", "s", "--out", "m"]);
    let sensitivity = std::fs::read_to_string(d.join("m/sensitivity.csv")).expect("sensitivity");
    assert!(
        sensitivity.contains("\"split, \"\"DPoP-RT\"\"\""),
        "{sensitivity}"
    );
}
