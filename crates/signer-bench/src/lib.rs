//! Signing throughput and latency of every available ES256 signer, for capacity planners who do
//! not read criterion output: the harness behind `leaklab bench signers`, sharing its devices and
//! messages with the criterion benches (`benches/signing.rs`).
//!
//! Each signer is measured at concurrency 1 and N for a fixed time or a fixed count
//! ([`Budget`]). Latency is the wall time of one `Signer::sign` call as the caller sees it (for a
//! shared TPM this includes waiting for the device), recorded in nanoseconds in an HDR histogram
//! and reported in µs. Throughput is completed signatures divided by the wall time of the run.
//!
//! Correctness: every 64th signature (and each worker's first) is kept and verified with the
//! signer's public JWK *after* the timed run, so verification cost does not distort the rates
//! while a signer that produced wrong signatures still fails the run.
//!
//! Comparison rows, when the tools are installed: `tpm2_sign` (tpm2-tools) started once per
//! signature against the same TPM, and `openssl speed -seconds S ecdsap256`. [`relate`] fills
//! the `reference` / `ratio_to_reference` columns of the in-process rows at concurrency 1.
//!
//! The library prints nothing: progress goes through [`Progress`], devices that could not be
//! measured come back as [`Skipped`] entries of the [`Report`].

mod budget;
mod devices;
mod host;
mod measure;
mod reference;

use serde::Serialize;

pub use budget::{Budget, Config, DEFAULT_SECONDS, MAX_CONCURRENCY, MAX_SECONDS};
#[cfg(feature = "pkcs11")]
pub use devices::Pkcs11Device;
#[cfg(feature = "tpm")]
pub use devices::TpmDevice;
pub use host::{describe_cpuinfo, host_description};
pub use measure::{check_signature, measure, message, Pool, MESSAGE_LEN, VERIFY_EVERY};
pub use reference::{
    openssl_verify_per_s, parse_openssl_speed, parse_openssl_speed_verify, relate, OPENSSL_SPEED,
    TPM2_SIGN_LOOP,
};

use leaklab_signers::{Signer, SignerError};

/// The `operation` of an in-process signature row (the name the capacity reader looks for).
pub use leaklab_base::signers_csv::SIGN_OPERATION as OPERATION;

/// Why a measurement could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// Settings out of range (budget, concurrency).
    #[error("{0}")]
    InvalidConfig(String),
    /// A signer failed while being opened, warmed up or measured.
    #[error("{label}: {stage}")]
    Signer {
        label: String,
        stage: &'static str,
        source: SignerError,
    },
    /// A kept signature did not verify, or the signer's public key is unusable.
    #[error("{label}: {detail}")]
    Verification { label: String, detail: String },
    /// The budget ended before any signature completed.
    #[error("{label}: no signature completed")]
    NoSamples { label: String },
    #[error("{label}: latency histogram: {message}")]
    Histogram { label: String, message: String },
    #[error("{label}: a worker thread panicked")]
    WorkerPanicked { label: String },
    /// A lab device (swtpm, SoftHSM2) could not be provisioned.
    #[cfg(any(feature = "tpm", feature = "pkcs11"))]
    #[error("{device}: no lab device")]
    Lab {
        device: &'static str,
        source: leaklab_signers::lab::LabError,
    },
    /// An external tool (tpm2-tools, openssl) failed.
    #[error("`{command}` failed: {message}")]
    Tool { command: String, message: String },
    #[error("{what}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl BenchError {
    fn signer(label: &str, stage: &'static str, source: SignerError) -> Self {
        BenchError::Signer {
            label: label.to_string(),
            stage,
            source,
        }
    }
}

/// `error: cause: cause…` on one line (for [`Skipped::reason`]).
#[cfg(any(test, feature = "tpm"))]
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// What a progress count is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressUnit {
    Millis,
    Signatures,
}

impl ProgressUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            ProgressUnit::Millis => "ms",
            ProgressUnit::Signatures => "sigs",
        }
    }
}

/// Receives progress of the measurements, one at a time (the CLI draws a bar). Called from the
/// thread that called [`run`] / [`measure`], every few tens of milliseconds.
pub trait Progress {
    /// A measurement named `label` starts; it ends at `total` `unit`s.
    fn start(&mut self, label: &str, total: u64, unit: ProgressUnit);
    /// How far the current measurement is (at most its `total`).
    fn update(&mut self, position: u64);
    /// The current measurement ended (also when it failed).
    fn finish(&mut self);
}

/// A [`Progress`] that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _: &str, _: u64, _: ProgressUnit) {}
    fn update(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

/// Latency quantiles of one row, in µs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub p10: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// One row of `signers.csv`: one signer (or reference tool) at one concurrency.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// `software`, `swtpm`, `tpm <tcti>`, `softhsm2`, `pkcs11 <module>`.
    pub device: String,
    /// `p256`, `aws-lc-rs`, `tss-esapi`, `cryptoki`, `tpm2-tools`, `OpenSSL <version>`.
    pub backend: String,
    /// [`OPERATION`], [`TPM2_SIGN_LOOP`] or [`OPENSSL_SPEED`].
    pub operation: String,
    pub concurrency: u32,
    pub ops_per_s: f64,
    pub mean_us: Option<f64>,
    /// None where the tool reports a rate only (`openssl speed`).
    pub latency_us: Option<Latency>,
    pub samples: Option<u64>,
    /// The operation this row's rate is compared with (see [`relate`]).
    pub reference: Option<String>,
    pub ratio_to_reference: Option<f64>,
}

/// A device or comparison that was not measured, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// E.g. `TPM`, `PKCS#11`, `tpm2_sign comparison`, `openssl speed comparison`.
    pub what: String,
    pub reason: String,
}

impl Skipped {
    fn new(what: &str, reason: impl Into<String>) -> Self {
        Self {
            what: what.to_string(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skipped {}: {}", self.what, self.reason)
    }
}

/// The result of [`run`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub rows: Vec<Row>,
    pub skipped: Vec<Skipped>,
    /// "CPU model (N cores)", see [`host_description`].
    pub host: String,
}

/// The table `leaklab bench signers` prints: one line per row, then the host.
impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{:<10} {:<14} {:<15} {:>4} {:>10} {:>9} {:>9} {:>9}  ratio",
            "device", "backend", "operation", "conc", "ops/s", "p50 µs", "p99 µs", "p999 µs"
        )?;
        let us = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
        for r in &self.rows {
            let ratio = match (&r.reference, r.ratio_to_reference) {
                (Some(name), Some(x)) => format!("{x:.2}x {name}"),
                _ => String::new(),
            };
            writeln!(
                f,
                "{:<10} {:<14} {:<15} {:>4} {:>10.1} {:>9} {:>9} {:>9}  {}",
                r.device,
                r.backend,
                r.operation,
                r.concurrency,
                r.ops_per_s,
                us(r.latency_us.map(|l| l.p50)),
                us(r.latency_us.map(|l| l.p99)),
                us(r.latency_us.map(|l| l.p999)),
                ratio
            )?;
        }
        writeln!(f, "host: {}", self.host)
    }
}

/// Measures every signer this build has (software `p256`; `aws-lc-rs`, TPM and PKCS#11 with
/// their features) at concurrency 1 and [`Config::concurrency`], then the comparison rows if
/// [`Config::compare`], and relates the rows to them.
///
/// TPM: the one the environment names, else a swtpm started here. PKCS#11: the token the
/// environment names, else a SoftHSM2 token initialised here. A lab device that cannot be
/// provisioned is [`Skipped`]; a device that fails once opened is an error.
pub fn run(config: &Config, progress: &mut dyn Progress) -> Result<Report, BenchError> {
    let levels = config.levels();
    let budget = config.budget();
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for &c in &levels {
        let make = || {
            Ok(Box::new(leaklab_signers::SoftwareSigner::generate(
                &mut rand::rngs::OsRng,
            )) as Box<dyn Signer>)
        };
        let pool = Pool::own(c, make)
            .map_err(|e| BenchError::signer("software p256", "opening the signer", e))?;
        rows.push(measure("software", "p256", pool, budget, progress)?);
    }
    #[cfg(feature = "aws-lc")]
    for &c in &levels {
        let make =
            || Ok(Box::new(leaklab_signers::aws_lc::AwsLcSigner::generate()?) as Box<dyn Signer>);
        let pool = Pool::own(c, make)
            .map_err(|e| BenchError::signer("software aws-lc-rs", "opening the signer", e))?;
        rows.push(measure("software", "aws-lc-rs", pool, budget, progress)?);
    }
    #[cfg(feature = "tpm")]
    tpm_rows(config, &levels, progress, &mut rows, &mut skipped)?;
    #[cfg(feature = "pkcs11")]
    pkcs11_rows(&levels, budget, progress, &mut rows, &mut skipped)?;
    if config.compare() {
        match reference::openssl_row(budget, progress)? {
            Ok(row) => rows.push(row),
            Err(reason) => skipped.push(Skipped::new("openssl speed comparison", reason)),
        }
    }
    relate(&mut rows);
    Ok(Report {
        rows,
        skipped,
        host: host_description(),
    })
}

#[cfg(feature = "tpm")]
fn tpm_rows(
    config: &Config,
    levels: &[usize],
    progress: &mut dyn Progress,
    rows: &mut Vec<Row>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), BenchError> {
    let tpm = match TpmDevice::open() {
        Ok(t) => t,
        Err(BenchError::Lab { device, source }) => {
            skipped.push(Skipped::new(device, source.to_string()));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let device = tpm.device_name();
    let label = format!("{device} tss-esapi");
    let make = || Ok(Box::new(tpm.signer()?) as Box<dyn Signer>);
    for &c in levels {
        // Only a resource manager lets several contexts share a TPM; swtpm, mssim and a raw
        // /dev/tpm0 serve one connection at a time, so the threads share one context (and queue).
        let pool = if tpm.has_resource_manager() || c == 1 {
            Pool::own(c, make)
        } else {
            make().map(|s| Pool::shared(s, c))
        }
        .map_err(|e| BenchError::signer(&label, "opening the signer", e))?;
        rows.push(measure(
            &device,
            "tss-esapi",
            pool,
            config.budget(),
            progress,
        )?);
    }
    if config.compare() {
        let what = "tpm2_sign comparison";
        match reference::tpm2_sign_loop(tpm.tcti(), &device, config.budget(), progress) {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => skipped.push(Skipped::new(
                what,
                "tpm2-tools not installed (apt package tpm2-tools)",
            )),
            Err(e) => skipped.push(Skipped::new(what, chain(&e))),
        }
    }
    Ok(())
}

#[cfg(feature = "pkcs11")]
fn pkcs11_rows(
    levels: &[usize],
    budget: Budget,
    progress: &mut dyn Progress,
    rows: &mut Vec<Row>,
    skipped: &mut Vec<Skipped>,
) -> Result<(), BenchError> {
    let token = match Pkcs11Device::open() {
        Ok(t) => t,
        Err(BenchError::Lab { device, source }) => {
            skipped.push(Skipped::new(device, source.to_string()));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let device = token.device_name();
    for &c in levels {
        let make = || Ok(Box::new(token.signer()?) as Box<dyn Signer>);
        let pool = Pool::own(c, make).map_err(|e| {
            BenchError::signer(&format!("{device} cryptoki"), "opening the signer", e)
        })?;
        rows.push(measure(&device, "cryptoki", pool, budget, progress)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_joins_causes() {
        let e = BenchError::signer(
            "swtpm tss-esapi c=1",
            "warm-up signature",
            SignerError::operation("swtpm", "TPM2_Sign", "TPM_RC_FAILURE"),
        );
        assert_eq!(
            chain(&e),
            "swtpm tss-esapi c=1: warm-up signature: swtpm: TPM2_Sign failed: TPM_RC_FAILURE"
        );
    }

    #[test]
    fn software_run_with_a_count_verifies_and_relates() {
        let config = Config::new(Budget::Count(20), Some(2), false).expect("valid config");
        let report = run(&config, &mut NoProgress).expect("software signers run");
        let p256: Vec<&Row> = report.rows.iter().filter(|r| r.backend == "p256").collect();
        assert_eq!(p256.len(), 2);
        assert_eq!(p256[0].concurrency, 1);
        assert_eq!(p256[1].concurrency, 2);
        for row in p256 {
            assert_eq!(row.operation, OPERATION);
            assert_eq!(row.samples, Some(20));
            assert!(row.ops_per_s > 0.0);
            let l = row.latency_us.expect("latency");
            assert!(l.p10 <= l.p50 && l.p50 <= l.p99 && l.p99 <= l.max);
            // No comparison rows were asked for, so nothing to relate to.
            assert_eq!(row.reference, None);
        }
    }
}
