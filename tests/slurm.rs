//! A sharded sweep on a real single-node Slurm: the harness starts munge, slurmctld and slurmd on
//! loopback (scripts/slurm/local-cluster.sh), submits a 4-task job array and a dependent merge
//! job (scripts/slurm/submit.sh), waits with a bounded timeout, and compares the merged result
//! with an unsharded run, byte for byte. With CI=true a missing Slurm fails the test.

mod common;
use common::{missing_part, repo};

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_leaklab");

/// Stops the cluster however the test ends.
struct Cluster(PathBuf);

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join("scripts/slurm/local-cluster.sh"))
            .arg("stop")
            .arg(&self.0)
            .status();
    }
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    out.sort();
    out
}

const SWEEP: &str = r#"
[scenario]
name = "slurm-test"
seed = 9
replications = 2
customers = 150
horizon = "30d"
[attacker]
policies = ["maximal", "stealthy"]
[[strategy]]
name = "bearer"
kind = "bearer"
[[strategy]]
name = "split-dpop"
kind = "split-dpop"
[[leak]]
name = "core-host"
compromises = ["core-host"]
[sweep]
design = "latin-hypercube"
points = 10
seed = 4
[[sweep.parameter]]
key = "detection.delay"
min = "0s"
max = "3d"
[[sweep.parameter]]
key = "grant.at_lifetime"
min = "10m"
max = "8h"
scale = "log"
"#;

#[test]
fn a_sharded_sweep_on_slurm_merges_to_the_unsharded_run() {
    let missing: Vec<&str> = ["munged", "slurmctld", "slurmd", "sbatch", "squeue"]
        .into_iter()
        .filter(|b| which::which(b).is_err())
        .collect();
    if !missing.is_empty() {
        missing_part(&format!(
            "Slurm not installed (missing {missing:?}; scripts/setup installs it)"
        ));
        return;
    }
    // Short path: Slurm and munge sockets live in it (sun_path is limited).
    let dir = tempfile::Builder::new()
        .prefix("llslurm")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("study.toml"), SWEEP).expect("write sweep");
    let cluster_dir = d.join("c");
    let start = Command::new("bash")
        .arg(repo().join("scripts/slurm/local-cluster.sh"))
        .arg("start")
        .arg(&cluster_dir)
        .output()
        .expect("run local-cluster.sh");
    let _cluster = Cluster(cluster_dir.clone());
    assert!(
        start.status.success(),
        "local Slurm did not start: {}",
        String::from_utf8_lossy(&start.stderr)
    );
    let conf = cluster_dir.join("slurm.conf");
    assert!(conf.exists(), "no slurm.conf");
    let out = d.join("out");
    let submit = Command::new("bash")
        .arg(repo().join("scripts/slurm/submit.sh"))
        .args(["--wait", "--timeout", "300"])
        .arg(BIN)
        .arg(d.join("study.toml"))
        .arg("4")
        .arg(&out)
        .env("SLURM_CONF", &conf)
        .output()
        .expect("run submit.sh");
    let logs = std::fs::read_dir(out.join("logs"))
        .map(|rd| {
            rd.flatten()
                .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    assert!(
        submit.status.success(),
        "Slurm jobs failed: {}\n{}\nlogs:\n{logs}",
        String::from_utf8_lossy(&submit.stdout),
        String::from_utf8_lossy(&submit.stderr)
    );
    // The same sweep unsharded, merged locally.
    let local = |args: &[&str]| {
        let o = Command::new(BIN)
            .args(args)
            .current_dir(d)
            .output()
            .expect("leaklab");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    local(&["sweep", "study.toml", "--out", "whole", "--quiet"]);
    local(&["merge", "whole", "--out", "merged-local"]);
    let (a, b) = (files(&out.join("merged")), files(&d.join("merged-local")));
    assert!(!a.is_empty(), "Slurm's merge wrote nothing");
    assert_eq!(
        a.iter().map(|f| &f.0).collect::<Vec<_>>(),
        b.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(
            x == y,
            "{name} differs between Slurm's 4 shards and the unsharded run"
        );
    }
}
