//! `leaklab capacity`: the queue against closed forms, the planner's arithmetic, device
//! profiles, and the command line (`plan`, `queue`, `profiles`, bad input, and the deprecated
//! flat form with its `[capacity]` scenario table).

mod common;
use common::manifest_dir;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use leaklab_base::catalogue::Binding;
use leaklab_capacity::{
    closed_form,
    planner::{self, Limit, PlanSettings, Sizing},
    profile::{parse_measured_csv, parse_published},
    service, simulate, ProfileSet, QueueConfig, Workload,
};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(&manifest_dir()).join("tests/data").join(name)
}

fn repo_file(name: &str) -> PathBuf {
    Path::new(&manifest_dir()).join(name)
}

// ------------------------------------------------------------------ queue vs closed forms

/// One case of tests/data/queue-closed-forms.json: the closed form must reproduce the stored
/// value, and the simulated mean wait must be within the stored tolerance of it.
fn check_closed_form_case(model: &str, rho: f64) {
    let text = std::fs::read_to_string(data("queue-closed-forms.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let tol = doc["tolerance"].as_f64().unwrap();
    let case = doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["model"] == model && c["rho"].as_f64() == Some(rho))
        .unwrap_or_else(|| panic!("no case {model} rho={rho}"));
    let lambda = case["arrival_rate"].as_f64().unwrap();
    let s = case["service_time_ms"].as_f64().unwrap() / 1e3;
    let servers = case["servers"].as_u64().unwrap() as u32;
    let expected = case["wait_mean_ms"].as_f64().unwrap() / 1e3;
    let service = match case["service"].as_str().unwrap() {
        "exponential" => service::exponential(s).unwrap(),
        "deterministic" => service::deterministic(s).unwrap(),
        other => panic!("service {other}"),
    };
    let closed = match model {
        "M/M/1" => closed_form::mm1_mean_wait(lambda, s),
        "M/D/1" => closed_form::md1_mean_wait(lambda, s),
        _ => closed_form::mmc_mean_wait(lambda, s, servers),
    }
    .unwrap();
    assert!(
        (closed / expected - 1.0).abs() < 1e-9,
        "{model}: closed form {closed} vs stored {expected}"
    );
    let general = closed_form::mean_wait(lambda, &service, servers).unwrap();
    assert!((general / expected - 1.0).abs() < 1e-9);

    let arrivals = case["arrivals"].as_u64().unwrap();
    let cfg = QueueConfig {
        arrival_rate: lambda,
        servers,
        service,
        arrivals,
        warmup: arrivals / 10,
        seed: case["seed"].as_u64().unwrap(),
    };
    let st = simulate(&cfg).unwrap();
    let rel = st.waiting.mean / expected - 1.0;
    assert!(
        rel.abs() <= tol,
        "{model} rho={rho}: simulated {} vs closed form {expected} ({rel:+.4})",
        st.waiting.mean
    );
    assert!(
        (st.utilisation - rho).abs() < 0.01,
        "utilisation {}",
        st.utilisation
    );
    assert!((st.sojourn.mean - st.waiting.mean - s).abs() < 0.01 * s);
    assert!(st.stable);
}

#[test]
fn mm1_mean_wait_matches_closed_form_at_rho_0_5() {
    check_closed_form_case("M/M/1", 0.5);
}

#[test]
fn mm1_mean_wait_matches_closed_form_at_rho_0_9() {
    check_closed_form_case("M/M/1", 0.9);
}

#[test]
fn md1_mean_wait_matches_pollaczek_khinchine_at_rho_0_5() {
    check_closed_form_case("M/D/1", 0.5);
}

#[test]
fn md1_mean_wait_matches_pollaczek_khinchine_at_rho_0_9() {
    check_closed_form_case("M/D/1", 0.9);
}

#[test]
fn mmc_mean_wait_matches_erlang_c_at_rho_0_5() {
    check_closed_form_case("M/M/4", 0.5);
}

#[test]
fn mmc_mean_wait_matches_erlang_c_at_rho_0_9() {
    check_closed_form_case("M/M/4", 0.9);
}

#[test]
fn empirical_service_matches_pollaczek_khinchine() {
    // M/G/1 with the measured software-p256 distribution of the fixture at rho = 0.7.
    let m = parse_measured_csv(
        &std::fs::read_to_string(repo_file("crates/capacity/tests/data/signers-fixture.csv"))
            .unwrap(),
        "fixture",
    )
    .unwrap();
    let p = m
        .profiles
        .iter()
        .find(|p| p.name == "measured:software/p256/es256-sign")
        .unwrap();
    let lambda = 0.7 / p.service.mean();
    let expected = closed_form::mean_wait(lambda, &p.service, 1).unwrap();
    let cfg = QueueConfig {
        arrival_rate: lambda,
        servers: 1,
        service: p.service.clone(),
        arrivals: 4_000_000,
        warmup: 400_000,
        seed: 5,
    };
    let st = simulate(&cfg).unwrap();
    assert!(
        (st.waiting.mean / expected - 1.0).abs() < 0.02,
        "{} vs {expected}",
        st.waiting.mean
    );
}

// ------------------------------------------------------------------ planner

fn workload() -> Workload {
    Workload {
        agents: 100_000,
        edges_per_agent: 4,
        calls_per_s: 1.0,
        at_lifetime_s: 900.0,
        refresh_interval_s: 900.0,
        connection_lifetime_s: 3600.0,
    }
}

fn published(name: &str) -> leaklab_capacity::DeviceProfile {
    let mut set = ProfileSet::new();
    set.extend(
        parse_published(
            &std::fs::read_to_string(repo_file("scenarios/device-profiles.toml")).unwrap(),
            "p",
        )
        .unwrap(),
    );
    set.get(name).unwrap().clone()
}

fn settings(headroom: f64) -> PlanSettings {
    PlanSettings {
        slo_p99_s: 0.25,
        headroom,
        devices: None,
        max_devices: 1_000_000,
        arrivals: 100_000,
        warmup: 10_000,
        seed: 1,
    }
}

#[test]
fn planner_arithmetic_for_the_readme_question() {
    let w = workload();
    let fleet = w.traffic();
    assert_eq!(fleet.calls_per_s(), 400_000.0);
    // One refresh per edge token: 100,000 agents × 4 edges / 900 s = 444.4/s (not 111/s).
    assert!((fleet.refreshes_per_s() - 444.444).abs() < 1e-3);
    let single = planner::signing_load(&w, Binding::SingleDpop);
    assert!((single.device_signs_per_s - 400_444.444).abs() < 1e-3);
    let split = planner::signing_load(&w, Binding::SplitDpop);
    assert!((split.device_signs_per_s - 444.444).abs() < 1e-3);
    // Per-call proofs and the new access token's proof at each refresh use edge software keys.
    assert!((split.software_signs_per_s - 400_444.444).abs() < 1e-3);
    assert_eq!(
        planner::signing_load(&w, Binding::Bearer).device_signs_per_s,
        0.0
    );
    // private_key_jwt: one device-signed client assertion per refresh
    let jwks = planner::signing_load(&w, Binding::Jwks);
    assert!((jwks.device_signs_per_s - 444.444).abs() < 1e-3);
}

#[test]
fn mtls_signs_on_the_device_per_refresh_and_per_connection() {
    let w = workload();
    let mtls = planner::signing_load(&w, Binding::Mtls);
    // 444.4 refreshes/s plus 400,000 edges / 3600 s = 111.1 connections/s
    assert!(mtls.device_signs_per_s > 0.0);
    assert!((mtls.device_signs.refreshes - 444.444).abs() < 1e-3);
    assert!((mtls.device_signs.connections - 111.111).abs() < 1e-3);
    assert_eq!(mtls.device_signs.calls, 0.0);
    let shorter = Workload {
        connection_lifetime_s: 60.0,
        ..w
    };
    let more = planner::signing_load(&shorter, Binding::Mtls);
    assert!((more.device_signs.connections - 400_000.0 / 60.0).abs() < 1e-6);
}

#[test]
fn planner_sizes_tpm_fleet_with_published_profile() {
    let tpm = published("tpm-infineon-slb9670");
    assert!(!tpm.throughput_only);
    let s = settings(1.0);
    let split = planner::plan_strategy(&workload(), Binding::SplitDpop, &tpm, &s).unwrap();
    assert_eq!(split.sizing, Sizing::Searched);
    // 444.4/s × 68.9 ms = 30.6 Erlangs: 31 devices for stability, more for the SLO
    assert_eq!(split.min_devices_for_stability, 31);
    let d = split.devices.unwrap();
    assert!((31..=120).contains(&d), "{d}");
    assert_eq!(split.slo_met, Some(true));
    assert_eq!(split.limited_by, Some(Limit::Slo));
    let single = planner::plan_strategy(&workload(), Binding::SingleDpop, &tpm, &s).unwrap();
    // 400,444.4/s × 68.9 ms = 27,590.6 Erlangs
    assert_eq!(single.min_devices_for_stability, 27_591);
    assert!(single.devices.unwrap() > 500 * d);
}

#[test]
fn headroom_keeps_throughput_only_plans_off_rho_one() {
    let hsm = published("aws-cloudhsm-hsm2m-2");
    assert!(hsm.throughput_only);
    let w = workload();
    // Without headroom the SLO lets the fleet run close to ρ = 1 (latency is queueing only).
    let loose = planner::plan_strategy(&w, Binding::SingleDpop, &hsm, &settings(1.0)).unwrap();
    let rho = loose.per_device.as_ref().unwrap().offered_utilisation;
    assert!(rho > 0.95, "{rho}");
    let plan = planner::plan_strategy(&w, Binding::SingleDpop, &hsm, &settings(0.7)).unwrap();
    let st = plan.per_device.as_ref().unwrap();
    assert!(st.offered_utilisation <= 0.7, "{}", st.offered_utilisation);
    assert_eq!(plan.headroom_met, Some(true));
    assert_eq!(plan.limited_by, Some(Limit::Headroom));
    // 400,444.4 / (0.7 × 3,000) = 190.7 → 191 clusters
    assert_eq!(plan.devices, Some(191));
}

// ------------------------------------------------------------------ profiles

#[test]
fn published_profiles_carry_their_figures_and_sources() {
    let text = std::fs::read_to_string(repo_file("scenarios/device-profiles.toml")).unwrap();
    let profiles = parse_published(&text, "device-profiles.toml").unwrap();
    let mut set = ProfileSet::new();
    set.extend(profiles.clone());
    for p in &profiles {
        assert!(p.source.starts_with("https://"), "{}: {}", p.name, p.source);
        assert!(!p.figure.is_empty());
    }
    let ms = |name: &str| set.get(name).unwrap().service.mean() * 1e3;
    let rate = |name: &str| set.get(name).unwrap().capacity_per_s();
    assert!((ms("tpm-infineon-slb9670") - 68.9).abs() < 1e-9);
    assert!((ms("tpm-infineon-slb9672") - 35.6).abs() < 1e-9);
    assert!((ms("tpm-st-st33ktpm2xspi") - 25.3).abs() < 1e-9);
    assert!((ms("tpm-nuvoton-npct750") - 56.4).abs() < 1e-9);
    assert!((ms("tpm-intel-ptt") - 130.0).abs() < 1e-9);
    assert!((rate("aws-cloudhsm-hsm2m-2") - 3000.0).abs() < 1e-6);
    assert!((rate("azure-managed-hsm") - 330.0).abs() < 1e-6);
    assert!((rate("aws-kms-ecc-quota") - 300.0).abs() < 1e-6);
}

// ------------------------------------------------------------------ command line

fn leaklab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leaklab"))
        .args(args)
        .env("LEAKLAB_FONT", "none")
        .current_dir(manifest_dir())
        .output()
        .unwrap()
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn one_line_error(out: &Output, needles: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("leaklab: error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "`{n}` not in {err}");
    }
}

/// The flat form's one deprecation line, naming the subcommand to use instead.
fn deprecation_line(subcommand: &str) -> String {
    format!(
        "leaklab: warning: the flat `leaklab capacity --…` form is deprecated and goes in the \
         next release; use `leaklab capacity {subcommand} …`"
    )
}

/// The flat form's error: the deprecation line, then the one error line.
fn deprecated_error(out: &Output, subcommand: &str, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert_eq!(lines[0], deprecation_line(subcommand));
    assert!(lines[1].starts_with("leaklab: error: "), "{err}");
    for n in needles {
        assert!(lines[1].contains(n), "`{n}` not in {err}");
    }
}

#[test]
fn cli_direct_mode_prints_queue_statistics() {
    let out = leaklab(&[
        "capacity",
        "queue",
        "--arrival-rate",
        "5",
        "--service-time-ms",
        "100",
        "--arrivals",
        "400000",
        "--json",
    ]);
    let v = json_of(&out);
    assert_eq!(v["model"], "M/M/1");
    assert_eq!(v["unstable"], false);
    assert!((v["offered_utilisation"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    assert!((v["utilisation"].as_f64().unwrap() - 0.5).abs() < 0.01);
    for key in ["waiting_ms", "sojourn_ms"] {
        for q in ["mean", "p50", "p90", "p99", "p999"] {
            assert!(v[key][q].as_f64().is_some(), "{key}.{q}");
        }
    }
    let mean = v["waiting_ms"]["mean"].as_f64().unwrap();
    assert!((mean / 100.0 - 1.0).abs() < 0.05, "{mean}");
    assert_eq!(
        v["closed_form_waiting_mean_ms"].as_f64().map(|x| x.round()),
        Some(100.0)
    );
    // Same seed, same bytes.
    let again = leaklab(&[
        "capacity",
        "queue",
        "--arrival-rate",
        "5",
        "--service-time-ms",
        "100",
        "--arrivals",
        "400000",
        "--json",
    ]);
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn cli_direct_mode_deterministic_multi_server_and_unstable() {
    let v = json_of(&leaklab(&[
        "capacity",
        "queue",
        "--arrival-rate",
        "30",
        "--service-time-ms",
        "100",
        "--devices",
        "4",
        "--service",
        "deterministic",
        "--arrivals",
        "100000",
        "--seed",
        "3",
        "--json",
    ]));
    assert_eq!(v["model"], "M/D/4");
    assert_eq!(v["servers"], 4);
    assert!(v["closed_form_waiting_mean_ms"].is_null());
    // sojourn = wait + exactly 100 ms of service
    let (w, s) = (
        v["waiting_ms"]["mean"].as_f64().unwrap(),
        v["sojourn_ms"]["mean"].as_f64().unwrap(),
    );
    assert!((s - w - 100.0).abs() < 1e-6);

    let v = json_of(&leaklab(&[
        "capacity",
        "queue",
        "--arrival-rate",
        "20",
        "--service-time-ms",
        "100",
        "--arrivals",
        "50000",
        "--json",
    ]));
    assert_eq!(v["unstable"], true);
    assert!(v["utilisation"].as_f64().unwrap() > 0.99);
}

#[test]
fn cli_bad_input_exits_2_with_one_line() {
    one_line_error(
        &leaklab(&[
            "capacity",
            "queue",
            "--arrival-rate",
            "-1",
            "--service-time-ms",
            "10",
        ]),
        &["--arrival-rate", "> 0"],
    );
    one_line_error(
        &leaklab(&[
            "capacity",
            "queue",
            "--arrival-rate",
            "0",
            "--service-time-ms",
            "10",
        ]),
        &["--arrival-rate"],
    );
    one_line_error(
        &leaklab(&[
            "capacity",
            "queue",
            "--arrival-rate",
            "1",
            "--service-time-ms",
            "0",
        ]),
        &["--service-time-ms"],
    );
    one_line_error(
        &leaklab(&["capacity", "queue", "--arrival-rate", "1"]),
        &["--service-time-ms"],
    );
    one_line_error(
        &leaklab(&[
            "capacity",
            "queue",
            "--arrival-rate",
            "1",
            "--service-time-ms",
            "5",
            "--agents",
            "3",
        ]),
        &["--agents"],
    );
    one_line_error(
        &leaklab(&[
            "capacity",
            "queue",
            "--arrival-rate",
            "1",
            "--service-time-ms",
            "5",
            "--devices",
            "0",
        ]),
        &["--devices"],
    );
    let plan = [
        "capacity",
        "plan",
        "--agents",
        "10",
        "--edges-per-agent",
        "1",
        "--calls-per-sec",
        "1",
        "--at-lifetime",
    ];
    one_line_error(
        &leaklab(&[&plan[..], &["15m", "--device", "no-such-device"]].concat()),
        &[
            "no-such-device",
            "tpm-infineon-slb9670",
            "azure-managed-hsm",
        ],
    );
    one_line_error(
        &leaklab(
            &[
                &plan[..],
                &["15 minutes", "--device", "tpm-infineon-slb9670"],
            ]
            .concat(),
        ),
        &["--at-lifetime"],
    );
    one_line_error(
        &leaklab(
            &[
                &plan[..],
                &[
                    "15m",
                    "--refresh-interval",
                    "1h",
                    "--device",
                    "tpm-infineon-slb9670",
                ],
            ]
            .concat(),
        ),
        &["expired"],
    );
    one_line_error(
        &leaklab(
            &[
                &plan[..],
                &[
                    "15m",
                    "--device",
                    "tpm-infineon-slb9670",
                    "--strategy",
                    "dpop",
                ],
            ]
            .concat(),
        ),
        &[
            "dpop",
            "bearer",
            "mtls",
            "jwks",
            "single-dpop",
            "split-dpop",
            "all",
        ],
    );
    one_line_error(
        &leaklab(
            &[
                &plan[..],
                &["15m", "--device", "azure-managed-hsm", "--headroom", "0"],
            ]
            .concat(),
        ),
        &["--headroom", "(0, 1]"],
    );
    one_line_error(
        &leaklab(
            &[
                &plan[..],
                &["15m", "--device", "azure-managed-hsm", "--headroom", "1.2"],
            ]
            .concat(),
        ),
        &["--headroom"],
    );
    one_line_error(
        &leaklab(
            &[
                &plan[..],
                &[
                    "15m",
                    "--device",
                    "azure-managed-hsm",
                    "--connection-lifetime",
                    "3600",
                ],
            ]
            .concat(),
        ),
        &["--connection-lifetime", "unit"],
    );
    // Absurd finite rates are refused, not simulated.
    one_line_error(
        &leaklab(
            &[
                &plan[..6],
                &["--calls-per-s", "1e300", "--at-lifetime", "15m"],
                &["--device", "tpm-infineon-slb9670"],
            ]
            .concat(),
        ),
        &["--calls-per-s", "maximum"],
    );
    one_line_error(
        &leaklab(&[
            "capacity",
            "queue",
            "--arrival-rate",
            "1e300",
            "--service-time-ms",
            "10",
        ]),
        &["--arrival-rate", "maximum"],
    );
    one_line_error(
        &leaklab(&[
            "capacity",
            "queue",
            "--arrival-rate",
            "1",
            "--service-time-ms",
            "1e300",
        ]),
        &["--service-time-ms", "maximum"],
    );
    one_line_error(
        &leaklab(&["capacity", "plan", "--agents", "10"]),
        &["--edges-per-agent"],
    );
}

#[test]
fn cli_scenario_file_refuses_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(&path, "[capacity]\nagents = 10\nedge_per_agent = 4\n").unwrap();
    deprecated_error(
        &leaklab(&["capacity", "--scenario", path.to_str().unwrap()]),
        "plan",
        &["s.toml", "edge_per_agent", "edges_per_agent", "allowed"],
    );
}

#[test]
fn cli_scenario_file_refuses_old_kebab_case_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.toml");
    std::fs::write(&path, "[capacity]\nagents = 10\ncalls-per-sec = 1\n").unwrap();
    deprecated_error(
        &leaklab(&["capacity", "--scenario", path.to_str().unwrap()]),
        "plan",
        &[
            "old.toml",
            "capacity.calls-per-sec",
            "did you mean `calls_per_s`",
            "allowed here: agents, edges_per_agent, calls_per_s",
        ],
    );
}

#[test]
fn cli_planner_with_scenario_and_measured_profile() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.toml");
    std::fs::write(
        &path,
        "[capacity]\nagents = 1000\nedges_per_agent = 4\ncalls_per_s = 1\nat_lifetime = \"15m\"\n\
         strategy = \"all\"\ndevice = \"measured:swtpm\"\nslo_p99_ms = 5\nsim_arrivals = 50000\n",
    )
    .unwrap();
    let fixture = repo_file("crates/capacity/tests/data/signers-fixture.csv");
    let v = json_of(&leaklab(&[
        "capacity",
        "--scenario",
        path.to_str().unwrap(),
        "--signers-csv",
        fixture.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["device"]["name"], "measured:swtpm/tss-esapi/es256-sign");
    assert_eq!(v["device"]["service"], "empirical");
    assert_eq!(v["device"]["throughput_only"], false);
    // A latency profile keeps no extra headroom by default: the SLO decides.
    assert_eq!(v["headroom"], 1.0);
    // 1000 agents × 4 edges / 900 s
    let refreshes = 4000.0 / 900.0;
    assert!((v["workload"]["refreshes_per_s"].as_f64().unwrap() - refreshes).abs() < 1e-9);
    let plans = v["plans"].as_array().unwrap();
    let names: Vec<&str> = plans
        .iter()
        .filter_map(|p| p["strategy"].as_str())
        .collect();
    assert_eq!(
        names,
        ["bearer", "mtls", "jwks", "single-dpop", "split-dpop"]
    );
    let single = &plans[3];
    assert!((single["device_signs_per_s"].as_f64().unwrap() - (4000.0 + refreshes)).abs() < 1e-6);
    assert_eq!(single["sizing"], "searched");
    assert_eq!(single["slo_met"], true);
    let d = single["devices"].as_u64().unwrap();
    assert!(d >= single["min_devices_for_stability"].as_u64().unwrap());
    assert!(single["per_device"]["sojourn_ms"]["p99"].as_f64().unwrap() <= 5.0);
    assert_eq!(plans[0]["devices"], 0);
    // mTLS with the client key in the device signs per refresh and per connection.
    let mtls = &plans[1];
    assert!(mtls["device_signs_per_s"].as_f64().unwrap() > 0.0);
    assert!(mtls["device_signs"]["connections"].as_f64().unwrap() > 0.0);
    assert!(mtls["devices"].as_u64().unwrap() >= 1);
    // A flag overrides the scenario.
    let v = json_of(&leaklab(&[
        "capacity",
        "--scenario",
        path.to_str().unwrap(),
        "--signers-csv",
        fixture.to_str().unwrap(),
        "--strategy",
        "split-dpop",
        "--devices",
        "1",
        "--json",
    ]));
    assert_eq!(v["plans"].as_array().unwrap().len(), 1);
    assert_eq!(v["plans"][0]["sizing"], "given");
    assert_eq!(v["plans"][0]["devices"], 1);
    // The table stands for the `plan` flags it names: the same answer, byte for byte.
    let flat = leaklab(&[
        "capacity",
        "--scenario",
        path.to_str().unwrap(),
        "--signers-csv",
        fixture.to_str().unwrap(),
        "--json",
    ]);
    let plan = leaklab(&[
        "capacity",
        "plan",
        "--agents",
        "1000",
        "--edges-per-agent",
        "4",
        "--calls-per-s",
        "1",
        "--at-lifetime",
        "15m",
        "--strategy",
        "all",
        "--device",
        "measured:swtpm",
        "--slo-p99-ms",
        "5",
        "--sim-arrivals",
        "50000",
        "--signers-csv",
        fixture.to_str().unwrap(),
        "--json",
    ]);
    assert!(plan.status.success());
    assert_eq!(flat.stdout, plan.stdout);
}

#[test]
fn cli_readme_question_counts_refreshes_per_edge_and_keeps_headroom() {
    let v = json_of(&leaklab(&[
        "capacity",
        "plan",
        "--agents",
        "100000",
        "--edges-per-agent",
        "4",
        "--calls-per-sec",
        "1",
        "--at-lifetime",
        "15m",
        "--strategy",
        "split-dpop",
        "--slo-p99-ms",
        "250",
        "--device",
        "azure-managed-hsm",
        "--sim-arrivals",
        "20000",
        "--json",
    ]));
    // 444 refreshes/s, not 111: each of the 4 edge tokens is refreshed every 15 minutes.
    let refreshes = v["workload"]["refreshes_per_s"].as_f64().unwrap();
    assert!((refreshes - 444.444).abs() < 1e-3, "{refreshes}");
    let split = &v["plans"][0];
    assert!((split["device_signs_per_s"].as_f64().unwrap() - 444.444).abs() < 1e-3);
    // A throughput-only profile defaults to ρ ≤ 0.7: 444.4 / (0.7 × 330) = 1.92 → 2 devices.
    assert_eq!(v["headroom"], 0.7);
    assert_eq!(split["devices"], 2);
    // ρ < 1 alone needs 2 as well (444.4 / 330 = 1.35).
    assert_eq!(split["limited_by"], "stability");
    assert!(split["per_device"]["offered_utilisation"].as_f64().unwrap() <= 0.7);
    // --headroom overrides the default.
    let v = json_of(&leaklab(&[
        "capacity",
        "plan",
        "--agents",
        "100000",
        "--edges-per-agent",
        "4",
        "--calls-per-s",
        "1",
        "--at-lifetime",
        "15m",
        "--strategy",
        "split-dpop",
        "--device",
        "azure-managed-hsm",
        "--headroom",
        "0.5",
        "--sim-arrivals",
        "20000",
        "--json",
    ]));
    assert_eq!(v["headroom"], 0.5);
    assert_eq!(v["plans"][0]["devices"], 3);
    assert_eq!(v["plans"][0]["limited_by"], "headroom");
}

#[test]
fn cli_planner_reports_impossible_slo() {
    let v = json_of(&leaklab(&[
        "capacity",
        "plan",
        "--agents",
        "10",
        "--edges-per-agent",
        "1",
        "--calls-per-sec",
        "1",
        "--at-lifetime",
        "1h",
        "--device",
        "tpm-intel-ptt",
        "--slo-p99-ms",
        "100",
        "--strategy",
        "single-dpop",
        "--json",
    ]));
    let p = &v["plans"][0];
    assert_eq!(p["sizing"], "slo-below-service-time");
    assert!(p["devices"].is_null());
    assert!(p["note"].as_str().unwrap().contains("exceeds the SLO"));
}

#[test]
fn cli_out_writes_tables_and_plots_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out_dir = dir.path().join(name);
        let out = leaklab(&[
            "capacity",
            "plan",
            "--agents",
            "100000",
            "--edges-per-agent",
            "4",
            "--calls-per-sec",
            "1",
            "--at-lifetime",
            "15m",
            "--device",
            "azure-managed-hsm",
            "--sim-arrivals",
            "20000",
            "--out",
            out_dir.to_str().unwrap(),
            "--json",
        ]);
        (json_of(&out), out_dir)
    };
    let (v, a) = run("a");
    let (_, b) = run("b");
    for f in [
        "capacity.csv",
        "capacity.parquet",
        "capacity-sweep.csv",
        "capacity.json",
        "capacity-single-dpop.svg",
        "capacity-split-dpop.svg",
        "capacity-devices.svg",
    ] {
        let (fa, fb) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(!fa.is_empty(), "{f}");
        assert_eq!(fa, fb, "{f} differs between runs");
    }
    // LEAKLAB_FONT=none: SVG written, PNG skipped and reported.
    assert!(!a.join("capacity-single-dpop.png").exists());
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n.as_str())
        .collect();
    assert!(notes.iter().any(|n| n.contains("PNG skipped")), "{notes:?}");
    let csv = std::fs::read_to_string(a.join("capacity.csv")).unwrap();
    assert!(csv.starts_with("strategy,device_profile,"));
    assert_eq!(csv.lines().count(), 6);
    let sweep = std::fs::read_to_string(a.join("capacity-sweep.csv")).unwrap();
    // 19 utilisation points for each strategy with device load: mtls, jwks, single-dpop, split-dpop
    assert_eq!(sweep.lines().count(), 1 + 4 * 19);
    assert!(a.join("capacity-mtls.svg").exists());
}

// ------------------------------------------------------------------ the deprecated flat form

/// Runs the flat form and its subcommand; both succeed with the same stdout, and the flat form
/// prints exactly the deprecation line on stderr (the subcommand prints nothing there).
fn same_as_subcommand(flat: &[&str], subcommand: &str) -> Output {
    let old = leaklab(flat);
    let new_args: Vec<&str> = std::iter::once("capacity")
        .chain([subcommand])
        .chain(
            flat[1..]
                .iter()
                .copied()
                .filter(|a| *a != "--list-profiles"),
        )
        .collect();
    let new = leaklab(&new_args);
    assert!(
        new.status.success(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
    assert!(
        old.status.success(),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&old.stderr),
        format!("{}\n", deprecation_line(subcommand))
    );
    assert!(
        new.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&new.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&old.stdout),
        String::from_utf8_lossy(&new.stdout)
    );
    old
}

#[test]
fn flat_form_is_an_alias_with_one_deprecation_line() {
    let out = same_as_subcommand(
        &[
            "capacity",
            "--arrival-rate",
            "5",
            "--service-time-ms",
            "100",
            "--arrivals",
            "20000",
            "--json",
        ],
        "queue",
    );
    assert_eq!(json_of(&out)["model"], "M/M/1");
    same_as_subcommand(
        &[
            "capacity",
            "--arrival-rate",
            "30",
            "--service-time-ms",
            "100",
            "--devices",
            "4",
            "--service",
            "deterministic",
            "--arrivals",
            "20000",
        ],
        "queue",
    );
    let out = same_as_subcommand(&["capacity", "--list-profiles"], "profiles");
    assert!(String::from_utf8_lossy(&out.stdout).contains("tpm-infineon-slb9670"));
    same_as_subcommand(&["capacity", "--list-profiles", "--json"], "profiles");
    let out = same_as_subcommand(
        &[
            "capacity",
            "--agents",
            "1000",
            "--edges-per-agent",
            "2",
            "--calls-per-sec",
            "0.5",
            "--at-lifetime",
            "1h",
            "--strategy",
            "split-dpop",
            "--device",
            "azure-managed-hsm",
            "--sim-arrivals",
            "20000",
        ],
        "plan",
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("split-dpop"));
}

#[test]
fn flat_form_writes_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    let args = |sub: Option<&'static str>, out: &Path| -> Vec<String> {
        let mut v: Vec<String> = vec!["capacity".into()];
        v.extend(sub.map(String::from));
        v.extend(
            [
                "--agents",
                "100000",
                "--edges-per-agent",
                "4",
                "--calls-per-s",
                "1",
                "--at-lifetime",
                "15m",
                "--device",
                "azure-managed-hsm",
                "--sim-arrivals",
                "20000",
                "--out",
            ]
            .map(String::from),
        );
        v.push(out.display().to_string());
        v
    };
    let run = |v: Vec<String>| leaklab(&v.iter().map(String::as_str).collect::<Vec<_>>());
    let (o, n) = (run(args(None, &old)), run(args(Some("plan"), &new)));
    assert!(o.status.success() && n.status.success());
    // stdout names the directory, which differs; the rest is the same.
    let strip = |out: &Output, dir: &Path| {
        String::from_utf8_lossy(&out.stdout).replace(&dir.display().to_string(), "DIR")
    };
    assert_eq!(strip(&o, &old), strip(&n, &new));
    let mut names: Vec<_> = std::fs::read_dir(&new)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let (a, b) = (
            std::fs::read(old.join(&name)).unwrap(),
            std::fs::read(new.join(&name)).unwrap(),
        );
        if name == "capacity.json" {
            // It lists the written files, under each run's own directory.
            let text = |bytes: &[u8], dir: &Path| {
                String::from_utf8_lossy(bytes).replace(&dir.display().to_string(), "DIR")
            };
            assert_eq!(text(&a, &old), text(&b, &new));
        } else {
            assert_eq!(a, b, "{name:?}");
        }
    }
}

#[test]
fn flat_form_refuses_the_other_modes_flags() {
    deprecated_error(
        &leaklab(&[
            "capacity",
            "--arrival-rate",
            "1",
            "--service-time-ms",
            "5",
            "--agents",
            "3",
        ]),
        "queue",
        &["--agents"],
    );
    deprecated_error(
        &leaklab(&["capacity", "--agents", "10"]),
        "plan",
        &["--edges-per-agent"],
    );
}

#[test]
fn subcommands_have_their_own_flags() {
    one_line_error(
        &leaklab(&["capacity", "plan", "--arrival-rate", "5"]),
        &["--arrival-rate"],
    );
    one_line_error(
        &leaklab(&[
            "capacity",
            "queue",
            "--arrival-rate",
            "5",
            "--service-time-ms",
            "1",
            "--out",
            "x",
        ]),
        &["--out"],
    );
    one_line_error(
        &leaklab(&["capacity", "profiles", "--device", "x"]),
        &["--device"],
    );
    // The deprecated table is the flat form's only.
    one_line_error(
        &leaklab(&["capacity", "plan", "--scenario", "x.toml"]),
        &["--scenario"],
    );
    // Without a subcommand, `capacity` shows its help (on stderr, exit 2) naming all three.
    let out = leaklab(&["capacity"]);
    assert_eq!(out.status.code(), Some(2));
    let help = String::from_utf8_lossy(&out.stderr);
    for sub in ["plan", "queue", "profiles"] {
        assert!(help.contains(sub), "{help}");
    }
}
