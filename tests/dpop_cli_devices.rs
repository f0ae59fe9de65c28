//! `leaklab dpop proof --signer tpm|pkcs11` end to end, run as the built binary against real
//! devices: a `swtpm` started here on loopback (`LEAKLAB_TCTI` set for the child) and a SoftHSM2
//! token initialised here in a temporary directory (`LEAKLAB_PKCS11_MODULE` / `_TOKEN` / `_PIN`
//! and `SOFTHSM2_CONF` set for the child). Each proof then goes through `leaklab dpop verify`
//! with `ath` and the expected key thumbprint (`cnf.jkt`), and must come back `{"valid":true}`.
//!
//! When swtpm or SoftHSM2 is not installed these tests FAIL if `CI=true` and otherwise print a
//! loud SKIP line (the project rule: CI never skips a real device).

#![cfg(all(feature = "tpm", feature = "pkcs11"))]

mod common;
use common::in_ci;

use std::io::Write as _;
use std::process::{Command, Output};

use leaklab_protocol::{b64, jwk::Jwk};
use leaklab_signers::lab::LabError;
use serde_json::Value;

const HTM: &str = "GET";
/// The proof's `htu` drops the query; `verify` is given the full request URI.
const HTU: &str = "https://rs.example.com/api/v1/orders?page=2";
const ACCESS_TOKEN: &str = "eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZ2VudC00MiJ9.c2ln";
/// Fixed `iat` / verification time, so the test does not depend on the clock.
const NOW: &str = "1700000000";

/// Environment variables that name devices; cleared for every child so that only what a test
/// sets is seen (a developer's own `TPM2TOOLS_TCTI` must not redirect the test).
const DEVICE_VARS: [&str; 7] = [
    "LEAKLAB_TCTI",
    "TPM2TOOLS_TCTI",
    "TCTI",
    "LEAKLAB_PKCS11_MODULE",
    "LEAKLAB_PKCS11_TOKEN",
    "LEAKLAB_PKCS11_PIN",
    "SOFTHSM2_CONF",
];

/// Handles a device that could not be provisioned: fail in CI (or if the software is installed
/// but broken), loud skip elsewhere.
fn missing(what: &str, err: &LabError) {
    if in_ci() || !err.is_missing() {
        panic!("{what}: {err}");
    }
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests, and a
    // skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIP {what}: {err} (this test FAILS when CI=true) ***\n"
    );
}

/// Runs the binary with the device variables replaced by `env`.
fn leaklab(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leaklab"));
    for var in DEVICE_VARS.iter().chain(&["TSS2_LOG"]) {
        cmd.env_remove(var);
    }
    cmd.args(args).envs(env.iter().copied());
    cmd.output().expect("run leaklab")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

/// leaklab's own error is the only stderr line: the binary keeps the TSS2 libraries' own log
/// lines quiet (`TSS2_LOG` is removed from the child's environment, so the default applies).
fn assert_one_error_line(stderr: &str) {
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].starts_with("leaklab: error:"), "{stderr}");
}

/// `dpop proof --signer <signer>` with `ath`; returns the compact proof.
fn make_proof(signer: &str, env: &[(&str, &str)]) -> String {
    let out = leaklab(
        &[
            "dpop",
            "proof",
            "--signer",
            signer,
            "--htm",
            HTM,
            "--htu",
            HTU,
            "--access-token",
            ACCESS_TOKEN,
            "--now",
            NOW,
        ],
        env,
    );
    assert!(
        out.status.success(),
        "dpop proof --signer {signer} failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let proof = text(&out.stdout);
    assert_eq!(proof.split('.').count(), 3, "compact JWS: {proof}");
    proof
}

/// `dpop verify` of `proof` at `NOW` with the access token and `jkt`: (exit code, JSON line).
fn verify(proof: &str, access_token: &str, jkt: &str) -> (Option<i32>, Value) {
    let out = leaklab(
        &[
            "dpop",
            "verify",
            "--proof",
            proof,
            "--htm",
            HTM,
            "--htu",
            HTU,
            "--access-token",
            access_token,
            "--jkt",
            jkt,
            "--now",
            NOW,
        ],
        &[],
    );
    let line = text(&out.stdout);
    let json = serde_json::from_str(&line).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON line ({e}): {line}\n{}",
            text(&out.stderr)
        )
    });
    (out.status.code(), json)
}

/// The protected header of a compact JWS, as JSON.
fn header(proof: &str) -> Value {
    let first = proof.split('.').next().expect("header part");
    serde_json::from_slice(&b64::decode(first).expect("base64url header")).expect("JSON header")
}

/// The proof verifies with its key bound (`cnf.jkt`) and `ath`; a wrong binding and a wrong
/// access token are rejected with the RFC 9449 error codes.
fn check_round_trip(proof: &str, jkt: &str) {
    let h = header(proof);
    assert_eq!(h["typ"], "dpop+jwt", "{h}");
    assert_eq!(h["alg"], "ES256", "{h}");
    let key = Jwk::from_json(&h["jwk"]).expect("header jwk is a public P-256 key");
    assert_eq!(key.thumbprint(), jkt, "proof key is the device key");

    let (code, ok) = verify(proof, ACCESS_TOKEN, jkt);
    assert_eq!(code, Some(0), "{ok}");
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["jkt"], jkt, "{ok}");

    // Bound to another key: invalid_token (RFC 9449 §7.1).
    let other = b64::sha256_b64("another key");
    let (code, bad) = verify(proof, ACCESS_TOKEN, &other);
    assert_eq!(code, Some(1), "{bad}");
    assert_eq!(bad["valid"], false, "{bad}");
    assert_eq!(bad["error"], "invalid_token", "{bad}");
    assert_eq!(bad["reason"], "key_binding", "{bad}");

    // Presented with another access token: `ath` does not match.
    let (code, bad) = verify(proof, "another-access-token", jkt);
    assert_eq!(code, Some(1), "{bad}");
    assert_eq!(bad["error"], "invalid_dpop_proof", "{bad}");
    assert_eq!(bad["reason"], "ath_mismatch", "{bad}");
}

#[test]
fn tpm_proof_from_cli_verifies() {
    use leaklab_signers::{lab::Swtpm, tpm::TpmSigner, Signer as _};
    let swtpm = match Swtpm::start() {
        Ok(s) => s,
        Err(e) => return missing("dpop proof --signer tpm (swtpm)", &e),
    };
    let tcti = swtpm.tcti();
    // The TPM signer uses a primary key derived from the owner seed, so the key the CLI uses is
    // the one opened here: its thumbprint is the binding the proof must satisfy. swtpm serves
    // one client at a time, so close this context before the CLI connects.
    let jkt = {
        let signer = TpmSigner::open(&tcti).expect("open TPM signer on swtpm");
        signer.public_jwk().thumbprint()
    };
    let env = [("LEAKLAB_TCTI", tcti.as_str())];
    let proof = make_proof("tpm", &env);
    check_round_trip(&proof, &jkt);
    // Two proofs: same device key, fresh jti each.
    let again = make_proof("tpm", &env);
    assert_ne!(again, proof);
    assert_eq!(
        Jwk::from_json(&header(&again)["jwk"])
            .expect("jwk")
            .thumbprint(),
        jkt
    );

    // The CLI really talks to the TPM named by the environment: without it, or with a TPM that
    // is gone, it is a one-line error (exit 2), not a software fallback.
    drop(swtpm);
    for env in [&[][..], &env[..]] {
        let out = leaklab(
            &[
                "dpop", "proof", "--signer", "tpm", "--htm", HTM, "--htu", HTU,
            ],
            env,
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?}: {stderr}");
        assert_one_error_line(&stderr);
        assert!(out.stdout.is_empty(), "no proof printed");
    }
}

#[test]
fn pkcs11_proof_from_cli_verifies() {
    use leaklab_signers::lab::SoftHsmToken;
    let token = match SoftHsmToken::init() {
        Ok(t) => t,
        Err(e) => return missing("dpop proof --signer pkcs11 (SoftHSM2)", &e),
    };
    let module = token.module().to_string_lossy().into_owned();
    let conf = token.conf().to_string_lossy().into_owned();
    let env = [
        ("LEAKLAB_PKCS11_MODULE", module.as_str()),
        ("LEAKLAB_PKCS11_TOKEN", token.label()),
        ("LEAKLAB_PKCS11_PIN", token.pin()),
        ("SOFTHSM2_CONF", conf.as_str()),
    ];
    // The key is a session object generated on the token by the CLI process, so its thumbprint
    // is known only from the proof; the binding check uses it and a wrong one must fail.
    let proof = make_proof("pkcs11", &env);
    let jkt = Jwk::from_json(&header(&proof)["jwk"])
        .expect("jwk")
        .thumbprint();
    check_round_trip(&proof, &jkt);

    // The CLI really uses the token: a wrong PIN or label is a one-line error (exit 2).
    for (var, value) in [
        ("LEAKLAB_PKCS11_PIN", "000000"),
        ("LEAKLAB_PKCS11_TOKEN", "no-such-token"),
    ] {
        let env: Vec<(&str, &str)> = env
            .iter()
            .map(|&(k, v)| if k == var { (k, value) } else { (k, v) })
            .collect();
        let out = leaklab(
            &[
                "dpop", "proof", "--signer", "pkcs11", "--htm", HTM, "--htu", HTU,
            ],
            &env,
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert_one_error_line(&stderr);
        assert!(out.stdout.is_empty(), "no proof printed");
    }
}
