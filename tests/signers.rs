//! Round trips for every signer against real devices: software keys, a `swtpm` started here on
//! loopback, and a SoftHSM2 token initialised here in a temporary directory.
//!
//! When swtpm or SoftHSM2 is not installed the device tests FAIL if `CI=true` and otherwise
//! print a loud SKIP line (the project rule: CI never skips a real device).

mod common;
use common::{in_ci, manifest_dir};

use leaklab_protocol::jwk::Jwk;
use leaklab_signers::{jws_signature, Signer, SignerError};
use p256::ecdsa::signature::Verifier as _;

/// Enough signatures that short `r` or `s` values (about 1 in 128 each) occur with probability
/// 1 - (127/128)^(2*600) > 0.9999.
const MESSAGES: usize = 600;

/// Handles a device that could not be provisioned: fail in CI, loud skip elsewhere.
#[cfg(any(feature = "tpm", feature = "pkcs11"))]
fn missing(what: &str, err: &leaklab_signers::lab::LabError) {
    if in_ci() || !err.is_missing() {
        panic!("{what}: {err}");
    }
    eprintln!("\n*** SKIP {what}: {err} (this test FAILS when CI=true) ***\n");
}

/// Signs MESSAGES messages, verifies each with the public JWK, and returns how many signatures
/// had a zero first byte in `r` or `s` (i.e. a value shorter than 32 bytes, padded).
fn round_trip(signer: &mut dyn Signer) -> usize {
    let jwk: Jwk = signer.public_jwk().clone();
    let key = jwk.to_p256().expect("signer publishes a valid P-256 JWK");
    let mut short = 0;
    for i in 0..MESSAGES {
        let message = format!("leaklab round trip {i} via {}", signer.describe());
        let sig = signer.sign(message.as_bytes()).expect("sign");
        if sig[0] == 0 || sig[32] == 0 {
            short += 1;
        }
        let parsed = p256::ecdsa::Signature::from_slice(&sig).expect("64-byte r||s");
        key.verify(message.as_bytes(), &parsed).unwrap_or_else(|e| {
            panic!(
                "signature {i} from {} does not verify: {e}",
                signer.describe()
            )
        });
    }
    short
}

#[test]
fn software_p256_round_trip() {
    let mut signer =
        leaklab_signers::open(leaklab_signers::SignerKind::Software, None).expect("software");
    let short = round_trip(signer.as_mut());
    assert!(short > 0, "no short r/s in {MESSAGES} software signatures");
}

#[cfg(feature = "aws-lc")]
#[test]
fn aws_lc_round_trip() {
    let mut signer = leaklab_signers::aws_lc::AwsLcSigner::generate().expect("aws-lc key");
    let short = round_trip(&mut signer);
    assert!(short > 0, "no short r/s in {MESSAGES} aws-lc signatures");
}

#[cfg(feature = "tpm")]
#[test]
fn tpm_round_trip_on_swtpm() {
    use leaklab_signers::{lab::Swtpm, tpm::TpmSigner};
    let swtpm = match Swtpm::start() {
        Ok(s) => s,
        Err(e) => return missing("TPM round trip (swtpm)", &e),
    };
    let padded_before = jws_signature::padded_count();
    let mut signer = TpmSigner::open(&swtpm.tcti()).expect("open TPM signer on swtpm");
    let jkt = signer.public_jwk().thumbprint();
    let short = round_trip(&mut signer);
    // Either the TPM sent short r/s (padded by us) or it padded them itself: in both cases the
    // JWS form must carry leading zero bytes in some signatures.
    assert!(short > 0, "no short r/s in {MESSAGES} TPM signatures");
    eprintln!(
        "tpm: {short} signatures with a short r or s; {} values padded by leaklab",
        jws_signature::padded_count() - padded_before
    );
    drop(signer);
    // A primary key is derived from the owner seed: reopening yields the same key, and the
    // transient object of the first signer was flushed (else slots would run out).
    for _ in 0..5 {
        let again = TpmSigner::open(&swtpm.tcti()).expect("reopen TPM signer");
        assert_eq!(again.public_jwk().thumbprint(), jkt);
    }
}

#[cfg(feature = "tpm")]
#[test]
fn missing_tpm_is_unavailable() {
    use leaklab_signers::tpm::TpmSigner;
    let err = TpmSigner::open("device:/nonexistent/tpmrm9")
        .err()
        .expect("no such device");
    assert!(matches!(err, SignerError::Open { .. }), "{err:?}");
    assert!(err.is_unavailable());
    // A loopback port nobody listens on (bound and released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = TpmSigner::open(&format!("swtpm:host=127.0.0.1,port={port}"))
        .err()
        .expect("nobody listens");
    assert!(matches!(err, SignerError::Open { .. }), "{err:?}");
    let err = TpmSigner::open("carrier-pigeon:coop=3")
        .err()
        .expect("bad TCTI");
    assert!(matches!(err, SignerError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("carrier-pigeon"));
}

#[cfg(feature = "pkcs11")]
#[test]
fn pkcs11_round_trip_on_softhsm() {
    use leaklab_signers::{lab::SoftHsmToken, pkcs11::Pkcs11Signer};
    let token = match SoftHsmToken::init() {
        Ok(t) => t,
        Err(e) => return missing("PKCS#11 round trip (SoftHSM2)", &e),
    };
    let config = token.pkcs11_config();
    let mut signer = Pkcs11Signer::open(&config).expect("open PKCS#11 signer on SoftHSM2");
    let short = round_trip(&mut signer);
    assert!(short > 0, "no short r/s in {MESSAGES} PKCS#11 signatures");
    // A second session on the same token (PKCS#11 login is shared) gets its own key.
    let second = Pkcs11Signer::open(&config).expect("second session");
    assert_ne!(second.public_jwk(), signer.public_jwk());
    // Wrong PIN and wrong label are clear errors.
    let mut wrong = config.clone();
    wrong.token_label = "no-such-token".into();
    let err = Pkcs11Signer::open(&wrong).err().expect("no such token");
    assert!(matches!(err, SignerError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-token"), "{err}");
    drop((signer, second));
    let mut wrong = config.clone();
    wrong.pin = "000000".into();
    let err = Pkcs11Signer::open(&wrong).err().expect("wrong PIN");
    assert!(matches!(err, SignerError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("PIN"), "{err}");
}

#[cfg(feature = "pkcs11")]
#[test]
fn missing_pkcs11_module_is_unavailable() {
    use leaklab_signers::pkcs11::{Pkcs11Config, Pkcs11Signer};
    let config = Pkcs11Config {
        module: "/nonexistent/libnothing.so".into(),
        token_label: "x".into(),
        pin: "1".into(),
    };
    let err = Pkcs11Signer::open(&config).err().expect("no module");
    assert!(matches!(err, SignerError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/libnothing.so"));
}

#[test]
fn key_file_is_refused_for_device_signers() {
    let err = leaklab_signers::open(
        leaklab_signers::SignerKind::Tpm,
        Some(std::path::Path::new("k.json")),
    )
    .err()
    .expect("key file with TPM");
    assert!(matches!(err, SignerError::KeyFile { .. }), "{err:?}");
}

/// Key files: a written key loads back as the same key; unusable files are `KeyFile` errors
/// that name the file.
#[test]
fn key_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("key.json");
    let written = leaklab_signers::write_new_key_file(&path).expect("write key");
    let loaded = leaklab_signers::software_from_key_file(&path).expect("load key");
    assert_eq!(loaded.public_jwk(), written.public_jwk());
    let again = leaklab_signers::write_new_key_file(&path)
        .err()
        .expect("exists");
    assert!(matches!(again, SignerError::KeyFile { .. }), "{again:?}");

    let other = leaklab_protocol::signer::SoftwareSigner::from_scalar(&[7u8; 32]).unwrap();
    let mut mismatched = written.to_private_jwk_json();
    mismatched["x"] = other.public_jwk().to_json()["x"].clone();
    let d = written.to_private_jwk_json()["d"].clone();
    for (name, content) in [
        ("missing.json", None),
        ("garbage.json", Some("not json".to_string())),
        (
            "public.json",
            Some(written.public_jwk().to_json().to_string()),
        ),
        ("bad-d.json", Some(r#"{"d":"!!"}"#.to_string())),
        (
            "zero-d.json",
            Some(format!(r#"{{"d":"{}"}}"#, "A".repeat(43))),
        ),
        ("mismatch.json", Some(mismatched.to_string())),
        (
            "d-only-wrong-crv.json",
            Some(format!(r#"{{"crv":"P-384","d":{d}}}"#)),
        ),
    ] {
        let path = dir.path().join(name);
        if let Some(content) = content {
            std::fs::write(&path, content).expect("write");
        }
        let err = leaklab_signers::software_from_key_file(&path)
            .err()
            .expect(name);
        assert!(
            matches!(err, SignerError::KeyFile { .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex vector")
}

/// Known answers: OpenSSL-made signatures with short r or s, in DER, TPM-style r/s and PKCS#11
/// raw form, converted to JWS form and verified (tests/vectors/jws-signatures.json).
#[test]
fn normalisation_vectors() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/vectors/jws-signatures.json",
        manifest_dir()
    ))
    .expect("vector file");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let pk = &doc["public_key"];
    let (x, y) =
        jws_signature::p256_point(&hex(pk["ec_point_der"].as_str().unwrap())).expect("point");
    assert_eq!(x.to_vec(), hex(pk["x"].as_str().unwrap()));
    assert_eq!(y.to_vec(), hex(pk["y"].as_str().unwrap()));
    let key = Jwk::p256(&x, &y).to_p256().expect("valid key");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 6);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expected = hex(case["jws"].as_str().unwrap());
        let got = match case["form"].as_str().unwrap() {
            "der" => {
                let der = hex(case["input"].as_str().unwrap());
                let jws = jws_signature::from_der(&der).expect(name);
                assert_eq!(jws_signature::from_pkcs11(&der).expect(name), jws);
                jws
            }
            "r_s" => jws_signature::from_r_s(
                &hex(case["r"].as_str().unwrap()),
                &hex(case["s"].as_str().unwrap()),
            )
            .expect(name),
            "pkcs11" => {
                jws_signature::from_pkcs11(&hex(case["input"].as_str().unwrap())).expect(name)
            }
            other => panic!("unknown form {other}"),
        };
        assert_eq!(got.to_vec(), expected, "{name}");
        let sig = p256::ecdsa::Signature::from_slice(&got).expect(name);
        key.verify(case["message"].as_str().unwrap().as_bytes(), &sig)
            .expect(name);
    }
}

/// `leaklab bench signers` end to end: a short run into a temporary directory writes both
/// tables with the documented columns, one row per signer and concurrency, and the comparisons.
#[test]
fn bench_signers_writes_tables() {
    use polars::prelude::{ParquetReader, SerReader as _};
    let out = tempfile::tempdir().expect("tempdir");
    let keep = out.path().join("keep.txt");
    std::fs::write(&keep, "other results stay").expect("write");
    let result = std::process::Command::new(env!("CARGO_BIN_EXE_leaklab"))
        .args([
            "bench",
            "signers",
            "--count",
            "40",
            "--concurrency",
            "2",
            "--out",
        ])
        .arg(out.path())
        .output()
        .expect("run leaklab");
    let stdout = String::from_utf8_lossy(&result.stdout);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.success(),
        "bench signers failed:\n{stdout}\n{stderr}"
    );
    assert!(
        keep.exists(),
        "bench signers must not replace the output directory"
    );
    let csv = std::fs::read_to_string(out.path().join("signers.csv")).expect("signers.csv");
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    let expected = [
        "device",
        "backend",
        "operation",
        "concurrency",
        "ops_per_s",
        "mean_us",
        "p10_us",
        "p50_us",
        "p90_us",
        "p99_us",
        "p999_us",
        "max_us",
        "samples",
        "reference",
        "ratio_to_reference",
        "host",
        "leaklab_version",
    ];
    assert_eq!(header, expected);
    let file = std::fs::File::open(out.path().join("signers.parquet")).expect("signers.parquet");
    let df = ParquetReader::new(file).finish().expect("read parquet");
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, expected);
    assert_eq!(df.height(), csv.lines().count() - 1);
    let has = |prefix: &str| csv.lines().any(|l| l.starts_with(prefix));
    assert!(has("software,p256,es256 sign,1,"), "{csv}");
    assert!(has("software,p256,es256 sign,2,"), "{csv}");
    #[cfg(feature = "aws-lc")]
    assert!(has("software,aws-lc-rs,es256 sign,2,"), "{csv}");
    let installed = |bin: &str| which::which(bin).is_ok();
    if in_ci() || installed("swtpm") {
        #[cfg(feature = "tpm")]
        assert!(has("swtpm,tss-esapi,es256 sign,2,"), "{csv}\n{stderr}");
    }
    if in_ci() || installed("softhsm2-util") {
        #[cfg(feature = "pkcs11")]
        assert!(has("softhsm2,cryptoki,es256 sign,2,"), "{csv}\n{stderr}");
    }
    if installed("tpm2_sign") && installed("swtpm") {
        #[cfg(feature = "tpm")]
        assert!(has("swtpm,tpm2-tools,tpm2_sign loop,1,"), "{csv}\n{stderr}");
    }
    if installed("openssl") {
        assert!(csv.contains(",openssl speed,1,"), "{csv}\n{stderr}");
        assert!(csv.contains("es256 sign,1,") && csv.contains(",openssl speed,"));
    }
}

#[test]
fn bench_signers_rejects_bad_input() {
    for args in [
        &["--count", "0"][..],
        &["--seconds", "-1"],
        &["--concurrency", "0", "--count", "5"],
    ] {
        let result = std::process::Command::new(env!("CARGO_BIN_EXE_leaklab"))
            .args(["bench", "signers"])
            .args(args)
            .output()
            .expect("run leaklab");
        assert_eq!(result.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(
            stderr.starts_with("leaklab: error:") || stderr.contains("error:"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// The aws-lc-rs ES256 verifier a server can inject (`VerifyPolicy::es256`) agrees with the
/// pure-Rust default: both accept the RFC 9449 example proofs and fresh proofs from every
/// software signer, and both reject a changed signature, a changed signing input and a key
/// that is not on the curve.
#[cfg(feature = "aws-lc")]
#[test]
fn aws_lc_and_p256_verifiers_agree() {
    use leaklab_protocol::jws::{self, verify_es256_p256, Es256Verify};
    use leaklab_signers::aws_lc::{verify_es256, AwsLcSigner};
    let verifiers: [(&str, Es256Verify); 2] =
        [("p256", verify_es256_p256), ("aws-lc", verify_es256)];
    let text = std::fs::read_to_string(format!(
        "{}/crates/protocol/tests/vectors/rfc9449_proofs.json",
        manifest_dir()
    ))
    .expect("vectors");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut proofs: Vec<String> = doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .filter_map(|v| v["proof"].as_str().map(str::to_owned))
        .collect();
    let mut aws = AwsLcSigner::generate().expect("aws-lc key");
    let mut soft = leaklab_protocol::signer::SoftwareSigner::generate(&mut rand::rngs::OsRng);
    for signer in [&mut aws as &mut dyn Signer, &mut soft] {
        let mut header = serde_json::Map::new();
        header.insert("typ".into(), "dpop+jwt".into());
        header.insert("jwk".into(), signer.public_jwk().to_json());
        let mut claims = serde_json::Map::new();
        claims.insert("jti".into(), "x".into());
        proofs.push(jws::sign(header, &claims, signer).expect("sign"));
    }
    assert!(proofs.len() >= 5);
    for proof in &proofs {
        let parsed = jws::parse(proof).expect("compact JWS");
        let jwk = Jwk::from_json(&parsed.header["jwk"]).expect("jwk");
        let input = parsed.signing_input.as_bytes();
        let mut bad_sig = parsed.signature.clone();
        bad_sig[10] ^= 1;
        let mut bad_input = input.to_vec();
        bad_input[3] ^= 1;
        let off_curve = match &jwk {
            Jwk::Ec { crv, x, .. } => Jwk::Ec {
                crv: crv.clone(),
                x: x.clone(),
                y: x.clone(),
            },
            other => other.clone(),
        };
        for (name, verify) in verifiers {
            assert!(
                verify(&jwk, input, &parsed.signature).is_ok(),
                "{name}: {proof}"
            );
            assert!(
                verify(&jwk, input, &bad_sig).is_err(),
                "{name}: changed signature"
            );
            assert!(
                verify(&jwk, &bad_input, &parsed.signature).is_err(),
                "{name}: changed input"
            );
            assert!(
                verify(&off_curve, input, &parsed.signature).is_err(),
                "{name}: off-curve key"
            );
        }
    }
}
