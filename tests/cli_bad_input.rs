//! Bad input at the command line: every case ends with a clear error, never a panic.
//!
//! The contract (src/cli/mod.rs): exit 0 ok, 1 a negative verdict, 2 an error with exactly one
//! `leaklab: error: ...` line on stderr. `dpop verify` reports a rejected proof as one JSON line
//! on stdout with exit 1. A failed `run` leaves nothing behind in the output's parent directory.

mod common;
use common::manifest_dir;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;

fn leaklab_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leaklab"))
        .args(args)
        .current_dir(dir)
        .env("LEAKLAB_FONT", "none")
        .output()
        .expect("run leaklab")
}

fn leaklab(args: &[&str]) -> Output {
    leaklab_in(Path::new(&manifest_dir()), args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit code 2, exactly one stderr line `leaklab: error: ...` containing every one of `needles`,
/// nothing on stdout, no panic.
#[track_caller]
fn assert_error(out: &Output, needles: &[&str]) -> String {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !stdout.contains("panicked") && !stderr.contains("panicked"),
        "panic:\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(2), "exit code; stderr:\n{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("leaklab: error:"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one error line expected:\n{stderr}");
    let others: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("leaklab: "))
        .collect();
    assert!(
        others.is_empty(),
        "stray stderr lines {others:?} in:\n{stderr}"
    );
    assert!(stdout.is_empty(), "stdout on error: {stdout}");
    for n in needles {
        assert!(lines[0].contains(n), "{n:?} not in {:?}", lines[0]);
    }
    lines[0].to_string()
}

/// A negative verify verdict: exit 1, one JSON line on stdout with `valid: false` and `reason`.
#[track_caller]
fn assert_rejected(out: &Output, reason: &str) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !stdout.contains("panicked") && !stderr.contains("panicked"),
        "panic:\n{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit code; stdout {stdout} stderr {stderr}"
    );
    assert!(stderr.is_empty(), "stderr: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line expected: {stdout}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).expect("JSON verdict");
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["error"], "invalid_dpop_proof", "{v}");
    assert_eq!(v["reason"], reason, "{v}");
}

fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// A small valid scenario; tests break one thing in it.
const SCENARIO: &str = r#"[scenario]
name = "bad-input"
customers = 20
replications = 2
horizon = "30d"

[[strategy]]
name = "bearer"
kind = "bearer"

[[strategy]]
name = "split-dpop"
kind = "split-dpop"

[[leak]]
name = "rt-store"
compromises = ["core-disk"]
"#;

/// Runs `leaklab run <file> --out <dir>/out/results` in a temp dir and checks the error and that
/// the output's parent holds exactly what it held before.
#[track_caller]
fn assert_run_fails(
    file_content: Option<&[u8]>,
    file_is_dir: bool,
    extra: &[&str],
    needles: &[&str],
) -> String {
    let tmp = tempfile::tempdir().expect("tempdir");
    let parent = tmp.path().join("out");
    std::fs::create_dir(&parent).expect("mkdir");
    std::fs::write(parent.join("keep.txt"), "existing").expect("write");
    let file = tmp.path().join("scenario.toml");
    match (file_content, file_is_dir) {
        (_, true) => std::fs::create_dir(&file).expect("mkdir"),
        (Some(bytes), false) => std::fs::write(&file, bytes).expect("write"),
        (None, false) => {}
    }
    let before = entries(&parent);
    let mut args = vec!["run", "scenario.toml", "--out", "out/results", "--quiet"];
    args.extend_from_slice(extra);
    let line = assert_error(&leaklab_in(tmp.path(), &args), needles);
    assert_eq!(
        entries(&parent),
        before,
        "new entries next to the output after a failed run"
    );
    assert!(
        !tmp.path().join("results").exists(),
        "default results/ created"
    );
    line
}

#[test]
fn run_missing_file() {
    assert_run_fails(None, false, &[], &["scenario.toml", "cannot read"]);
}

#[test]
fn run_directory_instead_of_file() {
    assert_run_fails(None, true, &[], &["scenario.toml", "cannot read"]);
}

#[test]
fn run_empty_file() {
    assert_run_fails(Some(b""), false, &[], &["scenario.toml", "[scenario]"]);
}

#[test]
fn run_binary_garbage() {
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_run_fails(Some(&garbage), false, &[], &["scenario.toml"]);
}

#[test]
fn run_toml_syntax_error_is_one_line_with_position() {
    let broken = SCENARIO.replace("customers = 20", "customers = ");
    assert_run_fails(
        Some(broken.as_bytes()),
        false,
        &[],
        &["scenario.toml", "not valid TOML at line 3"],
    );
}

#[test]
fn run_zero_horizon() {
    let zero = SCENARIO.replace(r#"horizon = "30d""#, r#"horizon = "0s""#);
    assert_run_fails(
        Some(zero.as_bytes()),
        false,
        &[],
        &["scenario.toml", "scenario.horizon", "greater than zero"],
    );
}

#[test]
fn run_out_of_range_overrides() {
    let ok = SCENARIO.as_bytes();
    assert_run_fails(
        Some(ok),
        false,
        &["--customers", "0"],
        &["--customers", "1..=100000000"],
    );
    assert_run_fails(
        Some(ok),
        false,
        &["--replications", "1"],
        &["--replications", "2..=10000"],
    );
    assert_run_fails(
        Some(ok),
        false,
        &["--customers", "99999999999999999999999"],
        &["--customers"],
    );
    assert_run_fails(Some(ok), false, &["--customers", "many"], &["--customers"]);
}

#[test]
fn run_refuses_to_replace_a_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("scenario.toml"), SCENARIO).expect("write");
    std::fs::write(tmp.path().join("results.txt"), "mine").expect("write");
    let before = entries(tmp.path());
    let out = leaklab_in(
        tmp.path(),
        &["run", "scenario.toml", "--out", "results.txt", "--quiet"],
    );
    assert_error(&out, &["results.txt", "not a directory"]);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("results.txt")).expect("read"),
        "mine"
    );
    assert_eq!(entries(tmp.path()), before);
}

#[test]
fn validate_wrong_type_names_file_key_and_allowed_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "customers = 20",
            r#"customers = "many""#,
            &["scenario.customers", "whole number from 1 to 100000000"][..],
        ),
        (
            "customers = 20",
            "customers = 20.5",
            &["scenario.customers", "20.5"][..],
        ),
        (
            r#"kind = "bearer""#,
            "kind = 7",
            &["strategy[0].kind", "expected a string"][..],
        ),
        (
            r#"kind = "bearer""#,
            r#"kind = "bogus""#,
            &["strategy[0].kind", "allowed", "split-dpop"][..],
        ),
        (
            r#"compromises = ["core-disk"]"#,
            r#"compromises = "core-disk""#,
            &["leak[0].compromises", "core-host"][..],
        ),
        (
            r#"horizon = "30d""#,
            r#"horizon = "30 days""#,
            &["scenario.horizon", "15m"][..],
        ),
        (
            r#"horizon = "30d""#,
            "horizon = true",
            &["scenario.horizon"][..],
        ),
    ];
    for (from, to, needles) in cases {
        let file = tmp.path().join("s.toml");
        std::fs::write(&file, SCENARIO.replacen(from, to, 1)).expect("write");
        let line = assert_error(&leaklab_in(tmp.path(), &["validate", "s.toml"]), needles);
        assert!(line.contains("s.toml"), "file not named: {line}");
    }
}

#[test]
fn validate_extreme_distribution_parameters_are_refused_with_their_range() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            r#"{ dist = "lognormal", median = 1e12, sigma = 11 }"#,
            "sigma",
            "0 to 10",
        ),
        (
            r#"{ dist = "weibull", shape = 0.001, scale = "1h" }"#,
            "shape",
            "0.01 to 100",
        ),
        (
            r#"{ dist = "exponential", mean = "0s" }"#,
            "mean",
            "greater than zero",
        ),
    ];
    for (dist, key, allowed) in cases {
        let scenario = format!("{SCENARIO}\n[detection]\ndelay = {dist}\n");
        std::fs::write(tmp.path().join("s.toml"), scenario).expect("write");
        let out = leaklab_in(tmp.path(), &["validate", "s.toml"]);
        assert_error(
            &out,
            &["s.toml", &format!("detection.delay.{key}"), allowed],
        );
    }
}

/// Parameters at the edge of their allowed range make huge or infinite draws (lognormal sigma 10
/// with a 1e12 s median, Weibull shape 0.01 with a 1e300 s scale, 1e308 s horizons); the
/// simulation must run through them: histograms, casts and counters saturate, nothing panics.
#[test]
fn extreme_but_valid_distributions_run_without_panicking() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let scenario = format!(
        "{}\n{}",
        SCENARIO.replace(r#"horizon = "30d""#, "horizon = 1e308"),
        r#"
[grant]
at_lifetime = "1ms"
rt_lifetime = { dist = "weibull", shape = 0.01, scale = 1e300 }

[response]
immediate = { share = 0.4, delay = { dist = "weibull", shape = 0.01, scale = 1e300 } }
eventual = { share = 0.4, delay = { dist = "lognormal", median = 1e12, sigma = 10 } }
never = { share = 0.2 }

[detection]
delay = { dist = "exponential", mean = 1e308 }
notify_delay = { dist = "uniform", min = 0, max = 1e308 }

[attacker]
calls_per_hour = 1e9
refresh = "on-expiry"
"#
    );
    std::fs::write(tmp.path().join("s.toml"), scenario).expect("write");
    let out = leaklab_in(tmp.path(), &["run", "s.toml", "--out", "res", "--quiet"]);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(tmp.path().join("res/summary.csv").is_file());
}

/// `leaklab` alone prints the help, as clap tools do (clap's `arg_required_else_help`: on
/// stderr, exit code 2), and so does a command group without its subcommand.
#[test]
fn no_arguments_prints_help() {
    for args in [&[][..], &["dpop"]] {
        let out = leaklab(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(stderr.contains("Usage: leaklab"), "{args:?}: {stderr}");
        assert!(stderr.contains("Commands:"), "{args:?}: {stderr}");
    }
    assert!(text(&leaklab(&[]).stderr).contains("run "));
    assert!(text(&leaklab(&["dpop"]).stderr).contains("verify "));
}

/// A TPM that is not there is exactly one stderr line: the TPM stack's own WARNING/ERROR log
/// lines stay quiet unless `TSS2_LOG` asks for them. (Without the `tpm` feature the one line
/// says so instead.)
#[test]
fn missing_tpm_is_one_stderr_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_leaklab"))
        .args([
            "dpop",
            "proof",
            "--signer",
            "tpm",
            "--htm",
            "GET",
            "--htu",
            "https://rs.example/r",
        ])
        .env("LEAKLAB_TCTI", "swtpm:host=127.0.0.1,port=1")
        .env_remove("TSS2_LOG")
        .output()
        .expect("run leaklab");
    let line = assert_error(&out, &["TPM"]);
    assert_eq!(
        text(&out.stderr).lines().count(),
        1,
        "{}",
        text(&out.stderr)
    );
    if cfg!(feature = "tpm") {
        assert!(line.contains("swtpm:host=127.0.0.1,port=1"), "{line}");
    }
}

#[test]
fn usage_errors_are_one_line() {
    assert_error(&leaklab(&["frobnicate"]), &["frobnicate"]);
    assert_error(&leaklab(&["run"]), &["<FILE>"]);
    assert_error(
        &leaklab(&["dpop", "verify", "--proof", "x"]),
        &["--htm", "--htu"],
    );
    assert_error(&leaklab(&["capacity", "--devices", "-3"]), &["-3"]);
    assert_error(&leaklab(&["capacity", "plan", "--devices", "-3"]), &["-3"]);
    assert_error(&leaklab(&["capacity", "bogus"]), &["bogus"]);
    // --help and --version are not errors.
    assert_eq!(leaklab(&["--help"]).status.code(), Some(0));
    assert_eq!(leaklab(&["--version"]).status.code(), Some(0));
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

fn verify(proof: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "dpop",
        "verify",
        "--proof",
        proof,
        "--htm",
        "GET",
        "--htu",
        "https://rs.example/r",
    ];
    args.extend_from_slice(extra);
    leaklab(&args)
}

#[test]
fn verify_oversized_proof() {
    // One argv string is capped at 128 KiB on Linux (MAX_ARG_STRLEN), so "1 MB" cannot reach the
    // binary; just under the cap is 16 times the 8 KiB limit.
    let big = format!("{}.{}.{}", "a".repeat(130_000 - 4), "b", "c");
    assert_rejected(&verify(&big, &["--now", "1700000000"]), "size");
}

#[test]
fn verify_malformed_proofs() {
    let header = b64(
        r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}"#,
    );
    let claims = b64(r#"{"jti":"1","htm":"GET","htu":"https://rs.example/r","iat":1700000000}"#);
    let cases = [
        "a.b.c.d.e.f".to_string(),
        "!!.@@.##".to_string(),
        format!("{header}.{claims}"),
        format!("{}.{claims}.AAAA", b64("[1,2]")),
        format!("{}.{claims}.AAAA", b64("null")),
        format!("{header}.{}.AAAA", b64("[]")),
        format!("{}.{claims}.AAAA", b64("{\"alg\":")),
        String::new(),
        "...".to_string(),
    ];
    for proof in &cases {
        let out = verify(proof, &["--now", "1700000000"]);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{proof}: {stdout} {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).contains("panicked"));
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
        assert_eq!(v["valid"], false, "{proof}: {v}");
        assert_eq!(stdout.lines().count(), 1);
    }
    assert_rejected(&verify("a.b.c.d.e.f", &["--now", "0"]), "jwt_syntax");
    assert_rejected(
        &verify(&format!("{}.{claims}.AAAA", b64("[1,2]")), &["--now", "0"]),
        "jwt_syntax",
    );
}

#[test]
fn verify_extreme_now_values() {
    let p = "a.b.c";
    // Negative and extreme (but representable) times are a verdict, not a crash.
    assert_rejected(&verify(p, &["--now", "-5"]), "jwt_syntax");
    assert_rejected(&verify(p, &["--now", &i64::MIN.to_string()]), "jwt_syntax");
    assert_rejected(&verify(p, &["--now", &i64::MAX.to_string()]), "jwt_syntax");
    assert_error(
        &verify(p, &["--now", "99999999999999999999999"]),
        &["--now"],
    );
    assert_error(&verify(p, &["--now", "1e300"]), &["--now"]);
    assert_error(&verify(p, &["--now", "NaN"]), &["--now"]);
    assert_error(&verify(p, &["--max-age", "-1"]), &["--max-age", "negative"]);
    assert_error(
        &leaklab(&[
            "dpop",
            "verify",
            "--proof",
            p,
            "--htm",
            "GET",
            "--htu",
            "not a uri",
        ]),
        &["--htu"],
    );
}

#[test]
fn thumbprint_of_malformed_jwks() {
    assert_error(
        &leaklab(&["dpop", "thumbprint", "--jwk", "{}"]),
        &["--jwk", "kty"],
    );
    assert_error(
        &leaklab(&["dpop", "thumbprint", "--jwk", "[]"]),
        &["--jwk", "not a JSON object"],
    );
    assert_error(
        &leaklab(&["dpop", "thumbprint", "--jwk", r#"{"kty":"EC"}"#]),
        &["--jwk", "crv"],
    );
    assert_error(
        &leaklab(&["dpop", "thumbprint", "--jwk", r#"{"kty":"EC","crv":5}"#]),
        &["--jwk", "crv"],
    );
    assert_error(&leaklab(&["dpop", "thumbprint", "--jwk", "{"]), &["--jwk"]);
    assert_error(&leaklab(&["dpop", "thumbprint", "--jwk", ""]), &["--jwk"]);
}

#[test]
fn capacity_direct_mode_bad_numbers() {
    let run = |rate: &str, ms: &str, extra: &[&str]| {
        let mut args = vec![
            "capacity",
            "queue",
            "--arrival-rate",
            rate,
            "--service-time-ms",
            ms,
            "--arrivals",
            "1000",
        ];
        args.extend_from_slice(extra);
        leaklab(&args)
    };
    assert_error(&run("0", "5", &[]), &["--arrival-rate", "> 0"]);
    assert_error(&run("NaN", "5", &[]), &["--arrival-rate", "NaN"]);
    assert_error(&run("inf", "5", &[]), &["--arrival-rate"]);
    assert_error(&run("-3", "5", &[]), &["--arrival-rate"]);
    assert_error(&run("10", "-1", &[]), &["--service-time-ms", "-1"]);
    assert_error(&run("10", "abc", &[]), &["--service-time-ms"]);
    assert_error(&run("10", "5", &["--devices", "0"]), &["--devices"]);
    assert_error(&run("10", "5", &["--warmup", "1000"]), &["warm-up"]);
    assert_error(&run("10", "5", &["--arrivals", "0"]), &["arrivals"]);
}

#[test]
fn capacity_planner_bad_input() {
    let base = [
        "capacity",
        "plan",
        "--agents",
        "10",
        "--edges-per-agent",
        "2",
        "--calls-per-sec",
        "1",
        "--at-lifetime",
        "1h",
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        leaklab(&args)
    };
    assert_error(
        &run(&["--device", "no-such-device"]),
        &["no-such-device", "available", "azure-managed-hsm"],
    );
    assert_error(&run(&[]), &["--device"]);
    let d = ["--device", "azure-managed-hsm"];
    assert_error(
        &run(&[&d[..], &["--slo-p99-ms", "0"]].concat()),
        &["--slo-p99-ms"],
    );
    assert_error(
        &run(&[&d[..], &["--slo-p99-ms", "NaN"]].concat()),
        &["--slo-p99-ms"],
    );
    assert_error(
        &run(&[&d[..], &["--max-devices", "0"]].concat()),
        &["max devices"],
    );
    assert_error(
        &run(&[&d[..], &["--sim-arrivals", "0"]].concat()),
        &["simulated arrivals"],
    );
    assert_error(
        &run(&[&d[..], &["--refresh-interval", "1fortnight"]].concat()),
        &["--refresh-interval"],
    );
    let huge = [
        "capacity",
        "plan",
        "--agents",
        "10",
        "--edges-per-agent",
        "2",
        "--calls-per-sec",
        "1e308",
        "--at-lifetime",
        "1h",
    ];
    assert_error(
        &leaklab(&[&huge[..], &d[..]].concat()),
        &["--calls-per-s", "1e308", "supported maximum"],
    );
}

#[test]
fn capacity_bad_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("broken.toml"), "a = \n[[[\n").expect("write");
    std::fs::write(tmp.path().join("typed.toml"), "[[profile]]\nname = 5\n").expect("write");
    std::fs::write(tmp.path().join("garbage.csv"), [0xff, 0xfe, 0x00, 0x81]).expect("write");
    std::fs::write(tmp.path().join("plain.toml"), SCENARIO).expect("write");
    let run = |args: &[&str]| leaklab_in(tmp.path(), args);
    assert_error(
        &run(&["capacity", "profiles", "--profiles", "missing.toml"]),
        &["missing.toml"],
    );
    assert_error(
        &run(&["capacity", "profiles", "--profiles", "broken.toml"]),
        &["broken.toml", "line 1, column 5"],
    );
    assert_error(
        &run(&["capacity", "profiles", "--profiles", "typed.toml"]),
        &["typed.toml", "line 2"],
    );
    assert_error(
        &run(&["capacity", "profiles", "--signers-csv", "garbage.csv"]),
        &["garbage.csv"],
    );
    // The deprecated flat form reaches the same checks.
    assert_error(
        &run(&["capacity", "--profiles", "missing.toml", "--list-profiles"]),
        &["missing.toml"],
    );
    assert_error(
        &run(&["capacity", "--scenario", "missing.toml"]),
        &["missing.toml", "cannot read"],
    );
    assert_error(
        &run(&["capacity", "--scenario", "broken.toml"]),
        &["broken.toml", "not valid TOML"],
    );
    assert_error(
        &run(&["capacity", "--scenario", "plain.toml"]),
        &["plain.toml", "[capacity]"],
    );
}

#[test]
fn bench_signers_bad_counts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let run = |args: &[&str]| leaklab_in(tmp.path(), args);
    assert_error(&run(&["bench", "signers", "--count", "0"]), &["--count"]);
    assert_error(
        &run(&["bench", "signers", "--seconds", "0"]),
        &["--seconds"],
    );
    assert_error(
        &run(&["bench", "signers", "--seconds", "NaN"]),
        &["--seconds"],
    );
    assert_error(
        &run(&["bench", "signers", "--count", "1", "--concurrency", "0"]),
        &["--concurrency"],
    );
    assert!(
        entries(tmp.path()).is_empty(),
        "bench wrote files after a usage error"
    );
}

#[test]
fn unknown_signer_names_the_choices() {
    assert_error(
        &leaklab(&[
            "dpop",
            "proof",
            "--signer",
            "hsm",
            "--htm",
            "GET",
            "--htu",
            "https://rs.example/r",
        ]),
        &["--signer", "invalid value 'hsm'", "software, tpm, pkcs11"],
    );
}
