//! The simulator against closed forms, its invariants, determinism, and its CLI.

use std::path::Path;
use std::process::Command;

use leaklab_base::duration::{DAY, HOUR, MINUTE};
use leaklab_sim::runner::{run, RunResults, Silent};
use leaklab_sim::scenario::Scenario;
use leaklab_sim::stats::{ks_distance, Interval};

const BIN: &str = env!("CARGO_BIN_EXE_leaklab");

/// A small scenario: `body` adds/overrides tables after a fixed header.
fn scenario(customers: u64, replications: u32, body: &str) -> Scenario {
    let text = format!(
        "[scenario]\nname = \"t\"\nseed = 7\nreplications = {replications}\ncustomers = {customers}\nhorizon = \"60d\"\n{body}"
    );
    Scenario::from_toml("test.toml", &text).unwrap_or_else(|e| panic!("{e}"))
}

fn metric(r: &RunResults, strategy: &str, leak: &str, m: &str) -> Vec<f64> {
    let v = r.metric(strategy, leak, m);
    assert!(!v.is_empty(), "no metric {m} for {strategy}/{leak}");
    v
}

const IMMEDIATE_DETECTION: &str =
    "[detection]\ndelay = \"0s\"\nnotify_delay = \"0s\"\ncredential_action_delay = \"0s\"\n";

#[test]
fn uniform_crl_phase_with_7_day_validity_gives_mean_ttd_of_3_5_days() {
    let s = scenario(
        5000,
        10,
        &format!(
            "{IMMEDIATE_DETECTION}[grant]\nat_lifetime = \"1m\"\n[response]\nimmediate = {{ share = 0.0 }}\neventual = {{ share = 0.0 }}\nnever = {{ share = 1.0 }}\n\
             [[strategy]]\nkind = \"jwks\"\ncache_ttl = \"1s\"\nca_revocation_delay = \"0s\"\ncrl_validity = \"7d\"\nrevocation_checking_share = 1.0\n\
             [[leak]]\nname = \"host\"\ncompromises = [\"core-disk\", \"jwks-host\"]\n"
        ),
    );
    let r = run(&s, false, &Silent);
    let mean = Interval::of(&metric(&r, "jwks", "host", "ttd_mean_censored_s"));
    assert!(
        mean.contains(3.5 * DAY),
        "mean TTD {mean:?} should contain 3.5 days"
    );
    assert!(
        mean.high - mean.low < 0.1 * DAY,
        "interval too wide to mean anything: {mean:?}"
    );
}

#[test]
fn revocation_mixture_matches_the_analytic_containment_curve() {
    // Immediate (20%, exponential mean 2 h), eventual (30%, exponential mean 5 d), never (50%);
    // access tokens die with the grant, detection and notification are instant: TTD is exactly
    // the customer's response time.
    let s = scenario(
        20_000,
        2,
        &format!(
            "{IMMEDIATE_DETECTION}[grant]\nat_revocation = \"introspection\"\n[response]\n\
             immediate = {{ share = 0.2, delay = {{ dist = \"exponential\", mean = \"2h\" }} }}\n\
             eventual = {{ share = 0.3, delay = {{ dist = \"exponential\", mean = \"5d\" }} }}\nnever = {{ share = 0.5 }}\n\
             [[strategy]]\nkind = \"bearer\"\n[[leak]]\nname = \"rt\"\ncompromises = [\"core-disk\"]\n"
        ),
    );
    let r = run(&s, false, &Silent);
    let horizon = s.horizon;
    let survival = |t: f64| {
        if t >= horizon {
            return 0.5;
        }
        0.5 + 0.2 * (-t / (2.0 * HOUR)).exp() + 0.3 * (-t / (5.0 * DAY)).exp()
    };
    for rep in 0..2 {
        let cell = r.cell(0, 0, 0, rep).expect("cell");
        let n = cell.acc.affected as f64;
        let points: Vec<(f64, f64)> = r.grid.iter().copied().zip(cell.acc.containment()).collect();
        let d = ks_distance(&points, survival);
        // Kolmogorov–Smirnov critical value at the 1% level.
        assert!(
            d < 1.63 / n.sqrt(),
            "KS distance {d} exceeds {}",
            1.63 / n.sqrt()
        );
    }
}

#[test]
fn split_dpop_makes_a_leaked_refresh_token_store_useless() {
    let s = Scenario::load(Path::new("scenarios/ietf124.toml")).expect("ietf124");
    let s = Scenario {
        customers: 2000,
        replications: 3,
        ..s
    };
    let r = run(&s, false, &Silent);
    for m in [
        "attacker_refresh_ok",
        "ttd_max_s",
        "attacker_calls_ok",
        "exposure_token_hours",
    ] {
        assert!(
            metric(&r, "split-dpop", "rt-store", m)
                .iter()
                .all(|v| *v == 0.0),
            "{m}"
        );
    }
    // The same leak against bearer tokens is not contained: the comparison is not vacuous.
    assert!(metric(&r, "bearer", "rt-store", "attacker_refresh_ok")
        .iter()
        .all(|v| *v > 0.0));
}

#[test]
fn split_dpop_bounds_an_edge_compromise_by_the_access_token_lifetime() {
    let s = scenario(
        5000,
        3,
        "[grant]\nat_lifetime = { dist = \"empirical\", points = [[\"15m\", 0.0], [\"15m\", 0.5], [\"8h\", 1.0]] }\n\
         [[strategy]]\nkind = \"split-dpop\"\n[[strategy]]\nkind = \"single-dpop\"\n\
         [[leak]]\nname = \"edge\"\ncompromises = [\"edge-host\"]\n[[leak]]\nname = \"rt+edge\"\ncompromises = [\"core-disk\", \"edge-host\"]\n\
         [detection]\ndelay = \"1d\"\neviction_delay = \"4h\"\n[attacker]\npolicies = [\"at-expiry\", \"maximal\"]\n",
    );
    let r = run(&s, false, &Silent);
    let bound = 8.0 * HOUR;
    for leak in ["edge", "rt+edge"] {
        // A one-time theft of edge memory: bounded by the access-token lifetime.
        let max = metric(&r, "split-dpop", leak, "ttd_max_s");
        assert!(
            max.iter().all(|m| *m <= bound && *m > 0.0),
            "{leak}: {max:?}"
        );
        // An attacker who stays on the edge until eviction (1 d + 4 h) leaves with the
        // freshest token there: bounded by eviction + the AT lifetime, not by the lifetime.
        let max = r.metric_of("split-dpop", leak, "maximal", "ttd_max_s");
        assert!(
            !max.is_empty()
                && max
                    .iter()
                    .all(|m| *m <= DAY + 4.0 * HOUR + bound && *m > DAY + 4.0 * HOUR),
            "{leak} maximal: {max:?}"
        );
    }
    // A single software key shared with the edges unlocks the refresh token: not bounded.
    assert!(metric(&r, "single-dpop", "rt+edge", "ttd_max_s")
        .iter()
        .all(|m| *m > bound));
}

#[test]
fn rotation_with_reuse_detection_bounds_bearer_ttd_by_the_refresh_interval() {
    let body = |revocation: &str| {
        format!(
            "[grant]\nat_lifetime = \"1h\"\nrefresh_interval = \"30m\"\nrotation = true\nreuse_detection = true\nat_revocation = \"{revocation}\"\n\
             [attacker]\nstart_delay = \"0s\"\n[[strategy]]\nkind = \"bearer\"\n[[strategy]]\nname = \"plain\"\nkind = \"bearer\"\nrotation = false\n\
             [[leak]]\nname = \"rt\"\ncompromises = [\"core-disk\"]\n"
        )
    };
    let r = run(&scenario(3000, 3, &body("introspection")), false, &Silent);
    assert!(metric(&r, "bearer", "rt", "ttd_max_s")
        .iter()
        .all(|m| *m <= 30.0 * MINUTE));
    // Without introspection the attacker's last access token outlives the revoked family.
    let r = run(&scenario(3000, 3, &body("expiry")), false, &Silent);
    assert!(metric(&r, "bearer", "rt", "ttd_max_s")
        .iter()
        .all(|m| *m <= 30.0 * MINUTE + HOUR && *m > 30.0 * MINUTE));
    assert!(metric(&r, "plain", "rt", "share_never")
        .iter()
        .all(|m| *m > 0.3));
}

#[test]
fn strategies_face_the_same_customers() {
    // Where two strategies have identical rules (a shared software DPoP key leaked together with
    // the refresh tokens behaves like a bearer token), common random numbers make every
    // per-customer outcome identical, not just similar.
    let s = Scenario::load(Path::new("scenarios/ietf124.toml")).expect("ietf124");
    let s = Scenario {
        customers: 1500,
        replications: 2,
        ..s
    };
    let r = run(&s, true, &Silent);
    let b = s
        .strategies
        .iter()
        .position(|x| x.name == "bearer")
        .unwrap();
    let d = s
        .strategies
        .iter()
        .position(|x| x.name == "single-dpop")
        .unwrap();
    let l = s
        .leaks
        .iter()
        .position(|x| x.name == "rt-store+edge")
        .unwrap();
    let cb = r.cell(b, l, 0, 1).unwrap();
    let cd = r.cell(d, l, 0, 1).unwrap();
    assert!(!cb.customers.is_empty());
    assert_eq!(cb.customers, cd.customers);
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let s = Scenario::load(Path::new("scenarios/ietf124.toml")).expect("ietf124");
    let s = Scenario {
        customers: 9000,
        replications: 2,
        ..s
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| run(&s, false, &Silent));
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| run(&s, false, &Silent));
    for (a, b) in one.cells.iter().zip(&two.cells) {
        assert_eq!(a.acc.metrics(), b.acc.metrics());
        assert_eq!(a.acc.containment(), b.acc.containment());
    }
}

fn leaklab(args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("LEAKLAB_FONT", "none")
        .output()
        .expect("run leaklab")
}

#[test]
fn same_scenario_and_seed_give_byte_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    for out in [&a, &b] {
        let o = leaklab(&[
            "run",
            "scenarios/ietf124.toml",
            "--customers",
            "800",
            "--replications",
            "3",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let mut names: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for expected in [
        "summary.parquet",
        "summary.csv",
        "containment.parquet",
        "replications.csv",
        "summary.md",
        "manifest.json",
        "signing_load.svg",
        "timings.json",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing {expected} in {names:?}"
        );
    }
    for name in names {
        if name == "timings.json" {
            continue; // wall-clock timings, deliberately kept out of the deterministic outputs
        }
        let x = std::fs::read(a.join(&name)).unwrap();
        let y = std::fs::read(b.join(&name)).unwrap();
        assert!(x == y, "{name:?} differs between two runs");
    }
    // A different seed changes the results.
    let c = tmp.path().join("c");
    let o = leaklab(&[
        "run",
        "scenarios/ietf124.toml",
        "--customers",
        "800",
        "--replications",
        "3",
        "--quiet",
        "--seed",
        "8",
        "--out",
        c.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_ne!(
        std::fs::read(a.join("summary.csv")).unwrap(),
        std::fs::read(c.join("summary.csv")).unwrap()
    );
}

#[test]
fn shipped_scenarios_validate() {
    for f in ["scenarios/ietf124.toml", "scenarios/fleet-1m.toml"] {
        let o = leaklab(&["validate", f]);
        assert!(
            o.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn broken_scenarios_are_refused_with_file_key_value_and_allowed_values() {
    let base = std::fs::read_to_string("scenarios/ietf124.toml").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            base.replace("customers = 10000", "customers = 10000\ncustomer = 5"),
            vec!["scenario.customer", "unknown key", "customers"],
        ),
        (
            base.replace("kind = \"split-dpop\"", "kind = \"split\""),
            vec!["strategy[6].kind", "\"split\"", "split-dpop"],
        ),
        (
            base.replace("at_lifetime = \"1h\"", "at_lifetime = \"1 hour\""),
            vec!["grant.at_lifetime", "duration"],
        ),
        (
            base.replace("never = { share = 0.5 }", "never = { share = 0.6 }"),
            vec!["response.never", "add up to 1"],
        ),
        (
            base.replace("compromises = [\"core-disk\"]", "compromises = [\"disk\"]"),
            vec!["leak[0].compromises", "core-disk"],
        ),
        (
            base.replace(
                "crl_validity = \"7d\"",
                "crl_validity = { dist = \"gamma\" }",
            ),
            vec!["crl_validity.dist", "lognormal"],
        ),
        ("this is [not toml".to_string(), vec!["not valid TOML"]),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let path = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let o = leaklab(&["validate", path.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        assert!(
            err.contains(path.to_str().unwrap()),
            "case {i}: file not named: {err}"
        );
        for n in needles {
            assert!(err.contains(n), "case {i}: `{n}` not in: {err}");
        }
        assert_eq!(err.lines().count(), 1, "one line, no backtrace: {err}");
        assert!(!err.contains("panicked"));
    }
    let o = leaklab(&["validate", "no/such/file.toml"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_failed_run_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    // The output's parent is a file: writing must fail, and no staging directory may remain.
    let blocker = tmp.path().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let out = blocker.join("run");
    let o = leaklab(&[
        "run",
        "scenarios/ietf124.toml",
        "--customers",
        "100",
        "--replications",
        "2",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("blocker")]);
    // A run into an existing results directory replaces it as a whole, staging gone.
    let dest = tmp.path().join("res");
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("stale.csv"), "old").unwrap();
    let o = leaklab(&[
        "run",
        "scenarios/ietf124.toml",
        "--customers",
        "100",
        "--replications",
        "2",
        "--quiet",
        "--out",
        dest.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(!dest.join("stale.csv").exists());
    let staging: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".leaklab")
        })
        .collect();
    assert!(staging.is_empty());
}

#[test]
fn reproduce_reports_every_claim_with_a_verdict() {
    let o = leaklab(&[
        "reproduce",
        "ietf124",
        "--json",
        "--customers",
        "2000",
        "--replications",
        "4",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let claims = v["claims"].as_array().unwrap();
    let ids: Vec<&str> = claims.iter().map(|c| c["id"].as_str().unwrap()).collect();
    for id in [
        "simple-revocation-tail",
        "mtls-days-to-never",
        "jwks-3.5-days",
        "single-dpop-device-bottleneck",
        "split-dpop-containment",
    ] {
        assert!(ids.contains(&id), "{id} missing");
    }
    for c in claims {
        assert!(matches!(
            c["verdict"].as_str(),
            Some("reproduced" | "not-reproduced")
        ));
        assert!(!c["simulated"].as_str().unwrap().is_empty());
    }
    // The verdicts follow the simulation: the same claims against a scenario without the
    // JWKS CRL (revocation never checked) must turn that claim around.
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("nocrl.toml");
    let text = std::fs::read_to_string("scenarios/ietf124.toml")
        .unwrap()
        .replace(
            "revocation_checking_share = 1.0",
            "revocation_checking_share = 0.0",
        );
    std::fs::write(&path, text).unwrap();
    let o = leaklab(&[
        "reproduce",
        "ietf124",
        "--json",
        "--customers",
        "2000",
        "--replications",
        "4",
        "--scenario",
        path.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let jwks = v["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "jwks-3.5-days")
        .unwrap()
        .clone();
    assert_eq!(jwks["verdict"], "not-reproduced");
}
