//! The `leaklab dpop` commands, run as the built binary.

mod common;
use common::manifest_dir;

use std::process::{Command, Output};

use serde_json::Value;

/// Loads a protocol known-answer vector (`crates/protocol/tests/vectors/<name>.json`).
fn vector(name: &str, id: &str) -> Value {
    let path = format!(
        "{}/crates/protocol/tests/vectors/{name}.json",
        manifest_dir()
    );
    let all: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read vector"))
        .expect("vector JSON");
    all["vectors"]
        .as_array()
        .and_then(|a| a.iter().find(|v| v["id"] == id).cloned())
        .unwrap_or_else(|| panic!("vector {id} not in {name}.json"))
}

fn leaklab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leaklab"))
        .args(args)
        .output()
        .expect("run leaklab")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn json_line(o: &Output) -> Value {
    let text = stdout(o);
    assert_eq!(text.lines().count(), 1, "one line: {text}");
    serde_json::from_str(&text).expect("JSON line")
}

#[test]
fn thumbprint_of_v1_and_v2() {
    for id in ["V1", "V2"] {
        let v = vector("thumbprints", id);
        let o = leaklab(&["dpop", "thumbprint", "--jwk", &v["jwk"].to_string()]);
        assert!(o.status.success(), "{o:?}");
        assert_eq!(stdout(&o), v["thumbprint"].as_str().expect("thumbprint"));
    }
}

#[test]
fn verify_rfc_vector_with_now() {
    let v = vector("rfc9449_proofs", "V8");
    let proof = v["proof"].as_str().expect("proof");
    let iat = v["iat"].to_string();
    let at = v["access_token"].as_str().expect("at");
    let jkt = v["jkt"].as_str().expect("jkt");
    let base = [
        "dpop",
        "verify",
        "--proof",
        proof,
        "--htm",
        "GET",
        "--htu",
        "https://resource.example.org/protectedresource",
    ];
    let ok = leaklab(
        &[
            &base[..],
            &["--now", &iat, "--access-token", at, "--jkt", jkt],
        ]
        .concat(),
    );
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert_eq!(
        json_line(&ok),
        serde_json::json!({"valid": true, "jkt": jkt})
    );
    // Without --now the 2019 proof is too old: exit 1 with the OAuth code and the check.
    let old = leaklab(&[&base[..], &["--access-token", at]].concat());
    assert_eq!(old.status.code(), Some(1));
    assert_eq!(
        json_line(&old),
        serde_json::json!({"valid": false, "error": "invalid_dpop_proof", "reason": "iat_too_old"})
    );
    // --max-age widens the window.
    let wide = leaklab(
        &[
            &base[..],
            &[
                "--now",
                &(v["iat"].as_i64().expect("iat") + 3600).to_string(),
                "--max-age",
                "7200",
            ],
        ]
        .concat(),
    );
    assert_eq!(wide.status.code(), Some(0), "{wide:?}");
    // Wrong key binding: invalid_token.
    let bound = leaklab(
        &[
            &base[..],
            &[
                "--now",
                &iat,
                "--jkt",
                "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
            ],
        ]
        .concat(),
    );
    assert_eq!(json_line(&bound)["error"], "invalid_token");
    assert_eq!(bound.status.code(), Some(1));
}

#[test]
fn proof_then_verify_round_trip_for_both_kinds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key.json");
    let key = key.to_str().expect("utf-8 path");
    let k = leaklab(&["dpop", "keygen", "--out", key]);
    assert!(k.status.success(), "{k:?}");
    let jkt = stdout(&k);
    // keygen refuses to overwrite.
    assert_eq!(
        leaklab(&["dpop", "keygen", "--out", key]).status.code(),
        Some(2)
    );

    let p = leaklab(&[
        "dpop",
        "proof",
        "--htm",
        "POST",
        "--htu",
        "https://as.example/token?x=1",
        "--key",
        key,
        "--nonce",
        "n1",
        "--now",
        "1700000000",
    ]);
    assert!(p.status.success(), "{p:?}");
    let proof = stdout(&p);
    let v = leaklab(&[
        "dpop",
        "verify",
        "--proof",
        &proof,
        "--htm",
        "POST",
        "--htu",
        "https://AS.example:443/token",
        "--nonce",
        "n1",
        "--jkt",
        &jkt,
        "--now",
        "1700000005",
    ]);
    assert_eq!(v.status.code(), Some(0), "{v:?}");
    assert_eq!(json_line(&v)["jkt"], jkt.as_str());
    let v = leaklab(&[
        "dpop",
        "verify",
        "--proof",
        &proof,
        "--htm",
        "POST",
        "--htu",
        "https://as.example/token",
        "--nonce",
        "n2",
        "--now",
        "1700000005",
    ]);
    assert_eq!(
        json_line(&v),
        serde_json::json!({"valid": false, "error": "use_dpop_nonce", "reason": "nonce_mismatch"})
    );

    let p = leaklab(&[
        "dpop",
        "proof",
        "--htm",
        "POST",
        "--htu",
        "https://as.example/token",
        "--key",
        key,
        "--rt",
        "RT-1",
        "--kind",
        "dpop-rt",
        "--now",
        "1700000000",
    ]);
    assert!(p.status.success(), "{p:?}");
    let proof = stdout(&p);
    let args = [
        "dpop",
        "verify",
        "--proof",
        &proof,
        "--htm",
        "POST",
        "--htu",
        "https://as.example/token",
        "--kind",
        "dpop-rt",
        "--now",
        "1700000000",
    ];
    let v = leaklab(&[&args[..], &["--rt", "RT-1", "--jkt", &jkt]].concat());
    assert_eq!(v.status.code(), Some(0), "{v:?}");
    let v = leaklab(&[&args[..], &["--rt", "RT-2"]].concat());
    assert_eq!(
        json_line(&v),
        serde_json::json!({"valid": false, "error": "invalid_dpop_rt_proof", "reason": "rth_mismatch"})
    );
    // A DPoP-RT proof offered as a DPoP proof fails on typ.
    let v = leaklab(&[
        "dpop",
        "verify",
        "--proof",
        &proof,
        "--htm",
        "POST",
        "--htu",
        "https://as.example/token",
        "--now",
        "1700000000",
    ]);
    assert_eq!(json_line(&v)["reason"], "typ");
}

#[test]
fn malformed_inputs_exit_2_without_panicking() {
    let cases: Vec<Vec<&str>> = vec![
        vec!["dpop", "thumbprint", "--jwk", "{not json"],
        vec![
            "dpop",
            "thumbprint",
            "--jwk",
            r#"{"kty":"EC","crv":"P-256","x":"a"}"#,
        ],
        vec![
            "dpop",
            "thumbprint",
            "--jwk",
            r#"{"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"}"#,
        ],
        vec![
            "dpop",
            "verify",
            "--proof",
            "a.b.c",
            "--htm",
            "GET",
            "--htu",
            "not a uri",
        ],
        vec![
            "dpop",
            "verify",
            "--proof",
            "a.b.c",
            "--htm",
            "GET",
            "--htu",
            "https://a/",
            "--rt",
            "x",
        ],
        vec![
            "dpop",
            "verify",
            "--proof",
            "a.b.c",
            "--htm",
            "GET",
            "--htu",
            "https://a/",
            "--max-age=-1",
        ],
        vec![
            "dpop",
            "proof",
            "--htm",
            "GET",
            "--htu",
            "https://a/",
            "--key",
            "/nonexistent/key.json",
        ],
        vec![
            "dpop",
            "proof",
            "--htm",
            "GET",
            "--htu",
            "https://a/",
            "--rt",
            "x",
        ],
        vec!["dpop", "proof", "--htm", "GET", "--htu", "relative/path"],
    ];
    for args in cases {
        let o = leaklab(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("leaklab: error:") && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
    // A garbage proof is a negative verdict (exit 1), not an error.
    let o = leaklab(&[
        "dpop",
        "verify",
        "--proof",
        "garbage!",
        "--htm",
        "GET",
        "--htu",
        "https://a/",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_line(&o)["reason"], "jwt_syntax");
}

/// Base64url values (thumbprints, tokens, nonces) may begin with `-`; they are values, not flags.
/// Found by CI: a random PKCS#11 key's thumbprint `-B…` was read as an unknown option.
#[test]
fn values_beginning_with_a_dash_are_values() {
    let v = vector("rfc9449_proofs", "V8");
    let proof = v["proof"].as_str().expect("proof");
    let iat = v["iat"].to_string();
    let at = v["access_token"].as_str().expect("at");
    let o = leaklab(&[
        "dpop",
        "verify",
        "--proof",
        proof,
        "--htm",
        v["htm"].as_str().expect("htm"),
        "--htu",
        v["htu"].as_str().expect("htu"),
        "--access-token",
        at,
        "--jkt",
        "-BvC5GPWh0y9ZQeQPkpKoNOsqBkjnHxOMbH7sBUqQ1Y",
        "--nonce",
        "-n",
        "--now",
        &iat,
    ]);
    // A verdict on the wrong binding (exit 1, JSON), not a usage error (exit 2).
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(json_line(&o)["valid"], false);
}
