//! The live testbed through the binary: a leak drill whose measured times to disable must match
//! the simulator's for the same draws (real swtpm for the core device key, real HTTPS servers on
//! 127.0.0.1), `testbed serve` killed with SIGKILL mid-refresh (no confirmed grant lost, no
//! revoked token back), an outside DPoP client (Python `cryptography`, a second proof
//! implementation) walking README's steps, and `testbed load` on a short budget. With CI=true a
//! missing swtpm, venv or openssl fails.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{missing_part, repo};
use leaklab_protocol::token_endpoint::RtBinding;
use leaklab_testbed::{Admin, ClientAuth, HttpClient};
use leaklab_testbed::{ClientAuthMethod, ClientConfig};

fn leaklab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_leaklab"))
}

/// Runs `leaklab ARGS --out DIR` from the repository root, which must succeed; returns the text,
/// header and rows of `DIR/CSV`.
fn run_to_csv(
    args: &[&str],
    dir: &Path,
    csv: &str,
) -> (String, csv::StringRecord, Vec<csv::StringRecord>) {
    let run = leaklab()
        .args(args)
        .arg("--out")
        .arg(dir)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(dir.join(csv)).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let rows = reader.records().map(Result::unwrap).collect();
    (text, headers, rows)
}

#[test]
fn drill_measured_ttd_matches_the_simulator_for_every_replayed_cell() {
    if leaklab_signers::lab::which("swtpm").is_none() {
        return missing_part("swtpm (the drill's core device key)");
    }
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("drill");
    let (csv, headers, rows) = run_to_csv(
        &["drill", "tests/data/drill-small.toml", "--customers", "8"],
        &dir,
        "drill.csv",
    );
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (agrees, customer, skipped, strategy, leak) = (
        col("agrees"),
        col("customer"),
        col("not_replayed"),
        col("strategy"),
        col("leak"),
    );
    let replayed: Vec<_> = rows.iter().filter(|r| !r[customer].is_empty()).collect();
    // Every strategy is replayed on every leak class, with customers: rotation with reuse
    // detection included (the maximal attacker defers its refresh to the instant before the
    // client's rotating refresh), and a JWKS-host leak (the attacker's JWKS served under the
    // host's certificate until the provider refuses it by CRL or expiry).
    for s in [
        "bearer",
        "bearer-rotation",
        "mtls",
        "jwks",
        "single-dpop",
        "single-dpop-hsm",
        "split-dpop",
    ] {
        for l in ["rt-store", "core-host", "edge", "jwks-host"] {
            assert!(
                replayed.iter().any(|r| &r[strategy] == s && &r[leak] == l),
                "{s} × {l} has no replayed customer:\n{csv}"
            );
        }
    }
    assert!(replayed.iter().all(|r| &r[agrees] == "true"), "{csv}");
    assert!(rows.iter().all(|r| r[skipped].is_empty()), "{csv}");
    let page = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(page.contains("Measured versus simulated"));
}

/// A running `leaklab testbed serve` and the JSON line it printed.
struct Served {
    child: Child,
    info: serde_json::Value,
}

fn serve(state: &Path, config: &Path) -> Served {
    let mut child = leaklab()
        .args(["testbed", "serve", "--state-dir"])
        .arg(state)
        .arg("--config")
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    Served { child, info }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn http(info: &serde_json::Value) -> HttpClient {
    HttpClient::new(info["ca_pem"].as_str().unwrap(), None, true).unwrap()
}

fn refresh(
    rt: &tokio::runtime::Runtime,
    c: &HttpClient,
    info: &serde_json::Value,
    token: &str,
) -> Result<String, String> {
    let auth = ClientAuth::ClientId("bearer-app".into());
    match rt.block_on(c.refresh(
        info["token_endpoint"].as_str().unwrap(),
        token,
        &auth,
        None,
        None,
    )) {
        Ok(Ok(t)) => Ok(t.refresh_token.unwrap_or_default()),
        Ok(Err(refusal)) => Err(refusal.error),
        Err(e) => Err(e.to_string()),
    }
}

fn admin(info: &serde_json::Value) -> Admin {
    Admin {
        http: http(info),
        as_url: info["issuer"].as_str().unwrap().to_owned(),
        token: info["admin_token"].as_str().unwrap().to_owned(),
    }
}

#[test]
fn sigkill_of_the_authorization_server_loses_no_confirmed_grant_and_resurrects_no_revoked_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        "[testbed]\nrotation = true\nreuse_detection = true\n",
    )
    .unwrap();
    let mut s = serve(&state, &config);
    let rt = runtime();
    let c = http(&s.info);
    let a = admin(&s.info);
    rt.block_on(a.register(&ClientConfig {
        client_id: "bearer-app".into(),
        auth: ClientAuthMethod::None,
        metadata: Default::default(),
        rotation: true,
        reuse_detection: true,
        certificate_bound_access_tokens: false,
    }))
    .unwrap();
    let grant = |sub: &str| {
        rt.block_on(a.provision("bearer-app", sub, &RtBinding::None))
            .unwrap()
            .1
    };
    // Idle grants with confirmed rotations, and a grant revoked with a confirmed answer.
    let mut idle: Vec<String> = (0..5).map(|i| grant(&format!("idle-{i}"))).collect();
    for token in &mut idle {
        for _ in 0..3 {
            *token = refresh(&rt, &c, &s.info, token).unwrap();
        }
    }
    let revoked = grant("revoked");
    let status = rt.block_on(async {
        c.raw()
            .post(s.info["revocation_endpoint"].as_str().unwrap())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={revoked}&client_id=bearer-app"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    // A busy grant refreshed in a loop (bounded: 10,000 requests or the kill) while the server is
    // killed; the last confirmed token is either still current or was rotated by the request in
    // flight at the kill.
    let busy = grant("busy");
    let info = s.info.clone();
    let worker = std::thread::spawn(move || {
        let rt = runtime();
        let c = http(&info);
        let mut last = busy;
        for _ in 0..10_000 {
            match refresh(&rt, &c, &info, &last) {
                Ok(next) => last = next,
                Err(_) => break,
            }
        }
        last
    });
    std::thread::sleep(std::time::Duration::from_millis(400));
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
    let last_confirmed = worker.join().unwrap();

    let mut s = serve(&state, &config);
    let c = http(&s.info);
    for token in &idle {
        assert!(
            refresh(&rt, &c, &s.info, token).is_ok(),
            "a confirmed grant was lost"
        );
    }
    assert_eq!(
        refresh(&rt, &c, &s.info, &revoked),
        Err("invalid_grant".to_owned()),
        "a revoked grant came back"
    );
    let busy_after = refresh(&rt, &c, &s.info, &last_confirmed);
    assert!(
        busy_after.is_ok() || busy_after == Err("invalid_grant".to_owned()),
        "{busy_after:?}"
    );
    // SIGTERM stops it cleanly.
    unsafe_kill_term(&s.child);
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

fn unsafe_kill_term(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn venv_python() -> Option<PathBuf> {
    let venv = std::env::var("LEAKLAB_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/leaklab-venv")
        });
    let python = venv.join("bin/python");
    python.exists().then_some(python)
}

#[test]
fn an_outside_dpop_client_refreshes_and_calls_the_resource_server() {
    let Some(python) = venv_python() else {
        return missing_part("no venv with `cryptography` (scripts/setup creates it)");
    };
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, "[testbed]\n").unwrap();
    let mut s = serve(&dir.path().join("state"), &config);
    let mut client = Command::new(python)
        .arg(repo().join("tests/outside_client/dpop_client.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(client.stdin.take().unwrap(), "{}", s.info).unwrap();
    let out = client.wait_with_output().unwrap();
    let _ = s.child.kill();
    let _ = s.child.wait();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(v["refresh"], 200);
    assert_eq!(v["call"], 200);
    assert_eq!(v["replay_other_instance"][1], "invalid_dpop_proof");
    assert_eq!(v["refresh_without_rt_key"][1], "invalid_dpop_rt_proof");
}

/// `testbed serve --config` on a file with `text`: exit code and stderr.
fn serve_with_config(dir: &Path, text: &str) -> (Option<i32>, String) {
    let config = dir.join("bad.toml");
    std::fs::write(&config, text).unwrap();
    let out = leaklab()
        .args(["testbed", "serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_broken_serve_config_names_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = serve_with_config(dir.path(), "[testbed]\nat_revocation = \"sometimes\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("bad.toml")
            && err.contains("testbed.at_revocation")
            && err.contains("introspection"),
        "{err}"
    );
    let (code, err) = serve_with_config(dir.path(), "[testbed]\nport_number = 1\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("port_number") && err.contains("at_lifetime"),
        "{err}"
    );
}

/// `testbed load` end to end on a short budget: every target answers without failures, each in
/// its slices with the openssl reference after each (behaviour only; the speed figures are the
/// command's own output, not asserted here).
#[test]
fn testbed_load_measures_every_target_with_the_reference_between_slices() {
    if leaklab_signers::lab::which("openssl").is_none() {
        return missing_part("openssl (the load's reference)");
    }
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("load");
    let (csv, headers, rows) = run_to_csv(
        &[
            "testbed",
            "load",
            "--seconds",
            "0.6",
            "--rounds",
            "2",
            "--concurrency",
            "2",
            "--no-device",
        ],
        &dir,
        "load.csv",
    );
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let targets: Vec<&str> = rows.iter().map(|r| &r[col("target")]).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        targets[0].contains("memory") && targets[1].contains("SQLite"),
        "{csv}"
    );
    for r in &rows {
        assert!(r[col("answered_ok")].parse::<u64>().unwrap() > 0, "{csv}");
        assert_eq!(&r[col("failed")], "0", "{csv}");
        assert_eq!(&r[col("slices")], "2", "{csv}");
        let ratio: f64 = r[col("ratio_to_openssl_verify_per_core")].parse().unwrap();
        let (lo, hi): (f64, f64) = (
            r[col("ratio_min")].parse().unwrap(),
            r[col("ratio_max")].parse().unwrap(),
        );
        assert!(ratio > 0.0 && lo <= ratio && ratio <= hi, "{csv}");
    }
    assert!(std::fs::read_to_string(dir.join("index.html"))
        .unwrap()
        .contains("ratio_to_openssl_verify_per_core"));
}
