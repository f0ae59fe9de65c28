//! ES256 signing benches: software `p256`, `aws-lc-rs` (feature `aws-lc`), a TPM 2.0 through
//! in-process tss-esapi (feature `tpm`) and PKCS#11 through cryptoki (feature `pkcs11`).
//!
//! Run: `cargo bench --features full --bench signing` (CI: add `-- --test` to run each once).
//!
//! Devices: the TPM the environment names (`LEAKLAB_TCTI` / `TPM2TOOLS_TCTI` / `TCTI`), else a
//! `swtpm` started here; the PKCS#11 token the environment names (`LEAKLAB_PKCS11_TOKEN`, …),
//! else a SoftHSM2 token initialised here. A missing device is a loud skip (a failure if
//! `CI=true`).
//!
//! Checking results: every signature is verified with the signer's public JWK inside the loop,
//! but outside the timed region (`iter_custom` times only `sign`), so the figures are signing
//! cost and a wrong signature still aborts the bench.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use leaklab::signer::Signer;
use p256::ecdsa::signature::Verifier as _;

/// The JWS signing input of a typical DPoP proof is about 400-500 bytes; sign one that size.
fn message(i: u64) -> Vec<u8> {
    let mut m = vec![b'x'; 440];
    m[..8].copy_from_slice(&i.to_be_bytes());
    m
}

/// Times `iters` signatures, verifying each one untimed.
fn sign_and_check(signer: &mut dyn Signer, iters: u64) -> Duration {
    let key = signer
        .public_jwk()
        .to_p256()
        .expect("signer has a valid P-256 JWK");
    let mut timed = Duration::ZERO;
    for i in 0..iters {
        let msg = message(i);
        let t = Instant::now();
        let sig = signer.sign(std::hint::black_box(&msg)).expect("sign");
        timed += t.elapsed();
        let sig = p256::ecdsa::Signature::from_slice(&sig).expect("64-byte r||s");
        key.verify(&msg, &sig).expect("signature verifies");
    }
    timed
}

fn bench_signer(c: &mut Criterion, name: &str, signer: &mut dyn Signer) {
    let mut group = c.benchmark_group("es256_sign");
    group.bench_function(BenchmarkId::from_parameter(name), |b| {
        b.iter_custom(|iters| sign_and_check(signer, iters))
    });
    group.finish();
}

#[allow(dead_code)] // unused when built without the device features
fn skip(what: &str, why: &dyn std::fmt::Display) {
    if std::env::var("CI")
        .map(|v| v == "true" || v == "1")
        .unwrap_or(false)
    {
        panic!("{what}: {why}");
    }
    eprintln!("\n*** SKIP bench {what}: {why} (fails when CI=true) ***\n");
}

fn software_p256(c: &mut Criterion) {
    let mut signer = leaklab::signer::software::SoftwareSigner::generate(&mut rand::rngs::OsRng);
    bench_signer(c, "software-p256", &mut signer);
}

#[cfg(feature = "aws-lc")]
fn software_aws_lc(c: &mut Criterion) {
    let mut signer = leaklab::signer::aws_lc::AwsLcSigner::generate().expect("aws-lc key");
    bench_signer(c, "software-aws-lc-rs", &mut signer);
}

#[cfg(feature = "tpm")]
fn tpm(c: &mut Criterion) {
    use leaklab::signer::{lab::Swtpm, tpm};
    let (tcti, name, _swtpm) = match tpm::tcti_from_env() {
        Some((_, tcti)) => (tcti, "tpm-env", None),
        None => match Swtpm::start() {
            Ok(s) => (s.tcti(), "tpm-swtpm", Some(s)),
            Err(e) => return skip("TPM", &e),
        },
    };
    let mut signer = tpm::TpmSigner::open(&tcti).expect("open TPM signer");
    bench_signer(c, name, &mut signer);
}

#[cfg(feature = "pkcs11")]
fn pkcs11(c: &mut Criterion) {
    use leaklab::signer::{lab::SoftHsmToken, pkcs11::Pkcs11Signer};
    let (mut signer, name, _token) = if std::env::var_os("LEAKLAB_PKCS11_TOKEN").is_some() {
        (
            Pkcs11Signer::from_env().expect("PKCS#11 token from env"),
            "pkcs11-env",
            None,
        )
    } else {
        match SoftHsmToken::init() {
            Ok(t) => (
                Pkcs11Signer::open(&t.pkcs11_config()).expect("open SoftHSM2 signer"),
                "pkcs11-softhsm2",
                Some(t),
            ),
            Err(e) => return skip("PKCS#11", &e),
        }
    };
    bench_signer(c, name, &mut signer);
}

// ---------------------------------------------------------------------------------------------
// DPoP proof creation per signer and proof verification at a resource server (with replay
// store): TO BE ADDED by the lead once the protocol branch lands (issue 4, "Whole DPoP proof
// creation ... and proof verification"). Add the functions here and list them in `targets`.
// ---------------------------------------------------------------------------------------------

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

/// Every signer this build has, in one target so that feature combinations need no cfg maze.
fn signers(c: &mut Criterion) {
    software_p256(c);
    #[cfg(feature = "aws-lc")]
    software_aws_lc(c);
    #[cfg(feature = "tpm")]
    tpm(c);
    #[cfg(feature = "pkcs11")]
    pkcs11(c);
}

criterion_group! { name = benches; config = config(); targets = signers }
criterion_main!(benches);
